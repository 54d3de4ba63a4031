"""缓堵意见建议 on the case machinery: numbering, places, assignment with working-day deadlines
and notices, answer, rating (不满意 → another round), close, duplicate merging, scope, search,
and every illegal step refused cleanly."""

from __future__ import annotations

import datetime as dt

import pytest

from govcenter.congestion.models import Suggestion, SuggestionState
from govcenter.congestion.services import suggestions as svc
from govcenter.core import search, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.deadlines import due_after
from govcenter.core.models import AuditEntry, Notification, SmsMessage
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

POINT_DC = {"type": "Point", "coordinates": [116.4166, 39.9288]}  # 东城区, near 东四 (GCJ-02)


@pytest.fixture
def org(db):
    seed_calendar()
    o = build_org()
    staff_role = RoleFactory(
        scope_kind="all",
        perms=[
            "congestion.view_suggestion",
            "congestion.add_suggestion",
            "congestion.assign_suggestion",
            "congestion.change_suggestion",
        ],
    )
    handler_role = RoleFactory(scope_kind="own_unit", perms=["congestion.view_suggestion", "congestion.reply_suggestion"])
    o.staff = UserFactory(username="cg_staff", unit=o.office, role_set=[staff_role])
    o.handler_dc = UserFactory(username="cg_dc", unit=o.unit_dc, role_set=[handler_role], phone="13800138001")
    o.handler_sub = UserFactory(username="cg_dc1", unit=o.sub_dc, role_set=[handler_role], phone="")
    o.handler_xc = UserFactory(username="cg_xc", unit=o.unit_xc, role_set=[handler_role], phone="13800138002")
    return o


def submit(**kw):
    args = {"channel": "public_form", "topic": "signal", "title": "东四路口左转排队过长",
            "body": "早高峰东四十字路口左转车辆排队过长，建议优化信号配时。", "location": POINT_DC,
            "proposer_name": "王某", "proposer_phone": "13900139000"}  # fmt: skip
    args.update(kw)
    return svc.suggestion_submit(**args)


def test_the_whole_life_of_a_suggestion(org, django_capture_on_commit_callbacks):
    s = submit()
    assert s.number.endswith("-00001") and s.state == SuggestionState.SUBMITTED
    assert s.district == org.dongcheng and s.location["datum"] == "GCJ-02"
    assert submit().number.endswith("-00002")

    with django_capture_on_commit_callbacks(execute=True):  # the SMS leaves after the commit
        s = svc.suggestion_assign(actor=org.staff, suggestion=s, unit=org.unit_dc, workdays=10)
    assert s.state == SuggestionState.ASSIGNED
    assert s.deadline == due_after(s.units.get().assigned_at, workdays=10)
    notified = set(Notification.objects.filter(verb="assigned").values_list("recipient__username", flat=True))
    assert notified == {"cg_dc"}  # the unit's handlers: not its sub-unit's, not 西城's, not those without the role
    assert SmsMessage.objects.filter(phone="13800138001", template="case_notice").count() == 1

    with pytest.raises(ServiceError) as info:  # a sub-unit's handler: the case is not in their scope
        svc.suggestion_answer(actor=org.handler_sub, suggestion=s, text="越级答复")
    assert info.value.error_code == "transition_forbidden"
    s = svc.suggestion_answer(actor=org.handler_dc, suggestion=s, text="已调整东四路口信号配时，增加左转绿灯时长。")
    assert s.state == SuggestionState.REPLIED and s.replied_by == org.handler_dc

    s = svc.suggestion_rate(actor=org.staff, suggestion=s, satisfaction="unsatisfied", comment="回访：排队仍长")
    assert (s.state, s.rounds, s.satisfaction) == (SuggestionState.ASSIGNED, 2, "unsatisfied")
    assert s.units.get().deadline == s.deadline == due_after(s.units.get().assigned_at, workdays=15)
    returned = Notification.objects.get(verb="returned")
    assert returned.recipient == org.handler_dc and s.title in returned.title
    rated = AuditEntry.objects.filter(action="congestion.suggestion.rate").latest("seq")
    assert "deadline" in rated.changes["after"]  # the new round's deadline is in the step's audit entry
    assert AuditEntry.objects.filter(action="congestion.caseunit.renew").count() == 1
    s = svc.suggestion_answer(actor=org.handler_dc, suggestion=s, text="已增设左转待行区。")
    s = svc.suggestion_rate(actor=org.staff, suggestion=s, satisfaction="satisfied")
    assert s.state == SuggestionState.CLOSED and s.closed_at is not None
    assert [r.transition for r in workflow.history(s)] == ["assign", "answer", "rate", "answer", "rate"]
    assert AuditEntry.objects.filter(action__startswith="congestion.suggestion.").count() == 7  # 2 submits + 5 steps
    assigned = AuditEntry.objects.get(action="congestion.suggestion.assign")
    assert assigned.changes["after"]["deadline"] is not None and assigned.changes["before"]["deadline"] is None


