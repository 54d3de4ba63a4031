"""Device event ingest: CDS curb events → orders, anomalies and device status.

``events_ingest(device=…, events=[…])`` is the one entry of the HTTP API and the MQTT
listener. It returns one :class:`EventResult` per input event, in input order.

Event shape (CDS 1.1 Curb Event; extensions marked *)
----------------------------------------------------
``event_id`` (UUID, required, the idempotency key), ``event_type`` (required: park_start,
park_end, comms_lost, comms_restored, scheduled_report, enter_area, exit_area; the other CDS
types are refused as unsupported), ``event_time`` (required: ISO 8601 *with* an offset, or
the CDS integer milliseconds since the epoch), ``data_source_type`` (CDS value; default
the device kind's), ``curb_space_id`` (UUID) or ``space_number``* (the space number in the
device's segment), ``vehicle_license_plate``, ``vehicle_license_plate_confidence`` (CDS
1–100; stored as 0–1), ``vehicle_type`` (CDS: bus/truck/freight are large vehicles) or
``vehicle_class``* (small/large), ``custom_attributes.battery_pct``* on scheduled reports.

Rules
-----
* **Per event**, a malformed or impossible event is ``rejected`` with a specific
  ``reason`` (``missing_event_time``, ``event_in_future``, ``invalid_plate``,
  ``space_not_bound`` …) and does not block the others. Rejected events are not stored
  (the device may fix and re-send them under the same id); each is counted per device and
  reason in :class:`IngestRejection`.
* **Idempotent**: an ``event_id`` already taken in (this batch or an earlier one) is
  ``duplicate`` with the original outcome and order, never processed again.
* **Out of order**: a batch is processed in ``event_time`` order (stable), per space.
  ``park_end`` with no open order that started before it is an ``end_without_start``
  anomaly (outcome ``anomaly``, never an error to the device). A ``park_start`` that
  arrives later but is earlier than such a pending end on the same space turns the two into
  a closed, billed order and resolves the anomaly.
* **Overlapping stays** (decision): a ``park_start`` on a space whose open order began
  earlier means the earlier end was lost. The earlier order is closed at the new start (the
  latest moment the car can have left), billed, and an ``overlapping_stay`` anomaly points
  at it for patrol review (a correction re-bills it); the new stay opens normally. A start
  not later than the open order's start (and matching no pending end) opens nothing and is
  an ``overlapping_stay`` anomaly.
* ``park_end`` closes the open order and bills it at once (:class:`~.orders.Biller`); the
  parts of the stay when the space was closed (临时占用 …) are not billed.
* **Closed spaces, judged by event time** (decision): a ``park_start`` whose *event time*
  falls in a period when the space was closed — an occupation's actual start to end, or a
  closed/retired space version (:class:`~.occupations.ClosureBook`) — is a
  ``space_closed`` anomaly: nothing is opened or billed. A late event is judged by that
  history, not by the space's status when it arrives: a start inside a past occupation is
  refused though the space is open now, and a start from before an occupation that began
  since opens its stay normally. A space whose current status is closed while its version
  history records no closure (a status written without a version) counts as closed at any
  time.
* **Heartbeat**: accepted events (and anomalies) refresh ``last_heartbeat_at`` and set the
  device online in one UPDATE per batch, closing an offline period opened by monitoring;
  ``comms_lost`` opens a :class:`DeviceOfflinePeriod` at its time, ``comms_restored``
  closes it.

Performance: one transaction per batch; the device row and the batch's spaces are locked
first (so concurrent batches for one space serialise and a space never gets two open
orders), then a fixed number of queries — existing ids, open orders, pending anomalies,
space versions, closed periods (two), plans — and bulk inserts/updates, whatever the batch size. On PostgreSQL
new orders (ids drawn from their sequence in one query) and events are written with binary
``COPY``, which checks the same constraints as INSERT (the foreign keys at commit); event
rows are plain slotted objects, not model instances; a quote is computed once per distinct
(plan, vehicle class, start, end) in the batch. Other databases use ``bulk_create``.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import Device, DeviceOfflinePeriod, Order, OrderState, Space, SpaceVersion
from ..models.devices import CDS_DATA_SOURCE_TYPE
from ..models.events import (
    CDS_DATA_SOURCE_TYPES,
    CDS_EVENT_TYPES,
    DeviceEvent,
    EventType,
    Outcome,
    ParkingAnomaly,
)
from .orders import Biller, normalise_plate
from .rejections import rejection_count

LARGE_CDS_VEHICLE_TYPES = frozenset({"bus", "truck", "freight"})
SPACE_EVENTS = frozenset({EventType.PARK_START, EventType.PARK_END})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_OFFLINE_NO_HEARTBEAT = "no_heartbeat"
_OFFLINE_COMMS_LOST = "comms_lost"
_SUPPORTED_EVENT_TYPES = frozenset(EventType.values)  # computed once: the enum property rebuilds it per call
_CDS_EVENT_TYPES = frozenset(CDS_EVENT_TYPES)
_CDS_DATA_SOURCE_TYPES = frozenset(CDS_DATA_SOURCE_TYPES)


@dataclass(slots=True)
class EventResult:
    """What became of one submitted event (``order_id`` when it opened, closed or joined an order)."""

    event_id: str | None
    outcome: str
    reason: str = ""
    order_id: int | None = None
    message: str = ""
    original_outcome: str | None = None

    def as_dict(self) -> dict:
        data = {"event_id": self.event_id, "outcome": self.outcome, "reason": self.reason, "order_id": self.order_id}
        if self.message:
            data["message"] = self.message
        if self.original_outcome:
            data["original_outcome"] = self.original_outcome
        return data


class _RejectError(Exception):
    def __init__(self, reason: str, message: str):
        self.reason, self.message = reason, message


@dataclass(slots=True)
class _Event:
    index: int
    event_id: uuid.UUID
    event_type: str
    event_time: dt.datetime
    data_source_type: str
    raw: dict
    space_id_ref: uuid.UUID | None = None
    space_number: str | None = None
    plate: str = ""
    plate_confidence: float | None = None
    vehicle_class: str = ""
    battery_pct: int | None = None
    space: Space | None = None
    row: _EventRow | None = None


# The DeviceEvent columns written per event, in this order (a test checks they are all of them).
EVENT_ROW_FIELDS = (
    "event_id",
    "device_id",
    "event_type",
    "data_source_type",
    "event_time",
    "received_at",
    "transport",
    "district_id",
    "managing_unit_id",
    "segment_id",
    "space_id",
    "plate",
    "plate_confidence",
    "vehicle_class",
    "payload",
    "outcome",
    "reason",
    "order_id",
)


class _EventRow:
    """The DeviceEvent row of one event, built without a model instance (the ingest builds
    thousands per batch; Model.__init__ was the largest Python cost). ``order`` is the Order
    the event joins (its id exists only after the orders are inserted)."""

    __slots__ = (*(f for f in EVENT_ROW_FIELDS if f != "order_id"), "order")

    def __init__(
        self,
        *,
        event_id,
        device_id,
        event_type,
        data_source_type,
        event_time,
        received_at,
        transport,
        district_id,
        managing_unit_id,
        segment_id,
        space_id,
        plate,
        plate_confidence,
        vehicle_class,
        payload,
    ):
        self.event_id, self.device_id, self.event_type = event_id, device_id, event_type
        self.data_source_type, self.event_time, self.received_at = data_source_type, event_time, received_at
        self.transport, self.district_id, self.managing_unit_id = transport, district_id, managing_unit_id
        self.segment_id, self.space_id, self.plate = segment_id, space_id, plate
        self.plate_confidence, self.vehicle_class, self.payload = plate_confidence, vehicle_class, payload
        self.outcome = self.reason = ""
        self.order = None

    def values(self) -> tuple:
        order = self.order
        return (
            self.event_id,
            self.device_id,
            self.event_type,
            self.data_source_type,
            self.event_time,
            self.received_at,
            self.transport,
            self.district_id,
            self.managing_unit_id,
            self.segment_id,
            self.space_id,
            self.plate,
            self.plate_confidence,
            self.vehicle_class,
            self.payload,
            self.outcome,
            self.reason,
            None if order is None else order.pk,
        )

    def instance(self) -> DeviceEvent:
        return DeviceEvent(**dict(zip(EVENT_ROW_FIELDS, self.values(), strict=True)))


def summarise(results: list[EventResult]) -> dict:
    """The response body: results in input order and the count per outcome."""
    counts = Counter(r.outcome for r in results)
    return {
        "results": [r.as_dict() for r in results],
        "accepted": counts[Outcome.ACCEPTED],
        "duplicates": counts[Outcome.DUPLICATE],
        "anomalies": counts[Outcome.ANOMALY],
        "rejected": counts[Outcome.REJECTED],
    }


# ------------------------------------------------------------------------------------------
# Rejection counters
# ------------------------------------------------------------------------------------------


def device_source(device: Device) -> str:
    return f"device:{device.serial}"


def batch_reject(*, source: str, reason: str, message: str, device: Device | None = None, status: int = 400, details=None):
    """Count a refusal of a whole batch and return the ServiceError to raise (nothing else is written)."""
    rejection_count(source=source, reason=reason, device=device)
    return ServiceError(message, code=reason, status=status, details=details or {})


# ------------------------------------------------------------------------------------------
# Validation of one event (pure: no queries)
# ------------------------------------------------------------------------------------------


def _parse_time(value) -> dt.datetime:
    if value is None or value == "":
        raise _RejectError("missing_event_time", "event_time is required")
    if isinstance(value, bool):
        raise _RejectError("invalid_event_time", "event_time must be ISO 8601 with an offset or epoch milliseconds")
    if isinstance(value, int | float):
        try:
            return _EPOCH + dt.timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            raise _RejectError("invalid_event_time", "event_time is out of range") from None
    if not isinstance(value, str):
        raise _RejectError("invalid_event_time", "event_time must be ISO 8601 with an offset or epoch milliseconds")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _RejectError("invalid_event_time", f"event_time {value[:40]!r} is not ISO 8601") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _RejectError("naive_event_time", "event_time has no UTC offset (write e.g. 2025-03-03T08:00:00+08:00)")
    return parsed


def _parse(index: int, raw, device: Device, now: dt.datetime, limits: tuple[dt.datetime, dt.datetime]) -> _Event:
    if not isinstance(raw, dict):
        raise _RejectError("not_an_object", "each event must be a JSON object")
    event_id = raw.get("event_id")
    if event_id in (None, ""):
        raise _RejectError("missing_event_id", "event_id is required")
    try:
        event_uuid = uuid.UUID(str(event_id)) if isinstance(event_id, str) else None
    except ValueError:
        event_uuid = None
    if event_uuid is None:
        raise _RejectError("invalid_event_id", "event_id must be a UUID")
    event_type = raw.get("event_type")
    if event_type in (None, ""):
        raise _RejectError("missing_event_type", "event_type is required")
    if not isinstance(event_type, str) or event_type not in _CDS_EVENT_TYPES:
        raise _RejectError("unknown_event_type", f"event_type {str(event_type)[:40]!r} is not a CDS event type")
    if event_type not in _SUPPORTED_EVENT_TYPES:
        raise _RejectError("unsupported_event_type", f"event_type {event_type!r} is not processed here")
    event_time = _parse_time(raw.get("event_time"))
    earliest, latest = limits
    if event_time > latest:
        raise _RejectError("event_in_future", "event_time is in the future (check the device clock)")
    if event_time < earliest:
        raise _RejectError("event_too_old", "event_time is older than the accepted age")
    source_type = raw.get("data_source_type") or CDS_DATA_SOURCE_TYPE[device.kind]
    if not isinstance(source_type, str) or source_type not in _CDS_DATA_SOURCE_TYPES:
        raise _RejectError("invalid_data_source_type", f"data_source_type {str(source_type)[:40]!r} is not a CDS value")
    event = _Event(index, event_uuid, event_type, event_time, source_type, raw)

    space_ref = raw.get("curb_space_id")
    if space_ref not in (None, ""):
        try:
            event.space_id_ref = uuid.UUID(str(space_ref)) if isinstance(space_ref, str) else None
        except ValueError:
            event.space_id_ref = None
        if event.space_id_ref is None:
            raise _RejectError("invalid_curb_space_id", "curb_space_id must be a UUID")
    number = raw.get("space_number")
    if number not in (None, ""):
        if not isinstance(number, str | int) or isinstance(number, bool) or len(str(number)) > 20:
            raise _RejectError("invalid_space_number", "space_number must be a short string")
        event.space_number = str(number)

    plate = raw.get("vehicle_license_plate")
    if plate not in (None, ""):
        if not isinstance(plate, str):
            raise _RejectError("invalid_plate", "vehicle_license_plate must be a string")
        try:
            event.plate = normalise_plate(plate)
        except ValueError:
            raise _RejectError("invalid_plate", "vehicle_license_plate is not a mainland China plate") from None
    confidence = raw.get("vehicle_license_plate_confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 1 <= confidence <= 100:
            raise _RejectError("invalid_plate_confidence", "vehicle_license_plate_confidence must be 1–100")
        event.plate_confidence = round(confidence / 100, 4)
    vclass = raw.get("vehicle_class")
    vtype = raw.get("vehicle_type")
    if vclass not in (None, ""):
        if vclass not in ("small", "large"):
            raise _RejectError("invalid_vehicle_class", "vehicle_class must be small or large")
        event.vehicle_class = vclass
    elif vtype not in (None, ""):
        if not isinstance(vtype, str):
            raise _RejectError("invalid_vehicle_type", "vehicle_type must be a CDS vehicle type")
        event.vehicle_class = "large" if vtype in LARGE_CDS_VEHICLE_TYPES else "small"
    attrs = raw.get("custom_attributes")
    if isinstance(attrs, dict) and attrs.get("battery_pct") is not None:
        battery = attrs["battery_pct"]
        if isinstance(battery, bool) or not isinstance(battery, int) or not 0 <= battery <= 100:
            raise _RejectError("invalid_battery_pct", "custom_attributes.battery_pct must be an integer 0–100")
        event.battery_pct = battery

    if event_type in SPACE_EVENTS:
        if device.space_id is None and device.segment_id is None:
            raise _RejectError("device_not_bound", "the device is bound to no space or segment")
        if device.space_id is None and event.space_id_ref is None and event.space_number is None:
            raise _RejectError("space_required", "curb_space_id or space_number is required for a segment device")
    return event


# ------------------------------------------------------------------------------------------
# The batch
# ------------------------------------------------------------------------------------------


class _Batch:
    """State of one batch inside its transaction (see the module docstring)."""

    def __init__(self, device: Device, now: dt.datetime, transport: str):
        self.device = device
        self.now = now
        self.transport = transport
        self.biller = Biller()
        self.open_orders: dict[int, Order] = {}
        self.pending_ends: dict[int, list[ParkingAnomaly]] = {}
        self.versions: dict[int, list[SpaceVersion]] = {}
        self.new_orders: list[Order] = []
        self.changed_orders: dict[int, Order] = {}
        self.new_anomalies: list[ParkingAnomaly] = []
        self.resolved_anomalies: list[ParkingAnomaly] = []
        self.paired_event_rows: list[DeviceEvent] = []  # stored park_end events joined to a late start
        self.billed = 0

    # -- look-ups ------------------------------------------------------------------------

    def load(self, spaces: dict[int, Space], start_spaces: set[int]) -> None:
        ids = sorted(spaces)
        if not ids:
            return
        for order in Order.objects.filter(space_id__in=ids, state=OrderState.OPEN).select_related("space_version"):
            self.open_orders[order.space_id] = order
        if start_spaces:
            for anomaly in ParkingAnomaly.objects.filter(
                space_id__in=sorted(start_spaces),
                kind=ParkingAnomaly.Kind.END_WITHOUT_START,
                status=ParkingAnomaly.Status.OPEN,
            ).select_related("event"):
                self.pending_ends.setdefault(anomaly.space_id, []).append(anomaly)
        for version in SpaceVersion.objects.filter(space_id__in=ids).order_by("space_id", "version"):
            self.versions.setdefault(version.space_id, []).append(version)
        self.biller.closures.load(ids)

    def closed_at(self, space: Space, at: dt.datetime) -> bool:
        """Whether ``space`` was closed at the event time ``at`` (see the module docstring)."""
        if self.biller.closures.closed_at(space.pk, at):
            return True
        if space.status == Space.Status.ACTIVE:
            return False
        # Closed now, but the history does not say since when: closed at any time.
        versions = self.versions.get(space.pk)
        return not versions or versions[-1].status == Space.Status.ACTIVE

    def version_at(self, space_id: int, at: dt.datetime) -> SpaceVersion:
        versions = self.versions[space_id]
        for version in reversed(versions):
            if version.valid_from <= at and (version.valid_to is None or at < version.valid_to):
                return version
        # A stay that began before the space's first version (base data entered after the
        # fact) runs under the first version.
        return versions[0]

    # -- rows ----------------------------------------------------------------------------

    def anomaly(self, event: _Event, kind: str, *, order: Order | None = None) -> ParkingAnomaly:
        space = event.space
        anomaly = ParkingAnomaly(
            kind=kind,
            event_id=event.event_id,
            district_id=space.district_id if space else self.device.district_id,
            managing_unit_id=space.segment.managing_unit_id if space else self.device.managing_unit_id,
            space=space,
            event_time=event.event_time,
            order=order,
        )
        self.new_anomalies.append(anomaly)
        return anomaly

    def open_order(self, event: _Event) -> Order:
        space = event.space
        version = self.version_at(space.pk, event.event_time)
        order = _new_order(
            district_id=space.district_id,
            managing_unit_id=space.segment.managing_unit_id,
            segment_id=space.segment_id,
            space_id=space.pk,
            space_version_id=version.pk,
            plate=event.plate,
            plate_confidence=event.plate_confidence,
            vehicle_class=event.vehicle_class or "small",
            started_at=event.event_time,
            start_event_id=event.event_id,
            state=OrderState.OPEN,
        )
        order.space_version = version  # cached: billing reads its area class
        self.new_orders.append(order)
        return order

    def close_and_bill(self, order: Order, *, ended_at: dt.datetime, end_event: _Event | None) -> None:
        order.close(ended_at=ended_at, end_event_id=end_event.event_id if end_event else None)
        if end_event is not None:
            if end_event.plate and not order.plate:
                order.plate, order.plate_confidence = end_event.plate, end_event.plate_confidence
        version = order.space_version
        if self.biller.bill(order, area_class=version.area_class, tariff_code=version.tariff_code, at=self.now):
            self.billed += 1
        if order.pk:
            self.changed_orders[order.pk] = order

    # -- event handlers ------------------------------------------------------------------

    def park_start(self, event: _Event) -> EventResult:
        space = event.space
        if self.closed_at(space, event.event_time):
            self.anomaly(event, ParkingAnomaly.Kind.SPACE_CLOSED)
            return EventResult(
                str(event.event_id), Outcome.ANOMALY, "space_closed", message="the space was not in service at event_time"
            )
        current = self.open_orders.get(space.pk)
        pending = self._pending_end_after(space.pk, event.event_time, before=current.started_at if current else None)
        if pending is not None:
            order = self.open_order(event)
            self.close_and_bill(order, ended_at=pending.event_time, end_event=None)
            order.end_event_id = pending.event_id
            pending.status = ParkingAnomaly.Status.RESOLVED
            pending.resolution_note = f"paired with the late park_start {event.event_id}"
            pending.resolved_at = self.now
            pending.resolved_by = "system"
            pending._order = order  # the order id exists only after the insert
            self.pending_ends[space.pk].remove(pending)
            self.resolved_anomalies.append(pending)
            event.row.order = order
            pending_row = getattr(pending, "_event_row", None)
            if pending_row is not None:  # the end came in this batch: its row is not written yet
                pending_row.order = order
            else:
                pending.event.order = order
                self.paired_event_rows.append(pending.event)
            return EventResult(str(event.event_id), Outcome.ACCEPTED, "resolved_end_without_start", order_id=order)
        if current is not None:
            if event.event_time <= current.started_at:
                self.anomaly(event, ParkingAnomaly.Kind.OVERLAPPING_STAY, order=current)
                return EventResult(
                    str(event.event_id),
                    Outcome.ANOMALY,
                    "overlapping_stay",
                    message="the space already holds a stay that began at or after this start",
                )
            self.close_and_bill(current, ended_at=event.event_time, end_event=None)
            self.anomaly(event, ParkingAnomaly.Kind.OVERLAPPING_STAY, order=current)
            order = self.open_order(event)
            self.open_orders[space.pk] = order
            event.row.order = order
            return EventResult(
                str(event.event_id),
                Outcome.ANOMALY,
                "overlapping_stay",
                order_id=order,
                message="the previous stay had no park_end; it was closed at this start for review",
            )
        order = self.open_order(event)
        self.open_orders[space.pk] = order
        event.row.order = order
        return EventResult(str(event.event_id), Outcome.ACCEPTED, order_id=order)

    def _pending_end_after(self, space_id: int, start: dt.datetime, *, before: dt.datetime | None):
        candidates = [
            a
            for a in self.pending_ends.get(space_id, ())
            if a.event_time > start and (before is None or a.event_time <= before)
        ]
        return min(candidates, key=lambda a: a.event_time) if candidates else None

    def park_end(self, event: _Event) -> EventResult:
        space = event.space
        current = self.open_orders.get(space.pk)
        if current is not None and current.started_at < event.event_time:
            self.close_and_bill(current, ended_at=event.event_time, end_event=event)
            del self.open_orders[space.pk]
            event.row.order = current
            return EventResult(str(event.event_id), Outcome.ACCEPTED, order_id=current)
        anomaly = self.anomaly(event, ParkingAnomaly.Kind.END_WITHOUT_START)
        anomaly._event_row = event.row
        self.pending_ends.setdefault(space.pk, []).append(anomaly)
        return EventResult(
            str(event.event_id),
            Outcome.ANOMALY,
            "end_without_start",
            message="no open stay began before this park_end; kept for review",
        )


@functools.cache
def _order_template() -> tuple[dict, dict]:
    """Order's concrete fields in order: static defaults, and the callable defaults (fresh per row)."""
    fields = Order._meta.concrete_fields
    static = {f.attname: None if callable(f.default) else f.get_default() for f in fields}
    factories = {f.attname: f.default for f in fields if f.has_default() and callable(f.default)}
    return static, factories


