"""处罚情况统计 (statistic 4) — penalty cases opened in the window: stage, amounts, appeals.

**Cohort: the penalty cases opened in the window** (data set ``penalties``, one row per case
on the day it was opened — the sweep closes the back-payment window of a plate's arrears in
one district into one case, services/arrears.py).

A case's stage is taken **as of the window's end** (``{as_of}``: the end of the window, or
now if earlier) from its time stamps, following the state machine of
``models/arrears.py`` (created → notified → paid / closed; created or notified → appealed →
paid / closed): ``paid`` if paid by then, else ``closed`` if closed, else ``appealed`` if
appealed, else ``notified`` if the penalty notice went out, else ``created``.

* amounts: ``amount_fen`` (the arrears of the case), ``unpaid_fen`` (still unpaid when the
  case was opened), ``fine_fen`` (the fine; collected by the enforcement authority);
* appeals: cases appealed by the window's end; appeal rate = appealed / cases; an appeal's
  outcome is the state the case left ``appealed`` for — ``paid`` (the arrears were paid),
  ``closed`` (staff closed it) — or ``pending`` while still appealed;
* notices: the penalty notice SMS outcome of the case (``notice_outcome`` as last synced).

The data set carries the district and the managing unit only: the drill stops at districts.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .framework import Breakdown, Measure, Rollup, Statistic, ratio, register

STATE_AS_OF = (
    "CASE WHEN paid_at < {as_of} THEN 'paid' WHEN closed_at < {as_of} THEN 'closed' "
    "WHEN appealed_at < {as_of} THEN 'appealed' WHEN notified_at < {as_of} THEN 'notified' "
    "ELSE 'created' END"
)
STATES = {
    "created": _("已立案"),
    "notified": _("已通知"),
    "appealed": _("已申诉"),
    "paid": _("已补缴"),
    "closed": _("已结案"),
}
APPEALED = "appealed_at < {as_of}"
APPEAL_OUTCOME = (
    "CASE WHEN paid_at < {as_of} THEN 'paid' WHEN closed_at < {as_of} THEN 'closed' ELSE 'pending' END"
)
APPEAL_OUTCOMES = {"pending": _("申诉处理中"), "paid": _("申诉后补缴"), "closed": _("申诉后结案")}
NOTICES = {
    "sent": _("已发送"),
    "failed": _("发送失败"),
    "no_contact": _("无联系方式"),
    "disabled": _("模板已停用"),
    "": _("未通知"),
}


def _state(state: str) -> str:
    return f"count(*) FILTER (WHERE ({STATE_AS_OF}) = '{state}')"


PENALTIES = register(
    Statistic(
        slug="penalties",
        number=4,
        title=_("处罚情况统计"),
        description=_("窗口内立案的处罚案件：截至窗口末的案件阶段、欠费与罚款金额、通知、申诉率与申诉结果。"),
        view="penalties",
        datasets=("penalties",),
        filters=("district",),
        levels=("district",),
        measures=(
            Measure("cases", _("立案数"), "count(*)"),
            Measure("orders", _("涉及订单数"), "coalesce(sum(order_count), 0)"),
            Measure("amount_fen", _("欠费金额"), "coalesce(sum(amount_fen), 0)", "fen"),
            Measure("unpaid_fen", _("立案时未缴"), "coalesce(sum(unpaid_fen), 0)", "fen"),
            Measure("fine_fen", _("罚款金额"), "coalesce(sum(fine_fen), 0)", "fen"),
            Measure("notified", _("已通知"), "count(*) FILTER (WHERE notified_at < {as_of})"),
            Measure("paid", _("已补缴结案"), _state("paid")),
            Measure("closed", _("已结案"), _state("closed")),
            Measure("appealed", _("申诉数"), f"count(*) FILTER (WHERE {APPEALED})"),
            Measure("appeal_rate", _("申诉率"), unit="percent", derive=ratio("appealed", "cases")),
            Measure("notice_rate", _("通知率"), unit="percent", derive=ratio("notified", "cases")),
            Measure("paid_rate", _("补缴率（案件）"), unit="percent", derive=ratio("paid", "cases")),
        ),
        kpis=("cases", "fine_fen", "unpaid_fen", "appeal_rate"),
        chart_measures=("cases",),
        rollup=Rollup(
            columns=("notice_outcome",),
            stamps=("paid_at", "closed_at", "appealed_at", "notified_at"),
            sums=("order_count", "amount_fen", "unpaid_fen", "fine_fen"),
        ),
        breakdowns=(
            Breakdown(
                "stage",
                _("案件阶段（窗口末）"),
                STATE_AS_OF,
                ("cases", "amount_fen", "unpaid_fen", "fine_fen"),
                labels=STATES,
                order=tuple(STATES),
                chart="pie",
            ),
            Breakdown(
                "appeal_outcome",
                _("申诉结果"),
                APPEAL_OUTCOME,
                ("appealed",),
                labels=APPEAL_OUTCOMES,
                order=tuple(APPEAL_OUTCOMES),
                where=APPEALED,
            ),
            Breakdown(
                "notice",
                _("处罚通知结果"),
                "coalesce(notice_outcome, '')",
                ("cases",),
                labels=NOTICES,
                order=tuple(NOTICES),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("cases", "fine_fen"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
