"""Writes of parking devices: register, update, bind, retire, issue a credential.

Binding rule: a geomagnetic sensor binds to one space (and so to its segment); high-position
video, video piles and PDAs bind to a segment. A space holds at most one non-retired
sensor. The binding target must be in the device's district and not retired.

Credential (see models/devices.py): ``device_credential_issue`` returns the raw token once;
the database keeps its SM3 digest (bearer authentication) and an SM4-GCM ciphertext of it
(key = first 16 bytes of SM3("govcenter:parking:device-secret:v1" ‖ SECRET_KEY), AAD =
"parking.device:<id>") so HMAC-SM3 signatures made with the token can be verified.

Binding history: register (when bound), bind, rebind, unbind and retire close the device's
open :class:`DeviceBinding` period and open the next one (if still bound) in the same
transaction, through the base services' one chain writer (``base.write_versions``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.crypto import sm3, sm3_hex, sm4_decrypt, sm4_encrypt
from govcenter.core.models import District, Unit, UnitKind

from ..models import Device, Segment, Space
from ..models.devices import SEGMENT_BOUND_KINDS, SPACE_BOUND_KINDS, DeviceBinding
from .base import check_district_in_scope, check_managing_unit, district_parking_unit, write_versions

DEVICE_FIELDS = [
    "kind",
    "serial",
    "vendor_id",
    "district_id",
    "managing_unit_id",
    "segment_id",
    "space_id",
    "status",
    "battery_pct",
    "firmware",
]
DEVICE_EDITABLE = frozenset({"vendor", "firmware", "status", "battery_pct", "managing_unit"})
TOKEN_PREFIX = "gd_"


# ------------------------------------------------------------------------------------------
# Credential helpers
# ------------------------------------------------------------------------------------------


def token_digest(raw: str) -> str:
    return sm3_hex(raw.encode())


def _secret_key() -> bytes:
    return sm3(b"govcenter:parking:device-secret:v1" + settings.SECRET_KEY.encode())[:16]


def _aad(device: Device) -> bytes:
    return f"parking.device:{device.pk}".encode()


def device_signing_key(device: Device) -> bytes:
    """The device's HMAC-SM3 key (its token), decrypted; raises CryptoError if tampered."""
    if not device.secret_enc:
        raise ValidationError(_("设备尚未签发凭证。"), code="no_credential")
    return sm4_decrypt(_secret_key(), bytes(device.secret_enc), aad=_aad(device))


# ------------------------------------------------------------------------------------------
# Binding history
# ------------------------------------------------------------------------------------------


def binding_snapshot(device: Device) -> dict | None:
    """What a binding period records; None when the device is unbound or retired."""
    if device.status == Device.Status.RETIRED or device.segment_id is None:
        return None
    segment = device.segment
    return {
        "segment_id": device.segment_id,
        "segment_code": segment.code,
        "space_id": device.space_id,
        "space_number": device.space.number if device.space_id else None,
    }


def version_bindings(devices: Sequence[Device], at) -> int:
    """Close each device's open binding period and open the next when its binding changed
    (none when unbound or retired). Returns how many periods were opened."""
    items = []
    for device in devices:
        snap = binding_snapshot(device)
        columns = {"segment_id": device.segment_id, "space_id": device.space_id} if snap else None
        items.append((device, snap, columns))
    return len(write_versions(DeviceBinding, "device", items, at))


# ------------------------------------------------------------------------------------------
# Guards
# ------------------------------------------------------------------------------------------


def _check_vendor(vendor: Unit | None) -> None:
    if vendor is not None and vendor.kind != UnitKind.VENDOR:
        raise ValidationError({"vendor": _("设备厂商须为“设备厂商”类型的单位。")}, code="bad_vendor")


