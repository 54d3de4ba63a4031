"""临时数据统计 (statistic 10) — the ad-hoc query builder over the lake's parking facts.

A query is a JSON *spec*, checked against a whitelist before any SQL is written::

    {"source": "orders",                       # SOURCES (one entry per data set)
     "measures": ["orders", "paid_fen"],         # the source's measures
     "dimensions": ["district", "hour"],         # at most MAX_DIMENSIONS of DIMENSIONS
     "window": {"start": "2026-11-01", "end": "2026-11-30"},   # ≤ 366 days
     "filters": {"district": 3, "area_class": 1, "vehicle_class": "small",
                 "hours": [18, 24], "weekdays": [5, 6], "pay_channels": ["wechat"]},
     "area": {"kind": "polygon", "polygon": {GeoJSON Polygon, GCJ-02}}
           | {"kind": "segments", "codes": ["DC-R001-S01", …]}
           | {"kind": "saved", "id": 7},
     "sort": {"by": "orders", "desc": true}}

The SQL is built only from whitelist fragments (the sources' views and measure SQL — the
measures are those of ``stats2/orders.py`` ``MEASURES`` and of the payments statistic, imported,
one definition each — and the dimension expressions below) and ``?`` parameters. The caller's
scope, the window and the common filters come from :func:`.common.parse_query` and
:func:`.common.where_sql`, exactly as every other statistic.

Areas resolve to segments: a drawn polygon (closed ring, at most ``MAX_VERTICES`` vertices,
inside Beijing's district boundaries) → the segments with a space inside it (or, for a
segment without spaces, whose geometry meets it) → ``segment_id IN (…)``.

Bad input is a 400 ``{"code","message","details"}`` (codes listed in ``docs/parking-statistics.md``);
a result with more than ``page_limit`` rows is 400 ``too_large`` (details: rows, limit, and the
export offer); a query running longer than ``GOVCENTER_PARKING_QUERY_TIMEOUT_S`` is interrupted
(DuckDB has no statement timeout: a timer thread calls ``con.interrupt()``) → 503
``query_timeout`` with the same offer of a background export.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
import shapely
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import Datum, to_gcj02
from govcenter.core.models import District

from ..models import Road, Segment, Space
from ..models.tariff import AreaClass, VehicleClass
from . import common
from .framework import Measure, mean, window_tokens
from .lake import connection
from .orders import DAY_START_HOUR, DURATION_BUCKETS, MEASURES, NIGHT_START_HOUR
from .payments import CHANNELS, PAYMENTS

PAGE_LIMIT = 5000  # rows a page / the API answer shows; more → too_large + background export
EXPORT_LIMIT = 1_000_000  # rows a background export writes
MAX_DIMENSIONS = 3
MAX_MEASURES = 20
MAX_VERTICES = 500
MAX_SEGMENT_CODES = 5000
SPEC_KEYS = ("source", "measures", "dimensions", "window", "filters", "area", "sort")
FILTER_KEYS = (
    "district",
    "road",
    "segment",
    "area_class",
    "vehicle_class",
    "hours",
    "weekdays",
    "pay_channels",
)
WEEKDAYS = {
    1: _lazy("周一"),
    2: _lazy("周二"),
    3: _lazy("周三"),
    4: _lazy("周四"),
    5: _lazy("周五"),
    6: _lazy("周六"),
    7: _lazy("周日"),
}


# ------------------------------------------------------------------ the whitelist


@dataclass(frozen=True)
class Dimension:
    key: str
    label: Any
    # May use {time} (the source's time column), {date} (its date column), {channel} and the
    # window tokens ({as_of} …) of .framework.
    sql: str
    kind: str = "value"  # district | road | segment | area_class | … (how to label values)
    labels: Any = None  # a source's own dimension: value → label (dict or callable), as a Breakdown's


@dataclass(frozen=True)
class Source:
    """A lake data set the builder can query (one entry of :data:`SOURCES`)."""

    key: str
    label: Any
    view: str
    measures: tuple[Measure, ...]
    dimensions: tuple[str, ...]
    filters: tuple[str, ...]  # of common.ALL_FILTERS (passed to parse_query)
    extra_filters: tuple[str, ...]  # hours, weekdays, pay_channels
    time_col: str
    base: str | None = None
    date_col: str = "date"
    channel_col: str | None = None
    # A richer view used only when a chosen measure needs it (e.g. the refunds join).
    extended_view: str | None = None
    extended: frozenset = frozenset()
    datasets: tuple[str, ...] = ()
    # Dimensions of this source alone (a statistic's breakdowns: category, stage …), by key.
    own_dimensions: tuple[Dimension, ...] = ()
    area: bool = True  # its rows carry segment_id (an area filter applies)

    def measure(self, key: str) -> Measure:
        return next(m for m in self.measures if m.key == key)

    def dimension(self, key: str) -> Dimension:
        return next((d for d in self.own_dimensions if d.key == key), None) or DIMENSIONS[key]

    @property
    def measure_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.measures)


_DURATION_SQL = (
    "CASE WHEN duration_s IS NULL THEN 'open' "
    + " ".join(
        f"WHEN duration_s < {hi * 60} THEN '{label}'" for label, _lo, hi in DURATION_BUCKETS if hi is not None
    )
    + f" ELSE '{DURATION_BUCKETS[-1][0]}' END"
)

DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("district", _lazy("所属区"), "district_id", "district"),
        Dimension("road", _lazy("道路"), "road_id", "road"),
        Dimension("segment", _lazy("路段"), "segment_id", "segment"),
        Dimension("area_class", _lazy("地区类别"), "area_class", "area_class"),
        Dimension("vehicle_class", _lazy("车型"), "vehicle_class", "vehicle_class"),
        Dimension("date", _lazy("日期"), "{date}", "date"),
        Dimension("week", _lazy("周"), "date_trunc('week', {date})", "week"),
        Dimension("month", _lazy("月"), "date_trunc('month', {date})", "month"),
        Dimension("hour", _lazy("时段（时）"), "hour({time})", "hour"),
        Dimension("weekday", _lazy("星期"), "isodow({date})", "weekday"),
        Dimension(
            "day_night",
            _lazy("白天/夜间"),
            f"CASE WHEN hour({{time}}) >= {DAY_START_HOUR} AND hour({{time}}) < {NIGHT_START_HOUR} "
            "THEN 'day' ELSE 'night' END",
            "day_night",
        ),
        Dimension("duration", _lazy("停车时长"), _DURATION_SQL, "duration"),
        Dimension("pay_channel", _lazy("支付渠道"), "{channel}", "pay_channel"),
        Dimension("payment_status", _lazy("支付状态"), "status", "payment_status"),
        Dimension("state", _lazy("订单状态"), "state", "state"),
    )
}

_ORDER_LABELS = {
    "orders": _lazy("订单数"),
    "completed": _lazy("已结束订单数"),
    "dwell_seconds": _lazy("停车总时长（秒）"),
    "due_fen": _lazy("应收"),
    "paid_fen": _lazy("实收"),
    "adjustment_fen": _lazy("调整"),
    "day_orders": _lazy("白天订单数（07–21时）"),
    "night_orders": _lazy("夜间订单数（21–07时）"),
}
_ORDER_UNITS = {"due_fen": "fen", "paid_fen": "fen", "adjustment_fen": "fen"}


def _order_measures() -> tuple[Measure, ...]:
    """The orders statistic's MEASURES, then the payments statistic's others (same SQL, imported)."""
    out = [
        Measure(k, _ORDER_LABELS.get(k, k), sql, _ORDER_UNITS.get(k, "count")) for k, sql in MEASURES.items()
    ]
    seen = set(MEASURES)
    for m in PAYMENTS.measures:
        if m.key not in seen:
            out.append(m)
            seen.add(m.key)
    out.append(
        Measure(
            "average_minutes",
            _lazy("平均停车时长"),
            unit="minutes",
            derive=mean("dwell_seconds", "completed", 60),
        )
    )
    return tuple(out)


# Payment items (the ``payments`` data set: an order's share of a payment, on the day it was created).
PAYMENT_ITEM_MEASURES = (
    Measure("items", _lazy("支付明细数"), "count(*)"),
    Measure("amount_fen", _lazy("支付金额"), "coalesce(sum(amount_fen), 0)", "fen"),
    Measure("paid_items", _lazy("成功支付明细数"), "count(*) FILTER (WHERE status = 'paid')"),
    Measure(
        "paid_amount_fen",
        _lazy("成功支付金额"),
        "coalesce(sum(amount_fen) FILTER (WHERE status = 'paid'), 0)",
        "fen",
    ),
)

_TIME_DIMS = ("date", "week", "month", "hour", "weekday", "day_night")

SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            key="orders",
            label=_lazy("订单"),
            view="orders",
            # The payments statistic's own view when it is not the plain orders (the refunds join).
            extended_view=PAYMENTS.view if PAYMENTS.view != "orders" else None,
            extended=frozenset({"refunds", "refund_fen"}),
            base="state <> 'void'",
            measures=_order_measures(),
            dimensions=(
                "district",
                "road",
                "segment",
                "area_class",
                "vehicle_class",
                *_TIME_DIMS,
                "duration",
                "pay_channel",
                "state",
            ),
            filters=common.ALL_FILTERS,
            extra_filters=("hours", "weekdays", "pay_channels"),
            time_col="started_at",
            channel_col="pay_channel",
            datasets=("orders", "refunds"),
        ),
        Source(
            key="payments",
            label=_lazy("支付明细"),
            view="payments",
            measures=PAYMENT_ITEM_MEASURES,
            dimensions=("district", "segment", *_TIME_DIMS, "pay_channel", "payment_status"),
            # no road / area class / vehicle class columns in this data set
            filters=("district",),
            extra_filters=("hours", "weekdays", "pay_channels"),
            time_col="created_at",
            channel_col="provider",
            datasets=("payments",),
        ),
    )
}


_BY_DAY = ("date",)  # a breakdown by the date is the builder's own date dimension


def source_of(stat, label=None) -> Source:
    """A registered statistic's view as a builder source: its measures (one definition: the same
    objects, rates and averages derived from its sums), its breakdowns as dimensions, the date,
    week, month and weekday of its window's date, the district (and road / segment where it has
    them), its filters, and areas where its rows carry segments."""
    place = ("district", *(k for k in ("road", "segment") if k in stat.filters))
    own = tuple(
        Dimension(b.key, b.label, b.sql, "own", b.labels)
        for b in stat.breakdowns
        # A breakdown limited to some rows of a union view would mislabel the others: left out.
        if b.where is None and b.sql not in _BY_DAY and b.key not in DIMENSIONS
    )
    return Source(
        key=stat.slug,
        label=label or stat.title,
        view=stat.view,
        base=stat.base,
        date_col=stat.date_col,
        measures=stat.measures,
        dimensions=(*place, "date", "week", "month", "weekday", *(d.key for d in own)),
        filters=tuple(f for f in common.ALL_FILTERS if f in stat.filters),
        extra_filters=("weekdays",),
        time_col="",
        datasets=stat.datasets,
        own_dimensions=own,
        area="segment" in stat.filters,
    )


def _statistic_sources() -> dict[str, Source]:
    """One source per registered statistic other than the two above (their views are the orders)."""
    from .catalog import STATISTICS

    return {
        slug: source_of(stat)
        for slug, stat in STATISTICS.items()
        if stat.view not in ("orders", "payments") and slug not in SOURCES
    }


SOURCES.update(_statistic_sources())


def _check_registry() -> None:
    for s in SOURCES.values():
        keys = set(s.measure_keys)
        own = {d.key for d in s.own_dimensions}
        assert not keys & (set(DIMENSIONS) | own), s.key
        assert set(s.dimensions) <= set(DIMENSIONS) | own, s.key


_check_registry()


def whitelist() -> dict:
    """The choices as plain data (page form, API docs): sources with their measures, dimensions, filters."""
    return {
        "sources": [
            {
                "key": s.key,
                "label": str(s.label),
                "measures": [{"key": m.key, "label": str(m.label), "unit": m.unit} for m in s.measures],
                "dimensions": [{"key": d, "label": str(s.dimension(d).label)} for d in s.dimensions],
                "filters": [*s.filters, *s.extra_filters, *(["area"] if s.area else [])],
            }
            for s in SOURCES.values()
        ],
        "limits": {
            "max_days": common.MAX_DAYS,
            "max_dimensions": MAX_DIMENSIONS,
            "max_vertices": MAX_VERTICES,
            "page_rows": PAGE_LIMIT,
        },
        "weekdays": {k: str(v) for k, v in WEEKDAYS.items()},
        "pay_channels": {k: str(v) for k, v in CHANNELS.items()},
    }


# ------------------------------------------------------------------ errors


def bad(code: str, message: str, **details) -> ServiceError:
    return ServiceError(
        message, code=code, details={k: v if isinstance(v, list) else [v] for k, v in details.items()}
    )


# ------------------------------------------------------------------ areas


@lru_cache(maxsize=1)
def beijing() -> shapely.Geometry:
    """The union of the 16 districts' boundaries (GCJ-02, vendored in core.districts), prepared."""
    from govcenter.core.districts import DISTRICTS, read_geometry

    shapes = [
        shapely.from_geojson(json.dumps(read_geometry(d.code))) for d in DISTRICTS if d.path is not None
    ]
    city = shapely.union_all(shapes).buffer(0.0005)  # ~50 m: a vertex drawn on the border is inside
    shapely.prepare(city)
    return city


