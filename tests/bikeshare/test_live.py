"""The live picture (``bikeshare.live``) on both adapters: newest wins (late and duplicate
reports, equal timestamps), counts equal a from-scratch recount of a synthetic day, bikes
parked outside fences, stale bikes, nearby bikes against brute force, concurrent updaters,
bad batches and bad URLs."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import numpy as np
import pytest

from govcenter.bikeshare.geo import FenceIndex, rail_station_fences
from govcenter.bikeshare.live import (
    PARKED_STATES,
    VEHICLE_STATES,
    LiveBatchError,
    RedisLiveState,
    SqliteLiveState,
    distance_m,
    open_live_state,
)
from govcenter.bikeshare.synth import distance_m as flat_distance_m
from govcenter.bikeshare.synth import generate_day
from govcenter.core.districts import DistrictIndex

DAY = dt.date(2026, 11, 2)
COLS = ("operator", "device_id", "vehicle_id", "timestamp_ms", "lon", "lat", "vehicle_state")


@pytest.fixture(scope="module")
def index():
    return DistrictIndex.from_files()


@pytest.fixture(scope="module")
def fences(index):
    return rail_station_fences(index=index)


@pytest.fixture(scope="module")
def fence_index(fences):
    return FenceIndex(fences)


@pytest.fixture(scope="module")
def reports(index, fences):
    """Every telemetry point of a synthetic day as live reports (one per (bike, millisecond))."""
    stations = [(f.centroid.lon, f.centroid.lat) for f in fences]
    day = generate_day(DAY, scale=0.002, stations=stations, index=index, seed=11)
    chunks = list(day.telemetry_chunks(trips_per_chunk=5_000))
    t = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    _, first = np.unique(np.stack([t["device_index"], t["timestamp_ms"]], axis=1), axis=0, return_index=True)
    t = {k: v[np.sort(first)] for k, v in t.items()}
    device, trip = t["device_index"], t["trip_index"]
    riding = trip >= 0
    riding[riding] = t["timestamp_ms"][riding] < day.trips["end_ms"][trip[riding]]
    state = np.where(riding, "on_trip", "available").astype(object)
    parked = ~riding
    state[parked & (device % 11 == 0)] = "non_operational"
    state[parked & (device % 97 == 0)] = "removed"
    ops = np.array(day.operators)[day.bikes["operator_index"][device]]
    serial = day.bikes["serial"][device]
    return {
        "operator": ops,
        "device_id": np.array([f"bk-{d:06d}" for d in device.tolist()]),
        "vehicle_id": np.array(
            [f"{o[:2].upper()}{s:07d}" for o, s in zip(ops, serial.tolist(), strict=True)]
        ),
        "timestamp_ms": t["timestamp_ms"],
        "lon": t["lon"],
        "lat": t["lat"],
        "vehicle_state": state.astype(str),
    }


@pytest.fixture(scope="module")
def final(reports, index, fence_index):
    """From scratch: each bike's newest report, its district and its fence."""
    order = np.lexsort((reports["timestamp_ms"], reports["device_id"]))
    dev = reports["device_id"][order]
    last = order[np.r_[dev[1:] != dev[:-1], True]]
    f = {k: v[last] for k, v in reports.items()}
    f["district"] = index.lookup_codes(f["lon"], f["lat"])
    f["fence"] = fence_index.lookup(f["lon"], f["lat"])
    return f


def _shuffled_batches(reports, *, size, seed):
    order = np.random.default_rng(seed).permutation(len(reports["device_id"]))
    for start in range(0, len(order), size):
        part = order[start : start + size]
        yield {k: reports[k][part] for k in COLS}


@pytest.fixture
def make_store(live_stores, index, fence_index):
    """A factory of empty stores of one adapter; ``make(same_as=s)`` opens another handle on s."""
    return lambda same_as=None: live_stores(fences=fence_index, districts=index, same_as=same_as)


