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
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db.models.signals import post_delete, post_save

from govcenter.core import fastjson
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
LOCATION_REQUIRED = frozenset({"lat", "lng"})
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


def _uuid_ok(values, *, allow_missing: bool = False, allow_null: bool = False) -> np.ndarray:
    """Per value: a string matching the schema's UUID pattern (or missing/None where allowed)."""
    types = set(map(type, values))
    if allow_null and types == {type(None)}:  # journey_id as operators send it: always null
        return np.ones(len(values), bool)
    if types == {str}:  # the usual column: no per-value Python work
        strings = pa.array(values, type=pa.string())
    else:
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


def _numbers(values, *, optional: bool) -> tuple[np.ndarray, np.ndarray]:
    """(floats, ok): ok where the value is a finite number (or missing, when optional)."""
    if set(map(type, values)) == {float}:  # the usual column: converted in C
        x = np.array(values, dtype=np.float64)
    else:
        x = np.fromiter(
            (0.0 if (optional and v is _MISSING) else _number(v) for v in values), float, len(values)
        )
    return x, np.isfinite(x)


def _ints_ok(values, lo: int, hi: int | None) -> np.ndarray:
    """Optional integer members: missing, or an int (not bool, not float) in [lo, hi]."""
    if set(map(type, values)) == {int}:  # all present, all ints (bool is another type)
        try:
            x = np.array(values, dtype=np.int64)
        except OverflowError:
            pass
        else:
            return (x >= lo) & (x <= hi) if hi is not None else x >= lo
    return np.fromiter(
        (v is _MISSING or (type(v) is int and v >= lo and (hi is None or v <= hi)) for v in values),
        bool,
        len(values),
    )


# Stands in for a record (or location) that lacks a required member: its checks fail anyway
# (``ok`` is already False), it only lets the columns be cut with one itemgetter.
_REQUIRED_ORDER = (
    "device_id",
    "provider_id",
    "telemetry_id",
    "timestamp",
    "trip_ids",
    "journey_id",
    "location",
)
_STAND_IN = dict.fromkeys(_REQUIRED_ORDER)
_STAND_IN_LOCATION = {"lng": None, "lat": None}
_required = itemgetter(*_REQUIRED_ORDER)
_lng_lat = itemgetter("lng", "lat")


def _timestamps(values) -> np.ndarray:
    """Per value: the int in [0, 2**62), else -1 (bool, float, huge, missing: suspect)."""
    if set(map(type, values)) == {int}:
        try:
            x = np.array(values, dtype=np.int64)
        except OverflowError:
            pass
        else:
            return np.where((x >= 0) & (x < 2**62), x, -1)
    return np.fromiter(
        (v if type(v) is int and 0 <= v < 2**62 else -1 for v in values), np.int64, len(values)
    )


def _trip_ids_ok(trips, n: int) -> np.ndarray:
    """trip_ids per record: null, or a non-empty list of unique UUID strings (items checked flat)."""
    types = set(map(type, trips))
    if types <= {list, type(None)}:
        lists = [v if type(v) is list else () for v in trips] if type(None) in types else trips
        lengths = np.fromiter(map(len, lists), np.int64, n)
        flat = [x for v in lists for x in v]
        if set(map(type, flat)) <= {str}:
            is_list = np.fromiter((type(v) is list for v in trips), bool, n) if type(None) in types else None
            shape_ok = lengths >= 1 if is_list is None else (~is_list | (lengths >= 1))
            long = np.flatnonzero(lengths > 1)
            for i in long.tolist():
                if len(set(lists[i])) != len(lists[i]):
                    shape_ok[i] = False
            ok = shape_ok
            if flat:
                bad_items = ~_uuid_ok(flat)
                owner = np.repeat(np.arange(n), lengths)
                ok = ok & (np.bincount(owner[bad_items], minlength=n) == 0)
            return ok
    shape_ok = np.fromiter(
        (v is None or (type(v) is list and len(v) >= 1 and all(type(x) is str for x in v) and len(set(v)) == len(v))
         for v in trips), bool, n,
    )  # fmt: skip
    ok = shape_ok.copy()
    lists = [v if type(v) is list and ok_ else [] for v, ok_ in zip(trips, shape_ok, strict=True)]
    flat = [x for v in lists for x in v]
    if flat:
        bad_items = ~_uuid_ok(flat)
        owner = np.repeat(np.arange(n), [len(v) for v in lists])
        ok &= np.bincount(owner[bad_items], minlength=n) == 0
    return ok