def _new_order(**values) -> Order:
    """A new, unsaved Order from attnames, built with Django's positional constructor (the
    keyword one cost about 30 µs per order). An unknown name is an error (too many arguments)."""
    static, factories = _order_template()
    row = dict(static)
    for name, factory in factories.items():
        row[name] = factory()
    row.update(values)
    return Order(*row.values())


def _resolve_spaces(device: Device, events: list[_Event], results: list, batch_rejects: Counter) -> dict[int, Space]:
    """Attach each space event's Space (one query); rejections and unknown spaces marked in results."""
    wanted = [e for e in events if e.event_type in SPACE_EVENTS]
    if not wanted:
        return {}
    qs = Space.objects.select_related("segment")
    if device.space_id is not None:
        spaces = list(qs.filter(pk=device.space_id))
    else:
        uuids = {e.space_id_ref for e in wanted if e.space_id_ref}
        numbers = {e.space_number for e in wanted if e.space_number and not e.space_id_ref}
        from django.db.models import Q

        cond = Q(pk__in=[])
        if uuids:
            cond |= Q(curb_space_id__in=uuids)
        if numbers:
            cond |= Q(segment_id=device.segment_id, number__in=numbers)
        spaces = list(qs.filter(cond))
    by_uuid = {s.curb_space_id: s for s in spaces}
    by_number = {s.number: s for s in spaces if s.segment_id == device.segment_id}
    for event in wanted:
        if results[event.index] is not None:
            continue
        space = None
        if device.space_id is not None:
            space = spaces[0] if spaces else None
            if space is not None and (
                (event.space_id_ref and event.space_id_ref != space.curb_space_id)
                or (event.space_number and not event.space_id_ref and event.space_number != space.number)
            ):
                space = None
                results[event.index] = EventResult(
                    str(event.event_id), Outcome.REJECTED, "space_not_bound", message="the device is bound to another space"
                )
                batch_rejects["space_not_bound"] += 1
                continue
        elif event.space_id_ref:
            space = by_uuid.get(event.space_id_ref)
            if space is not None and space.segment_id != device.segment_id:
                results[event.index] = EventResult(
                    str(event.event_id),
                    Outcome.REJECTED,
                    "space_not_bound",
                    message="the space is not in the device's segment",
                )
                batch_rejects["space_not_bound"] += 1
                continue
        else:
            space = by_number.get(event.space_number)
        event.space = space  # None: an unknown space of the segment → anomaly
    return {s.pk: s for s in spaces}


