"""居住认证情况统计 (statistic 7) — residential permit applications, permits held, and their use.

One view over two data sets (``permits``, ``orders``), each row of one ``kind``:

* ``application`` — a permit (or renewal) applied for on ``date`` (Beijing date of
  ``submitted_at``), with its status now: approved (``active``, ``expired``, ``revoked``),
  ``rejected`` or still ``submitted``;
* ``held`` — one row per permit per day it was in force: valid that day (``valid_from`` ..
  ``valid_to``), approved by that day's end and not revoked by it. ``active_at_end`` counts the
  permits held on the window's last day (today for a window that is not over);
* ``stay`` — an order started on ``date`` (void left out) billed with a residential permit
  line: ``Biller.bill`` prices the part of a stay inside an active permit's hours on the
  permit's segment as a 0-fen ``permit`` quote line (``services/orders.py``); the ``orders``
  data set carries the permit of the first such line (``permit_id``) and the seconds the permit
  lines cover (``permit_s``).

Permits are scoped by district only (the data set's ``managing_unit_id`` is null, and so is
the stays'), and a permit may name several segments, so the drill stops at the district.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..models.permits import PermitStatus
from .framework import Breakdown, Measure, Statistic, ratio, register

APPROVED = ("active", "expired", "revoked")  # as in VIEW
_APPROVED_SQL = "(" + ", ".join(f"'{s}'" for s in APPROVED) + ")"

VIEW = """(
    SELECT 'application' AS kind, date, district_id, managing_unit_id, permit_id, status, is_renewal,
           CAST(NULL AS BIGINT) AS permit_s
    FROM permits
    UNION ALL
    SELECT 'held' AS kind, CAST(d AS DATE) AS date, district_id, managing_unit_id, permit_id, status,
           is_renewal, CAST(NULL AS BIGINT) AS permit_s
    FROM (
        SELECT *, unnest(generate_series(
            CAST(greatest(valid_from, CAST(reviewed_at AS DATE)) AS TIMESTAMP),
            CAST(CASE WHEN revoked_at IS NULL THEN valid_to
                      ELSE least(valid_to, CAST(revoked_at AS DATE) - 1) END AS TIMESTAMP),
            INTERVAL 1 DAY)) AS d
        FROM permits WHERE status IN ('active', 'expired', 'revoked') AND reviewed_at IS NOT NULL
    )
    UNION ALL
    SELECT 'stay' AS kind, o.date, o.district_id, CAST(NULL AS BIGINT) AS managing_unit_id, o.permit_id,
           p.status, p.is_renewal, o.permit_s
    FROM orders o LEFT JOIN permits p ON p.permit_id = o.permit_id
    WHERE o.permit_s > 0 AND o.state <> 'void'
) AS permits_cohort"""

_APP = "kind = 'application'"
_LAST_DAY = "CAST({as_of} - INTERVAL 1 MICROSECOND AS DATE)"
STATUSES = dict(PermitStatus.choices)

PERMITS = register(
    Statistic(
        slug="permits",
        number=7,
        title=_("居住认证情况统计"),
        description=_("窗口内的居住认证申请与审核、期末有效认证，以及认证车辆在认证路段的停放。"),
        view=VIEW,
        datasets=("permits", "orders"),
        filters=("district",),
        levels=("district",),
        # A year's stays are found by scanning every order's permit_s: once per query, not per table.
        materialize=True,
        measures=(
            Measure("applications", _("申请数"), f"count(*) FILTER (WHERE {_APP})"),
            Measure("renewals", _("其中续期"), f"count(*) FILTER (WHERE {_APP} AND is_renewal)"),
            Measure("approved", _("已批准"), f"count(*) FILTER (WHERE {_APP} AND status IN {_APPROVED_SQL})"),
            Measure("rejected", _("已驳回"), f"count(*) FILTER (WHERE {_APP} AND status = 'rejected')"),
            Measure("pending", _("待审核"), f"count(*) FILTER (WHERE {_APP} AND status = 'submitted')"),
            Measure("decided", _("已审核"), f"count(*) FILTER (WHERE {_APP} AND status <> 'submitted')"),
            Measure(
                "active_at_end",
                _("期末有效认证"),
                f"count(*) FILTER (WHERE kind = 'held' AND date = {_LAST_DAY})",
            ),
            Measure("permit_days", _("认证有效天数"), "count(*) FILTER (WHERE kind = 'held')"),
            Measure("permit_orders", _("认证停放订单"), "count(*) FILTER (WHERE kind = 'stay')"),
            Measure(
                "permit_hours",
                _("认证停放时长"),
                "coalesce(sum(permit_s) FILTER (WHERE kind = 'stay'), 0) / 3600.0",
                "hours",
            ),
            Measure("approval_rate", _("批准率"), unit="percent", derive=ratio("approved", "decided")),
            Measure(
                "use_rate",
                _("每证每日停放次数"),
                unit="ratio",
                derive=ratio("permit_orders", "permit_days"),
            ),
        ),
        kpis=("applications", "approval_rate", "active_at_end", "permit_orders"),
        chart_measures=("applications", "approved", "rejected"),
        breakdowns=(
            Breakdown(
                "status",
                _("申请状态"),
                "status",
                ("applications",),
                labels=lambda v: STATUSES.get(v, v),
                order=tuple(STATUSES),
                chart="pie",
            ),
            Breakdown(
                "renewal",
                _("新办与续期"),
                "CASE WHEN is_renewal THEN 'renewal' ELSE 'new' END",
                ("applications", "approved", "rejected", "approval_rate"),
                labels={"new": _("新办"), "renewal": _("续期")},
                order=("new", "renewal"),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("applications", "approved", "permit_orders"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
    )
)
