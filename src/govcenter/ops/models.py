"""The O&M contract's SLA policy table and its special-guard periods (重要活动保障期)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    S1 = "S1", _("一级：系统不可用")
    S2 = "S2", _("二级：主要功能不可用")
    S3 = "S3", _("三级：部分功能受影响")
    S4 = "S4", _("四级：轻微或咨询")


class DayKind(models.TextChoices):
    """The kind of day a fault is reported on: it decides which policy row applies."""

    WORKDAY = "workday", _("工作日")
    RESTDAY = "restday", _("非工作日")
    GUARD = "guard", _("重要活动保障期")


class SlaPolicy(models.Model):
    """One row of the policy table: the targets for a severity reported on a kind of day.

    ``resolve_minutes`` counts clock minutes from the report (pauses excluded); with
    ``resolve_by_next_workday`` the fault must instead be resolved before the next working day
    begins (settings.GOVCENTER_OPS_WORKDAY_START), pauses again pushing the deadline back.
    """

    severity = models.CharField(_("级别"), max_length=2, choices=Severity.choices)
    day_kind = models.CharField(_("报告日类型"), max_length=8, choices=DayKind.choices)
    respond_minutes = models.PositiveIntegerField(_("响应时限（分钟）"))
    resolve_minutes = models.PositiveIntegerField(_("解决时限（分钟）"), null=True, blank=True)
    resolve_by_next_workday = models.BooleanField(_("下一工作日开始前解决"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day_kind", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "day_kind"], name="ops_sla_policy_unique"),
            models.CheckConstraint(
                condition=models.Q(resolve_by_next_workday=True, resolve_minutes__isnull=True)
                | models.Q(resolve_by_next_workday=False, resolve_minutes__isnull=False),
                name="ops_sla_policy_one_resolve_rule",
            ),
        ]
        verbose_name = _("SLA 策略")
        verbose_name_plural = _("SLA 策略")

    def __str__(self) -> str:
        return f"{self.get_severity_display()} · {self.get_day_kind_display()}"


class GuardPeriod(models.Model):
    """A special-guard period (重要活动保障期: the Two Sessions, National Day …): faults
    reported inside it follow the guard rows of the policy table. Periods never overlap."""

    name = models.CharField(_("名称"), max_length=100)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="ops_guard_period_order")
        ]
        verbose_name = _("重要活动保障期")
        verbose_name_plural = _("重要活动保障期")

    def __str__(self) -> str:
        return self.name
