"""MDS 2.0 Agency push of events, telemetry and trips: validate, convert, publish to the Stream.

``ingest(operator=…, kind=…, records=[…])`` (``kind`` one of :data:`KINDS`) checks every record
on its own, like vehicle registration (``services/registry.py``); the failures come back as
MDS-style ``{"item", "error", "error_description", "error_details"}``:

* ``missing_param`` / ``bad_param`` — the record breaks the MDS 2.0 schema of its kind
  (``data/mds/{event,telemetry,trip}.schema.json``, micromobility mode), a trip event has no
  ``trip_ids``, or its ``provider_id`` is not the operator's (when its profile names one);
* ``duplicate_in_batch`` — the idempotency key (events: ``event_id``; trips: ``trip_id``;
  telemetry: ``(device_id, timestamp)``) appears earlier in the batch;
* ``unknown_vehicle`` / ``other_operator_vehicle`` — ``device_id`` is not registered, or is
  registered by another operator;
* ``timestamp_in_future`` / ``timestamp_too_old`` — more than the allowed clock skew ahead of
  the server, or older than the maximum age;
* ``outside_beijing`` — a location, converted from the operator's declared datum to GCJ-02, is
  in none of Beijing's districts;
* ``trip_end_before_start`` / ``trip_implausible`` — trips only: ``end_time`` not after
  ``start_time``; duration longer than the span or the limit, distance or mean speed beyond
  the limits.

The accepted records become lake rows (``analytics.lake`` data sets ``events``, ``telemetry``,
``trips``): coordinates in GCJ-02 with ``source_datum`` the operator's declared datum (ADR
0005), timestamps as Unix milliseconds. They are published to the stream
``bikeshare-<kind>`` in messages of at most ``GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS``
rows each, **before** the answer: when the operator reads 201/200, its records are durable.
Message formats (the consumer reads both; the first byte tells them apart):

* version 1 — compact JSON ``{"v": 1, "kind", "rows": [{…}, …]}`` (events, trips, and any rows
  published as dicts);
* version 2 — an Arrow IPC stream of one record batch in the lake schema of the kind with
  timestamps as int64 ms (:func:`stream_schema`), schema metadata ``v=2`` and ``kind``. The
  telemetry fast path builds its accepted rows as columns, so neither side turns 30 million
  points a day into dicts and JSON and back. An IPC stream starts with ``0xFF``, JSON with ``{``.
A batch refused whole (not a list, empty, too large) publishes nothing.

Idempotency: the key of each record travels in the row; a batch pushed again is accepted
again and published again, and the lake drops the doubles on compaction (the lake's
"last written wins" per key) while the live state keeps the newest report per bike. So a
retry after a lost answer is always safe.

Refusals are counted per operator and reason (``OperatorRejection``), as for vehicles.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, fastjson
from govcenter.core.api.errors import ServiceError
from govcenter.core.districts import lookup
from govcenter.core.geo import Datum, to_gcj02
from govcenter.core.models import Unit, UnitKind

from ..models import OperatorProfile, Vehicle
from .auth import operator_source, rejection_count
from .registry import RecordError, _failure, check_schema

MDS_DIR = Path(__file__).resolve().parent.parent / "data" / "mds"
KINDS = ("events", "telemetry", "trips")
SCHEMA_FILES = {
    "events": "event.schema.json",
    "telemetry": "telemetry.schema.json",
    "trips": "trip.schema.json",
}
MAX_BATCH = {"events": 5000, "telemetry": 10_000, "trips": 5000}
MESSAGE_VERSION = 1  # JSON rows
COLUMNAR_VERSION = 2  # Arrow IPC columns (module doc)

# Defaults of the settings (read with getattr until they are in settings/bikeshare.py).
DEFAULTS = {
    "GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS": 300,
    "GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS": 7 * 86400,
    "GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS": 500,
    "GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX": "bikeshare",
    "GOVCENTER_BIKESHARE_TRIP_MAX_DURATION_SECONDS": 86400,
    "GOVCENTER_BIKESHARE_TRIP_MAX_DISTANCE_M": 100_000,
    "GOVCENTER_BIKESHARE_TRIP_MAX_SPEED_KMH": 45,
}
TRIP_EVENT_TYPES = frozenset(
    {"trip_cancel", "trip_end", "trip_enter_jurisdiction", "trip_leave_jurisdiction", "trip_start"}
)
DURATION_SLACK_S = 60  # a trip's duration may exceed end_time − start_time by rounding only


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def stream_name(kind: str) -> str:
    """The stream of ``kind``: ``<GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX>-<kind>`` (``bikeshare-telemetry``)."""
    return f"{setting('GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX')}-{kind}"


@functools.cache
def validator(kind: str):
    """The Draft 2020-12 validator of the vendored MDS schema of ``kind`` (loaded once)."""
    from jsonschema import Draft202012Validator

    schema = json.loads((MDS_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ------------------------------------------------------------------------------------------
# Operator profile
# ------------------------------------------------------------------------------------------


def operator_profile(operator: Unit) -> OperatorProfile:
    """The operator's profile; an unsaved default one (WGS-84, as MDS says) if none was set."""
    profile = OperatorProfile.objects.filter(operator=operator).first()
    return profile or OperatorProfile(operator=operator)


