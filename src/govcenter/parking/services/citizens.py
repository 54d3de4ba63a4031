"""Citizen accounts: SMS-code login, app tokens, plate binding and plate transfer.

Every write is audited in its transaction. The actor of a citizen's action is named
``citizen:<id>`` in the audit chain (never the phone number).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.masking import mask_phone, mask_plate
from govcenter.core.sms import sms_code_send, sms_code_verify, sms_send

from ..models import Citizen, CitizenToken, PlateBinding, PlateTransfer
from ..plates import PlateError, validate_plate

LOGIN_PURPOSE = "citizen_login"
TOKEN_PREFIX = "ct_"
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def _phone(raw: str) -> str:
    phone = re.sub(r"[\s-]", "", raw or "").removeprefix("+86")
    if not _MOBILE.match(phone):
        raise ServiceError("请输入有效的 11 位手机号", code="invalid_phone", details={"phone": "invalid"})
    return phone


def _plate(raw: str) -> str:
    try:
        return validate_plate(raw)
    except PlateError as exc:
        raise ServiceError(str(exc), code="invalid_plate", details={"plate": str(exc)}) from None


def token_digest(raw: str) -> str:
    return sm3_hex(raw.encode())


def citizen_login_code_send(*, phone: str) -> None:
    """Send a login code (limits: core.sms — 1 per minute, 10 per day per phone)."""
    sms_code_send(phone=_phone(phone), purpose=LOGIN_PURPOSE)


@dataclass(frozen=True)
class IssuedToken:
    raw: str
    expires_at: datetime
    citizen: Citizen


@transaction.atomic
def citizen_login(*, phone: str, code: str) -> IssuedToken:
    """Check the SMS code; create the account on first login; issue an app token."""
    phone = _phone(phone)
    if not sms_code_verify(phone=phone, purpose=LOGIN_PURPOSE, code=(code or "").strip()):
        raise ServiceError("验证码错误或已失效", code="invalid_code", details={"code": "invalid"})
    citizen, created = Citizen.objects.get_or_create(phone=phone)
    if not citizen.is_active:
        raise ServiceError("账号已停用", code="account_disabled", status=403)
    now = timezone.now()
    citizen.last_login_at = now
    citizen.save(update_fields=["last_login_at"])
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=settings.GOVCENTER_PARKING_CITIZEN_TOKEN_DAYS)
    CitizenToken.objects.create(
        citizen=citizen, prefix=raw[:10], digest=token_digest(raw), expires_at=expires_at
    )
    audit.record(
        action="citizen.login",
        obj=citizen,
        object_repr=f"{citizen} {mask_phone(phone)}",
        changes={"created": created},
    )
    return IssuedToken(raw=raw, expires_at=expires_at, citizen=citizen)


def citizen_for_token(raw: str) -> tuple[Citizen, CitizenToken] | None:
    """The active citizen and token for a raw app token, or None."""
    token = (
        CitizenToken.objects.select_related("citizen")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.citizen.is_active:
        return None
    return token.citizen, token


@transaction.atomic
def citizen_logout(*, token: CitizenToken) -> None:
    CitizenToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record(action="citizen.logout", obj=token.citizen)


def plates_of(citizen: Citizen):
    """The citizen's active bindings (a selector, kept here for the small citizen API)."""
    return PlateBinding.objects.filter(citizen=citizen, status=PlateBinding.Status.ACTIVE).order_by(
        "bound_at"
    )


@transaction.atomic
def plate_bind(*, citizen: Citizen, plate: str, vehicle_class: str = "small") -> PlateBinding:
    """Bind a plate to the citizen. Idempotent for the same account; a plate bound to
    another account needs a transfer (409 ``plate_bound_elsewhere``)."""
    plate = _plate(plate)
    if vehicle_class not in ("small", "large"):
        raise ServiceError(
            "车型须为 small 或 large", code="invalid_vehicle_class", details={"vehicle_class": "invalid"}
        )
    existing = (
        PlateBinding.objects.select_for_update()
        .filter(plate=plate, status=PlateBinding.Status.ACTIVE)
        .first()
    )
    if existing is not None:
        if existing.citizen_id == citizen.pk:
            return existing
        raise ServiceError(
            "该车牌已被其他账号绑定，可申请转移绑定",
            code="plate_bound_elsewhere",
            status=409,
            details={"plate": mask_plate(plate), "transfer": "POST citizen/plates/{plate}/transfer"},
        )
    limit = settings.GOVCENTER_PARKING_CITIZEN_MAX_PLATES
    if plates_of(citizen).count() >= limit:
        raise ServiceError(f"每个账号最多绑定 {limit} 个车牌", code="too_many_plates", status=409)
    try:
        with transaction.atomic():
            binding = PlateBinding.objects.create(citizen=citizen, plate=plate, vehicle_class=vehicle_class)
    except IntegrityError:
        # A concurrent bind won the race (the partial unique index decided).
        raise ServiceError(
            "该车牌已被其他账号绑定，可申请转移绑定", code="plate_bound_elsewhere", status=409
        ) from None
    audit.record(
        action="plate.bind", obj=binding, changes={"plate": mask_plate(plate), "vehicle_class": vehicle_class}
    )
    return binding


