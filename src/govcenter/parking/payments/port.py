"""The payment provider port: what the payment services need from a provider (支付渠道).

A provider is a class named by ``GOVCENTER_PARKING_PAYMENT_PROVIDER`` (dotted path) with:

* ``create(intent) -> dict``: place the order with the provider; the dict is shown to the
  payer's app as is (``pay_url`` for a cashier page, or ``prepay_id`` for an in-app SDK).
* ``close(intent) -> bool``: close an unpaid order so it can no longer be paid; False when
  the provider says it was paid already (its notification is on its way).
* ``query(intent) -> str``: the trade's state at the provider (``NOTPAY``, ``SUCCESS``,
  ``CLOSED``; ``""`` when unknown), so the payer sees "processing" between paying and our
  handling of the asynchronous notification. Optional: without it a payment is just "created".
* ``verify_notification(headers, body) -> Notification``: check the signature of an
  asynchronous callback and read it; raise :class:`NotificationError` when it is not
  authentic or not readable.
* ``refund(intent, refund_no, amount_fen) -> RefundResult``: refund (part of) a paid
  order. ``refund_no`` is our id and the provider's idempotency key: asking again with the
  same ``refund_no`` returns the first answer and never refunds twice. The result is
  ``success``, ``processing`` (asked again later with the same ``refund_no``) or ``failed``.
* ``statement(date) -> list[StatementRow]``: the provider's transactions of one day
  (Asia/Shanghai), payments and refunds (``kind``), for reconciliation against our ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Notification:
    """An authentic provider callback, read into our terms."""

    out_trade_no: str
    provider_trade_no: str
    amount_fen: int
    success: bool
    paid_at: dt.datetime | None
    signature: str = ""


@dataclass(frozen=True)
class StatementRow:
    """One transaction of the daily statement. ``amount_fen`` is always positive: a refund
    row has ``kind="refund"`` (money back to the payer), ``refund_no`` (ours) and
    ``provider_refund_no``; ``paid_at`` is when the money moved."""

    provider_trade_no: str
    out_trade_no: str
    amount_fen: int
    paid_at: dt.datetime
    kind: str = "payment"
    refund_no: str = ""
    provider_refund_no: str = ""


REFUND_SUCCESS = "success"
REFUND_PROCESSING = "processing"
REFUND_FAILED = "failed"


@dataclass(frozen=True)
class RefundResult:
    """The provider's answer to a refund: ``status`` is success, processing or failed."""

    refund_no: str
    status: str
    amount_fen: int
    provider_refund_no: str = ""
    refunded_at: dt.datetime | None = None
    message: str = ""


class NotificationError(Exception):
    """A callback that is not authentic or not readable; ``code`` names the reason."""

    def __init__(self, message: str, *, code: str, signature: str = "", out_trade_no: str = ""):
        super().__init__(message)
        self.code = code
        self.signature = signature
        self.out_trade_no = out_trade_no


class PaymentProvider(Protocol):
    name: str

    def create(self, intent) -> dict: ...

    def close(self, intent) -> bool: ...

    def query(self, intent) -> str: ...

    def verify_notification(self, headers: dict, body: bytes) -> Notification: ...

    def refund(self, intent, refund_no: str, amount_fen: int) -> RefundResult: ...

    def statement(self, date: dt.date) -> list[StatementRow]: ...


@functools.cache
def _provider_class(path: str):
    return import_string(path)


def get_provider() -> PaymentProvider:
    """The configured provider (a new instance: providers keep no state between calls)."""
    return _provider_class(settings.GOVCENTER_PARKING_PAYMENT_PROVIDER)()
