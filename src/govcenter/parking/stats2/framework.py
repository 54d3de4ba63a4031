"""One definition per statistic: measures, breakdowns and drill levels over one lake view.

A :class:`Statistic` is declared once (in its module, registered in :data:`STATISTICS` by
:func:`register`) and then served everywhere from that one definition:

* the page ``/parking/stats/<slug>/`` (filters, KPI cards, ECharts charts, drill-down table,
  breakdown tables), its Excel export ``/parking/stats/<slug>/export.xlsx`` (exactly the
  tables on screen) — :mod:`.views`;
* the API ``GET /api/v1/parking/stats/<slug>`` with its OpenAPI schema — :mod:`..api.stats2`;
* the weekly and monthly reports, which call :func:`compute` like the page.

A :class:`Measure` is either an aggregate SQL expression over the statistic's view (additive:
a count or a sum, so a drill level's rows sum to its parent's total and the tests can say so)
or derived in Python from the other measures of the same row (a rate, an average — computed
per row, never summed). A :class:`Breakdown` groups the same measures by one more expression
(channel, category, stage …); its groups also sum to the total.

SQL text comes only from these definitions (module constants), the window placeholders below
and ``?`` parameters; no request text reaches it. Window tokens a measure may use:
``{window_start}`` / ``{window_end}`` (TIMESTAMPTZ of the window's first midnight and of the
midnight after its last day, Beijing) and ``{as_of}`` (the earlier of ``{window_end}`` and
now) — e.g. arrears aged "as of" the end of the window. A breakdown's group expression and
its ``where`` may use them too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from .common import ALL_FILTERS, LEVELS, StatQuery, names, where_sql
from .lake import connection

UNITS = ("count", "fen", "percent", "ratio", "minutes", "hours", "days")


@dataclass(frozen=True)
class Measure:
    key: str
    label: Any  # a lazy translation
    sql: str | None = None  # an aggregate over the view; None: derived
    unit: str = "count"
    derive: Callable[[dict], Any] | None = None  # from the row's other measures

    @property
    def additive(self) -> bool:
        return self.sql is not None and self.unit in ("count", "fen")


@dataclass(frozen=True)
class Breakdown:
    key: str
    label: Any
    sql: str  # the group expression
    measures: tuple[str, ...]
    labels: Callable[[Any], str] | dict | None = None  # group value → display label
    # A fixed order of group values (buckets), "key" (by group value: days, hours), or None:
    # by the first measure, descending.
    order: tuple | str | None = None
    chart: str = "bar"  # bar | pie | line
    # A condition the breakdown's rows must meet (rows of another kind in a union view); the
    # measures it shows must be zero on the rows it leaves out, so its groups still sum to the total.
    where: str | None = None


@dataclass(frozen=True)
class Rollup:
    """How a statistic whose measures look at ``{as_of}`` is cubed (:mod:`.cubes`): its view's
    rows of a date, grouped by the place columns, ``columns`` and ``stamps``, with ``n`` (the
    rows) and the ``sums`` summed. The measures and breakdowns then run over that rollup as over
    the view, with ``count(*)`` read as ``sum(n)`` — so they may use only ``count(*)``, sums of
    ``sums``, and conditions on ``columns``, ``stamps`` and ``date``.

    A stamp is kept to its Beijing day (see :func:`.cubes.stamp_key`): exact for a comparison
    with a midnight (``{as_of}`` of a past window, a date deadline) and with any instant after
    the day the rollup was built, which is what :func:`.cubes.usable` checks. Comparing two
    stamps with each other is not exact: such a flag belongs in the view, as a column.
    """

    columns: tuple[str, ...]
    stamps: tuple[str, ...] = ()
    sums: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statistic:
    slug: str
    number: int  # the contract's number (1–14)
    title: Any
    view: str  # a lake view (data set) or a parenthesised subquery over them
    measures: tuple[Measure, ...]
    kpis: tuple[str, ...]
    datasets: tuple[str, ...]  # the lake data sets behind it (freshness line)
    description: Any = ""
    base: str | None = None  # a condition every row must meet
    date_col: str = "date"
    filters: tuple[str, ...] = ALL_FILTERS
    levels: tuple[str, ...] = LEVELS
    breakdowns: tuple[Breakdown, ...] = ()
    chart_measures: tuple[str, ...] = ()  # the rows chart (default: the first KPI)
    # Extra sections: (con, where, params, tokens, user, query, root=, cube=) → list of tables
    # {"key", "title", "columns": [(key, label, unit)], "rows": [dict]}
    sections: Callable | None = None
    permission: str = "parking.view_dailydistrictstat"
    cube_parts: tuple = ()  # extra parts of its daily cube (.cubes.CubePart)
    rollup: Rollup | None = None  # its cube when its measures look at {as_of}
    # Read raw, its view's rows of the query (window, scope, filters) are few but costly to
    # make (a union scanning a year of orders for a few stays): make them once per query into
    # a temporary table, and run the total, the drill rows and the breakdowns over that.
    materialize: bool = False

    def measure(self, key: str) -> Measure:
        return next(m for m in self.measures if m.key == key)


STATISTICS: dict[str, Statistic] = {}


def register(stat: Statistic) -> Statistic:
    if stat.slug in STATISTICS:
        raise ValueError(f"statistic {stat.slug!r} registered twice")
    for m in stat.measures:
        if m.unit not in UNITS:
            raise ValueError(f"{stat.slug}.{m.key}: unit {m.unit!r} not in {UNITS}")
        if (m.sql is None) == (m.derive is None):
            raise ValueError(f"{stat.slug}.{m.key}: give exactly one of sql and derive")
    STATISTICS[stat.slug] = stat
    return stat


def ratio(numerator: str, denominator: str, digits: int = 4) -> Callable[[dict], float | None]:
    """A derived measure: ``numerator / denominator`` of the row (None when the denominator is 0)."""

    def derive(row: dict) -> float | None:
        d = row.get(denominator) or 0
        return round((row.get(numerator) or 0) / d, digits) if d else None

    return derive


def mean(total: str, count: str, scale: float = 1.0, digits: int = 1) -> Callable[[dict], float | None]:
    """A derived measure: ``total / count / scale`` (e.g. seconds → minutes with scale 60)."""

    def derive(row: dict) -> float | None:
        n = row.get(count) or 0
        return round((row.get(total) or 0) / n / scale, digits) if n else None

    return derive


def _ts(moment: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def window_bounds(q: StatQuery, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """The window's first midnight, the midnight after its last day (Beijing), and ``as_of``."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(q.start, dt.time(), tz)
    end = dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time(), tz)
    return start, end, min(end, now)


