"""The tamper-evident audit chain (written only by govcenter.core.audit)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One audited action. ``hash = SM3(prev_hash ‖ canonical(entry))``.

    User and unit are copied (ids and names), not foreign keys: deleting a user must
    neither cascade into nor change the chain.
    """

    seq = models.BigIntegerField(_("序号"), unique=True)
    created_at = models.DateTimeField(_("时间"), db_index=True)
    user_id = models.BigIntegerField(_("用户ID"), null=True, blank=True, db_index=True)
    username = models.CharField(_("用户"), max_length=150, blank=True)
    unit_id = models.BigIntegerField(_("单位ID"), null=True, blank=True)
    unit_name = models.CharField(_("单位"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(_("来源IP"), null=True, blank=True)
    request_id = models.CharField(_("请求ID"), max_length=64, blank=True)
    channel = models.CharField(_("渠道"), max_length=10, blank=True)
    action = models.CharField(_("操作"), max_length=40, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True, db_index=True)
    object_id = models.CharField(_("对象ID"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    success = models.BooleanField(_("成功"), default=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    reason = models.TextField(_("理由"), blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # Every filter of the audit UI has an index (created_at, user_id, action above).
            models.Index(fields=["unit_id", "seq"], name="core_audit_unit_seq_idx"),
            models.Index(fields=["request_id"], name="core_audit_request_idx"),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class CheckpointKind(models.TextChoices):
    COUNT = "count", _("每N条")
    DAILY = "daily", _("每日")
    MANUAL = "manual", _("手动")
    PURGE = "purge", _("清理锚点")


class AuditCheckpoint(models.Model):
    """An SM2-signed statement of the chain head at ``seq`` (every N entries and daily).

    ``signature`` (hex DER) covers :func:`govcenter.core.audit.checkpoint_message`, i.e.
    seq, entry hash, kind and signing time. A ``purge`` checkpoint anchors the chain after
    a legitimate purge: its seq is the last purged entry, whose hash the first kept entry
    still names as ``prev_hash``.
    """

    seq = models.BigIntegerField(unique=True)
    entry_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    kind = models.CharField(
        _("类型"), max_length=10, choices=CheckpointKind.choices, default=CheckpointKind.COUNT
    )
    signature = models.TextField()
    public_key = models.TextField()

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("审计检查点")
        verbose_name_plural = _("审计检查点")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} ({self.kind})"


class AuditPurgeGate(models.Model):
    """One row (id=1) the SQLite delete triggers consult: deletes pass only while it is open.

    Only :func:`govcenter.core.audit.audit_purge` opens it, inside its own transaction, and
    closes it again before commit, so no other connection ever sees it open. PostgreSQL
    uses a transaction-local setting instead (``SET LOCAL govcenter.audit_purge``).
    """

    is_open = models.BooleanField(default=False)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return "open" if self.is_open else "closed"