def _known_events(event_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple]:
    """``{event_id: (outcome, reason, order_id)}`` of the ids already stored (one query).

    On PostgreSQL the ids go as one ``uuid[]`` literal: a thousand ``IN`` placeholders cost
    more to build and quote than the look-up itself.
    """
    if _postgresql():
        qn = connection.ops.quote_name
        meta = DeviceEvent._meta
        columns = ", ".join(qn(meta.get_field(name).column) for name in ("event_id", "outcome", "reason", "order_id"))
        with connection.cursor() as cursor:
            cursor.execute(
                # Identifiers from the model, quoted; the ids are one bound parameter.
                f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = ANY(%s::uuid[])",  # noqa: S608
                ["{" + ",".join(str(event_id) for event_id in event_ids) + "}"],
            )
            return {row[0]: row[1:] for row in cursor.fetchall()}
    rows = DeviceEvent.objects.filter(event_id__in=event_ids).values_list("event_id", "outcome", "reason", "order_id")
    return {row[0]: row[1:] for row in rows}


def _lock_spaces(space_ids: list[int]) -> None:
    if not space_ids or connection.vendor == "sqlite":  # SQLite serialises writers anyway
        return
    list(Space.objects.select_for_update().filter(pk__in=space_ids).order_by("pk").values_list("pk", flat=True))


