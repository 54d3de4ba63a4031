"""人大建议 / 政协提案 on the case machinery: numbering per type and year, assignment with the reply
due three calendar months later (moved past National Day to the next working day, make-up days
counting), sign-for or return within five working days across the Spring Festival, co-units'
opinions and countersign, the Center's review, the proposers' ratings (不满意 → another round),
the B-class second reply, the one extension, scope, statistics and every refusal."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.congestion.models import ExtensionStatus, Proposal, ProposalState
from govcenter.congestion.services import proposals as svc
from govcenter.congestion.services.cases import clock
from govcenter.core import search, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attachments_of
from govcenter.core.calendar import is_workday, seed_calendar
from govcenter.core.deadlines import due_after
from govcenter.core.models import Notification
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

SH = ZoneInfo("Asia/Shanghai")
STAFF_PERMS = ["congestion.view_proposal", "congestion.add_proposal", "congestion.assign_proposal",
               "congestion.review_proposal", "congestion.change_proposal", "congestion.approve_proposal_extension"]  # fmt: skip


def at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=SH)


@pytest.fixture
def org(db):
    seed_calendar()
    o = build_org()
    handler_role = RoleFactory(
        scope_kind="own_unit", perms=["congestion.view_proposal", "congestion.handle_proposal"]
    )
    o.staff = UserFactory(
        username="pp_staff", unit=o.office, role_set=[RoleFactory(scope_kind="all", perms=STAFF_PERMS)]
    )
    o.lead_user = UserFactory(username="pp_dc", unit=o.unit_dc, role_set=[handler_role], phone="13800138001")
    o.co_user = UserFactory(username="pp_xc", unit=o.unit_xc, role_set=[handler_role], phone="13800138002")
    o.op_user = UserFactory(username="pp_op", unit=o.op_a, role_set=[handler_role])
    return o


def register(org, n="1001", **kw):
    args = {"actor": org.staff, "body_type": "npc", "session": "十六届四次会议", "assembly_number": n,
            "title": "关于缓解东直门地区交通拥堵的建议", "body": "建议优化东直门交通枢纽周边信号配时。",
            "proposers": [{"name": "张三", "delegation": "东城代表团"}, {"name": "李四"}]}  # fmt: skip
    args.update(kw)
    return svc.proposal_register(**args)


def letter(name="答复函.txt"):
    return SimpleUploadedFile(name, "关于第1001号建议的答复：已优化信号配时。".encode())


def expect(code, fn, *args, **kwargs):
    with pytest.raises(ServiceError) as info:
        fn(*args, **kwargs)
    assert info.value.error_code == code, info.value.details
    return info.value


def test_the_whole_life_of_a_proposal(org):
    with clock(at(2026, 7, 1)):
        p = register(org)
        assert p.number == "RDJY-2026-00001" and p.state == ProposalState.REGISTERED
        assert (
            register(org, body_type="cppcc").number == "ZXTA-2026-00001"
        )  # the same assembly number, other type
        err = expect("duplicate", register, org)
        assert err.status_code == 409 and "assembly_number" in err.details
        p = svc.proposal_assign(
            actor=org.staff, proposal=p, lead=org.unit_dc, co_units=[org.unit_xc], countersign=True
        )
    # 2026-07-01 + 3 months = 2026-10-01, National Day (10-01 … 10-07 off): the next working day.
    assert p.state == ProposalState.ASSIGNED and p.deadline == dt.date(2026, 10, 8)
    assert {(u.unit_id, u.role, u.deadline) for u in p.units.all()} == {
        (org.unit_dc.pk, "lead", dt.date(2026, 10, 8)),
        (org.unit_xc.pk, "co", dt.date(2026, 8, 3)),  # opinion due a month later: 08-01 is a Saturday
    }
    assert {t.sign_due for t in p.tasks.all()} == {dt.date(2026, 7, 8)}  # 5 working days
    assert set(Notification.objects.filter(verb="assigned").values_list("recipient__username", flat=True)) == {
        "pp_dc", "pp_xc"}  # fmt: skip

    with clock(at(2026, 7, 2)):
        p = svc.proposal_sign(actor=org.co_user, proposal=p)
        assert p.state == ProposalState.ASSIGNED  # a co-unit's signature does not start the handling
        expect("already_signed", svc.proposal_sign, actor=org.co_user, proposal=p)
        expect("illegal_transition", svc.proposal_submit_reply, actor=org.lead_user, proposal=p, text="x",
               classification="A", files=[letter()])  # fmt: skip
        p = svc.proposal_sign(actor=org.lead_user, proposal=p)
        assert p.state == ProposalState.HANDLING
        # The co-unit may not do the lead's steps.
        expect("transition_forbidden", svc.proposal_submit_reply, actor=org.co_user, proposal=p, text="答复",
               classification="A", files=[letter()])  # fmt: skip
        expect("transition_forbidden", svc.proposal_request_extension, actor=org.co_user, proposal=p, months=1,
               reason="协办想延期")  # fmt: skip
        expect("opinions_pending", svc.proposal_submit_reply, actor=org.lead_user, proposal=p, text="答复",
               classification="A", files=[letter()])  # fmt: skip
        expect(
            "transition_forbidden",
            svc.proposal_opinion,
            actor=org.lead_user,
            proposal=p,
            text="主办不写协办意见",
        )
        p = svc.proposal_opinion(actor=org.co_user, proposal=p, text="同意增设左转待行区，配合施划标线。")
        assert Notification.objects.filter(verb="co_opinion", recipient=org.lead_user).exists()

        # Missing materials name the field; a follow-up date on a holiday names the next working day.
        assert "text" in expect("required", svc.proposal_submit_reply, actor=org.lead_user, proposal=p, text=" ",
                                classification="B", files=[letter()]).details  # fmt: skip
        assert "files" in expect("required", svc.proposal_submit_reply, actor=org.lead_user, proposal=p,
                                 text="答复", classification="B").details  # fmt: skip
        assert "classification" in expect("invalid_choice", svc.proposal_submit_reply, actor=org.lead_user,
                                          proposal=p, text="答复", classification="E", files=[letter()]).details  # fmt: skip
        err = expect("deadline_not_workday", svc.proposal_submit_reply, actor=org.lead_user, proposal=p,
                     text="答复", classification="B", files=[letter()], followup_due=dt.date(2026, 10, 3))  # fmt: skip
        assert err.details == {"followup_due": ["2026-10-08"]}
        assert Proposal.objects.get(pk=p.pk).state == ProposalState.HANDLING and not p.replies.exists()

        p = svc.proposal_submit_reply(actor=org.lead_user, proposal=p, text="已列入年度计划，年内完成改造。",
                                      classification="B", files=[letter()], followup_due=dt.date(2026, 12, 15))  # fmt: skip
        assert p.state == ProposalState.COUNTERSIGNING and len(attachments_of(p)) == 1
        expect("transition_forbidden", svc.proposal_countersign, actor=org.lead_user, proposal=p, agree=True)
        assert (
            "note"
            in expect(
                "required", svc.proposal_countersign, actor=org.co_user, proposal=p, agree=False
            ).details
        )
        p = svc.proposal_countersign(actor=org.co_user, proposal=p, agree=True)
        assert p.state == ProposalState.REVIEWING
        expect("transition_forbidden", svc.proposal_review, actor=org.lead_user, proposal=p, approve=True)
        assert (
            "reason"
            in expect("required", svc.proposal_review, actor=org.staff, proposal=p, approve=False).details
        )
        p = svc.proposal_review(actor=org.staff, proposal=p, approve=False, reason="请补充实施时间表")
        assert p.state == ProposalState.HANDLING
        p = svc.proposal_submit_reply(actor=org.lead_user, proposal=p, text="已列入计划，12月15日前完成。",
                                      classification="B", files=[letter("答复函（修改）.txt")],
                                      followup_due=dt.date(2026, 12, 15))  # fmt: skip
        p = svc.proposal_countersign(actor=org.co_user, proposal=p, agree=True)
        p = svc.proposal_review(actor=org.staff, proposal=p, approve=True)
    assert (
        p.state == ProposalState.REPLIED
        and p.classification == "B"
        and p.followup_due == dt.date(2026, 12, 15)
    )

    # Ratings: one 不满意 sends it back for another round with a new deadline.
    zhang, li = p.proposers.order_by("order")
    with clock(at(2026, 8, 3)):
        expect(
            "invalid",
            svc.proposal_rate,
            actor=org.staff,
            proposal=p,
            proposer=999999,
            satisfaction="satisfied",
        )
        p = svc.proposal_rate(actor=org.staff, proposal=p, proposer=zhang.pk, satisfaction="satisfied")
        assert p.state == ProposalState.REPLIED
        expect(
            "already_rated",
            svc.proposal_rate,
            actor=org.staff,
            proposal=p,
            proposer=zhang.pk,
            satisfaction="basic",
        )
        p = svc.proposal_rate(
            actor=org.staff, proposal=p, proposer=li.pk, satisfaction="unsatisfied", comment="仍拥堵"
        )
    assert (p.state, p.rounds, p.deadline) == (ProposalState.HANDLING, 2, due_after(at(2026, 8, 3), months=1))
    assert p.units.get(role="lead").deadline == p.deadline

    with clock(at(2026, 8, 10)):
        p = svc.proposal_submit_reply(actor=org.lead_user, proposal=p, text="已增设左转待行区，年底完成全部改造。",
                                      classification="B", files=[letter()], followup_due=dt.date(2026, 12, 15))  # fmt: skip
        p = svc.proposal_countersign(actor=org.co_user, proposal=p, agree=True)
        p = svc.proposal_review(actor=org.staff, proposal=p, approve=True)
        p = svc.proposal_rate(actor=org.staff, proposal=p, proposer=zhang.pk, satisfaction="basic")
        p = svc.proposal_rate(actor=org.staff, proposal=p, proposer=li.pk, satisfaction="basic")
    # B class: open until the second reply, against the follow-up deadline.
    assert (
        p.state == ProposalState.AWAITING_SECOND
        and p.deadline == dt.date(2026, 12, 15)
        and p.closed_at is None
    )
    with clock(at(2026, 12, 1)):
        assert "files" in expect("required", svc.proposal_second_reply, actor=org.lead_user, proposal=p,
                                 text="已完成").details  # fmt: skip
        expect("transition_forbidden", svc.proposal_second_reply, actor=org.co_user, proposal=p, text="已完成",
               files=[letter()])  # fmt: skip
        p = svc.proposal_second_reply(
            actor=org.lead_user, proposal=p, text="改造已完成。", files=[letter("再次答复.txt")]
        )
    assert p.state == ProposalState.CLOSED and p.closed_at == at(2026, 12, 1)
    assert [r.transition for r in workflow.history(p)] == [
        "assign", "sign", "sign", "send_opinion", "submit_reply", "countersign", "review", "submit_reply",
        "countersign", "review", "rate", "rate", "submit_reply", "countersign", "review", "rate", "rate",
        "second_reply",
    ]  # fmt: skip
    assert workflow.history(p).first().at == at(2026, 7, 1)  # replayed on the services' clock
    assert [(r.kind, r.round, r.decision) for r in p.replies.all()] == [
        ("first", 1, "returned"), ("first", 1, "approved"), ("first", 2, "approved"), ("second", 2, "approved")]  # fmt: skip
    assert search.query(org.staff, "东直门")[0] == 2 and search.query(org.staff, "张三")[0] == 0


def test_sign_for_or_return_within_five_working_days_across_the_spring_festival(org):
    assert not is_workday(dt.date(2026, 2, 16)) and is_workday(dt.date(2026, 2, 14))  # 除夕前的调休上班日
    with clock(at(2026, 2, 12)):
        p = svc.proposal_assign(
            actor=org.staff, proposal=register(org), lead=org.unit_dc, co_units=[org.unit_xc]
        )
        q = svc.proposal_assign(actor=org.staff, proposal=register(org, "1002"), lead=org.unit_dc)
    # 02-13, 02-14 (make-up Saturday), then the holiday 02-15…02-23, then 02-24, 02-25, 02-26.
    assert {t.sign_due for t in p.tasks.all()} == {dt.date(2026, 2, 26)}
    assert p.deadline == dt.date(2026, 5, 12)

    with clock(at(2026, 2, 26, 17)):
        assert (
            "reason"
            in expect("required", svc.proposal_return, actor=org.co_user, proposal=p, reason="").details
        )
        p = svc.proposal_return(actor=org.co_user, proposal=p, reason="不属于本单位职责")
    assert p.state == ProposalState.ASSIGNED and list(p.units.values_list("unit_id", flat=True)) == [
        org.unit_dc.pk
    ]
    assert list(Proposal.objects.restrict(org.co_user)) == []  # out of its scope once returned
    with clock(at(2026, 2, 27)):
        err = expect("return_too_late", svc.proposal_return, actor=org.lead_user, proposal=p, reason="太晚了")
        assert err.details == {"reason": ["2026-02-26"]}
        expect("transition_forbidden", svc.proposal_sign, actor=org.co_user, proposal=p)
        p = svc.proposal_sign(actor=org.lead_user, proposal=p)  # late, but taken
        assert p.state == ProposalState.HANDLING
        expect("already_signed", svc.proposal_return, actor=org.lead_user, proposal=p, reason="已签收")

    # The lead's return sends it back to the Center, which reassigns it (a new deadline).
    with clock(at(2026, 2, 24)):
        q = svc.proposal_return(actor=org.lead_user, proposal=q, reason="应由西城办理")
    assert (q.state, q.deadline, q.units.count()) == (ProposalState.REGISTERED, None, 0)
    assert q.tasks.get().active is False
    with clock(at(2026, 2, 25)):
        q = svc.proposal_assign(actor=org.staff, proposal=q, lead=org.unit_xc)
    assert q.state == ProposalState.ASSIGNED and q.deadline == dt.date(2026, 5, 25)
    assert list(Proposal.objects.restrict(org.co_user)) == [q]
    assert list(Proposal.objects.restrict(org.lead_user)) == [p]


def test_a_make_up_saturday_is_a_due_date_and_deadlines_move_off_days_off(org):
    with clock(at(2026, 7, 10)):  # + 3 months = 2026-10-10, a make-up working Saturday
        p = svc.proposal_assign(actor=org.staff, proposal=register(org), lead=org.unit_dc)
    assert p.deadline == dt.date(2026, 10, 10)
    with clock(at(2026, 7, 11)):  # 2026-10-11 is a Sunday: Monday
        q = svc.proposal_assign(actor=org.staff, proposal=register(org, "1002"), lead=org.unit_dc)
    assert q.deadline == dt.date(2026, 10, 12)


def test_a_co_unit_sees_only_its_proposals(org):
    with clock(at(2026, 3, 2)):
        mine = svc.proposal_assign(
            actor=org.staff, proposal=register(org), lead=org.unit_dc, co_units=[org.unit_xc]
        )
        svc.proposal_assign(actor=org.staff, proposal=register(org, "1002"), lead=org.unit_dc)
        register(org, "1003")
    assert list(Proposal.objects.restrict(org.co_user)) == [mine]
    assert Proposal.objects.restrict(org.lead_user).count() == 2
    assert Proposal.objects.restrict(org.staff).count() == 3
    assert Proposal.objects.restrict(org.op_user).count() == 0
    expect("transition_forbidden", svc.proposal_sign, actor=org.op_user, proposal=mine)


def test_extension_once_at_most_three_months_before_the_due_date(org):
    with clock(at(2026, 7, 1)):
        p = svc.proposal_assign(actor=org.staff, proposal=register(org), lead=org.unit_dc)
        q = svc.proposal_assign(actor=org.staff, proposal=register(org, "1002"), lead=org.unit_dc)
        late = svc.proposal_assign(actor=org.staff, proposal=register(org, "1003"), lead=org.unit_dc)
        expect("illegal_transition", svc.proposal_request_extension, actor=org.lead_user, proposal=p, months=1,
               reason="未签收")  # fmt: skip
        p, q, late = (svc.proposal_sign(actor=org.lead_user, proposal=x) for x in (p, q, late))
        err = expect("extension_too_long", svc.proposal_request_extension, actor=org.lead_user, proposal=p,
                     months=4, reason="工程量大")  # fmt: skip
        assert err.details == {"months": ["4"]}
        assert "reason" in expect("required", svc.proposal_request_extension, actor=org.lead_user, proposal=p,
                                  months=2, reason="").details  # fmt: skip
        expect("illegal_transition", svc.proposal_decide_extension, actor=org.staff, proposal=p, approve=True)
    with clock(at(2026, 9, 1)):
        p = svc.proposal_request_extension(
            actor=org.lead_user, proposal=p, months=3, reason="需结合道路大修实施"
        )
        assert p.extension_status == ExtensionStatus.REQUESTED
        expect("extension_used", svc.proposal_request_extension, actor=org.lead_user, proposal=p, months=1,
               reason="再申请")  # fmt: skip
        expect(
            "transition_forbidden",
            svc.proposal_decide_extension,
            actor=org.lead_user,
            proposal=p,
            approve=True,
        )
        p = svc.proposal_decide_extension(actor=org.staff, proposal=p, approve=True)
        assert (p.extension_status, p.deadline) == (
            ExtensionStatus.APPROVED,
            due_after(dt.date(2026, 10, 8), months=3),
        )
        assert p.units.get().deadline == p.deadline
        # A second request is refused, whatever became of the first.
        expect("extension_used", svc.proposal_request_extension, actor=org.lead_user, proposal=p, months=1,
               reason="再次延期")  # fmt: skip
        q = svc.proposal_request_extension(actor=org.lead_user, proposal=q, months=1, reason="协调中")
        q = svc.proposal_decide_extension(actor=org.staff, proposal=q, approve=False, comment="按期办理")
        assert (q.extension_status, q.deadline) == (ExtensionStatus.REFUSED, dt.date(2026, 10, 8))
        expect("extension_used", svc.proposal_request_extension, actor=org.lead_user, proposal=q, months=1,
               reason="再申请")  # fmt: skip
    with clock(at(2026, 10, 9)):  # the due date has passed
        expect("extension_too_late", svc.proposal_request_extension, actor=org.lead_user, proposal=late, months=1,
               reason="来不及")  # fmt: skip


def test_illegal_steps_and_a_stale_copy_are_refused_and_write_nothing(org):
    with clock(at(2026, 7, 1)):
        p = register(org)
        expect("illegal_transition", svc.proposal_sign, actor=org.lead_user, proposal=p)
        expect("illegal_transition", svc.proposal_review, actor=org.staff, proposal=p, approve=True)
        expect("transition_forbidden", svc.proposal_assign, actor=org.lead_user, proposal=p, lead=org.unit_dc)
        expect(
            "invalid",
            svc.proposal_assign,
            actor=org.staff,
            proposal=p,
            lead=org.unit_dc,
            co_units=[org.unit_dc],
        )
        expect(
            "invalid", svc.proposal_assign, actor=org.staff, proposal=p, lead=org.unit_dc, countersign=True
        )
        stale = Proposal.objects.get(pk=p.pk)
        svc.proposal_assign(actor=org.staff, proposal=p, lead=org.unit_dc)
        err = expect("state_changed", svc.proposal_assign, actor=org.staff, proposal=stale, lead=org.unit_xc)
        assert err.status_code == 409
    assert Proposal.objects.get(pk=p.pk).units.count() == 1
    for kwargs, code, field in [
        ({"proposers": []}, "required", "proposers"),
        ({"proposers": [{"name": ""}]}, "invalid", "proposers"),
        ({"session": ""}, "required", "session"),
        ({"assembly_number": ""}, "required", "assembly_number"),
        ({"body_type": "congress"}, "invalid_choice", "body_type"),
        ({"year": 1990}, "invalid", "year"),
    ]:
        assert field in expect(code, register, org, "2001", **kwargs).details, kwargs
    assert Proposal.objects.count() == 1


def test_statistics_by_state_lead_unit_class_and_satisfaction_in_the_callers_scope(org):
    with clock(at(2026, 3, 2)):
        a = svc.proposal_assign(actor=org.staff, proposal=register(org), lead=org.unit_dc)
        b = svc.proposal_assign(actor=org.staff, proposal=register(org, "1002"), lead=org.unit_xc)
        register(org, "1003", body_type="cppcc")
        a = svc.proposal_sign(actor=org.lead_user, proposal=a)
        a = svc.proposal_submit_reply(actor=org.lead_user, proposal=a, text="已解决", classification="A",
                                      files=[letter()])  # fmt: skip
        a = svc.proposal_review(actor=org.staff, proposal=a, approve=True)
        zhang, li = a.proposers.order_by("order")
        a = svc.proposal_rate(actor=org.staff, proposal=a, proposer=zhang.pk, satisfaction="satisfied")
        a = svc.proposal_rate(actor=org.staff, proposal=a, proposer=li.pk, satisfaction="basic")
    assert a.state == ProposalState.CLOSED  # A class: no second reply
    stats = svc.proposal_statistics(org.staff, year=2026)
    assert stats["total"] == {"proposals": 3}
    assert stats["by_state"] == {"assigned": 1, "closed": 1, "registered": 1}
    assert stats["by_lead_unit"] == {org.unit_dc.pk: 1, org.unit_xc.pk: 1}
    assert stats["by_classification"] == {"A": 1}
    assert stats["by_satisfaction"] == {"basic": 1, "satisfied": 1}
    assert svc.proposal_statistics(org.staff, year=2026, body_type="cppcc")["by_state"] == {"registered": 1}
    assert svc.proposal_statistics(org.co_user, year=2026)["by_state"] == {"assigned": 1}  # only 西城's
    assert svc.proposal_statistics(org.staff, year=2025)["total"] == {"proposals": 0}
    assert b.state == ProposalState.ASSIGNED


@pytest.mark.django_db
def test_builtin_roles_get_the_proposal_permissions():
    from govcenter.core.models import Role
    from govcenter.core.roles import ensure_builtin_roles

    ensure_builtin_roles()

    def perms(code):
        role = Role.objects.get(code=code)
        return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all()}

    assert {"congestion.view_proposal", "congestion.handle_proposal"} <= perms("congestion_staff")
    assert "congestion.assign_proposal" not in perms("congestion_staff")
    assert {"congestion.add_proposal", "congestion.assign_proposal", "congestion.review_proposal",
            "congestion.change_proposal", "congestion.approve_proposal_extension"} <= perms("data_staff")  # fmt: skip
    assert {"congestion.view_proposal", "congestion.approve_proposal_extension"} <= perms("center_leader")
    assert "congestion.handle_proposal" not in perms("center_leader")