def test_only_the_lead_unit_answers_and_scope_follows_the_assignment(org):
    s = svc.suggestion_assign(actor=org.staff, suggestion=submit(), unit=org.unit_dc)
    other = submit(title="西直门桥区拥堵", location={"type": "Point", "coordinates": [116.3550, 39.9405]})
    with pytest.raises(ServiceError) as info:
        svc.suggestion_answer(actor=org.handler_xc, suggestion=s, text="越权答复")
    assert (info.value.status_code, info.value.error_code) == (403, "transition_forbidden")
    assert list(Suggestion.objects.restrict(org.handler_dc)) == [s]
    assert list(Suggestion.objects.restrict(org.handler_xc)) == []
    assert Suggestion.objects.restrict(org.staff).count() == 2
    # Search: the handler finds only what is assigned to their unit.
    assert [h.object_id for h in search.query(org.handler_dc, "拥堵 路口")[1]] == []
    assert [h.object_id for h in search.query(org.handler_dc, "信号配时")[1]] == [s.pk]
    assert [h.object_id for h in search.query(org.staff, "西直门")[1]] == [other.pk]
    assert search.query(org.handler_dc, "13900139000")[0] == 0  # the phone never enters the index


def test_illegal_steps_and_bad_input_are_refused_and_write_nothing(org):
    s = submit()
    with pytest.raises(ServiceError) as info:
        svc.suggestion_answer(actor=org.handler_dc, suggestion=s, text="未交办先答复")
    assert info.value.error_code == "illegal_transition"
    with pytest.raises(ServiceError) as info:
        svc.suggestion_rate(actor=org.staff, suggestion=s, satisfaction="great")
    assert info.value.error_code == "invalid_choice"
    with pytest.raises(ServiceError) as info:
        svc.suggestion_assign(actor=org.staff, suggestion=s, unit=org.unit_dc, deadline=dt.date(2026, 10, 3))
    assert (info.value.error_code, info.value.details["deadline"]) == ("deadline_not_workday", ["2026-10-08"])
    with pytest.raises(ServiceError) as info:  # a far-away deadline would make every colour costly
        svc.suggestion_assign(actor=org.staff, suggestion=s, unit=org.unit_dc, deadline=dt.date(9999, 12, 30))
    assert info.value.error_code == "deadline_too_far"
    assert Suggestion.objects.get(pk=s.pk).state == SuggestionState.SUBMITTED and not s.units.exists()
    for kwargs, code in [
        ({"location": {"type": "Point", "coordinates": [121.47, 31.23]}}, "location_outside"),  # 上海
        ({"location": {"type": "Point", "coordinates": [116.70, 39.52]}}, "location_outside"),  # 廊坊, in the box
        ({"location": {"type": "Polygon", "coordinates": []}}, "invalid_location"),
        ({"proposer_phone": ""}, "required"),
        ({"proposer_phone": "138-abc"}, "invalid"),
        ({"title": ""}, "required"),
        ({"topic": "weather"}, "invalid_choice"),
    ]:
        with pytest.raises(ServiceError) as info:
            submit(**kwargs)
        assert info.value.error_code == code, kwargs
    assert Suggestion.objects.count() == 1


def test_duplicates_merge_into_one_that_goes_on(org):
    first, dup, third = submit(), submit(title="东四路口左转难"), submit(title="又一条")
    svc.suggestion_merge(actor=org.staff, suggestion=dup, into=first)
    dup.refresh_from_db()
    assert dup.state == SuggestionState.MERGED and dup.merged_into == first
    with pytest.raises(ServiceError) as info:
        svc.suggestion_merge(actor=org.staff, suggestion=third, into=dup)
    assert "合并到" in info.value.detail and info.value.error_code == "invalid_merge"
    with pytest.raises(ServiceError):
        svc.suggestion_merge(actor=org.staff, suggestion=third, into=third)
    first = svc.suggestion_assign(actor=org.staff, suggestion=first, unit=org.unit_dc)
    first = svc.suggestion_answer(actor=org.handler_dc, suggestion=first, text="已处理")
    with pytest.raises(ServiceError) as info:
        svc.suggestion_merge(actor=org.staff, suggestion=first, into=third)
    assert info.value.error_code == "illegal_transition"  # a replied suggestion is not merged away