def events_ingest(
    *, device: Device, events: list, transport: str = "http", max_age: dt.timedelta | None = None
) -> list[EventResult]:
    """Take in one batch of device events (see the module docstring); results in input order.

    ``max_age`` overrides ``GOVCENTER_PARKING_EVENT_MAX_AGE_HOURS`` for a trusted in-process
    caller replaying a known backlog (a history import, the demo); device transports never
    pass it.

    Raises :class:`ServiceError` (nothing written, the refusal counted) when the batch itself
    is refused: not a list, empty, larger than ``GOVCENTER_PARKING_MAX_BATCH``, or the device
    retired.
    """
    source = device_source(device)
    if not isinstance(events, list):
        raise batch_reject(source=source, reason="invalid_body", device=device, message="events must be a list")
    if not events:
        raise batch_reject(source=source, reason="empty_batch", device=device, message="events is empty")
    limit = settings.GOVCENTER_PARKING_MAX_BATCH
    if len(events) > limit:
        raise batch_reject(
            source=source,
            reason="batch_too_large",
            device=device,
            status=413,
            message=f"at most {limit} events per batch, got {len(events)}",
            details={"max_batch": limit, "events": len(events)},
        )
    if device.status == Device.Status.RETIRED:
        raise batch_reject(source=source, reason="device_retired", device=device, status=403, message="the device is retired")
    if max_age is None:
        max_age = dt.timedelta(hours=settings.GOVCENTER_PARKING_EVENT_MAX_AGE_HOURS)
    return _ingest(device=device, raw_events=events, transport=transport, max_age=max_age)


