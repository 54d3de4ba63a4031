"""SLA clocks of the O&M contract: the policy by the kind of day a fault is reported on
(China's calendar with its 调休 make-up workdays, and special-guard periods), deadlines that
pauses push back, and the 12-hour contract breach — through ``govcenter.ops.sla`` and the
``govcenter ops sla`` command."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import AuditEntry
from govcenter.ops import services
from govcenter.ops.models import GuardPeriod, SlaPolicy
from govcenter.ops.sla import SlaError, evaluate

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def policies(db):
    seed_calendar()
    services.sla_policies_seed()


def test_seed_writes_the_contracts_table_once_and_keeps_edits(policies):
    assert SlaPolicy.objects.count() == 12
    workday = SlaPolicy.objects.get(severity="S1", day_kind="workday")
    assert workday.respond_minutes == 30  # "respond at once": 30 minutes by default
    restday = SlaPolicy.objects.get(severity="S1", day_kind="restday")
    assert restday.respond_minutes == 120 and restday.resolve_by_next_workday and restday.resolve_minutes is None
    services.sla_policy_set(severity="S1", day_kind="workday", respond_minutes=20, resolve_minutes=180)
    assert services.sla_policies_seed() == {"created": 0, "unchanged": 12}
    assert SlaPolicy.objects.get(severity="S1", day_kind="workday").respond_minutes == 20
    assert AuditEntry.objects.filter(action="sla_policy.update").count() == 1
    with pytest.raises(ServiceError):
        services.sla_policy_set(severity="S1", day_kind="workday", respond_minutes=0, resolve_minutes=None)


def test_a_weekend_fault_is_due_before_monday_begins(policies):
    # Saturday 2026-11-28: respond within 2 hours, resolve before Monday 09:00.
    result = evaluate(severity="S2", reported_at=at("2026-11-28T10:00"), responded_at=at("2026-11-28T11:59"),
                      resolved_at=at("2026-11-30T08:59"))  # fmt: skip
    assert result.day_kind == "restday"
    assert result.respond_by == at("2026-11-28T12:00") and result.resolve_by == at("2026-11-30T09:00")
    assert result.respond_met and result.resolve_met
    assert result.breach  # 47 hours: a breach of the contract even though the deadline was met


def test_spring_festival_make_up_workday_and_holiday(policies):
    # 2026: Saturday 14 February is a 调休 workday; the holiday runs Sunday 15 – Monday 23.
    saturday = evaluate(severity="S1", reported_at=at("2026-02-14T22:00"), now=at("2026-02-14T22:10"))
    assert saturday.day_kind == "workday" and saturday.respond_by == at("2026-02-14T22:30")
    assert saturday.respond_met is None and saturday.breach is None  # still open, nothing decided yet
    holiday = evaluate(severity="S1", reported_at=at("2026-02-15T10:00"), now=at("2026-02-16T10:00"))
    assert holiday.day_kind == "restday"
    assert holiday.resolve_by == at("2026-02-24T09:00")  # the first working day after the holiday
    assert holiday.respond_met is False  # not responded and the 2 hours are gone
    assert holiday.breach is True  # open for 24 hours already


def test_pauses_stop_the_clock_and_each_moves_the_deadlines(policies):
    # Tuesday 2026-11-24 10:00, S1 on a workday: respond 30 min, resolve 240 min.
    pauses = [(at("2026-11-24T10:10"), at("2026-11-24T10:40")), (at("2026-11-24T10:30"), at("2026-11-24T11:00"))]
    result = evaluate(severity="S1", reported_at=at("2026-11-24T10:00"), responded_at=at("2026-11-24T11:15"),
                      resolved_at=at("2026-11-24T14:30"), pauses=pauses)  # fmt: skip
    assert result.paused_minutes == 50  # the overlapping pauses count once
    assert result.respond_by == at("2026-11-24T11:20")  # 10 min, the 50-minute pause, 20 min
    assert result.resolve_by == at("2026-11-24T14:50")
    assert result.respond_met and result.resolve_met and result.fault_minutes == 220
    # Responded before the pauses: the response deadline stays where it was.
    early = evaluate(severity="S1", reported_at=at("2026-11-24T10:00"), responded_at=at("2026-11-24T10:05"),
                     pauses=pauses, now=at("2026-11-24T12:00"))  # fmt: skip
    assert early.respond_by == at("2026-11-24T10:30") and early.resolve_by == at("2026-11-24T14:50")


def test_the_twelve_hour_breach_leaves_pauses_out(policies):
    start = at("2026-11-24T08:00")
    assert evaluate(severity="S3", reported_at=start, resolved_at=start + dt.timedelta(hours=13)).breach is True
    paused = [(at("2026-11-24T12:00"), at("2026-11-24T14:00"))]
    result = evaluate(severity="S3", reported_at=start, resolved_at=start + dt.timedelta(hours=13), pauses=paused)
    assert result.breach is False and result.fault_minutes == 11 * 60
    exactly = evaluate(severity="S3", reported_at=start, resolved_at=start + dt.timedelta(hours=12))
    assert exactly.breach is False  # longer than 12 hours, not 12 hours


def test_a_guard_period_wins_over_the_calendar_and_periods_never_overlap(policies):
    services.guard_period_create(name="全国两会", starts_at=at("2026-03-03T00:00"), ends_at=at("2026-03-12T00:00"))
    sunday = evaluate(severity="S1", reported_at=at("2026-03-08T10:00"))  # a Sunday inside the period
    assert sunday.day_kind == "guard" and sunday.respond_by == at("2026-03-08T10:15")
    assert evaluate(severity="S1", reported_at=at("2026-03-12T00:00")).day_kind == "workday"  # ends exclusive
    with pytest.raises(ServiceError) as refused:
        services.guard_period_create(name="重叠", starts_at=at("2026-03-11T00:00"), ends_at=at("2026-03-13T00:00"))
    assert refused.value.error_code == "overlap" and "全国两会" in str(refused.value.detail)
    assert GuardPeriod.objects.count() == 1
    assert AuditEntry.objects.filter(action="guard_period.create").count() == 1


def test_bad_input_is_refused(policies):
    with pytest.raises(SlaError):
        evaluate(severity="S1", reported_at=dt.datetime(2026, 11, 24, 10))  # naive
    with pytest.raises(SlaError):
        evaluate(severity="S1", reported_at=at("2026-11-24T10:00"), resolved_at=at("2026-11-24T09:00"))
    with pytest.raises(SlaError):
        evaluate(severity="S7", reported_at=at("2026-11-24T10:00"))
    with pytest.raises(SlaError):
        evaluate(severity="S1", reported_at=at("2026-11-24T10:00"), pauses=[(at("2026-11-24T11:00"), at("2026-11-24T10:30"))])
    SlaPolicy.objects.filter(day_kind="restday").delete()
    with pytest.raises(SlaError, match="no SLA policy"):
        evaluate(severity="S1", reported_at=at("2026-11-28T10:00"))


def test_the_command_prints_the_policy_deadlines_and_results_as_json(policies):
    out = StringIO()
    call_command("ops", "sla", "--severity", "S2", "--reported", "2026-02-15T10:00", "--responded",
                 "2026-02-15T11:00+08:00", "--resolved", "2026-02-24T08:30", "--pause",
                 "2026-02-16T00:00/2026-02-16T06:00", stdout=out)  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["day_kind"] == "restday" and data["policy"]["respond_minutes"] == 120
    assert data["policy"]["resolve"] == {"kind": "before_next_workday", "workday_start": "09:00"}
    assert data["deadlines"] == {"respond_by": "2026-02-15T12:00:00+08:00", "resolve_by": "2026-02-24T15:00:00+08:00"}
    assert data["met"] == {"respond": True, "resolve": True} and data["paused_minutes"] == 360
    assert data["contract_breach"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--severity", "S9", "--reported", "2026-11-24T10:00"], "--severity must be one of"),
        (["--severity", "S1", "--reported", "tomorrow"], "is not an ISO 8601"),
        (["--severity", "S1", "--reported", "2026-11-24T10:00", "--resolved", "2026-11-24T09:00"], "before the report"),
        (["--severity", "S1", "--reported", "2026-11-24T10:00", "--pause", "2026-11-24T11:00"], "START/END"),
    ],
)
def test_the_command_refuses_bad_input_with_one_line(policies, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("ops", "sla", *args)


def test_the_admin_adds_guard_periods_through_the_service(policies, admin_client):
    url = "/admin/ops/guardperiod/add/"
    form = {"name": "国庆保障", "starts_at_0": "2026-09-30", "starts_at_1": "00:00:00",
            "ends_at_0": "2026-10-08", "ends_at_1": "00:00:00", "note": ""}  # fmt: skip
    assert admin_client.post(url, form).status_code == 302
    period = GuardPeriod.objects.get()
    assert period.starts_at == at("2026-09-30T00:00")  # the admin's times are Beijing time
    assert AuditEntry.objects.filter(action="guard_period.create", object_id=str(period.pk)).exists()
    clash = admin_client.post(url, {**form, "name": "重叠"})
    assert clash.status_code == 200 and "国庆保障" in clash.content.decode()
    assert GuardPeriod.objects.count() == 1
    assert admin_client.get(f"/admin/ops/slapolicy/{SlaPolicy.objects.first().pk}/change/").status_code == 200