def _resolve_binding(
    *,
    kind: str,
    district_id: int | None,
    space: Space | None,
    segment: Segment | None,
    exclude_device: int | None,
) -> tuple[Space | None, Segment | None]:
    """Check the binding rule; returns (space, segment) to store."""
    if space is not None and segment is not None and kind in SPACE_BOUND_KINDS:
        if space.segment_id != segment.pk:
            raise ValidationError({"space": _("泊位不属于所选路段。")}, code="binding_mismatch")
        segment = None
    if kind in SPACE_BOUND_KINDS:
        if segment is not None:
            raise ValidationError(
                {"segment": _("地磁传感器须绑定到泊位，不能只绑定路段。")}, code="wrong_binding"
            )
        if space is None:
            return None, None
        space = Space.objects.select_related("segment").get(pk=space.pk)
        if space.status == Space.Status.RETIRED:
            raise ValidationError({"space": _("泊位已撤销，不能绑定设备。")}, code="target_retired")
        if district_id is not None and space.district_id != district_id:
            raise ValidationError({"space": _("泊位与设备不在同一个区。")}, code="district_mismatch")
        taken = Device.objects.filter(space=space, kind__in=list(SPACE_BOUND_KINDS)).exclude(
            status=Device.Status.RETIRED
        )
        if exclude_device is not None:
            taken = taken.exclude(pk=exclude_device)
        if taken.exists():
            raise ValidationError(
                {
                    "space": _("泊位 %(space)s 已绑定地磁设备 %(serial)s。")
                    % {"space": space, "serial": taken.first().serial}
                },
                code="space_taken",
            )
        return space, space.segment
    if kind in SEGMENT_BOUND_KINDS:
        if space is not None:
            raise ValidationError(
                {
                    "space": _("%(kind)s须绑定到路段，不能绑定到单个泊位。")
                    % {"kind": Device(kind=kind).get_kind_display()}
                },
                code="wrong_binding",
            )
        if segment is None:
            return None, None
        segment = Segment.objects.get(pk=segment.pk)
        if segment.status == Segment.Status.RETIRED:
            raise ValidationError({"segment": _("路段已撤销，不能绑定设备。")}, code="target_retired")
        if district_id is not None and segment.district_id != district_id:
            raise ValidationError({"segment": _("路段与设备不在同一个区。")}, code="district_mismatch")
        return None, segment
    raise ValidationError({"kind": _("未知的设备类型。")}, code="bad_kind")


# ------------------------------------------------------------------------------------------
# Services
# ------------------------------------------------------------------------------------------


def _build_device(actor, row: dict) -> Device:
    row = dict(row)
    kind = row.pop("kind")
    space = row.pop("space", None)
    segment = row.pop("segment", None)
    district = row.pop("district", None)
    if district is None:
        target = space or segment
        if target is None:
            raise ValidationError({"district": _("请指定所属区或绑定对象。")}, code="no_district")
        district = District.objects.get(pk=target.district_id)
    check_district_in_scope(actor, district.pk)
    space, segment = _resolve_binding(
        kind=kind, district_id=district.pk, space=space, segment=segment, exclude_device=None
    )
    unit = row.pop("managing_unit", None) or district_parking_unit(district)
    check_managing_unit(unit, district.pk)
    _check_vendor(row.get("vendor"))
    unknown = set(row) - {"serial", "vendor", "firmware", "status", "battery_pct"}
    if unknown:
        raise TypeError(f"device_register() got unexpected fields: {', '.join(sorted(unknown))}")
    if row.get("status") == Device.Status.RETIRED:
        raise ValidationError({"status": _("新设备不能是报废状态。")}, code="bad_status")
    device = Device(kind=kind, district=district, managing_unit=unit, space=space, segment=segment, **row)
    device.full_clean()
    return device


@transaction.atomic
def device_register_bulk(*, actor, rows: Sequence[dict], reason: str = "") -> list[Device]:
    """Register many devices: every row valid or nothing written; one audit entry for the batch.

    A row: ``kind``, ``serial`` and optionally ``district``, ``space``/``segment`` (the binding,
    by kind), ``vendor``, ``firmware``, ``status``, ``battery_pct``, ``managing_unit``.
    """
    devices: list[Device] = []
    serials: set[str] = set()
    for i, row in enumerate(rows, start=1):
        try:
            device = _build_device(actor, row)
            if device.serial in serials:
                raise ValidationError({"serial": _("序列号重复。")}, code="duplicate_serial")
        except ValidationError as exc:
            if len(rows) == 1:
                raise
            raise ValidationError(
                {"rows": [_("第 %(row)d 行：%(errors)s") % {"row": i, "errors": exc.messages}]}
            ) from exc
        serials.add(device.serial)
        devices.append(device)
    # Two sensors of one batch on the same space would pass the per-row check.
    spaces = [d.space_id for d in devices if d.space_id]
    if len(spaces) != len(set(spaces)):
        raise ValidationError({"space": _("同一批次中有多台地磁设备绑定到同一个泊位。")}, code="space_taken")
    Device.objects.bulk_create(devices)
    if any(d.pk is None for d in devices):  # a backend without RETURNING ids
        ids = dict(Device.objects.filter(serial__in=list(serials)).values_list("serial", "pk"))
        for device in devices:
            device.pk = device.id = ids[device.serial]
    version_bindings(devices, timezone.now())
    if len(devices) == 1:
        audit.record(
            action="parking.device.register",
            obj=devices[0],
            changes={"before": {}, "after": audit.snapshot(devices[0], DEVICE_FIELDS)},
            reason=reason,
        )
    elif devices:
        audit.record(
            action="parking.device.bulk_register",
            object_type="parking.device",
            object_repr=_("%(n)d 台设备") % {"n": len(devices)},
            changes={"before": {}, "after": [audit.snapshot(d, ["id", *DEVICE_FIELDS]) for d in devices]},
            reason=reason,
        )
    return devices