PROFILE_FIELDS = ["datum", "provider_id", "provider_api_url", "gbfs_url"]


@transaction.atomic
def operator_profile_set(*, actor, operator: Unit, **changes) -> OperatorProfile:
    """Create or change an operator's profile (``datum``, ``provider_id``, ``provider_api_url``,
    ``gbfs_url``); validated, audited with before/after. ValidationError for bad values."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError(f"unknown profile fields {sorted(unknown)}", code="unknown_field")
    if operator.kind != UnitKind.OPERATOR:
        raise ValidationError(
            _("只能为“互联网租赁自行车运营企业”类型的单位设置接入配置。"), code="not_operator"
        )
    if "datum" in changes:
        try:
            changes["datum"] = Datum.parse(changes["datum"]).value
        except ValueError:
            raise ValidationError(_("坐标系必须是 WGS-84、GCJ-02 或 BD-09。"), code="bad_datum") from None
    if changes.get("provider_id") not in (None, ""):
        try:
            changes["provider_id"] = uuid.UUID(str(changes["provider_id"]))
        except ValueError:
            raise ValidationError(_("MDS 运营商标识必须是 UUID。"), code="bad_provider_id") from None
    elif "provider_id" in changes:
        changes["provider_id"] = None
    profile = OperatorProfile.objects.select_for_update().filter(operator=operator).first()
    created = profile is None
    if created:
        profile = OperatorProfile(operator=operator)
    before = {} if created else audit.snapshot(profile, PROFILE_FIELDS)
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.full_clean(exclude=["operator"])
    profile.save()
    audit.record(
        action="bikeshare.operator_profile.create" if created else "bikeshare.operator_profile.update",
        obj=profile,
        object_repr=str(operator),
        changes={"before": before, "after": audit.snapshot(profile, PROFILE_FIELDS)},
    )
    return profile


# ------------------------------------------------------------------------------------------
# One record: schema
# ------------------------------------------------------------------------------------------


def _check_schema(kind: str, record) -> None:
    # Only the record's own required members are "missing"; a nested one is a bad_param.
    check_schema(record, validator(kind), what="A record", nested_required=False)


# Per kind: the idempotency key, the timestamp members, the location members.
def _key(kind: str, record: dict):
    if kind == "events":
        return record["event_id"]
    if kind == "trips":
        return record["trip_id"]
    return (record["device_id"], int(record["timestamp"]))


_TIMES = {"events": ("timestamp",), "telemetry": ("timestamp",), "trips": ("start_time", "end_time")}
_LOCATIONS = {
    "events": ("location",),
    "telemetry": ("location",),
    "trips": ("start_location", "end_location"),
}


def _ms_to_dt(ms) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC)


def _check_rules(kind: str, record: dict, *, now_ms: int, skew_ms: int, max_age_ms: int) -> None:
    """Our rules that need no database: timestamps, trip plausibility."""
    for name in _TIMES[kind]:
        value = int(record[name])
        if value > now_ms + skew_ms:
            raise RecordError(
                "timestamp_in_future",
                f"{name} is more than {skew_ms // 1000} s ahead of the server clock.",
                [name],
            )
        if value < now_ms - max_age_ms:
            raise RecordError("timestamp_too_old", f"{name} is older than {max_age_ms // 1000} s.", [name])
    if (
        kind == "events"
        and TRIP_EVENT_TYPES.intersection(record["event_types"])
        and not record.get("trip_ids")
    ):
        # MDS: trip_ids is required for trip events ("conditionally required"); the vendored
        # schema's if/then only bounds the list's length, so an absent list slips through it.
        raise RecordError("missing_param", "trip_ids is required for trip events.", ["trip_ids"])
    if kind == "trips":
        start, end = int(record["start_time"]), int(record["end_time"])
        if end <= start:
            raise RecordError("trip_end_before_start", "end_time must be after start_time.", ["end_time"])
        span_s = (end - start) / 1000
        duration, distance = record["duration"], record["distance"]
        if duration > span_s + DURATION_SLACK_S or duration > setting(
            "GOVCENTER_BIKESHARE_TRIP_MAX_DURATION_SECONDS"
        ):
            raise RecordError(
                "trip_implausible",
                "duration exceeds end_time − start_time or the longest trip allowed.",
                ["duration"],
            )
        if distance > setting("GOVCENTER_BIKESHARE_TRIP_MAX_DISTANCE_M"):
            raise RecordError("trip_implausible", "distance exceeds the longest trip allowed.", ["distance"])
        speed_kmh = distance / max(duration, span_s, 1) * 3.6
        if speed_kmh > setting("GOVCENTER_BIKESHARE_TRIP_MAX_SPEED_KMH"):
            raise RecordError(
                "trip_implausible",
                f"mean speed {speed_kmh:.1f} km/h is not a bicycle's.",
                ["distance", "duration"],
            )


# ------------------------------------------------------------------------------------------
# The batch
# ------------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    """``rows``: the accepted records as lake rows (timestamps in ms), in record order. The fast
    telemetry path sets ``table`` instead (the same rows as columns, :func:`stream_schema`);
    ``rows`` is then made from it on first use only (tests, comparisons), as publishing uses the
    table."""

    kind: str
    total: int
    failures: list[dict] = field(default_factory=list)
    messages: int = 0  # stream messages published
    table: pa.Table | None = None
    _rows: list[dict] | None = field(default=None, repr=False)

    @property
    def rows(self) -> list[dict]:
        if self._rows is None:
            self._rows = self.table.to_pylist() if self.table is not None else []
        return self._rows

    @property
    def accepted(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.rows)

    @property
    def success(self) -> int:
        return self.total - len(self.failures)

    def as_dict(self) -> dict:
        """The MDS bulk response."""
        return {"success": self.success, "total": self.total, "failures": self.failures}


def _vehicles(device_ids: set[str]) -> dict[str, tuple[int, str]]:
    """device_id (str) → (operator pk, vehicle_id), in chunks (SQL parameter limits)."""
    found: dict[str, tuple[int, str]] = {}
    ids = sorted(device_ids)
    for i in range(0, len(ids), 2000):
        for device_id, operator_id, vehicle_id in Vehicle.objects.filter(
            device_id__in=ids[i : i + 2000]
        ).values_list("device_id", "operator_id", "vehicle_id"):
            found[str(device_id)] = (operator_id, vehicle_id)
    return found


def _row(kind: str, record: dict, operator_code: str, vehicle_id: str, points: list, datum: str) -> dict:
    """The lake row of an accepted record (GCJ-02 ``points``: one (lon, lat) per location)."""
    base = {"operator": operator_code, "device_id": record["device_id"], "vehicle_id": vehicle_id}
    if kind == "telemetry":
        ((lon, lat),) = points
        trip_ids = record.get("trip_ids") or []
        battery = record.get("battery_percent")
        return {**base, "timestamp": int(record["timestamp"]), "lon": lon, "lat": lat, "source_datum": datum,
                "battery_pct": None if battery is None else float(battery),
                "trip_id": trip_ids[0] if trip_ids else None}  # fmt: skip
    if kind == "events":
        lon, lat = points[0] if points else (None, None)
        return {**base, "event_id": record["event_id"], "timestamp": int(record["timestamp"]),
                "event_types": list(record["event_types"]), "vehicle_state": record["vehicle_state"],
                "lon": lon, "lat": lat, "source_datum": datum if points else None}  # fmt: skip
    (slon, slat), (elon, elat) = points
    return {**base, "trip_id": record["trip_id"], "start_time": int(record["start_time"]),
            "end_time": int(record["end_time"]), "start_lon": slon, "start_lat": slat, "end_lon": elon,
            "end_lat": elat, "source_datum": datum, "distance_m": float(record["distance"]),
            "duration_s": int(record["duration"])}  # fmt: skip


def _classify(operator: Unit, kind: str, records: list, now_ms: int) -> IngestResult:
    """Check every record (schema, batch, registry, rules, Beijing); no writes."""
    result = IngestResult(kind=kind, total=len(records))
    profile = operator_profile(operator)
    datum = Datum.parse(profile.datum).value
    provider_id = str(profile.provider_id) if profile.provider_id else None
    skew_ms = int(setting("GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS")) * 1000
    max_age_ms = int(setting("GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS")) * 1000

    errors: list[RecordError | None] = [None] * len(records)
    for i, record in enumerate(records):
        try:
            _check_schema(kind, record)
        except RecordError as exc:
            errors[i] = exc
    valid = [i for i, e in enumerate(errors) if e is None]
    vehicles = _vehicles({records[i]["device_id"] for i in valid})

    # All locations of schema-valid records, converted and looked up at once.
    where: list[tuple[int, str]] = []
    for i in valid:
        for name in _LOCATIONS[kind]:
            if name in records[i]:
                where.append((i, name))
    gcj: dict[tuple[int, str], tuple[float, float]] = {}
    outside: set[tuple[int, str]] = set()
    if where:
        lon = np.array([float(records[i][n]["lng"]) for i, n in where])
        lat = np.array([float(records[i][n]["lat"]) for i, n in where])
        glon, glat = to_gcj02(lon, lat, datum)
        glon, glat = np.atleast_1d(glon), np.atleast_1d(glat)
        codes = lookup(glon, glat, datum=Datum.GCJ02)
        for k, place in enumerate(where):
            gcj[place] = (round(float(glon[k]), 7), round(float(glat[k]), 7))
            if not str(codes[k]):
                outside.add(place)

    seen: set = set()
    for i, record in enumerate(records):
        try:
            if errors[i] is not None:
                raise errors[i]
            key = _key(kind, record)
            if key in seen:
                raise RecordError(
                    "duplicate_in_batch",
                    "A record with the same key appears earlier in this batch.",
                    ["device_id", "timestamp"] if kind == "telemetry" else [
                        "event_id" if kind == "events" else "trip_id"],
                )  # fmt: skip
            seen.add(key)
            if provider_id and record["provider_id"] != provider_id:
                raise RecordError(
                    "bad_param", "provider_id is not this operator's MDS provider id.", ["provider_id"]
                )
            owner = vehicles.get(record["device_id"])
            if owner is None:
                raise RecordError(
                    "unknown_vehicle", "No vehicle is registered with that device_id.", ["device_id"]
                )
            if owner[0] != operator.pk:
                raise RecordError(
                    "other_operator_vehicle",
                    "The device_id is registered by another operator.",
                    ["device_id"],
                )
            _check_rules(kind, record, now_ms=now_ms, skew_ms=skew_ms, max_age_ms=max_age_ms)
            places = [(i, n) for n in _LOCATIONS[kind] if n in record]
            bad = [n for (_i, n) in places if (i, n) in outside]
            if bad:
                raise RecordError(
                    "outside_beijing",
                    f"The location, converted from {datum} to GCJ-02, is outside Beijing's districts.",
                    bad,
                )
        except RecordError as exc:
            result.failures.append(_failure(record, exc))
            continue
        result.rows.append(_row(kind, record, operator.code, owner[1], [gcj[p] for p in places], datum))
    return result


def _refuse(operator: Unit, reason: str, message: str, *, status: int = 400, details=None) -> ServiceError:
    rejection_count(source=operator_source(operator), reason=reason, operator=operator)
    return ServiceError(message, code=reason, status=status, details=details or {})


def encode_messages(kind: str, rows: list[dict], per_message: int) -> list[bytes]:
    """The stream messages of ``rows``: compact JSON ``{"v", "kind", "rows"}``, ``per_message`` rows each."""
    return [
        fastjson.dumps({"v": MESSAGE_VERSION, "kind": kind, "rows": rows[i : i + per_message]})
        for i in range(0, len(rows), per_message)
    ]


@functools.cache
def stream_schema(kind: str) -> pa.Schema:
    """The lake schema of ``kind``'s data set as the stream carries it: timestamps as int64 ms."""
    from govcenter.analytics.lake.schemas import get_spec

    return pa.schema(
        [
            pa.field(f.name, pa.int64(), f.nullable) if pa.types.is_timestamp(f.type) else f
            for f in get_spec(kind).schema
        ]
    )


