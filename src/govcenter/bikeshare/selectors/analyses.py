"""The analyses (运行分析) as the API and the pages serve them: ``bikeshare.analyses`` through the
caller's scope, with parameter checks and a short cache. ``api/analyses.py`` maps them to
``/api/v1/bikeshare/analyses/`` (``bikeshare.view_vehicle``); ``views/analyses.py`` to the pages:

* ``rides/{hour|day|week|month|peaks}?first=&last=&by_district=`` — rides per operator (and
  district), Beijing dates inclusive; ``month`` carries month-on-month and year-on-year;
* ``heatmap?start=&end=&resolution=&points=`` — points per H3 cell (GCJ-02) with each
  cell's boundary; ``trajectory?start=&end=&device_id=|vehicle_id=`` — one bike's positions;
* ``operations?first=&last=`` — fleet seen, active bikes, rides, turnover, utilisation per
  operator and day; ``idle?as_of=&days=`` — bikes seen but not ridden for ``days`` days;
* ``stations?first=&last=&threshold=`` — rail-station areas: flows per hour, daily tidal
  imbalance, accumulation alerts at the peaks;
* ``distribution`` — bikes in the live picture per operator and district against the
  quotas in force (``selectors.quotas.quota_usage``).

Instants without a zone and dates are Beijing time (Asia/Shanghai). Bad parameters: 400
``{"code", "message", "details"}``.

Scope (the :class:`~govcenter.bikeshare.selectors.scope.LiveScope` of the overview: operator
codes and district codes). The Center sees everything. Operator staff: the lake's tables
are filtered to their operators *before* any analysis runs (:class:`ScopedBackend`), so no
other operator's ride, bike or flow reaches a number. District staff: results that carry a
district (rides by district) keep their districts' rows; the heat map keeps the cells whose
centre lies in their districts, a trajectory its points inside them, stations those whose
centre does; the per-operator operations metrics (city-wide by nature) are not shown to a
district-only scope.

Results are cached for :data:`CACHE_SECONDS` under a key made of the analysis, the scope
and the parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pyarrow as pa
from django.conf import settings
from django.core.cache import cache
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from govcenter.analytics.engine import connect
from govcenter.analytics.lake.config import lake_root
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit, UnitKind

from .. import analyses as an
from .. import rollups
from ..live import open_live_state
from ..selectors.quotas import quota_usage
from ..selectors.scope import LiveScope, live_scope

BEIJING = ZoneInfo("Asia/Shanghai")
PERM = "bikeshare.view_vehicle"
CACHE_SECONDS = 120
MAX_DAYS = {"hour": 31, "day": 92, "week": 184, "month": 731, "peaks": 92}
MAX_OPERATIONS_DAYS = 92
MAX_IDLE_DAYS = 90
MAX_STATION_DAYS = 31
MAX_HEATMAP_HOURS = 7 * 24
MAX_TRAJECTORY_HOURS = 48
RESOLUTIONS = range(6, 11)  # H3 resolutions offered (≈36 km² … ≈0.015 km² per cell)
DEFAULT_RESOLUTION = 8
MAX_CELLS = 5000
MAX_TRAJECTORY_POINTS = 5000
MAX_IDLE_LIST = 500
RIDE_KINDS = ("hour", "day", "week", "month", "peaks")


# -- parameters -------------------------------------------------------------------------------


def bad(message: str, code: str, **details) -> ServiceError:
    return ServiceError(message, code=code, details={k: [str(v)] for k, v in details.items()})


def parse_day(value, name: str, default: dt.date | None = None) -> dt.date:
    if value in (None, ""):
        if default is None:
            raise bad(_("缺少参数 %(name)s。") % {"name": name}, "missing_parameter", **{name: "required"})
        return default
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        day = parse_date(str(value))
    except ValueError:
        day = None
    if day is None:
        raise bad(_("%(name)s 须为日期（YYYY-MM-DD）。") % {"name": name}, "bad_date", **{name: value})
    return day


def parse_instant(value, name: str, default: dt.datetime | None = None) -> dt.datetime:
    """An ISO date-time (Beijing time when it names no zone), or a date (its 00:00 Beijing)."""
    if value in (None, ""):
        if default is None:
            raise bad(_("缺少参数 %(name)s。") % {"name": name}, "missing_parameter", **{name: "required"})
        return default
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = parse_datetime(str(value))
            if moment is None:
                day = parse_date(str(value))
                moment = None if day is None else dt.datetime.combine(day, dt.time.min)
        except ValueError:
            moment = None
    if moment is None:
        raise bad(_("%(name)s 须为日期时间（ISO 8601）。") % {"name": name}, "bad_datetime", **{name: value})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.replace(microsecond=0)


def day_range(params, max_days: int, *, default_days: int = 7) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(BEIJING).date()
    last = parse_day(params.get("last"), "last", today - dt.timedelta(days=1))
    first = parse_day(params.get("first"), "first", last - dt.timedelta(days=default_days - 1))
    if first > last:
        raise bad(_("开始日期晚于结束日期。"), "bad_period", first=first, last=last)
    if (last - first).days + 1 > max_days:
        raise bad(
            _("日期范围不能超过 %(n)d 天。") % {"n": max_days}, "period_too_long", first=first, last=last
        )
    return first, last


def window(params, max_hours: int, *, default_hours: int = 24) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(BEIJING).replace(minute=0, second=0, microsecond=0)
    end = parse_instant(params.get("end"), "end", now)
    start = parse_instant(params.get("start"), "start", end - dt.timedelta(hours=default_hours))
    if not start < end:
        raise bad(_("开始时间须早于结束时间。"), "bad_window", start=start.isoformat(), end=end.isoformat())
    if end - start > dt.timedelta(hours=max_hours):
        raise bad(
            _("时间窗口不能超过 %(n)d 小时。") % {"n": max_hours},
            "window_too_long",
            start=start.isoformat(),
            end=end.isoformat(),
        )
    return start, end


def parse_int(params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise bad(
            _("%(name)s 须为 %(low)d～%(high)d 之间的整数。") % {"name": name, "low": low, "high": high},
            "bad_" + name,
            **{name: value},
        )
    return number


def parse_bool(params, name: str) -> bool:
    return str(params.get(name, "")).lower() in ("1", "true", "yes", "on")


def day_window(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The Beijing days ``first``…``last`` as a half-open window."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=BEIJING)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=BEIJING)


# -- scope and running ----------------------------------------------------------------------


class ScopedBackend:
    """An Ibis backend whose lake tables hold only the given operators' rows.

    The analyses only call ``con.table(name)`` and read ``con.name``; everything else is
    passed through. ``operators=None``: no filter.
    """

    def __init__(self, con, operators: frozenset[str] | None):
        self._con = con
        self._operators = None if operators is None else sorted(operators)

    @property
    def name(self):
        return self._con.name

    def table(self, name: str):
        table = self._con.table(name)
        if self._operators is not None and "operator" in table.columns:
            table = table.filter(table.operator.isin(self._operators))
        return table

    def __getattr__(self, attr):
        return getattr(self._con, attr)


def source_operators(scope: LiveScope) -> frozenset[str] | None:
    """The operators to filter the lake to (None: no source filter; district rows filter later)."""
    if scope.all or scope.districts:
        return None
    return scope.operators


def scope_key(scope: LiveScope) -> str:
    return (
        "all" if scope.all else f"o={','.join(sorted(scope.operators))};d={','.join(sorted(scope.districts))}"
    )


def sees_nothing(scope: LiveScope) -> bool:
    return not (scope.all or scope.operators or scope.districts)


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(BEIJING).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def plain_rows(table: pa.Table) -> list[dict]:
    """JSON-ready rows: dates ISO, instants Beijing ISO, NaN as null."""
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def cached(kind: str, scope: LiveScope, params: dict, compute):
    root = lake_root()
    raw = json.dumps([kind, scope_key(scope), str(root), params], sort_keys=True, default=str)
    key = "bikeshare:analyses:" + hashlib.sha256(raw.encode()).hexdigest()
    hit = cache.get(key)
    if hit is not None:
        return hit
    result = compute(root)
    cache.set(key, result, CACHE_SECONDS)
    return result


def _run(scope: LiveScope, root, build) -> pa.Table:
    con = connect("duckdb", root)
    try:
        return an.run(build(ScopedBackend(con, source_operators(scope))))
    finally:
        con.disconnect()


def _visible(rows: list[dict], scope: LiveScope) -> list[dict]:
    if scope.all:
        return rows
    return [r for r in rows if scope.sees(r.get("operator", ""), r.get("district", an.OUTSIDE))]


def _operator_rows(rows: list[dict], scope: LiveScope) -> list[dict]:
    """Rows of operator-level results: the caller's operators only (all for the Center)."""
    return rows if scope.all else [r for r in rows if r["operator"] in scope.operators]


