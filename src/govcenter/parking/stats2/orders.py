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

Filters (:mod:`.common`): window ``start``..``end`` (Beijing dates, inclusive, at most
``MAX_DAYS``), district, road, segment, area class, vehicle class. Rows of the table are the next drill level: city → districts →
roads → segments → the one segment. The parent total and the rows come from the same SQL
(grouped / not grouped), so the rows sum to the total.

Cube (:mod:`.cubes`): the daily cube ``CUBE`` holds the measures per date and place, the
starts per hour and the duration buckets per district / unit / class, the occupied
milliseconds of *ended* orders per hour slot (``occupied``: by the slot's date, so the window's
end clips them as it clips the raw facts) and the still-open orders themselves (``open``: few;
their time runs to "now", so it is computed at query time as from the raw facts). A query is
read from the cube when it is current for every date of the window, and the raw facts below a
district (road or segment filter) — the numbers are the same (tests compare them).

Scope: the caller's data scope (``govcenter.core.scope``) becomes a filter on ``district_id``
/ ``managing_unit_id`` — a district manager sees only their district; a district, road or
segment outside the scope is "unknown" (400), the same answer as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from . import common, cubes
from .common import LEVELS, MAX_DAYS, StatQuery, spaces, where_sql
from .framework import Breakdown, Measure, Statistic
from .lake import connection

__all__ = ["LEVELS", "MAX_DAYS", "MEASURES", "OrderQuery", "order_stats", "parse_query"]
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


_DURATION_CASE = " ".join(
    f"WHEN duration_s < {hi * 60} THEN {i}"
    for i, (_l, _lo, hi) in enumerate(DURATION_BUCKETS)
    if hi is not None
)
DURATION_SQL = f"CASE {_DURATION_CASE} ELSE {len(DURATION_BUCKETS) - 1} END"
_PLACES = "district_id, managing_unit_id, area_class, vehicle_class"
# Occupied time of the ended orders per Beijing hour slot, in milliseconds (exact integers).
# Only the constants above reach the text; the cube's rows condition replaces {where}.
OCCUPIED_SQL = f"""
    WITH o AS (
        SELECT date, {_PLACES}, started_at AS s, ended_at AS e FROM orders
        WHERE {{where}} AND ended_at IS NOT NULL AND ended_at > started_at
    ), h AS (
        SELECT *, unnest(generate_series(date_trunc('hour', s), e - INTERVAL 1 MICROSECOND, INTERVAL 1 HOUR)) AS hs
        FROM o
    )
    SELECT date, {_PLACES}, CAST(hs AS DATE) AS slot_date, hour(hs) AS hour,
           sum(epoch_ms(least(e, hs + INTERVAL 1 HOUR)) - epoch_ms(greatest(s, hs))) AS occupied_ms
    FROM h GROUP BY ALL
"""  # noqa: S608
OPEN_SQL = f"SELECT date, {_PLACES}, started_at, ended_at FROM orders WHERE {{where}} AND ended_at IS NULL"  # noqa: S608

# The statistic as the cube sees it (not a page of its own: this module serves the page).
CUBE = Statistic(
    slug="orders",
    number=1,
    title="orders",
    view="orders",
    base="state <> 'void'",
    measures=tuple(
        Measure(key, key, sql, unit="fen" if key.endswith("_fen") else "count")
        for key, sql in MEASURES.items()
    ),
    kpis=(),
    datasets=("orders",),
    breakdowns=(
        Breakdown("duration", "duration", DURATION_SQL, ("orders",), where="duration_s IS NOT NULL"),
        Breakdown("hour", "hour", "hour(started_at)", ("orders",)),
    ),
    cube_parts=(cubes.CubePart("occupied", OCCUPIED_SQL), cubes.CubePart("open", OPEN_SQL)),
)


OrderQuery = StatQuery  # the orders statistic honours every filter and drill level


def parse_query(user, params) -> StatQuery:
    """The orders statistic's query of ``params`` (see :func:`.common.parse_query`)."""
    return common.parse_query(user, params)


def _where(user, q: StatQuery) -> tuple[str, list]:
    return where_sql(user, q, base="state <> 'void'")


@dataclass
class OrderStats:
    query: OrderQuery
    total: dict
    rows: list[dict] = field(default_factory=list)
    duration: list[dict] = field(default_factory=list)
    by_hour: list[dict] = field(default_factory=list)
    source: str = "raw"  # "cube" when the totals were read from the daily cube


def _derived(measures: dict, spaces: int, days: int) -> dict:
    measures["spaces"] = spaces
    measures["turnover"] = round(measures["orders"] / (spaces * days), 4) if spaces else None
    measures["average_minutes"] = (
        round(measures["dwell_seconds"] / measures["completed"] / 60, 1) if measures["completed"] else None
    )
    return measures