def parse_polygon(raw, datum: str | None = None) -> shapely.Polygon:
    """A drawn polygon (GeoJSON Polygon or a Feature of one), checked; in GCJ-02.

    400 ``invalid_area`` (not a polygon, a ring not closed, too few points, self-crossing,
    coordinates not numbers), ``area_too_complex`` (more than MAX_VERTICES vertices),
    ``area_outside_beijing`` (any part outside Beijing's district boundaries).
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad("invalid_area", _("区域不是有效的 GeoJSON。"), area="polygon") from None
    if isinstance(raw, dict) and raw.get("type") == "Feature":
        raw = raw.get("geometry")
    if (
        not isinstance(raw, dict)
        or raw.get("type") != "Polygon"
        or not isinstance(raw.get("coordinates"), list)
    ):
        raise bad("invalid_area", _("区域应为 GeoJSON Polygon。"), area="polygon")
    rings = raw["coordinates"]
    if not rings:
        raise bad("invalid_area", _("区域没有顶点。"), area="polygon")
    vertices = sum(len(r) if isinstance(r, list) else 0 for r in rings)
    if vertices > MAX_VERTICES:
        raise bad(
            "area_too_complex",
            _("区域顶点过多：最多 %(n)d 个。") % {"n": MAX_VERTICES},
            vertices=str(vertices),
            limit=str(MAX_VERTICES),
        )
    try:
        datum = Datum.parse(datum or "GCJ-02")
    except ValueError:
        raise bad("invalid_area", _("未知的坐标系。"), datum=str(datum)) from None
    clean = []
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise bad("invalid_area", _("区域的边界至少需要 4 个点（首尾相同）。"), area="polygon")
        pts = []
        for p in ring:
            if (
                not isinstance(p, list | tuple)
                or len(p) < 2
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p[:2]
                )
            ):
                raise bad("invalid_area", _("区域的坐标应为数字 [经度, 纬度]。"), point=str(p)[:60])
            pts.append((float(p[0]), float(p[1])))
        if pts[0] != pts[-1]:
            raise bad("invalid_area", _("区域的边界未闭合（首尾坐标应相同）。"), area="ring_not_closed")
        if datum != Datum.GCJ02:
            lon, lat = to_gcj02([p[0] for p in pts], [p[1] for p in pts], datum)
            pts = list(zip(lon.tolist(), lat.tolist(), strict=True))
        clean.append(pts)
    poly = shapely.Polygon(clean[0], clean[1:])
    if not poly.is_valid or poly.area == 0:
        raise bad("invalid_area", _("区域边界自相交或面积为零。"), reason=shapely.is_valid_reason(poly))
    if not beijing().covers(poly):
        raise bad(
            "area_outside_beijing",
            _("所画区域超出北京市范围。"),
            bounds=[round(v, 6) for v in poly.bounds],
        )
    return poly


def segments_in_polygon(user, poly: shapely.Polygon) -> list[int]:
    """The segments (in the caller's scope) with a space inside ``poly``, or whose geometry meets it."""
    x0, y0, x1, y1 = poly.bounds
    shapely.prepare(poly)
    found: set[int] = set()
    rows = list(
        Space.objects.restrict(user)
        .filter(lon__gte=x0, lon__lte=x1, lat__gte=y0, lat__lte=y1)
        .exclude(status=Space.Status.RETIRED)
        .values_list("segment_id", "lon", "lat")
    )
    if rows:
        import numpy as np

        seg = np.array([r[0] for r in rows])
        inside = shapely.contains_xy(poly, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
        found |= set(seg[inside].tolist())
    with_spaces = Space.objects.values("segment_id")
    for pk, geometry in (
        Segment.objects.restrict(user)
        .exclude(pk__in=with_spaces)
        .exclude(geometry=None)
        .values_list("pk", "geometry")
    ):
        try:
            if poly.intersects(shapely.from_geojson(json.dumps(geometry))):
                found.add(pk)
        except (shapely.errors.GEOSException, ValueError, TypeError):
            continue
    return sorted(found)


@dataclass
class Area:
    kind: str
    segment_ids: list[int]
    name: str = ""
    polygon: dict | None = None

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "segments": len(self.segment_ids)}


def resolve_area(user, raw, *, allow_area_ids=()) -> Area | None:
    """The spec's ``area`` → the segments it covers (see the module docstring)."""
    from ..models.stats_query import StatArea

    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        raise bad("invalid_area", _("区域格式有误。"), area=str(raw)[:60])
    kind = raw.get("kind")
    if kind == "polygon":
        poly = parse_polygon(raw.get("polygon"), raw.get("datum"))
        return Area(
            "polygon", segments_in_polygon(user, poly), _("所画区域"), json.loads(shapely.to_geojson(poly))
        )
    if kind == "segments":
        codes = raw.get("codes")
        if isinstance(codes, str):
            codes = [c for c in codes.replace(",", " ").replace("，", " ").split() if c]
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise bad("invalid_area", _("请给出路段编码列表。"), codes=str(codes)[:60])
        if len(codes) > MAX_SEGMENT_CODES:
            raise bad(
                "area_too_complex",
                _("路段过多：最多 %(n)d 个。") % {"n": MAX_SEGMENT_CODES},
                codes=str(len(codes)),
            )
        found = dict(Segment.objects.restrict(user).filter(code__in=codes).values_list("code", "pk"))
        missing = sorted(set(codes) - set(found))
        if missing:
            raise bad("unknown_segment", _("未知的路段或不在数据范围内。"), codes=missing[:50])
        return Area("segments", sorted(found.values()), _("路段列表"))
    if kind == "saved":
        try:
            pk = int(raw.get("id"))
        except (TypeError, ValueError):
            raise bad("unknown_area", _("未知的区域。"), id=str(raw.get("id"))[:20]) from None
        area = StatArea.objects.visible_to(user, extra_ids=allow_area_ids).filter(pk=pk).first()
        if area is None:
            raise bad("unknown_area", _("未知的区域。"), id=str(pk))
        if area.polygon:
            ids = segments_in_polygon(user, parse_polygon(area.polygon))
        else:
            ids = list(
                Segment.objects.restrict(user)
                .filter(pk__in=area.segment_ids or [])
                .values_list("pk", flat=True)
            )
        return Area("saved", sorted(ids), area.name, area.polygon)
    raise bad("invalid_area", _("区域类型应为 polygon、segments 或 saved。"), kind=str(kind)[:20])


# ------------------------------------------------------------------ the spec


@dataclass
class Spec:
    source: Source
    measures: list[str]
    dimensions: list[str]
    query: common.StatQuery
    hours: tuple[int, int] | None = None
    weekdays: list[int] = field(default_factory=list)
    pay_channels: list[str] = field(default_factory=list)
    area: Area | None = None
    sort: tuple[str, bool] | None = None
    raw: dict = field(default_factory=dict)

    def normalized(self) -> dict:
        """The spec as it was understood (JSON), e.g. for saving and the shareable link."""
        return self.raw


def _list(name: str, value, code: str) -> list:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, list):
        raise bad(code, _("%(name)s 应为列表。") % {"name": name}, **{name: str(value)[:60]})
    return value


