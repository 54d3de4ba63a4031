"""提示短信、处罚短信情况统计 (statistic 13) — parking SMS sent, delivered, failed, and what they led to.

**Cohort: the parking SMS created in the window** (data set ``sms``: one row per outbox
message that a reminder log or a penalty case links to, on the day it was created, in the
district of the linked reminder — the first one when one message covers a plate's orders —
or case). The reminder SMS (``source = 'reminder'``, templates ``arrears_reminder`` /
``backpay_reminder``) and the penalty notices (``source = 'penalty'``, ``penalty_notice``).

* status as last synced: ``delivered`` (the carrier's delivery report said so), ``failed``
  (the gateway refused it or the report said failed), ``sent`` / ``queued`` (no report yet);
  delivery rate = delivered / messages. A failed reminder retried by a later sweep moves to
  the new message: the old one is no longer linked and leaves the data set, so ``failed``
  counts the failures that were not retried (yet);
* led to payment: a reminder SMS one of whose reminded orders (the reminder logs linked to
  it) was settled after the reminder was sent and before the end of the window
  (``{as_of}``: the window's end, or now if earlier). The settled time of an order is the
  time of the payment that paid it or else the arrears record's ``settled_at`` (as in
  statistic 3). The message's row carries the first such time (``paid_after_at``) and its
  reminded orders (``reminded_orders``, ``reminded_fen``) — the lake sync computes them and
  re-exports the message when one of those orders or records changes (``lake/sync.py``
  ``_sms_reminded``), so the statistic reads one data set and has a daily rollup (``.cubes``).
  Conversion rate = led to payment / reminder SMS.

The data set carries the district and the managing unit only: the drill stops at districts.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from govcenter.core.sms import builtin_templates

from .framework import Breakdown, Measure, Rollup, Statistic, ratio, register

STATUSES = {
    "delivered": _("已送达"),
    "sent": _("已发送（待回执）"),
    "queued": _("待发送"),
    "failed": _("发送失败"),
}
SOURCES = {"reminder": _("催缴提示短信"), "penalty": _("处罚短信")}
LED_TO_PAYMENT = "source = 'reminder' AND paid_after_at < {as_of}"


def template_label(code) -> str:
    names = {t.code: t.name for t in builtin_templates()}
    return names.get(code, code)


SMS = register(
    Statistic(
        slug="sms",
        number=13,
        title=_("提示短信、处罚短信情况统计"),
        description=_(
            "窗口内发出的催缴提示短信与处罚短信：发送、送达、失败（按模板、状态），以及提示短信发出后补缴的情况。"
        ),
        view="sms",
        datasets=("sms",),
        filters=("district",),
        levels=("district",),
        measures=(
            Measure("messages", _("短信数"), "count(*)"),
            Measure("delivered", _("已送达"), "count(*) FILTER (WHERE status = 'delivered')"),
            Measure("failed", _("发送失败"), "count(*) FILTER (WHERE status = 'failed')"),
            Measure("reminder_sms", _("催缴提示短信"), "count(*) FILTER (WHERE source = 'reminder')"),
            Measure("penalty_sms", _("处罚短信"), "count(*) FILTER (WHERE source = 'penalty')"),
            Measure("reminded_orders", _("提示涉及订单数"), "coalesce(sum(reminded_orders), 0)"),
            Measure("led_to_payment", _("提示后补缴短信数"), f"count(*) FILTER (WHERE {LED_TO_PAYMENT})"),
            Measure("delivery_rate", _("送达率"), unit="percent", derive=ratio("delivered", "messages")),
            Measure("failure_rate", _("失败率"), unit="percent", derive=ratio("failed", "messages")),
            Measure(
                "conversion_rate",
                _("提示后补缴率"),
                unit="percent",
                derive=ratio("led_to_payment", "reminder_sms"),
            ),
        ),
        kpis=("messages", "delivery_rate", "failed", "conversion_rate"),
        rollup=Rollup(
            columns=("template", "status", "source"),
            stamps=("paid_after_at",),
            sums=("reminded_orders",),
        ),
        chart_measures=("messages", "delivered"),
        breakdowns=(
            Breakdown(
                "template",
                _("短信模板"),
                "template",
                ("messages", "delivered", "failed", "delivery_rate", "led_to_payment"),
                labels=template_label,
            ),
            Breakdown(
                "status",
                _("发送状态"),
                "status",
                ("messages",),
                labels=STATUSES,
                order=tuple(STATUSES),
                chart="pie",
            ),
            Breakdown(
                "source",
                _("短信类别"),
                "source",
                ("messages", "delivered", "failed"),
                labels=SOURCES,
                order=tuple(SOURCES),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("messages", "delivered", "failed"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