def window_tokens(q: StatQuery, now: dt.datetime) -> dict[str, str]:
    start, end, as_of = window_bounds(q, now)
    return {"window_start": _ts(start), "window_end": _ts(end), "as_of": _ts(as_of)}


def _select(stat: Statistic, keys, tokens, *, rollup: bool = False) -> str:
    """The measures' SQL; over a rollup (``.cubes``) a row stands for ``n`` rows of the view."""
    sql = [stat.measure(k).sql.format(**tokens) for k in keys]
    if rollup:
        sql = [s.replace("count(*)", "sum(n)") for s in sql]
    return ", ".join(f"{s} AS {k}" for s, k in zip(sql, keys, strict=True))


def _finish(stat: Statistic, row: dict, keys: tuple[str, ...] | None = None) -> dict:
    """Fill in a row's derived measures (in declaration order) and make the sums integers."""
    for m in stat.measures:
        if keys is not None and m.key not in keys:
            continue
        if m.derive is not None:
            row[m.key] = m.derive(row)
        elif m.unit in ("count", "fen"):
            row[m.key] = int(row.get(m.key) or 0)
        elif row.get(m.key) is not None:
            row[m.key] = round(float(row[m.key]), 4)
    return row


@dataclass
class StatResult:
    statistic: Statistic
    query: StatQuery
    total: dict
    rows: list[dict] = field(default_factory=list)
    breakdowns: dict[str, list[dict]] = field(default_factory=dict)
    extra: list[dict] = field(default_factory=list)
    source: str = "raw"  # "cube" when read from the daily cube

    def as_dict(self) -> dict:
        """Plain JSON-able data (API, page, Excel, reports)."""
        return {
            "statistic": self.statistic.slug,
            "filters": self.query.filters(),
            "level": self.query.level,
            "total": self.total,
            "rows": self.rows,
            "breakdowns": self.breakdowns,
            "extra": self.extra,
        }


