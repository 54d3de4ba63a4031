"""Fast telemetry classification: the checks of ``services/ingest.py`` done column-wise.

A day of Beijing telemetry is about 30 million points; the per-record JSON-Schema validation
of ``ingest._classify`` (jsonschema, ~0.25 ms a record) alone would take two hours on one
worker. :func:`classify_telemetry` gives the *same* :class:`~.ingest.IngestResult` as
``ingest._classify(operator, "telemetry", records, now_ms)`` but proves most records clean
column by column:

1. **Structure** — every member the vendored MDS telemetry schema knows is checked over the
   whole batch at once: required keys present, no unknown keys (top level and in
   ``location``), UUID strings against the schema's pattern (pyarrow's RE2, where ``$`` does
   not match before a trailing newline: stricter than jsonschema's ``re.search``),
   ``timestamp`` an int ≥ the schema minimum, ``trip_ids`` null or a non-empty list of unique
   UUIDs, ``journey_id`` null or a UUID, ``location`` with finite ``lat``/``lng`` in range and
   finite optional numbers, ``satellites``/``battery_percent``/``fuel_percent`` ints in range,
   ``location_type`` in the enum, ``tipped_over`` a bool. The checks are deliberately
   *stricter* than the schema (floats where ints are allowed, unknown members, non-finite
   numbers are all "suspect"): a suspect record is never refused here, it is only sent on.
2. **Our rules** — ``provider_id`` the profile's (when it names one), ``device_id`` one of the
   operator's registered vehicles (per-operator in-memory map, see :func:`operator_vehicles`),
   timestamp inside the skew/age window, the location (converted from the operator's datum
   to GCJ-02, vectorised) inside a Beijing district, and the key ``(device_id, timestamp)``
   not already used by an earlier schema-valid record of the batch (pandas group numbers).

Every record that any check flags goes through the existing slow path (``ingest._classify``)
so its failure code, description and details are exactly the slow path's — this module never
writes a failure message of its own. The slow path is run on the sub-batch of the flagged
records plus, for each flagged duplicate, the earlier record it duplicates (so the
``duplicate_in_batch`` verdict is the one the whole batch would give); everything else in
``_classify`` is per record. A clean record becomes its lake row through ``ingest._row``.

Vehicle map cache: ``{operator pk: (loaded at, {device_id: vehicle_id})}`` in process memory,
reloaded after ``GOVCENTER_BIKESHARE_INGEST_VEHICLE_CACHE_SECONDS`` (default 30 s) and dropped
at once when a ``Vehicle`` of that operator is saved or deleted in this process (signals).
Staleness is harmless in one direction: a device missing from the map (registered since —
``vehicles_register`` bulk-inserts, so no signal fires) is flagged, the slow path asks the
database, and a row it accepts adds its device to the map (the next batch is fast). In the other
direction — a vehicle deleted or given another ``vehicle_id`` by another process — the map can
be wrong for at most the TTL; no service deletes vehicles or changes their ``vehicle_id``
today (registration only adds), so the TTL is a safety net, not a correctness crutch.
A map costs ~150 bytes a vehicle (~50 MB for a 300,000-bike operator).
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db.models.signals import post_delete, post_save

from govcenter.core.districts import lookup
from govcenter.core.geo import Datum, to_gcj02
from govcenter.core.models import Unit

from ..models import Vehicle
from . import ingest as slow

KIND = "telemetry"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIMESTAMP_MIN = 1514764800000
REQUIRED = frozenset(
    {"device_id", "provider_id", "telemetry_id", "timestamp", "trip_ids", "journey_id", "location"}
)
OPTIONAL = frozenset(
    {"data_provider_id", "stop_id", "location_type", "battery_percent", "fuel_percent", "tipped_over"}
)
TOP_KEYS = REQUIRED | OPTIONAL
LOCATION_NUMBERS = ("altitude", "heading", "horizontal_accuracy", "speed", "vertical_accuracy")
LOCATION_KEYS = frozenset({"lat", "lng", "satellites", *LOCATION_NUMBERS})
LOCATION_TYPES = frozenset({"street", "sidewalk", "crosswalk", "garage", "bike_lane"})
CACHE_SECONDS_DEFAULT = 30
_MISSING = object()
_EXACT_FLOAT_INT = 2**53  # ints beyond this are not compared as floats here (suspect)


# ------------------------------------------------------------------------------------------
# Per-operator vehicle map
# ------------------------------------------------------------------------------------------

_vehicle_maps: dict[int, tuple[float, dict[str, str]]] = {}
_vehicle_lock = threading.Lock()


def cache_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "GOVCENTER_BIKESHARE_INGEST_VEHICLE_CACHE_SECONDS", CACHE_SECONDS_DEFAULT))


def operator_vehicles(operator: Unit) -> dict[str, str]:
    """``{device_id (str): vehicle_id}`` of the operator's registered vehicles (cached, see module doc)."""
    now = time.monotonic()
    entry = _vehicle_maps.get(operator.pk)
    if entry is not None and now - entry[0] < cache_seconds():
        return entry[1]
    with _vehicle_lock:
        loaded = {
            str(device_id): vehicle_id
            for device_id, vehicle_id in Vehicle.objects.filter(operator_id=operator.pk).values_list(
                "device_id", "vehicle_id"
            )
        }
        _vehicle_maps[operator.pk] = (now, loaded)
    return loaded