def parse_spec(user, raw, *, allow_area_ids=()) -> Spec:
    """Check a spec against the whitelist and the caller's scope (400 with a code on any problem)."""
    if not isinstance(raw, dict):
        raise bad("invalid_spec", _("查询条件应为 JSON 对象。"), spec=type(raw).__name__)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise bad("unknown_field", _("查询条件含未知字段。"), fields=unknown)
    source = SOURCES.get(raw.get("source") or "orders")
    if source is None:
        raise bad("unknown_source", _("未知的数据源。"), source=str(raw.get("source"))[:40])
    measures = _list("measures", raw.get("measures"), "invalid_measures")
    if not measures:
        raise bad("invalid_measures", _("请至少选择一个指标。"), measures="")
    if len(measures) > MAX_MEASURES or len(set(measures)) != len(measures):
        raise bad("invalid_measures", _("指标重复或过多。"), measures=[str(m) for m in measures][:30])
    for m in measures:
        if m not in source.measure_keys:
            raise bad("unknown_measure", _("该数据源没有此指标。"), measure=str(m)[:40])
    dims = _list("dimensions", raw.get("dimensions"), "invalid_dimensions")
    if len(dims) > MAX_DIMENSIONS:
        raise bad(
            "too_many_dimensions",
            _("维度最多 %(n)d 个。") % {"n": MAX_DIMENSIONS},
            dimensions=[str(d) for d in dims],
        )
    if len(set(dims)) != len(dims):
        raise bad("invalid_dimensions", _("维度重复。"), dimensions=[str(d) for d in dims])
    for d in dims:
        if d not in source.dimensions:
            raise bad("unknown_dimension", _("该数据源不支持此维度。"), dimension=str(d)[:40])
    window = raw.get("window") or {}
    if not isinstance(window, dict) or set(window) - {"start", "end"}:
        raise bad("invalid_window", _("时间窗口应为 {start, end}。"), window=str(window)[:60])
    filters = raw.get("filters") or {}
    if not isinstance(filters, dict):
        raise bad("invalid_spec", _("筛选条件应为 JSON 对象。"), filters=str(filters)[:60])
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise bad("unsupported_filter", _("未知的筛选条件。"), filters=unknown)
    allowed = set(source.filters) | set(source.extra_filters)
    for name, value in filters.items():
        if value not in (None, "", []) and name not in allowed:
            raise bad("unsupported_filter", _("该数据源不支持此筛选条件。"), **{name: str(value)[:40]})
    params = {k: filters.get(k) for k in common.ALL_FILTERS if filters.get(k) not in (None, "")}
    params.update({k: window.get(k) for k in ("start", "end") if window.get(k)})
    query = common.parse_query(user, params, filters=source.filters, levels=())
    hours = None
    raw_hours = filters.get("hours")
    if raw_hours not in (None, "", []):
        ok = (
            isinstance(raw_hours, list)
            and len(raw_hours) == 2
            and all(isinstance(h, int) and not isinstance(h, bool) for h in raw_hours)
        )
        if not ok or not (
            0 <= raw_hours[0] <= 23 and 1 <= raw_hours[1] <= 24 and raw_hours[0] != raw_hours[1] % 24
        ):
            raise bad("invalid_hours", _("时段应为 [开始时, 结束时]，0–24 之间。"), hours=str(raw_hours)[:40])
        hours = (raw_hours[0], raw_hours[1])
    weekdays = _list("weekdays", filters.get("weekdays"), "invalid_weekdays")
    try:
        weekdays = sorted({int(w) for w in weekdays})
    except (TypeError, ValueError):
        raise bad(
            "invalid_weekdays", _("星期应为 1（周一）到 7（周日）。"), weekdays=str(weekdays)[:40]
        ) from None
    if any(w not in WEEKDAYS for w in weekdays):
        raise bad(
            "invalid_weekdays", _("星期应为 1（周一）到 7（周日）。"), weekdays=[str(w) for w in weekdays]
        )
    channels = _list("pay_channels", filters.get("pay_channels"), "invalid_pay_channel")
    for c in channels:
        if c not in CHANNELS:
            raise bad("invalid_pay_channel", _("未知的支付渠道。"), pay_channel=str(c)[:40])
    if raw.get("area") not in (None, "", {}) and not source.area:
        raise bad("unsupported_filter", _("该数据源的记录不含路段，不能按区域筛选。"), area=source.key)
    area = resolve_area(user, raw.get("area"), allow_area_ids=allow_area_ids)
    sort = None
    raw_sort = raw.get("sort")
    if raw_sort not in (None, "", {}):
        if not isinstance(raw_sort, dict) or raw_sort.get("by") not in (*measures, *dims):
            raise bad("invalid_sort", _("排序字段应为所选的指标或维度。"), sort=str(raw_sort)[:60])
        sort = (raw_sort["by"], bool(raw_sort.get("desc")))
    return Spec(source, measures, dims, query, hours, weekdays, sorted(set(channels)), area, sort, raw)


