"""Residential parking permits (居住停车认证): apply, review, revoke, fees, expiry, reminders.

Rules (every refusal is a :class:`ServiceError`, 4xx ``{"code", "message", "details"}``):

* **Application.** A citizen applies for a plate bound to their own account
  (``plate_not_bound``); staff may enter an application at the counter (then they are its
  ``submitted_by``). At most ``GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS`` active segments, all in
  one district (``segments_across_districts``); staff only in their own districts. Whole
  calendar months: ``valid_from`` is moved to the first day of its month, ``valid_to`` is the
  last day of the ``months``-th month (at most ``GOVCENTER_PARKING_PERMIT_MAX_MONTHS``).
  Hours default to 19:00–07:00 (they may cross midnight; equal start and end = all day).
* **One permit per plate.** A plate has no two submitted/active permits whose validity
  overlaps (``permit_exists``, 409), checked under a lock of the plate's permits.
* **Review (四眼原则).** Approve/reject need ``parking.review_residentialpermit`` in the
  permit's district, and the reviewer is neither the staff member who entered it nor the
  applicant (same phone) (``four_eyes``, 403). Approval makes the permit ``active`` at once
  (it covers stays only on its valid dates), writes one ``due`` fee per month at the
  monthly fee (default: the fee table of the segments' highest area class,
  ``GOVCENTER_PARKING_PERMIT_MONTHLY_FEE_FEN``) and sends the ``permit_approved`` SMS.
* **Fees.** ``due`` → ``paid`` by staff at the counter (:func:`permit_fee_mark_paid`). Fees are
  not paid online through the payments port, and an unpaid month does not suspend the
  permit: the issue asks for the permit's monthly fee to replace per-stay billing, not for
  online permit payment or dunning; both are left out on purpose (issue 3's closing note).
* **Renewal** (续期): a new application for the months after the previous permit's
  ``valid_to``, same plate, segments, hours and district, linked by ``renewal_of``.
* **Daily task** (:func:`permits_daily`): active permits whose ``valid_to`` passed become
  ``expired``; an active permit ending within ``GOVCENTER_PARKING_PERMIT_REMINDER_DAYS``
  with no renewal gets one ``permit_expiring`` SMS (``reminder_sent_at`` makes it once).

Billing (:class:`PermitBook`, used by ``orders.Biller``): the part of a stay of a permitted
plate on a permitted segment inside the permit hours on its valid dates is not billed per
stay; see :func:`covered_intervals`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import django_filters
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.masking import mask_plate
from govcenter.core.models import District
from govcenter.core.scope import scope_for

from ..models import Citizen, PlateBinding, Segment
from ..models.permits import PermitFee, PermitStatus, ResidentialPermit
from ..plates import PlateError, validate_plate

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT_START = dt.time(19, 0)
NIGHT_END = dt.time(7, 0)
NOTE_PERMIT = "居住认证覆盖"
PERMIT_AUDIT_FIELDS = [
    "status",
    "plate",
    "valid_from",
    "valid_to",
    "monthly_fee_fen",
    "reviewer_id",
    "review_comment",
]
_ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# How long after its end a permit still covers stays billed late (device buffers, corrections).
COVER_GRACE_DAYS = 31


# ------------------------------------------------------------------------------------------
# Intervals (pure)
# ------------------------------------------------------------------------------------------


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), SHANGHAI)


def covered_intervals(
    start: dt.datetime,
    end: dt.datetime,
    *,
    hours_start: dt.time,
    hours_end: dt.time,
    valid_from: dt.date,
    valid_to: dt.date,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The parts of ``[start, end)`` inside the daily window ``hours_start → hours_end``
    (local time; crossing midnight when the end is not after the start; all day when equal),
    clipped to ``valid_from 00:00 → valid_to 24:00``. Sorted, disjoint, adjacent parts merged.
    O(days of the stay)."""
    lo = max(start, _local_midnight(valid_from))
    hi = min(end, _local_midnight(valid_to + dt.timedelta(days=1)))
    if lo >= hi:
        return []
    crosses = hours_end <= hours_start
    day = lo.astimezone(SHANGHAI).date() - dt.timedelta(days=1)  # yesterday's night reaches into today
    last = hi.astimezone(SHANGHAI).date()
    parts: list[tuple[dt.datetime, dt.datetime]] = []
    while day <= last:
        w_start = dt.datetime.combine(day, hours_start, SHANGHAI)
        w_end = dt.datetime.combine(day + dt.timedelta(days=1) if crosses else day, hours_end, SHANGHAI)
        s, e = max(w_start, lo), min(w_end, hi)
        if s < e:
            if parts and parts[-1][1] >= s:
                parts[-1] = (parts[-1][0], max(parts[-1][1], e))
            else:
                parts.append((s, e))
        day += dt.timedelta(days=1)
    return parts