def forget_vehicles(operator_id: int | None = None) -> None:
    """Drop the cached map of one operator (or of all)."""
    if operator_id is None:
        _vehicle_maps.clear()
    else:
        _vehicle_maps.pop(operator_id, None)


def _vehicle_changed(sender, instance, **kwargs) -> None:
    forget_vehicles(instance.operator_id)


post_save.connect(_vehicle_changed, sender=Vehicle, dispatch_uid="bikeshare.ingest_fast.vehicle_saved")
post_delete.connect(_vehicle_changed, sender=Vehicle, dispatch_uid="bikeshare.ingest_fast.vehicle_deleted")


# ------------------------------------------------------------------------------------------
# Column checks (True = provably fine for the schema)
# ------------------------------------------------------------------------------------------


def _uuid_ok(values: list, *, allow_missing: bool = False, allow_null: bool = False) -> np.ndarray:
    """Per value: a string matching the schema's UUID pattern (or missing/None where allowed)."""
    strings = pa.array([v if type(v) is str else None for v in values], type=pa.string())
    ok = pc.fill_null(pc.match_substring_regex(strings, UUID_PATTERN), False).to_numpy(zero_copy_only=False)
    if allow_missing or allow_null:
        ok = ok | np.fromiter(
            ((allow_missing and v is _MISSING) or (allow_null and v is None) for v in values),
            bool,
            len(values),
        )
    return ok


def _number(v) -> float:
    """A JSON number as float; NaN for anything else (bool, huge int, string…) — NaN is suspect."""
    t = type(v)
    if t is float:
        return v
    if t is int and -_EXACT_FLOAT_INT < v < _EXACT_FLOAT_INT:
        return float(v)
    return math.nan


def _numbers(values: list, *, optional: bool) -> tuple[np.ndarray, np.ndarray]:
    """(floats, ok): ok where the value is a finite number (or missing, when optional)."""
    x = np.fromiter((0.0 if (optional and v is _MISSING) else _number(v) for v in values), float, len(values))
    return x, np.isfinite(x)


def _ints_ok(values: list, lo: int, hi: int | None) -> np.ndarray:
    """Optional integer members: missing, or an int (not bool, not float) in [lo, hi]."""
    return np.fromiter(
        (v is _MISSING or (type(v) is int and v >= lo and (hi is None or v <= hi)) for v in values),
        bool,
        len(values),
    )