# ------------------------------------------------------------------ SQL


def build_sql(user, spec: Spec, *, now=None) -> tuple[str, str, list, list[str]]:
    """(view, where, params, sql measure keys) of the spec — whitelist fragments and ``?`` only."""
    src = spec.source
    q = spec.query
    where, params = common.where_sql(user, q, date_col=src.date_col, base=src.base)
    clauses = [where]
    hour = f"hour({src.time_col})"
    if spec.hours is not None:
        lo, hi = spec.hours
        if lo < hi:
            clauses.append(f"{hour} >= ? AND {hour} < ?")
        else:  # wraps midnight, e.g. 22–6
            clauses.append(f"({hour} >= ? OR {hour} < ?)")
        params += [lo, hi]
    if spec.weekdays:
        clauses.append(f"isodow({src.date_col}) IN ({', '.join('?' * len(spec.weekdays))})")
        params += spec.weekdays
    if spec.pay_channels:
        clauses.append(f"{src.channel_col} IN ({', '.join('?' * len(spec.pay_channels))})")
        params += spec.pay_channels
    if spec.area is not None:
        if spec.area.segment_ids:
            clauses.append(f"segment_id IN ({', '.join('?' * len(spec.area.segment_ids))})")
            params += spec.area.segment_ids
        else:
            clauses.append("FALSE")
    needed = [k for k in spec.measures if src.measure(k).sql is not None]
    if any(src.measure(k).sql is None for k in spec.measures):
        needed += [
            m.key
            for m in src.measures
            if m.sql is not None and m.key not in src.extended and m.key not in needed
        ]
    view = src.extended_view if src.extended_view and set(needed) & src.extended else src.view
    return view, " AND ".join(clauses), params, needed