@pytest.fixture
def loaded(make_store, reports):
    store = make_store()
    for batch in _shuffled_batches(reports, size=5_000, seed=3):
        store.update(batch)
    return store


def _one(
    device="bk-1", ts=1_000, state="available", lon=116.3975, lat=39.9087, operator="meituan", vid="MT1"
):
    return {
        "operator": [operator],
        "device_id": [device],
        "vehicle_id": [vid],
        "timestamp_ms": [ts],
        "lon": [lon],
        "lat": [lat],
        "vehicle_state": [state],
    }


def _merge(*batches):
    return {k: sum((list(b[k]) for b in batches), []) for k in COLS}


def test_states_mirror_the_model():
    from govcenter.bikeshare.models.registry import VehicleState

    assert set(VEHICLE_STATES) == set(VehicleState.values)


def test_newest_wins_and_a_late_old_report_is_ignored(make_store, index):
    store = make_store()
    assert store.update(_one(ts=2_000, state="on_trip", lon=116.40, lat=39.91)) == 1
    assert store.update(_one(ts=1_000, state="available", lon=116.30, lat=39.95)) == 0  # late, older
    bike = store.get("bk-1")
    assert (bike.timestamp_ms, bike.vehicle_state, bike.lon, bike.lat) == (2_000, "on_trip", 116.40, 39.91)
    assert bike.district == index.lookup_codes([116.40], [39.91])[0] == "110101"
    assert store.update(_one(ts=2_000, state="on_trip", lon=116.40, lat=39.91)) == 0  # redelivery
    # Old and new in one batch, in either order: the new one.
    old, new = _one(ts=1_500, state="reserved"), _one(ts=3_000, state="removed")
    for pair in ((old, new), (new, old)):
        s = make_store()
        s.update(_merge(*pair))
        assert s.get("bk-1").timestamp_ms == 3_000 and s.get("bk-1").vehicle_state == "removed"
    # A newer report under another operator moves the bike out of the first operator's indexes.
    assert store.update(_one(ts=4_000, operator="qingju", vid="QJ9")) == 1
    assert store.total() == 1 and store.total("meituan") == 0 and store.total("qingju") == 1
    assert store.within(116.3975, 39.9087, 50, operator="meituan") == []
    assert [n.bike.device_id for n in store.within(116.3975, 39.9087, 50, operator="qingju")] == ["bk-1"]
    assert store.count_by_district() == {"110101": 1}
    assert store.count_by_district("meituan") == {}
    assert store.get("nope") is None


def test_newest_ms_is_the_newest_report_over_every_operator(make_store):
    store = make_store()
    assert store.newest_ms() is None
    store.update(_merge(_one(device="a", ts=5_000), _one(device="b", ts=9_000, operator="qingju", vid="QJ1")))
    store.update(_one(device="a", ts=7_000))
    assert store.newest_ms() == 9_000


def test_equal_timestamps_resolve_the_same_in_any_order(make_store):
    a, b = _one(ts=5_000, state="available"), _one(ts=5_000, state="non_operational", lon=116.41)
    one, two, both = make_store(), make_store(), make_store()
    one.update(a), one.update(b)
    two.update(b), two.update(a)
    both.update(_merge(b, a))
    assert one.get("bk-1") == two.get("bk-1") == both.get("bk-1")


