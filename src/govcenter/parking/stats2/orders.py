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

Scope: the caller's data scope (``govcenter.core.scope``) becomes a filter on ``district_id``
/ ``managing_unit_id`` — a district manager sees only their district; a district, road or
segment outside the scope is "unknown" (400), the same answer as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from . import common
from .common import LEVELS, MAX_DAYS, StatQuery, spaces, where_sql
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
    counts = spaces(user, q, level)
    stats = OrderStats(query=q, total=_derived(total, counts["total"], q.days))
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
