"""The weekly and monthly parking reports (周报 / 月报, statistics 8 and 9): one row per kind,
period and place (the city, or one district's version), with its parameters, status, the
stored Word and Excel files and their SM3 digests (checked at every download).

Regenerating replaces the row's files with a new ``version``; the row stays unique per
kind + period start + district (two partial constraints, since NULL districts never collide).

On demand (the page and the API) a report is *requested*: the row is ``queued`` (with who asked
and when) and a Huey job builds it (``running``, then ``done``); a stored version stays
downloadable meanwhile. A failed job leaves its error on the row (``failed`` when there is no
stored version, else back to ``done`` with the previous files).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class ParkingReportKind(models.TextChoices):
    WEEKLY = "weekly", _("周报")
    MONTHLY = "monthly", _("月报")


class ParkingReportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("生成中")
    DONE = "done", _("已生成")
    FAILED = "failed", _("生成失败")


class ParkingReport(ScopedModel):
    kind = models.CharField(_("报告类型"), max_length=10, choices=ParkingReportKind.choices)
    period_start = models.DateField(_("期间开始"))
    period_end = models.DateField(_("期间结束"))
    label = models.CharField(_("期间"), max_length=10)  # 2026-10 or 2026-W44
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("空：全市版本"),
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    parameters = models.JSONField(_("参数"), default=dict)
    status = models.CharField(_("状态"), max_length=10, choices=ParkingReportStatus.choices)
    docx_path = models.CharField(_("Word 文件"), max_length=300, blank=True)
    docx_sm3 = models.CharField(_("Word SM3"), max_length=64, blank=True)
    xlsx_path = models.CharField(_("Excel 文件"), max_length=300, blank=True)
    xlsx_sm3 = models.CharField(_("Excel SM3"), max_length=64, blank=True)
    summary = models.JSONField(_("摘要"), default=dict)
    generated_at = models.DateTimeField(_("生成时间"))
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("生成人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    generated_by_name = models.CharField(_("生成人"), max_length=150, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)
    error = models.TextField(_("错误"), blank=True)
    requested_at = models.DateTimeField(_("申请时间"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    # The city version (district NULL) is not in any district's scope: only a full scope sees it
    # through restrict(); the services add it for holders of view_city_parkingreport.
    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["-period_start", "kind", "district__sort_order"]
        verbose_name = _("停车统计报告")
        verbose_name_plural = _("停车统计报告")
        permissions = [("view_city_parkingreport", _("可查看全市停车统计报告"))]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period_start", "district"],
                condition=Q(district__isnull=False),
                name="parking_report_unique_district",
            ),
            models.UniqueConstraint(
                fields=["kind", "period_start"],
                condition=Q(district__isnull=True),
                name="parking_report_unique_city",
            ),
        ]
        indexes = [models.Index(fields=["kind", "period_start"], name="parking_report_period")]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} {self.district_id or 'city'} v{self.version}"
