"""Payments of parking orders through the provider port (:mod:`govcenter.parking.payments`).

``payment_create``: a citizen (orders of the plates bound to the account) or a payer without
login (orders of one plate, 临时代缴) pays one or several orders that are billed or in
arrears and not fully paid. The client's ``Idempotency-Key`` makes a retried request return
the same payment. An order in a live payment (created or paid) cannot enter another one:
``PaymentItem``'s partial unique index refuses it; orders are locked (``select_for_update``,
in id order) so concurrent requests queue instead of failing late. A created payment older
than ``GOVCENTER_PARKING_PAYMENT_EXPIRE_MINUTES`` is closed with the provider when one of its
orders is asked for again, which frees the orders.

``payment_notify``: every provider callback is stored (:class:`PaymentNotification`) whether
authentic or not. A bad signature is refused (400) and changes nothing. The amount must match
the payment exactly, otherwise it is refused (400 ``amount_mismatch``) and the payment is
flagged for staff. A replayed callback for a paid payment answers success and does nothing
again. Otherwise, in one transaction with the payment and its orders locked, the payment and
each order become paid (``amount_paid_fen``) and the change is audited. A success for a
payment we had closed is taken when its orders are still free; when they are not (paid by
another payment, or voided), the callback is acknowledged — the money is at the provider —
and the payment is flagged for a refund by staff. Lock order is always orders (by id) then
payments, in both services, so concurrent create and notify cannot deadlock.

Every refused or not-applied callback (bad signature, stale, malformed, unknown trade, wrong
amount, replay, orders no longer payable) is counted for ``provider:<name>`` in the rejection
counters (services/rejections.py), after the callback's transaction. Between the payer paying
and the callback being handled a payment reads ``processing`` (:func:`payment_display_status`):
its orders are paid only when the notification is handled.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.masking import mask_plate

from ..models import Citizen, Order, OrderState, PaymentIntent, PaymentItem, PaymentNotification, PlateBinding
from ..models.orders import PAYABLE_FEN
from ..models.payments import PaymentStatus
from ..payments.port import Notification, NotificationError, StatementRow, get_provider
from ..plates import PlateError, validate_plate
from .arrears import penalty_cases_settle
from .rejections import provider_source, rejection_count

PAYABLE_STATES = (OrderState.BILLED, OrderState.ARREARS)
MAX_ORDERS = 50
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,64}$")
Outcome = PaymentNotification.Outcome


# -- reads of the citizen app ------------------------------------------------------------------


def citizen_plates(citizen: Citizen) -> list[str]:
    return list(
        PlateBinding.objects.filter(citizen=citizen, status=PlateBinding.Status.ACTIVE).values_list(
            "plate", flat=True
        )
    )


def citizen_orders(*, citizen: Citizen, state: str = "") -> QuerySet[Order]:
    """The citizen's orders (those of the plates bound to the account), newest first.

    ``state``: ``unpaid`` (billed or arrears), ``arrears``, ``paid`` or empty for all but void.
    """
    orders = Order.objects.filter(plate__in=citizen_plates(citizen)).exclude(state=OrderState.VOID)
    if state == "unpaid":
        orders = orders.filter(state__in=PAYABLE_STATES)
    elif state:
        orders = orders.filter(state=state)
    # Only what the app shows: not the priced lines (JSON) nor the segment's geometry.
    return orders.select_related("segment").only(*CITIZEN_ORDER_FIELDS).order_by("-started_at", "-id")


# The columns the citizen app's order list reads (api/payments.py CitizenOrderSerializer).
CITIZEN_ORDER_FIELDS = (
    "id",
    "plate",
    "started_at",
    "ended_at",
    "state",
    "amount_due_fen",
    "amount_adjustment_fen",
    "amount_paid_fen",
    "segment__name",
)


def plate_arrears(*, plate: str) -> tuple[str, QuerySet[Order]]:
    """The normalised plate and its unpaid orders (billed or arrears), oldest first."""
    plate = _plate(plate)
    orders = (
        Order.objects.filter(plate=plate, state__in=PAYABLE_STATES)
        .alias(payable=PAYABLE_FEN)
        .filter(payable__gt=0)
        .select_related("segment")
        .order_by("started_at", "id")
    )
    return plate, orders


def citizen_payments(*, citizen: Citizen) -> QuerySet[PaymentIntent]:
    return (
        PaymentIntent.objects.filter(citizen=citizen).prefetch_related("items").order_by("-created_at", "-id")
    )


PROCESSING = "processing"


def payment_display_status(intent: PaymentIntent) -> str:
    """What the payer sees: the status, or ``processing`` when the provider says the trade is
    paid but its asynchronous notification has not been handled yet (the orders are not paid
    until it is)."""
    if intent.status != PaymentStatus.CREATED:
        return intent.status
    query = getattr(get_provider(), "query", None)
    if query is not None and query(intent) == "SUCCESS":
        return PROCESSING
    return intent.status


# -- create --------------------------------------------------------------------------------------


def _plate(raw: str) -> str:
    try:
        return validate_plate(raw)
    except PlateError as exc:
        raise ServiceError(str(exc), code="invalid_plate", details={"plate": [str(exc)]}) from None


def _new_trade_no() -> str:
    return "PK" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def _same_key(*, citizen: Citizen | None, plate: str, idempotency_key: str) -> PaymentIntent | None:
    intents = PaymentIntent.objects.filter(idempotency_key=idempotency_key)
    if citizen is not None:
        return intents.filter(citizen=citizen).first()
    return intents.filter(citizen__isnull=True, plate=plate).first()


def _replayed(intent: PaymentIntent, order_ids: list[int]) -> PaymentIntent:
    if set(intent.items.values_list("order_id", flat=True)) != set(order_ids):
        raise ServiceError(
            "该幂等键已用于另一笔支付",
            code="idempotency_key_reused",
            status=409,
            details={"idempotency_key": ["已用于其他订单"]},
        )
    return intent


def _intent_close(intent: PaymentIntent, *, reason: str) -> bool:
    """Close an unpaid payment with the provider and free its orders; False if the provider
    says it was paid (then it stays live: its notification will settle it)."""
    if not get_provider().close(intent):
        return False
    intent.status = PaymentStatus.CLOSED
    intent.save(update_fields=["status", "updated_at"])
    intent.items.update(live=False)
    audit.record(action="parking.payment.close", obj=intent, reason=reason)
    return True


@dataclass(frozen=True)
class Created:
    intent: PaymentIntent
    created: bool


def payment_create(
    *, citizen: Citizen | None, order_ids: list[int], idempotency_key: str, plate: str = ""
) -> Created:
    """Create (or, for the same idempotency key, return) the payment of ``order_ids``.

    ``citizen`` pays orders of the plates bound to the account; without a citizen, ``plate``
    is required and only its orders are payable. Errors (:class:`ServiceError`): unknown or
    foreign orders 404 ``order_not_found``; not payable 409 ``order_not_payable``; in another
    live payment 409 ``order_in_payment``; a key reused for other orders 409.
    """
    idempotency_key = (idempotency_key or "").strip()
    if not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise ServiceError(
            "须提供 Idempotency-Key 请求头（8–64 位字母、数字或 _.:-）",
            code="idempotency_key_required",
            details={"Idempotency-Key": ["必填，8–64 位"]},
        )
    order_ids = list(dict.fromkeys(int(pk) for pk in order_ids))
    if not order_ids or len(order_ids) > MAX_ORDERS:
        raise ServiceError(
            f"须选择 1–{MAX_ORDERS} 笔订单", code="invalid", details={"order_ids": [f"1–{MAX_ORDERS} 笔"]}
        )
    if citizen is None:
        plate = _plate(plate)
        plates = [plate]
    else:
        plate = ""
        plates = citizen_plates(citizen)
    existing = _same_key(citizen=citizen, plate=plate, idempotency_key=idempotency_key)
    if existing is not None:
        return Created(_replayed(existing, order_ids), False)
    try:
        with transaction.atomic():
            return Created(_create(citizen, plate, plates, order_ids, idempotency_key), True)
    except IntegrityError:
        # A concurrent request won: with the same key (return its payment) or for the same order.
        existing = _same_key(citizen=citizen, plate=plate, idempotency_key=idempotency_key)
        if existing is not None:
            return Created(_replayed(existing, order_ids), False)
        raise ServiceError("订单正在支付中", code="order_in_payment", status=409) from None


def _create(citizen, plate, plates, order_ids, idempotency_key) -> PaymentIntent:
    orders = list(Order.objects.select_for_update().filter(pk__in=order_ids, plate__in=plates).order_by("pk"))
    missing = sorted(set(order_ids) - {o.pk for o in orders})
    if missing:
        # Someone else's order and a non-existent one look the same: 404.
        raise ServiceError("订单不存在", code="order_not_found", status=404, details={"order_ids": missing})
    refused = {str(o.pk): o.state for o in orders if o.state not in PAYABLE_STATES or o.payable_fen <= 0}
    if refused:
        raise ServiceError(
            "订单不可支付（已支付、已作废或未结束计费）",
            code="order_not_payable",
            status=409,
            details=refused,
        )
    now = timezone.now()
    live = PaymentItem.objects.filter(order__in=orders, live=True).select_related("intent")
    for item in live:
        if item.intent.status == PaymentStatus.CREATED and item.intent.expires_at <= now:
            # Lock order everywhere: orders, then payments (payment_notify does the same).
            intent = PaymentIntent.objects.select_for_update().get(pk=item.intent_id)
            if intent.status == PaymentStatus.CREATED:
                _intent_close(intent, reason="expired")
    busy = sorted(PaymentItem.objects.filter(order__in=orders, live=True).values_list("order_id", flat=True))
    if busy:
        raise ServiceError("订单正在支付中", code="order_in_payment", status=409, details={"order_ids": busy})
    provider = get_provider()
    intent = PaymentIntent(
        out_trade_no=_new_trade_no(),
        citizen=citizen,
        plate=plate,
        provider=provider.name,
        total_fen=sum(o.payable_fen for o in orders),
        idempotency_key=idempotency_key,
        expires_at=now + dt.timedelta(minutes=settings.GOVCENTER_PARKING_PAYMENT_EXPIRE_MINUTES),
        created_at=now,
    )
    intent.full_clean(validate_unique=False, validate_constraints=False)
    intent.save()
    PaymentItem.objects.bulk_create(
        [PaymentItem(intent=intent, order=o, amount_fen=o.payable_fen) for o in orders]
    )
    intent.provider_data = provider.create(intent)
    intent.save(update_fields=["provider_data", "updated_at"])
    audit.record(
        action="parking.payment.create",
        obj=intent,
        changes={
            "orders": [o.pk for o in orders],
            "total_fen": intent.total_fen,
            "plate": mask_plate(plate) if plate else "",
        },
    )
    return intent


# -- notify --------------------------------------------------------------------------------------

SUCCESS = {"code": "SUCCESS", "message": "成功"}


def _text(value) -> str:
    # Callbacks are hostile input: PostgreSQL text refuses NUL, and nothing may stop us storing one.
    return str(value).replace("\x00", "\ufffd")


def _store(*, provider: str, headers, body: bytes, **fields) -> PaymentNotification:
    return PaymentNotification.objects.create(
        provider=provider,
        headers={
            _text(k): _text(v)[:512] for k, v in dict(headers).items() if str(k).lower().startswith("x-")
        },
        body=_text(bytes(body).decode("utf-8", errors="replace"))[:20000],
        **{k: _text(v) if isinstance(v, str) else v for k, v in fields.items()},
    )


def payment_notify(*, headers, body: bytes) -> dict:
    """Handle one provider callback (see the module docstring); the answer the provider expects.

    Raises :class:`ServiceError` 400 for a bad signature (``bad_signature``, ``signature_missing``,
    ``stale_notification``, ``malformed_notification``), an unknown payment (``unknown_trade``)
    and a wrong amount (``amount_mismatch``) — after storing the notification.
    """
    provider = get_provider()
    try:
        note = provider.verify_notification(headers, body)
    except NotificationError as exc:
        with transaction.atomic():
            _store(
                provider=provider.name,
                headers=headers,
                body=body,
                signature=exc.signature,
                verified=False,
                outcome=Outcome.BAD_SIGNATURE,
            )
            audit.record(
                action="parking.payment.notify_rejected",
                object_type="parking.paymentnotification",
                reason=exc.code,
                success=False,
            )
        # Counted after the store's transaction: a refused callback is counted even if nothing else is.
        rejection_count(source=provider_source(provider.name), reason=exc.code)
        raise ServiceError(str(exc), code=exc.code) from None
    outcome: list = []
    with transaction.atomic():
        error = _settle(provider.name, note, headers, body, outcome=outcome)
    if outcome and outcome[0] in REFUSED_OUTCOMES:
        rejection_count(source=provider_source(provider.name), reason=REFUSED_OUTCOMES[outcome[0]])
    if error is not None:
        raise error
    return SUCCESS


# Notification outcomes that are refusals of the callback (counted per provider): the reason code.
REFUSED_OUTCOMES = {
    Outcome.UNKNOWN_TRADE: "unknown_trade",
    Outcome.AMOUNT_MISMATCH: "amount_mismatch",
    Outcome.REPLAY: "replayed_notification",
    Outcome.NOT_PAYABLE: "not_payable",
}


def _settle(provider_name: str, note, headers, body, *, outcome: list | None = None) -> ServiceError | None:
    """Inside the transaction: store the notification and apply it; an error to raise after commit.

    The stored outcome is appended to ``outcome`` (when given) for the caller's counters.
    """

    def store(result, intent=None):
        if outcome is not None:
            outcome.append(result)
        return _store(
            provider=provider_name,
            headers=headers,
            body=body,
            signature=note.signature,
            verified=True,
            outcome=result,
            out_trade_no=note.out_trade_no,
            provider_trade_no=note.provider_trade_no,
            intent=intent,
        )

    intent = PaymentIntent.objects.filter(out_trade_no=note.out_trade_no).first()
    if intent is not None:
        # Lock order everywhere: the orders (in id order), then the payment — as payment_create.
        # A payment's items never change after creation, so they can be read before the locks.
        items = list(intent.items.order_by("order_id"))
        orders = {
            o.pk: o
            for o in Order.objects.select_for_update()
            .filter(pk__in=[i.order_id for i in items])
            .order_by("pk")
        }
        intent = PaymentIntent.objects.select_for_update().get(pk=intent.pk)
    if intent is None or intent.provider != provider_name:
        store(Outcome.UNKNOWN_TRADE)
        return ServiceError(
            "未知的商户订单号", code="unknown_trade", details={"out_trade_no": [note.out_trade_no]}
        )
    if intent.status == PaymentStatus.PAID:
        store(Outcome.REPLAY, intent)
        if note.provider_trade_no != intent.provider_trade_no:
            # A second provider transaction for one payment: money taken twice at the provider.
            _flag(intent, f"重复支付：渠道交易号 {note.provider_trade_no}，须退款")
        return None
    if not note.success:
        store(Outcome.FAILED, intent)
        if intent.status == PaymentStatus.CREATED:
            intent.status = PaymentStatus.FAILED
            intent.save(update_fields=["status", "updated_at"])
            intent.items.update(live=False)
            audit.record(action="parking.payment.failed", obj=intent)
        return None
    if note.amount_fen != intent.total_fen:
        store(Outcome.AMOUNT_MISMATCH, intent)
        _flag(intent, f"金额不符：通知 {note.amount_fen} 分，应付 {intent.total_fen} 分")
        return ServiceError(
            "通知金额与支付单金额不符",
            code="amount_mismatch",
            details={"amount_fen": [f"expected {intent.total_fen}, got {note.amount_fen}"]},
        )
    if intent.status != PaymentStatus.CREATED:
        # Paid at the provider after we closed it (or after a failure): take it if the orders are free.
        try:
            with transaction.atomic():
                PaymentItem.objects.filter(intent=intent).update(live=True)
        except IntegrityError:
            store(Outcome.NOT_PAYABLE, intent)
            _flag(intent, "支付单已关闭且订单已由其他支付单支付，须退款")
            return None
    if any(orders[i.order_id].state not in PAYABLE_STATES for i in items):
        store(Outcome.NOT_PAYABLE, intent)
        _flag(intent, "订单已不可支付（作废或已支付），须退款")
        return None
    for item in items:
        order = orders[item.order_id]
        order.pay(amount_fen=order.amount_paid_fen + item.amount_fen)
        order.save(update_fields=["state", "amount_paid_fen", "updated_at"])
    intent.status = PaymentStatus.PAID
    intent.provider_trade_no = note.provider_trade_no
    intent.paid_at = note.paid_at or timezone.now()
    intent.save(update_fields=["status", "provider_trade_no", "paid_at", "updated_at"])
    store(Outcome.PAID, intent)
    # A penalty case (处罚) whose arrears are now all paid moves to paid at once, not at the
    # next daily sweep (after commit: the case update never holds the payment's locks).
    order_ids = [i.order_id for i in items]
    transaction.on_commit(lambda: penalty_cases_settle(order_ids=order_ids))
    audit.record(
        action="parking.payment.paid",
        obj=intent,
        changes={
            "orders": [i.order_id for i in items],
            "total_fen": intent.total_fen,
            "provider_trade_no": note.provider_trade_no,
        },
    )
    return None


def _flag(intent: PaymentIntent, reason: str) -> None:
    intent.flagged = True
    intent.flag_reason = reason[:200]
    intent.save(update_fields=["flagged", "flag_reason", "updated_at"])
    audit.record(action="parking.payment.flag", obj=intent, reason=reason[:200], success=False)


def payment_take_statement_row(*, row: StatementRow) -> PaymentNotification:
    """Apply a paid transaction the provider's statement lists and our ledger lacks (a lost
    notification) exactly as its notification would have been: stored, idempotent (taking it
    twice is a replay), refused when the amount differs. Returns the stored notification."""
    provider = get_provider()
    note = Notification(
        out_trade_no=row.out_trade_no,
        provider_trade_no=row.provider_trade_no,
        amount_fen=row.amount_fen,
        success=True,
        paid_at=row.paid_at,
    )
    body = json.dumps(
        {
            "source": "statement",
            "out_trade_no": row.out_trade_no,
            "trade_no": row.provider_trade_no,
            "amount_fen": row.amount_fen,
            "success_time": row.paid_at.isoformat() if row.paid_at else None,
        },
        ensure_ascii=False,
    ).encode()
    with transaction.atomic():
        error = _settle(provider.name, note, {"X-Govcenter-Source": "statement"}, body)
        stored = PaymentNotification.objects.filter(provider=provider.name).order_by("-id").first()
    if error is not None:
        raise ServiceError(str(error.detail), code=error.error_code, status=409, details=error.details)
    return stored