def _occupied_sql(view: str, where: str) -> str:
    """Occupied milliseconds per Beijing hour of the orders of ``view`` meeting ``where``; the
    first two parameters are the cap of open orders (the earlier of now and the window's end)
    and the window's end."""
    return f"""
        WITH o AS (
            SELECT started_at AS s, least(coalesce(ended_at, ?::TIMESTAMPTZ), ?::TIMESTAMPTZ) AS e
            FROM {view} WHERE {where}
        ), h AS (
            SELECT s, e, unnest(generate_series(date_trunc('hour', s), e - INTERVAL 1 MICROSECOND, INTERVAL 1 HOUR)) AS hs
            FROM o WHERE e > s
        )
        SELECT hour(hs), sum(epoch_ms(least(e, hs + INTERVAL 1 HOUR)) - epoch_ms(greatest(s, hs)))
        FROM h GROUP BY 1
    """  # noqa: S608


def order_stats(user, q: OrderQuery, *, root=None, now=None, cube: bool = True) -> OrderStats:
    """The orders statistic of ``q`` for ``user`` (scoped), from the lake (its cube when current;
    ``cube=False`` forces the raw facts)."""
    now = now or timezone.now()
    where, params = _where(user, q)
    names = list(MEASURES)
    level = q.level
    window_end = dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time(), timezone.get_default_timezone())
    cap = min(window_end, now)
    files = cubes.usable(CUBE, q.start, q.end, root=root) if cube else None
    below_district = q.road is not None or q.segment is not None
    con = connection(root, datasets=CUBE.datasets if not files or below_district else ())
    try:
        if files:
            cubes.attach(con, files)
            cube_where, cube_params = where_sql(user, q)
            sums = ", ".join(f"CAST(coalesce(sum({n}), 0) AS BIGINT) AS {n}" for n in names)
            # Only names from MEASURES / LEVELS and "?" placeholders reach the SQL text.
            total_sql = f"SELECT {sums} FROM cube_rows WHERE {cube_where}"  # noqa: S608
            rows_sql = f"SELECT {level}_id, {sums} FROM cube_rows WHERE {cube_where} GROUP BY 1 ORDER BY 1"  # noqa: S608
            total = dict(zip(names, con.execute(total_sql, cube_params).fetchone(), strict=True))
        else:
            select = ", ".join(f"{MEASURES[n]} AS {n}" for n in names)
            total_sql = f"SELECT {select} FROM orders WHERE {where}"  # noqa: S608
            rows_sql = f"SELECT {level}_id, {select} FROM orders WHERE {where} GROUP BY 1 ORDER BY 1"  # noqa: S608
            total = dict(zip(names, con.execute(total_sql, params).fetchone(), strict=True))
        rows = []
        if level is not None:
            result = con.execute(rows_sql, cube_params if files else params).fetchall()
            rows = [{"id": r[0], **dict(zip(names, r[1:], strict=True))} for r in result]
        if files and not below_district:
            buckets = dict(
                con.execute(
                    f"SELECT g, CAST(sum(orders) AS BIGINT) FROM cube_b_duration WHERE {cube_where} GROUP BY 1",  # noqa: S608
                    cube_params,
                ).fetchall()
            )
            started = dict(
                con.execute(
                    f"SELECT g, CAST(sum(orders) AS BIGINT) FROM cube_b_hour WHERE {cube_where} GROUP BY 1",  # noqa: S608
                    cube_params,
                ).fetchall()
            )
            occupied = dict(
                con.execute(
                    f"SELECT hour, sum(occupied_ms) FROM cube_occupied WHERE {cube_where} AND slot_date <= ? GROUP BY 1",  # noqa: S608
                    [*cube_params, q.end],
                ).fetchall()
            )
            for hour, ms in con.execute(
                _occupied_sql("cube_open", cube_where), [cap, window_end, *cube_params]
            ).fetchall():
                occupied[hour] = (occupied.get(hour) or 0) + ms
        else:
            buckets = dict(
                con.execute(
                    f"SELECT {DURATION_SQL} AS b, count(*) FROM orders "  # noqa: S608
                    f"WHERE {where} AND duration_s IS NOT NULL GROUP BY b",
                    params,
                ).fetchall()
            )
            started = dict(
                con.execute(
                    f"SELECT hour(started_at), count(*) FROM orders WHERE {where} GROUP BY 1",  # noqa: S608
                    params,
                ).fetchall()
            )
            occupied = dict(
                con.execute(_occupied_sql("orders", where), [cap, window_end, *params]).fetchall()
            )
    finally:
        con.close()
    occupied = {h: round((ms or 0) / 1000) for h, ms in occupied.items()}
    counts = spaces(user, q, level)
    stats = OrderStats(query=q, total=_derived(total, counts["total"], q.days))
    stats.source = "cube" if files else "raw"
    if level is not None:
        labels = common.names(level, [r["id"] for r in rows])
        for r in rows:
            r["code"], r["name"] = labels.get(r["id"], ("", ""))
            _derived(r, counts.get(r["id"], 0), q.days)
        stats.rows = rows
    stats.duration = [
        {"bucket": label, "orders": int(buckets.get(i, 0))}
        for i, (label, _lo, _hi) in enumerate(DURATION_BUCKETS)
    ]
    capacity = counts["total"] * 3600 * q.days
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
        "filters": q.filters(),
        "level": q.level,
        "total": stats.total,
        "rows": stats.rows,
        "duration": stats.duration,
        "by_hour": stats.by_hour,
    }
