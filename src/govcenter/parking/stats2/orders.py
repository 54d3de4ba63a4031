"""订单情况统计 — the orders statistic, from the lake (parking/lake) with DuckDB.

One definition per measure (``MEASURES``, SQL over the lake's ``orders`` view), used by the
page, the API and the Excel export alike:

* ``orders`` — orders started in the window, void ones left out (the cohort: by start time);
* ``completed`` — of those, the ended ones; ``dwell_seconds`` their summed duration;
* ``due_fen`` / ``paid_fen`` / ``adjustment_fen`` — billed, received and adjusted (fen);
* ``day_orders`` / ``night_orders`` — started 07:00–21:00 / 21:00–07:00 Beijing time
  (the Beijing road-parking tariff's day and night);
* ``duration`` — completed orders per duration bucket (``DURATION_BUCKETS``);
* ``by_hour`` — orders started and occupied space-seconds per Beijing hour of the day; an
  order's occupied time is counted from its start to its end (or now, if still open),
  clipped to the end of the window;
* ``spaces`` — spaces (OLTP base data, not retired) of the rows' place; ``turnover`` = orders
  per space per day, ``occupancy`` per hour = occupied seconds / (spaces × 3600 × days).

Filters: window ``start``..``end`` (Beijing dates, inclusive, at most ``MAX_DAYS``), district,
road, segment, area class. Rows of the table are the next drill level: city → districts →
roads → segments → the one segment. The parent total and the rows come from the same SQL
(grouped / not grouped), so the rows sum to the total.

Scope: the caller's data scope (``govcenter.core.scope``) becomes a filter on ``district_id``
/ ``managing_unit_id`` — a district manager sees only their district; a district, road or
segment outside the scope is "unknown" (400), the same answer as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District
from govcenter.core.scope import scope_for

from ..models import Road, Segment, Space
from ..models.tariff import AreaClass
from .lake import connection

MAX_DAYS = 366
DAY_START_HOUR, NIGHT_START_HOUR = 7, 21
# (label, lower bound minutes inclusive, upper bound minutes exclusive or None)
DURATION_BUCKETS = [
    ("<15m", 0, 15),
    ("15–30m", 15, 30),
    ("30m–1h", 30, 60),
    ("1–2h", 60, 120),
    ("2–4h", 120, 240),
    ("4–8h", 240, 480),
    ("≥8h", 480, None),
]
LEVELS = ("district", "road", "segment")

# The measures: one SQL expression each over the ``orders`` view (void orders already left out).
MEASURES = {
    "orders": "count(*)",
    "completed": "count(ended_at)",
    "dwell_seconds": "coalesce(sum(duration_s), 0)",
    "due_fen": "coalesce(sum(amount_due_fen), 0)",
    "paid_fen": "coalesce(sum(amount_paid_fen), 0)",
    "adjustment_fen": "coalesce(sum(amount_adjustment_fen), 0)",
    "day_orders": f"count(*) FILTER (WHERE hour(started_at) >= {DAY_START_HOUR} AND hour(started_at) < {NIGHT_START_HOUR})",
    "night_orders": f"count(*) FILTER (WHERE hour(started_at) < {DAY_START_HOUR} OR hour(started_at) >= {NIGHT_START_HOUR})",
}


@dataclass(frozen=True)
class OrderQuery:
    start: dt.date
    end: dt.date
    district: District | None = None
    road: Road | None = None
    segment: Segment | None = None
    area_class: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def level(self) -> str | None:
        """The drill level of the rows: districts of the city, roads of a district, … None below a segment."""
        if self.segment is not None:
            return None
        if self.road is not None:
            return "segment"
        if self.district is not None:
            return "road"
        return "district"


def _bad(code: str, message: str, name: str, value) -> ServiceError:
    return ServiceError(message, code=code, details={name: [str(value)]})


def _date(name: str, raw, default: dt.date) -> dt.date:
    if raw in (None, ""):
        return default
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise _bad("invalid_date", _("日期格式应为 YYYY-MM-DD。"), name, raw) from None


def _pk(name: str, raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _bad(f"unknown_{name}", _("未知的%(name)s。") % {"name": name}, name, raw) from None


def parse_query(user, params) -> OrderQuery:
    """The query of ``params`` (a mapping of strings: start, end, district, road, segment, area_class), checked.

    400 ``invalid_window`` (end before start, or more than MAX_DAYS), ``invalid_date``,
    ``unknown_district`` / ``unknown_road`` / ``unknown_segment`` (absent or outside the caller's
    scope — the same answer), ``invalid_area_class``, ``mismatch`` (a road not in the district …).
    """
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    end = _date("end", params.get("end"), yesterday)
    start = _date("start", params.get("start"), end - dt.timedelta(days=6))
    if end < start:
        raise ServiceError(
            _("时间窗口无效：结束日期早于开始日期。"),
            code="invalid_window",
            details={"start": [start.isoformat()], "end": [end.isoformat()]},
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise ServiceError(
            _("时间窗口过长：最多 %(n)d 天。") % {"n": MAX_DAYS},
            code="invalid_window",
            details={"start": [start.isoformat()], "end": [end.isoformat()]},
        )
    district = road = segment = None
    if (pk := _pk("district", params.get("district"))) is not None:
        district = District.objects.restrict(user).filter(pk=pk).first()
        if district is None:
            raise _bad("unknown_district", _("未知的区或不在数据范围内。"), "district", pk)
    if (pk := _pk("road", params.get("road"))) is not None:
        road = Road.objects.restrict(user).filter(pk=pk).first()
        if road is None:
            raise _bad("unknown_road", _("未知的道路或不在数据范围内。"), "road", pk)
    if (pk := _pk("segment", params.get("segment"))) is not None:
        segment = Segment.objects.restrict(user).filter(pk=pk).select_related("road").first()
        if segment is None:
            raise _bad("unknown_segment", _("未知的路段或不在数据范围内。"), "segment", pk)
    # A lower level implies the upper ones; given both, they must agree.
    if segment is not None:
        if road is not None and segment.road_id != road.pk:
            raise _bad("mismatch", _("路段不属于所选道路。"), "segment", segment.pk)
        road = segment.road
    if road is not None:
        if district is not None and road.district_id != district.pk:
            raise _bad("mismatch", _("道路不属于所选区。"), "road", road.pk)
        district = District.objects.get(pk=road.district_id)
    area_class = None
    raw = params.get("area_class")
    if raw not in (None, ""):
        try:
            area_class = int(raw)
        except (TypeError, ValueError):
            area_class = -1
        if area_class not in AreaClass.values:
            raise _bad("invalid_area_class", _("地区类别应为 1、2 或 3。"), "area_class", raw)
    return OrderQuery(start, end, district, road, segment, area_class)


def _where(user, q: OrderQuery) -> tuple[str, list]:
    """The WHERE clause (with parameters) of the caller's scope and the query's filters."""
    clauses = ["state <> 'void'", "date BETWEEN ? AND ?"]
    params: list = [q.start, q.end]
    scope = scope_for(user)
    if not scope.all:
        parts = []
        if scope.district_ids:
            parts.append(f"district_id IN ({', '.join('?' * len(scope.district_ids))})")
            params += sorted(scope.district_ids)
        if scope.unit_ids:
            parts.append(f"managing_unit_id IN ({', '.join('?' * len(scope.unit_ids))})")
            params += sorted(scope.unit_ids)
        clauses.append("(" + " OR ".join(parts) + ")" if parts else "FALSE")
    for column, obj in (("district_id", q.district), ("road_id", q.road), ("segment_id", q.segment)):
        if obj is not None:
            clauses.append(f"{column} = ?")
            params.append(obj.pk)
    if q.area_class is not None:
        clauses.append("area_class = ?")
        params.append(q.area_class)
    return " AND ".join(clauses), params


def _spaces(user, q: OrderQuery, level: str | None) -> dict:
    """Spaces (not retired) per row key of ``level`` (and "total"), from the OLTP base data."""
    qs = Space.objects.restrict(user).exclude(status=Space.Status.RETIRED)
    if q.district is not None:
        qs = qs.filter(district=q.district)
    if q.road is not None:
        qs = qs.filter(segment__road=q.road)
    if q.segment is not None:
        qs = qs.filter(segment=q.segment)
    if q.area_class is not None:
        qs = qs.filter(segment__area_class=q.area_class)
    out = {"total": qs.count()}
    if level is not None:
        path = {"district": "district_id", "road": "segment__road_id", "segment": "segment_id"}[level]
        for key, n in qs.order_by().values_list(path).annotate(n=Count("id")):
            out[key] = n
    return out


def _names(level: str, keys: list[int]) -> dict[int, tuple[str, str]]:
    if level == "district":
        return {
            pk: (code, name)
            for pk, code, name in District.objects.filter(pk__in=keys).values_list("pk", "code", "name_zh")
        }
    model = Road if level == "road" else Segment
    return {
        pk: (code, name)
        for pk, code, name in model.objects.filter(pk__in=keys).values_list("pk", "code", "name")
    }


@dataclass
class OrderStats:
    query: OrderQuery
    total: dict
    rows: list[dict] = field(default_factory=list)
    duration: list[dict] = field(default_factory=list)
    by_hour: list[dict] = field(default_factory=list)


def _derived(measures: dict, spaces: int, days: int) -> dict:
    measures["spaces"] = spaces
    measures["turnover"] = round(measures["orders"] / (spaces * days), 4) if spaces else None
    measures["average_minutes"] = (
        round(measures["dwell_seconds"] / measures["completed"] / 60, 1) if measures["completed"] else None
    )
    return measures


def order_stats(user, q: OrderQuery, *, root=None, now=None) -> OrderStats:
    """The orders statistic of ``q`` for ``user`` (scoped), from the lake."""
    now = now or timezone.now()
    where, params = _where(user, q)
    names = list(MEASURES)
    select = ", ".join(f"{MEASURES[n]} AS {n}" for n in names)
    level = q.level
    con = connection(root)
    # Only names from MEASURES / LEVELS and "?" placeholders reach the SQL text; values are parameters.
    total_sql = f"SELECT {select} FROM orders WHERE {where}"  # noqa: S608
    rows_sql = f"SELECT {level}_id, {select} FROM orders WHERE {where} GROUP BY 1 ORDER BY 1"  # noqa: S608
    hours_sql = f"SELECT hour(started_at), count(*) FROM orders WHERE {where} GROUP BY 1"  # noqa: S608
    try:
        total = dict(zip(names, con.execute(total_sql, params).fetchone(), strict=True))
        rows = []
        if level is not None:
            result = con.execute(rows_sql, params).fetchall()
            rows = [{"id": r[0], **dict(zip(names, r[1:], strict=True))} for r in result]
        cases = " ".join(
            f"WHEN duration_s < {hi * 60} THEN {i}"
            for i, (_l, _lo, hi) in enumerate(DURATION_BUCKETS)
            if hi is not None
        )
        buckets = dict(
            con.execute(
                f"SELECT CASE {cases} ELSE {len(DURATION_BUCKETS) - 1} END AS b, count(*) FROM orders "  # noqa: S608
                f"WHERE {where} AND duration_s IS NOT NULL GROUP BY b",
                params,
            ).fetchall()
        )
        window_end = dt.datetime.combine(
            q.end + dt.timedelta(days=1), dt.time(), timezone.get_default_timezone()
        )
        cap = min(window_end, now)
        started = dict(con.execute(hours_sql, params).fetchall())
        occupied = dict(
            con.execute(
                f"""
                WITH o AS (
                    SELECT started_at AS s, least(coalesce(ended_at, ?::TIMESTAMPTZ), ?::TIMESTAMPTZ) AS e
                    FROM orders WHERE {where}
                ), h AS (
                    SELECT s, e, unnest(generate_series(date_trunc('hour', s), e - INTERVAL 1 MICROSECOND, INTERVAL 1 HOUR)) AS hs
                    FROM o WHERE e > s
                )
                SELECT hour(hs), sum(epoch(least(e, hs + INTERVAL 1 HOUR)) - epoch(greatest(s, hs)))
                FROM h GROUP BY 1
                """,  # noqa: S608
                [cap, window_end, *params],
            ).fetchall()
        )
    finally:
        con.close()
    spaces = _spaces(user, q, level)
    stats = OrderStats(query=q, total=_derived(total, spaces["total"], q.days))
    if level is not None:
        labels = _names(level, [r["id"] for r in rows])
        for r in rows:
            r["code"], r["name"] = labels.get(r["id"], ("", ""))
            _derived(r, spaces.get(r["id"], 0), q.days)
        stats.rows = rows
    stats.duration = [
        {"bucket": label, "orders": int(buckets.get(i, 0))}
        for i, (label, _lo, _hi) in enumerate(DURATION_BUCKETS)
    ]
    capacity = spaces["total"] * 3600 * q.days
    stats.by_hour = [
        {
            "hour": h,
            "orders": int(started.get(h, 0)),
            "occupied_seconds": int(occupied.get(h, 0) or 0),
            "occupancy": round(int(occupied.get(h, 0) or 0) / capacity, 4) if capacity else None,
        }
        for h in range(24)
    ]
    return stats


def as_dict(stats: OrderStats) -> dict:
    """The statistic as plain JSON-able data (API, page, Excel)."""
    q = stats.query
    return {
        "filters": {
            "start": q.start.isoformat(),
            "end": q.end.isoformat(),
            "district": q.district.pk if q.district else None,
            "road": q.road.pk if q.road else None,
            "segment": q.segment.pk if q.segment else None,
            "area_class": q.area_class,
        },
        "level": q.level,
        "total": stats.total,
        "rows": stats.rows,
        "duration": stats.duration,
        "by_hour": stats.by_hour,
    }
