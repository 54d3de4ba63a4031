"""Monitoring writes: targets, alert rules and maintenance windows (audited, in the caller's
scope; bad input a ``ServiceError`` naming the field), and the recording of probe results —
raw rows, hourly rollups, the latest result on the target, the alert rules evaluated with
flap damping, and firing alerts turned into incidents through
``govcenter.ops.incidents.incidents_from_alerts`` (fingerprint = rule + target: one open
incident per alert).

Alert rules, per (rule, target): a bad result (failed probe for ``down``; value below/above the
threshold) adds to the bad streak, a good one to the good streak. The alert fires when the
bad streak reaches ``fire_after`` — unless it resolved less than ``holdoff_s`` ago (then it is
held, recorded once, and fires when still bad after the hold-off) — and resolves after
``resolve_after`` good results. Results inside a maintenance window are stored, flagged, and
neither counted for uptime nor fed to the rules; a window without collection stops the probes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit

from ..incidents import SYSTEM
from ..models import (
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertState,
    AlertStatus,
    MaintenanceWindow,
    MonitorTarget,
    ProbeHourly,
    ProbeKind,
    ProbeResult,
    Severity,
)
from .probes import Outcome, clean_config

log = logging.getLogger(__name__)

TARGET_FIELDS = ["name", "kind", "config", "interval_s", "timeout_s", "enabled", "unit"]
RULE_FIELDS = ["name", "unit", "target", "kind", "condition", "threshold", "severity", "fire_after", "resolve_after",
               "holdoff_s", "enabled"]  # fmt: skip
WINDOW_FIELDS = ["name", "unit", "starts_at", "ends_at", "with_collection", "note"]
MAINTENANCE_LOCK = 0x0B5A1F  # advisory lock serialising maintenance-window writes (PostgreSQL)




def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ServiceError(_("时间须带时区。"), code="invalid", details={field: [str(value)]})
    return value


def _unit_in_scope(actor, unit) -> Unit:
    if unit is None or not Unit.objects.restrict(actor).filter(pk=getattr(unit, "pk", unit)).exists():
        raise ServiceError(_("运维单位不在您的数据范围内。"), code="invalid", details={"unit": [str(unit)]})
    return unit if isinstance(unit, Unit) else Unit.objects.get(pk=unit)


def _int(value, field: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServiceError(_("须为整数。"), code="invalid", details={field: [str(value)]}) from None
    if not lo <= number <= hi:
        raise ServiceError(_("超出允许范围。"), code="invalid", details={field: [f"{lo}–{hi}"]})
    return number


# ------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------


@transaction.atomic
def target_save(
    *, actor, target: MonitorTarget | None = None, name: str, kind: str, config: dict, unit, interval_s: int = 60,
    timeout_s: float = 5.0, enabled: bool = True,
) -> MonitorTarget:  # fmt: skip
    """Create (``target=None``) or change a target (audited)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("请填写名称。"), code="invalid", details={"name": [_("必填")]})
    if kind not in ProbeKind.values:
        raise ServiceError(_("未知的监控类型。"), code="invalid", details={"kind": [str(kind)]})
    config = clean_config(kind, config)
    interval_s = _int(interval_s, "interval_s", 5, 86400)
    try:
        timeout_s = float(timeout_s)
    except (TypeError, ValueError):
        raise ServiceError(_("须为数字。"), code="invalid", details={"timeout_s": [str(timeout_s)]}) from None
    if not 0 < timeout_s <= min(60, interval_s):
        raise ServiceError(_("超时须大于 0、不超过 60 秒且不超过间隔。"), code="invalid", details={"timeout_s": [str(timeout_s)]})
    unit = _unit_in_scope(actor, unit)
    clash = MonitorTarget.objects.filter(name=name).exclude(pk=getattr(target, "pk", None)).exists()
    if clash:
        raise ServiceError(_("已有同名监控对象。"), code="duplicate", status=409, details={"name": [name]})
    if target is not None:
        target = MonitorTarget.objects.restrict(actor).select_for_update().get(pk=target.pk)
    before = audit.snapshot(target, TARGET_FIELDS) if target else {}
    target = target or MonitorTarget()
    target.name, target.kind, target.config, target.unit = name[:100], kind, config, unit
    target.interval_s, target.timeout_s, target.enabled = interval_s, timeout_s, bool(enabled)
    target.save()
    audit.record(action="ops.monitor.target." + ("update" if before else "create"), obj=target,
                 changes=audit.diff(before, audit.snapshot(target, TARGET_FIELDS)))  # fmt: skip
    return target