def _dim_sql(src: Source, key: str, tokens: dict) -> str:
    return src.dimension(key).sql.format(
        time=src.time_col, date=src.date_col, channel=src.channel_col, **tokens
    )


def _finish(src: Source, row: dict, keys: list[str]) -> dict:
    """Derived measures in declaration order (one may use another), when one is asked for."""
    derive = any(src.measure(k).derive is not None for k in keys)
    for m in src.measures:
        if m.key not in row and m.derive is None:
            continue
        if m.derive is not None:
            if derive:
                row[m.key] = m.derive(row)
        elif m.unit in ("count", "fen"):
            row[m.key] = int(row.get(m.key) or 0)
        elif row.get(m.key) is not None:
            row[m.key] = round(float(row[m.key]), 4)
    return row


class _Guard:
    """Interrupt a DuckDB connection after ``seconds`` (it has no statement timeout)."""

    def __init__(self, con, seconds: float):
        self.con, self.seconds, self.fired = con, seconds, False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self):
        self.fired = True
        self.con.interrupt()

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def timeout_error(seconds: float) -> ServiceError:
    return ServiceError(
        _("查询超过 %(n)s 秒未完成，已中止。请缩小范围，或转为后台导出。") % {"n": f"{seconds:g}"},
        code="query_timeout",
        status=503,
        details={"timeout_s": [f"{seconds:g}"], "offer": ["background_export"]},
    )