def uncovered_intervals(
    start: dt.datetime, end: dt.datetime, covered: list[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` minus the sorted, disjoint ``covered`` parts."""
    out: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    for s, e in sorted(covered):
        if s > cursor:
            out.append((cursor, min(s, end)))
        cursor = max(cursor, e)
    if cursor < end:
        out.append((cursor, end))
    return [(s, e) for s, e in out if s < e]


@dataclass(frozen=True, slots=True)
class _Cover:
    permit_id: int
    segment_ids: frozenset[int]
    hours_start: dt.time
    hours_end: dt.time
    valid_from: dt.date
    valid_to: dt.date


class PermitBook:
    """The permits that cover stays, by plate, loaded once (one query) on first use.

    ``orders.Biller`` holds one per batch; an order without a plate never loads it.
    """

    def __init__(self) -> None:
        self._by_plate: dict[str, list[_Cover]] | None = None

    def _load(self) -> dict[str, list[_Cover]]:
        since = timezone.localdate() - dt.timedelta(days=COVER_GRACE_DAYS)
        rows = (
            ResidentialPermit.objects.filter(
                status__in=[PermitStatus.ACTIVE, PermitStatus.EXPIRED], valid_to__gte=since
            )
            .values_list("pk", "plate", "hours_start", "hours_end", "valid_from", "valid_to", "segments")
            .order_by("pk")
        )
        grouped: dict[int, tuple[tuple, set[int]]] = {}
        for pk, plate, h_start, h_end, v_from, v_to, segment_id in rows:
            entry = grouped.setdefault(pk, ((plate, h_start, h_end, v_from, v_to), set()))
            if segment_id is not None:
                entry[1].add(segment_id)
        by_plate: dict[str, list[_Cover]] = {}
        for pk, ((plate, h_start, h_end, v_from, v_to), segment_ids) in grouped.items():
            by_plate.setdefault(plate, []).append(
                _Cover(pk, frozenset(segment_ids), h_start, h_end, v_from, v_to)
            )
        return by_plate

    def covered(
        self, *, plate: str, segment_id: int, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[int, dt.datetime, dt.datetime]]:
        """``(permit_id, from, to)`` parts of the stay covered by a permit, sorted by time."""
        if not plate or end is None or end <= start:
            return []
        if self._by_plate is None:
            self._by_plate = self._load()
        covers = self._by_plate.get(plate)
        if not covers:
            return []
        parts = []
        for cover in covers:
            if segment_id in cover.segment_ids:
                for s, e in covered_intervals(
                    start,
                    end,
                    hours_start=cover.hours_start,
                    hours_end=cover.hours_end,
                    valid_from=cover.valid_from,
                    valid_to=cover.valid_to,
                ):
                    parts.append((cover.permit_id, s, e))
        parts.sort(key=lambda p: p[1])
        return parts


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_end(valid_from: dt.date, months: int) -> dt.date:
    """The last day of the ``months``-th calendar month starting with ``valid_from``'s month."""
    return _add_months(_first_of_month(valid_from), months) - dt.timedelta(days=1)


def default_monthly_fee(segments) -> int:
    """The fee table's monthly fee (fen) for the highest area class (一类 = 1) among ``segments``."""
    table = settings.GOVCENTER_PARKING_PERMIT_MONTHLY_FEE_FEN
    area_class = min((s.area_class for s in segments), default=3)
    return int(table.get(area_class, table[max(table)]))


def _refuse(message: str, code: str, *, status: int = 400, **details) -> ServiceError:
    return ServiceError(message, code=code, status=status, details=details)


def _actor_in_district(actor, district_id: int) -> bool:
    if actor is None or getattr(actor, "is_superuser", False):
        return True
    scope = scope_for(actor)
    return scope.all or district_id in scope.district_ids


def _lock_plate(plate: str) -> list[ResidentialPermit]:
    """Lock the plate's open permits (the overlap check is decided under this lock).

    With no rows to lock (a first application) two concurrent applications could both
    pass; the plate's active binding row serialises citizens' applications of one plate.
    """
    PlateBinding.objects.select_for_update().filter(plate=plate, status=PlateBinding.Status.ACTIVE).first()
    return list(
        ResidentialPermit.objects.select_for_update().filter(
            plate=plate, status__in=[PermitStatus.SUBMITTED, PermitStatus.ACTIVE]
        )
    )


def _check_no_overlap(
    plate: str, valid_from: dt.date, valid_to: dt.date, *, exclude: int | None = None
) -> None:
    for other in _lock_plate(plate):
        if other.pk != exclude and other.valid_from <= valid_to and valid_from <= other.valid_to:
            raise _refuse(
                _("该车牌在此期间已有居住认证或待审核的申请。"),
                "permit_exists",
                status=409,
                permit=[other.pk],
                valid_from=[other.valid_from.isoformat()],
                valid_to=[other.valid_to.isoformat()],
            )


def _send_sms(*, phone: str, template: str, **context) -> None:
    """``core.sms.sms_notify`` with a built-in template (``permit_approved`` / ``permit_expiring``,
    registered by parking); a failure is logged, never fails the permit change."""
    from govcenter.core.sms import sms_notify

    try:
        sms_notify(phone=phone, template_code=template, **context)
    except Exception:  # noqa: BLE001  (the SMS is a courtesy; the decision stands)
        logger.exception("permit SMS %s failed", template)


def _resolve_segments(actor, segment_ids) -> list[Segment]:
    ids = []
    for raw in segment_ids or []:
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise _refuse(_("路段不存在。"), "unknown_segment", segments=[str(raw)]) from None
    ids = sorted(set(ids))
    if not ids:
        raise _refuse(_("请至少选择一个路段。"), "segments_required", segments=[_("必填。")])
    limit = settings.GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS
    if len(ids) > limit:
        raise _refuse(
            _("每个居住认证最多 %(n)d 个路段。") % {"n": limit}, "too_many_segments", segments=[str(limit)]
        )
    qs = Segment.objects.filter(pk__in=ids, status=Segment.Status.ACTIVE)
    if actor is not None:
        qs = qs.restrict(actor)
    segments = list(qs)
    missing = sorted(set(ids) - {s.pk for s in segments})
    if missing:
        raise _refuse(_("路段不存在或不在收费中。"), "unknown_segment", segments=[str(m) for m in missing])
    if len({s.district_id for s in segments}) > 1:
        raise _refuse(
            _("所选路段须在同一个区。"),
            "segments_across_districts",
            segments=sorted({str(s.district_id) for s in segments}),
        )
    return segments


def segment_ids_for_codes(codes) -> list[int]:
    """Segment codes (the citizen app shows them) → ids; unknown codes are refused."""
    codes = [str(c).strip() for c in codes or [] if str(c).strip()]
    found = dict(Segment.objects.filter(code__in=codes).values_list("code", "pk"))
    missing = [c for c in codes if c not in found]
    if missing:
        raise _refuse(_("路段不存在或不在收费中。"), "unknown_segment", segments=missing)
    return [found[c] for c in codes]


# ------------------------------------------------------------------------------------------
# Writes
# ------------------------------------------------------------------------------------------


@transaction.atomic
def permit_apply(
    *,
    actor=None,
    citizen: Citizen | None = None,
    plate: str,
    segment_ids,
    applicant_name: str,
    applicant_id_number: str,
    address: str,
    address_proof_ref: str,
    applicant_phone: str = "",
    valid_from: dt.date | None = None,
    months: int = 1,
    hours_start: dt.time | None = None,
    hours_end: dt.time | None = None,
    renewal_of: ResidentialPermit | None = None,
) -> ResidentialPermit:
    """Submit an application (a citizen's own, or one entered by staff ``actor``); audited."""
    try:
        plate = validate_plate(plate)
    except PlateError as exc:
        raise _refuse(str(exc), "invalid_plate", plate=[str(exc)]) from None
    if citizen is not None:
        bound = PlateBinding.objects.filter(citizen=citizen, plate=plate, status=PlateBinding.Status.ACTIVE)
        if not bound.exists():
            raise _refuse(_("只能为本人账号绑定的车牌申请。"), "plate_not_bound", plate=[mask_plate(plate)])
        applicant_phone = applicant_phone or citizen.phone
    applicant_name = (applicant_name or "").strip()
    applicant_id_number = (applicant_id_number or "").strip().upper()
    applicant_phone = re.sub(r"[\s-]", "", applicant_phone or "").removeprefix("+86")
    address, address_proof_ref = (address or "").strip(), (address_proof_ref or "").strip()
    errors: dict[str, list[str]] = {}
    if not applicant_name or len(applicant_name) > 50:
        errors["applicant_name"] = [_("必填，最多 50 字。")]
    if not _ID_NUMBER.match(applicant_id_number):
        errors["applicant_id_number"] = [_("身份证号须为 18 位。")]
    if not _MOBILE.match(applicant_phone):
        errors["applicant_phone"] = [_("请输入有效的 11 位手机号。")]
    if not address or len(address) > 200:
        errors["address"] = [_("必填，最多 200 字。")]
    if not address_proof_ref or len(address_proof_ref) > 100:
        errors["address_proof_ref"] = [_("必填，最多 100 字。")]
    max_months = settings.GOVCENTER_PARKING_PERMIT_MAX_MONTHS
    if not isinstance(months, int) or not 1 <= months <= max_months:
        errors["months"] = [_("1 至 %(n)d 个月。") % {"n": max_months}]
    if errors:
        raise ServiceError(_("申请信息不完整或格式不正确。"), code="invalid", details=errors)
    segments = _resolve_segments(actor, segment_ids)
    district_id = segments[0].district_id
    if not _actor_in_district(actor, district_id):
        raise _refuse(_("不在本人数据范围内的区。"), "out_of_scope", status=403, segments=[str(district_id)])
    today = timezone.localdate()
    if renewal_of is not None:  # the month after the previous period (this month if it lapsed long ago)
        valid_from = max(renewal_of.valid_to + dt.timedelta(days=1), _first_of_month(today))
    valid_from = _first_of_month(valid_from or today)
    if valid_from < _first_of_month(today):
        raise _refuse(_("有效期不能早于本月。"), "valid_from_past", valid_from=[valid_from.isoformat()])
    valid_to = period_end(valid_from, months)
    _check_no_overlap(plate, valid_from, valid_to)
    permit = ResidentialPermit(
        district_id=district_id,
        citizen=citizen,
        applicant_name=applicant_name,
        applicant_phone=applicant_phone,
        applicant_id_number=applicant_id_number,
        plate=plate,
        address=address,
        address_proof_ref=address_proof_ref,
        hours_start=hours_start or NIGHT_START,
        hours_end=hours_end or NIGHT_END,
        monthly_fee_fen=default_monthly_fee(segments),
        months=months,
        valid_from=valid_from,
        valid_to=valid_to,
        renewal_of=renewal_of,
        submitted_by=actor if getattr(actor, "pk", None) else None,
    )
    permit.save()
    permit.segments.set(segments)
    audit.record(
        action="parking.permit.apply",
        obj=permit,
        object_repr=f"#{permit.pk} {mask_plate(plate)}",
        changes={
            "plate": mask_plate(plate),
            "segments": [s.pk for s in segments],
            "valid_from": valid_from,
            "valid_to": valid_to,
            "renewal_of": renewal_of.pk if renewal_of else None,
        },
    )
    return permit


@transaction.atomic
def permit_renew(*, actor=None, citizen: Citizen | None = None, permit: ResidentialPermit, months: int = 1):
    """Apply for the months after ``permit`` (same plate, segments, hours, applicant)."""
    permit = ResidentialPermit.objects.select_for_update().get(pk=permit.pk)
    if citizen is not None and permit.citizen_id != citizen.pk:
        raise _refuse(_("居住认证不存在。"), "not_found", status=404)
    if permit.status not in (PermitStatus.ACTIVE, PermitStatus.EXPIRED):
        raise _refuse(
            _("只有有效或已过期的居住认证可以续期。"), "invalid_state", status=409, state=[permit.status]
        )
    if permit.renewals.exclude(status=PermitStatus.REJECTED).exists():
        raise _refuse(_("该居住认证已有续期申请。"), "already_renewed", status=409)
    return permit_apply(
        actor=actor,
        citizen=citizen,
        plate=permit.plate,
        segment_ids=list(permit.segments.values_list("pk", flat=True)),
        applicant_name=permit.applicant_name,
        applicant_phone=permit.applicant_phone,
        applicant_id_number=permit.applicant_id_number,
        address=permit.address,
        address_proof_ref=permit.address_proof_ref,
        months=months,
        hours_start=permit.hours_start,
        hours_end=permit.hours_end,
        renewal_of=permit,
    )


def _locked_for_review(actor, permit: ResidentialPermit) -> ResidentialPermit:
    permit = ResidentialPermit.objects.select_for_update().get(pk=permit.pk)
    if not _actor_in_district(actor, permit.district_id):
        raise _refuse(_("居住认证不存在。"), "not_found", status=404)
    return permit


def _check_four_eyes(actor, permit: ResidentialPermit) -> None:
    if actor is None:
        raise _refuse(_("审核须由工作人员进行。"), "four_eyes", status=403)
    same_person = permit.submitted_by_id is not None and permit.submitted_by_id == actor.pk
    phone = re.sub(r"\D", "", getattr(actor, "phone", "") or "")
    if same_person or (
        phone and phone.endswith(permit.applicant_phone) and len(permit.applicant_phone) >= 11
    ):
        raise _refuse(_("审核人不能是申请人或录入人。"), "four_eyes", status=403)


def _require_status(permit: ResidentialPermit, *allowed: str) -> None:
    if permit.status not in allowed:
        raise _refuse(_("居住认证当前状态不允许此操作。"), "invalid_state", status=409, state=[permit.status])


@transaction.atomic
def permit_approve(
    *, actor, permit: ResidentialPermit, comment: str = "", monthly_fee_fen: int | None = None
) -> ResidentialPermit:
    """``submitted → active``: fees due per month, SMS to the applicant; four eyes; audited."""
    permit = _locked_for_review(actor, permit)
    _check_four_eyes(actor, permit)
    _require_status(permit, PermitStatus.SUBMITTED)
    now = timezone.now()
    if permit.valid_to < timezone.localdate():
        raise _refuse(_("申请的有效期已过，请驳回后重新申请。"), "period_passed", status=409)
    if monthly_fee_fen is not None:
        if not isinstance(monthly_fee_fen, int) or monthly_fee_fen < 0:
            raise _refuse(_("月费须为非负整数（分）。"), "invalid", monthly_fee_fen=[str(monthly_fee_fen)])
        permit.monthly_fee_fen = monthly_fee_fen
    _check_no_overlap(permit.plate, permit.valid_from, permit.valid_to, exclude=permit.pk)
    before = audit.snapshot(permit, PERMIT_AUDIT_FIELDS)
    permit.approve(reviewer=actor, at=now, comment=(comment or "").strip()[:500])
    permit.save()
    PermitFee.objects.bulk_create(
        PermitFee(permit=permit, month=_add_months(permit.valid_from, i), amount_fen=permit.monthly_fee_fen)
        for i in range(permit.months)
    )
    audit.record(
        action="parking.permit.approve",
        obj=permit,
        object_repr=f"#{permit.pk} {mask_plate(permit.plate)}",
        changes=_masked_diff(before, permit),
        reason=permit.review_comment,
    )
    context = {"plate": mask_plate(permit.plate), "valid_to": permit.valid_to.isoformat()}
    transaction.on_commit(
        lambda: _send_sms(phone=permit.applicant_phone, template="permit_approved", **context)
    )
    return permit


def _masked_diff(before: dict, permit: ResidentialPermit) -> dict:
    changes = audit.diff(before, audit.snapshot(permit, PERMIT_AUDIT_FIELDS))
    for side in changes.values():
        if "plate" in side:
            side["plate"] = mask_plate(side["plate"])
    return changes


@transaction.atomic
def permit_reject(*, actor, permit: ResidentialPermit, comment: str) -> ResidentialPermit:
    """``submitted → rejected`` with a reason (required); four eyes; audited."""
    permit = _locked_for_review(actor, permit)
    _check_four_eyes(actor, permit)
    _require_status(permit, PermitStatus.SUBMITTED)
    comment = (comment or "").strip()
    if not comment:
        raise _refuse(_("驳回须填写审核意见。"), "comment_required", comment=[_("必填。")])
    before = audit.snapshot(permit, PERMIT_AUDIT_FIELDS)
    permit.reject(reviewer=actor, at=timezone.now(), comment=comment[:500])
    permit.save()
    audit.record(
        action="parking.permit.reject",
        obj=permit,
        object_repr=f"#{permit.pk} {mask_plate(permit.plate)}",
        changes=_masked_diff(before, permit),
        reason=comment[:500],
    )
    return permit


@transaction.atomic
def permit_revoke(*, actor, permit: ResidentialPermit, comment: str) -> ResidentialPermit:
    """``active → revoked`` (e.g. false address proof): stops covering at once; due fees cancelled."""
    permit = _locked_for_review(actor, permit)
    _require_status(permit, PermitStatus.ACTIVE)
    comment = (comment or "").strip()
    if not comment:
        raise _refuse(_("撤销须填写原因。"), "comment_required", comment=[_("必填。")])
    before = audit.snapshot(permit, PERMIT_AUDIT_FIELDS)
    permit.revoke(at=timezone.now(), comment=comment[:500])
    permit.save()
    cancelled = permit.fees.filter(status=PermitFee.Status.DUE).update(status=PermitFee.Status.CANCELLED)
    changes = _masked_diff(before, permit)
    changes["fees_cancelled"] = cancelled
    audit.record(
        action="parking.permit.revoke",
        obj=permit,
        object_repr=f"#{permit.pk} {mask_plate(permit.plate)}",
        changes=changes,
        reason=comment[:500],
    )
    return permit


@transaction.atomic
def permit_fee_mark_paid(*, actor, permit: ResidentialPermit, month: dt.date) -> PermitFee:
    """Record that the fee of ``month`` was paid (at the counter); audited."""
    permit = _locked_for_review(actor, permit)
    fee = PermitFee.objects.select_for_update().filter(permit=permit, month=_first_of_month(month)).first()
    if fee is None:
        raise _refuse(_("该月没有应缴费用。"), "not_found", status=404, month=[month.isoformat()])
    if fee.status != PermitFee.Status.DUE:
        raise _refuse(_("该月费用不是待缴状态。"), "invalid_state", status=409, state=[fee.status])
    fee.status, fee.paid_at = PermitFee.Status.PAID, timezone.now()
    fee.paid_by = (getattr(actor, "username", "") or "")[:150]
    fee.save(update_fields=["status", "paid_at", "paid_by"])
    audit.record(
        action="parking.permit.fee_paid",
        obj=permit,
        object_repr=f"#{permit.pk} {mask_plate(permit.plate)}",
        changes={"month": fee.month, "amount_fen": fee.amount_fen},
    )
    return fee


# ------------------------------------------------------------------------------------------
# Daily task
# ------------------------------------------------------------------------------------------


@transaction.atomic
def permits_expire(*, today: dt.date | None = None) -> int:
    """Active permits whose ``valid_to`` is before ``today`` become ``expired`` (one audit entry)."""
    today = today or timezone.localdate()
    expired = []
    for permit in ResidentialPermit.objects.select_for_update().filter(
        status=PermitStatus.ACTIVE, valid_to__lt=today
    ):
        permit.expire()
        permit.save(update_fields=["status", "updated_at"])
        expired.append(permit.pk)
    if expired:
        audit.record(
            action="parking.permit.expire",
            object_type="parking.residentialpermit",
            object_repr=_("%(n)d 个居住认证到期") % {"n": len(expired)},
            changes={"permits": expired},
        )
    return len(expired)


def permits_remind(*, today: dt.date | None = None) -> int:
    """One ``permit_expiring`` SMS per active permit ending within the reminder days, unless
    a renewal is pending or approved. Each permit is claimed in its own transaction
    (``reminder_sent_at``), so the reminder goes out once even with two workers."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=settings.GOVCENTER_PARKING_PERMIT_REMINDER_DAYS)
    renewed = Q(renewals__status__in=[PermitStatus.SUBMITTED, PermitStatus.ACTIVE])
    candidates = (
        ResidentialPermit.objects.filter(
            status=PermitStatus.ACTIVE,
            reminder_sent_at__isnull=True,
            valid_to__gte=today,
            valid_to__lte=horizon,
        )
        .exclude(renewed)
        .values_list("pk", flat=True)
    )
    sent = 0
    for pk in list(candidates):
        with transaction.atomic():
            claimed = ResidentialPermit.objects.filter(pk=pk, reminder_sent_at__isnull=True).update(
                reminder_sent_at=timezone.now()
            )
            if not claimed:
                continue
            permit = ResidentialPermit.objects.get(pk=pk)
            audit.record(
                action="parking.permit.remind",
                obj=permit,
                object_repr=f"#{permit.pk} {mask_plate(permit.plate)}",
                changes={"valid_to": permit.valid_to},
            )
            context = {"plate": mask_plate(permit.plate), "valid_to": permit.valid_to.isoformat()}
            transaction.on_commit(
                lambda phone=permit.applicant_phone, context=context: _send_sms(
                    phone=phone, template="permit_expiring", **context
                )
            )
            sent += 1
    return sent


def permits_daily(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily job: expire, then remind."""
    return {"expired": permits_expire(today=today), "reminded": permits_remind(today=today)}


# ------------------------------------------------------------------------------------------
# Reads (API and pages)
# ------------------------------------------------------------------------------------------


def permit_list(*, user):
    """Permits in ``user``'s data scope, with what lists show."""
    return ResidentialPermit.objects.restrict(user).select_related("district").prefetch_related("segments")


class PermitFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PermitStatus.choices, label=gettext_lazy("状态"))
    district = django_filters.ModelChoiceFilter(
        queryset=lambda request: (
            District.objects.restrict(request.user) if request else District.objects.none()
        ),
        label=gettext_lazy("所属区"),
    )
    expiring_before = django_filters.DateFilter(
        field_name="valid_to", lookup_expr="lte", label=gettext_lazy("有效期止不晚于")
    )

    class Meta:
        model = ResidentialPermit
        fields = ["status", "district", "expiring_before"]
