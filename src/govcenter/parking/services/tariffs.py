"""Writes of tariff plans: seeding the Beijing standard and publishing new versions.

A plan is never edited in place once active. A price change is a new version of the same
``code`` (``version + 1``) with a future ``valid_from``; publishing closes the version of
that code in force at that instant by setting its ``valid_to`` to the new ``valid_from`` —
the only field of an active plan that ever changes, so orders keep pricing under the version
they ran under. Every write is audited in its transaction.

Two kinds of plan series (a series is one ``code``): the area class's own plan
(``bj-road-class-N``, the default when no code is given), which prices every segment that
names no plan; and *named* plans (any other code), which price only the segments whose
``tariff_code`` names them. Versions are kept disjoint per code, so publishing a named plan
never closes the area class's plan, nor the other way round.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import AreaClass, TariffPlan
from ..models.tariff import area_class_plan_code
from ..tariff import BEIJING_STANDARD, SHANGHAI, Rules

# 2019-01-01: the day road parking electronic toll collection went citywide in Beijing (the
# price standard itself is older); every order the system holds runs under these versions.
BEIJING_STANDARD_VALID_FROM = dt.datetime(2019, 1, 1, tzinfo=SHANGHAI)
STANDARD_NAMES = {
    1: "北京市道路停车一类地区收费标准",
    2: "北京市道路停车二类地区收费标准",
    3: "北京市道路停车三类地区收费标准",
}
STANDARD_MULTIPLIERS = {"small": 100, "large": 200}

# The fields that make up a plan's rules (what a new version may change).
RULE_FIELDS = (
    "name",
    "day_start",
    "day_end",
    "day_unit_minutes",
    "first_period_units",
    "day_first_unit_fen",
    "day_later_unit_fen",
    "night_unit_minutes",
    "night_unit_fen",
    "grace_minutes",
    "daily_cap_fen",
    "holiday_rule",
    "vehicle_multipliers",
    "notes",
)
AUDIT_FIELDS = ("code", "version", "area_class", "status", "valid_from", "valid_to", *RULE_FIELDS)


def _snapshot(plan: TariffPlan) -> dict:
    return audit.snapshot(plan, list(AUDIT_FIELDS))


def _check_rules(plan: TariffPlan) -> None:
    """Model validation plus the engine's own (a plan the engine cannot price is refused)."""
    try:
        plan.full_clean()
    except ValidationError as exc:
        raise ServiceError(
            "The tariff plan is not valid.",
            code="invalid",
            details={k: [str(m) for m in v] for k, v in exc.message_dict.items()},
        ) from None
    try:
        Rules.from_plan(plan)
    except ValueError as exc:
        raise ServiceError(str(exc), code="invalid", details={"rules": [str(exc)]}) from None
    missing = [v for v in ("small", "large") if v not in (plan.vehicle_multipliers or {})]
    if missing:
        raise ServiceError(
            "Every vehicle class needs a multiplier.",
            code="invalid",
            details={"vehicle_multipliers": [f"missing: {', '.join(missing)}"]},
        )


@transaction.atomic
def tariff_seed_beijing_standard() -> dict[str, int]:
    """Create the Beijing standard (一/二/三类) as version 1 of ``bj-road-class-N``.

    Idempotent: a code that already has any version is left alone (an administrator may have
    published later versions). Each created plan is audited. Returns ``{"created",
    "unchanged"}``; the counts feed ``govcenter seed`` (registered in ``ParkingConfig``).
    """
    counts = {"created": 0, "unchanged": 0}
    for area_class, prices in BEIJING_STANDARD.items():
        code = area_class_plan_code(area_class)
        if TariffPlan.objects.filter(code=code).exists():
            counts["unchanged"] += 1
            continue
        plan = TariffPlan(
            code=code,
            version=1,
            name=STANDARD_NAMES[area_class],
            area_class=area_class,
            status=TariffPlan.Status.ACTIVE,
            valid_from=BEIJING_STANDARD_VALID_FROM,
            day_start=dt.time(7),
            day_end=dt.time(21),
            day_unit_minutes=15,
            first_period_units=4,
            day_first_unit_fen=prices["day_first_fen"],
            day_later_unit_fen=prices["day_later_fen"],
            night_unit_minutes=120,
            night_unit_fen=prices["night_unit_fen"],
            grace_minutes=0,
            daily_cap_fen=None,
            holiday_rule=TariffPlan.HolidayRule.SAME,
            vehicle_multipliers=dict(STANDARD_MULTIPLIERS),
            notes="北京市道路停车电子收费标准（大型车按小型车的 2 倍收费）。",
        )
        _check_rules(plan)
        plan.save()
        audit.record(
            action="parking.tariff_plan.seed", obj=plan, changes={"before": {}, "after": _snapshot(plan)}
        )
        counts["created"] += 1
    return counts