# ------------------------------------------------------------------------------------------
# Alert rules
# ------------------------------------------------------------------------------------------


@transaction.atomic
def rule_save(
    *, actor, rule: AlertRule | None = None, name: str, unit, target: MonitorTarget | None = None, kind: str = "",
    condition: str = "down", threshold: float | None = None, severity: str = "S3", fire_after: int = 3,
    resolve_after: int = 2, holdoff_s: int = 600, enabled: bool = True,
) -> AlertRule:  # fmt: skip
    """Create or change an alert rule (audited): on one target, or on every target of a kind
    in the unit."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("请填写名称。"), code="invalid", details={"name": [_("必填")]})
    unit = _unit_in_scope(actor, unit)
    kind = kind or ""
    if (target is None) == (not kind):
        raise ServiceError(_("请选择一个监控对象或一种对象类型（二选一）。"), code="invalid",
                           details={"target": [_("二选一")], "kind": [_("二选一")]})  # fmt: skip
    if kind and kind not in ProbeKind.values:
        raise ServiceError(_("未知的监控类型。"), code="invalid", details={"kind": [kind]})
    if target is not None and target.unit_id != unit.pk:
        raise ServiceError(_("监控对象不属于该运维单位。"), code="invalid", details={"target": [str(target)]})
    if condition not in AlertCondition.values:
        raise ServiceError(_("未知的告警条件。"), code="invalid", details={"condition": [str(condition)]})
    if condition != AlertCondition.DOWN:
        if threshold is None:
            raise ServiceError(_("阈值条件须填写阈值。"), code="invalid", details={"threshold": [_("必填")]})
        threshold = float(threshold)
    else:
        threshold = None
    if severity not in Severity.values:
        raise ServiceError(_("未知的级别。"), code="invalid", details={"severity": [str(severity)]})
    fire_after = _int(fire_after, "fire_after", 1, 1000)
    resolve_after = _int(resolve_after, "resolve_after", 1, 1000)
    holdoff_s = _int(holdoff_s, "holdoff_s", 0, 7 * 86400)
    if rule is not None:
        rule = AlertRule.objects.restrict(actor).select_for_update().get(pk=rule.pk)
    before = audit.snapshot(rule, RULE_FIELDS) if rule else {}
    rule = rule or AlertRule()
    for field, value in (("name", name[:100]), ("unit", unit), ("target", target), ("kind", kind),
                         ("condition", condition), ("threshold", threshold), ("severity", severity),
                         ("fire_after", fire_after), ("resolve_after", resolve_after), ("holdoff_s", holdoff_s),
                         ("enabled", bool(enabled))):  # fmt: skip
        setattr(rule, field, value)
    rule.save()
    audit.record(action="ops.monitor.rule." + ("update" if before else "create"), obj=rule,
                 changes=audit.diff(before, audit.snapshot(rule, RULE_FIELDS)))  # fmt: skip
    return rule


# ------------------------------------------------------------------------------------------
# Maintenance windows
# ------------------------------------------------------------------------------------------


def _lock_windows() -> None:
    """PostgreSQL: a transaction-scoped advisory lock (two overlapping windows cannot be added
    side by side); SQLite serialises writing transactions already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [MAINTENANCE_LOCK])


