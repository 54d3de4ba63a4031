"""Custom events for the holiday/event comparison statistic (12 重大活动节假日数据统计).

A :class:`StatEvent` is a named date window (a concert, a trade fair, a road closure …),
city-wide or in one district, that the comparison page offers as a one-click period beside
the statutory holidays of the working calendar. Written only through the services in
``parking/stats2/events.py`` (audited).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class StatEvent(ScopedModel):
    """A named period (Beijing dates, inclusive) compared with a baseline on the comparison page."""

    scope_fields = {"district": "district"}

    name = models.CharField(_("活动名称"), max_length=100)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("留空表示全市活动"),
    )
    note = models.TextField(_("备注"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-start", "name"]
        verbose_name = _("统计活动")
        verbose_name_plural = _("统计活动")
        indexes = [models.Index(fields=["start", "end"], name="parking_statevent_window")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="parking_statevent_end_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.start}–{self.end})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1
