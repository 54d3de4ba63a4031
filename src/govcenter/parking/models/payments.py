"""Payments of parking orders (支付单) through a payment provider, and every provider callback.

A :class:`PaymentIntent` pays one or several orders (one :class:`PaymentItem` each) for a
citizen, or for a plate without login (临时代缴). ``out_trade_no`` is our id sent to the
provider; ``provider_trade_no`` is theirs.

State: ``created → paid | failed | closed``. An item is *live* while its intent is created or
paid; a partial unique index allows one live item per order, so an order can never be in two
payments at once and, once paid, never in another one — the database refuses it even under
concurrent writers.

:class:`SandboxTrade` is the embedded sandbox provider's own ledger (its side of the story,
what its daily statement lists); it is not read by the payment services.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("待支付")
    PAID = "paid", _("已支付")
    FAILED = "failed", _("支付失败")
    CLOSED = "closed", _("已关闭")


LIVE_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PAID)


class PaymentIntent(models.Model):
    out_trade_no = models.CharField(_("商户订单号"), max_length=32, unique=True)
    citizen = models.ForeignKey(
        "parking.Citizen",
        verbose_name=_("公众用户"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    plate = models.CharField(_("代缴车牌号"), max_length=10, blank=True, help_text=_("免登录代缴时的车牌"))
    provider = models.CharField(_("支付渠道"), max_length=32)
    status = models.CharField(
        _("状态"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    total_fen = models.PositiveIntegerField(_("金额（分）"))
    idempotency_key = models.CharField(_("幂等键"), max_length=64)
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True)
    provider_data = models.JSONField(_("渠道下单结果"), default=dict, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("失效时间"))
    flagged = models.BooleanField(_("待核查"), default=False)
    flag_reason = models.CharField(_("核查原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("支付单")
        verbose_name_plural = _("支付单")
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "idempotency_key"],
                condition=Q(citizen__isnull=False),
                name="parking_payment_idem_per_citizen",
            ),
            models.UniqueConstraint(
                fields=["plate", "idempotency_key"],
                condition=Q(citizen__isnull=True),
                name="parking_payment_idem_per_plate",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_trade_no"],
                condition=~Q(provider_trade_no=""),
                name="parking_payment_one_intent_per_trade",
            ),
            models.CheckConstraint(
                condition=Q(citizen__isnull=False) | ~Q(plate=""), name="parking_payment_has_payer"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False), name="parking_payment_paid_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            # The lake exporter's watermark scan (parking/lake/sync.py).
            models.Index(fields=["updated_at"], name="parking_payment_updated"),
        ]

    def __str__(self) -> str:
        return f"payment {self.out_trade_no} ({self.status})"


class PaymentItem(models.Model):
    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey("parking.Order", on_delete=models.PROTECT, related_name="payment_items")
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    # True while the intent is created or paid (kept in step by the payment services): the
    # partial unique index below is what makes a second payment of one order impossible.
    live = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("支付明细")
        verbose_name_plural = _("支付明细")
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(live=True), name="parking_payment_one_live_item_per_order"
            ),
            models.UniqueConstraint(fields=["intent", "order"], name="parking_payment_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.intent_id}/{self.order_id}"


class PaymentNotification(models.Model):
    """One callback from the provider, stored as received, verified or not."""

    class Outcome(models.TextChoices):
        PAID = "paid", _("已入账")
        REPLAY = "replay", _("重复通知")
        BAD_SIGNATURE = "bad_signature", _("签名无效")
        AMOUNT_MISMATCH = "amount_mismatch", _("金额不符")
        UNKNOWN_TRADE = "unknown_trade", _("未知订单")
        NOT_PAYABLE = "not_payable", _("订单不可支付")
        FAILED = "failed", _("支付失败")

    provider = models.CharField(_("支付渠道"), max_length=32)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(_("原始报文"))
    signature = models.CharField(_("签名"), max_length=512, blank=True)
    verified = models.BooleanField(_("验签通过"), default=False)
    outcome = models.CharField(_("处理结果"), max_length=20, choices=Outcome.choices)
    out_trade_no = models.CharField(max_length=32, blank=True, db_index=True)
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True, db_index=True)
    intent = models.ForeignKey(
        PaymentIntent, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("支付通知")
        verbose_name_plural = _("支付通知")

    def __str__(self) -> str:
        return f"notification {self.pk} {self.outcome}"


class SandboxTrade(models.Model):
    """The sandbox provider's ledger: what a real provider keeps on its side."""

    class State(models.TextChoices):
        NOTPAY = "NOTPAY", "NOTPAY"
        SUCCESS = "SUCCESS", "SUCCESS"
        CLOSED = "CLOSED", "CLOSED"

    out_trade_no = models.CharField(max_length=32, unique=True)
    trade_no = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField()
    description = models.CharField(max_length=128, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.NOTPAY)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox trade"
        indexes = [models.Index(fields=["state", "paid_at"])]

    def __str__(self) -> str:
        return f"{self.trade_no} {self.state}"