@transaction.atomic
def plate_unbind(*, citizen: Citizen, plate: str) -> None:
    plate = _plate(plate)
    binding = plates_of(citizen).select_for_update().filter(plate=plate).first()
    if binding is None:
        raise ServiceError("未绑定该车牌", code="not_found", status=404)
    binding.status, binding.released_at = PlateBinding.Status.RELEASED, timezone.now()
    binding.save(update_fields=["status", "released_at"])
    audit.record(action="plate.unbind", obj=binding, changes={"plate": mask_plate(plate)})


@transaction.atomic
def plate_transfer_request(*, citizen: Citizen, plate: str) -> PlateTransfer:
    """Ask the account holding ``plate`` to hand it over; the holder gets an SMS notice."""
    plate = _plate(plate)
    holder = PlateBinding.objects.filter(plate=plate, status=PlateBinding.Status.ACTIVE).first()
    if holder is None:
        raise ServiceError("该车牌未被绑定，可直接绑定", code="plate_not_bound", status=409)
    if holder.citizen_id == citizen.pk:
        raise ServiceError("该车牌已绑定在本账号", code="already_bound", status=409)
    pending = PlateTransfer.objects.filter(
        plate=plate, to_citizen=citizen, status=PlateTransfer.Status.PENDING
    ).first()
    if pending is not None and pending.expires_at > timezone.now():
        return pending
    if pending is not None:
        pending.status = PlateTransfer.Status.EXPIRED
        pending.save(update_fields=["status"])
    transfer = PlateTransfer.objects.create(
        plate=plate,
        from_citizen=holder.citizen,
        to_citizen=citizen,
        expires_at=timezone.now() + timedelta(days=settings.GOVCENTER_PARKING_PLATE_TRANSFER_DAYS),
    )
    sms_send(
        phone=holder.citizen.phone,
        template="plate_transfer",
        body=f"【北京交通】有用户申请将车牌 {mask_plate(plate)} 转移至其账号，请在 App 中确认或拒绝。",
    )
    audit.record(action="plate.transfer_request", obj=transfer, changes={"plate": mask_plate(plate)})
    return transfer


@transaction.atomic
def plate_transfer_decide(*, citizen: Citizen, transfer_id: int, approve: bool) -> PlateTransfer:
    """The holder approves (the plate moves to the requester) or rejects a pending transfer."""
    transfer = (
        PlateTransfer.objects.select_for_update()
        .filter(pk=transfer_id, from_citizen=citizen, status=PlateTransfer.Status.PENDING)
        .first()
    )
    if transfer is None:
        raise ServiceError("没有待处理的转移申请", code="not_found", status=404)
    now = timezone.now()
    if transfer.expires_at <= now:
        transfer.status = PlateTransfer.Status.EXPIRED
        transfer.save(update_fields=["status"])
        raise ServiceError("转移申请已过期", code="transfer_expired", status=409)
    transfer.status = PlateTransfer.Status.APPROVED if approve else PlateTransfer.Status.REJECTED
    transfer.decided_at = now
    transfer.save(update_fields=["status", "decided_at"])
    if approve:
        binding = plates_of(citizen).select_for_update().get(plate=transfer.plate)
        binding.status, binding.released_at = PlateBinding.Status.RELEASED, now
        binding.save(update_fields=["status", "released_at"])
        PlateBinding.objects.create(
            citizen=transfer.to_citizen, plate=transfer.plate, vehicle_class=binding.vehicle_class
        )
    audit.record(
        action="plate.transfer_" + ("approve" if approve else "reject"),
        obj=transfer,
        changes={"plate": mask_plate(transfer.plate)},
    )
    return transfer
