"""Analysis pages (运行分析) under /bikeshare/analyses/: the lake's analyses as tables and charts.

* ``analyses/rides/`` — rides per day, ISO week and month (month-on-month, year-on-year),
  the hourly profile and each day's peak hour, per operator (and district);
* ``analyses/map/`` — the H3 heat map of a time window over the district map, and one
  bike's trajectory with a time slider and a play button;
* ``analyses/operations/`` — fleet seen, active bikes, turnover, utilisation, idle bikes;
* ``analyses/stations/`` — rail-station areas: arrivals and departures by hour, tidal
  imbalance, accumulation alerts at the peaks.

Every number comes from :mod:`govcenter.bikeshare.selectors.analyses` (the same functions as the
JSON API), so the pages and the API agree and share the caller's scope. Bad parameters are
shown as a message above an empty result; an empty lake gives an empty state. Charts are
drawn by ``static/bikeshare/js/analyses.js`` / ``analyses-map.js`` (vendored ECharts) from
the page's ``json_script`` data. Needs ``bikeshare.view_vehicle``.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _g
from django.views.decorators.http import require_GET

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit, UnitKind

from ..selectors import analyses as api

T = "bikeshare/analyses/"


def _names() -> tuple[dict[str, str], dict[str, str]]:
    operators = dict(Unit.objects.filter(kind=UnitKind.OPERATOR).values_list("code", "name_zh"))
    districts = dict(District.objects.values_list("code", "name_zh"))
    return operators, districts


def _label(rows: list[dict], operators: dict[str, str], districts: dict[str, str]) -> list[dict]:
    for r in rows:
        if "operator" in r:
            r["operator_name"] = operators.get(r["operator"], r["operator"])
        if "district" in r:
            r["district_name"] = districts.get(r["district"]) or _g("区外")
    return rows


def _render(request, template: str, context: dict):
    response = render(request, T + template, context)
    response["Cache-Control"] = "no-store"
    return response


def _series(rows: list[dict], x: str, value: str, names: dict[str, str], categories=None) -> dict:
    """Chart data: one series per operator over the sorted ``x`` values."""
    per: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per[r["operator"]][r[x]] += r[value] or 0
    cats = categories if categories is not None else sorted({r[x] for r in rows})
    return {
        "categories": [str(c) for c in cats],
        "series": [
            {"name": names.get(op, op), "data": [per[op].get(c, 0) for c in cats]} for op in sorted(per)
        ],
    }


@login_required
@permission_required(api.PERM, raise_exception=True)
@require_GET
def rides_page(request):
    scope = api.live_scope(request.user)
    operators, districts = _names()
    params = request.GET
    by_district = api.parse_bool(params, "by_district")
    context: dict = {"params": params, "by_district": by_district, "error": None}
    try:
        first, last = api.day_range(params, api.MAX_DAYS["month"])  # YoY needs 13 months
        context.update(first=first, last=last)
        daily = api.rides(scope, "day", first, last, by_district)
        weekly = api.rides(scope, "week", first, last, by_district)
        monthly = api.rides(scope, "month", first, last, by_district)
        peaks = api.rides(scope, "peaks", first, last, by_district) if (last - first).days < 31 else None
        hourly = api.rides(scope, "hour", first, last, False) if (last - first).days < 31 else None
    except ServiceError as exc:
        context["error"] = str(exc.detail)
        return _render(request, "rides.html", context)
    by_district = daily["by_district"]
    context.update(
        by_district=by_district,
        daily=_label(daily["rows"], operators, districts),
        weekly=_label(weekly["rows"], operators, districts),
        monthly=_label(monthly["rows"], operators, districts),
        peaks=_label(peaks["rows"], operators, districts) if peaks else None,
        total=sum(r["rides"] for r in daily["rows"]),
        charts={
            "daily": {"kind": "line", **_series(daily["rows"], "date", "rides", operators)},
            "hourly": (
                {"kind": "bar", **_series(hourly["rows"], "hour", "rides", operators, list(range(24)))}
                if hourly
                else None
            ),
        },
    )
    return _render(request, "rides.html", context)


@login_required
@permission_required(api.PERM, raise_exception=True)
@require_GET
def map_page(request):
    scope = api.live_scope(request.user)
    params = request.GET
    context: dict = {
        "params": params,
        "resolutions": list(api.RESOLUTIONS),
        "point_sources": [
            ("telemetry", _g("全部位置")),
            ("trip_starts", _g("订单起点")),
            ("trip_ends", _g("订单终点")),
        ],
        "error": None,
        "trajectory_error": None,
        "max_hours": api.MAX_HEATMAP_HOURS,
    }
    data: dict = {"cells": [], "track": []}
    try:
        start, end = api.window(params, api.MAX_HEATMAP_HOURS)
        resolution = api.parse_int(params, "resolution", api.DEFAULT_RESOLUTION, 0, 15)
        points = params.get("points") or "telemetry"
        context.update(start=start, end=end, resolution=resolution, points=points)
        heat = api.heatmap(scope, start, end, resolution, points)
        data["cells"] = [{"cell": r["cell"], "value": r["points"], "vehicles": r["vehicles"],
                          "boundary": r["boundary"]} for r in heat["rows"]]  # fmt: skip
        context.update(cells=len(heat["rows"]), truncated=heat["truncated"],
                       points_total=sum(r["points"] for r in heat["rows"]))  # fmt: skip
    except ServiceError as exc:
        context["error"] = str(exc.detail)
    if params.get("device_id") or params.get("vehicle_id"):
        try:
            t_start = api.parse_instant(params.get("t_start"), "t_start", context.get("start"))
            t_end = api.parse_instant(params.get("t_end"), "t_end", context.get("end"))
            if not t_start < t_end or (t_end - t_start).total_seconds() > api.MAX_TRAJECTORY_HOURS * 3600:
                raise api.bad(
                    _g("轨迹时间窗口须为正且不超过 %(n)d 小时。") % {"n": api.MAX_TRAJECTORY_HOURS},
                    "bad_window",
                )
            track = api.trajectory(scope, t_start, t_end, params.get("device_id"), params.get("vehicle_id"))
            data["track"] = [{"t": r["timestamp"], "lon": r["lon"], "lat": r["lat"], "trip": r["trip_id"]}
                             for r in track["rows"]]  # fmt: skip
            context.update(track_points=len(track["rows"]), track_asked=True)
        except ServiceError as exc:
            context["trajectory_error"] = str(exc.detail)
    context["map_data"] = data
    return _render(request, "map.html", context)


@login_required
@permission_required(api.PERM, raise_exception=True)
@require_GET
def operations_page(request):
    scope = api.live_scope(request.user)
    operators, districts = _names()
    params = request.GET
    context: dict = {"params": params, "error": None, "max_idle_days": api.MAX_IDLE_DAYS}
    try:
        first, last = api.day_range(params, api.MAX_OPERATIONS_DAYS)
        idle_days = api.parse_int(params, "idle_days", 3, 1, api.MAX_IDLE_DAYS)
        context.update(first=first, last=last, idle_days=idle_days)
        ops = api.operations(scope, first, last)
        idle = api.idle(scope, last, idle_days)
    except ServiceError as exc:
        context["error"] = str(exc.detail)
        return _render(request, "operations.html", context)
    for t in ops["totals"]:
        t["utilisation_pct"] = round(t["utilisation"] * 100, 1)
    for r in ops["rows"]:
        r["utilisation_pct"] = round(r["utilisation"] * 100, 1)
    context.update(
        operator_level=ops["operator_level"],
        rows=_label(ops["rows"], operators, districts),
        totals=_label(ops["totals"], operators, districts),
        idle_counts=_label(idle["counts"], operators, districts),
        idle_rows=_label(idle["rows"], operators, districts),
        idle_truncated=idle["truncated"],
        charts={"turnover": {"kind": "line", **_series(ops["rows"], "date", "turnover", operators)},
                "active": {"kind": "bar", **_series(ops["rows"], "date", "active_vehicles", operators)}},
    )  # fmt: skip
    return _render(request, "operations.html", context)


@login_required
@permission_required(api.PERM, raise_exception=True)
@require_GET
def stations_page(request):
    scope = api.live_scope(request.user)
    params = request.GET
    context: dict = {"params": params, "error": None}
    try:
        first, last = api.day_range(params, api.MAX_STATION_DAYS, default_days=1)
        threshold = api.parse_int(params, "threshold", 10, 0, 100_000)
        context.update(first=first, last=last, threshold=threshold)
        result = api.stations(scope, first, last, threshold)
    except ServiceError as exc:
        context["error"] = str(exc.detail)
        return _render(request, "stations.html", context)
    per: dict[str, dict] = {}
    for r in result["imbalance"]:
        s = per.setdefault(r["station_id"], {"station_id": r["station_id"], "station": r["station"],
                                             "arrivals": 0, "departures": 0, "net": 0, "morning_net": 0,
                                             "evening_net": 0})  # fmt: skip
        for k in ("arrivals", "departures", "net", "morning_net", "evening_net"):
            s[k] += r[k]
    imbalance = sorted(per.values(), key=lambda s: (-abs(s["net"]), s["station_id"]))
    hours = result["by_hour"]
    context.update(
        stations=result["stations"],
        imbalance=imbalance,
        alerts=result["alerts"],
        charts={"flows": {"kind": "bar", "categories": [str(h["hour"]) for h in hours], "series": [
            {"name": _g("到达"), "data": [h["arrivals"] for h in hours]},
            {"name": _g("出发"), "data": [h["departures"] for h in hours]},
        ]} if result["flows"] else None},
    )  # fmt: skip
    return _render(request, "stations.html", context)


urlpatterns: list = [
    path("analyses/rides/", rides_page, name="analyses_rides"),
    path("analyses/map/", map_page, name="analyses_map"),
    path("analyses/operations/", operations_page, name="analyses_operations"),
    path("analyses/stations/", stations_page, name="analyses_stations"),
]
