"""Fiscal e-receipts of paid parking orders (电子收费票据).

A :class:`Receipt` covers one paid order, or several paid orders of one district (合并开票).
Its number comes from the district's :class:`ReceiptSeries` of the year
(``京停110105-2026-00000042``): allocated under a row lock in the issuing transaction, so
numbers are unique and gapless per series even with concurrent issuers (a rolled-back issue
gives its number back).

What is signed is ``content``: a canonical JSON document (number, district, payee, masked
payer, items, total, issue time) whose canonical bytes are signed with the system SM2 key
(SM2 over SM3, ``govcenter.core.crypto``). ``public_key``/``key_id`` name the key; verifying
accepts only the system key and the trusted earlier keys (``core.audit.trusted_public_keys``).

A paid order is on at most one issued receipt: :class:`ReceiptItem`'s ``live`` flag is true
while its receipt is issued, and a partial unique index allows one live item per order. A
voided receipt (红冲) frees its orders for a new receipt.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class ReceiptSeries(models.Model):
    """The numbering series of one district and year; ``next_number`` is the next to give."""

    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="receipt_series"
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    prefix = models.CharField(_("票据号前缀"), max_length=40, unique=True)
    next_number = models.PositiveIntegerField(_("下一号码"), default=1)

    class Meta:
        ordering = ["district", "-year"]
        verbose_name = _("票据号段")
        verbose_name_plural = _("票据号段")
        constraints = [
            models.UniqueConstraint(fields=["district", "year"], name="parking_receipt_series_once"),
            models.CheckConstraint(condition=Q(next_number__gte=1), name="parking_receipt_series_positive"),
        ]

    def __str__(self) -> str:
        return self.prefix


class ReceiptStatus(models.TextChoices):
    ISSUED = "issued", _("已开具")
    VOIDED = "voided", _("已红冲")


class Receipt(ScopedModel):
    number = models.CharField(_("票据号码"), max_length=64, unique=True)
    series = models.ForeignKey(
        ReceiptSeries, verbose_name=_("票据号段"), on_delete=models.PROTECT, related_name="receipts"
    )
    sequence = models.PositiveIntegerField(_("序号"))
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_receipts"
    )
    payee_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("收款单位"), on_delete=models.PROTECT, related_name="parking_receipts"
    )
    citizen = models.ForeignKey(
        "parking.Citizen",
        verbose_name=_("公众用户"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    payer_plate = models.CharField(_("交款人车牌（脱敏）"), max_length=200, blank=True)
    total_fen = models.PositiveIntegerField(_("金额（分）"))
    issued_at = models.DateTimeField(_("开票时间"))
    content = models.JSONField(_("票面内容"))
    content_sm3 = models.CharField(_("票面摘要（SM3）"), max_length=64)
    signature = models.TextField(_("签名（Base64）"))
    key_id = models.CharField(_("密钥标识"), max_length=64)
    public_key = models.TextField(_("签名公钥"))
    status = models.CharField(
        _("状态"), max_length=10, choices=ReceiptStatus.choices, default=ReceiptStatus.ISSUED
    )
    void_reason = models.CharField(_("红冲原因"), max_length=200, blank=True)
    voided_at = models.DateTimeField(_("红冲时间"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voided_by_username = models.CharField(_("红冲人"), max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "payee_unit"}

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("电子票据")
        verbose_name_plural = _("电子票据")
        permissions = [("void_receipt", _("可红冲电子票据"))]
        constraints = [
            models.UniqueConstraint(fields=["series", "sequence"], name="parking_receipt_sequence_once"),
            models.CheckConstraint(
                condition=Q(status="issued") | ~Q(void_reason=""), name="parking_receipt_void_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["district", "status", "issued_at"]),
            models.Index(fields=["issued_at"]),
            models.Index(fields=["updated_at"], name="parking_receipt_updated"),
        ]

    def __str__(self) -> str:
        return self.number


class ReceiptItem(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey("parking.Order", on_delete=models.PROTECT, related_name="receipt_items")
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    # True while the receipt is issued; the partial unique index is what makes a second
    # issued receipt of one order impossible, whatever the services do.
    live = models.BooleanField(default=True)

    class Meta:
        ordering = ["receipt", "order"]
        verbose_name = _("票据明细")
        verbose_name_plural = _("票据明细")
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(live=True), name="parking_receipt_one_live_item_per_order"
            ),
            models.UniqueConstraint(fields=["receipt", "order"], name="parking_receipt_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id}/{self.order_id}"