def _shaped(values, required: frozenset, allowed: frozenset) -> tuple[list[bool], list[frozenset]]:
    """Per value: a dict with every ``required`` key and no key outside ``allowed``; and the
    distinct key sets of the values that are. A batch's objects come in a handful of key
    layouts, so each layout is checked once (``tuple(d)`` is its keys in order, made in C)."""
    if set(map(type, values)) == {dict}:
        layouts = list(map(tuple, values))
        verdict = {layout: required <= set(layout) <= allowed for layout in set(layouts)}
        good = [frozenset(layout) for layout, fine in verdict.items() if fine]
        if all(verdict.values()):
            return [True] * len(layouts), good
        return [verdict[layout] for layout in layouts], good
    shaped = [type(v) is dict and required <= v.keys() <= allowed for v in values]
    good = {frozenset(v) for v, fine in zip(values, shaped, strict=True) if fine}
    return shaped, list(good)


def _structure(records: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ok, timestamp ms, lng, lat) per record; ok False = the schema might object.

    The required members are cut into columns with one ``itemgetter`` pass (C), and a column
    whose values are all of the usual type is converted without per-value Python; any other
    column takes the per-value path."""
    n = len(records)
    shaped, key_sets = _shaped(records, REQUIRED, TOP_KEYS)
    ok = np.array(shaped, dtype=bool) if n else np.zeros(0, bool)
    recs = (
        records
        if all(shaped)
        else [r if good else _STAND_IN for r, good in zip(records, shaped, strict=True)]
    )
    device, provider, telemetry, ts_values, trips, journey, locs = (
        zip(*map(_required, recs), strict=True) if n else ((),) * 7
    )

    def col(rows, name):
        return [r.get(name, _MISSING) for r in rows]

    # Optional members no record of the batch carries need no pass over the batch (the key sets
    # of the records that passed the shape check: their other members are not looked at).
    present = set().union(*key_sets) - REQUIRED

    for values in (device, provider, telemetry):
        ok &= _uuid_ok(values)
    for name in present.intersection(("data_provider_id", "stop_id")):
        ok &= _uuid_ok(col(recs, name), allow_missing=True)
    ok &= _uuid_ok(journey, allow_null=True)

    ts = _timestamps(ts_values)
    ok &= ts >= TIMESTAMP_MIN

    ok &= _trip_ids_ok(trips, n)

    # location: an object of known members; lat/lng finite and in range; others finite / int.
    loc_shaped, loc_key_sets = _shaped(locs, LOCATION_REQUIRED, LOCATION_KEYS)
    ok &= np.array(loc_shaped, dtype=bool) if n else np.zeros(0, bool)
    if not all(loc_shaped):
        locs = [v if good else _STAND_IN_LOCATION for v, good in zip(locs, loc_shaped, strict=True)]
    lng_values, lat_values = zip(*map(_lng_lat, locs), strict=True) if n else ((), ())
    present_loc = set().union(*loc_key_sets)
    lng, lng_ok = _numbers(lng_values, optional=False)
    lat, lat_ok = _numbers(lat_values, optional=False)
    with np.errstate(invalid="ignore"):
        ok &= lng_ok & lat_ok & (np.abs(lng) <= 180) & (np.abs(lat) <= 90)
    for name in present_loc.intersection(LOCATION_NUMBERS):
        ok &= _numbers(col(locs, name), optional=True)[1]
    if "satellites" in present_loc:
        ok &= _ints_ok(col(locs, "satellites"), 0, None)

    for name in present.intersection(("battery_percent", "fuel_percent")):
        if recs is records and all(name in keys for keys in key_sets):  # in every record: one C pass
            ok &= _ints_ok(list(map(itemgetter(name), recs)), 0, 100)
        else:
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
    as in the slow path (a record failing later checks still takes its key). Keys compare as
    the slow path's ``seen`` set compares them: a dict."""
    n = len(records)
    idx = np.flatnonzero(valid)
    dup, first = np.zeros(n, bool), np.full(n, -1, np.int64)
    if not len(idx):
        return dup, first
    idx_list = idx.tolist()
    ts_list, clean_list = ts.tolist(), clean.tolist()
    keys = [
        (records[i]["device_id"], ts_list[i]) if clean_list[i] else slow._key(KIND, records[i])
        for i in idx_list
    ]
    # Filled from the back, each key ends up mapped to its earliest record.
    earliest_of = dict(zip(reversed(keys), reversed(idx_list), strict=True))
    earliest = np.fromiter(map(earliest_of.__getitem__, keys), np.int64, len(keys))
    dup[idx] = earliest != idx
    first[idx[dup[idx]]] = earliest[dup[idx]]
    return dup, first