# -- (1) rides ------------------------------------------------------------------------------


def _iso_week(day: str) -> str:
    year, week, _weekday = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def rides(scope: LiveScope, kind: str, first: dt.date, last: dt.date, by_district: bool) -> dict:
    """Rides per operator (and district) for ``kind`` in hour, day, week, month, peaks."""
    if kind not in RIDE_KINDS:
        raise bad(_("未知的统计粒度。"), "bad_kind", kind=kind)
    if sees_nothing(scope):
        return {"rows": [], "by_district": by_district}
    by_district = by_district or (not scope.all and bool(scope.districts))

    def compute(root):
        # The hourly rows by district, from the rollups where they are current (exactly
        # ``an.rides_by_hour(by_district=True)``); the other granularities derive from them.
        table, _how = rollups.rides_hourly(root, first, last, operators=source_operators(scope))
        if not by_district:
            table = (
                table.group_by(["operator", "date", "hour"])
                .aggregate([("rides", "sum")])
                .rename_columns(["operator", "date", "hour", "rides"])
                .sort_by([("operator", "ascending"), ("date", "ascending"), ("hour", "ascending")])
            )
        if kind in ("day", "week"):
            table = an.run(an.daily_from_hourly(ibis.memtable(table)))
        elif kind == "month":
            table = an.run(an.monthly_from_daily(an.daily_from_hourly(ibis.memtable(table))))
        rows = _visible(plain_rows(table), scope)
        if kind == "peaks":
            kept = pa.Table.from_pylist(
                [{**r, "date": dt.date.fromisoformat(r["date"])} for r in rows], schema=table.schema
            )
            rows = plain_rows(an.run(an.peak_hours(ibis.memtable(kept))))
        elif kind == "week":
            keys = ["operator", "district"] if by_district else ["operator"]
            weeks: dict[tuple, dict] = {}
            for r in rows:
                key = (*(r[k] for k in keys), _iso_week(r["date"]))
                entry = weeks.setdefault(
                    key, {**{k: r[k] for k in keys}, "week": key[-1], "days": 0, "rides": 0}
                )
                entry["days"] += 1
                entry["rides"] += r["rides"]
            rows = [weeks[k] for k in sorted(weeks)]
        return {"rows": rows, "by_district": by_district}

    params = {"kind": kind, "first": first, "last": last, "by_district": by_district}
    return cached("rides", scope, params, compute)


