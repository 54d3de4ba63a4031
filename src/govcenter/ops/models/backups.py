"""Backups (备份) of the database and the lake manifest, and the restore drills (恢复演练) that
prove a backup can be restored: per-table row counts and content checksums captured at backup
time, compared table by table against a scratch restore."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class BackupKind(models.TextChoices):
    DATABASE = "database", _("数据库")
    LAKE = "lake", _("数据湖清单")


class BackupEngine(models.TextChoices):
    SQLITE = "sqlite", "SQLite"
    POSTGRESQL = "postgresql", "PostgreSQL"
    LAKE = "lake", _("数据湖")


class BackupState(models.TextChoices):
    OK = "ok", _("成功")
    FAILED = "failed", _("失败")


class Backup(models.Model):
    """One backup file: SM4-encrypted (chunked, ``ops.backups.stream``), SM3 checksums of the
    ciphertext and of the plaintext, the id of the key (never the key), and the figures of every
    table (``{"table": {"rows": n, "sm3": hex}}``) taken in the same snapshot as the dump."""

    kind = models.CharField(_("类型"), max_length=10, choices=BackupKind.choices)
    engine = models.CharField(_("引擎"), max_length=12, choices=BackupEngine.choices)
    state = models.CharField(_("状态"), max_length=8, choices=BackupState.choices)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"))
    path = models.CharField(_("文件"), max_length=255, blank=True, help_text=_("相对于备份目录"))
    size = models.BigIntegerField(_("大小（字节）"), default=0)
    sm3_ciphertext = models.CharField(_("密文 SM3"), max_length=64, blank=True)
    sm3_plaintext = models.CharField(_("明文 SM3"), max_length=64, blank=True)
    key_id = models.CharField(_("密钥标识"), max_length=32, blank=True)
    tables = models.JSONField(_("各表行数与校验和"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    expires_at = models.DateTimeField(_("保留至"), null=True, blank=True)
    historical = models.BooleanField(_("历史演示记录"), default=False,
                                     help_text=_("演示数据：只有元数据，没有备份文件"))  # fmt: skip

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["kind", "state", "-started_at"], name="ops_backup_kind_state")]
        permissions = [("run_backup", _("可执行备份与恢复演练"))]
        verbose_name = _("备份")
        verbose_name_plural = _("备份")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M} ({self.get_state_display()})"


class DrillResult(models.TextChoices):
    PASSED = "passed", _("通过")
    FAILED = "failed", _("未通过")


class RestoreDrill(models.Model):
    """A restore of one backup into a scratch target (never the live database), compared
    table by table: ``[{"table", "rows_expected", "rows_restored", "sm3_expected",
    "sm3_restored", "match"}]``. Kept when its backup is pruned (``backup_label`` stays)."""

    backup = models.ForeignKey(Backup, verbose_name=_("备份"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="drills")  # fmt: skip
    backup_label = models.CharField(_("备份文件"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"))
    scratch_target = models.CharField(_("演练目标"), max_length=255, blank=True)
    result = models.CharField(_("结果"), max_length=8, choices=DrillResult.choices)
    tables = models.JSONField(_("逐表比对"), default=list, blank=True)
    mismatched = models.JSONField(_("不一致的表"), default=list, blank=True)
    error = models.TextField(_("错误"), blank=True)
    historical = models.BooleanField(_("历史演示记录"), default=False)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("恢复演练")
        verbose_name_plural = _("恢复演练")

    def __str__(self) -> str:
        return f"{self.backup_label} {self.started_at:%Y-%m-%d %H:%M} ({self.get_result_display()})"