def test_counts_equal_a_recount_of_the_final_positions(loaded, final):
    dump = loaded.dump()
    assert len(dump) == loaded.total() == len(final["device_id"])
    for i in range(len(final["device_id"])):
        bike = dump[final["device_id"][i]]
        assert (bike.timestamp_ms, bike.lon, bike.lat, bike.vehicle_state, bike.operator) == (
            final["timestamp_ms"][i],
            final["lon"][i],
            final["lat"][i],
            final["vehicle_state"][i],
            final["operator"][i],
        )
        assert (bike.district, bike.fence) == (final["district"][i], final["fence"][i])

    in_fence = final["fence"] >= 0
    assert in_fence.sum() > 20 and (~in_fence).sum() > 20  # the data exercises both sides
    assert loaded.count_by_district() == dict(Counter(final["district"].tolist()))
    assert loaded.count_by_fence() == dict(Counter(final["fence"][in_fence].tolist()))
    for op in ("meituan", "qingju"):
        mine = final["operator"] == op
        assert loaded.total(op) == mine.sum()
        assert loaded.count_by_district(op) == dict(Counter(final["district"][mine].tolist()))
        assert loaded.count_by_fence(op) == dict(Counter(final["fence"][mine & in_fence].tolist()))
    parked = np.isin(final["vehicle_state"], PARKED_STATES)
    assert loaded.count_by_district(states=PARKED_STATES, fenced=False) == dict(
        Counter(final["district"][parked & ~in_fence].tolist())
    )
    assert loaded.count_by_fence(states=["on_trip"]) == dict(
        Counter(final["fence"][in_fence & (final["vehicle_state"] == "on_trip")].tolist())
    )


def test_parked_outside_fences(loaded, final):
    want = sorted(
        (d, i, o)
        for i, d, o, s, f in zip(
            final["device_id"].tolist(),
            final["district"].tolist(),
            final["operator"].tolist(),
            final["vehicle_state"].tolist(),
            final["fence"].tolist(),
            strict=True,
        )
        if s in PARKED_STATES and f == -1
    )
    assert len(want) > 100
    got = loaded.parked_outside_fences(limit=len(want) + 10)
    assert loaded.parked_outside_fences(limit=None) == got  # no limit: all of them
    assert [(b.district, b.device_id, b.operator) for b in got] == want
    assert all(b.parked_outside_fence for b in got)
    assert [b.device_id for b in loaded.parked_outside_fences(limit=7)] == [i for _d, i, _o in want[:7]]
    assert [b.device_id for b in loaded.parked_outside_fences("110105", "hellobike", limit=5000)] == [
        i for d, i, o in want if d == "110105" and o == "hellobike"
    ]


def test_stale(loaded, final):
    now_ms = int(final["timestamp_ms"].max()) + 1
    for hours in (1, 3):
        cutoff = now_ms - hours * 3600 * 1000
        want = sorted(
            (t, i)
            for t, i in zip(final["timestamp_ms"].tolist(), final["device_id"].tolist(), strict=True)
            if t < cutoff
        )
        assert want
        got = loaded.stale(hours * 3600, now_ms, limit=len(want) + 10)
        assert [(b.timestamp_ms, b.device_id) for b in got] == want
        assert [(b.timestamp_ms, b.device_id) for b in loaded.stale(hours * 3600, now_ms, limit=None)] == want
        assert [b.device_id for b in loaded.stale(hours * 3600, now_ms, limit=3)] == [i for _t, i in want[:3]]
    mine = final["operator"] == "qingju"
    cutoff = now_ms - 2 * 3600 * 1000
    assert {b.device_id for b in loaded.stale(2 * 3600, now_ms, operator="qingju", limit=10**6)} == set(
        final["device_id"][mine & (final["timestamp_ms"] < cutoff)].tolist()
    )
    assert loaded.stale(10**6, now_ms) == []


def test_within_equals_brute_force(loaded, final, fences):
    centres = [(f.centroid.lon, f.centroid.lat) for f in list(fences)[:4]]
    centres += list(zip(final["lon"][:3].tolist(), final["lat"][:3].tolist(), strict=True))
    for lon, lat in centres:
        d = distance_m(lon, lat, final["lon"], final["lat"])
        # the haversine distance agrees with the synthetic day's flat approximation
        near = d < 5_000
        assert np.allclose(
            d[near], flat_distance_m(lon, lat, final["lon"][near], final["lat"][near]), rtol=5e-3
        )
        for radius in (150.0, 800.0, 3_000.0):
            inside = np.flatnonzero(d <= radius)
            want = sorted(zip(d[inside].tolist(), final["device_id"][inside].tolist(), strict=True))
            got = loaded.within(lon, lat, radius)
            assert [n.bike.device_id for n in got] == [i for _d, i in want]
            assert np.allclose([n.distance_m for n in got], [x for x, _i in want])
        assert len(loaded.within(lon, lat, 3_000.0, limit=5)) == min(5, int((d <= 3_000).sum()))
    assert sum(len(loaded.within(x, y, 800.0)) for x, y in centres) > 20