# -- (2) heat map and trajectory ------------------------------------------------------------


def cell_boundary(cell: str) -> list[list[float]]:
    """A cell's boundary as [[lon, lat], …] (closed), in the heat map's datum (GCJ-02)."""
    import h3

    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]]


def _cell_districts(cells: list[str]) -> list[str]:
    import h3

    centres = [h3.cell_to_latlng(c) for c in cells]
    lon = np.array([c[1] for c in centres], dtype=np.float64)
    lat = np.array([c[0] for c in centres], dtype=np.float64)
    return an.district_codes(lon, lat).tolist()


def heatmap(scope: LiveScope, start, end, resolution: int, points: str) -> dict:
    if points not in an.POINT_SOURCES:
        raise bad(
            _("points 须为 %(v)s 之一。") % {"v": ", ".join(an.POINT_SOURCES)}, "bad_points", points=points
        )
    if resolution not in RESOLUTIONS:
        raise bad(
            _("分辨率须为 %(low)d～%(high)d。") % {"low": RESOLUTIONS[0], "high": RESOLUTIONS[-1]},
            "bad_resolution",
            resolution=resolution,
        )
    if sees_nothing(scope):
        return {"rows": [], "truncated": False, "datum": an.HEATMAP_DATUM.value}

    def compute(root):
        table = _run(scope, root, lambda c: an.heatmap(c, start, end, resolution=resolution, points=points))
        rows = plain_rows(table)
        if not scope.all and scope.districts:
            codes = _cell_districts([r["cell"] for r in rows]) if rows else []
            rows = [r for r, code in zip(rows, codes, strict=True) if code in scope.districts]
        truncated = len(rows) > MAX_CELLS
        rows = rows[:MAX_CELLS]
        for r in rows:
            r["boundary"] = cell_boundary(r["cell"])
        return {"rows": rows, "truncated": truncated, "datum": an.HEATMAP_DATUM.value}

    params = {"start": start, "end": end, "resolution": resolution, "points": points}
    return cached("heatmap", scope, params, compute)