@dataclass
class QueryResult:
    spec: Spec
    columns: list[dict]
    rows: list[dict]
    total: dict
    elapsed_ms: int

    def as_dict(self) -> dict:
        return {
            "source": self.spec.source.key,
            "spec": self.spec.raw,
            "window": {"start": self.spec.query.start.isoformat(), "end": self.spec.query.end.isoformat()},
            "area": self.spec.area.describe() if self.spec.area else None,
            "columns": self.columns,
            "rows": self.rows,
            "total": self.total,
            "row_count": len(self.rows),
            "elapsed_ms": self.elapsed_ms,
        }


def run(
    user, spec: Spec, *, limit: int = PAGE_LIMIT, timeout: float | None = None, root=None, now=None
) -> QueryResult:
    """Run a checked spec for ``user`` (scoped): the grouped rows (≤ ``limit``) and the total.

    400 ``too_large`` when the grouping has more than ``limit`` rows; 503 ``query_timeout``.
    """
    from django.utils import timezone

    started = time.perf_counter()
    timeout = float(
        timeout if timeout is not None else getattr(settings, "GOVCENTER_PARKING_QUERY_TIMEOUT_S", 20)
    )
    src = spec.source
    view, where, params, needed = build_sql(user, spec, now=now)
    tokens = window_tokens(spec.query, now or timezone.now())
    select = ", ".join(f"{src.measure(k).sql.format(**tokens)} AS {k}" for k in needed)
    dims = [_dim_sql(src, d, tokens) for d in spec.dimensions]
    con = connection(root, datasets=src.datasets or None)  # only the source's views are bound
    guard = _Guard(con, timeout)
    try:
        with guard:
            # Only whitelist fragments and "?" placeholders reach the SQL text.
            fetched = []
            if dims:
                group = ", ".join(f"{d} AS d{i}" for i, d in enumerate(dims))
                by = ", ".join(str(i + 1) for i in range(len(dims)))
                sql = f"SELECT {group}, {select} FROM {view} WHERE {where} GROUP BY {by} ORDER BY {by} LIMIT {int(limit) + 1}"  # noqa: S608
                fetched = con.execute(sql, params).fetchall()
                if len(fetched) > limit:
                    count_sql = (
                        f"SELECT count(*) FROM (SELECT {group} FROM {view} WHERE {where} GROUP BY {by})"  # noqa: S608
                    )
                    n = con.execute(count_sql, params).fetchone()[0]
                    raise ServiceError(
                        _(
                            "结果共 %(n)d 行，超过页面上限 %(limit)d 行。请减少维度或缩小范围，或转为后台导出 Excel。"
                        )
                        % {"n": n, "limit": limit},
                        code="too_large",
                        details={"rows": [str(n)], "limit": [str(limit)], "offer": ["background_export"]},
                    )
            if dims and all(src.measure(k).additive for k in needed):
                # Counts and sums: the groups add up to the total (the statistics' tests prove it
                # for every measure of these units) — no second pass over the facts.
                total_row = [sum(r[len(dims) + i] or 0 for r in fetched) for i in range(len(needed))]
            else:
                total_row = con.execute(f"SELECT {select} FROM {view} WHERE {where}", params).fetchone()  # noqa: S608
    except (duckdb.InterruptException, duckdb.Error) as exc:
        if guard.fired:
            raise timeout_error(timeout) from None
        raise exc
    finally:
        con.close()
    total = _finish(src, dict(zip(needed, total_row, strict=True)), spec.measures)
    total = {k: total.get(k) for k in spec.measures}
    labels = _labels(src, spec.dimensions, fetched)
    rows = []
    for r in fetched:
        row = {}
        for i, d in enumerate(spec.dimensions):
            value = _jsonable(r[i])
            row[d] = value
            row[f"{d}_label"] = labels[d].get(value, "—" if value is None else str(value))
        values = _finish(src, dict(zip(needed, r[len(dims) :], strict=True)), spec.measures)
        row.update({k: values.get(k) for k in spec.measures})
        rows.append(row)
    if spec.sort is not None:
        key, desc = spec.sort
        rows.sort(key=lambda row: (row[key] is None, row[key] if row[key] is not None else 0), reverse=desc)
        if desc:  # keep None last
            rows.sort(key=lambda row: row[key] is None)
    columns = [
        {"key": d, "label": str(src.dimension(d).label), "kind": "dimension", "unit": ""}
        for d in spec.dimensions
    ]
    columns += [
        {"key": k, "label": str(src.measure(k).label), "kind": "measure", "unit": src.measure(k).unit}
        for k in spec.measures
    ]
    return QueryResult(spec, columns, rows, total, int((time.perf_counter() - started) * 1000))


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


