"""Scan verification (扫码核查): look a scanned code up, record the inspector's result, count.

* :func:`scancheck_lookup` — the registry record and the live status of a code (what the
  inspector sees before choosing a result). The registry is searched across every operator
  (an inspector checks any brand's bike), so it is not limited by the caller's data scope;
  the function permission ``bikeshare.add_scancheck`` gates it.
* :func:`scancheck_record` — validates, derives the vehicle, operator, district (from the
  position), GCJ-02 position and live snapshot, and writes the check with its audit entry
  in one transaction. A retry with the same ``client_ref`` returns the first check
  (idempotent for flaky mobile networks).
* :func:`scancheck_list` / :func:`scancheck_stats` — reads through the caller's scope; the
  statistics count checks per operator, district, inspector or primary result, with the
  share of unregistered bikes (checks whose code matched no active registration).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.districts import district_for_point
from govcenter.core.geo import Datum, distance_m, to_gcj02
from govcenter.core.models import District, Unit, UnitKind

from ..models import Vehicle, VehicleState
from ..models.scanchecks import PROBLEMS, ScanCheck, ScanResult

logger = logging.getLogger(__name__)

ADD_PERMISSION = "bikeshare.add_scancheck"
VIEW_PERMISSION = "bikeshare.view_scancheck"
GROUP_BY = ("operator", "district", "inspector", "result")
MAX_CODE = 255
MAX_NOTE = 2000
MAX_PERIOD_DAYS = 366
AUDIT_FIELDS = ["id", "vehicle_code", "vehicle_id", "operator_id", "district_id", "lon", "lat", "datum",
                "result", "flags", "photo_ref", "live_state"]  # fmt: skip


@dataclass(frozen=True)
class LiveSnapshot:
    state: str
    reported_at: dt.datetime
    lon: float  # GCJ-02
    lat: float
    outside_fence: bool

    @property
    def state_label(self) -> str:
        """The MDS state in the UI language (the code itself if unknown)."""
        return str(dict(VehicleState.choices).get(self.state, self.state))


@dataclass(frozen=True)
class Lookup:
    """What a code resolves to: the vehicle (None when unregistered) and its live status."""

    code: str
    vehicle: Vehicle | None
    operator: Unit | None
    live: LiveSnapshot | None
    candidates: tuple[Vehicle, ...] = ()  # several operators use the code: the inspector picks one


def _require(actor, permission: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_perm(permission):
        raise PermissionDenied(_("没有扫码核查权限。"))


def _clean_code(code) -> str:
    code = str(code or "").strip()
    if not code:
        raise ServiceError(_("请输入车辆编码。"), code="missing_code", details={"vehicle_code": ["required"]})
    if len(code) > MAX_CODE or any(ord(c) < 32 for c in code):
        raise ServiceError(_("车辆编码格式不正确。"), code="bad_code", details={"vehicle_code": [code[:64]]})
    return code


def _operator(value) -> Unit | None:
    if value in (None, ""):
        return None
    if isinstance(value, Unit):
        unit = value
    else:
        try:
            pk = int(value)
        except (TypeError, ValueError):
            raise ServiceError(
                _("运营企业不存在。"), code="bad_operator", details={"operator": [str(value)]}
            ) from None
        unit = Unit.objects.filter(pk=pk).first()
    if unit is None or unit.kind != UnitKind.OPERATOR:
        raise ServiceError(_("运营企业不存在。"), code="bad_operator", details={"operator": [str(value)]})
    return unit


def live_snapshot(vehicle: Vehicle) -> LiveSnapshot | None:
    """The bike's newest live record, or None (no store configured, no report, store down)."""
    url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "")
    if not url:
        return None
    from ..live import open_live_state

    try:
        with open_live_state(url) as live:
            bike = live.get(str(vehicle.device_id))
    except Exception:  # noqa: BLE001 - a check must not fail because the live store is down
        logger.warning("scan check: live state unavailable", exc_info=True)
        return None
    if bike is None:
        return None
    return LiveSnapshot(
        state=bike.vehicle_state,
        reported_at=dt.datetime.fromtimestamp(bike.timestamp_ms / 1000, tz=dt.UTC),
        lon=bike.lon,
        lat=bike.lat,
        outside_fence=bike.parked_outside_fence,
    )


def _resolve(code: str, operator: Unit | None) -> tuple[Vehicle | None, tuple[Vehicle, ...]]:
    active = Vehicle.objects.filter(vehicle_id=code, retired_at__isnull=True).select_related("operator")
    if operator is not None:
        return active.filter(operator=operator).first(), ()
    found = tuple(active.order_by("operator__code")[:10])
    if len(found) == 1:
        return found[0], ()
    return None, found


