"""SLA clocks of the O&M contract.

A fault's targets come from the policy table (:class:`~govcenter.ops.models.SlaPolicy`),
keyed on its severity and the kind of day it was reported on: a special-guard period
(重要活动保障期) wins, otherwise China's working calendar decides (调休 make-up workdays are
working days, the weekend days of a holiday block are not — ``core.calendar``).

The clock runs from the report. Pauses (waiting for the Center, for a third party) stop it:
every deadline moves back by the paused time that falls before it, and the fault's length —
what the 12-hour contract-breach rule measures — leaves the pauses out. ``evaluate`` is
pure apart from reading the policy, guard periods and calendar; the incident workflow and
``govcenter ops sla`` use it alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings

from govcenter.core import calendar as workcal

from .models import DayKind, GuardPeriod, Severity, SlaPolicy

TZ = ZoneInfo("Asia/Shanghai")

Interval = tuple[dt.datetime, dt.datetime]


class SlaError(ValueError):
    """Input the clock cannot evaluate (no policy row, times out of order, a naive time)."""


@dataclass(frozen=True)
class Evaluation:
    severity: str
    day_kind: str
    policy: SlaPolicy
    reported_at: dt.datetime
    respond_by: dt.datetime
    resolve_by: dt.datetime
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    paused_minutes: float
    fault_minutes: float  # from the report to the resolution (or ``now``), pauses left out
    respond_met: bool | None  # None: not responded yet and the deadline has not passed
    resolve_met: bool | None
    breach: bool | None  # longer than GOVCENTER_OPS_BREACH_HOURS; None: open and not yet

    def as_dict(self) -> dict:
        policy = self.policy
        rule = (
            {"kind": "before_next_workday", "workday_start": settings.GOVCENTER_OPS_WORKDAY_START}
            if policy.resolve_by_next_workday
            else {"kind": "minutes", "minutes": policy.resolve_minutes}
        )
        return {
            "severity": self.severity,
            "reported_at": _iso(self.reported_at),
            "day_kind": self.day_kind,
            "policy": {
                "severity": policy.severity,
                "day_kind": policy.day_kind,
                "label": str(policy),
                "respond_minutes": policy.respond_minutes,
                "resolve": rule,
                "breach_hours": settings.GOVCENTER_OPS_BREACH_HOURS,
            },
            "deadlines": {"respond_by": _iso(self.respond_by), "resolve_by": _iso(self.resolve_by)},
            "responded_at": _iso(self.responded_at),
            "resolved_at": _iso(self.resolved_at),
            "paused_minutes": round(self.paused_minutes, 1),
            "fault_minutes": round(self.fault_minutes, 1),
            "met": {"respond": self.respond_met, "resolve": self.resolve_met},
            "contract_breach": self.breach,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat() if value is not None else None


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SlaError(f"{name} must carry its time zone")
    return value


def day_kind_at(moment: dt.datetime) -> str:
    """The kind of day of ``moment``: inside a guard period, else China's calendar decides."""
    moment = _aware(moment, "the time")
    if GuardPeriod.objects.filter(starts_at__lte=moment, ends_at__gt=moment).exists():
        return DayKind.GUARD
    return DayKind.WORKDAY if workcal.is_workday(moment) else DayKind.RESTDAY


def policy_for(severity: str, day_kind: str) -> SlaPolicy:
    policy = SlaPolicy.objects.filter(severity=severity, day_kind=day_kind).first()
    if policy is None:
        raise SlaError(f"no SLA policy for severity {severity} on a {day_kind} (run govcenter seed)")
    return policy