@transaction.atomic
def _ingest(*, device: Device, raw_events: list, transport: str, max_age: dt.timedelta) -> list[EventResult]:
    now = timezone.now()
    limits = (
        now - max_age,
        now + dt.timedelta(seconds=settings.GOVCENTER_PARKING_EVENT_FUTURE_SKEW_SECONDS),
    )
    # The device row first: batches of one device serialise (and see each other's ids).
    device = Device.objects.select_for_update().get(pk=device.pk)
    results: list[EventResult | None] = [None] * len(raw_events)
    rejects: Counter = Counter()
    parsed: list[_Event] = []
    first_of: dict[uuid.UUID, int] = {}
    dup_of: dict[int, int] = {}
    for i, raw in enumerate(raw_events):
        try:
            event = _parse(i, raw, device, now, limits)
        except _RejectError as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            results[i] = EventResult(None if event_id is None else str(event_id)[:64], Outcome.REJECTED, exc.reason, message=exc.message)
            rejects[exc.reason] += 1
            continue
        if event.event_id in first_of:
            dup_of[i] = first_of[event.event_id]
            continue
        first_of[event.event_id] = i
        parsed.append(event)

    # Already taken in (an earlier batch): duplicates with the stored outcome.
    if parsed:
        known = _known_events([e.event_id for e in parsed])
        if known:
            fresh = []
            for event in parsed:
                if event.event_id in known:
                    outcome, _reason, order_id = known[event.event_id]
                    results[event.index] = EventResult(
                        str(event.event_id), Outcome.DUPLICATE, "duplicate_event_id", order_id, original_outcome=outcome
                    )
                else:
                    fresh.append(event)
            parsed = fresh

    _resolve_spaces(device, parsed, results, rejects)
    parsed = [e for e in parsed if results[e.index] is None]
    _lock_spaces(sorted({e.space.pk for e in parsed if e.space is not None}))
    batch = _Batch(device, now, transport)
    batch.load(
        {e.space.pk: e.space for e in parsed if e.space is not None},
        {e.space.pk for e in parsed if e.space is not None and e.event_type == EventType.PARK_START},
    )

    device_status = None  # the last comms state reported in this batch
    heartbeat = False
    battery = None
    offline_open: DeviceOfflinePeriod | None | bool = False  # False: not loaded yet
    rows: list[_EventRow] = []
    parsed.sort(key=lambda e: (e.event_time, e.index))
    for event in parsed:
        space = event.space
        event.row = _EventRow(
            event_id=event.event_id,
            device_id=device.pk,
            event_type=event.event_type,
            data_source_type=event.data_source_type,
            event_time=event.event_time,
            received_at=now,
            transport=transport[:8],
            district_id=space.district_id if space else device.district_id,
            managing_unit_id=space.segment.managing_unit_id if space else device.managing_unit_id,
            segment_id=space.segment_id if space else device.segment_id,
            space_id=space.pk if space else None,
            plate=event.plate,
            plate_confidence=event.plate_confidence,
            vehicle_class=event.vehicle_class,
            payload=event.raw,
        )
        if event.event_type in SPACE_EVENTS and space is None:
            batch.anomaly(event, ParkingAnomaly.Kind.UNKNOWN_SPACE)
            result = EventResult(str(event.event_id), Outcome.ANOMALY, "unknown_space", message="no such space in the device's segment")
        elif event.event_type == EventType.PARK_START:
            result = batch.park_start(event)
        elif event.event_type == EventType.PARK_END:
            result = batch.park_end(event)
        else:
            result = EventResult(str(event.event_id), Outcome.ACCEPTED)
            if event.event_type in (EventType.COMMS_LOST, EventType.COMMS_RESTORED):
                if offline_open is False:
                    offline_open = DeviceOfflinePeriod.objects.filter(device=device, ended_at__isnull=True).first()
                if event.event_type == EventType.COMMS_LOST:
                    if offline_open is None:
                        offline_open = DeviceOfflinePeriod.objects.create(
                            device=device, started_at=event.event_time, reason=_OFFLINE_COMMS_LOST
                        )
                    device_status = Device.Status.OFFLINE
                else:
                    if offline_open is not None:
                        offline_open.ended_at = max(event.event_time, offline_open.started_at)
                        offline_open.save(update_fields=["ended_at", "updated_at"])
                        offline_open = None
                    device_status = Device.Status.ONLINE
            if event.battery_pct is not None:
                battery = event.battery_pct
        event.row.outcome = result.outcome
        event.row.reason = result.reason
        rows.append(event.row)
        results[event.index] = result
        heartbeat = True

    # Writes, in the order the constraints need: existing orders first (an open one may be
    # closed before its space gets the next), then new orders (ids), events, anomalies.
    if batch.changed_orders:
        Order.objects.bulk_update(
            list(batch.changed_orders.values()),
            [
                "state",
                "ended_at",
                "end_event",
                "amount_due_fen",
                "amount_paid_fen",
                "quote_lines",
                "tariff_plan",
                "billed_at",
                "plate",
                "plate_confidence",
                "updated_at",
            ],
        )
    if batch.new_orders:
        _insert_orders(batch.new_orders, now)
    _insert_events(rows)
    if batch.paired_event_rows:
        for row in batch.paired_event_rows:
            row.order_id = row.order.pk
        DeviceEvent.objects.bulk_update(batch.paired_event_rows, ["order"])
    for anomaly in batch.new_anomalies:
        if anomaly.order is not None:
            anomaly.order_id = anomaly.order.pk
    ParkingAnomaly.objects.bulk_create(batch.new_anomalies)
    if batch.resolved_anomalies:
        for anomaly in batch.resolved_anomalies:
            anomaly.order_id = anomaly._order.pk
            anomaly.updated_at = now
        ParkingAnomaly.objects.bulk_update(
            batch.resolved_anomalies,
            ["status", "resolution_note", "resolved_at", "resolved_by", "order", "updated_at"],
        )
    for result in results:
        if result is not None and isinstance(result.order_id, Order):
            result.order_id = result.order_id.pk
    for i, first in dup_of.items():
        original = results[first]
        results[i] = EventResult(
            original.event_id,
            Outcome.DUPLICATE,
            "duplicate_event_id",
            original.order_id,
            message="the same event_id appears earlier in this batch",
            original_outcome=original.outcome,
        )

    if heartbeat:
        _heartbeat(device, now, device_status, battery, offline_open)
    source = device_source(device)
    for reason, n in rejects.items():
        rejection_count(source=source, reason=reason, device=device, n=n)
    counts = Counter(r.outcome for r in results)
    audit.record(
        action="parking.device_event.ingest",
        obj=device,
        changes={
            "transport": transport,
            "events": len(results),
            "accepted": counts[Outcome.ACCEPTED],
            "anomalies": counts[Outcome.ANOMALY],
            "duplicates": counts[Outcome.DUPLICATE],
            "rejected": counts[Outcome.REJECTED],
            "orders_opened": len(batch.new_orders),
            "orders_billed": batch.billed,
        },
    )
    return results  # type: ignore[return-value]


