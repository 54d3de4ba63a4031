"""The bike-share overview (运行总览) at /bikeshare/: the live picture as a page for the Center's staff.

What the page shows, all through the caller's data scope:

* bikes in the live picture per operator and per district (a table, and the district map
  coloured by count — ``static/bikeshare/js/overview.js`` draws it with the vendored ECharts
  from the page's ``json_script`` data; the CSP forbids inline scripts);
* bikes parked outside every parking fence (count and the first :data:`LIST_LIMIT`);
* stale bikes, whose newest report is older than :data:`STALE_AFTER_S` (count and the first
  :data:`LIST_LIMIT`);
* the quotas exceeded now (``selectors.quotas.over_quota`` with the live store);
* yesterday's data-quality score per operator (``quality.daily_quality``), only for callers
  holding ``bikeshare.view_operatorrejection`` as the quality API demands.

Scope of the live picture. The store knows operator codes (operator unit codes) and district
codes, so the caller's scope becomes a :class:`LiveScope`: a bike is visible when its
operator is one the scope covers (operator staff) *or* its district is (a district manager)
— the union, as :meth:`govcenter.core.scope.Scope.q` combines the kinds. The Center sees all,
including bikes of operators that are no unit (``其他``) and bikes outside every district.
Needs ``bikeshare.view_vehicle``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.views.decorators.http import require_GET

from govcenter.analytics.lake.config import lake_root
from govcenter.core.models import District, Unit, UnitKind

from ..live import OUTSIDE_DISTRICTS, PARKED_STATES, BikeState, open_live_state
from ..quality import daily_quality
from ..selectors.quotas import over_quota
from ..selectors.scope import LiveScope, live_scope

logger = logging.getLogger(__name__)

T = "bikeshare/overview/"
PERM = "bikeshare.view_vehicle"
QUALITY_PERM = "bikeshare.view_operatorrejection"
LIST_LIMIT = 50
STALE_AFTER_S = 4 * 3600  # the 4-hour rule: a parked bike reports at least every 4 hours
# Stale bikes are counted by listing them (the port has no stale count); beyond this many the
# count is shown as a lower bound ("至少").
STALE_SCAN_LIMIT = 200_000
OTHER = "__other__"  # the row of bikes whose operator code is no operator unit


def _operator_units() -> list[Unit]:
    return list(Unit.objects.filter(kind=UnitKind.OPERATOR).order_by("code"))


def _counts(live, scope: LiveScope, units: list[Unit], **filters) -> dict[str, dict[str, int]]:
    """Visible bikes per operator code (``OTHER`` for non-unit operators) and district code."""
    result: dict[str, dict[str, int]] = {}
    for unit in units:
        if not (scope.full_operator(unit.code) or scope.districts):
            continue  # nothing of this operator can be visible: not even a row of zeros
        by_district = live.count_by_district(operator=unit.code, **filters)
        result[unit.code] = {d: n for d, n in by_district.items() if scope.sees(unit.code, d)}
    if scope.all or scope.districts:
        # Bikes of operator codes that are no unit: everything minus the units' bikes.
        everyone = live.count_by_district(**filters)
        other: dict[str, int] = {}
        for district, n in everyone.items():
            if not (scope.all or district in scope.districts):
                continue
            known = sum(by_unit.get(district, 0) for by_unit in result.values())
            if n - known > 0:
                other[district] = n - known
        if other:
            result[OTHER] = other
    return result


def _merge(lists: list[list[BikeState]], key, limit: int) -> list[BikeState]:
    seen: dict[str, BikeState] = {}
    for bikes in lists:
        for bike in bikes:
            seen.setdefault(bike.device_id, bike)
    return sorted(seen.values(), key=key)[:limit]


def _outside_list(live, scope: LiveScope) -> list[BikeState]:
    if scope.all:
        return live.parked_outside_fences(limit=LIST_LIMIT)
    parts = [live.parked_outside_fences(operator=op, limit=LIST_LIMIT) for op in sorted(scope.operators)]
    parts += [live.parked_outside_fences(district=d, limit=LIST_LIMIT) for d in sorted(scope.districts)]
    return _merge(parts, lambda b: (b.district, b.device_id), LIST_LIMIT)


def _stale(live, scope: LiveScope, now_ms: int) -> tuple[int, bool, list[BikeState]]:
    """(count, count is a lower bound, the first LIST_LIMIT) of the visible stale bikes."""
    if scope.all:
        bikes = live.stale(STALE_AFTER_S, now_ms, limit=STALE_SCAN_LIMIT)
        capped = len(bikes) >= STALE_SCAN_LIMIT
    elif scope.districts:
        # The port filters stale bikes by operator only: list every one, keep the visible.
        found = live.stale(STALE_AFTER_S, now_ms, limit=STALE_SCAN_LIMIT)
        capped = len(found) >= STALE_SCAN_LIMIT
        bikes = [b for b in found if scope.sees(b.operator, b.district)]
    else:
        parts = [
            live.stale(STALE_AFTER_S, now_ms, operator=op, limit=STALE_SCAN_LIMIT)
            for op in sorted(scope.operators)
        ]
        capped = any(len(p) >= STALE_SCAN_LIMIT for p in parts)
        bikes = sorted((b for p in parts for b in p), key=lambda b: (b.timestamp_ms, b.device_id))
    return len(bikes), capped, bikes[:LIST_LIMIT]


def _bike_row(bike: BikeState, operators: dict[str, str], districts: dict[str, str]) -> dict:
    return {
        "device_id": bike.device_id,
        "vehicle_id": bike.vehicle_id,
        "operator": operators.get(bike.operator, bike.operator),
        "district": districts.get(bike.district) or _g("区外"),  # "" = outside every district
        "state": bike.vehicle_state,
        "reported_at": dt.datetime.fromtimestamp(bike.timestamp_ms / 1000, tz=dt.UTC),
        "lon": round(bike.lon, 6),
        "lat": round(bike.lat, 6),
    }


def _table(counts: dict[str, dict[str, int]], operators: dict[str, str], districts: list[District],
           scope: LiveScope) -> dict:  # fmt: skip
    """Rows per district (columns per operator) and the totals, for the page and the map."""
    columns = [(code, operators.get(code, _g("其他"))) for code in counts if code != OTHER]
    if OTHER in counts:
        columns.append((OTHER, _g("其他")))
    names = [
        (d.code, d.name_zh) for d in districts if scope.all or scope.operators or d.code in scope.districts
    ]
    if any(OUTSIDE_DISTRICTS in c for c in counts.values()):
        names.append((OUTSIDE_DISTRICTS, _g("区外")))
    rows = []
    for code, name in names:
        cells = [counts[op].get(code, 0) for op, _label in columns]
        rows.append({"code": code, "name": name, "cells": cells, "total": sum(cells)})
    totals = [sum(counts[op].values()) for op, _label in columns]
    return {"columns": columns, "rows": rows, "totals": totals, "total": sum(totals)}


def _quality(scope: LiveScope, operators: dict[str, str], now: dt.datetime) -> dict:
    """Yesterday's score per visible operator, or why there is none."""
    day = timezone.localdate(now) - dt.timedelta(days=1)
    codes = None if scope.all else sorted(scope.operators)
    if codes == []:
        return {"day": day, "rows": [], "message": _g("数据范围内没有运营企业。")}
    root = lake_root()
    if not root.exists():
        return {"day": day, "rows": [], "message": _g("数据湖中没有该日数据。")}
    try:
        result = daily_quality(root, day, operator=codes, now=now)["operators"]
    except Exception:  # noqa: BLE001 - the overview must render without the lake
        logger.warning("overview: data quality unavailable", exc_info=True)
        return {"day": day, "rows": [], "message": _g("数据质量暂不可用。")}
    rows = [
        {"operator": code_row["operator"], "name": operators.get(code_row["operator"], code_row["operator"]),
         "score": code_row["score"], "telemetry_points": code_row["telemetry_points"],
         "devices_reporting": code_row["devices_reporting"], "trips": code_row["trips"]}
        for code_row in result
        if code_row["telemetry_points"] or code_row["trips"]
    ]  # fmt: skip
    return {"day": day, "rows": rows, "message": None if rows else _g("数据湖中没有该日数据。")}


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def overview(request):
    """The live picture of the caller's scope (see the module docstring)."""
    now = timezone.now()
    now_ms = int(now.timestamp() * 1000)
    scope = live_scope(request.user)
    units = _operator_units()
    operators = {u.code: u.name_zh for u in units}
    districts = list(District.objects.order_by("sort_order", "code"))
    district_names = {d.code: d.name_zh for d in districts}
    context: dict = {"now": now, "stale_hours": STALE_AFTER_S // 3600, "list_limit": LIST_LIMIT}
    url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "")
    live_error = None
    try:
        if not url:
            raise ValueError("GOVCENTER_BIKESHARE_LIVE_URL is empty")
        with open_live_state(url) as live:
            counts = _counts(live, scope, units)
            outside_counts = _counts(live, scope, units, states=PARKED_STATES, fenced=False)
            outside = _outside_list(live, scope)
            stale_count, stale_capped, stale = _stale(live, scope, now_ms)
            quotas = over_quota(live=live, user=request.user)
    except Exception:  # noqa: BLE001 - show the page with the error rather than a 500
        logger.warning("overview: live state unavailable", exc_info=True)
        live_error = _g("实时车辆数据暂不可用。")
        counts, outside_counts, outside, stale_count, stale_capped, stale = {}, {}, [], 0, False, []
        quotas = over_quota(user=request.user)
    table = _table(counts, operators, districts, scope)
    context.update(
        live_error=live_error,
        table=table,
        outside_count=sum(sum(c.values()) for c in outside_counts.values()),
        outside=[_bike_row(b, operators, district_names) for b in outside],
        stale_count=stale_count,
        stale_capped=stale_capped,
        stale_display=_g("至少 %(n)s") % {"n": stale_count} if stale_capped else stale_count,
        stale=[_bike_row(b, operators, district_names) for b in stale],
        quotas=quotas,
        map_data={
            "districts": {r["code"]: r["total"] for r in table["rows"] if r["code"] != OUTSIDE_DISTRICTS},
            "label": _g("车辆数"),
        },
    )
    if request.user.has_perm(QUALITY_PERM):
        context["quality"] = _quality(scope, operators, now)
    response = render(request, T + "overview.html", context)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [
    path("", overview, name="overview"),
]