def _label(labels, value) -> str:
    if value is None:
        return "—"
    if labels is None:
        return str(value)
    if callable(labels):
        return str(labels(value))
    return str(labels.get(value, value))


class _Reader:
    """A lake connection for one statistic query: the cube's parts when current, else the raw facts.

    ``source(keys, part)`` → (FROM, SELECT of ``keys``, WHERE, params) of the cube part (a
    rollup: its ``view``) or of the raw facts; ``raw_needed``: bind the raw views even when the
    cube answers (sections, breakdowns below a district).
    """

    def __init__(self, stat: Statistic, user, q: StatQuery, *, root, now, cube: bool, raw_needed: bool):
        from . import cubes

        self.stat = stat
        self.tokens = window_tokens(q, now)
        self.raw_where, self.raw_params = where_sql(user, q, date_col=stat.date_col, base=stat.base)
        files = (
            cubes.usable(stat, q.start, q.end, root=root, as_of=window_bounds(q, now)[2]) if cube else None
        )
        self.files = files or {}
        # A rollup is the view itself, grouped: it answers every level; the other cubes stop at districts.
        self.rollup = "view" in self.files
        self.below_district = not self.rollup and (q.road is not None or q.segment is not None)
        # Answered from the cube alone: no view over the raw facts is needed (nor bound).
        raw = not files or self.below_district or raw_needed
        self.con = connection(root, datasets=stat.datasets if raw else ())  # its own views only
        if files:
            cubes.attach(self.con, files)
            self.cube_where, self.cube_params = where_sql(user, q)
        self.raw_view = stat.view
        if stat.materialize and not files:
            # Only the statistic's view and the framework's WHERE (names and "?") reach the text.
            self.con.execute(
                f"CREATE TEMP TABLE query_rows AS SELECT * FROM {stat.view} WHERE {self.raw_where}",  # noqa: S608
                self.raw_params,
            )
            self.raw_view = "query_rows"

    def source(self, keys, part: str):
        stat = self.stat
        if self.rollup:
            return (
                "cube_view",
                _select(stat, keys, self.tokens, rollup=True),
                self.cube_where,
                self.cube_params,
            )
        if part in self.files:
            return (
                f"cube_{part}",
                ", ".join(f"coalesce(sum({k}), 0) AS {k}" for k in keys),
                self.cube_where,
                self.cube_params,
            )
        if self.raw_view != stat.view:  # materialized: the rows of the query already
            return self.raw_view, _select(stat, keys, self.tokens), "TRUE", []
        return stat.view, _select(stat, keys, self.tokens), self.raw_where, self.raw_params


