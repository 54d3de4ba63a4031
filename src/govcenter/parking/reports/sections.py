"""The report's sections: an explicit, ordered list of functions (:data:`SECTIONS`).

Each function takes the run's :class:`Context` and returns sections; every number comes from
the statistic's own compute — :func:`..stats2.orders.order_stats` for 订单情况统计 and
:func:`..stats2.framework.compute` for every statistic registered in
:data:`..stats2.catalog.STATISTICS`, iterated in the contract's number order, so a statistic
added to the registry appears in the next report with no change here.

A section: a heading, a KPI paragraph (each KPI with its change over the previous period), a
chart (a bar per district — per road in a district's version — and a by-day line where the
statistic has one) and the table of the drill rows with their total. Values are the ones the
page shows (:func:`..stats2.framework.display`: yuan, percent).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from govcenter.core.charts import Chart, safe_label

from ..stats2.catalog import STATISTICS
from ..stats2.common import StatQuery, level_label
from ..stats2.framework import Statistic, compute, display
from ..stats2.orders import order_stats
from ..stats2.pages import SUFFIX, header

ORDERS_PERMISSION = "parking.view_dailydistrictstat"
# The orders statistic's columns (order_stats measures, in the page's units).
ORDER_COLUMNS = (
    ("orders", gettext_lazy("订单数"), "count"),
    ("completed", gettext_lazy("已完成订单数"), "count"),
    ("due_fen", gettext_lazy("应收"), "fen"),
    ("paid_fen", gettext_lazy("实收"), "fen"),
    ("spaces", gettext_lazy("泊位数"), "count"),
    ("turnover", gettext_lazy("泊位周转率"), "ratio"),
    ("average_minutes", gettext_lazy("平均停车时长"), "minutes"),
)
ORDER_KPIS = ("orders", "due_fen", "paid_fen", "turnover")


@dataclass(frozen=True)
class Context:
    """One run: whose scope (a user or a :class:`~govcenter.core.scope.Scope`), the period and the one before."""

    actor: Any  # a user, or a Scope for the system
    query: StatQuery
    previous: StatQuery
    now: dt.datetime
    root: Any = None

    def may(self, permission: str) -> bool:
        has_perm = getattr(self.actor, "has_perm", None)
        return True if has_perm is None else has_perm(permission)


@dataclass
class Table:
    title: str
    first: str
    columns: list[str]
    rows: list[list]  # [name, *values]
    total: list | None = None  # [合计, *values]


@dataclass
class Section:
    key: str
    title: str
    kpis: list[dict] = field(default_factory=list)  # {"key","label","value","previous","change"}
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def paragraph(self) -> str:
        return "；".join(kpi_text(k) for k in self.kpis) + "。" if self.kpis else ""


def change(value, previous) -> float | None:
    """The relative change over the previous period (None when there is nothing to compare)."""
    if value is None or previous in (None, 0):
        return None
    return round((value - previous) / abs(previous), 4)


def number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def kpi_text(k: dict) -> str:
    rate = k["change"]
    trend = "—" if rate is None else f"{rate * 100:+.1f}%"
    return _("%(label)s %(value)s（上期 %(previous)s，环比 %(change)s）") % {
        "label": k["label"],
        "value": number(k["value"]),
        "previous": number(k["previous"]),
        "change": trend,
    }


def _kpis(keys, labels_units: dict, total: dict, before: dict) -> list[dict]:
    out = []
    for key in keys:
        label, unit = labels_units[key]
        value, previous = display(total.get(key), unit), display(before.get(key), unit)
        out.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "previous": previous,
                "change": change(value, previous),
            }
        )
    return out


def _bar(title: str, level: str | None, rows: list[dict], keys, labels_units: dict) -> Chart:
    return Chart(
        kind="bar",
        title=title,
        x_title=str(level_label(level)),
        y_title=labels_units[keys[0]][0],
        categories=[safe_label(str(r["name"]), str(r.get("code") or r["id"])) for r in rows],
        series={labels_units[k][0]: [display(r.get(k), labels_units[k][1]) or 0 for r in rows] for k in keys},
    )


def _table(title: str, level: str | None, columns, rows: list[dict], total: dict) -> Table:
    return Table(
        title=title,
        first=str(level_label(level)) if level else _("范围"),
        columns=[f"{label}{SUFFIX.get(unit, '')}" for _k, label, unit in columns],
        rows=[[r["name"], *[display(r.get(k), u) for k, _l, u in columns]] for r in rows],
        total=[_("合计"), *[display(total.get(k), u) for k, _l, u in columns]],
    )


def orders_section(ctx: Context) -> list[Section]:
    """1 订单情况统计 (its own compute: :func:`order_stats`)."""
    if not ctx.may(ORDERS_PERMISSION):
        return []
    columns = [(k, str(label), u) for k, label, u in ORDER_COLUMNS]
    stats = order_stats(ctx.actor, ctx.query, root=ctx.root, now=ctx.now)
    before = order_stats(ctx.actor, ctx.previous, root=ctx.root, now=ctx.now).total
    level = ctx.query.level
    labels_units = {k: (f"{label}{SUFFIX.get(u, '')}", u) for k, label, u in columns}
    title = _("订单情况统计")
    sec = Section("orders", title, kpis=_kpis(ORDER_KPIS, labels_units, stats.total, before))
    if stats.rows:
        sec.charts.append(_bar(title, level, stats.rows, ("orders",), labels_units))
    sec.tables.append(_table(title, level, columns, stats.rows, stats.total))
    return [sec]


def statistic_section(ctx: Context, stat: Statistic) -> Section:
    """One registered statistic: KPIs with their change, bar by rows, by-day line, table."""
    result = compute(stat, ctx.actor, _levels(ctx.query, stat), root=ctx.root, now=ctx.now)
    before = previous_total(ctx, stat)
    level = result.query.level
    labels_units = {m.key: (header(m), m.unit) for m in stat.measures}
    title = str(stat.title)
    sec = Section(stat.slug, title, kpis=_kpis(stat.kpis, labels_units, result.total, before))
    keys = stat.chart_measures or stat.kpis[:1]
    if result.rows:
        sec.charts.append(_bar(title, level, result.rows, keys, labels_units))
    by_day = next((b for b in stat.breakdowns if b.key == "by_day"), None)
    if by_day is not None and result.breakdowns.get("by_day"):
        groups = result.breakdowns["by_day"]
        day_keys = by_day.measures[:2]
        sec.charts.append(
            Chart(
                kind="line",
                title=f"{title} · {by_day.label}",
                x_title=_("日期"),
                y_title=labels_units[day_keys[0]][0],
                categories=[g["label"] for g in groups],
                series={
                    labels_units[k][0]: [display(g[k], labels_units[k][1]) or 0 for g in groups]
                    for k in day_keys
                },
            )
        )
    columns = [(m.key, str(m.label), m.unit) for m in stat.measures]
    sec.tables.append(_table(title, level, columns, result.rows, result.total))
    return sec


def previous_total(ctx: Context, stat: Statistic) -> dict:
    """The statistic's total over the previous period: the same definition and compute, without
    the drill rows, breakdowns and extra tables (only the total is compared)."""
    bare = dataclasses.replace(stat, breakdowns=(), sections=None, levels=())
    q = ctx.previous
    return compute(
        bare, ctx.actor, StatQuery(q.start, q.end, district=q.district, levels=()), root=ctx.root, now=ctx.now
    ).total


def _levels(q: StatQuery, stat: Statistic) -> StatQuery:
    return StatQuery(q.start, q.end, district=q.district, levels=stat.levels)


def statistics_sections(ctx: Context) -> list[Section]:
    """Every registered statistic the actor may see, in the contract's number order."""
    return [
        statistic_section(ctx, stat)
        for stat in sorted(STATISTICS.values(), key=lambda s: (s.number, s.slug))
        if ctx.may(stat.permission)
    ]


SECTIONS = (orders_section, statistics_sections)


def gather(ctx: Context, functions=SECTIONS) -> list[Section]:
    """The sections of one report, in order."""
    out: list[Section] = []
    for fn in functions:
        out.extend(fn(ctx))
    return out
