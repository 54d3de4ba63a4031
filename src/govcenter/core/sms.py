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

Notices come from templates (:func:`sms_notify`): a built-in text per template code lives in
a registry (core's login codes here; domain apps add theirs with :func:`register_template`
from their own modules — core never imports them); an :class:`SmsTemplate` row of the same
code overrides the text (edited by system administrators, placeholders checked, audited).
Every notice is logged as one SmsMessage whatever the gateway (status sent / failed, then
delivered when the carrier's delivery report arrives: :func:`sms_delivery_report`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .api.errors import ServiceError
from .crypto import hmac_sm3, sm3
from .models import SmsCategory, SmsCode, SmsMessage, SmsTemplate

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
            category=template_category(template),
            body=body,
            status=SmsMessage.Status.SENT,
            gateway=self.name,
            created_at=now,
            sent_at=now,
        )
        self.echo(phone, template, body)

    @staticmethod
    def echo(phone: str, template: str, body: str) -> None:
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
        text = template_text(purpose) if purpose in _registry else None
        body = (text or _DEFAULT_TEMPLATE).format(code=code, minutes=max(1, ttl // 60))
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


# --------------------------------------------------------------------------------------------
# Templates: the registry of built-in texts, the stored overrides, rendering, notices
# --------------------------------------------------------------------------------------------


class SmsTemplateError(ServiceError):
    """A template that is unknown, malformed or missing a value (HTTP 400)."""


@dataclass(frozen=True)
class BuiltinTemplate:
    code: str
    name: str
    body: str
    category: str
    placeholders: frozenset[str]  # what the text may use
    required: frozenset[str]  # what the text must keep (e.g. the code of a login SMS)


_registry: dict[str, BuiltinTemplate] = {}


def register_template(
    code: str, *, name: str, body: str, category: str, placeholders=None, required=()
) -> BuiltinTemplate:
    """Add (or replace) the built-in template ``code``; placeholders default to those of ``body``."""
    if category not in SmsCategory.values:
        raise ValueError(f"unknown SMS category {category!r}")
    used = placeholders_of(body)
    allowed = frozenset(placeholders) if placeholders is not None else used
    if not used <= allowed or not frozenset(required) <= allowed:
        raise ValueError(f"SMS template {code!r} uses placeholders outside {sorted(allowed)}")
    spec = BuiltinTemplate(code, name, body, category, allowed, frozenset(required))
    _registry[code] = spec
    return spec


def builtin_templates() -> list[BuiltinTemplate]:
    return sorted(_registry.values(), key=lambda t: (t.category, t.code))


def builtin_template(code: str) -> BuiltinTemplate:
    try:
        return _registry[code]
    except KeyError:
        raise SmsTemplateError(
            _("未知的短信模板：%(code)s") % {"code": code},
            code="sms_template_unknown",
            details={"template": [code]},
        ) from None


def template_category(code: str) -> str:
    spec = _registry.get(code)
    return spec.category if spec else SmsCategory.OTHER


def placeholders_of(body: str) -> frozenset[str]:
    """The ``{name}`` fields of ``body``; SmsTemplateError when it is not a plain format string.

    Only bare names: no positional ``{}``, attribute or index access, conversion or format
    spec (an editor must not reach into the objects the text is rendered with).
    """
    names = set()
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise SmsTemplateError(
            _("模板格式错误：%(e)s") % {"e": exc}, code="sms_template_invalid", details={"body": [str(exc)]}
        ) from None
    for _text, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise SmsTemplateError(
                _("占位符只能是 {名称}：%(f)s") % {"f": field or "{}"},
                code="sms_template_invalid",
                details={"body": [f"{{{field}}}"]},
            )
        names.add(field)
    return frozenset(names)


def validate_template_body(code: str, body: str) -> frozenset[str]:
    """Check ``body`` for template ``code``: allowed placeholders only, required ones kept."""
    spec = builtin_template(code)
    if not (body or "").strip():
        raise SmsTemplateError(
            _("模板内容不能为空。"), code="sms_template_invalid", details={"body": [_("必填。")]}
        )
    used = placeholders_of(body)
    unknown = sorted(used - spec.placeholders)
    missing = sorted(spec.required - used)
    if unknown or missing:
        details = {}
        if unknown:
            details["unknown"] = unknown
        if missing:
            details["missing"] = missing
        raise SmsTemplateError(
            _("占位符不符合要求：可用 %(allowed)s")
            % {"allowed": "、".join(f"{{{p}}}" for p in sorted(spec.placeholders))},
            code="sms_template_placeholders",
            details=details,
        )
    return used


def template_text(code: str) -> str:
    """The text in force for ``code``: the stored row if any, else the built-in one."""
    row = SmsTemplate.objects.filter(code=code).values_list("body", flat=True).first()
    return row if row is not None else builtin_template(code).body


def render_template(code: str, context: dict) -> str:
    """The text of ``code`` filled with ``context``; a missing value is an SmsTemplateError."""
    text = template_text(code)
    missing = sorted(placeholders_of(text) - set(context))
    if missing:
        raise SmsTemplateError(
            _("短信模板 %(code)s 缺少占位符的值：%(m)s") % {"code": code, "m": ", ".join(missing)},
            code="sms_template_context",
            details={"missing": missing},
        )
    return text.format(**{k: v for k, v in context.items() if isinstance(k, str)})


def sms_templates_sync() -> dict[str, int]:
    """Store a row for every registered template that has none (never overwrites an edit)."""
    existing = set(SmsTemplate.objects.values_list("code", flat=True))
    new = [
        SmsTemplate(code=t.code, name=t.name, body=t.body, category=t.category)
        for t in builtin_templates()
        if t.code not in existing
    ]
    if new:
        from . import audit

        with transaction.atomic():
            SmsTemplate.objects.bulk_create(new, ignore_conflicts=True)
            audit.record(
                action="create",
                object_type="core.smstemplate",
                object_repr=f"{len(new)} built-in SMS templates",
                changes={"codes": [t.code for t in new]},
            )
    return {"created": len(new), "unchanged": len(existing)}


@transaction.atomic
def sms_template_update(
    *, actor, template: SmsTemplate, body: str, active: bool | None = None
) -> SmsTemplate:
    """Edit a stored template's text (and whether it is used); placeholders checked; audited."""
    from . import audit

    template = SmsTemplate.objects.select_for_update().get(pk=template.pk)
    validate_template_body(template.code, body)
    before = audit.snapshot(template, ["body", "active"])
    template.body = body
    if active is not None:
        template.active = bool(active)
    template.updated_by = actor if getattr(actor, "pk", None) else None
    template.updated_at = timezone.now()
    template.save(update_fields=["body", "active", "updated_by", "updated_at"])
    changes = audit.diff(before, audit.snapshot(template, ["body", "active"]))
    if changes:
        audit.record(action="update", obj=template, changes=changes)
    return template


def sms_notify(*, phone: str, template_code: str, **context) -> SmsMessage | None:
    """Render template ``template_code`` with ``context``, send it and log it as one SmsMessage.

    Returns the message (status ``sent``, or ``failed`` with the gateway's error: a carrier
    failure is logged, not raised), or None when the stored template is switched off.
    Raises SmsTemplateError for an unknown template or a missing placeholder value and
    ValidationError for a malformed phone — before anything is sent.
    """
    spec = builtin_template(template_code)
    row = SmsTemplate.objects.filter(code=template_code).values_list("active", flat=True).first()
    if row is False:
        return None
    body = render_template(template_code, context)
    phone = normalise_phone(phone)
    gateway = get_gateway()
    now = timezone.now()
    message = SmsMessage(
        phone=phone,
        template=template_code[:40],
        category=spec.category,
        body=body,
        status=SmsMessage.Status.QUEUED,
        gateway=str(getattr(gateway, "name", type(gateway).__name__))[:60],
        created_at=now,
    )
    if isinstance(gateway, OutboxGateway):
        gateway.echo(phone, template_code, body)  # the row below is the delivery
    else:
        try:
            gateway.send(phone, template_code, body)
        except Exception as exc:  # noqa: BLE001  (a carrier failure is logged on the message)
            logger.warning("SMS %s to …%s failed: %s", template_code, phone[-4:], exc)
            message.status = SmsMessage.Status.FAILED
            message.error = str(exc)[:200]
    if message.status == SmsMessage.Status.QUEUED:
        message.status = SmsMessage.Status.SENT
        message.sent_at = now
    message.save(force_insert=True)
    return message


DELIVERY_STATUSES = (SmsMessage.Status.DELIVERED, SmsMessage.Status.FAILED)


def sms_delivery_report(message_id: int, status: str, at: datetime | None = None) -> SmsMessage:
    """The carrier's delivery report for one message: ``delivered`` or ``failed``.

    Idempotent: a repeated report changes nothing; a delivered message stays delivered.
    """
    if status not in DELIVERY_STATUSES:
        raise SmsTemplateError(
            _("未知的送达状态：%(s)s") % {"s": status},
            code="sms_delivery_status",
            details={"status": [status]},
        )
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
        raise SmsTemplateError(
            _("时间须带时区。"), code="naive_time", details={"at": [_("时间须带 UTC 偏移。")]}
        )
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise SmsTemplateError(
                _("短信不存在。"),
                code="sms_message_unknown",
                status=404,
                details={"message_id": [str(message_id)]},
            )
        if message.status == SmsMessage.Status.DELIVERED or message.status == status:
            return message
        message.status = status
        if status == SmsMessage.Status.DELIVERED:
            message.delivered_at = at or timezone.now()
        message.save(update_fields=["status", "delivered_at", "updated_at"])
    return message


for _code, _name in (("staff_login", "工作人员登录验证码"), ("citizen_login", "公众用户登录验证码")):
    register_template(
        _code,
        name=_name,
        body=TEMPLATES[_code],
        category=SmsCategory.LOGIN_CODE,
        placeholders={"code", "minutes"},
        required={"code"},
    )


def _register_seed() -> None:
    from . import seeding

    seeding.register("sms_templates", sms_templates_sync)  # `govcenter seed` stores the built-ins


_register_seed()
