"""Refunds of payments (退款): request, four-eyes approval, the provider's answer.

Rules:

* **Who.** A district manager asks (``parking.request_refund``) for payments of orders in
  their district (data scope: the refund's district is the order's, or the payment's when all
  its orders are in one district; a payment spanning districts can only be refunded by
  city-wide staff). Center data staff approve or reject (``parking.approve_refund``), never
  their own request (four-eyes; also a database check). Every step is audited.
* **How much.** What a payment may give back is what the provider took for it: its amount once
  per provider transaction we know of (the paid one, plus any second transaction or payment
  after close that a verified notification reported — the flagged payments). The *live*
  refunds (requested, approved, succeeded) of a payment never add up to more: the payment row
  is locked (``select_for_update``) while the sum is checked, so concurrent requests queue.
  A refund for one order is also capped by what that payment paid for the order; a
  ``fee_adjusted`` refund (a complaint lowered the fee) by what the order was overpaid.
* **Orders are never edited.** ``Order.amount_paid_fen`` stays what was received and the
  order stays paid; what went back is the sum of its succeeded refunds
  (:func:`order_refunded_fen`). A ``fee_adjusted`` refund therefore leaves
  ``paid − refunded = billed + adjustments`` exactly, and ``payable_fen`` stays 0. Any
  other refund is a decision that the refunded money is not owed: a fully refunded order
  stays paid and is never re-opened as owing (to charge again, bill a new order).
* **Provider.** On approval the provider is asked (``refund(intent, refund_no, amount)``,
  idempotent by our ``refund_no``) outside the approval transaction; its answer is recorded
  in a second one: ``succeeded``, ``failed``, or still ``approved`` when it is processing or
  did not answer — :func:`refund_retry` asks again with the same ``refund_no``.

The reads (selectors) of the staff pages and API are at the end: payments are scoped through
their orders, refunds by their district.
"""

from __future__ import annotations

import logging
import secrets

import django_filters
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.filters import yes_no_filter
from govcenter.core.models import District
from govcenter.core.scope import scope_for

from ..models import Order, PaymentIntent, PaymentItem, PaymentNotification
from ..models.payments import PaymentStatus
from ..models.refunds import LIVE_REFUND_STATUSES, Refund, RefundReason, RefundStatus
from ..payments.port import REFUND_FAILED, REFUND_SUCCESS, RefundResult, get_provider

logger = logging.getLogger(__name__)

REQUEST_PERMISSION = "parking.request_refund"
APPROVE_PERMISSION = "parking.approve_refund"
# Verified notifications that tell of money taken at the provider for this payment.
_MONEY_TAKEN = (
    PaymentNotification.Outcome.PAID,
    PaymentNotification.Outcome.REPLAY,
    PaymentNotification.Outcome.NOT_PAYABLE,
)


_EXTRA_MONEY = (RefundReason.DUPLICATE, RefundReason.PAID_AFTER_CLOSE)


# -- amounts ------------------------------------------------------------------------------------


def paid_trades(intent: PaymentIntent) -> list[str]:
    """The provider transactions that took this payment's amount, as far as we know."""
    trades = []
    if intent.status == PaymentStatus.PAID and intent.provider_trade_no:
        trades.append(intent.provider_trade_no)
    extra = (
        PaymentNotification.objects.filter(intent=intent, verified=True, outcome__in=_MONEY_TAKEN)
        .exclude(provider_trade_no="")
        .order_by("id")
        .values_list("provider_trade_no", flat=True)
    )
    for trade in extra:
        if trade not in trades:
            trades.append(trade)
    return trades


def paid_fen(intent: PaymentIntent) -> int:
    """What the provider took for the payment: its amount once per known transaction."""
    return intent.total_fen * len(paid_trades(intent))


def _sum(refunds) -> int:
    return refunds.aggregate(total=Sum("amount_fen"))["total"] or 0


def live_refunded_fen(intent: PaymentIntent) -> int:
    return _sum(Refund.objects.filter(intent=intent, status__in=LIVE_REFUND_STATUSES))


def refundable_fen(intent: PaymentIntent) -> int:
    """What may still be asked back (paid minus live refunds, never < 0)."""
    return max(paid_fen(intent) - live_refunded_fen(intent), 0)


