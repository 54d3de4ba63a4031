"""投诉情况统计 (statistic 5) — complaints and appeals received in the window.

The cohort is the complaints (and appeals) received in the window (Beijing dates of
``received_at``), in the district and handling unit they are routed to now — the lake's
``complaints`` data set (``parking/lake/sync.py``). Complaints carry no road or segment (many
have no order), so the drill stops at the district.

* handled = replied (答复), or ended without a reply (rejected, transferred: ``closed_at``) — the
  reply clock stops then (``services/complaints.py``); handled at ``coalesce(replied_at,
  closed_at)``;
* the deadline is ``deadline`` (a Beijing date, working days after receipt); ``due_at`` is the
  first instant after it, so *on time* ⇔ handled before ``due_at``; *late* ⇔ handled at or after
  it; *overdue* ⇔ not handled and ``due_at`` passed by the window's end (or now);
* ``on_time_rate`` = on time / (on time + late + overdue) — the complaints whose deadline has
  come or which were handled; those still open with time left are not counted;
* adjustments: the fee adjustments made for the cohort's complaints (``FeeAdjustment`` rows
  with this complaint), their count and signed sum (negative lowers what the order owes).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..models.complaints import ComplaintCategory, ComplaintChannel, ComplaintKind, ComplaintStatus
from .framework import Breakdown, Measure, Rollup, Statistic, ratio, register

_HANDLED = "coalesce(replied_at, closed_at)"
# In time or late: a flag of the row (its daily rollup keeps the stamps to their day, .cubes).
VIEW = """(
    SELECT *, coalesce(replied_at, closed_at) < due_at AS in_time, adjustments > 0 AS adjusted FROM complaints
) AS complaints_cohort"""

CATEGORIES = dict(ComplaintCategory.choices)
CHANNELS = dict(ComplaintChannel.choices)
KINDS = dict(ComplaintKind.choices)
STATUSES = dict(ComplaintStatus.choices)

COMPLAINTS = register(
    Statistic(
        slug="complaints",
        number=5,
        title=_("投诉情况统计"),
        description=_("窗口内登记的投诉与申诉：分类、渠道、状态，按期办理率与费用调整。"),
        view=VIEW,
        datasets=("complaints",),
        filters=("district",),
        levels=("district",),
        measures=(
            Measure("complaints", _("投诉申诉数"), "count(*)"),
            Measure("appeals", _("其中申诉"), "count(*) FILTER (WHERE kind = 'appeal')"),
            Measure("handled", _("已办理"), f"count(*) FILTER (WHERE {_HANDLED} IS NOT NULL)"),
            Measure(
                "on_time",
                _("按期办理"),
                "count(*) FILTER (WHERE in_time)",
            ),
            Measure(
                "late",
                _("超期办理"),
                "count(*) FILTER (WHERE NOT in_time)",
            ),
            Measure(
                "overdue",
                _("超期未办理"),
                f"count(*) FILTER (WHERE {_HANDLED} IS NULL AND due_at <= {{as_of}})",
            ),
            Measure(
                "due",
                _("应办理"),
                f"count(*) FILTER (WHERE {_HANDLED} IS NOT NULL OR due_at <= {{as_of}})",
            ),
            Measure("adjusted", _("调整费用的投诉"), "count(*) FILTER (WHERE adjusted)"),
            Measure("adjustments", _("费用调整笔数"), "coalesce(sum(adjustments), 0)"),
            Measure("adjustment_fen", _("费用调整金额"), "coalesce(sum(adjustment_fen), 0)", "fen"),
            Measure("on_time_rate", _("按期办理率"), unit="percent", derive=ratio("on_time", "due")),
        ),
        kpis=("complaints", "on_time_rate", "adjustments", "adjustment_fen"),
        chart_measures=("complaints", "on_time"),
        rollup=Rollup(
            columns=("kind", "category", "channel", "status", "in_time", "adjusted"),
            stamps=("replied_at", "closed_at", "due_at"),
            sums=("adjustments", "adjustment_fen"),
        ),
        breakdowns=(
            Breakdown(
                "category",
                _("问题分类"),
                "category",
                ("complaints", "on_time", "due", "adjustments", "adjustment_fen"),
                labels=lambda v: CATEGORIES.get(v, v),
            ),
            Breakdown(
                "channel",
                _("来源渠道"),
                "channel",
                ("complaints", "appeals"),
                labels=lambda v: CHANNELS.get(v, v),
                chart="pie",
            ),
            Breakdown(
                "kind",
                _("类型"),
                "kind",
                ("complaints", "on_time", "due", "on_time_rate"),
                labels=lambda v: KINDS.get(v, v),
                chart="pie",
            ),
            Breakdown(
                "status",
                _("办理状态"),
                "status",
                ("complaints",),
                labels=lambda v: STATUSES.get(v, v),
                order=tuple(STATUSES),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("complaints", "handled", "on_time"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