def test_concurrent_updaters_end_like_one_sequential_update(make_store, reports):
    sequential = make_store()
    for batch in _shuffled_batches(reports, size=20_000, seed=5):
        sequential.update(batch)

    shared = make_store()
    other = make_store(same_as=shared)  # a second handle (connection) on the same store
    order = np.argsort(reports["timestamp_ms"], kind="stable")  # interleave each bike's timeline
    halves = [order[0::2], order[1::2]]
    barrier = threading.Barrier(2)
    errors = []

    def run(store, rows):
        try:
            barrier.wait()
            rows = rows[::-1]  # newest first: every older report races against a stored newer one
            for start in range(0, len(rows), 1_500):
                part = rows[start : start + 1_500]
                store.update({k: reports[k][part] for k in COLS})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(s, h)) for s, h in zip((shared, other), halves, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert shared.dump() == sequential.dump()
    assert shared.count_by_district() == sequential.count_by_district()
    assert shared.count_by_fence() == sequential.count_by_fence()
    assert shared.count_by_district(states=PARKED_STATES, fenced=False) == sequential.count_by_district(
        states=PARKED_STATES, fenced=False
    )
    # the counters are exact: a recount of the dump gives the same numbers
    dump = shared.dump().values()
    assert shared.count_by_district() == dict(Counter(b.district for b in dump))
    assert shared.count_by_fence() == dict(Counter(b.fence for b in dump if b.fence >= 0))
    assert [b.device_id for b in shared.parked_outside_fences(limit=10**6)] == [
        b.device_id for b in sequential.parked_outside_fences(limit=10**6)
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"lat": [39.9, float("nan")]}, "bad_position"),
        ({"lon": [116.4, 200.0]}, "bad_position"),
        ({"vehicle_state": ["available", "parked"]}, "bad_state"),
        ({"device_id": ["bk-1", ""]}, "bad_value"),
        ({"operator": ["meituan", "mei tuan"]}, "bad_operator"),
        ({"timestamp_ms": [1, -5]}, "bad_timestamp"),
        ({"timestamp_ms": [1.5, 2]}, "bad_timestamp"),
        ({"lat": [39.9]}, "unequal_columns"),
        ({"vehicle_state": None}, "missing_columns"),
    ],
)
def test_a_bad_batch_writes_nothing(make_store, change, code):
    store = make_store()
    batch = _merge(_one(device="bk-1"), _one(device="bk-2"))
    for key, value in change.items():
        if value is None:
            del batch[key]
        else:
            batch[key] = value
    with pytest.raises(LiveBatchError) as info:
        store.update(batch)
    assert info.value.code == code
    assert store.total() == 0 and store.get("bk-1") is None


def test_open_live_state_by_scheme(tmp_path, index):
    store = open_live_state(f"sqlite:///{tmp_path}/live.db", districts=index)
    assert isinstance(store, SqliteLiveState) and store.total() == 0
    store.close()
    store = open_live_state("redis://127.0.0.1:6379/15?prefix=x:live", districts=index)  # connects lazily
    assert isinstance(store, RedisLiveState) and store.prefix == "x:live"
    store.close()
    for bad in (
        "",
        "live.db",
        "sqlite://relative/live.db",
        "sqlite:///",
        "sqlite://host/live.db",
        "redis://",
        "redis://127.0.0.1:6379/15?prefix=a*b",
        "postgres://127.0.0.1/x",
        42,
    ):
        with pytest.raises(ValueError):
            open_live_state(bad)