_STATES = {
    "open": _lazy("进行中"),
    "billed": _lazy("已计费"),
    "paid": _lazy("已缴费"),
    "arrears": _lazy("欠费"),
    "closed": _lazy("已关闭"),
}


def _labels(src: Source, dims: list[str], fetched: list) -> dict[str, dict]:
    from .framework import _label

    out: dict[str, dict] = {}
    for i, d in enumerate(dims):
        values = {_jsonable(r[i]) for r in fetched}
        dimension = src.dimension(d)
        kind = dimension.kind
        ids = [v for v in values if v is not None]
        if kind == "own":
            m = {v: _label(dimension.labels, v) for v in ids}
        elif kind == "district":
            m = dict(District.objects.filter(pk__in=ids).values_list("pk", "name_zh"))
        elif kind == "road":
            m = {
                pk: f"{name}（{code}）"
                for pk, code, name in Road.objects.filter(pk__in=ids).values_list("pk", "code", "name")
            }
        elif kind == "segment":
            m = {
                pk: f"{name}（{code}）"
                for pk, code, name in Segment.objects.filter(pk__in=ids).values_list("pk", "code", "name")
            }
        elif kind == "area_class":
            m = {k: str(v) for k, v in AreaClass.choices}
        elif kind == "vehicle_class":
            m = {k: str(v) for k, v in VehicleClass.choices}
        elif kind == "week":
            m = {v: "{}-W{:02d}".format(*dt.date.fromisoformat(v).isocalendar()[:2]) for v in ids}
        elif kind == "month":
            m = {v: v[:7] for v in ids}
        elif kind == "hour":
            m = {h: f"{h:02d}:00–{h + 1:02d}:00" for h in range(24)}
        elif kind == "weekday":
            m = {k: str(v) for k, v in WEEKDAYS.items()}
        elif kind == "day_night":
            m = {"day": _("白天（07–21时）"), "night": _("夜间（21–07时）")}
        elif kind == "duration":
            m = {label: label for label, *_r in DURATION_BUCKETS} | {"open": _("未结束")}
        elif kind == "pay_channel":
            m = {k: str(v) for k, v in CHANNELS.items()}
        elif kind == "state":
            m = {k: str(v) for k, v in _STATES.items()}
        else:
            m = {}
        out[d] = {k: str(v) for k, v in m.items()}
    return out