def device_register(*, actor, kind: str, serial: str, **fields) -> Device:
    """Register one device (optionally bound, following the binding rule); audited."""
    return device_register_bulk(actor=actor, rows=[{"kind": kind, "serial": serial, **fields}])[0]


@transaction.atomic
def device_update(*, actor, device: Device, reason: str = "", **fields) -> Device:
    """Change vendor, firmware, status (not retired: use :func:`device_retire`), battery, managing unit."""
    unknown = set(fields) - DEVICE_EDITABLE
    if unknown:
        raise TypeError(f"device_update() got unexpected fields: {', '.join(sorted(unknown))}")
    device = Device.objects.select_for_update().get(pk=device.pk)
    check_district_in_scope(actor, device.district_id)
    if device.status == Device.Status.RETIRED:
        raise ValidationError(_("设备已报废，不能修改。"), code="device_retired")
    if fields.get("status") == Device.Status.RETIRED:
        raise ValidationError({"status": _("报废设备请使用“报废”操作。")}, code="bad_status")
    before = audit.snapshot(device, DEVICE_FIELDS)
    for name, value in fields.items():
        setattr(device, name, value)
    _check_vendor(device.vendor)
    if "managing_unit" in fields:
        check_managing_unit(device.managing_unit, device.district_id)
    device.full_clean()
    changes = audit.diff(before, audit.snapshot(device, DEVICE_FIELDS))
    if changes["after"]:
        device.save()
        audit.record(action="parking.device.update", obj=device, changes=changes, reason=reason)
    return device


@transaction.atomic
def device_bind(
    *, actor, device: Device, space: Space | None = None, segment: Segment | None = None, reason: str = ""
) -> Device:
    """Bind a device by its kind (sensor → space, camera/PDA → segment); both None unbinds."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    check_district_in_scope(actor, device.district_id)
    if device.status == Device.Status.RETIRED:
        raise ValidationError(_("设备已报废，不能绑定。"), code="device_retired")
    space, segment = _resolve_binding(
        kind=device.kind,
        district_id=device.district_id,
        space=space,
        segment=segment,
        exclude_device=device.pk,
    )
    before = audit.snapshot(device, DEVICE_FIELDS)
    device.space, device.segment = space, segment
    device.full_clean()
    changes = audit.diff(before, audit.snapshot(device, DEVICE_FIELDS))
    if changes["after"]:
        device.save(update_fields=["space", "segment", "updated_at"])
        version_bindings([device], timezone.now())
        audit.record(
            action="parking.device.bind" if (space or segment) else "parking.device.unbind",
            obj=device,
            changes=changes,
            reason=reason,
        )
    return device


@transaction.atomic
def device_retire(*, actor, device: Device, reason: str = "") -> Device:
    """Retire a device: status retired, credential revoked; the binding is kept as history."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    check_district_in_scope(actor, device.district_id)
    if device.status == Device.Status.RETIRED:
        return device
    before = audit.snapshot(device, [*DEVICE_FIELDS, "token_prefix"])
    device.status = Device.Status.RETIRED
    device.token_digest = device.token_prefix = ""
    device.secret_enc = None
    device.save()
    version_bindings([device], timezone.now())  # closes the open period; the binding columns stay
    audit.record(
        action="parking.device.retire",
        obj=device,
        changes=audit.diff(before, audit.snapshot(device, [*DEVICE_FIELDS, "token_prefix"])),
        reason=reason,
    )
    return device


@transaction.atomic
def device_credential_issue(*, actor, device: Device) -> str:
    """Issue (or rotate) the device's credential and return the raw token — shown once.

    Stored as an SM3 digest and an SM4-GCM ciphertext (never in clear); the previous
    token stops working. Audited with the prefix only.
    """
    device = Device.objects.select_for_update().get(pk=device.pk)
    check_district_in_scope(actor, device.district_id)
    if device.status == Device.Status.RETIRED:
        raise ValidationError(_("设备已报废，不能签发凭证。"), code="device_retired")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    previous = device.token_prefix
    device.token_prefix = raw[:10]
    device.token_digest = token_digest(raw)
    device.secret_enc = sm4_encrypt(_secret_key(), raw.encode(), aad=_aad(device))
    device.credential_issued_at = timezone.now()
    device.save(
        update_fields=["token_prefix", "token_digest", "secret_enc", "credential_issued_at", "updated_at"]
    )
    audit.record(
        action="parking.device.credential_issue",
        obj=device,
        changes={"before": {"token_prefix": previous}, "after": {"token_prefix": device.token_prefix}},
    )
    return raw
