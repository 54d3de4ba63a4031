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
  it, data set ``reminders``) was settled after the reminder was sent and before the end of
  the window (``{as_of}``: the window's end, or now if earlier). The settled time of an
  order is the time of the payment that paid it (``orders.paid_at``) or else the arrears
  record's ``settled_at`` (as in statistic 3), carried on the reminder rows
  (``reminders.settled_at``). Conversion rate = led to payment / reminder SMS.

The data set carries the district and the managing unit only: the drill stops at districts.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from govcenter.core.sms import builtin_templates

from .framework import Breakdown, Measure, Statistic, ratio, register

VIEW = """(
    SELECT s.*, p.paid_after_at, coalesce(p.orders, 0) AS reminded_orders,
           coalesce(p.amount_fen, 0) AS reminded_fen
    FROM sms s LEFT JOIN (
        SELECT r.sms_message_id AS sms_id, count(*) AS orders, sum(r.amount_fen) AS amount_fen,
               min(r.settled_at) FILTER (WHERE r.settled_at > r.sent_at) AS paid_after_at
        FROM reminders r  -- settled_at: the reminded order's settlement (lake/sync.py REMINDERS)
        WHERE r.sms_message_id IS NOT NULL
        GROUP BY 1
    ) p USING (sms_id)
) AS sms_cohort"""

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
        view=VIEW,
        datasets=("sms", "reminders"),
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