def excess_fen(intent: PaymentIntent) -> int:
    """Money taken beyond what the ledger keeps (a second payment, a payment after close):
    what the one-click refund of a flagged payment asks back."""
    kept = intent.total_fen if intent.status == PaymentStatus.PAID else 0
    return max(paid_fen(intent) - kept - live_refunded_fen(intent), 0)


def order_refunded_fen(order: Order) -> int:
    """What went back to the payer for ``order`` (its succeeded refunds)."""
    return _sum(Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED))


# -- guards ---------------------------------------------------------------------------------------


def _not_found() -> ServiceError:
    return ServiceError(_("未找到。"), code="not_found", status=404)


def _require(actor, permission: str) -> None:
    if actor is None or not actor.has_perm(permission):
        raise ServiceError(_("没有权限执行此操作。"), code="permission_denied", status=403)


def _in_scope(actor, district_id: int | None) -> bool:
    scope = scope_for(actor)
    return scope.all or (district_id is not None and district_id in scope.district_ids)


def _district_of(intent: PaymentIntent, order: Order | None) -> int | None:
    if order is not None:
        return order.district_id
    districts = set(intent.items.values_list("order__district_id", flat=True))
    return districts.pop() if len(districts) == 1 else None


def _username(actor) -> str:
    return (getattr(actor, "username", "") or "")[:150]


def _new_refund_no() -> str:
    return "RF" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def _refund_changes(refund: Refund) -> dict:
    return {
        "refund_no": refund.refund_no,
        "out_trade_no": refund.intent.out_trade_no,
        "order": refund.order_id,
        "amount_fen": refund.amount_fen,
        "status": refund.status,
    }


# -- writes ---------------------------------------------------------------------------------------


def refund_request(
    *,
    actor,
    intent: PaymentIntent,
    amount_fen: int,
    reason_category: str,
    reason: str,
    order: Order | None = None,
) -> Refund:
    """Ask for a refund of ``amount_fen`` from ``intent`` (optionally for one of its orders).

    Errors (:class:`ServiceError`): no permission 403; payment or order outside the caller's
    scope 404 ``not_found``; bad amount, reason or order 400; the payment took no money 409
    ``payment_not_paid``; more than is refundable 409 ``refund_exceeds_paid`` (``details``
    say how much is left).
    """
    _require(actor, REQUEST_PERMISSION)
    reason = (reason or "").strip()
    errors = {}
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        errors["amount_fen"] = [_("退款金额须为大于 0 的整数（分）。")]
    if reason_category not in RefundReason.values:
        errors["reason_category"] = [_("未知的退款原因。")]
    if not reason:
        errors["reason"] = [_("须填写原因说明。")]
    if reason_category == RefundReason.FEE_ADJUSTED and order is None:
        errors["order"] = [_("费用调整退款须指定订单。")]
    if errors:
        raise ServiceError(_("输入无效。"), code="invalid", details=errors)
    with transaction.atomic():
        # The payment row is the lock that serialises every refund of it.
        intent = PaymentIntent.objects.select_for_update().get(pk=intent.pk)
        item = None
        if order is not None:
            item = PaymentItem.objects.filter(intent=intent, order=order).first()
            if item is None:
                raise ServiceError(_("该订单不属于此支付单。"), code="invalid", details={"order": [order.pk]})
        district_id = _district_of(intent, order)
        if not _in_scope(actor, district_id):
            raise _not_found()
        if order is not None and not Order.objects.restrict(actor).filter(pk=order.pk).exists():
            raise _not_found()
        paid = paid_fen(intent)
        if paid == 0:
            raise ServiceError(_("该支付单未收款，不能退款。"), code="payment_not_paid", status=409)
        left = paid - live_refunded_fen(intent)
        if item is not None:
            done = _sum(Refund.objects.filter(intent=intent, order=order, status__in=LIVE_REFUND_STATUSES))
            left = min(left, item.amount_fen * len(paid_trades(intent)) - done)
        if reason_category == RefundReason.FEE_ADJUSTED:
            order = Order.objects.get(pk=order.pk)
            owed = max(order.amount_due_fen + order.amount_adjustment_fen, 0)
            done = _sum(Refund.objects.filter(order=order, status__in=LIVE_REFUND_STATUSES))
            left = min(left, order.amount_paid_fen - done - owed)
        left = max(left, 0)
        if amount_fen > left:
            raise ServiceError(
                _("退款金额超过可退金额（可退 %(left)s 分）。") % {"left": left},
                code="refund_exceeds_paid",
                status=409,
                details={"amount_fen": [f"refundable {left}"], "refundable_fen": left},
            )
        trades = paid_trades(intent)
        refund = Refund.objects.create(
            refund_no=_new_refund_no(),
            intent=intent,
            order=order,
            district_id=district_id,
            # A duplicate or late payment is refunded from the extra transaction, anything else
            # from the one the ledger kept.
            provider_trade_no=trades[-1] if reason_category in _EXTRA_MONEY else trades[0],
            amount_fen=amount_fen,
            reason_category=reason_category,
            reason=reason[:500],
            requested_by=actor,
            requested_by_username=_username(actor),
        )
        audit.record(
            action="parking.refund.request", obj=refund, changes=_refund_changes(refund), reason=reason[:200]
        )
    return refund