def _copy(model, fields: list, rows) -> None:
    """PostgreSQL binary ``COPY … FROM STDIN`` of ``rows`` (values in ``fields`` order) into ``model``'s table.

    COPY runs in the caller's transaction and checks every constraint an INSERT checks
    (the deferred foreign keys at commit); it skips Django's per-value SQL building, and the
    binary format spares the server parsing timestamps and UUIDs from text. JSON fields take
    the Python value (psycopg's jsonb dumper serialises it).
    """
    qn = connection.ops.quote_name
    types = [f.db_type(connection).split("(", 1)[0] for f in fields]
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _insert_events(rows: list[_EventRow]) -> None:
    """Insert the batch's DeviceEvent rows: COPY on PostgreSQL, ``bulk_create`` elsewhere."""
    if not rows:
        return
    if not _postgresql():
        DeviceEvent.objects.bulk_create([row.instance() for row in rows], batch_size=500)
        return
    _copy(DeviceEvent, [DeviceEvent._meta.get_field(name) for name in EVENT_ROW_FIELDS], (row.values() for row in rows))


def _insert_orders(orders: list[Order], now: dt.datetime) -> None:
    """Insert new orders: on PostgreSQL ids are drawn from the table's sequence in one query
    and the rows are COPied (the events written next need the ids); ``bulk_create`` elsewhere."""
    if not _postgresql():
        Order.objects.bulk_create(orders, batch_size=500)
        return
    meta = Order._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(meta.db_table), meta.pk.column, len(orders)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    auto_now = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    attnames = [f.attname for f in fields]
    rows = []
    for order, pk in zip(orders, ids, strict=True):
        for name in auto_now:
            setattr(order, name, now)
        rows.append([pk, *(getattr(order, name) for name in attnames)])
    _copy(Order, [meta.pk, *fields], rows)
    for order, pk in zip(orders, ids, strict=True):
        order.pk = pk
        order._state.adding = False
        order._state.db = connection.alias


