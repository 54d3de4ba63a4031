"""缴费情况统计 (statistic 2) — payments of the orders started in the window.

The cohort is the orders statistic's (orders started in the window, void left out), so the
two pages agree: ``due_fen`` and ``paid_fen`` here equal the orders statistic's. The order
rows of the lake carry the payment that paid them (``paid_at``, ``pay_channel``) and their
refunds (``refunds``, ``refund_fen``) — see ``parking/lake/sync.py``; a refund does not
change the amount received.

* ``payment_rate`` = paid / due (amount); ``order_payment_rate`` = paid orders / billed orders;
* time to pay = the paying payment's time − the order's end (before the end: paid while
  parked or at the exit);
* refunds: refunds asked for the cohort's orders (any status) and the amount of the succeeded
  ones — carried by the order rows (a refund re-exports its order); a refund of a payment
  that names no order (one spanning several orders) is not attributed to an order and is
  left out here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .framework import Breakdown, Measure, Statistic, ratio, register

TIME_TO_PAY = (
    ("before_end", _("驶离前"), None, 0),
    ("10m", _("10 分钟内"), 0, 600),
    ("1h", _("10 分钟–1 小时"), 600, 3600),
    ("1d", _("1 小时–1 天"), 3600, 86400),
    ("7d", _("1–7 天"), 86400, 7 * 86400),
    ("30d", _("7–30 天"), 7 * 86400, 30 * 86400),
    ("later", _("30 天以上"), 30 * 86400, None),
)
_DELAY = "epoch(paid_at) - epoch(coalesce(ended_at, started_at))"
_BUCKET = (
    "CASE WHEN paid_at IS NULL THEN 'unpaid' "
    + " ".join(f"WHEN {_DELAY} < {hi} THEN '{key}'" for key, _l, _lo, hi in TIME_TO_PAY if hi is not None)
    + " ELSE 'later' END"
)
CHANNELS = {
    "sandbox": _("沙箱渠道"),
    "wechat": _("微信支付"),
    "alipay": _("支付宝"),
    "unionpay": _("银联"),
    "cash": _("现金"),
}

PAYMENTS = register(
    Statistic(
        slug="payments",
        number=2,
        title=_("缴费情况统计"),
        description=_("窗口内开始的订单的应收与实收、缴费率、支付渠道、缴费时长分布与退款。"),
        view="orders",
        base="state <> 'void'",
        datasets=("orders",),
        measures=(
            Measure("orders", _("订单数"), "count(*)"),
            Measure("billed_orders", _("应缴订单数"), "count(*) FILTER (WHERE amount_due_fen > 0)"),
            Measure(
                "paid_orders",
                _("已缴订单数"),
                "count(*) FILTER (WHERE amount_due_fen > 0 AND paid_at IS NOT NULL)",
            ),
            Measure("due_fen", _("应收"), "coalesce(sum(amount_due_fen), 0)", "fen"),
            Measure("paid_fen", _("实收"), "coalesce(sum(amount_paid_fen), 0)", "fen"),
            Measure("adjustment_fen", _("调整"), "coalesce(sum(amount_adjustment_fen), 0)", "fen"),
            Measure(
                "outstanding_fen",
                _("未缴"),
                "coalesce(sum(greatest(amount_due_fen + amount_adjustment_fen - amount_paid_fen, 0)) "
                "FILTER (WHERE state IN ('billed', 'arrears')), 0)",
                "fen",
            ),
            Measure("refunds", _("退款申请数"), "coalesce(sum(refunds), 0)"),
            Measure("refund_fen", _("已退款"), "coalesce(sum(refund_fen), 0)", "fen"),
            Measure("payment_rate", _("缴费率（金额）"), unit="percent", derive=ratio("paid_fen", "due_fen")),
            Measure(
                "order_payment_rate",
                _("缴费率（订单）"),
                unit="percent",
                derive=ratio("paid_orders", "billed_orders"),
            ),
        ),
        kpis=("due_fen", "paid_fen", "payment_rate", "refund_fen"),
        chart_measures=("due_fen", "paid_fen"),
        breakdowns=(
            Breakdown(
                "channel",
                _("支付渠道"),
                "pay_channel",
                ("paid_orders", "paid_fen"),
                labels=lambda v: CHANNELS.get(v, v),
                chart="pie",
            ),
            Breakdown(
                "time_to_pay",
                _("缴费时长分布"),
                _BUCKET,
                ("billed_orders", "paid_fen"),
                labels={"unpaid": _("未缴"), **{k: label for k, label, _lo, _hi in TIME_TO_PAY}},
                order=tuple(k for k, *_r in TIME_TO_PAY) + ("unpaid",),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("due_fen", "paid_fen"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
