"""The 7×24 duty roster: a week with a holiday, a 调休 Saturday and a guard period; no gaps;
overlap and rest violations refused; the swap flow; who is on duty at the boundaries; the CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import AuditEntry
from govcenter.ops import services
from govcenter.ops.duty import roster
from govcenter.ops.models import DutyAssignment, DutySwap
from tests.factories import RoleFactory, UnitFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")
MON, SUN = dt.date(2025, 10, 6), dt.date(2025, 10, 12)  # Mon–Wed 国庆 holidays, Sat 10-11 a 调休 workday


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def crew(db):
    seed_calendar()
    services.sla_policies_seed()
    roster.shifts_seed()
    unit = UnitFactory(code="OM-A")
    engineers = RoleFactory(scope_kind="own_unit", perms=["ops.view_dutyassignment", "ops.request_duty_swap"])
    leaders = RoleFactory(scope_kind="all", perms=["ops.view_dutyassignment", "ops.manage_duty", "ops.approve_duty_swap"])
    team = [UserFactory(username=f"eng{i}", unit=unit, role_set=[engineers]) for i in range(1, 7)]
    bosses = [UserFactory(username=f"boss{i}", unit=UnitFactory(code=f"C{i}"), role_set=[leaders]) for i in (1, 2)]
    return {"unit": unit, "team": team, "leaders": bosses}


def generate(crew, start=MON, end=SUN, **kw):
    return roster.roster_generate(actor=None, unit=crew["unit"], start=start, end=end, team=crew["team"],
                                  leaders=crew["leaders"], **kw)  # fmt: skip


def test_a_week_with_a_holiday_a_makeup_saturday_and_a_guard_period(crew):
    services.guard_period_create(name="重要会议", starts_at=at("2025-10-09T08:00"), ends_at=at("2025-10-10T20:00"))
    made = generate(crew)
    kinds = {a.date: a.day_kind for a in made}
    assert kinds[dt.date(2025, 10, 6)] == "holiday" and kinds[dt.date(2025, 10, 8)] == "holiday"
    assert kinds[dt.date(2025, 10, 9)] == "guard" and kinds[dt.date(2025, 10, 10)] == "guard"
    assert kinds[dt.date(2025, 10, 11)] == "workday"  # the 调休 Saturday is a working day
    assert kinds[dt.date(2025, 10, 12)] == "holiday"  # an ordinary Sunday
    seats = Counter((a.date, a.role) for a in made)
    assert seats[(dt.date(2025, 10, 11), "engineer")] == 2 and seats[(dt.date(2025, 10, 11), "leader")] == 0
    assert seats[(dt.date(2025, 10, 6), "engineer")] == 2 and seats[(dt.date(2025, 10, 6), "leader")] == 2
    assert seats[(dt.date(2025, 10, 9), "engineer")] == 4 and seats[(dt.date(2025, 10, 9), "leader")] == 2
    # 7×24: no gap from the first day shift to the last night shift's end
    assert roster.coverage_gaps(unit=crew["unit"], start=at("2025-10-06T08:30"), end=at("2025-10-13T08:30")) == []
    # fairness: primary shifts on holidays and on workdays each differ by at most one between engineers
    for holiday in (True, False):
        per = Counter(a.primary_id for a in made if a.role == "engineer" and (a.day_kind != "workday") == holiday)
        counts = [per.get(u.pk, 0) for u in crew["team"]]
        assert max(counts) - min(counts) <= 1, counts
    # the rules hold for the stored roster: every night-shift engineer rests 24 h
    for a in made:
        if a.role == "engineer" and a.shift.is_night:
            later = DutyAssignment.objects.filter(role="engineer", primary=a.primary, starts_at__gte=a.ends_at,
                                                  starts_at__lt=a.ends_at + dt.timedelta(hours=24))  # fmt: skip
            assert not later.exists()
    assert AuditEntry.objects.filter(action="ops.duty.generate").count() == 1


def test_a_gap_is_listed_and_a_second_generation_is_refused(crew):
    made = generate(crew, end=dt.date(2025, 10, 7))
    DutyAssignment.objects.filter(pk=next(a.pk for a in made if a.date == dt.date(2025, 10, 7) and a.shift.code == "day"
                                          and a.role == "engineer")).delete()  # fmt: skip
    gaps = roster.coverage_gaps(unit=crew["unit"], start=at("2025-10-06T08:30"), end=at("2025-10-08T08:30"))
    assert gaps == [(at("2025-10-07T08:30"), at("2025-10-07T17:30"))]
    with pytest.raises(ServiceError) as exists:
        generate(crew, end=dt.date(2025, 10, 7))
    assert exists.value.status_code == 409 and exists.value.error_code == "roster_exists"
    generate(crew, end=dt.date(2025, 10, 7), replace=True)
    assert roster.coverage_gaps(unit=crew["unit"], start=at("2025-10-06T08:30"), end=at("2025-10-08T08:30")) == []


def test_too_small_a_team_is_refused_with_nothing_written(crew):
    everyone = crew["team"]
    crew["team"] = everyone[:2]  # two engineers cannot staff a night shift and rest 24 h after it
    with pytest.raises(ServiceError) as refused:
        generate(crew, start=dt.date(2025, 10, 13), end=dt.date(2025, 10, 17))
    assert refused.value.status_code == 409 and refused.value.error_code == "duty_unfillable"
    assert not DutyAssignment.objects.exists()
    crew["team"] = everyone[:3]  # three are enough for working days (and the rest rule)
    assert len(generate(crew, start=dt.date(2025, 10, 13), end=dt.date(2025, 10, 17))) == 10
    with pytest.raises(ServiceError) as engineer:
        roster.roster_generate(actor=crew["team"][0], unit=crew["unit"], start=dt.date(2025, 10, 20),
                               end=dt.date(2025, 10, 20), team=crew["team"])  # fmt: skip
    assert engineer.value.status_code == 403


def test_overlap_and_rest_violations_are_refused(crew):
    made = generate(crew, start=dt.date(2025, 10, 13), end=dt.date(2025, 10, 15))  # three workdays
    leader = crew["leaders"][0]
    night = next(a for a in made if a.date == dt.date(2025, 10, 13) and a.shift.is_night)
    next_day = next(a for a in made if a.date == dt.date(2025, 10, 14) and not a.shift.is_night)
    with pytest.raises(ServiceError) as rest:
        roster.assignment_set(actor=leader, assignment=next_day, primary=night.primary, backup=next_day.backup,
                              reason="调整")  # fmt: skip
    assert rest.value.status_code == 409 and rest.value.error_code == "duty_rest"
    day = next(a for a in made if a.date == dt.date(2025, 10, 13) and not a.shift.is_night)
    with pytest.raises(ServiceError) as consecutive:  # on site 08:30 to 08:30 the next morning
        roster.assignment_set(actor=leader, assignment=night, primary=day.primary, backup=night.backup, reason="调整")
    assert consecutive.value.error_code == "duty_consecutive"
    same_shift_backup = night.backup
    with pytest.raises(ServiceError) as same:
        roster.assignment_set(actor=leader, assignment=night, primary=same_shift_backup, backup=same_shift_backup,
                              reason="调整")  # fmt: skip
    assert same.value.error_code == "invalid"
    # a person on call for one shift cannot be primary of an overlapping one (two units' rosters)
    other_unit_seat = DutyAssignment.objects.create(
        unit=UnitFactory(code="OM-B"), date=night.date, shift=night.shift, starts_at=night.starts_at,
        ends_at=night.ends_at, day_kind="workday", primary=crew["team"][5])  # fmt: skip
    with pytest.raises(ServiceError) as overlap:
        roster.assignment_set(actor=leader, assignment=other_unit_seat, primary=night.primary, reason="调整")
    assert overlap.value.error_code == "duty_overlap"
    assert DutyAssignment.objects.get(pk=next_day.pk).primary_id == next_day.primary_id  # nothing half-written
    with pytest.raises(ServiceError) as forbidden:
        roster.assignment_set(actor=crew["team"][0], assignment=next_day, primary=crew["team"][0], reason="x")
    assert forbidden.value.status_code == 403


@override_settings(GOVCENTER_OPS_DUTY_REST_HOURS=0)
def test_with_no_rest_rule_two_engineers_suffice(crew):
    crew["team"] = crew["team"][:2]
    made = generate(crew, start=dt.date(2025, 10, 13), end=dt.date(2025, 10, 14))
    assert len(made) == 4


def test_swap_requested_by_an_engineer_and_approved_by_the_duty_leader(crew):
    start = dt.date.today() + dt.timedelta(days=10)
    made = generate(crew, start=start, end=start + dt.timedelta(days=2), replace=True)
    mine = next(a for a in made if a.role == "engineer")
    requester = mine.primary
    counterpart = next(u for u in crew["team"]
                       if u.pk not in (mine.primary_id, mine.backup_id)
                       and all(roster._conflict(s, o) is None for s in roster._slots_of(mine, primary=u)
                               for b in DutyAssignment.objects.filter(primary=u) for o in roster._slots_of(b)))  # fmt: skip
    with pytest.raises(ServiceError) as not_mine:
        roster.swap_request(actor=counterpart, assignment=mine, counterpart=requester, reason="家中有事")
    assert not_mine.value.error_code == "invalid"
    swap = roster.swap_request(actor=requester, assignment=mine, counterpart=counterpart, reason="家中有事")
    with pytest.raises(ServiceError) as self_approval:
        roster.swap_decide(actor=requester, swap=swap, approve=True)
    assert self_approval.value.status_code == 403
    swap = roster.swap_decide(actor=crew["leaders"][0], swap=swap, approve=True, comment="同意")
    assert swap.state == "approved" and DutyAssignment.objects.get(pk=mine.pk).primary_id == counterpart.pk
    with pytest.raises(ServiceError) as twice:
        roster.swap_decide(actor=crew["leaders"][0], swap=swap, approve=True)
    assert twice.value.status_code == 409
    actions = list(AuditEntry.objects.filter(action__startswith="ops.duty.").values_list("action", flat=True))
    assert {"ops.duty.swap_request", "ops.duty.swap_approve", "ops.duty.assign"} <= set(actions)
    assert DutySwap.objects.get().decided_by == crew["leaders"][0]


def test_a_swap_that_would_break_the_rest_rule_is_refused(crew):
    start = dt.date.today() + dt.timedelta(days=10)
    made = generate(crew, start=start, end=start + dt.timedelta(days=1), replace=True)
    night = next(a for a in made if a.date == start and a.shift.is_night and a.role == "engineer")
    morning = next(a for a in made if a.date == start + dt.timedelta(days=1) and not a.shift.is_night
                   and a.role == "engineer")  # fmt: skip
    with pytest.raises(ServiceError) as refused:
        roster.swap_request(actor=morning.primary, assignment=morning, counterpart=night.primary, reason="调休")
    assert refused.value.status_code == 409 and refused.value.error_code == "duty_rest"
    assert not DutySwap.objects.exists()


def test_who_is_on_duty_at_the_boundaries(crew):
    made = generate(crew, start=dt.date(2025, 10, 13), end=dt.date(2025, 10, 14))
    by = {(a.date, a.shift.code): a for a in made if a.role == "engineer"}
    assert [a.pk for a in roster.who_is_on_duty(at("2025-10-13T17:29:59"))] == [by[(dt.date(2025, 10, 13), "day")].pk]
    assert [a.pk for a in roster.who_is_on_duty(at("2025-10-13T17:30"))] == [by[(dt.date(2025, 10, 13), "night")].pk]
    assert [a.pk for a in roster.who_is_on_duty(at("2025-10-14T00:00"))] == [by[(dt.date(2025, 10, 13), "night")].pk]
    assert [a.pk for a in roster.who_is_on_duty(at("2025-10-14T08:30"))] == [by[(dt.date(2025, 10, 14), "day")].pk]
    assert list(roster.who_is_on_duty(at("2025-10-13T08:29"))) == []  # before the first shift
    assert list(roster.who_is_on_duty(at("2025-10-13T12:00"), user=UserFactory(unit=UnitFactory(code="X")))) == []


def test_the_command_line(crew):
    out = StringIO()
    call_command("ops", "duty", "generate", "--from", "2025-10-06", "--to", "2025-10-08",
                 "--team", ",".join(u.username for u in crew["team"]), "--leaders", "boss1,boss2", stdout=out)  # fmt: skip
    result = json.loads(out.getvalue())
    per = result["per_person"]
    assert result["created"] == 12  # three holidays × two shifts × (engineer seat + leader seat)
    assert sum(r["holiday"] for n, r in per.items() if n.startswith("eng")) == 6
    assert sum(r["holiday"] for n, r in per.items() if n.startswith("boss")) == 6
    with pytest.raises(CommandError) as again:
        call_command("ops", "duty", "generate", "--from", "2025-10-06", "--to", "2025-10-08",
                     "--team", "eng1,eng2,eng3", "--leaders", "boss1", stdout=StringIO())  # fmt: skip
    assert again.value.returncode == 2 and "已有值班安排" in str(again.value)
    with pytest.raises(CommandError) as nobody:
        call_command("ops", "duty", "generate", "--from", "2025-10-06", "--to", "2025-10-08", "--team", "eng1,ghost")
    assert nobody.value.returncode == 2 and "ghost" in str(nobody.value)
    out = StringIO()
    call_command("ops", "duty", "check", "--from", "2025-10-06", "--to", "2025-10-08", "--unit", "OM-A", stdout=out)
    assert json.loads(out.getvalue())["gaps"] == []
    with pytest.raises(CommandError) as gaps:
        call_command("ops", "duty", "check", "--from", "2025-10-06", "--to", "2025-10-09", "--unit", "OM-A",
                     stdout=StringIO())  # fmt: skip
    assert gaps.value.returncode == 2 and "1 gap" in str(gaps.value)
    out = StringIO()
    call_command("ops", "duty", "who", "--at", "2025-10-07T00:00", stdout=out)
    seats = json.loads(out.getvalue())
    assert {s["role"] for s in seats} == {"engineer", "leader"} and all(s["date"] == "2025-10-06" for s in seats)