def refund_request_flagged(*, actor, intent: PaymentIntent) -> Refund:
    """The one-click request of a flagged payment: give back what was taken beyond the ledger."""
    amount = excess_fen(intent)
    if not intent.flagged or amount <= 0:
        raise ServiceError(_("该支付单没有须退还的多收款项。"), code="nothing_to_refund", status=409)
    category = RefundReason.DUPLICATE if "重复" in intent.flag_reason else RefundReason.PAID_AFTER_CLOSE
    return refund_request(
        actor=actor,
        intent=intent,
        amount_fen=amount,
        reason_category=category,
        reason=intent.flag_reason or _("待核查支付单退款"),
    )


def _locked_for_decision(actor, refund: Refund) -> Refund:
    _require(actor, APPROVE_PERMISSION)
    PaymentIntent.objects.select_for_update().get(pk=refund.intent_id)  # lock order: payment, then refund
    refund = Refund.objects.select_for_update().select_related("intent").get(pk=refund.pk)
    if not _in_scope(actor, refund.district_id):
        raise _not_found()
    if refund.status != RefundStatus.REQUESTED:
        raise ServiceError(
            _("该退款已审批。"), code="refund_not_pending", status=409, details={"status": [refund.status]}
        )
    if refund.requested_by_id is not None and refund.requested_by_id == actor.pk:
        raise ServiceError(_("不能审批本人提出的退款申请（双人复核）。"), code="four_eyes", status=409)
    return refund


def refund_approve(*, actor, refund: Refund, note: str = "") -> Refund:
    """Approve a requested refund (not one's own) and ask the provider to refund it."""
    with transaction.atomic():
        refund = _locked_for_decision(actor, refund)
        refund.status = RefundStatus.APPROVED
        refund.approved_by = actor
        refund.approved_by_username = _username(actor)
        refund.decided_at = timezone.now()
        refund.decision_note = (note or "").strip()[:500]
        refund.save()
        audit.record(
            action="parking.refund.approve",
            obj=refund,
            changes=_refund_changes(refund),
            reason=refund.decision_note[:200],
        )
    return _submit(refund)


def refund_reject(*, actor, refund: Refund, note: str) -> Refund:
    """Reject a requested refund with a note (not one's own)."""
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("须填写驳回理由。"), code="invalid", details={"note": [_("必填。")]})
    with transaction.atomic():
        refund = _locked_for_decision(actor, refund)
        refund.status = RefundStatus.REJECTED
        refund.approved_by = actor
        refund.approved_by_username = _username(actor)
        refund.decided_at = timezone.now()
        refund.decision_note = note[:500]
        refund.save()
        audit.record(
            action="parking.refund.reject", obj=refund, changes=_refund_changes(refund), reason=note[:200]
        )
    return refund


def refund_retry(*, actor, refund: Refund) -> Refund:
    """Ask the provider again about an approved refund (same ``refund_no``: never twice)."""
    _require(actor, APPROVE_PERMISSION)
    refund = Refund.objects.select_related("intent").get(pk=refund.pk)
    if not _in_scope(actor, refund.district_id):
        raise _not_found()
    if refund.status != RefundStatus.APPROVED:
        raise ServiceError(
            _("只有退款中的申请可以重新提交。"),
            code="refund_not_approved",
            status=409,
            details={"status": [refund.status]},
        )
    return _submit(refund)