def scancheck_lookup(actor, *, vehicle_code, operator=None) -> Lookup:
    """The registry record and live status of a scanned code (see the module docstring)."""
    _require(actor, ADD_PERMISSION)
    code = _clean_code(vehicle_code)
    op = _operator(operator)
    vehicle, candidates = _resolve(code, op)
    return Lookup(
        code=code,
        vehicle=vehicle,
        operator=vehicle.operator if vehicle is not None else op,
        live=live_snapshot(vehicle) if vehicle is not None else None,
        candidates=candidates,
    )


def _position(lon, lat, datum, accuracy_m):
    if lon in (None, "") and lat in (None, ""):
        return None, None, "", None
    try:
        lon, lat = float(lon), float(lat)
        source = Datum.parse(datum or Datum.WGS84)
    except (TypeError, ValueError):
        raise ServiceError(
            _("位置格式不正确。"), code="bad_position", details={"position": [f"{lon},{lat}"]}
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ServiceError(_("位置格式不正确。"), code="bad_position", details={"position": [f"{lon},{lat}"]})
    if accuracy_m not in (None, ""):
        try:
            accuracy_m = float(accuracy_m)
        except (TypeError, ValueError):
            accuracy_m = None
        if accuracy_m is not None and not (math.isfinite(accuracy_m) and accuracy_m >= 0):
            accuracy_m = None
    else:
        accuracy_m = None
    glon, glat = to_gcj02(lon, lat, source)
    return float(glon), float(glat), str(source), accuracy_m


def _results(result, flags) -> tuple[str, list[str]]:
    if result not in ScanResult.values:
        raise ServiceError(_("核查结果不正确。"), code="bad_result", details={"result": [str(result)]})
    flags = list(flags or [])
    bad = [f for f in flags if f not in PROBLEMS]
    if bad:
        raise ServiceError(_("其他问题不正确。"), code="bad_result", details={"flags": [str(f) for f in bad]})
    if result == ScanResult.COMPLIANT and flags:
        raise ServiceError(
            _("合规的车辆不能同时登记问题。"), code="compliant_with_problems", details={"flags": flags}
        )
    return result, [f for f in dict.fromkeys(flags) if f != result]


def scancheck_record(
    actor,
    *,
    vehicle_code,
    result,
    flags=(),
    operator=None,
    lon=None,
    lat=None,
    datum=Datum.WGS84,
    accuracy_m=None,
    note: str = "",
    photo_ref: str = "",
    client_ref: str = "",
) -> ScanCheck:
    """Record one check by ``actor`` (needs ``bikeshare.add_scancheck``).

    ``operator`` (a Unit or its id) narrows the registry lookup to that operator, and names
    the brand of an unregistered bike. The position comes in ``datum`` (default WGS-84, what
    a phone's GPS gives) and is stored in GCJ-02; the district is the one containing it
    (else the registered vehicle's district). Raises ServiceError (400) for bad input.
    """
    _require(actor, ADD_PERMISSION)
    code = _clean_code(vehicle_code)
    op = _operator(operator)
    result, flags = _results(result, flags)
    note, photo_ref, client_ref = (
        str(note or "").strip(),
        str(photo_ref or "").strip(),
        str(client_ref or "").strip(),
    )
    if len(note) > MAX_NOTE or len(photo_ref) > 255 or len(client_ref) > 64:
        raise ServiceError(
            _("内容过长。"), code="too_long", details={"note": [str(MAX_NOTE)], "photo_ref": ["255"]}
        )
    if actor.unit_id is None:
        raise ServiceError(_("核查员未归属单位。"), code="no_unit")
    glon, glat, source_datum, accuracy_m = _position(lon, lat, datum, accuracy_m)

    if client_ref:
        done = ScanCheck.objects.filter(inspector=actor, client_ref=client_ref).first()
        if done is not None:
            return done

    vehicle, candidates = _resolve(code, op)
    if candidates:
        raise ServiceError(
            _("多家运营企业使用该编码，请选择运营企业。"),
            code="ambiguous_code",
            details={"operator": [str(v.operator_id) for v in candidates]},
        )
    if vehicle is None:
        if result == ScanResult.COMPLIANT:
            raise ServiceError(_("未登记的车辆不能判定为合规。"), code="unregistered_compliant")
        if result != ScanResult.UNREGISTERED and ScanResult.UNREGISTERED not in flags:
            flags.insert(0, ScanResult.UNREGISTERED.value)
    elif result == ScanResult.UNREGISTERED or ScanResult.UNREGISTERED in flags:
        raise ServiceError(
            _("该车辆已登记，不能判定为未登记。"),
            code="registered_vehicle",
            details={"vehicle": [vehicle.pk]},
        )

    district = None
    if glon is not None:
        district = district_for_point(glon, glat)
    if district is None and vehicle is not None and vehicle.district_id is not None:
        district = District.objects.filter(pk=vehicle.district_id).first()

    live = live_snapshot(vehicle) if vehicle is not None else None
    check = ScanCheck(
        inspector=actor,
        unit_id=actor.unit_id,
        checked_at=timezone.now(),
        vehicle_code=code,
        vehicle=vehicle,
        operator=vehicle.operator if vehicle is not None else op,
        district=district,
        lon=glon,
        lat=glat,
        datum=str(Datum.GCJ02),
        source_datum=source_datum,
        accuracy_m=accuracy_m,
        result=result,
        flags=flags,
        note=note,
        photo_ref=photo_ref,
        client_ref=client_ref,
    )
    if live is not None:
        check.live_state = live.state
        check.live_reported_at = live.reported_at
        check.live_outside_fence = live.outside_fence
        if glon is not None:
            check.live_distance_m = round(float(distance_m(glon, glat, live.lon, live.lat)), 1)
    try:
        with transaction.atomic():
            check.save(force_insert=True)
            audit.record(
                action="bikeshare.scancheck.record",
                obj=check,
                changes={"after": audit.snapshot(check, AUDIT_FIELDS)},
            )
    except IntegrityError:
        # A concurrent retry with the same client_ref won the race: answer with its check.
        done = (
            ScanCheck.objects.filter(inspector=actor, client_ref=client_ref).first() if client_ref else None
        )
        if done is None:
            raise
        return done
    return check


def scancheck_list(*, user):
    """Checks in the caller's scope, newest first."""
    return ScanCheck.objects.restrict(user).select_related("inspector", "operator", "district", "vehicle")


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in the local time zone (Asia/Shanghai)."""
    if end < start:
        raise ServiceError(
            _("结束日期不能早于开始日期。"), code="bad_period", details={"to": [end.isoformat()]}
        )
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ServiceError(_("统计区间不能超过一年。"), code="bad_period", details={"to": [end.isoformat()]})
    tz = timezone.get_current_timezone()
    lo = timezone.make_aware(dt.datetime.combine(start, dt.time.min), tz)
    hi = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min), tz)
    return lo, hi


_LABELS = {
    "operator": ("operator_id", "operator__name_zh"),
    "district": ("district_id", "district__name_zh"),
    "inspector": ("inspector_id", "inspector__username"),
    "result": ("result", None),
}


def scancheck_stats(actor, *, period: tuple[dt.date, dt.date], group_by: str) -> list[dict]:
    """Counts of the checks in the caller's scope during ``period`` (local dates, inclusive).

    One row per value of ``group_by`` (operator, district, inspector or result): ``key``,
    ``label``, ``total``, ``unregistered`` (checks of codes with no active registration),
    ``unregistered_share`` (``unregistered / total``, rounded to 4 places) and ``results``
    (checks per primary result). Rows are ordered by ``total`` descending, then key.
    """
    _require(actor, VIEW_PERMISSION)
    if group_by not in GROUP_BY:
        raise ServiceError(_("统计维度不正确。"), code="bad_group_by", details={"group_by": [str(group_by)]})
    lo, hi = period_bounds(*period)
    key, label = _LABELS[group_by]
    per_result = {f"r_{r}": Count("id", filter=Q(result=r)) for r in ScanResult.values}
    fields = [key] + ([label] if label else [])
    if group_by == "inspector":
        fields.append("inspector__full_name")
    rows = (
        ScanCheck.objects.restrict(actor)
        .filter(checked_at__gte=lo, checked_at__lt=hi)
        .values(*fields)
        .annotate(total=Count("id"), unregistered=Count("id", filter=Q(vehicle__isnull=True)), **per_result)
        .order_by()
    )
    labels = dict(ScanResult.choices)
    out = []
    for row in rows:
        k = row[key]
        if group_by == "result":
            text = str(labels.get(k, k))
        elif group_by == "inspector":
            text = row.get("inspector__full_name") or row[label]
        else:
            text = row[label] if k is not None else (_("未知企业") if group_by == "operator" else _("未知区"))
        total = row["total"]
        out.append(
            {
                "key": k,
                "label": str(text),
                "total": total,
                "unregistered": row["unregistered"],
                "unregistered_share": round(row["unregistered"] / total, 4) if total else 0.0,
                "results": {r: row[f"r_{r}"] for r in ScanResult.values},
            }
        )
    out.sort(key=lambda r: (-r["total"], str(r["key"])))
    return out
