"""The embedded sandbox payment provider: behaves like a real one, moves no money.

* ``create`` opens a trade in the sandbox's own ledger (:class:`SandboxTrade`) and returns a
  cashier URL, ``POST /api/v1/parking/sandbox/pay/<out_trade_no>`` (open in DEBUG, or with
  ``GOVCENTER_PARKING_PAYMENT_SANDBOX=1``), where the "payer" pays.
* :func:`sandbox_pay` is that payer: it marks the trade paid and returns the asynchronous
  notification a real provider would POST to our callback (``/api/v1/parking/payments/notify``).
  :func:`sandbox_cashier_pay` (the cashier endpoint) pays and *enqueues* that delivery
  (Huey task ``parking.sandbox_notify_deliver``) instead of delivering in the payer's request,
  as a real provider does: :func:`notify_deliver` signs a fresh notification per attempt and
  hands it to our callback's own entry point (``services.payments.payment_notify``, what
  ``PaymentNotifyView`` calls); an error answer or an exception is retried after a doubling
  backoff (``GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS``: 15 s, 30 s, 60 s …) until
  ``GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS`` (default 8) attempts, then given up: the order
  stays unpaid and the daily reconciliation lists the paid trade our ledger lacks. Until the
  notification is handled the payment reads ``processing`` (:meth:`SandboxProvider.query`).
* Notifications are JSON signed with HMAC-SM3 over ``timestamp\\nnonce\\nbody\\n`` and sent with
  ``X-Sandbox-Timestamp``, ``X-Sandbox-Nonce`` and ``X-Sandbox-Signature`` (hex). The key is
  ``GOVCENTER_PARKING_PAYMENT_NOTIFY_KEY``; when empty it is derived from ``SECRET_KEY``
  (HMAC-SM3 of a fixed label), so a development install works without configuration.
* ``refund`` refunds from a paid trade into the sandbox's refund ledger
  (:class:`~govcenter.parking.models.refunds.SandboxRefund`) and answers synchronously. Like a
  real provider it is idempotent by ``refund_no`` (the same number answers the same result;
  reused for another trade or amount it fails) and never refunds more than the trade's amount.
* ``statement(date)`` lists the sandbox's paid trades and succeeded refunds of a day (a
  ``kind`` per row); :func:`statement_csv` is the daily statement file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from govcenter.core.crypto import hmac_sm3, hmac_sm3_verify

from ..models import SandboxTrade
from ..models.refunds import SandboxRefund
from .port import (
    REFUND_FAILED,
    REFUND_SUCCESS,
    Notification,
    NotificationError,
    RefundResult,
    StatementRow,
)

logger = logging.getLogger(__name__)

NAME = "sandbox"
TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
NONCE_HEADER = "X-Sandbox-Nonce"
SIGNATURE_HEADER = "X-Sandbox-Signature"


def notify_key() -> bytes:
    """The HMAC-SM3 key of notifications: the setting, else derived from ``SECRET_KEY`` (the
    sandbox moves no money, so a derived key costs nothing and needs no configuration)."""
    key = settings.GOVCENTER_PARKING_PAYMENT_NOTIFY_KEY
    if key:
        return key.encode()
    return hmac_sm3(settings.SECRET_KEY.encode(), b"govcenter parking sandbox notify key").hex().encode()


def sandbox_enabled() -> bool:
    return bool(settings.DEBUG or settings.GOVCENTER_PARKING_PAYMENT_SANDBOX)


def _message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def sign(body: bytes, *, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers of a signed notification with ``body``."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16)
    signature = hmac_sm3(notify_key(), _message(timestamp, nonce, body)).hex()
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce, SIGNATURE_HEADER: signature}


def _header(headers, name: str) -> str:
    wanted = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == wanted:
            return str(value)
    return ""


class SandboxProvider:
    name = NAME

    def create(self, intent) -> dict:
        trade, _created = SandboxTrade.objects.get_or_create(
            out_trade_no=intent.out_trade_no,
            defaults={
                "trade_no": "SBX" + timezone.localtime().strftime("%Y%m%d") + secrets.token_hex(8).upper(),
                "amount_fen": intent.total_fen,
                "description": "北京路侧停车费",
            },
        )
        pay_url = reverse("parking-api:sandbox-pay", kwargs={"out_trade_no": intent.out_trade_no})
        return {"pay_url": pay_url, "expires_at": intent.expires_at.isoformat()}

    def close(self, intent) -> bool:
        trade = SandboxTrade.objects.select_for_update().filter(out_trade_no=intent.out_trade_no).first()
        if trade is None or trade.state == SandboxTrade.State.CLOSED:
            return True
        if trade.state == SandboxTrade.State.SUCCESS:
            return False
        trade.state = SandboxTrade.State.CLOSED
        trade.save(update_fields=["state"])
        return True

    def query(self, intent) -> str:
        """The trade's state at the provider (``NOTPAY``, ``SUCCESS``, ``CLOSED``; ``""`` unknown)."""
        return (
            SandboxTrade.objects.filter(out_trade_no=intent.out_trade_no)
            .values_list("state", flat=True)
            .first()
            or ""
        )

    def verify_notification(self, headers, body: bytes) -> Notification:
        timestamp = _header(headers, TIMESTAMP_HEADER)
        nonce = _header(headers, NONCE_HEADER)
        signature = _header(headers, SIGNATURE_HEADER)[:512]
        if not (timestamp and nonce and signature):
            raise NotificationError("通知缺少签名头", code="signature_missing", signature=signature)
        try:
            mac = bytes.fromhex(signature)
            sent = int(timestamp)
        except ValueError:
            raise NotificationError("通知签名格式无效", code="bad_signature", signature=signature) from None
        if not hmac_sm3_verify(notify_key(), _message(timestamp, nonce, bytes(body)), mac):
            raise NotificationError("通知签名无效", code="bad_signature", signature=signature)
        if abs(time.time() - sent) > settings.GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS:
            raise NotificationError("通知时间戳超出允许范围", code="stale_notification", signature=signature)
        try:
            data = json.loads(body)
            out_trade_no = str(data["out_trade_no"])
            trade_no = str(data["trade_no"])
            amount = data["amount_fen"]
            state = str(data["trade_state"])
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise ValueError(amount)
            paid_at = dt.datetime.fromisoformat(data["success_time"]) if data.get("success_time") else None
        except (ValueError, KeyError, TypeError):
            raise NotificationError(
                "通知内容无法解析", code="malformed_notification", signature=signature
            ) from None
        return Notification(
            out_trade_no=out_trade_no[:32],
            provider_trade_no=trade_no[:64],
            amount_fen=amount,
            success=state == "SUCCESS",
            paid_at=paid_at,
            signature=signature,
        )

    def statement(self, date: dt.date) -> list[StatementRow]:
        tz = timezone.get_default_timezone()
        start = dt.datetime.combine(date, dt.time.min, tzinfo=tz)
        trades = SandboxTrade.objects.filter(
            state=SandboxTrade.State.SUCCESS, paid_at__gte=start, paid_at__lt=start + dt.timedelta(days=1)
        ).order_by("paid_at", "id")
        rows = [StatementRow(t.trade_no, t.out_trade_no, t.amount_fen, t.paid_at) for t in trades]
        refunds = SandboxRefund.objects.filter(
            state="SUCCESS", succeeded_at__gte=start, succeeded_at__lt=start + dt.timedelta(days=1)
        ).order_by("succeeded_at", "id")
        rows += [
            StatementRow(
                r.trade_no,
                r.out_trade_no,
                r.amount_fen,
                r.succeeded_at,
                kind="refund",
                refund_no=r.refund_no,
                provider_refund_no=r.provider_refund_no,
            )
            for r in refunds
        ]
        return rows

    @transaction.atomic
    def refund(self, intent, refund_no: str, amount_fen: int) -> RefundResult:
        trade = SandboxTrade.objects.select_for_update().filter(out_trade_no=intent.out_trade_no).first()

        def failed(message: str) -> RefundResult:
            return RefundResult(
                refund_no=refund_no, status=REFUND_FAILED, amount_fen=amount_fen, message=message
            )

        known = SandboxRefund.objects.filter(refund_no=refund_no).first()
        if known is not None:
            if known.out_trade_no != intent.out_trade_no or known.amount_fen != amount_fen:
                return failed("退款单号已用于其他退款")
            return _refund_result(known)
        if trade is None or trade.state != SandboxTrade.State.SUCCESS:
            return failed("原交易未支付，不能退款")
        if amount_fen <= 0:
            return failed("退款金额须大于 0")
        done = sum(
            SandboxRefund.objects.filter(out_trade_no=trade.out_trade_no).values_list("amount_fen", flat=True)
        )
        if done + amount_fen > trade.amount_fen:
            return failed(f"退款总额超过原交易金额（已退 {done} 分）")
        now = timezone.now()
        refund = SandboxRefund.objects.create(
            refund_no=refund_no,
            provider_refund_no="SBR"
            + timezone.localtime(now).strftime("%Y%m%d")
            + secrets.token_hex(8).upper(),
            out_trade_no=trade.out_trade_no,
            trade_no=trade.trade_no,
            amount_fen=amount_fen,
            state="SUCCESS",
            created_at=now,
            succeeded_at=now,
        )
        return _refund_result(refund)