def trajectory(scope: LiveScope, start, end, device_id: str | None, vehicle_id: str | None) -> dict:
    device_id = (device_id or "").strip() or None
    vehicle_id = (vehicle_id or "").strip() or None
    if (device_id is None) == (vehicle_id is None):
        raise bad(
            _("请给出设备编号或车辆编号之一。"), "bad_vehicle", device_id=device_id, vehicle_id=vehicle_id
        )
    if sees_nothing(scope):
        return {"rows": [], "truncated": False, "datum": an.HEATMAP_DATUM.value}

    def compute(root):
        table = _run(
            scope, root, lambda c: an.trajectory(c, start, end, device_id=device_id, vehicle_id=vehicle_id)
        )
        rows = plain_rows(table)
        if not scope.all and scope.districts and rows:
            codes = an.district_codes(
                np.array([r["lon"] for r in rows]), np.array([r["lat"] for r in rows])
            ).tolist()
            rows = [r for r, code in zip(rows, codes, strict=True) if scope.sees(r["operator"], code)]
        truncated = len(rows) > MAX_TRAJECTORY_POINTS
        return {"rows": rows[:MAX_TRAJECTORY_POINTS], "truncated": truncated, "datum": an.HEATMAP_DATUM.value}

    params = {"start": start, "end": end, "device_id": device_id, "vehicle_id": vehicle_id}
    return cached("trajectory", scope, params, compute)


# -- (3) operations -------------------------------------------------------------------------


def operations(scope: LiveScope, first: dt.date, last: dt.date) -> dict:
    """Per operator and day: fleet seen, active bikes, rides, turnover, utilisation; rebalancing moves."""
    if not (scope.all or scope.operators):
        return {"rows": [], "totals": [], "operator_level": False}

    def compute(root):
        rows = _operator_rows(
            plain_rows(_run(scope, root, lambda c: an.operator_daily(c, first, last))), scope
        )
        moves = _operator_rows(plain_rows(_run(scope, root, lambda c: an.rebalancing(c, first, last))), scope)
        moved: dict[str, dict] = defaultdict(lambda: {"moves": 0, "bikes_moved": 0, "moved_km": 0.0})
        for m in moves:
            for k in ("moves", "bikes_moved", "moved_km"):
                moved[m["operator"]][k] += m[k]
        per: dict[str, dict] = defaultdict(
            lambda: {"days": 0, "fleet_seen": 0, "active_vehicles": 0, "rides": 0}
        )
        for r in rows:
            t = per[r["operator"]]
            t["days"] += 1
            for k in ("fleet_seen", "active_vehicles", "rides"):
                t[k] += r[k]
        totals = []
        for op in sorted(per):
            t = per[op]
            totals.append({
                "operator": op,
                "days": t["days"],
                "fleet_seen_avg": t["fleet_seen"] / t["days"],
                "active_vehicles_avg": t["active_vehicles"] / t["days"],
                "rides": t["rides"],
                "turnover": t["rides"] / t["active_vehicles"] if t["active_vehicles"] else 0.0,
                "rides_per_bike_day": t["rides"] / t["fleet_seen"] if t["fleet_seen"] else 0.0,
                "utilisation": t["active_vehicles"] / t["fleet_seen"] if t["fleet_seen"] else 0.0,
                # 调度: bikes moved without a ride (a ride starting > 200 m from the last end)
                **moved[op],
            })  # fmt: skip
        return {"rows": rows, "totals": totals, "rebalancing": moves, "operator_level": True}

    return cached("operations", scope, {"first": first, "last": last}, compute)