def next_workday_start(moment: dt.datetime) -> dt.datetime:
    """The start (GOVCENTER_OPS_WORKDAY_START, Shanghai time) of the first working day after
    ``moment``'s local date."""
    day = workcal.next_workday(workcal.as_local_date(moment))
    hour, minute = (int(part) for part in settings.GOVCENTER_OPS_WORKDAY_START.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


def _clean_pauses(pauses: Iterable[Interval], start: dt.datetime) -> list[Interval]:
    """Pauses sorted, clipped to after ``start`` and merged where they overlap."""
    out: list[list[dt.datetime]] = []
    for begin, end in sorted((_aware(b, "a pause's start"), _aware(e, "a pause's end")) for b, e in pauses):
        if end <= begin:
            raise SlaError("a pause must end after it starts")
        begin = max(begin, start)
        if end <= begin:
            continue
        if out and begin <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return [(b, e) for b, e in out]


def shift(start: dt.datetime, minutes: float, pauses: Sequence[Interval]) -> dt.datetime:
    """The moment ``minutes`` of running clock after ``start``: paused spans do not count."""
    remaining = dt.timedelta(minutes=minutes)
    cursor = start
    for begin, end in pauses:  # sorted, merged, all after ``start``
        if begin >= cursor + remaining:
            break
        remaining -= max(begin - cursor, dt.timedelta(0))
        cursor = max(cursor, end)
    return cursor + remaining


def paused_between(start: dt.datetime, end: dt.datetime, pauses: Sequence[Interval]) -> dt.timedelta:
    total = dt.timedelta(0)
    for begin, finish in pauses:
        overlap = min(finish, end) - max(begin, start)
        if overlap > dt.timedelta(0):
            total += overlap
    return total


def evaluate(
    *,
    severity: str,
    reported_at: dt.datetime,
    responded_at: dt.datetime | None = None,
    resolved_at: dt.datetime | None = None,
    pauses: Iterable[Interval] = (),
    now: dt.datetime | None = None,
    day_kind: str | None = None,
) -> Evaluation:
    """The policy applied, the deadlines and whether each was met (see the module docstring).

    ``day_kind`` fixes the kind of day (an incident keeps the one of its report even if a
    guard period is added later); by default it is read off ``reported_at``.
    """
    reported_at = _aware(reported_at, "reported")
    for value, name in ((responded_at, "responded"), (resolved_at, "resolved"), (now, "now")):
        if value is not None:
            _aware(value, name)
            if value < reported_at:
                raise SlaError(f"{name} ({value.isoformat()}) is before the report ({reported_at.isoformat()})")
    if responded_at and resolved_at and resolved_at < responded_at:
        raise SlaError("resolved is before responded")
    if severity not in Severity.values:
        raise SlaError(f"unknown severity {severity!r}")
    kind = day_kind or day_kind_at(reported_at)
    policy = policy_for(severity, kind)
    pauses = _clean_pauses(pauses, reported_at)
    # A pause after the response does not move the response deadline (it was met or missed).
    respond_pauses = [(b, min(e, responded_at)) for b, e in pauses if b < responded_at] if responded_at else pauses
    respond_by = shift(reported_at, policy.respond_minutes, respond_pauses)
    if policy.resolve_by_next_workday:
        target = next_workday_start(reported_at)
        resolve_by = shift(reported_at, (target - reported_at).total_seconds() / 60, pauses)
    else:
        resolve_by = shift(reported_at, policy.resolve_minutes, pauses)
    now = now or dt.datetime.now(TZ)
    end = resolved_at or max(now, reported_at)
    paused = paused_between(reported_at, end, pauses)
    fault_minutes = ((end - reported_at) - paused).total_seconds() / 60
    breach_minutes = settings.GOVCENTER_OPS_BREACH_HOURS * 60
    return Evaluation(
        severity=severity,
        day_kind=str(kind),
        policy=policy,
        reported_at=reported_at,
        respond_by=respond_by,
        resolve_by=resolve_by,
        responded_at=responded_at,
        resolved_at=resolved_at,
        paused_minutes=paused.total_seconds() / 60,
        fault_minutes=fault_minutes,
        respond_met=_met(responded_at, respond_by, now),
        resolve_met=_met(resolved_at, resolve_by, now),
        breach=(fault_minutes > breach_minutes) if resolved_at or fault_minutes > breach_minutes else None,
    )


def _met(done: dt.datetime | None, deadline: dt.datetime, now: dt.datetime) -> bool | None:
    if done is not None:
        return done <= deadline
    return False if now > deadline else None