def _refund_result(refund: SandboxRefund) -> RefundResult:
    return RefundResult(
        refund_no=refund.refund_no,
        status=REFUND_SUCCESS if refund.state == "SUCCESS" else REFUND_FAILED,
        amount_fen=refund.amount_fen,
        provider_refund_no=refund.provider_refund_no,
        refunded_at=refund.succeeded_at,
    )


def notification_body(trade: SandboxTrade) -> bytes:
    return json.dumps(
        {
            "notify_id": secrets.token_hex(12),
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "trade_state": trade.state,
            "amount_fen": trade.amount_fen,
            "success_time": timezone.localtime(trade.paid_at).isoformat() if trade.paid_at else None,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class SandboxPayError(Exception):
    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@transaction.atomic
def sandbox_pay(out_trade_no: str) -> tuple[dict[str, str], bytes]:
    """The payer pays at the sandbox cashier: the trade is paid (once) and the signed
    notification ``(headers, body)`` to deliver is returned (again for a paid trade: a
    provider re-sends until acknowledged)."""
    trade = SandboxTrade.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
    if trade is None:
        raise SandboxPayError("沙箱中没有该订单", code="not_found")
    if trade.state == SandboxTrade.State.CLOSED:
        raise SandboxPayError("订单已关闭，不能支付", code="trade_closed")
    if trade.state == SandboxTrade.State.NOTPAY:
        trade.state = SandboxTrade.State.SUCCESS
        trade.paid_at = timezone.now()
        trade.save(update_fields=["state", "paid_at"])
    body = notification_body(trade)
    return sign(body), body


def sandbox_cashier_pay(out_trade_no: str):
    """The cashier: pay (:func:`sandbox_pay`, committed) and enqueue the notification's delivery.

    Call it outside a transaction (the cashier endpoint is one): the delivery task must see the
    paid trade. Returns the Huey result of the first attempt (its value is there at once only
    when tasks run immediately, as in development and tests).
    """
    sandbox_pay(out_trade_no)
    from ..tasks import sandbox_notify_deliver  # tasks import the services, which import the port

    return sandbox_notify_deliver(out_trade_no, 1)


def notify_attempts() -> int:
    return max(1, int(getattr(settings, "GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS", 8)))


def notify_backoff(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: the base, doubled after each failed attempt."""
    base = max(1, int(getattr(settings, "GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS", 15)))
    return base * 2 ** (attempt - 1)


def notify_deliver(*, out_trade_no: str, attempt: int) -> dict:
    """One delivery attempt of a paid trade's signed notification to our callback's entry point.

    On an error answer (4xx/5xx) or an exception the next attempt is scheduled after
    :func:`notify_backoff`; after :func:`notify_attempts` attempts the sandbox gives up.
    Returns ``{"attempt", "status", "answer"}`` plus ``retry_in`` or ``gave_up``.
    """
    from govcenter.core.api.errors import ServiceError

    from ..services.payments import payment_notify  # the services import this module

    trade = SandboxTrade.objects.filter(out_trade_no=out_trade_no).first()
    if trade is None or trade.state != SandboxTrade.State.SUCCESS:
        return {"attempt": attempt, "status": None, "answer": {}, "skipped": "trade not paid"}
    body = notification_body(trade)
    try:
        answer, status = payment_notify(headers=sign(body), body=body), 200
    except ServiceError as exc:
        answer = {"code": exc.error_code, "message": str(exc.detail), "details": exc.details}
        status = exc.status_code
    except Exception as exc:  # our side failed (database, bug): a provider sees a 500 and retries
        logger.exception("sandbox notification %s attempt %d: the callback failed", out_trade_no, attempt)
        answer, status = {"code": "error", "message": str(exc)[:200]}, 500
    result = {"attempt": attempt, "status": status, "answer": answer}
    if status == 200:
        return result
    if attempt >= notify_attempts():
        logger.warning("sandbox notification %s: gave up after %d attempts", out_trade_no, attempt)
        return {**result, "gave_up": True}
    from ..tasks import sandbox_notify_deliver

    delay = notify_backoff(attempt)
    sandbox_notify_deliver.schedule(args=(out_trade_no, attempt + 1), delay=delay)
    return {**result, "retry_in": delay}


def statement_csv(date: dt.date) -> str:
    """The sandbox's daily statement file (CSV, UTF-8): one row per paid trade and per
    succeeded refund of ``date`` (``type`` payment or refund, amounts positive); the last row
    has the count and the net total (payments minus refunds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trade_no", "out_trade_no", "amount_fen", "paid_at", "type", "refund_no"])
    rows = SandboxProvider().statement(date)
    for row in rows:
        writer.writerow(
            [
                row.provider_trade_no,
                row.out_trade_no,
                row.amount_fen,
                timezone.localtime(row.paid_at).isoformat(),
                row.kind,
                row.refund_no,
            ]
        )
    net = sum(r.amount_fen if r.kind == "payment" else -r.amount_fen for r in rows)
    writer.writerow(["total", len(rows), net, "", "", ""])
    return out.getvalue()