def _submit(refund: Refund) -> Refund:
    """Ask the provider (outside any transaction), then record its answer."""
    provider = get_provider()
    intent = refund.intent
    if intent.provider != provider.name:
        result = RefundResult(refund.refund_no, REFUND_FAILED, refund.amount_fen, message="支付渠道已变更")
    else:
        try:
            result = provider.refund(intent, refund.refund_no, refund.amount_fen)
        except Exception:  # noqa: BLE001 - a provider that does not answer: stays approved, retried
            logger.exception("refund %s: the provider did not answer", refund.refund_no)
            with transaction.atomic():
                audit.record(action="parking.refund.provider_error", obj=refund, success=False)
            return Refund.objects.get(pk=refund.pk)
    return refund_apply_result(refund=refund, result=result)


def refund_apply_result(*, refund: Refund, result: RefundResult) -> Refund:
    """Record the provider's answer on an approved refund (idempotent; audited)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("intent").get(pk=refund.pk)
        if refund.status != RefundStatus.APPROVED or result.refund_no != refund.refund_no:
            return refund
        if result.status == REFUND_SUCCESS:
            refund.status = RefundStatus.SUCCEEDED
            refund.provider_refund_no = result.provider_refund_no[:64]
            refund.succeeded_at = result.refunded_at or timezone.now()
            refund.failure_reason = ""
            refund.save()
            audit.record(action="parking.refund.succeeded", obj=refund, changes=_refund_changes(refund))
        elif result.status == REFUND_FAILED:
            refund.status = RefundStatus.FAILED
            refund.failure_reason = (result.message or "")[:200]
            refund.save()
            audit.record(
                action="parking.refund.failed",
                obj=refund,
                changes=_refund_changes(refund),
                reason=refund.failure_reason,
                success=False,
            )
    return refund


# -- reads (selectors) ------------------------------------------------------------------------------


def payment_list(*, user) -> QuerySet[PaymentIntent]:
    """Payments the caller may see: those with an order in the caller's scope."""
    q = scope_for(user).q(Order.scope_fields)
    intents = PaymentIntent.objects.all()
    if q is not None:
        intents = intents.filter(
            pk__in=PaymentItem.objects.filter(order__in=Order.objects.filter(q)).values("intent_id")
        )
    return intents.order_by("-created_at", "-id")


def notification_list(*, user) -> QuerySet[PaymentNotification]:
    """Provider callbacks the caller may see: city-wide staff see all (a callback with a bad
    signature belongs to no payment); others those of payments in their scope."""
    notes = PaymentNotification.objects.select_related("intent")
    if scope_for(user).all:
        return notes
    return notes.filter(intent__in=payment_list(user=user))


def refund_list(*, user) -> QuerySet[Refund]:
    return Refund.objects.restrict(user).select_related("intent", "order", "district")


def _districts(request):
    return District.objects.none() if request is None else District.objects.restrict(request.user)


ALL = gettext_lazy("全部")


class _TradeNoSearch(django_filters.FilterSet):
    """``q``: the whole merchant order number or provider transaction number."""

    q = django_filters.CharFilter(label=gettext_lazy("商户订单号/渠道交易号"), method="filter_q")

    def filter_q(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(Q(out_trade_no=value) | Q(provider_trade_no=value)) if value else queryset


class PaymentIntentFilterSet(_TradeNoSearch):
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("状态"), choices=PaymentStatus.choices, empty_label=ALL
    )
    flagged = yes_no_filter(gettext_lazy("待核查"))

    class Meta:
        model = PaymentIntent
        fields = ["status", "flagged", "q"]


class PaymentNotificationFilterSet(_TradeNoSearch):
    outcome = django_filters.ChoiceFilter(
        label=gettext_lazy("处理结果"), choices=PaymentNotification.Outcome.choices, empty_label=ALL
    )
    verified = yes_no_filter(gettext_lazy("验签通过"))

    class Meta:
        model = PaymentNotification
        fields = ["outcome", "verified", "q"]


class RefundFilterSet(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(
        label=gettext_lazy("所属区"), queryset=_districts, empty_label=ALL
    )
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("状态"), choices=RefundStatus.choices, empty_label=ALL
    )
    reason_category = django_filters.ChoiceFilter(
        label=gettext_lazy("退款原因"), choices=RefundReason.choices, empty_label=ALL
    )
    q = django_filters.CharFilter(label=gettext_lazy("退款单号/商户订单号"), method="filter_q")

    class Meta:
        model = Refund
        fields = ["district", "status", "reason_category", "q"]

    def filter_q(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(Q(refund_no=value) | Q(intent__out_trade_no=value)) if value else queryset
