"""The escalation chain (升级链) of open incidents.

Each severity has a policy (:class:`EscalationPolicy`) of ordered levels: after N minutes of the
incident's running SLA clock (``incidents.clock``: pauses left out) without a response (or a
resolution), notify the level's target — the on-duty primary of the incident's O&M unit, the
on-duty backup, the duty leader (the leader seat of the roster, else the Center's leaders), a
role, or a named user. :func:`escalate` (the huey task every minute, and
``govcenter ops escalate --now ISO``) walks the open incidents and notifies each due level
exactly once: the :class:`EscalationEvent` row (unique per incident and level) is written in
the same transaction as the in-app notices (and the SMS for S1/S2, sent after commit through
the kernel's outbox), so a level is never notified twice, even by two workers at once. A
paused incident does not escalate (its clock stands still).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.models import Notification, SmsCategory, User
from govcenter.core.notifications import notify
from govcenter.core.sms import register_template

from .. import incidents, sla
from ..models import (
    DutyRole,
    EscalationBasis,
    EscalationEvent,
    EscalationLevel,
    EscalationPolicy,
    Incident,
    IncidentState,
    Severity,
    TargetKind,
)
from .roster import who_is_on_duty

logger = logging.getLogger(__name__)

SMS_TEMPLATE = "ops_escalation"
SMS_SEVERITIES = ("S1", "S2")
register_template(
    SMS_TEMPLATE,
    name="故障升级通知",
    body="【北京交通综合治理】故障升级（第{level}级）：{number} {title}，级别{severity}，请立即处理。",
    category=SmsCategory.OTHER,
)

# severity → [(after minutes, basis, target, role code, sms)]
R, S = EscalationBasis.RESPOND, EscalationBasis.RESOLVE
DEFAULT_POLICIES: dict[str, list[tuple[int, str, str, str, bool]]] = {
    "S1": [(5, R, TargetKind.ON_DUTY_PRIMARY, "", True), (15, R, TargetKind.ON_DUTY_BACKUP, "", True),
           (30, R, TargetKind.DUTY_LEADER, "", True), (120, S, TargetKind.ROLE, "center_leader", True)],
    "S2": [(15, R, TargetKind.ON_DUTY_PRIMARY, "", True), (30, R, TargetKind.ON_DUTY_BACKUP, "", True),
           (60, R, TargetKind.DUTY_LEADER, "", True), (240, S, TargetKind.ROLE, "center_leader", False)],
    "S3": [(30, R, TargetKind.ON_DUTY_PRIMARY, "", False), (60, R, TargetKind.ON_DUTY_BACKUP, "", False),
           (120, R, TargetKind.DUTY_LEADER, "", False)],
    "S4": [(120, R, TargetKind.ON_DUTY_PRIMARY, "", False), (240, R, TargetKind.ON_DUTY_BACKUP, "", False)],
}  # fmt: skip
NAMES = {"S1": "一级故障升级链", "S2": "二级故障升级链", "S3": "三级故障升级链", "S4": "四级故障升级链"}


@transaction.atomic
def escalation_policies_seed() -> dict[str, int]:
    """The default chains, for severities that have none (idempotent; edits are kept)."""
    created = 0
    for severity, levels in DEFAULT_POLICIES.items():
        if EscalationPolicy.objects.filter(severity=severity).exists():
            continue
        policy = EscalationPolicy.objects.create(severity=severity, name=NAMES[severity])
        for index, (minutes, basis, target, role, sms) in enumerate(levels, start=1):
            EscalationLevel.objects.create(policy=policy, level=index, after_minutes=minutes, basis=basis,
                                           target=target, role_code=role, sms=sms)  # fmt: skip
        audit.record(action="ops.escalation_policy.create", obj=policy,
                     changes={"severity": severity, "levels": [list(map(str, lv)) for lv in levels]})  # fmt: skip
        created += 1
    return {"created": created, "unchanged": len(DEFAULT_POLICIES) - created}


def _pauses(incident: Incident, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    spans = [(p.started_at, p.ended_at or max(now, p.started_at)) for p in incident.pauses.all()]
    return sorted((b, e) for b, e in spans if e > b)


def due_levels(incident: Incident, *, now: dt.datetime) -> list[tuple[EscalationLevel, dt.datetime]]:
    """The levels of the incident's chain due at ``now`` (whether notified or not), each with
    the moment it fell due. None while paused, resolved or closed."""
    if incident.state not in (IncidentState.REPORTED, IncidentState.RESPONDING):
        return []
    policy = EscalationPolicy.objects.filter(severity=incident.severity, active=True).first()
    if policy is None:
        return []
    result = incidents.clock(incident, now=now)
    pauses = _pauses(incident, now)
    out = []
    for level in policy.levels.all():
        if level.basis == EscalationBasis.RESPOND and incident.responded_at is not None:
            continue
        if result.fault_minutes >= level.after_minutes:
            out.append((level, sla.shift(incident.reported_at, level.after_minutes, pauses)))
    return out


def _leaders() -> list:
    return list(User.objects.filter(roles__code="center_leader", is_active=True).distinct())


def recipients(level: EscalationLevel, incident: Incident, now: dt.datetime) -> list:
    """Who level ``level`` notifies now (the on-duty targets read the roster at ``now``;
    nobody on the roster: the Center's leaders)."""
    seats = list(who_is_on_duty(now, unit=incident.unit))
    engineers = [s for s in seats if s.role == DutyRole.ENGINEER]
    if level.target == TargetKind.ON_DUTY_PRIMARY:
        people = [s.primary for s in engineers]
    elif level.target == TargetKind.ON_DUTY_BACKUP:
        people = [s.backup for s in engineers if s.backup_id]
    elif level.target == TargetKind.DUTY_LEADER:
        people = [s.primary for s in seats if s.role == DutyRole.LEADER]
    elif level.target == TargetKind.ROLE:
        people = list(User.objects.filter(roles__code=level.role_code, is_active=True).distinct())
    else:
        people = [level.user] if level.user_id else []
    people = [p for p in people if p is not None and p.is_active]
    return people or _leaders()


def _notify_level(incident: Incident, level: EscalationLevel, due_at: dt.datetime, now: dt.datetime):
    people = recipients(level, incident, now)
    sms = level.sms and incident.severity in SMS_SEVERITIES
    title = _("故障升级（第%(level)s级）：%(number)s %(title)s") % {
        "level": level.level, "number": incident.number, "title": incident.title}  # fmt: skip
    body = _("%(severity)s，已计时 %(minutes)s 分钟%(basis)s。") % {
        "severity": incident.get_severity_display(), "minutes": level.after_minutes,
        "basis": level.get_basis_display()}  # fmt: skip
    with transaction.atomic():
        event = EscalationEvent.objects.create(
            incident=incident, level=level.level, basis=level.basis, target=level.target, due_at=due_at,
            notified_at=now, channel="app+sms" if sms else "app",
            recipients=[{"id": p.pk, "name": p.full_name or p.username} for p in people],
        )  # fmt: skip
        notify(
            people, verb="escalate", title=title, body=body, target=incident,
            url=reverse("ops:incident_detail", args=[incident.pk]),
            level=Notification.Level.DANGER if incident.severity in SMS_SEVERITIES else Notification.Level.WARNING,
            sms_template=SMS_TEMPLATE if sms else None,
            sms_context={"level": level.level, "number": incident.number, "severity": incident.severity},
        )  # fmt: skip
        audit.record(action="ops.incident.escalate", obj=incident,
                     changes={"level": level.level, "target": level.target, "recipients": event.recipients,
                              "channel": event.channel, "due_at": due_at.isoformat()})  # fmt: skip
    return event


def escalate(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Notify every due, not yet notified level of every open incident (idempotent)."""
    moment = now or timezone.now()
    if timezone.is_naive(moment):
        raise ValueError("now must carry its time zone")
    done = {r for r in EscalationEvent.objects.filter(
        incident__state__in=[IncidentState.REPORTED, IncidentState.RESPONDING]).values_list("incident_id", "level")}  # fmt: skip
    counts = {"incidents": 0, "notified": 0, "already": 0}
    open_incidents = Incident.objects.filter(
        state__in=[IncidentState.REPORTED, IncidentState.RESPONDING], reported_at__lte=moment,
        severity__in=Severity.values,
    ).select_related("unit").prefetch_related("pauses")  # fmt: skip
    for incident in open_incidents:
        counts["incidents"] += 1
        for level, due_at in due_levels(incident, now=moment):
            if (incident.pk, level.level) in done:
                counts["already"] += 1
                continue
            try:
                _notify_level(incident, level, due_at, moment)
            except IntegrityError:  # another worker notified it a moment ago
                counts["already"] += 1
                continue
            except Exception:  # one bad recipient (a malformed phone …) must not stop the walk
                logger.exception("escalation of %s level %s failed; retried on the next walk", incident.number,
                                 level.level)  # fmt: skip
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            counts["notified"] += 1
    return counts


@transaction.atomic
def backfill(incident: Incident, *, now: dt.datetime | None = None) -> int:
    """Record (without notifying anyone) the levels that fell due during the incident's life
    so far — for demo and imported history; a level already recorded is kept. Returns how
    many were recorded."""
    moment = now or timezone.now()
    policy = EscalationPolicy.objects.filter(severity=incident.severity, active=True).first()
    if policy is None:
        return 0
    pauses = _pauses(incident, moment)
    known = set(incident.escalations.values_list("level", flat=True))
    made = 0
    for level in policy.levels.all():
        due_at = sla.shift(incident.reported_at, level.after_minutes, pauses)
        stop = incident.responded_at if level.basis == EscalationBasis.RESPOND else incident.resolved_at
        if level.level in known or due_at > moment or (stop is not None and stop <= due_at):
            continue
        people = recipients(level, incident, due_at)
        EscalationEvent.objects.create(
            incident=incident, level=level.level, basis=level.basis, target=level.target, due_at=due_at,
            notified_at=due_at, channel="app+sms" if level.sms and incident.severity in SMS_SEVERITIES else "app",
            recipients=[{"id": p.pk, "name": p.full_name or p.username} for p in people],
        )  # fmt: skip
        made += 1
    if made:
        audit.record(action="ops.incident.escalate_backfill", obj=incident, changes={"levels": made})
    return made


def chain_for(incident: Incident, *, now: dt.datetime | None = None) -> list[dict]:
    """The incident's chain for its page: each level, when due, and whom it notified."""
    moment = now or timezone.now()
    policy = EscalationPolicy.objects.filter(severity=incident.severity).first()
    events = {e.level: e for e in incident.escalations.all()}
    due = {lv.level: at for lv, at in due_levels(incident, now=moment)}
    rows = []
    for level in policy.levels.all() if policy else []:
        event = events.pop(level.level, None)
        rows.append({"number": level.level, "level": level, "event": event, "target": level.get_target_display(),
                     "due_at": event.due_at if event else due.get(level.level)})  # fmt: skip
    rows.extend({"number": e.level, "level": None, "event": e, "target": e.get_target_display(), "due_at": e.due_at}
                for e in events.values())  # fmt: skip
    return rows
