"""Web anti-tamper (网页防篡改: a signed baseline of templates and static files, and the checks
against it) and the central log audit (日志审计: application log records collected from every
host; the kernel audit chain is searched alongside, never copied)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IntegrityBaseline(models.Model):
    """One signed manifest of every watched file: ``manifest`` is the exact JSON text that
    ``signature`` (SM2, hex DER, by the system key) covers; its SM3 is ``manifest_digest``. The
    pristine copies live in the content-addressed baseline store (var dir), keyed by SM3."""

    created_at = models.DateTimeField(_("创建时间"), db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")  # fmt: skip
    file_count = models.PositiveIntegerField(_("文件数"))
    total_bytes = models.BigIntegerField(_("总字节数"), default=0)
    manifest = models.TextField(_("清单"))
    manifest_digest = models.CharField(_("清单摘要（SM3）"), max_length=64)
    signature = models.TextField(_("签名（SM2）"))
    public_key = models.TextField(_("签名公钥"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("防篡改基线")
        verbose_name_plural = _("防篡改基线")
        default_permissions = ("view",)
        permissions = [
            ("manage_integrity", _("管理防篡改基线")),
            ("run_integrity_check", _("执行完整性检查")),
        ]

    def __str__(self) -> str:
        return f"baseline #{self.pk} ({self.file_count})"


class CheckStatus(models.TextChoices):
    OK = "ok", _("一致")
    MISMATCH = "mismatch", _("发现篡改")
    REFUSED = "refused", _("基线签名无效")


CHECK_TRIGGERS = [("cli", _("命令行")), ("task", _("定时任务")), ("web", _("页面")), ("demo", _("演示"))]


class IntegrityCheck(models.Model):
    """One run of the check. ``mismatches``: ``[{path, kind (modified|missing|added|manifest),
    expected, found, restored, quarantined, error}]``."""

    baseline = models.ForeignKey(IntegrityBaseline, verbose_name=_("基线"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="checks")  # fmt: skip
    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    finished_at = models.DateTimeField(_("结束时间"))
    status = models.CharField(_("结果"), max_length=10, choices=CheckStatus.choices)
    trigger = models.CharField(_("触发方式"), max_length=10, default="cli", choices=CHECK_TRIGGERS)
    restore = models.BooleanField(_("自动恢复"), default=True)
    files_checked = models.PositiveIntegerField(_("检查文件数"), default=0)
    bytes_hashed = models.BigIntegerField(_("计算字节数"), default=0)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)
    mismatches = models.JSONField(_("不一致项"), default=list, blank=True)
    incidents = models.JSONField(_("故障单"), default=list, blank=True)
    alert_error = models.CharField(_("告警失败原因"), max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("完整性检查")
        verbose_name_plural = _("完整性检查")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"check #{self.pk} {self.status}"

    @property
    def restored_count(self) -> int:
        return sum(1 for m in self.mismatches if m.get("restored"))


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", "DEBUG"
    INFO = "INFO", "INFO"
    WARNING = "WARNING", "WARNING"
    ERROR = "ERROR", "ERROR"
    CRITICAL = "CRITICAL", "CRITICAL"


class LogRecord(models.Model):
    """One application log record, from this process (the central log handler) or another host
    (``POST /api/v1/ops/logs``). Every filter of the search page has an index."""

    ts = models.DateTimeField(_("时间"))
    level = models.CharField(_("级别"), max_length=8, choices=LogLevel.choices)
    logger = models.CharField(_("记录器"), max_length=100, blank=True)
    message = models.TextField(_("消息"))
    request_id = models.CharField(_("请求ID"), max_length=64, blank=True)
    user_id = models.BigIntegerField(_("用户ID"), null=True, blank=True)
    username = models.CharField(_("用户"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=40, blank=True)
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True)
    object_id = models.CharField(_("对象ID"), max_length=64, blank=True)
    source_host = models.CharField(_("来源主机"), max_length=100, blank=True)
    source_app = models.CharField(_("来源应用"), max_length=50, blank=True)
    extra = models.JSONField(_("附加信息"), default=dict, blank=True)

    class Meta:
        ordering = ["-ts", "-pk"]
        verbose_name = _("应用日志")
        verbose_name_plural = _("应用日志")
        default_permissions = ("view",)
        permissions = [
            ("export_logrecord", _("导出日志")),
            ("ingest_logrecord", _("提交日志")),
        ]
        indexes = [
            models.Index(fields=["ts"], name="ops_log_ts_idx"),
            models.Index(fields=["user_id", "ts"], name="ops_log_user_ts_idx"),
            models.Index(fields=["username", "ts"], name="ops_log_username_ts_idx"),
            models.Index(fields=["action", "ts"], name="ops_log_action_ts_idx"),
            models.Index(fields=["object_type", "object_id"], name="ops_log_object_idx"),
            models.Index(fields=["level", "ts"], name="ops_log_level_ts_idx"),
            models.Index(fields=["request_id"], name="ops_log_request_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.level} {self.logger}"
