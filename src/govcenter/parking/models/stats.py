"""Daily statistics (统计): per district and per segment (≈ CDS curb zone), computed by services/stats.py.

Rows are derived data, recomputed at will (``stats_compute`` upserts), so they carry only
counts, integer fen and integer seconds; rates are properties derived from them (no stored
floats). Space-time is in seconds: *available* (active spaces × time), *occupied* (stays
clipped to the day), *unknown* (every device watching a space offline — occupancy then is
unknown, not zero; CDS reports such hours as ``-1``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


class _DayStat(models.Model):
    date = models.DateField(_("统计日期"))
    orders = models.PositiveIntegerField(_("订单数"), default=0)
    sessions = models.PositiveIntegerField(_("完成停车次数"), default=0)
    amount_due_fen = models.BigIntegerField(_("应收（分）"), default=0)
    amount_paid_fen = models.BigIntegerField(_("实收（分）"), default=0)
    arrears_orders = models.PositiveIntegerField(_("欠费订单数"), default=0)
    arrears_fen = models.BigIntegerField(_("欠费金额（分）"), default=0)
    available_seconds = models.BigIntegerField(_("可用泊位时长（秒）"), default=0)
    occupied_seconds = models.BigIntegerField(_("占用泊位时长（秒）"), default=0)
    unknown_seconds = models.BigIntegerField(_("未知泊位时长（秒）"), default=0)
    dwell_seconds = models.BigIntegerField(_("停车总时长（秒）"), default=0)
    computed_at = models.DateTimeField(_("计算时间"), auto_now=True)

    class Meta:
        abstract = True

    @property
    def payment_rate(self) -> float | None:
        """Paid / due of the orders started that day (None when nothing was due)."""
        return _ratio(self.amount_paid_fen, self.amount_due_fen)

    @property
    def known_seconds(self) -> int:
        return max(0, self.available_seconds - self.unknown_seconds)

    @property
    def occupancy_rate(self) -> float | None:
        """Occupied / known space-time (unknown time left out of both; capped at 1)."""
        rate = _ratio(self.occupied_seconds, self.known_seconds)
        return None if rate is None else min(1.0, rate)

    @property
    def turnover(self) -> float | None:
        """Orders per space per day: orders / (available space-seconds / 86400)."""
        return _ratio(self.orders * 86400, self.available_seconds)

    @property
    def average_duration_minutes(self) -> float | None:
        return None if not self.sessions else round(self.dwell_seconds / self.sessions / 60, 2)

    @property
    def available_space_hours(self) -> float:
        return round(self.available_seconds / 3600, 2)

    @property
    def occupied_space_hours(self) -> float:
        return round(self.occupied_seconds / 3600, 2)

    @property
    def unknown_space_hours(self) -> float:
        return round(self.unknown_seconds / 3600, 2)


class DailyDistrictStat(_DayStat, ScopedModel):
    """One district's day: orders, money, arrears, complaints, occupancy and turnover."""

    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        on_delete=models.PROTECT,
        related_name="parking_daily_stats",
    )
    complaints = models.PositiveIntegerField(_("投诉数"), default=0)
    # Flows of the day from the arrears module (ArrearsRecord / PenaltyCase created that day).
    new_arrears_orders = models.PositiveIntegerField(_("新增欠费订单数"), default=0)
    new_arrears_fen = models.BigIntegerField(_("新增欠费金额（分）"), default=0)
    penalty_cases = models.PositiveIntegerField(_("处罚立案数"), default=0)

    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["-date", "district__sort_order"]
        verbose_name = _("区每日统计")
        verbose_name_plural = _("区每日统计")
        constraints = [
            models.UniqueConstraint(fields=["date", "district"], name="parking_dailydistrictstat_unique")
        ]
        indexes = [models.Index(fields=["district", "date"])]

    def __str__(self) -> str:
        return f"{self.district_id} {self.date}"


class DailySegmentStat(_DayStat, ScopedModel):
    """One segment's day (a CDS curb zone), with 24 local hours for the CDS Metrics aggregates.

    ``hourly`` = ``{"sessions": [24], "events": [24], "occupied": [24], "unknown": [24],
    "available": [24], "dwell": [24]}`` (counts and seconds; sessions/dwell by start hour).
    """

    segment = models.ForeignKey(
        "parking.Segment", verbose_name=_("路段"), on_delete=models.PROTECT, related_name="daily_stats"
    )
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="+"
    )
    events = models.PositiveIntegerField(_("设备事件数"), default=0)
    hourly = models.JSONField(_("分小时数据"), default=dict)

    scope_fields = {"district": "district", "unit": "segment__managing_unit"}

    class Meta:
        ordering = ["-date", "segment"]
        verbose_name = _("路段每日统计")
        verbose_name_plural = _("路段每日统计")
        constraints = [
            models.UniqueConstraint(fields=["date", "segment"], name="parking_dailysegmentstat_unique")
        ]
        indexes = [models.Index(fields=["district", "date"])]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.date}"