def _heartbeat(device: Device, now, status, battery, offline_open) -> None:
    """One UPDATE of the device; an offline period opened by monitoring ends with the heartbeat."""
    fields = {"last_heartbeat_at": now, "updated_at": now}
    if status != Device.Status.OFFLINE and device.status != Device.Status.MAINTENANCE:
        fields["status"] = Device.Status.ONLINE
        if device.status == Device.Status.OFFLINE:
            DeviceOfflinePeriod.objects.filter(
                device=device, ended_at__isnull=True, reason=_OFFLINE_NO_HEARTBEAT
            ).update(ended_at=now, updated_at=now)
    elif status == Device.Status.OFFLINE:
        fields["status"] = Device.Status.OFFLINE
    if battery is not None:
        fields["battery_pct"] = battery
    Device.objects.filter(pk=device.pk).update(**fields)


# ------------------------------------------------------------------------------------------
# Device authentication (HTTP and MQTT)
# ------------------------------------------------------------------------------------------


from govcenter.core.signed_requests import signing_string  # noqa: E402, F401 - what a device signs


def _auth_error(source: str, reason: str, message: str, device: Device | None = None) -> ServiceError:
    return batch_reject(source=source, reason=reason, device=device, status=401, message=message)


def device_authenticate_token(*, token: str, source: str) -> Device:
    """The device whose credential is ``token``; a 401 ServiceError (counted per source) otherwise."""
    from ..selectors.base import device_for_token

    device = device_for_token(token or "")
    if device is None:
        raise _auth_error(source, "bad_token", "unknown device or wrong token")
    return device


