"""Incidents (故障): opened by hand or from an alert, then respond → (pause ⇄ resume) → resolve →
review and close, each step through ``core.workflow.advance`` (row lock, permission, history,
audit). The SLA clock (``sla.evaluate``) runs on the kind of day of the report, frozen at
opening; every step stores its answers (deadlines, breach) on the row. Every pause and resume
is a step of its own: audited, in the history, with its reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit

from . import sla
from .models import OPEN_STATES, Incident, IncidentPause, Severity

AUDIT_FIELDS = ("state", "severity", "responded_at", "resolved_at", "respond_by", "resolve_by", "breach",
                "root_cause", "resolution", "review")  # fmt: skip


class SystemActor:
    """The console acting on its own — the monitor, the expiry and integrity checks opening
    incidents from their alerts: every unit in scope, every permission, nobody's name on the
    incident (the audit entries carry the context's channel, e.g. ``task``)."""

    pk = None
    unit = None
    is_authenticated = True
    is_active = True
    is_superuser = True
    username = "system"

    def has_perm(self, perm, obj=None) -> bool:
        return True

    def get_username(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return ""


SYSTEM = SystemActor()


def _now(at: dt.datetime | None) -> dt.datetime:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        raise ServiceError(_("时间须带时区。"), code="invalid", details={"at": [moment.isoformat()]})
    return moment


def _next_number(reported_at: dt.datetime) -> str:
    year = reported_at.astimezone(sla.TZ).year
    prefix = f"GZ-{year}-"
    last = Incident.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True).first()
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:05d}"


def clock(incident: Incident, *, now: dt.datetime | None = None) -> sla.Evaluation:
    """The incident's SLA clock as of ``now`` (its pauses, the open one up to ``now``)."""
    moment = _now(now)
    pauses = [(p.started_at, p.ended_at or max(moment, p.started_at)) for p in incident.pauses.all()]
    pauses = [(b, e) for b, e in pauses if e > b]
    return sla.evaluate(
        severity=incident.severity,
        reported_at=incident.reported_at,
        responded_at=incident.responded_at,
        resolved_at=incident.resolved_at,
        pauses=pauses,
        now=max(moment, incident.reported_at),
        day_kind=incident.day_kind,
    )


def _store_clock(incident: Incident, now: dt.datetime) -> None:
    result = clock(incident, now=now)
    incident.respond_by, incident.resolve_by, incident.breach = result.respond_by, result.resolve_by, result.breach
    Incident.objects.filter(pk=incident.pk).update(
        respond_by=result.respond_by, resolve_by=result.resolve_by, breach=result.breach
    )


@transaction.atomic
def incident_open(
    *,
    actor,
    title: str,
    severity: str,
    unit,
    reported_at: dt.datetime | None = None,
    description: str = "",
    source: str = "manual",
    alert_key: str = "",
) -> Incident:
    """Open an incident (audited). An alert that already has an open incident returns that
    one: the same alert firing again is not a second fault."""
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("请填写标题。"), code="invalid", details={"title": [_("必填")]})
    if severity not in Severity.values:
        raise ServiceError(_("未知的级别。"), code="invalid", details={"severity": [str(severity)]})
    if source not in {"manual", "alert"}:
        raise ServiceError(_("未知的来源。"), code="invalid", details={"source": [str(source)]})
    reported = _now(reported_at)
    if reported > timezone.now() + dt.timedelta(minutes=5):
        raise ServiceError(_("报告时间不能晚于现在。"), code="invalid", details={"reported_at": [reported.isoformat()]})
    alert_key = (alert_key or "").strip()[:200]
    if alert_key:
        existing = Incident.objects.filter(alert_key=alert_key, state__in=OPEN_STATES).first()
        if existing is not None:
            return existing
    try:
        day_kind = sla.day_kind_at(reported)
        policy_clock = sla.evaluate(severity=severity, reported_at=reported, now=reported, day_kind=day_kind)
    except sla.SlaError as exc:
        raise ServiceError(str(exc), code="no_policy", status=409) from exc
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                number=_next_number(reported), title=title[:200], description=description, severity=severity,
                source=source, alert_key=alert_key, unit=unit, reported_at=reported, day_kind=day_kind,
                respond_by=policy_clock.respond_by, resolve_by=policy_clock.resolve_by,
                reported_by=actor if getattr(actor, "pk", None) else None,
            )  # fmt: skip
    except IntegrityError:
        if alert_key:  # the same alert opened it a moment ago
            return Incident.objects.get(alert_key=alert_key, state__in=OPEN_STATES)
        raise
    audit.record(action="ops.incident.open", obj=incident,
                 changes=audit.diff({}, audit.snapshot(incident, ["number", "title", *AUDIT_FIELDS])))  # fmt: skip
    return incident


def _step(
    incident: Incident, transition: str, *, actor, when: dt.datetime, comment: str = "", store_clock: bool = True,
    **kwargs,
) -> Incident:  # fmt: skip
    """One workflow step at ``when`` (not before the report, not in the future), then the clock
    (``store_clock=False``: the caller stores it once its pause rows are written)."""
    if when < incident.reported_at:
        raise ServiceError(_("时间不能早于报告时间。"), code="invalid", details={"at": [when.isoformat()]})
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise ServiceError(_("时间不能晚于现在。"), code="invalid", details={"at": [when.isoformat()]})
    incident = workflow.advance(incident, transition, actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                                action=f"ops.incident.{transition}", logged_at=when, **kwargs)  # fmt: skip
    if store_clock:
        _store_clock(incident, when)
    return incident


