"""SMS one-time codes, templates and the outbox (the embedded gateway's delivery log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SmsCode(models.Model):
    """A 6-digit code sent to a phone; only a keyed hash of it is stored."""

    phone = models.CharField(max_length=20, db_index=True)
    purpose = models.CharField(max_length=30)  # staff_login, citizen_login, …
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)
    burned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["phone", "purpose", "created_at"])]

    def __str__(self) -> str:
        # Never the code or the full phone: this shows up in logs and the admin.
        return f"{self.purpose} code for …{self.phone[-4:]} at {self.created_at:%Y-%m-%d %H:%M}"


class SmsCategory(models.TextChoices):
    LOGIN_CODE = "login_code", _("登录验证码")
    REMINDER = "reminder", _("催缴提醒")
    PENALTY = "penalty", _("处罚通知")
    PERMIT = "permit", _("居住停车许可")
    CASE = "case", _("事项办理")
    OTHER = "other", _("其他")


class SmsTemplate(models.Model):
    """The text of one kind of SMS (``{placeholder}`` fields); built-ins come from the registry.

    A row overrides the built-in text of its code (core.sms registry); editing is audited and
    the placeholders are checked against the registry's allowed set.
    """

    code = models.CharField(_("模板代码"), max_length=40, unique=True)
    name = models.CharField(_("模板名称"), max_length=100)
    body = models.TextField(_("模板内容"))
    category = models.CharField(
        _("类别"), max_length=12, choices=SmsCategory.choices, default=SmsCategory.OTHER
    )
    active = models.BooleanField(_("启用"), default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("修改时间"), default=timezone.now)

    class Meta:
        ordering = ["category", "code"]
        verbose_name = _("短信模板")
        verbose_name_plural = _("短信模板")

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class SmsMessage(models.Model):
    """An SMS handed to the gateway; the outbox table is the embedded gateway itself."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")

    phone = models.CharField(_("手机号"), max_length=20, db_index=True)
    template = models.CharField(_("模板"), max_length=40)
    category = models.CharField(
        _("类别"),
        max_length=12,
        choices=SmsCategory.choices,
        default=SmsCategory.OTHER,
        db_default=SmsCategory.OTHER,
    )
    body = models.TextField(_("内容"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    gateway = models.CharField(_("通道"), max_length=60, blank=True)
    error = models.CharField(_("错误"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "category", "template", "status"]),
            models.Index(fields=["updated_at"], name="core_sms_updated"),
        ]
        verbose_name = _("短信")
        verbose_name_plural = _("短信发件箱")

    def __str__(self) -> str:
        return f"{self.template} → …{self.phone[-4:]} ({self.status})"