def device_authenticate_signature(
    *, serial: str, timestamp: str, nonce: str, signature: str, method: str, path: str, body: bytes, source: str
) -> Device:
    """Verify an HMAC-SM3 signed request (see :func:`signing_string`); the device, or a counted 401.

    ``timestamp`` is Unix seconds within ±``GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS``;
    ``nonce`` (8–64 characters) is remembered in the cache for twice that window, so a
    replay is refused (shared across processes when the cache is Redis).
    """
    from govcenter.core import signed_requests

    from .devices import device_signing_key

    if not (serial and timestamp and nonce and signature):
        raise _auth_error(source, "missing_signature_headers", "X-Device-Serial, X-Timestamp, X-Nonce and X-Signature are required")
    device = (
        Device.objects.filter(serial=serial).exclude(status=Device.Status.RETIRED).select_related("district").first()
    )
    if device is None:
        raise _auth_error(f"serial:{serial}", "unknown_device", "unknown device")
    try:
        signed_requests.verify(
            key=lambda: device_signing_key(device),
            no_key_message="the device has no valid credential",
            timestamp=timestamp,
            nonce=nonce,
            signature=signature,
            method=method,
            path=path,
            body=body,
            window_s=settings.GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS,
            nonce_scope=f"parking:device-nonce:{device.pk}",
        )
    except signed_requests.SignatureRefusedError as refused:
        raise _auth_error(device_source(device), refused.reason, refused.message, device) from None
    return device
