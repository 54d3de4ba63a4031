"""Generated monthly supervision reports (月度监管报告): one row per generation.

The files live under ``GOVCENTER_VAR_DIR/reports/bikeshare/<YYYY-MM>/<id>/`` (paths stored
relative to ``GOVCENTER_VAR_DIR``) with their SHA-256, so a download can prove it serves the
bytes that were generated. ``data_sha256`` is the digest of the gathered figures: two
generations of the same month from the same data have the same one. The report is a
city-wide Center document, so the rows are not scoped by district or operator; the
permissions ``view_monthlyreport`` / ``add_monthlyreport`` and the full data scope gate it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["MonthlyReport"]


class MonthlyReport(models.Model):
    """One generation of the monthly report of ``year``-``month``."""

    year = models.PositiveSmallIntegerField(_("年"))
    month = models.PositiveSmallIntegerField(_("月"))
    generated_at = models.DateTimeField(_("生成时间"))
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("生成人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_monthly_reports",
    )
    generated_by_name = models.CharField(_("生成人名称"), max_length=150, blank=True)
    docx_path = models.CharField(_("Word 文件"), max_length=255)
    docx_sha256 = models.CharField(_("Word 文件摘要"), max_length=64)
    docx_size = models.PositiveIntegerField(_("Word 文件大小"))
    xlsx_path = models.CharField(_("Excel 文件"), max_length=255)
    xlsx_sha256 = models.CharField(_("Excel 文件摘要"), max_length=64)
    xlsx_size = models.PositiveIntegerField(_("Excel 文件大小"))
    data_sha256 = models.CharField(_("数据摘要"), max_length=64)
    summary = models.JSONField(_("主要指标"), default=dict, blank=True)

    class Meta:
        ordering = ["-year", "-month", "-generated_at", "-id"]
        verbose_name = _("月度监管报告")
        verbose_name_plural = _("月度监管报告")
        indexes = [models.Index(fields=["year", "month"])]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"
