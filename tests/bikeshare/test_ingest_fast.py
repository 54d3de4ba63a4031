"""The column-wise telemetry classification (services/ingest_fast.py) against the slow path.

The main test is an equivalence property: hypothesis mixes valid and broken telemetry records
(schema breaks of every kind, unknown/foreign bikes, skewed timestamps, points outside
Beijing, duplicate keys, provider mismatches) and the fast and the slow classification must
give the same failures (code, description, details, item) and the same lake rows, in order.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govcenter.bikeshare.models import Vehicle
from govcenter.bikeshare.services import ingest as slow
from govcenter.bikeshare.services import ingest_fast
from govcenter.bikeshare.services.ingest import operator_profile_set
from govcenter.bikeshare.services.registry import vehicles_register

from .conftest import PROVIDER_A, PROVIDER_B, vehicle

pytestmark = pytest.mark.django_db

BEIJING_WGS = (116.3912, 39.9075)
NOW_MS = int(time.time() * 1000)


@pytest.fixture
def fleet(org):
    """Three bikes of operator A, one of operator B (device ids); the vehicle cache empty."""
    ingest_fast.forget_vehicles()
    a = [vehicle(f"MT-{i}") for i in range(3)]
    b = [vehicle("HL-1", provider=PROVIDER_B)]
    assert vehicles_register(operator=org.op_a, records=a).success == 3
    assert vehicles_register(operator=org.op_b, records=b).success == 1
    return [r["device_id"] for r in a], b[0]["device_id"]


def record(device_id, ts, where=BEIJING_WGS, **extra) -> dict:
    return {
        "device_id": device_id,
        "provider_id": PROVIDER_A,
        "telemetry_id": str(uuid.uuid4()),
        "timestamp": ts,
        "trip_ids": None,
        "journey_id": None,
        "location": {"lng": where[0], "lat": where[1]},
        "battery_percent": 80,
        **extra,
    }


# Mutations that break (or only look suspicious to) the column checks; some stay schema-valid.
def _drop(name):
    return lambda r: {k: v for k, v in r.items() if k != name}


def _set(name, value):
    return lambda r: {**r, name: value}


def _loc(name, value):
    return lambda r: (
        {**r, "location": {**r["location"], name: value}} if isinstance(r.get("location"), dict) else r
    )


MUTATIONS = [
    _drop("device_id"), _drop("timestamp"), _drop("location"), _drop("trip_ids"), _drop("journey_id"),
    _drop("telemetry_id"), _drop("battery_percent"),
    _set("timestamp", float(NOW_MS - 60_000)), _set("timestamp", NOW_MS - 60_000.5), _set("timestamp", "1700000000000"),
    _set("timestamp", True), _set("timestamp", 1000), _set("timestamp", 10**30),
    _set("device_id", "ABCDEF00-0000-4000-8000-000000000000"), _set("device_id", 42),
    _set("telemetry_id", "3c9604d6-b5ee-11e8-96f8-529269fb1459\n"), _set("provider_id", PROVIDER_B),
    _set("trip_ids", []), _set("trip_ids", ["3c9604d6-b5ee-11e8-96f8-529269fb1459"] * 2),
    _set("trip_ids", ["3c9604d6-b5ee-11e8-96f8-529269fb1459"]), _set("trip_ids", ["nope"]), _set("trip_ids", "x"),
    _set("journey_id", "3c9604d6-b5ee-11e8-96f8-529269fb1459"), _set("journey_id", 7),
    _set("battery_percent", 101), _set("battery_percent", 50.0), _set("battery_percent", True),
    _set("battery_percent", None), _set("fuel_percent", -1), _set("tipped_over", 1), _set("tipped_over", False),
    _set("location_type", "street"), _set("location_type", "roof"), _set("stop_id", None),
    _set("x_extra", "with\x00nul"), _set("x_extra", 1), _set("data_provider_id", PROVIDER_B),
    _set("location", [116.39, 39.9]), _set("location", {"lng": 116.39}),
    _loc("lat", 91), _loc("lng", "116.39"), _loc("lng", float("nan")), _loc("lat", float("inf")),
    _loc("lng", 116), _loc("satellites", -1), _loc("satellites", 7), _loc("satellites", 7.0),
    _loc("speed", 3.5), _loc("speed", True), _loc("heading", 10**400), _loc("extra", "x"),
    _loc("lng", 121.4737), _loc("lat", 31.2304),  # Shanghai (with the other coordinate: nowhere)
    lambda r: 5, lambda r: None, lambda r: [r],
    # Columns the fast structure check converts whole when all values have the usual type.
    _set("trip_ids", ["3c9604d6-b5ee-11e8-96f8-529269fb1459", "4c9604d6-b5ee-11e8-96f8-529269fb1459"]),
    _set("trip_ids", ["3c9604d6-b5ee-11e8-96f8-529269fb1459", 5]),
    _set("trip_ids", ["3c9604d6-b5ee-11e8-96f8-529269fb1459", "3C9604D6-B5EE-11E8-96F8-529269FB1459"]),
    _set("trip_ids", [None]), _set("battery_percent", 10**30), _set("timestamp", 2**62 + 5),
    _set("timestamp", -(2**70)), _loc("lng", 10**400),
]  # fmt: skip

# Weighted towards valid values, so that a mutation often lands on an otherwise clean record.
TIMES = [NOW_MS - 60_000, NOW_MS - 120_000] * 3 + [NOW_MS + 3_600_000, NOW_MS - 30 * 86_400_000]
PLACES = [BEIJING_WGS] * 4 + [(121.4737, 31.2304), (116.40, 40.60), (115.5, 39.5)]


@st.composite
def batches(draw, devices):
    size = draw(st.integers(min_value=1, max_value=25))
    out = []
    for _ in range(size):
        base = record(
            draw(st.sampled_from(devices)),
            draw(st.sampled_from(TIMES)),  # few values: duplicate keys are frequent
            draw(st.sampled_from(PLACES)),
        )
        for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2)):
            base = mutate(base) if isinstance(base, dict) else base
        out.append(base)
    if out and draw(st.booleans()):
        out.append(out[draw(st.integers(0, len(out) - 1))])  # the very same object twice
    return out


def same(fast, slow_result) -> None:
    def dump(value):
        return json.dumps(value, ensure_ascii=False, default=repr)

    assert fast.total == slow_result.total
    assert dump(fast.failures) == dump(slow_result.failures)
    assert dump(fast.rows) == dump(slow_result.rows)


@pytest.mark.parametrize("profile", ["default", "gcj02_with_provider"])
def test_fast_and_slow_agree_on_mixed_batches(org, fleet, profile):
    mine, theirs = fleet
    if profile != "default":
        operator_profile_set(actor=None, operator=org.op_a, datum="GCJ-02", provider_id=PROVIDER_A)
    devices = [*mine, *mine, theirs, str(uuid.uuid4())]
    checked = {"failures": 0, "rows": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(batches(devices))
    def check(records):
        fast = ingest_fast.classify_telemetry(org.op_a, records, NOW_MS)
        same(fast, slow._classify(org.op_a, "telemetry", records, NOW_MS))
        checked["failures"] += len(fast.failures)
        checked["rows"] += len(fast.rows)

    check()
    # The property saw both outcomes (else it proved little).
    assert checked["failures"] > 0 and checked["rows"] > 0


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_each_mutation_of_a_clean_record(org, fleet, mutation):
    """Every mutation, alone, on one record in the middle of a clean batch: same answers."""
    mine, _ = fleet
    records = [record(mine[i % 3], NOW_MS - 1000 * (i + 1)) for i in range(5)]
    records[2] = MUTATIONS[mutation](records[2])
    same(
        ingest_fast.classify_telemetry(org.op_a, records, NOW_MS),
        slow._classify(org.op_a, "telemetry", records, NOW_MS),
    )


def test_clean_batch_never_reaches_the_slow_path(org, fleet, monkeypatch):
    mine, _ = fleet
    records = [record(mine[i % 3], NOW_MS - 1000 * i) for i in range(300)]
    calls = []
    real = slow._classify
    monkeypatch.setattr(slow, "_classify", lambda *a, **k: calls.append(a) or real(*a, **k))
    result = ingest_fast.classify_telemetry(org.op_a, records, NOW_MS)
    assert (result.success, calls) == (300, [])
    assert [row["timestamp"] for row in result.rows] == [r["timestamp"] for r in records]
    assert {row["vehicle_id"] for row in result.rows} == {"MT-0", "MT-1", "MT-2"}


def test_only_flagged_records_and_their_originals_go_the_slow_way(org, fleet, monkeypatch):
    mine, theirs = fleet
    records = [record(mine[0], NOW_MS - 1000 * i) for i in range(50)]
    records[10] = record(theirs, NOW_MS - 5)  # other operator
    records[20] = {**records[3], "telemetry_id": str(uuid.uuid4())}  # duplicate key of record 3
    sizes = []
    real = slow._classify
    monkeypatch.setattr(
        slow, "_classify", lambda op, kind, recs, now: sizes.append(len(recs)) or real(op, kind, recs, now)
    )
    result = ingest_fast.classify_telemetry(org.op_a, records, NOW_MS)
    assert sizes == [3]  # records 3 (the original), 10 and 20
    assert [f["error"] for f in result.failures] == ["other_operator_vehicle", "duplicate_in_batch"]
    assert result.success == 48


def test_vehicle_registered_after_the_map_was_loaded(org, fleet, monkeypatch):
    mine, _ = fleet
    assert (
        ingest_fast.classify_telemetry(org.op_a, [record(mine[0], NOW_MS - 5)], NOW_MS).success == 1
    )  # map loaded
    new = vehicle("MT-NEW")
    assert vehicles_register(operator=org.op_a, records=[new]).success == 1  # bulk insert: no signal
    saved = Vehicle(operator=org.op_a, device_id=uuid.uuid4(), provider_id=PROVIDER_A, vehicle_id="MT-SAVED",
                    vehicle_type="bicycle", propulsion_types=["human"], registered_at=timezone.now())  # fmt: skip
    sizes = []
    real = slow._classify
    monkeypatch.setattr(
        slow, "_classify", lambda op, kind, recs, now: sizes.append(len(recs)) or real(op, kind, recs, now)
    )
    # The slow path asks the database for the unknown device and the answer is right …
    batch = [record(new["device_id"], NOW_MS - 5)]
    assert [r["vehicle_id"] for r in ingest_fast.classify_telemetry(org.op_a, batch, NOW_MS).rows] == [
        "MT-NEW"
    ]
    assert sizes == [1] and ingest_fast.operator_vehicles(org.op_a)[new["device_id"]] == "MT-NEW"
    # … after which the device is in the map: the next batch stays on the fast path.
    assert (
        ingest_fast.classify_telemetry(org.op_a, [record(new["device_id"], NOW_MS - 6)], NOW_MS).success == 1
    )
    assert sizes == [1]
    saved.save()  # a saved Vehicle (signal) drops the operator's map
    assert ingest_fast._vehicle_maps.get(org.op_a.pk) is None
    assert str(saved.device_id) in ingest_fast.operator_vehicles(org.op_a)


def test_cache_expires(org, fleet, settings):
    mine, _ = fleet
    settings.GOVCENTER_BIKESHARE_INGEST_VEHICLE_CACHE_SECONDS = 0
    first = ingest_fast.operator_vehicles(org.op_a)
    assert ingest_fast.operator_vehicles(org.op_a) is not first and set(first) == set(mine)


def test_round7_is_pythons_round_bit_for_bit():
    """The lake row's coordinates are ``round(v, 7)``; the vectorised one must agree on every
    value, near-halves included (where ``rint(v * 1e7)`` alone could land on the other side)."""
    import numpy as np

    rng = np.random.default_rng(7)
    x = np.concatenate([
        rng.uniform(-180, 180, 200_000), rng.uniform(115.4, 117.6, 200_000), rng.uniform(39.4, 41.1, 200_000),
        (np.arange(-2000, 2000) + 0.5) / 1e7 + 116.0,  # decimal halves (not exact in binary)
        np.nextafter((np.arange(1000) + 0.5) / 1e7 + 39.9, np.inf), [0.0, -0.0, -1e-9, 1e-9, 180.0, -180.0],
    ])  # fmt: skip
    got = ingest_fast._round7(x)
    expected = [round(v, 7) for v in x.tolist()]
    assert np.array_equal(np.array(got).view(np.int64), np.array(expected).view(np.int64))