def encode_table_messages(kind: str, table: pa.Table, per_message: int) -> list[bytes]:
    """Version-2 messages of ``table`` (rows in :func:`stream_schema` of ``kind``): one Arrow IPC
    stream of one record batch each, ``per_message`` rows each, kind and version in the metadata."""
    schema = stream_schema(kind)
    if not table.schema.equals(schema):
        raise ValueError(f"bikeshare-{kind}: table schema {table.schema} is not the stream schema")
    schema = schema.with_metadata({"v": str(COLUMNAR_VERSION), "kind": kind})
    out = []
    for batch in table.combine_chunks().to_batches(max_chunksize=per_message):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))
        out.append(sink.getvalue().to_pybytes())
    return out


def publish(kind: str, rows: list[dict] | pa.Table, *, stream_url: str | None = None) -> int:
    """Publish lake rows (dicts: version-1 JSON messages; an Arrow table in :func:`stream_schema`:
    version 2) to the stream of ``kind`` (:func:`stream_name`); returns the number of messages
    (durable on return)."""
    from govcenter.analytics.stream import open_stream

    per_message = max(1, int(setting("GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS")))
    if isinstance(rows, pa.Table):
        messages = encode_table_messages(kind, rows, per_message)
    else:
        messages = encode_messages(kind, rows, per_message)
    if not messages:
        return 0
    with open_stream(stream_name(kind), stream_url) as stream:
        stream.publish(messages)
    return len(messages)


