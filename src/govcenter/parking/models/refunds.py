"""Refunds of payments (退款) and the daily reconciliation with the provider (对账).

:class:`Refund`: one refund of (part of) a :class:`PaymentIntent`, optionally for one of its
orders, with a reason. State ``requested → approved → succeeded | failed``, or
``requested → rejected``. The approver is never the requester (four-eyes, also a database
check). A refund is *live* while requested, approved or succeeded: the live refunds of a
payment never add up to more than what was paid (the services lock the payment).

Refunds never edit the order: ``Order.amount_paid_fen`` stays what was received; what went
back is the sum of the order's succeeded refunds (see ``services/refunds.py``).

:class:`ReconciliationRun` is one day's comparison of the provider statement with our ledger;
its :class:`ReconciliationDifference` rows are what staff resolve. :class:`SandboxRefund` is the
embedded sandbox provider's own refund ledger (like :class:`SandboxTrade`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准（退款中）")
    SUCCEEDED = "succeeded", _("退款成功")
    FAILED = "failed", _("退款失败")
    REJECTED = "rejected", _("已驳回")


LIVE_REFUND_STATUSES = (RefundStatus.REQUESTED, RefundStatus.APPROVED, RefundStatus.SUCCEEDED)


class RefundReason(models.TextChoices):
    FEE_ADJUSTED = "fee_adjusted", _("费用调整（投诉减免）")
    DUPLICATE = "duplicate", _("重复支付")
    PAID_AFTER_CLOSE = "paid_after_close", _("关闭后支付")
    ORDER_VOID = "order_void", _("订单作废")
    OTHER = "other", _("其他")


class Refund(ScopedModel):
    refund_no = models.CharField(_("退款单号"), max_length=32, unique=True)
    intent = models.ForeignKey(
        "parking.PaymentIntent", verbose_name=_("支付单"), on_delete=models.PROTECT, related_name="refunds"
    )
    order = models.ForeignKey(
        "parking.Order",
        verbose_name=_("停车订单"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    # The district whose manager may ask for it: the order's, or the payment's when all its
    # orders are in one district; empty (only city-wide staff) when a payment spans districts.
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parking_refunds",
    )
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True)
    amount_fen = models.PositiveIntegerField(_("退款金额（分）"))
    reason_category = models.CharField(_("退款原因"), max_length=20, choices=RefundReason.choices)
    reason = models.CharField(_("原因说明"), max_length=500)
    status = models.CharField(
        _("状态"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by_username = models.CharField(_("申请人"), max_length=150, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_by_username = models.CharField(_("审批人"), max_length=150, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=500, blank=True)
    provider_refund_no = models.CharField(_("渠道退款单号"), max_length=64, blank=True)
    failure_reason = models.CharField(_("失败原因"), max_length=200, blank=True)
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    succeeded_at = models.DateTimeField(_("退款成功时间"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        permissions = [
            ("request_refund", _("可申请退款")),
            ("approve_refund", _("可审批退款")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="parking_refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="parking_refund_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(succeeded_at__isnull=False),
                name="parking_refund_succeeded_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"]),
            models.Index(fields=["succeeded_at"]),
            # The lake exporter's watermark scan (parking/lake/sync.py).
            models.Index(fields=["updated_at"], name="parking_refund_updated"),
        ]

    def __str__(self) -> str:
        return f"refund {self.refund_no} ({self.status})"

    @property
    def live(self) -> bool:
        return self.status in LIVE_REFUND_STATUSES


class ReconciliationRun(models.Model):
    class Status(models.TextChoices):
        BALANCED = "balanced", _("平账")
        DIFFERENCES = "differences", _("有差异")

    date = models.DateField(_("对账日期"))
    provider = models.CharField(_("支付渠道"), max_length=32)
    status = models.CharField(_("结果"), max_length=12, choices=Status.choices)
    statement_count = models.PositiveIntegerField(_("渠道笔数"), default=0)
    statement_paid_fen = models.BigIntegerField(_("渠道收款（分）"), default=0)
    statement_refunded_fen = models.BigIntegerField(_("渠道退款（分）"), default=0)
    ledger_count = models.PositiveIntegerField(_("本方笔数"), default=0)
    ledger_paid_fen = models.BigIntegerField(_("本方收款（分）"), default=0)
    ledger_refunded_fen = models.BigIntegerField(_("本方退款（分）"), default=0)
    matched_count = models.PositiveIntegerField(_("一致笔数"), default=0)
    difference_count = models.PositiveIntegerField(_("差异笔数"), default=0)
    run_by_username = models.CharField(_("执行人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("首次对账时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近对账时间"), auto_now=True)

    class Meta:
        ordering = ["-date", "provider"]
        verbose_name = _("对账批次")
        verbose_name_plural = _("对账批次")
        permissions = [("run_reconciliation", _("可执行对账"))]
        constraints = [
            models.UniqueConstraint(fields=["date", "provider"], name="parking_reconciliation_one_per_day")
        ]

    def __str__(self) -> str:
        return f"reconciliation {self.date} {self.provider} ({self.status})"

    @property
    def statement_net_fen(self) -> int:
        return self.statement_paid_fen - self.statement_refunded_fen

    @property
    def ledger_net_fen(self) -> int:
        return self.ledger_paid_fen - self.ledger_refunded_fen


class ReconciliationDifference(models.Model):
    class Kind(models.TextChoices):
        MISSING_IN_LEDGER = "missing_in_ledger", _("本方缺失（渠道有）")
        MISSING_IN_STATEMENT = "missing_in_statement", _("渠道缺失（本方有）")
        AMOUNT_MISMATCH = "amount_mismatch", _("金额不符")

    class Entry(models.TextChoices):
        PAYMENT = "payment", _("收款")
        REFUND = "refund", _("退款")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        RESOLVED = "resolved", _("已处理")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    kind = models.CharField(_("差异类型"), max_length=24, choices=Kind.choices)
    entry = models.CharField(_("交易类型"), max_length=8, choices=Entry.choices)
    out_trade_no = models.CharField(_("商户订单号"), max_length=32, blank=True)
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True)
    refund_no = models.CharField(_("退款单号"), max_length=32, blank=True)
    statement_amount_fen = models.IntegerField(_("渠道金额（分）"), null=True, blank=True)
    ledger_amount_fen = models.IntegerField(_("本方金额（分）"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("交易时间"), null=True, blank=True)
    intent = models.ForeignKey(
        "parking.PaymentIntent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("处理状态"), max_length=8, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(_("处理说明"), max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by_username = models.CharField(_("处理人"), max_length=150, blank=True)
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        ordering = ["run", "kind", "id"]
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")
        permissions = [("resolve_reconciliation", _("可处理对账差异"))]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.out_trade_no or self.refund_no}"

    @property
    def key(self) -> tuple:
        """What identifies the same difference when a day is reconciled again."""
        return (
            self.kind,
            self.entry,
            self.out_trade_no,
            self.provider_trade_no,
            self.refund_no,
            self.statement_amount_fen,
            self.ledger_amount_fen,
        )


class SandboxRefund(models.Model):
    """The sandbox provider's refund ledger: what a real provider keeps on its side."""

    refund_no = models.CharField(max_length=32, unique=True)
    provider_refund_no = models.CharField(max_length=64, unique=True)
    out_trade_no = models.CharField(max_length=32, db_index=True)
    trade_no = models.CharField(max_length=64)
    amount_fen = models.PositiveIntegerField()
    state = models.CharField(max_length=10, default="SUCCESS")
    created_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox refund"
        indexes = [models.Index(fields=["state", "succeeded_at"])]

    def __str__(self) -> str:
        return f"{self.provider_refund_no} {self.state}"