def _round7(x: np.ndarray) -> list[float]:
    """``[round(v, 7) for v in x]``, exactly, vectorised.

    Python's ``round`` gives the double nearest to the decimal ``k / 10**7`` with ``k`` the
    correctly rounded ``v * 10**7``; ``k / 1e7`` in IEEE arithmetic is that double (both exact,
    the division correctly rounded). ``rint(v * 1e7)`` is that ``k`` unless the product lies
    within its own rounding error (< 1e-6 for |v| ≤ 180) of a half: those few take ``round``."""
    p = x * 1e7
    k = np.rint(p)
    with np.errstate(invalid="ignore"):
        near_half = ~(np.abs(np.abs(p - np.floor(p)) - 0.5) > 1e-3) | ~(np.abs(p) < 2**50)
    out = (k / 1e7).tolist()
    for i in np.flatnonzero(near_half).tolist():
        out[i] = round(float(x[i]), 7)
    return out


def classify_telemetry(operator: Unit, records: list, now_ms: int) -> slow.IngestResult:
    """Same as ``ingest._classify(operator, "telemetry", records, now_ms)``, faster (module doc).

    The cyclic GC is held meanwhile (``fastjson.gc_paused``): the column passes make a burst of
    acyclic containers, and its repeated passes over a heap holding the whole batch cost more
    than the checks."""
    with fastjson.gc_paused():
        return _classify_telemetry(operator, records, now_ms)


def _classify_telemetry(operator: Unit, records: list, now_ms: int) -> slow.IngestResult:
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
        clean[idx] &= np.fromiter(
            (records[i]["provider_id"] == provider_id for i in idx.tolist()), bool, len(idx)
        )
    vehicles = operator_vehicles(operator)
    vehicle_of = [
        vehicles.get(r["device_id"]) if c else None for r, c in zip(records, clean.tolist(), strict=True)
    ]
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

    result.failures = [outcome[i][1] for i in flagged.tolist() if outcome[i][0] == "failure"]
    slow_rows = [(i, outcome[i][1]) for i in flagged.tolist() if outcome[i][0] == "row"]
    result.table = _accepted_table(
        records, clean, vehicle_of, ts, glon, glat, operator.code, datum, slow_rows
    )
    return result


def _accepted_table(
    records: list,
    clean: np.ndarray,
    vehicle_of: list,
    ts: np.ndarray,
    glon: np.ndarray,
    glat: np.ndarray,
    operator_code: str,
    datum: str,
    slow_rows: list[tuple[int, dict]],
) -> pa.Table:
    """The accepted rows as one table in record order (``ingest.stream_schema``): the clean
    records built column-wise — values exactly as ``ingest._row`` makes them (Python's
    ``round(x, 7)``, see :func:`_round7`, not numpy's, which may differ in the last bit) — merged with the rows the
    slow path accepted."""
    schema = slow.stream_schema(KIND)
    idx = np.flatnonzero(clean)
    idx_list = idx.tolist()
    clean_records = list(map(records.__getitem__, idx_list))
    battery = [r.get("battery_percent") for r in clean_records]
    if set(map(type, battery)) == {int}:  # clean: ints in 0..100, or missing (None below)
        battery_column = pa.array(np.array(battery, dtype=np.float64), pa.float64())
    else:
        battery_column = pa.array([None if b is None else float(b) for b in battery], pa.float64())
    trips = [r.get("trip_ids") for r in clean_records]
    m = len(idx)
    columns = [
        pa.array([operator_code] * m, pa.string()),
        pa.array(list(map(itemgetter("device_id"), clean_records)), pa.string()),
        pa.array(list(map(vehicle_of.__getitem__, idx_list)), pa.string()),
        pa.array(ts[idx], pa.int64()),  # a clean record's timestamp is an int: ts holds it
        pa.array(_round7(glon[idx]), pa.float64()),
        pa.array(_round7(glat[idx]), pa.float64()),
        pa.array([datum] * m, pa.string()),
        battery_column,
        pa.array([t[0] if t else None for t in trips], pa.string()),
    ]
    table = pa.Table.from_arrays(columns, schema=schema)
    if not slow_rows:
        return table
    extra = pa.Table.from_pylist([row for _, row in slow_rows], schema=schema)
    # Record order: clean positions and slow-row positions, merged by a stable sort.
    positions = np.concatenate([idx, np.asarray([i for i, _ in slow_rows], np.int64)])
    order = np.argsort(positions, kind="stable")
    return pa.concat_tables([table, extra]).take(pa.array(order))
