"""票据数据统计 (statistic 11) — e-receipts issued in the window, and receipts against payments.

The cohort is the receipts issued in the window (Beijing dates of ``issued_at``), from the
lake's ``receipts`` data set: one row per receipt with its orders and their amounts
(``order_ids``, ``item_fen``). A receipt with more than one order is *merged* (合并开票); a
receipt of the cohort voided since (红冲) counts as issued and as voided; the *live* amount is
that of the receipts still issued.

The extra table 票据与缴费核对 reconciles, per district, the orders paid in the window (the
Beijing date of their paying payment, the orders data set's ``paid_at``; what they were paid,
``amount_paid_fen``) with their live receipts, whenever issued (``receipted_fen``: an order has
at most one live receipt item, and a receipt issued or voided re-exports its orders — see
``parking/lake/sync.py``): paid, receipted, difference, and the paid orders without a live
receipt. A receipt item is the order's amount paid, so the difference is exactly what the
orders without a receipt were paid.

Each order is in the table once, on its paying day, so the table's days add up: it is read
from a rollup of the orders (:data:`RECONCILE_CUBE`, :mod:`.cubes`) — per start date, district
and unit, paying day and "has a live receipt" — when that is current, else from the raw orders.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

from .common import names
from .framework import Breakdown, Measure, Rollup, Statistic, ratio, register

STATUSES = {"issued": _("已开具"), "voided": _("已红冲")}

# The paid orders (a rollup's view: .cubes); ``date`` is the start date, the partition's.
RECONCILE_VIEW = """(
    SELECT date, district_id, managing_unit_id, paid_at, amount_paid_fen, receipted_fen,
           receipted_fen > 0 AS receipted
    FROM orders WHERE paid_at IS NOT NULL
)"""

RECONCILE_CUBE = Statistic(
    slug="receipts_reconcile",
    number=11,
    title="receipts_reconcile",
    view=RECONCILE_VIEW,
    measures=(Measure("paid_orders", "paid_orders", "count(*)"),),
    kpis=(),
    datasets=("orders",),
    # The paying day is all the table compares (with the window's dates): exact from a stamp
    # kept to its day.
    rollup=Rollup(columns=("receipted",), stamps=("paid_at",), sums=("amount_paid_fen", "receipted_fen")),
)

# Over the raw view or its rollup (count(*) read as sum(n)); ``date`` becomes the paying day,
# so the statistic's WHERE (window, scope, district) applies to it.
RECONCILE_SQL = """
SELECT district_id, count(*), coalesce(sum(amount_paid_fen), 0), coalesce(sum(receipted_fen), 0),
       count(*) FILTER (WHERE NOT receipted),
       coalesce(sum(amount_paid_fen) FILTER (WHERE NOT receipted), 0)
