"""Vehicle registration (MDS 2.0 Agency ``POST /vehicles``): bulk, partial success, idempotent.

``vehicles_register(operator=…, records=[…])`` checks every record on its own; the good ones
are written together in one transaction with one audit entry, the bad ones come back as
MDS-style failures ``{"item", "error", "error_description", "error_details"}``:

* ``missing_param`` — a required MDS member is missing (or ``vehicle_id`` is blank);
* ``bad_param`` — the record breaks the MDS 2.0 vehicle schema (``data/mds/vehicle.schema.json``,
  micromobility mode) or a Beijing rule: only ``vehicle_type`` ``bicycle`` with propulsion
  ``human`` (a bicycle) or ``electric_assist``/``electric`` (an e-bike); the extensions
  ``e_tag`` (electronic tag, ≤ 64 characters) and ``district`` (GB/T 2260 code of a district
  we know) are optional;
* ``duplicate_in_batch`` — a ``device_id`` or ``vehicle_id`` already used earlier in the batch;
* ``registered_by_other_operator`` — the ``device_id`` belongs to another operator's vehicle;
* ``already_registered`` — this operator registered the ``device_id`` with *different*
  attributes (changes go through an update, as in MDS), or the ``vehicle_id`` is taken by
  another of its vehicles.

Idempotency: a record identical to what this operator already registered under that
``device_id`` counts as a success (``already_registered`` in :attr:`RegisterResult.outcomes`),
so a retried batch answers as the first one did and writes nothing twice.

Concurrency: batches of one operator serialise on its ``Unit`` row; two operators racing for
one ``device_id`` meet the unique constraint, and the batch is classified again once (the
other operator's row is then visible).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit

from ..models import Vehicle, VehicleState
from .auth import operator_source, rejection_count

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "mds" / "vehicle.schema.json"
MAX_BATCH = 1000
BEIJING_VEHICLE_TYPES = frozenset({"bicycle"})
BEIJING_PROPULSION = frozenset({"human", "electric_assist", "electric"})
E_TAG_MAX = 64
VEHICLE_FIELDS = ["id", "operator_id", "device_id", "provider_id", "vehicle_id", "e_tag", "vehicle_type",
                  "propulsion_types", "state", "district_id"]  # fmt: skip

REGISTERED = "registered"
ALREADY_REGISTERED = "already_registered"


@functools.cache
def vehicle_validator():
    """The Draft 2020-12 validator of the vendored MDS vehicle schema (loaded once)."""
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


class RecordError(Exception):
    def __init__(self, error: str, description: str, details: list[str]):
        super().__init__(description)
        self.error, self.description, self.details = error, description, details


@dataclass
class RegisterResult:
    total: int
    # Per record, in input order: registered / already_registered / the error code.
    outcomes: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)  # newly written

    @property
    def success(self) -> int:
        return self.total - len(self.failures)

    def as_dict(self) -> dict:
        """The MDS bulk response."""
        return {"success": self.success, "total": self.total, "failures": self.failures}


# ------------------------------------------------------------------------------------------
# One record (no queries except the district lookup table passed in)
# ------------------------------------------------------------------------------------------


def _bad_text(value) -> bool:
    """Whether a string anywhere in ``value`` cannot be stored (NUL, lone surrogate)."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_text(v) for v in value)
    return False


