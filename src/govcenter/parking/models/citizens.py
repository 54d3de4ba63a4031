"""Citizens of the "北京交通" app: phone-number accounts, their tokens, plates, transfers.

Citizens are not staff users (core.User): they log in by phone number + SMS code only and
see nothing but their own plates, orders and receipts.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .tariff import VehicleClass


class Citizen(models.Model):
    phone = models.CharField(_("手机号"), max_length=20, unique=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("注册时间"), default=timezone.now)
    last_login_at = models.DateTimeField(_("最近登录"), null=True, blank=True)

    class Meta:
        verbose_name = _("公众用户")
        verbose_name_plural = _("公众用户")

    def __str__(self) -> str:
        # Never the phone: str() ends up in logs and audit entries.
        return f"citizen:{self.pk}"


class CitizenToken(models.Model):
    """A bearer token of the app; only its SM3 digest is stored."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["citizen", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.citizen})"


class PlateBinding(models.Model):
    """A plate bound to one citizen account; a plate has at most one active binding."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("已绑定")
        RELEASED = "released", _("已解绑")

    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="plates")
    plate = models.CharField(_("车牌号"), max_length=10, db_index=True)
    vehicle_class = models.CharField(
        _("车型"), max_length=10, choices=VehicleClass.choices, default=VehicleClass.SMALL
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    bound_at = models.DateTimeField(_("绑定时间"), default=timezone.now)
    released_at = models.DateTimeField(_("解绑时间"), null=True, blank=True)

    class Meta:
        ordering = ["-bound_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["plate"], condition=Q(status="active"), name="parking_plate_one_active_binding"
            )
        ]

    def __str__(self) -> str:
        from govcenter.core.masking import mask_plate

        return f"{mask_plate(self.plate)} → {self.citizen}"


class PlateTransfer(models.Model):
    """A request to move a plate from the account holding it to the requester's account."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待确认")
        APPROVED = "approved", _("已同意")
        REJECTED = "rejected", _("已拒绝")
        EXPIRED = "expired", _("已过期")

    plate = models.CharField(_("车牌号"), max_length=10, db_index=True)
    from_citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="transfers_out")
    to_citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["plate", "to_citizen"],
                condition=Q(status="pending"),
                name="parking_one_pending_transfer",
            )
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} ({self.status})"
