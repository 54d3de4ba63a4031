"""Writes of the ops app: the SLA policy table (seeded, then the Center's to edit) and the
special-guard periods. Every write is audited in its transaction; bad input is a
``ServiceError`` naming the field."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from .models import DayKind, GuardPeriod, Severity, SlaPolicy

# The contract's defaults: on a working day respond at once (30 minutes); on a non-working day
# within 2 hours and resolve before the next working day; during a special-guard period
# faster still. Resolution targets on working and guard days are the service plan's.
# (severity, day kind) → (respond minutes, resolve minutes or None for "before next workday")
DEFAULT_POLICIES: dict[tuple[str, str], tuple[int, int | None]] = {
    **{(s, DayKind.WORKDAY): (30, m) for s, m in zip(Severity.values, (240, 480, 1440, 4320), strict=True)},
    **{(s, DayKind.RESTDAY): (120, None) for s in Severity.values},
    **{(s, DayKind.GUARD): (15, m) for s, m in zip(Severity.values, (120, 240, 480, 1440), strict=True)},
}


@transaction.atomic
def sla_policies_seed() -> dict[str, int]:
    """Create the missing rows of the policy table with the contract's defaults (idempotent:
    an existing row — perhaps edited by the Center — is never overwritten)."""
    created = 0
    for (severity, day_kind), (respond, resolve) in DEFAULT_POLICIES.items():
        policy, made = SlaPolicy.objects.get_or_create(
            severity=severity,
            day_kind=day_kind,
            defaults={
                "respond_minutes": respond,
                "resolve_minutes": resolve,
                "resolve_by_next_workday": resolve is None,
            },
        )
        if made:
            created += 1
            audit.record(action="sla_policy.create", obj=policy, changes=audit.diff({}, _policy_snapshot(policy)))
    return {"created": created, "unchanged": len(DEFAULT_POLICIES) - created}


def _policy_snapshot(policy: SlaPolicy) -> dict:
    return audit.snapshot(policy, ["severity", "day_kind", "respond_minutes", "resolve_minutes", "resolve_by_next_workday"])


@transaction.atomic
def sla_policy_set(
    *, severity: str, day_kind: str, respond_minutes: int, resolve_minutes: int | None
) -> SlaPolicy:
    """Set one row's targets (``resolve_minutes=None``: before the next working day begins)."""
    if severity not in Severity.values:
        raise ServiceError(_("未知的级别。"), code="invalid", details={"severity": [severity]})
    if day_kind not in DayKind.values:
        raise ServiceError(_("未知的报告日类型。"), code="invalid", details={"day_kind": [day_kind]})
    for name, value in (("respond_minutes", respond_minutes), ("resolve_minutes", resolve_minutes)):
        if value is not None and not 1 <= value <= 60 * 24 * 30:
            raise ServiceError(_("时限须在 1 分钟到 30 天之间。"), code="invalid", details={name: [str(value)]})
    policy = SlaPolicy.objects.select_for_update().filter(severity=severity, day_kind=day_kind).first()
    before = _policy_snapshot(policy) if policy else {}
    policy = policy or SlaPolicy(severity=severity, day_kind=day_kind)
    policy.respond_minutes = respond_minutes
    policy.resolve_minutes = resolve_minutes
    policy.resolve_by_next_workday = resolve_minutes is None
    policy.save()
    audit.record(action="sla_policy.update" if before else "sla_policy.create", obj=policy,
                 changes=audit.diff(before, _policy_snapshot(policy)))  # fmt: skip
    return policy


GUARD_PERIOD_LOCK = 0x0B5A1E  # the advisory lock serialising guard-period writes (PostgreSQL)


def _lock_guard_periods() -> None:
    """PostgreSQL: a transaction-scoped advisory lock; SQLite serialises writing transactions
    already (BEGIN IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [GUARD_PERIOD_LOCK])


@transaction.atomic
def guard_period_create(*, name: str, starts_at: dt.datetime, ends_at: dt.datetime, note: str = "") -> GuardPeriod:
    """Add a special-guard period; one that overlaps another is refused (naming it)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("请填写名称。"), code="invalid", details={"name": [_("必填")]})
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ServiceError(_("时间须带时区。"), code="invalid", details={field: [value.isoformat()]})
    if ends_at <= starts_at:
        raise ServiceError(_("结束须晚于开始。"), code="invalid", details={"ends_at": [ends_at.isoformat()]})
    _lock_guard_periods()  # two overlapping periods cannot be added side by side
    clash = (
        GuardPeriod.objects.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)
        .order_by("starts_at")
        .first()
    )
    if clash is not None:
        raise ServiceError(
            _("与保障期「%(name)s」时间重叠。") % {"name": clash.name},
            code="overlap",
            status=409,
            details={"starts_at": [clash.starts_at.isoformat()], "ends_at": [clash.ends_at.isoformat()]},
        )
    period = GuardPeriod.objects.create(name=name[:100], starts_at=starts_at, ends_at=ends_at, note=note)
    audit.record(
        action="guard_period.create",
        obj=period,
        changes=audit.diff({}, audit.snapshot(period, ["name", "starts_at", "ends_at", "note"])),
    )
    return period