def _structure(records: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ok, timestamp ms, lng, lat) per record; ok False = the schema might object."""
    n = len(records)
    recs = [r if type(r) is dict else {} for r in records]
    ok = np.fromiter((type(r) is dict for r in records), bool, n)
    ok &= np.fromiter((REQUIRED <= r.keys() <= TOP_KEYS for r in recs), bool, n)

    def col(rows, name):
        return [r.get(name, _MISSING) for r in rows]

    # Optional members no record of the batch carries need no pass over the batch.
    present = set().union(*(r.keys() for r in recs))

    for name in ("device_id", "provider_id", "telemetry_id"):
        ok &= _uuid_ok(col(recs, name))
    for name in present.intersection(("data_provider_id", "stop_id")):
        ok &= _uuid_ok(col(recs, name), allow_missing=True)
    ok &= _uuid_ok(col(recs, "journey_id"), allow_null=True)

    ts_values = col(recs, "timestamp")
    ts = np.fromiter((v if type(v) is int and 0 <= v < 2**62 else -1 for v in ts_values), np.int64, n)
    ok &= ts >= TIMESTAMP_MIN

    # trip_ids: null, or a non-empty list of unique UUID strings (items checked flat).
    trips = col(recs, "trip_ids")
    shape_ok = np.fromiter(
        (v is None or (type(v) is list and len(v) >= 1 and all(type(x) is str for x in v) and len(set(v)) == len(v))
         for v in trips), bool, n,
    )  # fmt: skip
    ok &= shape_ok
    lists = [v if type(v) is list and ok_ else [] for v, ok_ in zip(trips, shape_ok, strict=True)]
    flat = [x for v in lists for x in v]
    if flat:
        bad_items = ~_uuid_ok(flat)
        owner = np.repeat(np.arange(n), [len(v) for v in lists])
        ok &= np.bincount(owner[bad_items], minlength=n) == 0

    # location: an object of known members; lat/lng finite and in range; others finite / int.
    locs = col(recs, "location")
    ok &= np.fromiter(
        (type(v) is dict and {"lat", "lng"} <= v.keys() <= LOCATION_KEYS for v in locs), bool, n
    )
    locs = [v if type(v) is dict else {} for v in locs]
    present_loc = set().union(*(v.keys() for v in locs))
    lng, lng_ok = _numbers(col(locs, "lng"), optional=False)
    lat, lat_ok = _numbers(col(locs, "lat"), optional=False)
    with np.errstate(invalid="ignore"):
        ok &= lng_ok & lat_ok & (np.abs(lng) <= 180) & (np.abs(lat) <= 90)
    for name in present_loc.intersection(LOCATION_NUMBERS):
        ok &= _numbers(col(locs, name), optional=True)[1]
    if "satellites" in present_loc:
        ok &= _ints_ok(col(locs, "satellites"), 0, None)

    for name in present.intersection(("battery_percent", "fuel_percent")):
        ok &= _ints_ok(col(recs, name), 0, 100)
    if "location_type" in present:
        ok &= np.fromiter(
            (v is _MISSING or (type(v) is str and v in LOCATION_TYPES) for v in col(recs, "location_type")),
            bool,
            n,
        )
    if "tipped_over" in present:
        ok &= np.fromiter((v is _MISSING or type(v) is bool for v in col(recs, "tipped_over")), bool, n)
    return ok, ts, lng, lat


# ------------------------------------------------------------------------------------------
# The batch
# ------------------------------------------------------------------------------------------


def _duplicates(
    records: list, valid: np.ndarray, ts: np.ndarray, clean: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(dup, first): dup[i] when a schema-valid record before i has the same (device_id, timestamp);
    first[i] the index of that earliest record (-1 otherwise). Only schema-valid records count,
    as in the slow path (a record failing later checks still takes its key)."""
    import pandas as pd

    n = len(records)
    idx = np.flatnonzero(valid)
    dup, first = np.zeros(n, bool), np.full(n, -1, np.int64)
    if not len(idx):
        return dup, first
    devices, stamps = [], []
    for i in idx:
        key = (records[i]["device_id"], int(ts[i])) if clean[i] else slow._key(KIND, records[i])
        devices.append(key[0])
        stamps.append(key[1])
    frame = pd.DataFrame({"d": devices, "t": pd.Series(stamps, dtype=object)})
    # sort=False numbers the keys 0, 1, … in order of first appearance; return_index is stable.
    groups = frame.groupby(["d", "t"], sort=False).ngroup().to_numpy()
    _, first_pos = np.unique(groups, return_index=True)
    earliest = idx[first_pos[groups]]
    dup[idx] = earliest != idx
    first[idx[dup[idx]]] = earliest[dup[idx]]
    return dup, first