def compute(
    stat: Statistic, user, q: StatQuery, *, root=None, now=None, cube: bool = True, detail: bool = True
) -> StatResult:
    """The statistic of ``q`` for ``user`` (scoped), from the lake: total, drill rows, breakdowns, extras.

    Read from the statistic's daily cube (:mod:`.cubes`) when it is current for every date of
    the window (``cube=False`` forces the raw facts — the tests compare both), else from the
    raw facts. The numbers are the same either way. ``detail=False``: the total and the drill
    rows only (the comparison and district pages), no breakdowns or sections.
    """
    now = now or timezone.now()
    sql_keys = [m.key for m in stat.measures if m.sql is not None]
    level = q.level
    reader = _Reader(
        stat, user, q, root=root, now=now, cube=cube, raw_needed=detail and stat.sections is not None
    )
    con, tokens, source = reader.con, reader.tokens, reader.source
    raw_where, raw_params = reader.raw_where, reader.raw_params
    rollup, below_district = reader.rollup, reader.below_district
    try:
        view, select, where, params = source(sql_keys, "rows")
        result = StatResult(stat, q, {})
        result.source = "cube" if view.startswith("cube_") else "raw"
        fetched = None
        if level is not None:
            # Only names and SQL from the statistic's definition and "?" placeholders reach the text.
            fetched = con.execute(
                f"SELECT {level}_id, {select} FROM {view} WHERE {where} GROUP BY 1 ORDER BY 1",  # noqa: S608
                params,
            ).fetchall()
        if fetched is not None and all(stat.measure(k).additive for k in sql_keys):
            # Counts and sums: the drill rows partition the rows, so they add up to the total
            # (a NULL place is a row too) — no second pass over the facts.
            row = [sum(r[1 + i] or 0 for r in fetched) for i in range(len(sql_keys))]
        else:
            row = con.execute(f"SELECT {select} FROM {view} WHERE {where}", params).fetchone()  # noqa: S608
        result.total = _finish(stat, dict(zip(sql_keys, row, strict=True)))
        if level is not None:
            labels = names(level, [r[0] for r in fetched if r[0] is not None])
            for r in fetched:
                code, name = labels.get(r[0], ("", "—"))
                result.rows.append(
                    _finish(
                        stat,
                        {"id": r[0], "code": code, "name": name, **dict(zip(sql_keys, r[1:], strict=True))},
                    )
                )
        for b in stat.breakdowns if detail else ():
            keys = [k for k in b.measures if stat.measure(k).sql is not None]
            needed = _needed(stat, b.measures)
            view, select, where, params = source(needed, "none" if below_district else f"b_{b.key}")
            if view.startswith("cube_") and not rollup:  # the cube part is already grouped and filtered
                group, only = "g", ""
            else:
                group = b.sql.format(**tokens)
                only = f" AND ({b.where.format(**tokens)})" if b.where else ""
            fetched = con.execute(
                f"SELECT {group} AS g, {select} FROM {view} WHERE {where}{only} GROUP BY 1",  # noqa: S608
                params,
            ).fetchall()
            groups = {r[0]: dict(zip(needed, r[1:], strict=True)) for r in fetched}
            if b.order == "key":
                order = sorted(groups, key=lambda g: (g is None, g))
            elif b.order is not None:
                order = list(b.order) + [g for g in groups if g not in b.order]
            else:
                order = sorted(groups, key=lambda g: (-(groups[g].get(keys[0]) or 0) if keys else 0, str(g)))
            result.breakdowns[b.key] = [
                {
                    "key": g,
                    "label": _label(b.labels, g),
                    **_pick(_finish(stat, dict(groups.get(g, {}))), b.measures),
                }
                for g in order
            ]
        if detail and stat.sections is not None:
            result.extra = stat.sections(con, raw_where, raw_params, tokens, user, q, root=root, cube=cube)
    finally:
        con.close()
    return result


def daily(stat: Statistic, user, q: StatQuery, *, root=None, now=None, cube: bool = True) -> dict:
    """``{date: measures}``: the statistic's measures per Beijing date of the window (derived
    ones per day), from the cube when current — the comparison page's day-by-day lines."""
    keys = [m.key for m in stat.measures if m.sql is not None]
    reader = _Reader(stat, user, q, root=root, now=now or timezone.now(), cube=cube, raw_needed=False)
    try:
        view, select, where, params = reader.source(keys, "rows")
        date_col = "date" if view.startswith("cube_") else stat.date_col
        # Only the statistic's own SQL and "?" placeholders reach the text (as in compute).
        fetched = reader.con.execute(
            f"SELECT {date_col} AS d, {select} FROM {view} WHERE {where} GROUP BY 1 ORDER BY 1",  # noqa: S608
            params,
        ).fetchall()
    finally:
        reader.con.close()
    return {r[0]: _finish(stat, dict(zip(keys, r[1:], strict=True))) for r in fetched}


def _needed(stat: Statistic, keys) -> list[str]:
    """The SQL measures a set of measures needs (derived ones need every SQL measure of the row)."""
    if any(stat.measure(k).sql is None for k in keys):
        return [m.key for m in stat.measures if m.sql is not None]
    return list(keys)


def _pick(row: dict, keys) -> dict:
    return {k: row.get(k) for k in keys}


def display(value, unit: str):
    """A measure's value as shown in a table cell and an Excel cell (fen → yuan, rates → %)."""
    if value is None:
        return None
    if unit == "fen":
        return round(value / 100, 2)
    if unit == "percent":
        return round(value * 100, 2)
    return value