def _path(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "item"


def check_schema(record, validator, *, what: str, nested_required: bool = True) -> None:
    """Raise :class:`RecordError` if ``record`` breaks ``validator``'s JSON Schema.

    ``missing_param`` (with the names) when required members are absent — of any object in
    the record, or with ``nested_required=False`` of the record itself only (a nested one is
    then a ``bad_param``); ``bad_param`` with every other violation, path by path; text with NUL
    or unpaired surrogates is a ``bad_param`` too. ``what`` names the record in the message.
    """
    if not isinstance(record, dict):
        raise RecordError("bad_param", f"{what} must be a JSON object.", ["item"])
    errors = list(validator.iter_errors(record))
    missing = sorted(
        {
            name
            for e in errors
            if e.validator == "required" and (nested_required or e.instance is record)
            for name in e.validator_value
            if name not in e.instance
        }
    )
    if missing:
        raise RecordError("missing_param", "A required parameter is missing.", missing)
    if errors:
        errors.sort(key=lambda e: (_path(e), e.message))
        raise RecordError(
            "bad_param",
            "; ".join(f"{_path(e)}: {e.message}" for e in errors)[:500],
            sorted({_path(e) for e in errors}),
        )
    if _bad_text(record):
        raise RecordError(
            "bad_param", "Text must not contain NUL or unpaired surrogate characters.", ["item"]
        )


def _check_schema(record) -> None:
    check_schema(record, vehicle_validator(), what="A vehicle")


def _check_beijing(record: dict, districts: dict[str, int]) -> dict:
    """Our rules on a schema-valid record; the Vehicle fields."""
    vehicle_id = record["vehicle_id"].strip()
    if not vehicle_id:
        raise RecordError("missing_param", "vehicle_id must not be blank.", ["vehicle_id"])
    if record["vehicle_type"] not in BEIJING_VEHICLE_TYPES:
        raise RecordError(
            "bad_param",
            f"vehicle_type must be one of {sorted(BEIJING_VEHICLE_TYPES)} (bicycles and e-bikes only).",
            ["vehicle_type"],
        )
    propulsion = record["propulsion_types"]
    if not set(propulsion) <= BEIJING_PROPULSION:
        raise RecordError(
            "bad_param", f"propulsion_types must be among {sorted(BEIJING_PROPULSION)}.", ["propulsion_types"]
        )
    e_tag = record.get("e_tag", "")
    if not isinstance(e_tag, str) or len(e_tag) > E_TAG_MAX:
        raise RecordError(
            "bad_param", f"e_tag must be a string of at most {E_TAG_MAX} characters.", ["e_tag"]
        )
    district_id = None
    if record.get("district") not in (None, ""):
        district_id = districts.get(record["district"]) if isinstance(record["district"], str) else None
        if district_id is None:
            raise RecordError(
                "bad_param", "district must be the GB/T 2260 code of a Beijing district.", ["district"]
            )
    return {
        "device_id": uuid.UUID(record["device_id"]),
        "provider_id": uuid.UUID(record["provider_id"]),
        "vehicle_id": vehicle_id,
        "e_tag": e_tag.strip(),
        "vehicle_type": record["vehicle_type"],
        "propulsion_types": list(propulsion),
        "district_id": district_id,
    }


# ------------------------------------------------------------------------------------------
# The batch
# ------------------------------------------------------------------------------------------


def _failure(record, exc: RecordError) -> dict:
    return {
        "item": record,
        "error": exc.error,
        "error_description": exc.description,
        "error_details": exc.details,
    }


def _classify(operator: Unit, records: list, now) -> RegisterResult:
    """Check every record against the schema, our rules, the batch and the database (no writes)."""
    result = RegisterResult(total=len(records))
    districts = dict(District.objects.values_list("code", "pk"))
    checked: list[tuple[int, dict | None, RecordError | None]] = []
    for record in records:
        try:
            _check_schema(record)
            checked.append((len(checked), _check_beijing(record, districts), None))
        except RecordError as exc:
            checked.append((len(checked), None, exc))
    device_ids = {f["device_id"] for _, f, _ in checked if f}
    vehicle_ids = {f["vehicle_id"] for _, f, _ in checked if f}
    by_device = {v.device_id: v for v in Vehicle.objects.filter(device_id__in=device_ids)}
    by_vehicle_id = {
        v.vehicle_id: v for v in Vehicle.objects.filter(operator=operator, vehicle_id__in=vehicle_ids)
    }
    seen_devices: set[uuid.UUID] = set()
    seen_vehicle_ids: set[str] = set()
    for index, fields, error in checked:
        record = records[index]
        try:
            if error is not None:
                raise error
            device_id, vehicle_id = fields["device_id"], fields["vehicle_id"]
            if device_id in seen_devices or vehicle_id in seen_vehicle_ids:
                raise RecordError(
                    "duplicate_in_batch",
                    "The device_id or vehicle_id appears earlier in this batch.",
                    ["device_id" if device_id in seen_devices else "vehicle_id"],
                )
            seen_devices.add(device_id)
            seen_vehicle_ids.add(vehicle_id)
            existing = by_device.get(device_id)
            if existing is not None and existing.operator_id != operator.pk:
                raise RecordError(
                    "registered_by_other_operator",
                    "A vehicle with that device_id is registered by another operator.",
                    ["device_id"],
                )
            if existing is not None:
                if existing.mds_record == record:
                    result.outcomes.append(ALREADY_REGISTERED)
                    continue
                raise RecordError(
                    "already_registered",
                    "A vehicle with that device_id is already registered with other attributes; update it instead.",
                    ["device_id"],
                )
            if vehicle_id in by_vehicle_id:
                raise RecordError(
                    "already_registered",
                    "Another vehicle of this operator is registered with that vehicle_id.",
                    ["vehicle_id"],
                )
        except RecordError as exc:
            result.failures.append(_failure(record, exc))
            result.outcomes.append(exc.error)
            continue
        result.vehicles.append(
            Vehicle(
                operator=operator, state=VehicleState.REMOVED, mds_record=record, registered_at=now, **fields
            )
        )
        result.outcomes.append(REGISTERED)
    return result


def vehicles_register(*, operator: Unit, records: list) -> RegisterResult:
    """Register a batch of MDS vehicles for ``operator``: partial success, idempotent, audited.

    A request that is not a batch at all (not a list, empty, more than ``MAX_BATCH``) is
    refused whole with a ServiceError and nothing is written.
    """
    source = operator_source(operator)
    if not isinstance(records, list) or not records:
        rejection_count(source=source, reason="invalid_body", operator=operator)
        raise ServiceError(
            'the body must be a non-empty list of vehicles, or {"vehicles": [...]}',
            code="invalid_body",
            details={"vehicles": ["A non-empty list is required."]},
        )
    if len(records) > MAX_BATCH:
        rejection_count(source=source, reason="batch_too_large", operator=operator)
        raise ServiceError(
            f"at most {MAX_BATCH} vehicles per request", code="batch_too_large", status=413,
            details={"max": MAX_BATCH, "received": len(records)},
        )  # fmt: skip
    for attempt in range(2):
        try:
            with transaction.atomic():
                # One batch per operator at a time.
                Unit.objects.select_for_update().filter(pk=operator.pk).first()
                result = _classify(operator, records, timezone.now())
                _write(operator, result)
                return result
        except IntegrityError:
            # Another operator took a device_id between our read and our insert: classify again.
            if attempt:
                raise ServiceError(
                    "a concurrent registration conflicted with this batch; retry it",
                    code="conflict",
                    status=409,
                ) from None
    raise AssertionError("unreachable")


def _write(operator: Unit, result: RegisterResult) -> None:
    if result.vehicles:
        Vehicle.objects.bulk_create(result.vehicles)
        # bulk_create sets pks on PostgreSQL and SQLite ≥ 3.35; read them back otherwise.
        if any(v.pk is None for v in result.vehicles):
            ids = dict(
                Vehicle.objects.filter(device_id__in=[v.device_id for v in result.vehicles]).values_list(
                    "device_id", "pk"
                )
            )
            for vehicle in result.vehicles:
                vehicle.pk = ids[vehicle.device_id]
        audit.record(
            action="bikeshare.vehicle.bulk_register",
            object_type="bikeshare.vehicle",
            object_repr=f"{operator} ×{len(result.vehicles)}",
            changes={"before": {}, "after": [audit.snapshot(v, VEHICLE_FIELDS) for v in result.vehicles]},
        )
    counts = Counter(f["error"] for f in result.failures)
    for reason, n in sorted(counts.items()):
        rejection_count(source=operator_source(operator), reason=reason, operator=operator, n=n)
