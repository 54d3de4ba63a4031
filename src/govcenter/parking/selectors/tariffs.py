"""Reads of tariff plans and quotes.

Tariff plans are citywide configuration (the municipal price standard), so they carry no
data scope: every holder of ``parking.view_tariffplan`` sees every plan, and quoting a
price reveals nothing about a district's data.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from govcenter.core import calendar as workcal

from ..models import AreaClass, TariffPlan
from ..models.tariff import area_class_plan_code
from ..tariff import SHANGHAI, Quote, Rules, quote


class NoTariffPlanError(LookupError):
    """No active plan covers the area class at the instant asked for."""

    def __init__(self, area_class: int, at: dt.datetime):
        self.area_class = area_class
        self.at = at
        super().__init__(
            f"no active tariff plan for area class {area_class} at {at.astimezone(SHANGHAI).isoformat()}"
            " (run `govcenter seed` to load the Beijing standard)"
        )


def tariff_plan_list() -> QuerySet[TariffPlan]:
    """Every plan version, newest first within each area class."""
    return TariffPlan.objects.select_related("created_by").order_by("area_class", "-valid_from", "-version")


def plan_for(area_class: int, at: dt.datetime) -> TariffPlan:
    """The active plan of ``area_class`` whose ``[valid_from, valid_to)`` contains ``at``.

    Only the area class's own series (``bj-road-class-N``) counts: a named plan (another
    code, priced only where a segment's ``tariff_code`` names it) is never an area class's
    plan. Raises :class:`NoTariffPlanError` when there is none. Publishing keeps active intervals
    of one area class disjoint, so at most one plan matches; should two ever overlap, the
    later ``valid_from`` wins.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    plan = (
        TariffPlan.objects.filter(
            area_class=area_class,
            code=area_class_plan_code(area_class),
            status=TariffPlan.Status.ACTIVE,
            valid_from__lte=at,
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .order_by("-valid_from", "-version")
        .first()
    )
    if plan is None:
        raise NoTariffPlanError(area_class, at)
    return plan


def current_plans(at: dt.datetime) -> dict[int, TariffPlan | None]:
    """``{area class: plan in force at at (or None)}`` for the three classes."""
    result: dict[int, TariffPlan | None] = {}
    for area_class in AreaClass.values:
        try:
            result[area_class] = plan_for(area_class, at)
        except NoTariffPlanError:
            result[area_class] = None
    return result


def holidays_between(start: dt.datetime, end: dt.datetime) -> frozenset[dt.date]:
    """The statutory holidays (法定节假日) among the local dates from start to end: what a plan's
    holiday rule applies to. Ordinary weekends are not holidays here (they are billed as any
    day), nor are 调休 make-up workdays; see :func:`govcenter.core.calendar.is_statutory_holiday`."""
    return workcal.statutory_holidays_between(start, end)


def quote_with_plan(plan: TariffPlan, *, vehicle: str, start: dt.datetime, end: dt.datetime) -> Quote:
    """Price a stay under ``plan``; holidays come from the working calendar when the plan has a
    holiday rule (the engine itself stays pure)."""
    rules = Rules.from_plan(plan)
    holidays: frozenset[dt.date] = frozenset()
    if rules.holiday_rule != TariffPlan.HolidayRule.SAME and end > start:
        holidays = holidays_between(start, end)
    return quote(rules, vehicle=vehicle, start=start, end=end, holidays=holidays)


def tariff_quote(
    *, area_class: int, vehicle: str, start: dt.datetime, end: dt.datetime, at: dt.datetime | None = None
) -> dict:
    """The CLI's and API's answer: ``{"amount_fen", "lines", "plan": {"code", "version"}}``.

    The plan is the one in force at the stay's start (an order runs under the version in
    force when it began), or at ``at`` when given. Raises ``ValueError`` for bad times or
    vehicle, :class:`NoTariffPlanError` when no plan covers that instant.
    """
    for name, value in (("start", start), ("end", end), ("at", at)):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if end < start:
        raise ValueError("end is before start")
    plan = plan_for(area_class, at or start)
    result = quote_with_plan(plan, vehicle=vehicle, start=start, end=end).as_dict()
    result["plan"] = {"code": plan.code, "version": plan.version, "name": plan.name}
    return result