@transaction.atomic
def window_create(
    *, actor, name: str, unit, starts_at: dt.datetime, ends_at: dt.datetime, targets: Iterable[MonitorTarget] = (),
    with_collection: bool = True, note: str = "",
) -> MaintenanceWindow:  # fmt: skip
    """Add a maintenance window on ``targets`` (none: every target of the unit). One that
    overlaps another window on the same target is refused (409, naming it)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("请填写名称。"), code="invalid", details={"name": [_("必填")]})
    unit = _unit_in_scope(actor, unit)
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise ServiceError(_("结束须晚于开始。"), code="invalid", details={"ends_at": [ends_at.isoformat()]})
    targets = list(targets)
    foreign = [t.name for t in targets if t.unit_id != unit.pk]
    if foreign:
        raise ServiceError(_("监控对象不属于该运维单位。"), code="invalid", details={"targets": foreign})
    wanted = {t.pk for t in targets}
    _lock_windows()
    for other in (
        MaintenanceWindow.objects.filter(unit=unit, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .prefetch_related("targets").order_by("starts_at")
    ):  # fmt: skip
        theirs = {t.pk for t in other.targets.all()}
        if not wanted or not theirs or wanted & theirs:
            shared = sorted(t.name for t in other.targets.all() if not wanted or t.pk in wanted) or [_("全部对象")]
            raise ServiceError(
                _("与维护窗口「%(name)s」（%(start)s – %(end)s）在同一监控对象上时间重叠。") % {
                    "name": other.name, "start": timezone.localtime(other.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "end": timezone.localtime(other.ends_at).strftime("%Y-%m-%d %H:%M")},
                code="overlap", status=409,
                details={"window": [other.name], "targets": shared, "starts_at": [other.starts_at.isoformat()],
                         "ends_at": [other.ends_at.isoformat()]},
            )  # fmt: skip
    window = MaintenanceWindow.objects.create(name=name[:100], unit=unit, starts_at=starts_at, ends_at=ends_at,
                                              with_collection=bool(with_collection), note=note or "")  # fmt: skip
    window.targets.set(targets)
    after = {**audit.snapshot(window, WINDOW_FIELDS), "targets": sorted(t.name for t in targets)}
    audit.record(action="ops.monitor.window.create", obj=window, changes=audit.diff({}, after))
    return window


@dataclass
class Windows:
    """The maintenance windows in force over a span, answering per target and time."""

    rows: list[tuple[dt.datetime, dt.datetime, bool, int, frozenset[int]]]

    @classmethod
    def load(cls, start: dt.datetime, end: dt.datetime) -> Windows:
        rows = []
        for w in MaintenanceWindow.objects.filter(starts_at__lte=end, ends_at__gt=start).prefetch_related("targets"):
            rows.append((w.starts_at, w.ends_at, w.with_collection, w.unit_id, frozenset(t.pk for t in w.targets.all())))
        return cls(rows)

    def at(self, target: MonitorTarget, moment: dt.datetime) -> tuple[bool, bool]:
        """``(in a window, in a window without collection)``."""
        inside = quiet = False
        for start, end, collect, unit_id, ids in self.rows:
            if start <= moment < end and ((not ids and unit_id == target.unit_id) or target.pk in ids):
                inside = True
                quiet = quiet or not collect
        return inside, quiet


# ------------------------------------------------------------------------------------------
# Results, rollups, alerts
# ------------------------------------------------------------------------------------------


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _is_bad(rule: AlertRule, outcome: Outcome) -> bool | None:
    """True bad, False good, None unknown (a threshold rule on a failed probe: no value)."""
    if rule.condition == AlertCondition.DOWN:
        return not outcome.ok
    if outcome.value is None:
        return None
    return outcome.value < rule.threshold if rule.condition == AlertCondition.BELOW else outcome.value > rule.threshold


def _rules_for(targets: dict[int, MonitorTarget]) -> dict[int, list[AlertRule]]:
    kinds = {t.kind for t in targets.values()}
    rules = AlertRule.objects.filter(Q(target_id__in=list(targets)) | Q(target__isnull=True, kind__in=kinds),
                                     enabled=True).order_by("pk")  # fmt: skip
    out: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        for target in targets.values():
            if rule.target_id == target.pk or (rule.target_id is None and rule.kind == target.kind
                                               and rule.unit_id == target.unit_id):  # fmt: skip
                out[target.pk].append(rule)
    return out


@dataclass
class RecordSummary:
    results: int = 0
    fired: int = 0
    resolved: int = 0
    held: int = 0
    incidents: tuple[str, ...] = ()


@transaction.atomic
def record_results(batch: list[tuple[int, dt.datetime, Outcome]]) -> RecordSummary:
    """Store a batch of ``(target id, started at, outcome)``: raw rows, hourly rollups, the
    latest result of each target; then evaluate the alert rules and open incidents for alerts
    that fire. One transaction: a crash leaves nothing half-recorded."""
    summary = RecordSummary()
    if not batch:
        return summary
    batch = sorted(batch, key=lambda r: (r[1], r[0]))
    targets = MonitorTarget.objects.in_bulk({r[0] for r in batch})
    batch = [r for r in batch if r[0] in targets]  # a target deleted meanwhile
    if not batch:
        return summary
    windows = Windows.load(batch[0][1], batch[-1][1])
    rows, rollup = [], defaultdict(lambda: [0, 0, 0])
    for target_id, started, outcome in batch:
        target = targets[target_id]
        inside, _quiet = windows.at(target, started)
        rows.append(ProbeResult(target_id=target_id, started_at=started, ok=outcome.ok, latency_ms=outcome.latency_ms,
                                value=outcome.value, message=outcome.message[:200], maintenance=inside))  # fmt: skip
        if not inside:
            cell = rollup[(target_id, hour_of(started))]
            cell[0] += 1
            cell[1] += int(outcome.ok)
            cell[2] += outcome.latency_ms or 0
        target.last_run_at, target.last_ok, target.last_message = started, outcome.ok, outcome.message[:200]
        target.last_latency_ms, target.last_value = outcome.latency_ms, outcome.value
        if outcome.ok:
            target.last_success_at = started
    ProbeResult.objects.bulk_create(rows, batch_size=1000)
    add_rollups(rollup)
    MonitorTarget.objects.bulk_update(
        list({r[0]: targets[r[0]] for r in batch}.values()),
        ["last_run_at", "last_ok", "last_message", "last_latency_ms", "last_value", "last_success_at"],
        batch_size=500,
    )
    summary.results = len(rows)
    _evaluate(batch, targets, [r.maintenance for r in rows], summary)
    return summary


def add_rollups(rollup: dict[tuple[int, dt.datetime], list[int]]) -> None:
    """Add ``{(target id, hour): [total, ok, latency sum]}`` to the hourly rollups."""
    if not rollup:
        return
    hours = {h for _t, h in rollup}
    existing = {
        (row.target_id, row.hour): row
        for row in ProbeHourly.objects.select_for_update().filter(
            target_id__in={t for t, _h in rollup}, hour__gte=min(hours), hour__lte=max(hours)
        )
    }
    new, changed = [], []
    for key, (total, ok, latency) in rollup.items():
        row = existing.get(key)
        if row is None:
            new.append(ProbeHourly(target_id=key[0], hour=key[1], total=total, ok=ok, latency_ms_sum=latency))
        else:
            row.total, row.ok, row.latency_ms_sum = row.total + total, row.ok + ok, row.latency_ms_sum + latency
            changed.append(row)
    ProbeHourly.objects.bulk_create(new, batch_size=1000)
    ProbeHourly.objects.bulk_update(changed, ["total", "ok", "latency_ms_sum"], batch_size=1000)


def _evaluate(batch, targets, in_maintenance, summary: RecordSummary) -> None:
    rules = _rules_for(targets)
    if not rules:
        return
    states = {
        (s.rule_id, s.target_id): s
        for s in AlertState.objects.select_for_update().filter(target_id__in=list(rules))
    }
    touched: dict[tuple[int, int], AlertState] = {}
    fired: list[tuple[AlertRule, MonitorTarget, AlertState]] = []
    events: list[AlertEvent] = []
    for (target_id, started, outcome), maintenance in zip(batch, in_maintenance, strict=True):
        if maintenance:
            continue  # alerts are suppressed inside a maintenance window
        target = targets[target_id]
        for rule in rules.get(target_id, ()):
            bad = _is_bad(rule, outcome)
            if bad is None:
                continue
            key = (rule.pk, target_id)
            state = states.get(key) or AlertState(rule=rule, target=target)
            states[key] = touched[key] = state
            state.last_seen_at = started
            if bad:
                state.bad_streak, state.good_streak = state.bad_streak + 1, 0
                state.message = outcome.message[:200]
                if state.status == AlertStatus.FIRING or state.bad_streak < rule.fire_after:
                    if state.status == AlertStatus.OK:
                        state.status = AlertStatus.PENDING
                    continue
                held = state.resolved_at is not None and (started - state.resolved_at).total_seconds() < rule.holdoff_s
                if held:
                    state.status = AlertStatus.PENDING
                    if state.bad_streak == rule.fire_after:
                        events.append(AlertEvent(rule=rule, target=target, kind=AlertEventKind.HELD, at=started,
                                                 message=state.message))  # fmt: skip
                        summary.held += 1
                    continue
                state.status, state.fired_at, state.incident_number = AlertStatus.FIRING, started, ""
                fired.append((rule, target, state))
            else:
                state.good_streak, state.bad_streak = state.good_streak + 1, 0
                if state.status == AlertStatus.PENDING:
                    state.status = AlertStatus.OK
                elif state.status == AlertStatus.FIRING and state.good_streak >= rule.resolve_after:
                    state.status, state.resolved_at = AlertStatus.OK, started
                    events.append(AlertEvent(rule=rule, target=target, kind=AlertEventKind.RESOLVED, at=started,
                                             message=outcome.message[:200], incident_number=state.incident_number))  # fmt: skip
                    audit.record(action="ops.monitor.alert.resolve", obj=target,
                                 changes={"rule": rule.name, "at": started.isoformat(), "incident": state.incident_number})  # fmt: skip
                    summary.resolved += 1
    numbers = _open_incidents(fired)
    for rule, target, state in fired:
        state.incident_number = numbers.get(state.fingerprint, "")
        events.append(AlertEvent(rule=rule, target=target, kind=AlertEventKind.FIRED, at=state.fired_at,
                                 message=state.message, incident_number=state.incident_number))  # fmt: skip
        audit.record(action="ops.monitor.alert.fire", obj=target,
                     changes={"rule": rule.name, "at": state.fired_at.isoformat(), "incident": state.incident_number})  # fmt: skip
    summary.fired += len(fired)
    summary.incidents = tuple(sorted(set(numbers.values())))
    for state in touched.values():
        state.save()
    AlertEvent.objects.bulk_create(events)


def _open_incidents(fired) -> dict[str, str]:
    """Open (or find) the incident of each fired alert; ``{fingerprint: incident number}``.
    A failure (no SLA policy seeded …) is logged: the alert still fires, without incident."""
    from .. import incidents
    from ..models import OPEN_STATES, Incident

    if not fired:
        return {}
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": rule.name, "severity": rule.severity.lower(), "unit": target.unit.code,
                       "target": target.name, "kind": target.kind},
            "annotations": {"summary": f"{target.name}: {rule.name}"[:200],
                            "description": f"{rule.get_condition_display()} — {state.message}"},
            "startsAt": state.fired_at,
            "fingerprint": state.fingerprint,
        }
        for rule, target, state in fired
    ]  # fmt: skip
    severities = {s.lower(): s for s in Severity.values}
    try:
        with transaction.atomic():
            incidents.incidents_from_alerts(actor=SYSTEM, alerts=alerts, severities=severities)
    except ServiceError as exc:
        log.error("monitor: alerts fired but no incident opened: %s", exc.detail)
        return {}
    keys = {f"am:{a['fingerprint']}": a["fingerprint"] for a in alerts}
    return {
        keys[key]: number
        for key, number in Incident.objects.filter(alert_key__in=list(keys), state__in=OPEN_STATES)
        .values_list("alert_key", "number")
    }


# ------------------------------------------------------------------------------------------
# Uptime
# ------------------------------------------------------------------------------------------


def uptime(targets: Iterable[int] | None, start: dt.datetime, end: dt.datetime) -> dict[int, tuple[int, int]]:
    """``{target id: (ok, total)}`` of the results in the hours from ``start`` to ``end``
    (hours starting in [start, end)); maintenance windows are not in the counts."""
    qs = ProbeHourly.objects.filter(hour__gte=hour_of(start), hour__lt=end)
    if targets is not None:
        qs = qs.filter(target_id__in=list(targets))
    return {
        row["target_id"]: (row["ok_sum"], row["total_sum"])
        for row in qs.values("target_id").annotate(ok_sum=Sum("ok"), total_sum=Sum("total"))
    }


def percent(ok: int, total: int) -> float | None:
    return round(ok / total * 100, 3) if total else None
