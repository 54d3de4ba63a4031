"""缓堵工作督查督办 on the case machinery: a plan's task drafted, issued (units notified), reported on,
extended (only before the due date, to a working day), completed, sent back, accepted and closed
out; decomposition per responsible unit and the scope it gives; every illegal step refused; the
units' scores."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from govcenter.congestion.models import (
    SupervisionExtension,
    SupervisionReport,
    SupervisionState,
    SupervisionTask,
)
from govcenter.congestion.services import cases
from govcenter.congestion.services import supervision as svc
from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attachments_of
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import Notification, SmsMessage
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

BJ = ZoneInfo("Asia/Shanghai")
S = SupervisionState


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=BJ)


@pytest.fixture
def org(db, tmp_path, settings):
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "files")
    seed_calendar()
    o = build_org()
    staff_role = RoleFactory(scope_kind="all", perms=[
        "congestion.view_supervisiontask", "congestion.add_supervisiontask", "congestion.issue_supervisiontask",
        "congestion.review_supervisiontask",
    ])  # fmt: skip
    unit_role = RoleFactory(
        scope_kind="own_unit", perms=["congestion.view_supervisiontask", "congestion.report_supervisiontask"]
    )
    o.staff = UserFactory(username="sv_staff", unit=o.office, role_set=[staff_role])
    o.dc = UserFactory(username="sv_dc", unit=o.unit_dc, role_set=[unit_role], phone="13800138001")
    o.xc = UserFactory(username="sv_xc", unit=o.unit_xc, role_set=[unit_role], phone="13800138002")
    o.opa = UserFactory(username="sv_opa", unit=o.op_a, role_set=[unit_role], phone="")
    with cases.clock(at("2026-01-05")):
        o.plan = svc.plan_create(actor=o.staff, year=2026, title="2026年缓解交通拥堵行动计划")
    return o


def draft(o, *, deadline="2026-03-31", responsible=None, when="2026-01-05", **kw):
    with cases.clock(at(when)):
        return svc.task_create(
            actor=o.staff, plan=o.plan, item_no=kw.pop("item_no", "一、3"), title=kw.pop("title", "学校周边交通综合治理"),
            body="完成重点学校周边交通秩序整治", target="高峰拥堵指数下降", lead=o.unit_dc,
            responsible=[o.unit_xc, o.op_a] if responsible is None else responsible,
            deadline=dt.date.fromisoformat(deadline), **kw,
        )  # fmt: skip


def test_the_whole_life_of_a_task(org, django_capture_on_commit_callbacks):
    o = org
    t = draft(o)
    assert t.state == S.DRAFTED and t.number.startswith("DB-2026-") and not t.units.exists()
    assert SupervisionTask.objects.restrict(o.dc).count() == 0  # a draft is nobody's but the Center's
    with cases.clock(at("2026-01-06")), django_capture_on_commit_callbacks(execute=True):  # SMS after commit
        t = svc.task_issue(actor=o.staff, task=t)
    assert t.state == S.ISSUED and t.issued_at == at("2026-01-06")
    assert {(u.unit_id, u.role, u.deadline) for u in t.units.all()} == {
        (o.unit_dc.pk, "lead", dt.date(2026, 3, 31)), (o.unit_xc.pk, "responsible", dt.date(2026, 3, 31)),
        (o.op_a.pk, "responsible", dt.date(2026, 3, 31)),
    }  # fmt: skip
    assert set(Notification.objects.filter(verb="assigned").values_list("recipient__username", flat=True)) == {
        "sv_dc", "sv_xc", "sv_opa"}  # fmt: skip
    assert SmsMessage.objects.filter(phone="13800138001", template="case_notice").count() == 1

    with cases.clock(at("2026-02-02")):
        t = svc.task_report_progress(actor=o.dc, task=t, text="已完成现场踏勘", percent=30,
                                     files=[_file("踏勘记录.txt", "踏勘记录".encode())])  # fmt: skip
    assert (t.state, t.progress) == (S.IN_PROGRESS, 30)
    report = SupervisionReport.objects.get(task=t)
    assert report.unit == o.unit_dc and [a.name for a in attachments_of(report)] == ["踏勘记录.txt"]

    with cases.clock(at("2026-03-02")):
        t = svc.task_report_completion(
            actor=o.dc, task=t, text="整治完成", files=[_file("总结.txt", b"done")]
        )
    assert (t.state, t.progress) == (S.REPORTED, 100) and [a.name for a in attachments_of(t)] == ["总结.txt"]
    with pytest.raises(ServiceError) as info:
        svc.task_send_back(actor=o.staff, task=t, reason="  ")
    assert (info.value.error_code, list(info.value.details)) == ("required", ["reason"])
    with cases.clock(at("2026-03-03")):
        t = svc.task_send_back(actor=o.staff, task=t, reason="缺少整治前后对比数据")
    assert (t.state, t.sends_back, t.completed_at) == (S.IN_PROGRESS, 1, None)
    with cases.clock(at("2026-03-10")):
        t = svc.task_report_completion(actor=o.dc, task=t, text="补充了对比数据")
        t = svc.task_accept(actor=o.staff, task=t, comment="同意")
        t = svc.task_close_out(actor=o.staff, task=t)
    assert t.state == S.CLOSED and t.closed_at == at("2026-03-10")
    assert [r.transition for r in workflow.history(t)] == [
        "issue",
        "report_progress",
        "report_completion",
        "send_back",
        "report_completion",
        "accept",
        "close_out",
    ]


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_deadlines_are_working_days_across_the_spring_festival(org):
    with pytest.raises(ServiceError) as info:
        draft(org, deadline="2026-02-15")  # 春节
    assert (info.value.error_code, info.value.details) == (
        "deadline_not_workday",
        {"deadline": ["2026-02-24"]},
    )
    assert "2026-02-24" in str(info.value.detail)
    assert draft(org, deadline="2026-02-14").deadline == dt.date(2026, 2, 14)  # Saturday, a make-up workday
    assert draft(org, deadline="2026-02-28").deadline == dt.date(2026, 2, 28)  # Saturday, a make-up workday
    with pytest.raises(ServiceError) as info:
        draft(org, deadline="2026-01-04", when="2026-01-05")  # a make-up Sunday after New Year, but past
    assert (info.value.error_code, list(info.value.details)) == ("deadline_in_past", ["deadline"])


def test_extension_only_before_the_due_date_to_a_working_day_after_national_day(org):
    o = org
    t = draft(o, deadline="2026-09-18", when="2026-09-01")
    with cases.clock(at("2026-09-01")):
        t = svc.task_issue(actor=o.staff, task=t)
    with cases.clock(at("2026-09-10")):
        with pytest.raises(ServiceError) as info:
            svc.task_request_extension(actor=o.xc, task=t, reason="施工受阻", deadline=dt.date(2026, 10, 3))
        assert (info.value.error_code, info.value.details) == (
            "deadline_not_workday",
            {"deadline": ["2026-10-08"]},
        )
        with pytest.raises(ServiceError) as info:
            svc.task_request_extension(actor=o.xc, task=t, reason="施工受阻", deadline=dt.date(2026, 9, 17))
        assert info.value.error_code == "invalid" and "deadline" in info.value.details
        t = svc.task_request_extension(actor=o.xc, task=t, reason="施工受阻", deadline=dt.date(2026, 9, 20))
    assert t.state == S.EXTENSION_REQUESTED  # 2026-09-20 is a Sunday make-up workday: accepted
    with cases.clock(at("2026-09-11")):
        t = svc.task_report_progress(actor=o.dc, task=t, text="推进中", percent=50)  # reports go on meanwhile
        assert t.state == S.EXTENSION_REQUESTED
        with pytest.raises(ServiceError) as info:
            svc.task_approve_extension(actor=o.xc, task=t)
        assert info.value.error_code == "transition_forbidden"
        t = svc.task_approve_extension(actor=o.staff, task=t, comment="同意")
    assert (t.state, t.deadline) == (S.IN_PROGRESS, dt.date(2026, 9, 20))
    assert t.units.get(unit=o.unit_xc).deadline == dt.date(2026, 9, 20)
    assert t.units.get(unit=o.unit_dc).deadline == dt.date(2026, 9, 18)  # only the asking unit's moves
    assert SupervisionExtension.objects.get().decision == "approved"

    with cases.clock(at("2026-09-18")):  # the due day itself: too late to ask
        with pytest.raises(ServiceError) as info:
            svc.task_request_extension(actor=o.dc, task=t, reason="再延", deadline=dt.date(2026, 10, 9))
    assert (info.value.error_code, info.value.details) == ("extension_too_late", {"deadline": ["2026-09-18"]})
    with cases.clock(at("2026-09-16")):
        t = svc.task_request_extension(actor=o.dc, task=t, reason="再延", deadline=dt.date(2026, 10, 10))
        with pytest.raises(ServiceError) as info:
            svc.task_refuse_extension(actor=o.staff, task=t, comment="")
        assert info.value.details == {"comment": [""]}
        t = svc.task_refuse_extension(actor=o.staff, task=t, comment="不予延期")
    assert (t.state, t.deadline) == (S.IN_PROGRESS, dt.date(2026, 9, 20))
    assert list(SupervisionExtension.objects.values_list("decision", flat=True)) == ["approved", "refused"]


def test_decomposition_gives_each_responsible_unit_only_its_own(org):
    o = org
    t = draft(o)
    with cases.clock(at("2026-01-05")):
        t = svc.task_decompose(actor=o.staff, task=t)
        with pytest.raises(ServiceError) as info:
            svc.task_decompose(actor=o.staff, task=t)
        assert info.value.error_code == "nothing_to_decompose"
    subs = {s.planned_units[0]["unit"]: s for s in t.subtasks.all()}
    assert set(subs) == {o.unit_xc.pk, o.op_a.pk} and {s.item_no for s in subs.values()} == {
        "一、3-1",
        "一、3-2",
    }
    with cases.clock(at("2026-01-06")):
        svc.task_issue(actor=o.staff, task=t)
    sub_xc, sub_a = (SupervisionTask.objects.get(pk=subs[u].pk) for u in (o.unit_xc.pk, o.op_a.pk))
    assert sub_xc.state == S.ISSUED and list(sub_xc.units.values_list("unit_id", "role")) == [
        (o.unit_xc.pk, "responsible")]  # fmt: skip
    assert set(SupervisionTask.objects.restrict(o.xc)) == {t, sub_xc}
    assert set(SupervisionTask.objects.restrict(o.opa)) == {t, sub_a}
    assert set(SupervisionTask.objects.restrict(o.dc)) == {t}
    assert SupervisionTask.objects.restrict(o.staff).count() == 3
    with pytest.raises(ServiceError) as info:  # 西城 reports on 甲's sub-task: not its own
        svc.task_report_progress(actor=o.xc, task=sub_a, text="越权", percent=10)
    assert (info.value.status_code, info.value.error_code) == (403, "transition_forbidden")
    with pytest.raises(ServiceError) as info:  # a sub-task is not decomposed again
        svc.task_decompose(actor=o.staff, task=sub_a)
    assert info.value.error_code == "invalid"


def test_illegal_forbidden_and_stale_steps(org):
    o = org
    t = draft(o)
    for call, code in [
        (
            lambda: svc.task_report_progress(actor=o.dc, task=t, text="未下发", percent=10),
            "illegal_transition",
        ),
        (lambda: svc.task_accept(actor=o.staff, task=t), "illegal_transition"),
        (lambda: svc.task_approve_extension(actor=o.staff, task=t), "illegal_transition"),
        (
            lambda: svc.task_request_extension(
                actor=o.dc, task=t, reason="x", deadline=dt.date(2026, 12, 31)
            ),
            "illegal_transition",
        ),
        (lambda: svc.task_issue(actor=o.dc, task=t), "transition_forbidden"),
    ]:
        with pytest.raises(ServiceError) as info:
            call()
        assert info.value.error_code == code
    stale = SupervisionTask.objects.get(pk=t.pk)
    svc.task_issue(actor=o.staff, task=t)
    with pytest.raises(ServiceError) as info:
        svc.task_issue(actor=o.staff, task=stale)
    assert (info.value.status_code, info.value.error_code) == (409, "state_changed")
    t = SupervisionTask.objects.get(pk=t.pk)
    for kwargs, field in [
        ({"percent": 101}, "percent"),
        ({"percent": -1}, "percent"),
        ({"text": ""}, "text"),
    ]:
        with pytest.raises(ServiceError) as info:
            svc.task_report_progress(actor=o.dc, task=t, **({"text": "进展", "percent": 10} | kwargs))
        assert list(info.value.details) == [field]
    with pytest.raises(ServiceError) as info:
        svc.task_report_progress(
            actor=o.dc, task=t, text="x", percent=10, files=[_file("a.exe", b"MZ\x00\x01")]
        )
    assert info.value.error_code == "file_type_not_allowed"
    assert SupervisionReport.objects.count() == 0 and SupervisionTask.objects.get(pk=t.pk).state == S.ISSUED
    with pytest.raises(ServiceError) as info:
        draft(o, title="")
    assert list(info.value.details) == ["title"]


def test_missing_reports_turn_the_task_yellow(org):
    from govcenter.congestion.api.supervision import KIND

    o = org
    t = draft(o, deadline="2026-12-31", when="2026-11-02")
    with cases.clock(at("2026-11-02")):
        t = svc.task_issue(actor=o.staff, task=t)
    with cases.clock(at("2026-11-04")):
        assert KIND.warning(t, on=dt.date(2026, 11, 4)) == "none"
    with cases.clock(at("2026-11-20")):  # a third of the time used, nothing reported: behind schedule
        assert KIND.warning(t, on=dt.date(2026, 11, 20)) == "yellow"
    with cases.clock(at("2026-12-04")):
        assert svc.report_missing(t)  # 32 days without a progress report: yellow whatever the progress
        t = svc.task_report_progress(actor=o.dc, task=t, text="进展", percent=90)
        assert not svc.report_missing(t)
        assert KIND.warning(t, on=dt.date(2026, 12, 4)) == "none"
        t.progress = 100
        t.last_report_at = at("2026-11-02")
        assert KIND.warning(t, on=dt.date(2026, 12, 4)) == "yellow"
        assert KIND.warning(t, on=dt.date(2026, 12, 29)) == "yellow"
    assert KIND.warning(t, on=dt.date(2027, 1, 4)) == "red"


def test_scores(org, settings):
    settings.GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS = 30
    settings.GOVCENTER_CONGESTION_SUPERVISION_SCORE = {
        "late_credit_pct": 50, "missing_report": 2, "send_back": 3, "extension": 1}  # fmt: skip
    o = org
    a = draft(o, deadline="2026-03-31", responsible=[], title="甲")  # 东城 alone: on time, one send-back
    b = draft(o, deadline="2026-02-27", responsible=[o.unit_xc], title="乙")  # 东城 lead, 西城: late
    c = draft(o, deadline="2026-02-27", responsible=[], title="丙", item_no="二、1")  # 东城: overdue, open
    with cases.clock(at("2026-01-05")):
        a, b, c = (svc.task_issue(actor=o.staff, task=x) for x in (a, b, c))
    with cases.clock(at("2026-01-20")):
        a = svc.task_report_progress(actor=o.dc, task=a, text="进展", percent=50)
        b = svc.task_report_progress(actor=o.xc, task=b, text="进展", percent=20)
        b = svc.task_request_extension(actor=o.xc, task=b, reason="拆迁", deadline=dt.date(2026, 3, 6))
        b = svc.task_approve_extension(actor=o.staff, task=b)
    with cases.clock(at("2026-02-10")):
        a = svc.task_report_completion(actor=o.dc, task=a, text="完成")
        a = svc.task_send_back(actor=o.staff, task=a, reason="材料不全")
        a = svc.task_report_completion(actor=o.dc, task=a, text="补齐")
        a = svc.task_accept(actor=o.staff, task=a)
    with cases.clock(at("2026-03-09")):
        b = svc.task_report_completion(actor=o.xc, task=b, text="完成")
        b = svc.task_accept(actor=o.staff, task=b)
    with cases.clock(at("2026-04-06")):
        scores = {r["unit_code"]: r for r in svc.unit_scores(year=2026)}
    dc, xc = scores["T-PK-DC"], scores["T-PK-XC"]
    # 东城: a on time (reported in period 1, completed in period 2 → 0 missing), b late (its deadline
    # stayed 02-27; completed 03-09: periods 1 and 2 without a 东城 report → 2 missing), c overdue
    # (3 whole periods 01-05→04-05 without a report). completion = 100×(1 + 0.5)/3 = 50.
    assert {k: dc[k] for k in ("tasks", "on_time", "late", "overdue_open", "missing_reports", "sends_back",
                                "extensions")} == {"tasks": 3, "on_time": 1, "late": 1, "overdue_open": 1,
                                                   "missing_reports": 5, "sends_back": 1, "extensions": 0}  # fmt: skip
    assert dc["score"] == 50 - 2 * 5 - 3 * 1
    # 西城: b on time against its extended deadline 03-06? No: completed 03-09 → late; one period
    # (02-04→03-06) without a report; one approved extension. 100×0.5 − 2 − 1.
    assert (xc["on_time"], xc["late"], xc["missing_reports"], xc["extensions"]) == (0, 1, 1, 1)
    assert xc["score"] == 47.0


@pytest.mark.django_db
def test_builtin_roles_get_the_supervision_permissions():
    from govcenter.core.models import Role
    from govcenter.core.roles import ensure_builtin_roles

    ensure_builtin_roles()

    def perms(code):
        return {
            f"{p.content_type.app_label}.{p.codename}" for p in Role.objects.get(code=code).permissions.all()
        }

    assert {"congestion.view_supervisiontask", "congestion.report_supervisiontask"} <= perms(
        "congestion_staff"
    )
    assert "congestion.issue_supervisiontask" not in perms("congestion_staff")
    assert {"congestion.add_supervisiontask", "congestion.issue_supervisiontask",
            "congestion.review_supervisiontask"} <= perms("data_staff")  # fmt: skip
    assert "congestion.review_supervisiontask" in perms("center_leader")
    assert "congestion.add_supervisiontask" not in perms("center_leader")
