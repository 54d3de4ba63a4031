"""China's official working calendar, as an override table administrators can edit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """A day whose status differs from the plain weekday/weekend rule, or is confirmed.

    Seeded from the ``chinesecalendar`` package (statutory holidays and 调休 make-up
    workdays); administrators add next year's days once the State Council publishes them.
    Days not in the table follow Monday–Friday.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日")
        ADJUSTED_WORKDAY = "adjusted_workday", _("调休上班")
        WORKDAY = "workday", _("工作日")
        REST_DAY = "rest_day", _("休息日")

    class Source(models.TextChoices):
        PACKAGE = "package", _("chinesecalendar 数据")
        ADMIN = "admin", _("管理员维护")

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("节日名称"), max_length=40, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.ADMIN)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("日历调整")
        verbose_name_plural = _("日历调整")

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"