def idle(scope: LiveScope, as_of: dt.date, days: int) -> dict:
    """Bikes seen but not ridden in the ``days`` days up to ``as_of``: counts and the first ones."""
    if not (scope.all or scope.operators):
        return {"counts": [], "rows": [], "truncated": False, "operator_level": False}

    def compute(root):
        vehicles = _operator_rows(
            plain_rows(_run(scope, root, lambda c: an.idle_vehicles(c, as_of, days))), scope
        )
        counts: dict[str, int] = defaultdict(int)
        for r in vehicles:
            counts[r["operator"]] += 1
        return {
            "counts": [{"operator": op, "idle": counts[op]} for op in sorted(counts)],
            "rows": vehicles[:MAX_IDLE_LIST],
            "truncated": len(vehicles) > MAX_IDLE_LIST,
            "operator_level": True,
        }

    return cached("idle", scope, {"as_of": as_of, "days": days}, compute)


# -- (7) rail stations ----------------------------------------------------------------------


def _stations(scope: LiveScope) -> pa.Table:
    areas = an.station_areas()
    if scope.all or not scope.districts:
        return areas
    codes = an.district_codes(areas["lon"].to_numpy(), areas["lat"].to_numpy())
    keep = pa.array([c in scope.districts for c in codes.tolist()], type=pa.bool_())
    return areas.filter(keep)


def stations(scope: LiveScope, first: dt.date, last: dt.date, threshold: int) -> dict:
    """Flows per station area and hour, the daily tidal imbalance, accumulation alerts."""
    if sees_nothing(scope):
        return {"flows": [], "imbalance": [], "alerts": [], "stations": 0, "by_hour": []}
    start, end = day_window(first, last)

    def compute(root):
        areas = _stations(scope)
        if not areas.num_rows:
            return {"flows": [], "imbalance": [], "alerts": [], "stations": 0, "by_hour": []}
        # Exactly ``an.station_flows`` over the window, from the rollups where they are current.
        table, _how = rollups.station_hourly(root, start, end, areas, operators=source_operators(scope))
        flows = ibis.memtable(table)
        flow_rows = plain_rows(table)
        imbalance = plain_rows(an.run(an.station_imbalance(flows)))
        alerts = plain_rows(an.run(an.accumulation_alerts(flows, threshold=threshold)))
        by_hour = [{"hour": h, "arrivals": 0, "departures": 0} for h in range(24)]
        for r in flow_rows:
            by_hour[r["hour"]]["arrivals"] += r["arrivals"]
            by_hour[r["hour"]]["departures"] += r["departures"]
        return {"flows": flow_rows, "imbalance": imbalance, "alerts": alerts, "stations": areas.num_rows,
                "by_hour": by_hour}  # fmt: skip

    return cached("stations", scope, {"first": first, "last": last, "threshold": threshold}, compute)


# -- (5) distribution against quotas --------------------------------------------------------


def distribution(user) -> dict:
    """Live bikes per visible operator and district, and every quota in force with its usage."""
    scope = live_scope(user)
    url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "")
    counts: list[dict] = []
    live_error = None
    try:
        if not url:
            raise ValueError("GOVCENTER_BIKESHARE_LIVE_URL is empty")
        with open_live_state(url) as live:
            # Every operator's bikes per district in one pass of the store, shared with the
            # quota usage (which would otherwise count them all again).
            by_operator_district = live.count_by_operator_district()
        for unit in Unit.objects.filter(kind=UnitKind.OPERATOR).order_by("code"):
            if not (scope.full_operator(unit.code) or scope.districts):
                continue
            mine = sorted((d, n) for (op, d), n in by_operator_district.items() if op == unit.code)
            for district, n in mine:
                if scope.sees(unit.code, district):
                    counts.append({"operator": unit.code, "district": district, "live": n})
        usage = quota_usage(user=user, live_counts=by_operator_district)
    except Exception as exc:  # noqa: BLE001 - the quotas are still worth showing
        live_error = str(exc)[:200]
        usage = quota_usage(user=user)
    return {"live": counts, "quotas": [u.as_dict() for u in usage], "live_error": live_error}
