"""催缴情况统计 (statistic 3) — arrears, their ageing, the reminders sent and what they recovered.

The view is a union of two kinds of rows (``kind``), each on its own Beijing date:

* ``arrears`` — one row per arrears record (data set ``arrears``), on the day the order turned
  arrears (the record's ``created_at``, the sweep that marked it). **Cohort: the arrears that
  turned in the window.** Of them, *settled* = paid by the window's end (``{as_of}``: the end
  of the window, or now if earlier) and *outstanding* = neither settled nor voided by then.
  Ageing of the outstanding ones, as of the window's end, counts calendar days (Beijing)
  from the due date (the day of the last instant before the record's ``due_at``) to the
  window's last day, today while the window runs — for a window in the past, the whole days
  from ``due_at`` to the window's end. ``due_at`` is the moment the order was due (the car left + ``ARREARS_DUE_DAYS``),
  which is when the rules (services/arrears.py) make it arrears and when its back-payment
  window starts; the record's ``created_at`` can be later (a catch-up sweep) and is not used.
  Buckets: 0–30, 31–75, over 75 days (the window ends 45 days after the due time, so 31–75
  is past the window and over 75 is more than a month after the penalty case).
* ``reminder`` — one row per reminder log (data set ``reminders``: one order, one stage,
  one reminder day), on the day it was sent. **Cohort: the reminders sent in the window**,
  every outcome (``sent`` / ``failed`` / ``no_contact`` / ``disabled``); ``reminders_sent``
  are those whose SMS went out. *Recovered* = the reminded order was settled after the
  reminder (settled time > ``sent_at``) and before the window's end; its amount is the
  amount owed when reminded. A stage's recovery rate is its recovered reminders over its
  reminders (an order reminded twice at one stage counts twice).

The settled time of an order is the time of the payment that paid it (``orders.paid_at``)
or, without one, the arrears record's ``settled_at`` (the sweep notes the payment of an
order still inside its window). An order paid without a payment row after its record was
decided (penalised) is not seen as settled. Voided arrears (outcome ``void``) leave the
outstanding ones at their ``decided_at``.

Both data sets carry the district and the managing unit only: the drill stops at districts.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .framework import Breakdown, Measure, Rollup, Statistic, ratio, register

# The settled time travels with the rows (the lake's arrears carry their order's ``paid_at``,
# the reminders their ``settled_at``): no join with the orders of every date.
VIEW = """(
    SELECT 'arrears' AS kind, a.date, a.district_id, a.managing_unit_id, a.order_id,
           NULL::VARCHAR AS stage, NULL::VARCHAR AS notice, a.amount_fen, a.due_at, a.outcome,
           a.decided_at, coalesce(a.paid_at, a.settled_at) AS settled_at, NULL::BOOLEAN AS settled_after
    FROM arrears a
    UNION ALL
    SELECT 'reminder' AS kind, r.date, r.district_id, r.managing_unit_id, r.order_id,
           r.stage, r.outcome AS notice, r.amount_fen, NULL::TIMESTAMPTZ, NULL::VARCHAR,
           NULL::TIMESTAMPTZ, r.settled_at, r.settled_at > r.sent_at
    FROM reminders r
) AS reminders_cohort"""

# Settled / voided / outstanding as of the window's end (an arrears row).
SETTLED = "kind = 'arrears' AND settled_at < {as_of}"
OUTSTANDING = (
    "kind = 'arrears' AND (settled_at IS NULL OR settled_at >= {as_of}) "
    "AND NOT (outcome = 'void' AND decided_at < {as_of})"
)
RECOVERED = "kind = 'reminder' AND settled_after AND settled_at < {as_of}"
# Whole Beijing days from the due date (the day of the last instant before ``due_at``) to the
# window's last day (today while the window runs); for a window in the past, the whole days
# from ``due_at`` to the window's end.
AGE_DAYS = "datediff('day', CAST(due_at - INTERVAL 1 MICROSECOND AS DATE), CAST({as_of} - INTERVAL 1 MICROSECOND AS DATE))"
AGEING = (
    ("0_30", _("0–30 天")),
    ("31_75", _("31–75 天")),
    ("over_75", _("75 天以上")),
)
AGE_BUCKET = f"CASE WHEN {AGE_DAYS} <= 30 THEN '0_30' WHEN {AGE_DAYS} <= 75 THEN '31_75' ELSE 'over_75' END"
STAGES = {"arrears": _("缴费提醒（到期前）"), "backpay": _("补缴提醒（补缴期内）")}
NOTICES = {
    "sent": _("已发送"),
    "failed": _("发送失败"),
    "no_contact": _("无联系方式"),
    "disabled": _("模板已停用"),
}

REMINDERS = register(
    Statistic(
        slug="reminders",
        number=3,
        title=_("催缴情况统计"),
        description=_(
            "窗口内转为欠费的订单及其截至窗口末的补缴、未缴与账龄；窗口内发送的催缴提醒（按阶段）及提醒后的补缴（回收）情况。"
        ),
        view=VIEW,
        datasets=("arrears", "reminders"),
        filters=("district",),
        levels=("district",),
        measures=(
            Measure("arrears", _("新增欠费笔数"), "count(*) FILTER (WHERE kind = 'arrears')"),
            Measure(
                "arrears_fen",
                _("新增欠费金额"),
                "coalesce(sum(amount_fen) FILTER (WHERE kind = 'arrears'), 0)",
                "fen",
            ),
            Measure("settled", _("已补缴笔数"), f"count(*) FILTER (WHERE {SETTLED})"),
            Measure(
                "settled_fen",
                _("已补缴金额"),
                f"coalesce(sum(amount_fen) FILTER (WHERE {SETTLED}), 0)",
                "fen",
            ),
            Measure("outstanding", _("未缴笔数（窗口末）"), f"count(*) FILTER (WHERE {OUTSTANDING})"),
            Measure(
                "outstanding_fen",
                _("未缴金额（窗口末）"),
                f"coalesce(sum(amount_fen) FILTER (WHERE {OUTSTANDING}), 0)",
                "fen",
            ),
            Measure("reminders", _("催缴提醒数"), "count(*) FILTER (WHERE kind = 'reminder')"),
            Measure(
                "reminders_sent",
                _("提醒短信已发送"),
                "count(*) FILTER (WHERE kind = 'reminder' AND notice = 'sent')",
            ),
            Measure(
                "reminded_fen",
                _("提醒涉及金额"),
                "coalesce(sum(amount_fen) FILTER (WHERE kind = 'reminder'), 0)",
                "fen",
            ),
            Measure("recovered", _("提醒后补缴数"), f"count(*) FILTER (WHERE {RECOVERED})"),
            Measure(
                "recovered_fen",
                _("提醒后补缴金额"),
                f"coalesce(sum(amount_fen) FILTER (WHERE {RECOVERED}), 0)",
                "fen",
            ),
            Measure(
                "settlement_rate",
                _("欠费补缴率（金额）"),
                unit="percent",
                derive=ratio("settled_fen", "arrears_fen"),
            ),
            Measure(
                "recovery_rate",
                _("提醒回收率（笔数）"),
                unit="percent",
                derive=ratio("recovered", "reminders"),
            ),
            Measure(
                "recovery_rate_fen",
                _("提醒回收率（金额）"),
                unit="percent",
                derive=ratio("recovered_fen", "reminded_fen"),
            ),
        ),
        kpis=("arrears_fen", "outstanding_fen", "reminders_sent", "recovery_rate"),
        chart_measures=("arrears_fen", "outstanding_fen"),
        rollup=Rollup(
            columns=("kind", "stage", "notice", "outcome", "settled_after"),
            stamps=("due_at", "decided_at", "settled_at"),
            sums=("amount_fen",),
        ),
        breakdowns=(
            Breakdown(
                "stage",
                _("提醒阶段"),
                "stage",
                (
                    "reminders",
                    "reminders_sent",
                    "reminded_fen",
                    "recovered",
                    "recovered_fen",
                    "recovery_rate",
                ),
                labels=STAGES,
                order=tuple(STAGES),
                where="kind = 'reminder'",
            ),
            Breakdown(
                "notice",
                _("提醒发送结果"),
                "notice",
                ("reminders",),
                labels=NOTICES,
                order=tuple(NOTICES),
                chart="pie",
                where="kind = 'reminder'",
            ),
            Breakdown(
                "ageing",
                _("未缴账龄（窗口末，自缴费期限起）"),
                AGE_BUCKET,
                ("outstanding", "outstanding_fen"),
                labels=dict(AGEING),
                order=tuple(k for k, _l in AGEING),
                where=OUTSTANDING,
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("arrears", "arrears_fen", "reminders", "recovered"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