@transaction.atomic
def tariff_plan_publish(
    *,
    actor,
    area_class: int,
    valid_from: dt.datetime,
    code: str | None = None,
    now: dt.datetime | None = None,
    **rules: Any,
) -> TariffPlan:
    """Publish a new active version of a plan series from ``valid_from``.

    ``code`` names the series: by default the area class's own plan (``bj-road-class-N``);
    any other code is a named plan that segments select with their ``tariff_code``.
    ``rules`` are any of :data:`RULE_FIELDS`; the ones not given are copied from the
    version of the same code being replaced (a first version must give its name and
    prices). The new plan gets ``version = max(version of code) + 1``. The version of the
    code in force at ``valid_from`` is closed there (``valid_to``). Refused
    (:class:`ServiceError`, nothing written): ``valid_from`` naive or in the past, an active
    version of the code starting at or after ``valid_from`` (overlap), another class's
    ``bj-road-class-N`` code, a named code already used for another area class, unknown
    fields, rules that do not validate.
    Audited: ``parking.tariff_plan.publish`` with the rule diff against the replaced
    version, and ``parking.tariff_plan.close`` per closed version.
    """
    unknown = sorted(set(rules) - set(RULE_FIELDS))
    if unknown:
        raise ServiceError(
            "Unknown tariff fields.", code="invalid", details={k: ["unknown field"] for k in unknown}
        )
    if area_class not in AreaClass.values:
        raise ServiceError(
            "Unknown area class.",
            code="invalid",
            details={"area_class": [f"expected 1, 2 or 3, got {area_class!r}"]},
        )
    if not isinstance(valid_from, dt.datetime) or valid_from.tzinfo is None:
        raise ServiceError(
            "valid_from must be timezone-aware.", code="invalid", details={"valid_from": ["naive datetime"]}
        )
    now = now or timezone.now()
    if valid_from < now:
        raise ServiceError(
            "A new version cannot take effect in the past.",
            code="valid_from_past",
            details={"valid_from": [f"{valid_from.isoformat()} is before now ({now.isoformat()})"]},
        )
    if code is None:
        code = area_class_plan_code(area_class)
    standard_classes = {area_class_plan_code(c): c for c in AreaClass.values}
    if standard_classes.get(code, area_class) != area_class:
        raise ServiceError(
            "This code is another area class's plan.",
            code="invalid",
            details={"code": [f"{code} belongs to area class {standard_classes[code]}"]},
        )
    other_class = (
        TariffPlan.objects.filter(code=code)
        .exclude(area_class=area_class)
        .values_list("area_class", flat=True)
        .first()
    )
    if other_class is not None:
        raise ServiceError(
            "A plan keeps its area class across versions.",
            code="invalid",
            details={"area_class": [f"{code} is a plan of area class {other_class}"]},
        )
    # Lock the code's active versions: two publishers must not both close the same version.
    active = list(
        TariffPlan.objects.select_for_update()
        .filter(code=code, status=TariffPlan.Status.ACTIVE)
        .order_by("valid_from", "version")
    )
    later = [p for p in active if p.valid_from >= valid_from]
    if later:
        raise ServiceError(
            "Another version of this plan already takes effect at or after this time.",
            code="overlap",
            details={"valid_from": [f"{p.code} v{p.version} from {p.valid_from.isoformat()}" for p in later]},
        )
    open_at = [p for p in active if p.valid_to is None or p.valid_to > valid_from]
    previous = open_at[-1] if open_at else (active[-1] if active else None)
    values = {name: getattr(previous, name) for name in RULE_FIELDS} if previous else {}
    values.update(rules)
    required = [
        f
        for f in ("name", "day_first_unit_fen", "day_later_unit_fen", "night_unit_fen")
        if values.get(f) in (None, "")
    ]
    if required:
        raise ServiceError(
            "A first plan must give its name and prices.",
            code="invalid",
            details={f: ["required"] for f in required},
        )
    values.setdefault("vehicle_multipliers", dict(STANDARD_MULTIPLIERS))
    last_version = TariffPlan.objects.filter(code=code).aggregate(v=Max("version"))["v"] or 0
    plan = TariffPlan(
        code=code,
        version=last_version + 1,
        area_class=area_class,
        status=TariffPlan.Status.ACTIVE,
        valid_from=valid_from,
        created_by=actor if getattr(actor, "pk", None) else None,
        **values,
    )
    _check_rules(plan)
    for old in open_at:
        before = _snapshot(old)
        old.valid_to = valid_from
        old.save(update_fields=["valid_to"])
        audit.record(
            action="parking.tariff_plan.close",
            obj=old,
            changes=audit.diff(before, _snapshot(old)),
            reason=f"superseded by {plan.code} v{plan.version}",
        )
    plan.save()
    before = {name: getattr(previous, name) for name in RULE_FIELDS} if previous else {}
    after = {name: getattr(plan, name) for name in RULE_FIELDS}
    changes = audit.diff(before, after)
    changes["version"] = {
        "code": plan.code,
        "version": plan.version,
        "valid_from": plan.valid_from.isoformat(),
    }
    changes["replaces"] = {"code": previous.code, "version": previous.version} if previous else None
    audit.record(action="parking.tariff_plan.publish", obj=plan, changes=changes)
    return plan