def query(user, raw, *, limit: int = PAGE_LIMIT, allow_area_ids=(), root=None, now=None) -> QueryResult:
    """Check and run a spec (the API and the page call this)."""
    return run(user, parse_spec(user, raw, allow_area_ids=allow_area_ids), limit=limit, root=root, now=now)


# ------------------------------------------------------------------ Excel


def workbook(result: QueryResult, title: str = ""):
    """The result as an openpyxl workbook: the spec's description, the rows, the total (fen → 元)."""
    from openpyxl import Workbook

    from .framework import display

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(_("临时数据统计")[:31])
    spec = result.spec
    sheet.append([_("名称"), title or _("临时数据统计")])
    sheet.append([_("数据源"), str(spec.source.label)])
    sheet.append([_("时间窗口"), f"{spec.query.start.isoformat()} — {spec.query.end.isoformat()}"])
    if spec.area is not None:
        sheet.append([_("区域"), f"{spec.area.name}（{len(spec.area.segment_ids)} 个路段）"])
    if spec.hours:
        sheet.append([_("时段"), f"{spec.hours[0]}–{spec.hours[1]}"])
    if spec.weekdays:
        sheet.append([_("星期"), "、".join(str(WEEKDAYS[w]) for w in spec.weekdays)])
    suffix = {"fen": "（元）", "percent": "（%）", "minutes": "（分钟）"}
    sheet.append([c["label"] + suffix.get(c["unit"], "") for c in result.columns])
    for row in result.rows:
        sheet.append(
            [
                row[f"{c['key']}_label"] if c["kind"] == "dimension" else display(row[c["key"]], c["unit"])
                for c in result.columns
            ]
        )
    dims = [c for c in result.columns if c["kind"] == "dimension"]
    sheet.append(
        [_("合计") if i == 0 else "" for i in range(len(dims))]
        + [display(result.total[c["key"]], c["unit"]) for c in result.columns if c["kind"] == "measure"]
    )
    return wb


def workbook_bytes(result: QueryResult, title: str = "") -> bytes:
    import io

    buf = io.BytesIO()
    workbook(result, title).save(buf)
    return buf.getvalue()