def ingest(*, operator: Unit, kind: str, records, stream_url: str | None = None) -> IngestResult:
    """Validate a pushed batch of ``kind`` for ``operator`` and publish the accepted records.

    A body that is not a batch (not a list, empty) is refused whole (400 ``invalid_body``), more
    than ``MAX_BATCH[kind]`` records 413 ``batch_too_large``; nothing is published then. If the
    stream is unreachable the request fails with 503 ``stream_unavailable`` (some messages may
    be stored; a retry is safe — see idempotency above). Rejections are counted per reason.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {KINDS}")
    if not isinstance(records, list) or not records:
        raise _refuse(
            operator, "invalid_body", f'the body must be a non-empty list, or {{"{kind}": [...]}}',
            details={kind: ["A non-empty list is required."]},
        )  # fmt: skip
    limit = MAX_BATCH[kind]
    if len(records) > limit:
        raise _refuse(
            operator, "batch_too_large", f"at most {limit} {kind} records per request", status=413,
            details={"max": limit, "received": len(records)},
        )  # fmt: skip
    now_ms = int(timezone.now().timestamp() * 1000)
    if kind == "telemetry":  # FAST PATH (ingest_fast.py): the same result, checked column-wise
        from .ingest_fast import classify_telemetry

        result = classify_telemetry(operator, records, now_ms)
    else:
        result = _classify(operator, kind, records, now_ms)
    if result.accepted:
        try:
            payload = result.table if result.table is not None else result.rows
            result.messages = publish(kind, payload, stream_url=stream_url)
        except Exception as exc:  # any backend failure: the operator must retry
            raise _refuse(
                operator, "stream_unavailable", "the records could not be stored; retry the batch", status=503,
                details={"error": type(exc).__name__},
            ) from exc  # fmt: skip
    counts = Counter(f["error"] for f in result.failures)
    for reason, n in sorted(counts.items()):
        rejection_count(source=operator_source(operator), reason=reason, operator=operator, n=n)
    return result
