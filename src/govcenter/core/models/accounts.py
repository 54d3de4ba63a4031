"""People and what they may do: users (in a unit), roles (functions + data scope)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..scope import ScopedQuerySet, ScopeKind
from .org import District, Unit, validate_no_mask, validate_phone


class UserManager(DjangoUserManager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, username):
        # Usernames are unique without regard to case (enforced by a functional index).
        return self.get(username__iexact=username)


class User(AbstractUser):
    """A staff, operator or partner account; always belongs to a unit.

    Citizens are not users: they log in by phone + SMS code through the parking API.
    """

    unit = models.ForeignKey(Unit, verbose_name=_("所属单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    full_name = models.CharField(_("姓名"), max_length=40, blank=True, validators=[validate_no_mask])
    phone = models.CharField(_("手机号"), max_length=20, blank=True, validators=[validate_phone])
    roles = models.ManyToManyField("Role", verbose_name=_("角色"), blank=True, related_name="users")
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)
    must_change_password = models.BooleanField(_("下次登录须修改密码"), default=False)
    last_activity_at = models.DateTimeField(_("最近活动时间"), null=True, blank=True)
    disabled_reason = models.CharField(_("停用原因"), max_length=200, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [models.UniqueConstraint(Lower("username"), name="core_user_username_ci_unique")]
        permissions = [
            ("reveal_personal_data", _("查看未脱敏的个人信息")),
            ("manage_accounts", _("管理单位、用户和角色")),
            ("manage_security", _("管理安全策略、解除锁定")),
            ("view_audit", _("查看审计日志")),
            ("export_audit", _("导出审计日志")),
            ("read_sms_outbox", _("查看短信发件箱")),
            ("manage_calendar", _("维护工作日历")),
        ]

    def __str__(self) -> str:
        # The username, never the name: __str__ ends up in titles, logs and audit entries,
        # where a clear name would be an unaudited reveal of personal data.
        return self.username

    scope_fields = {"district": "unit__district", "unit": "unit", "operator": "unit"}

    def set_password(self, raw_password):
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()


class Role(models.Model):
    """A named set of function permissions plus one data scope."""

    code = models.SlugField(_("角色代码"), max_length=50, unique=True)
    name_zh = models.CharField(_("角色名称"), max_length=60)
    name_en = models.CharField(_("英文名称"), max_length=80, blank=True)
    description = models.TextField(_("说明"), blank=True)
    permissions = models.ManyToManyField(Permission, verbose_name=_("功能权限"), blank=True, related_name="govcenter_roles")
    scope_kind = models.CharField(_("数据范围"), max_length=16, choices=ScopeKind.choices, default=ScopeKind.OWN_UNIT)
    # Empty set with kind=districts means "the district of the user's unit" ($districts).
    districts = models.ManyToManyField(District, verbose_name=_("指定区"), blank=True, related_name="roles")
    # Empty with kind=operator means "the user's own unit, if it is an operator" ($operator).
    operator = models.ForeignKey(
        Unit,
        verbose_name=_("指定运营企业"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        limit_choices_to={"kind": "operator"},
        related_name="operator_roles",
    )
    is_builtin = models.BooleanField(_("内置角色"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("角色")
        verbose_name_plural = _("角色")

    def __str__(self) -> str:
        return self.name_zh

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") and self.name_en else self.name_zh


class PasswordHistory(models.Model):
    """Hashes of a user's previous passwords (the last N cannot be reused)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class LoginAttempt(models.Model):
    """One password or second-factor attempt; the lockout counts failures from here."""

    class Stage(models.TextChoices):
        PASSWORD = "password", _("口令")
        SMS = "sms", _("短信验证码")

    username = models.CharField(max_length=150, db_index=True)  # lower-cased
    ip = models.GenericIPAddressField(null=True, blank=True)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.PASSWORD)
    success = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["username", "success", "created_at"]),
            models.Index(fields=["ip", "success", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.stage} {'ok' if self.success else 'failed'} {self.created_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A bearer token for API clients; only its SM3 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=80)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