def classify_telemetry(operator: Unit, records: list, now_ms: int) -> slow.IngestResult:
    """Same as ``ingest._classify(operator, "telemetry", records, now_ms)``, faster (module doc)."""
    n = len(records)
    result = slow.IngestResult(kind=KIND, total=n)
    profile = slow.operator_profile(operator)
    datum = Datum.parse(profile.datum).value
    provider_id = str(profile.provider_id) if profile.provider_id else None
    skew_ms = int(slow.setting("GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS")) * 1000
    max_age_ms = int(slow.setting("GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS")) * 1000

    clean, ts, lng, lat = _structure(records)
    # Schema validity of the suspects decides which records take a key (duplicates).
    valid = clean.copy()
    for i in np.flatnonzero(~clean):
        try:
            slow._check_schema(KIND, records[i])
            valid[i] = True
        except slow.RecordError:
            pass
    dup, first = _duplicates(records, valid, ts, clean)
    clean &= ~dup

    idx = np.flatnonzero(clean)
    if provider_id:
        clean[idx] &= np.fromiter((records[i]["provider_id"] == provider_id for i in idx), bool, len(idx))
    vehicles = operator_vehicles(operator)
    vehicle_of = [vehicles.get(records[i]["device_id"]) if clean[i] else None for i in range(n)]
    clean &= np.fromiter((v is not None for v in vehicle_of), bool, n)
    clean &= (ts <= now_ms + skew_ms) & (ts >= now_ms - max_age_ms)
    glon = glat = np.zeros(n)
    idx = np.flatnonzero(clean)
    if len(idx):
        g_lon, g_lat = to_gcj02(lng[idx], lat[idx], datum)
        g_lon, g_lat = np.atleast_1d(g_lon), np.atleast_1d(g_lat)
        inside = lookup(g_lon, g_lat, datum=Datum.GCJ02) != ""
        glon, glat = np.zeros(n), np.zeros(n)
        glon[idx], glat[idx] = g_lon, g_lat
        clean[idx] &= inside

    # The flagged records (and the first record of each flagged duplicate) through the slow path.
    flagged = np.flatnonzero(~clean)
    outcome: dict[int, tuple[str, dict]] = {}
    if len(flagged):
        sub = np.union1d(flagged, first[flagged][first[flagged] >= 0])
        seen_ids: set[int] = set()
        sub_records = []
        for i in sub:
            record = records[i]
            if type(record) is dict and id(record) in seen_ids:
                record = dict(record)  # one object listed twice: keep outcomes apart (identity below)
            seen_ids.add(id(record))
            sub_records.append(record)
        checked = slow._classify(operator, KIND, sub_records, now_ms)
        for row in checked.rows:  # registered since the map was loaded: known from now on
            vehicles[row["device_id"]] = row["vehicle_id"]
        failures, rows = iter(checked.failures), iter(checked.rows)
        next_failure = next(failures, None)
        for i, record in zip(sub, sub_records, strict=True):
            if next_failure is not None and next_failure["item"] is record:
                outcome[int(i)] = ("failure", next_failure)
                next_failure = next(failures, None)
            else:
                outcome[int(i)] = ("row", next(rows))

    for i in range(n):
        if clean[i]:
            point = (round(float(glon[i]), 7), round(float(glat[i]), 7))
            result.rows.append(slow._row(KIND, records[i], operator.code, vehicle_of[i], [point], datum))
            continue
        what, value = outcome[i]
        (result.failures if what == "failure" else result.rows).append(value)
    return result
