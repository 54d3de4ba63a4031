"""临时数据统计 (statistic 10): saved areas, saved queries, scheduled and background Excel exports.

The query itself is a JSON spec checked by ``parking/stats2/builder.py`` every time it runs:
nothing here is trusted SQL, and every run applies the scope of the user it runs for (a
shared query or link shows the *viewer's* data; a scheduled export writes one file per
recipient, each under that recipient's scope).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _token() -> str:
    return secrets.token_urlsafe(24)


class VisibleQuerySet(models.QuerySet):
    def visible_to(self, user, *, extra_ids=()):
        """The rows ``user`` owns, the shared ones, and ``extra_ids`` (e.g. an area a shared query uses)."""
        return self.filter(Q(owner=user) | Q(shared=True) | Q(pk__in=list(extra_ids)))


class StatArea(models.Model):
    """A saved area (e.g. 夜京城·三里屯/簋街): a GCJ-02 polygon or a fixed list of segments."""

    class Kind(models.TextChoices):
        POLYGON = "polygon", _("多边形")
        SEGMENTS = "segments", _("路段列表")
        NIGHT = "night_economy", _("夜京城区域")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.POLYGON)
    polygon = models.JSONField(_("多边形（GeoJSON，GCJ-02）"), null=True, blank=True)
    segment_ids = models.JSONField(_("路段"), default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shared = models.BooleanField(_("共享"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("统计区域")
        verbose_name_plural = _("统计区域")

    def __str__(self) -> str:
        return self.name


class SavedQuery(models.Model):
    """A named query spec; ``share_token`` makes a link that still needs login and the viewer's scope."""

    name = models.CharField(_("名称"), max_length=100)
    spec = models.JSONField(_("查询条件"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), on_delete=models.CASCADE, related_name="+"
    )
    shared = models.BooleanField(_("共享"), default=False)
    share_token = models.CharField(_("分享令牌"), max_length=64, unique=True, default=_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("已保存查询")
        verbose_name_plural = _("已保存查询")
        indexes = [models.Index(fields=["owner", "name"])]

    def __str__(self) -> str:
        return self.name


class Cadence(models.TextChoices):
    DAILY = "daily", _("每日")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")


class ScheduledExport(models.Model):
    """A saved query exported to Excel on a cadence (the previous day / week / month)."""

    query = models.ForeignKey(
        SavedQuery, verbose_name=_("查询"), on_delete=models.CASCADE, related_name="schedules"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), on_delete=models.CASCADE, related_name="+"
    )
    cadence = models.CharField(_("周期"), max_length=8, choices=Cadence.choices)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), blank=True, related_name="+"
    )
    active = models.BooleanField(_("启用"), default=True)
    last_run = models.DateTimeField(_("上次运行"), null=True, blank=True)
    next_run = models.DateTimeField(_("下次运行"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run", "id"]
        verbose_name = _("定时导出")
        verbose_name_plural = _("定时导出")
        indexes = [models.Index(fields=["active", "next_run"])]

    def __str__(self) -> str:
        return f"{self.query} · {self.get_cadence_display()}"


class QueryExport(models.Model):
    """One Excel file of a query, written in the background (a too-large result, or a schedule run)
    under ``GOVCENTER_VAR_DIR/reports/parking/query/``, for ``user`` and computed under their scope."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="+"
    )
    spec = models.JSONField(_("查询条件"))
    title = models.CharField(_("名称"), max_length=100, blank=True)
    schedule = models.ForeignKey(
        ScheduledExport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exports",
        verbose_name=_("定时导出"),
    )
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveIntegerField(_("行数"), null=True, blank=True)
    file_path = models.CharField(max_length=255, blank=True)
    file_sm3 = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("查询导出")
        verbose_name_plural = _("查询导出")
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.title or self.pk} · {self.get_status_display()}"
