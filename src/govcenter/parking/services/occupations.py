"""Temporary occupation (临时占用): spaces closed for a period, their devices offline, restored after.

Lifecycle: scheduled → active → ended, or scheduled → cancelled. :func:`occupations_tick`
(the every-minute Huey task) starts due occupations and ends expired ones; people may also
start one early, end one early or cancel one that has not started. Every step is one
transaction and one audit entry listing the spaces and devices it changed.

Rules decided here:

* An occupation covers either a whole segment (its non-retired spaces at creation time)
  or chosen spaces of one district. The covered spaces are fixed at creation, so the rows
  answer "was this space closed at t" for the past too.
* No nesting: two scheduled/active occupations never share a space over overlapping
  periods (the second is refused naming the space and the first occupation). Nested
  closures would make "restore the previous status" ambiguous.
* Starting closes the covered spaces (``temporarily_closed``, a new space version through
  the base services' :func:`version_spaces`) and puts their sensors — and, for a whole
  segment, its cameras — into ``maintenance``. The previous statuses are kept in
  ``restore_state``; ending puts back exactly those, for spaces and devices still in the
  state the occupation left them (a space retired meanwhile stays retired, a device
  somebody changed meanwhile keeps its new status).
* **Billing** (:class:`ClosureBook`, used by ``orders.Biller`` and the event ingest): a
  space is closed from an occupation's actual ``started_at`` to its ``ended_at`` (an active
  one open-ended), and over any space version whose status is closed (closed by hand,
  retired). Everything is judged by the *time* asked about, never by today's status: a
  stay is billed only for its parts outside those periods (each closed part a 0-fen
  ``closed`` line), and a ``park_start`` whose event time falls inside one is a
  ``space_closed`` anomaly even when the space is open again when the event arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core import audit
from govcenter.core.context import acting_as

from ..models import Device, DeviceKind, Segment, Space, SpaceVersion, TemporaryOccupation
from .base import check_district_in_scope, district_parking_unit, version_spaces

logger = logging.getLogger(__name__)

OCCUPATION_FIELDS = [
    "district_id",
    "segment_id",
    "reason",
    "reason_text",
    "starts_at",
    "ends_at",
    "status",
    "started_at",
    "ended_at",
]
OPEN_STATUSES = (TemporaryOccupation.Status.SCHEDULED, TemporaryOccupation.Status.ACTIVE)
# Cameras watch the whole segment: taken offline only when the whole segment is occupied.
SEGMENT_CAMERA_KINDS = (DeviceKind.HIGH_VIDEO, DeviceKind.VIDEO_PILE)
# Space statuses in which nothing is billed (as selectors.adjustments.CLOSED_SPACE_STATUSES).
CLOSED_STATUSES = (Space.Status.TEMPORARILY_CLOSED, Space.Status.RETIRED)
# The note of a closed part's quote line: stored with the order (data, not UI text).
NOTE_CLOSED = "临时占用/泊位关闭期间不计费"

Period = tuple[datetime, datetime | None]  # [start, end); None: still closed


def _merge(periods: list[Period]) -> list[Period]:
    """Sorted, disjoint periods (touching or overlapping ones joined; None = open-ended)."""
    out: list[list] = []
    for start, end in sorted(periods, key=lambda p: p[0]):
        if out and (out[-1][1] is None or start <= out[-1][1]):
            if out[-1][1] is not None and (end is None or end > out[-1][1]):
                out[-1][1] = end
            continue
        out.append([start, end])
    return [(s, e) for s, e in out]


class ClosureBook:
    """When spaces were closed, for billing: loaded per space, two queries for any number.

    A ``Biller`` holds one; the event ingest loads the batch's spaces in one go
    (:meth:`load`), any other space is loaded on first use.
    """

    def __init__(self) -> None:
        self._periods: dict[int, list[Period]] = {}

    def load(self, space_ids: Iterable[int]) -> None:
        ids = sorted({int(i) for i in space_ids} - set(self._periods))
        if not ids:
            return
        found: dict[int, list[Period]] = {i: [] for i in ids}
        for space_id, started, ended in TemporaryOccupation.spaces.through.objects.filter(
            space_id__in=ids,
            temporaryoccupation__status__in=(
                TemporaryOccupation.Status.ACTIVE,
                TemporaryOccupation.Status.ENDED,
            ),
            temporaryoccupation__started_at__isnull=False,
        ).values_list("space_id", "temporaryoccupation__started_at", "temporaryoccupation__ended_at"):
            if ended is None or ended > started:
                found[space_id].append((started, ended))
        for space_id, valid_from, valid_to in SpaceVersion.objects.filter(
            space_id__in=ids, status__in=CLOSED_STATUSES
        ).values_list("space_id", "valid_from", "valid_to"):
            if valid_to is None or valid_to > valid_from:
                found[space_id].append((valid_from, valid_to))
        for space_id, periods in found.items():
            self._periods[space_id] = _merge(periods)

    def periods(self, space_id: int) -> list[Period]:
        if space_id not in self._periods:
            self.load([space_id])
        return self._periods[space_id]

    def closed_at(self, space_id: int, at: datetime) -> bool:
        """Whether the space was closed at ``at`` (start inclusive, end exclusive)."""
        return any(s <= at and (e is None or at < e) for s, e in self.periods(space_id))

    def covered(self, space_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The closed parts of ``[start, end)``, sorted and disjoint."""
        if end is None or end <= start:
            return []
        out = []
        for s, e in self.periods(space_id):
            lo, hi = max(s, start), end if e is None else min(e, end)
            if lo < hi:
                out.append((lo, hi))
        return out


