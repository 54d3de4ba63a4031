"""Every statistic as one uniform source for the cross-statistic pages (12 compare, 14 district).

The orders statistic (:mod:`.orders`, its own function) and every registered statistic
(:data:`.framework.STATISTICS`, :func:`.framework.compute`) answer the same three questions
here, each with the statistic's own definitions (one definition per measure):

* ``run(user, q)`` → ``(total, rows)`` — the statistic's total and drill rows of ``q``;
* ``daily(user, q)`` → ``{date: measures}`` — the same measures per Beijing date of the window
  (the statistic's measure SQL grouped by its date column; derived measures per day);
* ``measures`` — ``(key, label, unit, additive)``: additive ones (counts, fen sums over the
  window) can be averaged per day; rates, means and stocks (spaces) cannot.

A statistic added to the registry by another module appears here without a change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from govcenter.core.api.errors import ServiceError

from . import cubes
from . import orders as orders_stat
from .catalog import STATISTICS
from .common import ALL_FILTERS, LEVELS, StatQuery, spaces, where_sql
from .framework import Statistic, compute
from .framework import daily as framework_daily
from .lake import connection

ORDERS_PERMISSION = "parking.view_dailydistrictstat"


@dataclass(frozen=True)
class SourceMeasure:
    key: str
    label: Any
    unit: str
    additive: bool


@dataclass(frozen=True)
class Source:
    slug: str
    number: int
    title: Any
    measures: tuple[SourceMeasure, ...]
    kpis: tuple[str, ...]
    filters: tuple[str, ...]
    levels: tuple[str, ...]
    permission: str
    run: Callable[[Any, StatQuery], tuple[dict, list[dict]]]
    daily: Callable[[Any, StatQuery], dict]
    url_name: str
    url_args: tuple = ()

    def measure(self, key: str) -> SourceMeasure:
        return next(m for m in self.measures if m.key == key)

    def url(self, **params) -> str:
        from .pages import link

        return reverse(self.url_name, args=self.url_args) + link(params)


# ---- the orders statistic (its own module, not in the registry) ---------------------------

_ORDER_MEASURES = (
    SourceMeasure("orders", gettext_lazy("订单数"), "count", True),
    SourceMeasure("completed", gettext_lazy("已结束订单数"), "count", True),
    SourceMeasure("day_orders", gettext_lazy("白天订单数（07–21时）"), "count", True),
    SourceMeasure("night_orders", gettext_lazy("夜间订单数（21–07时）"), "count", True),
    SourceMeasure("average_minutes", gettext_lazy("平均停车时长"), "minutes", False),
    SourceMeasure("due_fen", gettext_lazy("应收"), "fen", True),
    SourceMeasure("paid_fen", gettext_lazy("实收"), "fen", True),
    SourceMeasure("adjustment_fen", gettext_lazy("调整"), "fen", True),
    SourceMeasure("spaces", gettext_lazy("泊位数"), "count", False),
    SourceMeasure("turnover", gettext_lazy("周转率（次/泊位/日）"), "ratio", False),
)


def _orders_run(user, q: StatQuery) -> tuple[dict, list[dict]]:
    stats = orders_stat.order_stats(user, q)
    return stats.total, stats.rows


def _orders_daily(user, q: StatQuery) -> dict:
    names = list(orders_stat.MEASURES)
    files = cubes.usable(orders_stat.CUBE, q.start, q.end)
    con = connection(datasets=() if files else orders_stat.CUBE.datasets)
    try:
        if files:  # its measures per date and place: every filter and level of the raw query
            cubes.attach(con, {"rows": files["rows"]})
            where, params = where_sql(user, q)
            select = ", ".join(f"CAST(coalesce(sum({n}), 0) AS BIGINT) AS {n}" for n in names)
            view = "cube_rows"
        else:
            where, params = where_sql(user, q, base="state <> 'void'")
            select = ", ".join(f"{orders_stat.MEASURES[n]} AS {n}" for n in names)
            view = "orders"
        # Names from orders.MEASURES and "?" placeholders only.
        fetched = con.execute(
            f"SELECT date, {select} FROM {view} WHERE {where} GROUP BY 1 ORDER BY 1",  # noqa: S608
            params,
        ).fetchall()
    finally:
        con.close()
    total_spaces = spaces(user, q, None)["total"]
    out = {}
    for r in fetched:
        row = {k: int(v or 0) for k, v in zip(names, r[1:], strict=True)}
        out[r[0]] = orders_stat._derived(row, total_spaces, 1)
    return out


ORDERS = Source(
    slug="orders",
    number=1,
    title=gettext_lazy("订单情况统计"),
    measures=_ORDER_MEASURES,
    kpis=("orders", "paid_fen", "average_minutes", "turnover"),
    filters=ALL_FILTERS,
    levels=LEVELS,
    permission=ORDERS_PERMISSION,
    run=_orders_run,
    daily=_orders_daily,
    url_name="parking:stats_orders",
)


# ---- a registered statistic --------------------------------------------------------------


def _registered(stat: Statistic) -> Source:
    def run(user, q: StatQuery) -> tuple[dict, list[dict]]:
        result = compute(stat, user, q, detail=False)
        return result.total, result.rows

    def daily(user, q: StatQuery) -> dict:
        return framework_daily(stat, user, q)

    return Source(
        slug=stat.slug,
        number=stat.number,
        title=stat.title,
        measures=tuple(SourceMeasure(m.key, m.label, m.unit, m.additive) for m in stat.measures),
        kpis=stat.kpis,
        filters=stat.filters,
        levels=stat.levels,
        permission=stat.permission,
        run=run,
        daily=daily,
        url_name="parking:stats_statistic",
        url_args=(stat.slug,),
    )


def sources() -> dict[str, Source]:
    """Every statistic by slug, in the contract's order: orders (unless registered) + the registry."""
    found = {} if "orders" in STATISTICS else {"orders": ORDERS}
    for stat in sorted(STATISTICS.values(), key=lambda s: (s.number, s.slug)):
        found[stat.slug] = _registered(stat)
    return found


def visible_sources(user) -> dict[str, Source]:
    """The statistics the caller may read."""
    return {slug: s for slug, s in sources().items() if user.has_perm(s.permission)}


def source_for(user, slug: str | None) -> Source:
    """The statistic ``slug`` (default: orders); 400 ``unknown_statistic`` if absent or not permitted."""
    found = visible_sources(user)
    slug = slug or next(iter(found), "orders")
    if slug not in found:
        raise ServiceError(
            _("未知的统计项目。"),
            code="unknown_statistic",
            details={"statistic": [str(slug)], "choices": sorted(found)},
        )
    return found[slug]


FIRST_YEAR, LAST_YEAR = 1900, 2200  # dates outside are refused (date arithmetic stays in range)


def check_years(start: dt.date, end: dt.date, code: str = "invalid_window") -> None:
    """400 ``code`` for dates outside FIRST_YEAR..LAST_YEAR."""
    if start.year < FIRST_YEAR or end.year > LAST_YEAR:
        raise ServiceError(
            _("日期超出范围（%(first)d–%(last)d 年）。") % {"first": FIRST_YEAR, "last": LAST_YEAR},
            code=code,
            details={"start": [start.isoformat()], "end": [end.isoformat()]},
        )


__all__ = [
    "ALL_FILTERS",
    "FIRST_YEAR",
    "LAST_YEAR",
    "ORDERS",
    "check_years",
    "Source",
    "SourceMeasure",
    "source_for",
    "sources",
    "visible_sources",
]
