"""SMS: one-time codes and the gateway port.

Codes are 6 digits from ``secrets``, valid GOVCENTER_SMS_CODE_TTL_SECONDS, single use,
stored only as HMAC-SM3(SECRET_KEY, purpose|phone|code), at most one per
GOVCENTER_SMS_MIN_INTERVAL_SECONDS and GOVCENTER_SMS_DAILY_LIMIT per rolling 24 hours
per phone, and burned after GOVCENTER_SMS_MAX_ATTEMPTS wrong tries. Nothing here knows
about users: staff second factor ("staff_login") and citizens' phone login
("citizen_login") use the same functions.

Messages leave through ``get_gateway()`` (GOVCENTER_SMS_GATEWAY). The embedded default,
:class:`OutboxGateway`, writes SmsMessage rows that administrators read on the outbox
page (and, with DEBUG on, logs the text).
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
import re
import secrets
from datetime import timedelta
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .api.errors import ServiceError
from .crypto import hmac_sm3, sm3
from .models import SmsCode, SmsMessage

logger = logging.getLogger("govcenter.sms")

CODE_LENGTH = 6
_PHONE = re.compile(r"^\+?\d{5,19}$")
_CODE = re.compile(r"^\d{6}$")

TEMPLATES = {
    "staff_login": "【北京市交通综合治理事务中心】您的登录验证码为 {code}，{minutes} 分钟内有效，请勿泄露。",
    "citizen_login": "【北京交通】您的登录验证码为 {code}，{minutes} 分钟内有效，请勿泄露。",
}
_DEFAULT_TEMPLATE = "【北京市交通综合治理事务中心】您的验证码为 {code}，{minutes} 分钟内有效，请勿泄露。"


class SmsRateLimited(ServiceError):  # noqa: N818  (the name the callers use)
    """Too soon after the previous code, or the daily limit is reached (HTTP 429)."""

    def __init__(self, retry_after_seconds: int, *, reason: str = "interval"):
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        self.reason = reason  # "interval" or "daily"
        super().__init__(
            _("验证码发送过于频繁，请 %(s)d 秒后再试。") % {"s": self.retry_after_seconds},
            code="sms_rate_limited",
            status=429,
            details={"retry_after_seconds": self.retry_after_seconds, "limit": reason},
        )


# --------------------------------------------------------------------------------------------
# Gateway port
# --------------------------------------------------------------------------------------------


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, phone: str, template: str, body: str) -> None:
        """Hand one message to the carrier; raise on failure."""


class OutboxGateway:
    """Embedded gateway: the outbox table is the delivery (and, in DEBUG, the console)."""

    name = "outbox"

    def send(self, phone: str, template: str, body: str) -> None:
        now = timezone.now()
        SmsMessage.objects.create(
            phone=phone,
            template=template[:40],
            body=body,
            status=SmsMessage.Status.SENT,
            gateway=self.name,
            created_at=now,
            sent_at=now,
        )
        if settings.DEBUG:
            # Developers read codes from the console; never in production logs.
            logger.warning("SMS to %s [%s]: %s", phone, template, body)


@functools.lru_cache(maxsize=4)
def _load_gateway(dotted: str) -> SmsGateway:
    gateway = import_string(dotted)()
    if not isinstance(gateway, SmsGateway):
        raise TypeError(f"GOVCENTER_SMS_GATEWAY={dotted!r} has no send(phone, template, body)")
    return gateway


def get_gateway() -> SmsGateway:
    """The configured gateway instance (GOVCENTER_SMS_GATEWAY, a dotted class path)."""
    return _load_gateway(settings.GOVCENTER_SMS_GATEWAY)


def normalise_phone(phone: str) -> str:
    """Digits (with an optional leading +) or ValidationError."""
    cleaned = re.sub(r"[\s\-()]", "", str(phone or ""))
    if not _PHONE.match(cleaned):
        raise ValidationError(_("手机号格式不正确。"), code="invalid_phone")
    return cleaned


def sms_send(*, phone: str, template: str, body: str) -> None:
    """Send one SMS through the configured gateway."""
    get_gateway().send(normalise_phone(phone), template, body)


# --------------------------------------------------------------------------------------------
# One-time codes
# --------------------------------------------------------------------------------------------


def _code_hash(phone: str, purpose: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac_sm3(key, f"{purpose}|{phone}|{code}".encode()).hex()


def _lock_phone(phone: str) -> None:
    """Serialise code issuing per phone for the rest of the transaction.

    PostgreSQL: a transaction-scoped advisory lock keyed by the phone (there may be no row
    to SELECT … FOR UPDATE yet). SQLite: transaction_mode=IMMEDIATE already serialises
    every writing transaction.
    """
    if connection.vendor == "postgresql":
        key = int.from_bytes(sm3(b"sms-code|" + phone.encode())[:8], "big", signed=True)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def sms_code_send(*, phone: str, purpose: str) -> SmsCode:
    """Issue a new code for ``phone`` and send it; earlier live codes for the purpose die.

    Raises SmsRateLimited(retry_after_seconds) when the previous code is younger than the
    interval or the phone already got the daily number of codes in the last 24 hours.
    """
    phone = normalise_phone(phone)
    purpose = (purpose or "").strip()[:30]
    if not purpose:
        raise ValidationError(_("缺少验证码用途。"), code="invalid_purpose")
    interval = timedelta(seconds=settings.GOVCENTER_SMS_MIN_INTERVAL_SECONDS)
    day = timedelta(hours=24)
    ttl = settings.GOVCENTER_SMS_CODE_TTL_SECONDS
    with transaction.atomic():
        _lock_phone(phone)
        now = timezone.now()
        recent = list(
            SmsCode.objects.filter(phone=phone, created_at__gt=now - day)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
        )
        if recent and now - recent[0] < interval:
            raise SmsRateLimited(math.ceil((recent[0] + interval - now).total_seconds()), reason="interval")
        limit = settings.GOVCENTER_SMS_DAILY_LIMIT
        if len(recent) >= limit:
            # The window frees up when the code that made it full turns 24 hours old.
            frees_at = recent[limit - 1] + day
            raise SmsRateLimited(math.ceil((frees_at - now).total_seconds()), reason="daily")
        SmsCode.objects.filter(
            phone=phone, purpose=purpose, consumed_at__isnull=True, burned_at__isnull=True, expires_at__gt=now
        ).update(burned_at=now)
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        row = SmsCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_code_hash(phone, purpose, code),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        body = TEMPLATES.get(purpose, _DEFAULT_TEMPLATE).format(code=code, minutes=max(1, ttl // 60))
        # Inside the transaction: a gateway failure leaves no code behind (nor a used slot).
        sms_send(phone=phone, template=purpose, body=body)
    return row


def sms_code_verify(*, phone: str, purpose: str, code: str) -> bool:
    """Whether ``code`` is the live code for (phone, purpose); a match consumes it.

    A wrong code counts against the live code, which burns at the attempt limit. Only
    the newest live code is checked.
    """
    try:
        phone = normalise_phone(phone)
    except ValidationError:
        return False
    code = (code or "").strip()
    with transaction.atomic():
        now = timezone.now()
        row = (
            SmsCode.objects.select_for_update()
            .filter(
                phone=phone,
                purpose=purpose,
                consumed_at__isnull=True,
                burned_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("-created_at")
            .first()
        )
        if row is None:
            return False
        candidate = _code_hash(phone, purpose, code) if _CODE.match(code) else ""
        if candidate and hmac.compare_digest(candidate, row.code_hash):
            row.consumed_at = now
            row.save(update_fields=["consumed_at"])
            return True
        row.attempts += 1
        if row.attempts >= settings.GOVCENTER_SMS_MAX_ATTEMPTS:
            row.burned_at = now
        row.save(update_fields=["attempts", "burned_at"])
        return False