@transaction.atomic
def incident_respond(*, actor, incident: Incident, at: dt.datetime | None = None, comment: str = "") -> Incident:
    when = _now(at)
    return _step(incident, "respond", actor=actor, when=when, comment=comment, at=when)


@transaction.atomic
def incident_pause(*, actor, incident: Incident, reason: str, at: dt.datetime | None = None) -> Incident:
    """Stop the clock (挂起) with a reason: waiting for the Center, a supplier, a third party."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写挂起原因。"), code="invalid", details={"reason": [_("必填")]})
    when = _now(at)
    last = incident.pauses.order_by("-started_at").first()
    if last is not None and last.ended_at is not None and when < last.ended_at:
        raise ServiceError(_("挂起不能早于上一次恢复。"), code="invalid", details={"at": [when.isoformat()]})
    incident = _step(incident, "pause", actor=actor, when=when, comment=reason, store_clock=False)
    IncidentPause.objects.create(incident=incident, started_at=when, reason=reason[:300])
    _store_clock(incident, when)
    return incident


@transaction.atomic
def incident_resume(*, actor, incident: Incident, at: dt.datetime | None = None, comment: str = "") -> Incident:
    """Start the clock again: the open pause ends now (or at ``at``)."""
    when = _now(at)
    open_pause = incident.pauses.filter(ended_at__isnull=True).first()
    if open_pause is not None and when < open_pause.started_at:
        raise ServiceError(_("恢复不能早于挂起。"), code="invalid", details={"at": [when.isoformat()]})
    incident = _step(incident, "resume", actor=actor, when=when, comment=comment, store_clock=False, at=when)
    IncidentPause.objects.filter(incident=incident, ended_at__isnull=True).update(ended_at=when)
    _store_clock(incident, when)
    return incident


@transaction.atomic
def incident_resolve(
    *, actor, incident: Incident, root_cause: str, resolution: str, contractor_caused: bool = True,
    at: dt.datetime | None = None,
) -> Incident:  # fmt: skip
    """Resolved, with the root cause and what was done (both required)."""
    details = {
        name: [_("必填")] for name, value in (("root_cause", root_cause), ("resolution", resolution)) if not (value or "").strip()
    }
    if details:
        raise ServiceError(_("请填写根本原因和处理措施。"), code="invalid", details=details)
    when = _now(at)
    return _step(incident, "resolve", actor=actor, when=when, at=when, root_cause=root_cause.strip(),
                 resolution=resolution.strip(), contractor_caused=bool(contractor_caused))  # fmt: skip


@transaction.atomic
def incident_close(*, actor, incident: Incident, review: str) -> Incident:
    """The post-incident review (复盘) closes it."""
    if not (review or "").strip():
        raise ServiceError(_("请填写复盘结论。"), code="invalid", details={"review": [_("必填")]})
    return _step(incident, "close", actor=actor, when=timezone.now(), comment=review.strip()[:500], review=review.strip())


def incidents_from_alerts(*, actor, alerts: list[dict], severities: dict[str, str]) -> tuple[list[str], list[str]]:
    """Open one incident per firing alert (Alertmanager's fields: ``status``, ``labels``,
    ``annotations``, ``startsAt``, ``fingerprint``), or find the open one of its fingerprint;
    returns the numbers ``(opened, existing)``. The unit is the ``unit`` label (a code in the
    actor's scope) or the actor's own unit; ``severities`` maps the ``severity`` label. Every
    alert is checked before anything is opened: one bad alert refuses them all."""
    units = {u.code: u for u in Unit.objects.restrict(actor)}
    plans, errors = [], {}
    for index, alert in enumerate(alerts):
        if alert["status"] != "firing":
            continue
        labels = alert["labels"]
        code = labels.get("unit", "").strip()
        unit = units.get(code) if code else getattr(actor, "unit", None)
        if unit is None:
            reason = f"unit {code!r} is not a unit in your scope" if code else "no unit label and no unit of your own"
            errors[str(index)] = {"labels": [reason]}
            continue
        annotations = alert.get("annotations") or {}
        key = alert.get("fingerprint") or hashlib.sha256(
            json.dumps(labels, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:32]
        plans.append({
            "title": (annotations.get("summary") or labels.get("alertname") or "alert")[:200],
            "description": annotations.get("description", ""),
            "severity": severities[labels["severity"].strip().lower()],
            "unit": unit, "reported_at": alert["startsAt"], "alert_key": f"am:{key}",
        })  # fmt: skip
    if errors:
        raise ServiceError(_("部分告警无法生成故障，未做任何处理。"), code="invalid", details={"alerts": errors})
    opened, existing = [], []
    with transaction.atomic():
        for plan in plans:
            known = Incident.objects.filter(alert_key=plan["alert_key"], state__in=OPEN_STATES).exists()
            incident = incident_open(actor=actor, source="alert", **plan)
            (existing if known else opened).append(incident.number)
    return opened, existing