def _aware(value: datetime, field: str) -> datetime:
    if value is None or timezone.is_naive(value):
        raise ValidationError({field: _("时间须带时区。")}, code="naive_datetime")
    return value


def _snapshot(occ: TemporaryOccupation) -> dict:
    return {
        **audit.snapshot(occ, OCCUPATION_FIELDS),
        "spaces": sorted(occ.spaces.values_list("pk", flat=True)),
    }


def _overlapping(
    space_ids: Iterable[int], starts_at: datetime, ends_at: datetime, *, exclude: int | None = None
):
    qs = TemporaryOccupation.objects.filter(
        status__in=OPEN_STATUSES, spaces__in=list(space_ids), starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs


@transaction.atomic
def occupation_create(
    *,
    actor,
    reason: str,
    starts_at: datetime,
    ends_at: datetime,
    segment: Segment | None = None,
    spaces: Sequence[Space] = (),
    reason_text: str = "",
    now: datetime | None = None,
) -> TemporaryOccupation:
    """Plan a temporary occupation of a whole ``segment`` or of chosen ``spaces`` (one district).

    Refused: naive or reversed times, an end already past, retired or out-of-scope
    spaces, spaces of several districts, and any overlap with another scheduled or
    active occupation of the same spaces. One already due starts at once.
    """
    now = now or timezone.now()
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间须晚于开始时间。")}, code="end_before_start")
    if ends_at <= now:
        raise ValidationError({"ends_at": _("结束时间已过。")}, code="end_in_past")
    if (segment is None) == (not spaces):
        raise ValidationError(
            {"spaces": _("请选择一个路段（整段占用）或若干泊位，二者选其一。")}, code="scope_required"
        )
    if segment is not None:
        segment = Segment.objects.select_related("district").get(pk=segment.pk)
        check_district_in_scope(actor, segment.district_id, field="segment")
        if segment.status == Segment.Status.RETIRED:
            raise ValidationError({"segment": _("路段已撤销。")}, code="segment_retired")
        covered = list(segment.spaces.exclude(status=Space.Status.RETIRED).order_by("number"))
        if not covered:
            raise ValidationError({"segment": _("路段没有可占用的泊位。")}, code="no_spaces")
        district, unit = segment.district, segment.managing_unit
    else:
        covered = list(
            Space.objects.filter(pk__in=[s.pk for s in spaces]).select_related("segment", "district")
        )
        districts = {s.district_id for s in covered}
        if len(districts) != 1:
            raise ValidationError({"spaces": _("所选泊位须属于同一个区。")}, code="several_districts")
        check_district_in_scope(actor, covered[0].district_id, field="spaces")
        retired = [s for s in covered if s.status == Space.Status.RETIRED]
        if retired:
            raise ValidationError(
                {"spaces": _("泊位 %(space)s 已撤销。") % {"space": retired[0]}}, code="space_retired"
            )
        district = covered[0].district
        unit = district_parking_unit(district)
    clash = _overlapping([s.pk for s in covered], starts_at, ends_at).first()
    if clash is not None:
        shared = clash.spaces.filter(pk__in=[s.pk for s in covered]).select_related("segment").first()
        raise ValidationError(
            {
                "starts_at": _("泊位 %(space)s 在该时段已有临时占用（%(other)s），不能重叠。")
                % {"space": shared, "other": clash}
            },
            code="overlap",
        )
    occ = TemporaryOccupation(
        district=district,
        managing_unit=unit,
        segment=segment,
        reason=reason,
        reason_text=reason_text,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    occ.full_clean()
    occ.save()
    occ.spaces.set(covered)
    audit.record(action="parking.occupation.create", obj=occ, changes={"before": {}, "after": _snapshot(occ)})
    if starts_at <= now:
        occ = occupation_start(actor=actor, occupation=occ, now=now)
    return occ


def _lock(occupation: TemporaryOccupation) -> TemporaryOccupation:
    return TemporaryOccupation.objects.select_for_update().get(pk=occupation.pk)


@transaction.atomic
def occupation_start(
    *, actor, occupation: TemporaryOccupation, now: datetime | None = None
) -> TemporaryOccupation:
    """Start a scheduled occupation: close its spaces (new versions), devices to maintenance.

    Idempotent for an active occupation; refused for an ended or cancelled one.
    """
    now = now or timezone.now()
    occ = _lock(occupation)
    check_district_in_scope(actor, occ.district_id)
    if occ.status == TemporaryOccupation.Status.ACTIVE:
        return occ
    if occ.status != TemporaryOccupation.Status.SCHEDULED:
        raise ValidationError(_("占用已结束或已取消，不能开始。"), code="not_scheduled")
    spaces = list(
        Space.objects.select_for_update()
        .filter(pk__in=occ.spaces.values("pk"))
        .exclude(status=Space.Status.RETIRED)
        .select_related("segment")
    )
    space_state = {str(s.pk): s.status for s in spaces}
    closing = [s for s in spaces if s.status != Space.Status.TEMPORARILY_CLOSED]
    for space in closing:
        space.status = Space.Status.TEMPORARILY_CLOSED
    if closing:
        Space.objects.bulk_update(closing, ["status"])
    versioned = version_spaces(closing, now)

    bound = Q(space__in=[s.pk for s in spaces])
    if occ.segment_id:
        bound |= Q(segment_id=occ.segment_id, kind__in=SEGMENT_CAMERA_KINDS, space__isnull=True)
    devices = list(
        Device.objects.select_for_update()
        .filter(bound)
        .exclude(status__in=[Device.Status.RETIRED, Device.Status.MAINTENANCE])
        .order_by("pk")
    )
    device_state = {str(d.pk): d.status for d in devices}
    Device.objects.filter(pk__in=[d.pk for d in devices]).update(
        status=Device.Status.MAINTENANCE, updated_at=now
    )

    before = audit.snapshot(occ, OCCUPATION_FIELDS)
    occ.status = TemporaryOccupation.Status.ACTIVE
    occ.started_at = now
    occ.restore_state = {"spaces": space_state, "devices": device_state}
    occ.save(update_fields=["status", "started_at", "restore_state", "updated_at"])
    audit.record(
        action="parking.occupation.start",
        obj=occ,
        changes={
            **audit.diff(before, audit.snapshot(occ, OCCUPATION_FIELDS)),
            "closed_spaces": [s.pk for s in closing],
            "space_versions": versioned,
            "devices_to_maintenance": device_state,
        },
    )
    return occ


@transaction.atomic
def occupation_end(
    *, actor, occupation: TemporaryOccupation, now: datetime | None = None, reason: str = ""
) -> TemporaryOccupation:
    """End an active occupation (at its planned end, or early): restore spaces and devices.

    Idempotent for an ended occupation; a scheduled one is cancelled instead.
    """
    now = now or timezone.now()
    occ = _lock(occupation)
    check_district_in_scope(actor, occ.district_id)
    if occ.status == TemporaryOccupation.Status.ENDED:
        return occ
    if occ.status != TemporaryOccupation.Status.ACTIVE:
        raise ValidationError(_("占用尚未开始或已取消；未开始的占用请取消。"), code="not_active")
    state = occ.restore_state or {}
    space_state = {int(k): v for k, v in state.get("spaces", {}).items()}
    spaces = list(
        Space.objects.select_for_update()
        .filter(pk__in=list(space_state), status=Space.Status.TEMPORARILY_CLOSED)
        .select_related("segment")
    )
    reopened = []
    for space in spaces:
        previous = space_state[space.pk]
        if previous != space.status:
            space.status = previous
            reopened.append(space)
    if reopened:
        Space.objects.bulk_update(reopened, ["status"])
    versioned = version_spaces(reopened, now)

    device_state = {int(k): v for k, v in state.get("devices", {}).items()}
    restored: dict[str, str] = {}
    for device in Device.objects.select_for_update().filter(
        pk__in=list(device_state), status=Device.Status.MAINTENANCE
    ):
        Device.objects.filter(pk=device.pk).update(status=device_state[device.pk], updated_at=now)
        restored[str(device.pk)] = device_state[device.pk]

    before = audit.snapshot(occ, OCCUPATION_FIELDS)
    occ.status = TemporaryOccupation.Status.ENDED
    occ.ended_at = max(now, occ.started_at) if occ.started_at else now
    occ.save(update_fields=["status", "ended_at", "updated_at"])
    audit.record(
        action="parking.occupation.end",
        obj=occ,
        changes={
            **audit.diff(before, audit.snapshot(occ, OCCUPATION_FIELDS)),
            "reopened_spaces": [s.pk for s in reopened],
            "space_versions": versioned,
            "devices_restored": restored,
        },
        reason=reason,
    )
    return occ


@transaction.atomic
def occupation_cancel(*, actor, occupation: TemporaryOccupation, reason: str = "") -> TemporaryOccupation:
    """Cancel an occupation that has not started (an active one is ended instead)."""
    occ = _lock(occupation)
    check_district_in_scope(actor, occ.district_id)
    if occ.status == TemporaryOccupation.Status.CANCELLED:
        return occ
    if occ.status != TemporaryOccupation.Status.SCHEDULED:
        raise ValidationError(_("只能取消尚未开始的占用；占用中的请结束。"), code="not_scheduled")
    before = audit.snapshot(occ, OCCUPATION_FIELDS)
    occ.status = TemporaryOccupation.Status.CANCELLED
    occ.save(update_fields=["status", "updated_at"])
    audit.record(
        action="parking.occupation.cancel",
        obj=occ,
        changes=audit.diff(before, audit.snapshot(occ, OCCUPATION_FIELDS)),
        reason=reason,
    )
    return occ


def occupations_tick(now: datetime | None = None) -> dict[str, int]:
    """Start due occupations and end expired ones (the every-minute task's body; idempotent).

    Each occupation runs in its own transaction, so one refusal (logged) never blocks the
    others. An occupation whose whole period passed while the task was not running is
    started and ended at once, so it covers no time it did not really close.
    """
    now = now or timezone.now()
    started = ended = 0
    with acting_as(None, channel="task"):
        due = TemporaryOccupation.objects.filter(
            status=TemporaryOccupation.Status.SCHEDULED, starts_at__lte=now
        ).order_by("starts_at", "pk")
        for occ in due:
            try:
                occupation_start(actor=None, occupation=occ, now=now)
                started += 1
            except ValidationError:
                logger.exception("occupation %s could not start", occ.pk)
        expired = TemporaryOccupation.objects.filter(
            status=TemporaryOccupation.Status.ACTIVE, ends_at__lte=now
        ).order_by("ends_at", "pk")
        for occ in expired:
            try:
                occupation_end(actor=None, occupation=occ, now=now, reason=_("计划结束时间已到"))
                ended += 1
            except ValidationError:
                logger.exception("occupation %s could not end", occ.pk)
    return {"started": started, "ended": ended}


@db_periodic_task(crontab(minute="*"), name="parking.occupations_tick")
def occupations_tick_task() -> dict[str, int]:
    return occupations_tick()
