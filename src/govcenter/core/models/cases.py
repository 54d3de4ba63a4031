"""Notifications, comments and attachments of any object (core/notifications.py, core/comments.py,
core/attachments.py; ADR 0006)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One in-app message to one user (the SMS copy, if any, is an SmsMessage of the outbox)."""

    class Level(models.TextChoices):
        INFO = "info", _("通知")
        WARNING = "warning", _("提醒")
        DANGER = "danger", _("紧急")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("接收人")
    )
    verb = models.CharField(_("类型"), max_length=40)
    level = models.CharField(_("级别"), max_length=10, choices=Level.choices, default=Level.INFO)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("对象类型")
    )
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    target = GenericForeignKey("content_type", "object_id")
    url = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        indexes = [models.Index(fields=["recipient", "read_at", "created_at"], name="core_notification_inbox")]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    """A comment on a case, or one entry of its communication log (a call, a letter, a meeting)."""

    class Kind(models.TextChoices):
        COMMENT = "comment", _("备注")
        CALL = "call", _("电话沟通")
        LETTER = "letter", _("函件往来")
        MEETING = "meeting", _("会议协调")
        VISIT = "visit", _("现场走访")

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("对象类型"))
    object_id = models.CharField(_("对象编号"), max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    counterpart = models.CharField(_("沟通对象"), max_length=100, blank=True)
    body = models.TextField(_("内容"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("记录人")
    )
    author_name = models.CharField(_("记录人姓名"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("沟通记录")
        verbose_name_plural = _("沟通记录")
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"], name="core_comment_object")]

    def __str__(self) -> str:
        return self.body[:40]


class Attachment(models.Model):
    """A file attached to any object, kept by the attachment storage (core/attachments.py).

    ``content_type_sniffed`` is what the bytes are (their signature), never what the upload
    claimed; ``sm3`` / ``sha256`` are the digests of the stored bytes (the storage key is the SM3
    digest, so identical files are stored once); ``text`` is what could be extracted for search.
    A deleted attachment keeps its row (``deleted_at``, who) for the record; its bytes go when no
    other attachment shares them.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("对象类型"))
    object_id = models.CharField(_("对象编号"), max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    name = models.CharField(_("文件名"), max_length=200)
    kind = models.CharField(_("文件类型"), max_length=10)
    mime = models.CharField(_("MIME 类型"), max_length=100)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sm3 = models.CharField(_("SM3 摘要"), max_length=64)
    sha256 = models.CharField(_("SHA-256 摘要"), max_length=64)
    storage_key = models.CharField(_("存储键"), max_length=200)
    text = models.TextField(_("提取文本"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    deleted_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("删除人")
    )

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        indexes = [
            models.Index(fields=["content_type", "object_id", "uploaded_at"], name="core_attachment_object"),
            models.Index(fields=["sm3"], name="core_attachment_sm3"),
        ]

    def __str__(self) -> str:
        return self.name