FROM (SELECT * EXCLUDE (date), CAST(paid_at AS DATE) AS date FROM {source}) AS paid
WHERE {where}
GROUP BY 1 ORDER BY 1
"""

RECONCILE_COLUMNS = (
    ("district", _("所属区"), "text"),
    ("paid_orders", _("已缴订单"), "count"),
    ("paid_fen", _("缴费金额"), "fen"),
    ("receipted_fen", _("开票金额"), "fen"),
    ("difference_fen", _("差额"), "fen"),
    ("unreceipted_orders", _("未开票订单"), "count"),
    ("unreceipted_fen", _("未开票订单缴费"), "fen"),
)


def reconcile(con, where, params, tokens, user, q, *, root=None, cube=True) -> list[dict]:
    """票据与缴费核对: per district, the orders paid in the window against their live receipts
    (from the rollup when current for every start date — ``source`` says which was read)."""
    from . import cubes

    # Every start date: an order paid in the window may have started on any day before it.
    files = cubes.usable(RECONCILE_CUBE, dt.date.min, dt.date.max, root=root) if cube else None
    sql = RECONCILE_SQL.format(source=RECONCILE_VIEW, where=where)
    if files:
        cubes.attach(con, files, prefix="reconcile_")
        sql = RECONCILE_SQL.format(source="reconcile_view", where=where).replace("count(*)", "sum(n)")
    # Only this module's SQL and the framework's WHERE (column names and "?") reach the text.
    fetched = con.execute(sql, params).fetchall()
    labels = names("district", [r[0] for r in fetched if r[0] is not None])
    rows = []
    total = {k: 0 for k, _l, unit in RECONCILE_COLUMNS if unit != "text"}
    for district_id, orders, paid, receipted, missing, missing_fen in fetched:
        row = {
            "district": labels.get(district_id, ("", "—"))[1],
            "district_id": district_id,
            "paid_orders": int(orders),
            "paid_fen": int(paid),
            "receipted_fen": int(receipted),
            "difference_fen": int(paid) - int(receipted),
            "unreceipted_orders": int(missing),
            "unreceipted_fen": int(missing_fen),
        }
        rows.append(row)
        for k in total:
            total[k] += row[k]
    rows.append({"district": str(_("合计")), "district_id": None, **total})
    return [
        {
            "key": "reconcile",
            "source": "cube" if files else "raw",
            "title": _("票据与缴费核对"),
            "columns": [(k, label, unit) for k, label, unit in RECONCILE_COLUMNS],
            "rows": rows,
        }
    ]


def series_label(series_id) -> str:
    from ..models.receipts import ReceiptSeries

    prefix = ReceiptSeries.objects.filter(pk=series_id).values_list("prefix", flat=True).first()
    return prefix or str(series_id)


RECEIPTS = register(
    Statistic(
        slug="receipts",
        number=11,
        title=_("票据数据统计"),
        description=_("窗口内开具的电子票据：合并开票、红冲、号段，以及票据与缴费的核对。"),
        view="receipts",
        datasets=("receipts", "orders"),
        filters=("district",),
        levels=("district",),
        measures=(
            Measure("receipts", _("开具票据"), "count(*)"),
            Measure("merged", _("合并开票"), "count(*) FILTER (WHERE item_count > 1)"),
            Measure("receipted_orders", _("开票订单"), "coalesce(sum(item_count), 0)"),
            Measure("voided", _("红冲票据"), "count(*) FILTER (WHERE status = 'voided')"),
            Measure("issued_fen", _("开票金额"), "coalesce(sum(total_fen), 0)", "fen"),
            Measure(
                "voided_fen",
                _("红冲金额"),
                "coalesce(sum(total_fen) FILTER (WHERE status = 'voided'), 0)",
                "fen",
            ),
            Measure(
                "live_fen",
                _("有效票据金额"),
                "coalesce(sum(total_fen) FILTER (WHERE status = 'issued'), 0)",
                "fen",
            ),
            Measure("void_rate", _("红冲率"), unit="percent", derive=ratio("voided", "receipts")),
        ),
        kpis=("receipts", "merged", "voided", "live_fen"),
        chart_measures=("receipts", "voided"),
        breakdowns=(
            Breakdown(
                "series",
                _("票据号段"),
                "series_id",
                ("receipts", "voided", "issued_fen", "live_fen"),
                labels=series_label,
            ),
            Breakdown(
                "status",
                _("票据状态"),
                "status",
                ("receipts", "issued_fen"),
                labels=STATUSES,
                order=tuple(STATUSES),
                chart="pie",
            ),
            Breakdown(
                "kind",
                _("开票方式"),
                "CASE WHEN item_count > 1 THEN 'merged' ELSE 'single' END",
                ("receipts", "receipted_orders", "issued_fen"),
                labels={"single": _("单笔开票"), "merged": _("合并开票")},
                order=("single", "merged"),
                chart="pie",
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("receipts", "voided", "live_fen"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
        sections=reconcile,
    )
)
