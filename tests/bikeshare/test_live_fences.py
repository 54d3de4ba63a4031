"""Fences changing under the live picture (``bikeshare.live``), on SQLite and on Redis.

The store keeps each bike's fence *id* (the Fence pk), so a new fence index does not scramble
it; ``reassign_fences`` re-places bikes that did not move: a retired fence lets its bikes out,
a new fence takes them in, a revised shape moves them — with every counter exact (checked
against a recount of the dump), only changed bikes written, and a newer report that arrives
during the re-assignment left as it is. Then the consumer (``consumer.FenceWatcher``) noticing
a fence write without a restart, and the task a committed fence write runs.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter

import numpy as np
import pytest

from govcenter.bikeshare import live as live_module
from govcenter.bikeshare.geo import FenceIndex, circle_polygon
from govcenter.bikeshare.live import (
    NO_FENCE,
    PARKED_STATES,
    SqliteLiveState,
    fence_fingerprint,
    lookup_fences,
    open_live_state,
)
from govcenter.core.districts import DistrictIndex

# GCJ-02 points in 东城 (110101) and 西城 (110102), a few hundred metres apart.
P1 = (116.4173, 39.9490)
P2 = (116.3742, 39.9075)
P3 = (116.4000, 39.9300)
FAR = (116.4500, 39.9800)
COLS = ("operator", "device_id", "vehicle_id", "timestamp_ms", "lon", "lat", "vehicle_state")


@pytest.fixture(scope="module")
def districts():
    return DistrictIndex.from_files()


def fence_index(fences: dict[int, object]) -> FenceIndex:
    """A FenceIndex of ``{fence id: polygon}`` with ``fence_ids`` as ``active_fence_index`` sets them."""
    ids = sorted(fences)
    index = FenceIndex([fences[i] for i in ids])
    index.fence_ids = tuple(ids)
    return index


def circle(point, radius=120.0):
    return circle_polygon(point[0], point[1], radius, segments=24)


@pytest.fixture
def make_store(live_stores, districts):
    """A factory of empty stores of one adapter; ``make(same_as=s)`` opens another handle on s."""
    return lambda fences=None, same_as=None: live_stores(fences=fences, districts=districts, same_as=same_as)


def bikes(rows: list[tuple]) -> dict:
    """(device_id, (lon, lat), state[, timestamp_ms[, operator]]) → an update batch."""
    batch = {k: [] for k in COLS}
    for row in rows:
        device, (lon, lat), state, *rest = row
        ts = rest[0] if rest else 1_000
        operator = rest[1] if len(rest) > 1 else "meituan"
        for key, value in zip(COLS, (operator, device, f"V-{device}", ts, lon, lat, state), strict=True):
            batch[key].append(value)
    return batch


def assert_counts_exact(store) -> None:
    """Every count the store answers equals a recount of its records."""
    dump = list(store.dump().values())
    assert store.total() == len(dump)
    assert store.count_by_fence() == dict(Counter(b.fence for b in dump if b.fence != NO_FENCE))
    for fenced in (None, True, False):
        want = Counter(b.district for b in dump if fenced is None or (b.fence != NO_FENCE) == fenced)
        assert store.count_by_district(fenced=fenced) == dict(want)
        want = Counter(
            (b.operator, b.district) for b in dump if fenced is None or (b.fence != NO_FENCE) == fenced
        )
        assert store.count_by_operator_district(fenced=fenced) == dict(want)
    parked = Counter(b.district for b in dump if b.vehicle_state in PARKED_STATES and b.fence == NO_FENCE)
    assert store.count_by_district(states=PARKED_STATES, fenced=False) == dict(parked)
    for op in {b.operator for b in dump}:
        assert store.count_by_fence(op, states=["on_trip"]) == dict(
            Counter(
                b.fence for b in dump if b.operator == op and b.vehicle_state == "on_trip" and b.fence >= 0
            )
        )
    outside = sorted((b.district, b.device_id) for b in dump if b.parked_outside_fence)
    assert [(b.district, b.device_id) for b in store.parked_outside_fences(limit=None)] == outside


def test_the_store_keeps_fence_ids_not_positions(make_store):
    index = fence_index({501: circle(P1), 77: circle(P2)})  # positions: 77 → 0, 501 → 1
    store = make_store(index)
    store.update(bikes([("a", P1, "available"), ("b", P2, "available"), ("c", FAR, "available")]))
    assert {i: b.fence for i, b in store.dump().items()} == {"a": 501, "b": 77, "c": NO_FENCE}
    assert store.count_by_fence() == {501: 1, 77: 1}
    # An index without ids (built by hand) keeps positions: its positions are its ids.
    plain = make_store(FenceIndex([circle(P1), circle(P2)]))
    plain.update(bikes([("a", P1, "available"), ("b", P2, "available")]))
    assert {i: b.fence for i, b in plain.dump().items()} == {"a": 0, "b": 1}


def test_retiring_and_adding_fences_moves_bikes_that_did_not_move(make_store):
    before = fence_index({7: circle(P1), 9: circle(P2)})
    store = make_store(before)
    store.update(
        bikes(
            [
                ("a1", P1, "available"),
                ("a2", (P1[0] + 0.0002, P1[1]), "non_operational"),
                ("a3", P1, "on_trip", 1_000, "qingju"),
                ("b1", P2, "available", 1_000, "qingju"),
                ("f1", P3, "available"),
                ("f2", P3, "reserved"),
            ]
        )
    )
    assert [b.device_id for b in store.parked_outside_fences()] == ["f1"]
    assert_counts_exact(store)

    # Fence 7 retired (fence 9 now sits at position 0), a new fence 12 around P3.
    after = fence_index({9: circle(P2), 12: circle(P3)})
    assert store.reassign_fences(after) == 5  # a1, a2, a3 out of 7; f1, f2 into 12; b1 unchanged
    got = {i: b.fence for i, b in store.dump().items()}
    assert got == {"a1": NO_FENCE, "a2": NO_FENCE, "a3": NO_FENCE, "b1": 9, "f1": 12, "f2": 12}
    assert store.fences is after
    assert [b.device_id for b in store.parked_outside_fences()] == ["a1", "a2"]
    assert store.count_by_fence() == {9: 1, 12: 2}
    assert store.count_by_district(states=PARKED_STATES, fenced=False) == {"110101": 2}
    assert_counts_exact(store)
    assert store.reassign_fences(after) == 0  # nothing left to change

    # New reports are placed by the new index.
    store.update(bikes([("a1", P3, "available", 2_000)]))
    assert store.get("a1").fence == 12
    assert_counts_exact(store)


def test_a_revised_fence_keeps_its_id_and_moves_bikes_by_its_new_shape(make_store):
    store = make_store(fence_index({4: circle(P1)}))
    store.update(bikes([("a", P1, "available"), ("b", P3, "available")]))
    revised = fence_index({4: circle(P3)})  # the same fence (pk), moved
    assert fence_fingerprint(revised) != fence_fingerprint(store.fences)
    assert store.reassign_fences(revised) == 2
    assert (store.get("a").fence, store.get("b").fence) == (NO_FENCE, 4)
    assert_counts_exact(store)


def test_reassignment_equals_a_store_filled_with_the_new_index(make_store, monkeypatch):
    """20,000 bikes, 400 fences; some fences retired, some added, some revised: the re-assigned
    store equals one filled from scratch with the new index, and only changed bikes count."""
    monkeypatch.setattr(live_module, "REASSIGN_CHUNK_ROWS", 3_000)  # several read chunks
    rng = np.random.default_rng(7)
    n = 20_000
    lon = 116.30 + rng.random(n) * 0.2
    lat = 39.85 + rng.random(n) * 0.15
    states = np.array(["available", "non_operational", "on_trip", "reserved", "missing"])
    batch = {
        "operator": rng.choice(["meituan", "hellobike", "qingju"], n).tolist(),
        "device_id": [f"bk-{i:05d}" for i in range(n)],
        "vehicle_id": [f"V{i}" for i in range(n)],
        "timestamp_ms": rng.integers(1, 10**9, n),
        "lon": lon,
        "lat": lat,
        "vehicle_state": states[rng.integers(0, len(states), n)].tolist(),
    }
    centres = list(
        zip((116.30 + rng.random(400) * 0.2).tolist(), (39.85 + rng.random(400) * 0.15).tolist(), strict=True)
    )
    old = {1000 + k: circle(c, 400.0) for k, c in enumerate(centres)}
    new = {k: g for k, g in old.items() if k % 5}  # every fifth retired
    new |= {5000 + k: circle((c[0] + 0.003, c[1]), 300.0) for k, c in enumerate(centres[:60])}  # new ones
    new |= {
        k: circle((centres[k - 1000][0], centres[k - 1000][1] + 0.002), 400.0) for k in (1001, 1002, 1003)
    }
    before, after = fence_index(old), fence_index(new)

    store = make_store(before)
    store.update(batch)
    fresh = make_store(after)
    fresh.update(batch)
    old_fences = lookup_fences(before, lon, lat)
    new_fences = lookup_fences(after, lon, lat)
    moved = int((old_fences != new_fences).sum())
    assert moved > 1_000 and (new_fences != NO_FENCE).sum() > 2_000  # the data exercises it

    assert store.reassign_fences(after) == moved
    assert store.dump() == fresh.dump()
    assert store.count_by_fence() == fresh.count_by_fence()
    assert store.count_by_operator_district(fenced=False) == fresh.count_by_operator_district(fenced=False)
    assert store.parked_outside_fences(limit=None) == fresh.parked_outside_fences(limit=None)
    assert_counts_exact(store)


class HookedIndex(FenceIndex):
    """A real FenceIndex that runs ``hook`` once, at its first lookup: what happens between the
    re-assignment's read and its write."""

    hook = None

    def lookup(self, lon, lat, **kwargs):
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return super().lookup(lon, lat, **kwargs)


def test_a_newer_report_during_reassignment_wins(make_store):
    before = fence_index({7: circle(P1), 9: circle(P2)})
    store = make_store(before)
    store.update(bikes([("x", P3, "available", 1_000), ("y", P1, "available", 1_000)]))
    # The new index retires fence 7 and adds 12 around P3. After the re-assignment read x at P3
    # (to be moved into 12), another updater — still with the old index — stores a newer report
    # of x inside fence 7.
    other = make_store(before, same_as=store)
    after = HookedIndex([circle(P2), circle(P3)])
    after.fence_ids = (9, 12)
    after.hook = lambda: other.update(bikes([("x", (P1[0] + 0.0001, P1[1]), "non_operational", 5_000)]))

    changed = store.reassign_fences(after)
    x = store.get("x")
    assert (x.timestamp_ms, x.vehicle_state, x.lon) == (5_000, "non_operational", P1[0] + 0.0001)
    assert x.fence == 7  # as its own updater placed it: not given the old record's new fence 12
    assert changed == 1 and store.get("y").fence == NO_FENCE  # y was re-placed; x was left alone
    assert_counts_exact(store)
    # The updater with the old index is repaired by the next re-assignment (its watcher's).
    assert store.reassign_fences(after) == 1
    assert store.get("x").fence == NO_FENCE and store.get("x").timestamp_ms == 5_000
    assert [b.device_id for b in store.parked_outside_fences()] == ["x", "y"]
    assert_counts_exact(store)


def test_ensure_fences_reassigns_only_for_another_index(make_store):
    index = fence_index({3: circle(P1)})
    same = fence_index({3: circle(P1)})  # built elsewhere (another process): the same fences
    assert fence_fingerprint(index) == fence_fingerprint(same)
    assert fence_fingerprint(index) != fence_fingerprint(fence_index({4: circle(P1)}))  # another id
    assert fence_fingerprint(None) == fence_fingerprint(FenceIndex([])) == "none"

    store = make_store()  # no fences: everything outside
    store.update(bikes([("a", P1, "available")]))
    assert store.fences_fingerprint() is None and store.get("a").fence == NO_FENCE
    assert store.ensure_fences(index) == 1 and store.get("a").fence == 3
    assert store.fences_fingerprint() == fence_fingerprint(index)
    again = make_store(same_as=store)  # a process opening the store later
    assert again.ensure_fences(same) == 0 and again.fences is same
    assert again.ensure_fences(fence_index({})) == 1 and store.get("a").fence == NO_FENCE
    assert_counts_exact(store)


# The layout of a store written before fence ids were stable (schema version 0).
_OLD_SCHEMA = """
CREATE TABLE live (device_id TEXT PRIMARY KEY, operator TEXT NOT NULL, vehicle_id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL, tiebreak INTEGER NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL,
    vehicle_state TEXT NOT NULL, district TEXT NOT NULL, fence INTEGER NOT NULL, cell INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX live_district ON live (district, operator, vehicle_state, fence);
CREATE INDEX live_fence ON live (fence, operator, vehicle_state, district);
CREATE INDEX live_operator ON live (operator, timestamp_ms);
CREATE INDEX live_timestamp ON live (timestamp_ms);
CREATE INDEX live_cell ON live (cell);
CREATE INDEX live_outside ON live (district, device_id)
    WHERE fence = -1 AND vehicle_state IN ('available', 'non_operational');
"""


def test_an_old_sqlite_store_upgrades_in_place(tmp_path, districts):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_SCHEMA)
    conn.executemany(
        "INSERT INTO live VALUES (?, 'meituan', ?, 1000, 1, ?, ?, 'available', ?, ?, 0)",
        [("a", "V-a", *P2, "110102", 1), ("b", "V-b", *FAR, "110105", -1)],  # a: position 1 of its index
    )
    conn.commit()
    conn.close()

    index = fence_index({40: circle(P1), 41: circle(P2)})
    store = SqliteLiveState(path, districts=districts)
    try:
        conn = store._conn()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == live_module._SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "live_operator_district" in names
        assert store.fences_fingerprint() is None  # positions, not ids: not trusted
        assert store.ensure_fences(index) == 1
        assert (store.get("a").fence, store.get("b").fence) == (41, NO_FENCE)
        assert store.count_by_operator_district() == {("meituan", "110102"): 1, ("meituan", "110105"): 1}
        assert_counts_exact(store)
    finally:
        store.close()


# -- the consumer and the task ------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watcher_asks_at_most_every_few_seconds(make_store):
    from govcenter.bikeshare.consumer import FenceWatcher

    indexes = {"k1": fence_index({1: circle(P1)}), "k2": fence_index({1: circle(P1)}), "k3": fence_index({})}
    state = {"key": "k1", "asked": 0}

    def key():
        state["asked"] += 1
        return state["key"]

    store = make_store()
    store.update(bikes([("a", P1, "available")]))
    clock = Clock()
    watcher = FenceWatcher(store, every_s=5.0, key=key, index=indexes.__getitem__, clock=clock)
    assert store.get("a").fence == 1 and state["asked"] == 1  # at start: the index in force
    state["key"] = "k3"
    clock.now += 4.9
    assert watcher.check() is None and state["asked"] == 1  # too soon: not even asked
    clock.now += 0.2
    assert watcher.check() == 1 and state["asked"] == 2
    assert store.get("a").fence == NO_FENCE and store.fences is indexes["k3"]
    clock.now += 5
    assert watcher.check() is None and state["asked"] == 3  # same key: nothing to do
    state["key"] = "k2"  # a new generation that places bikes as k1 did
    clock.now += 5
    assert watcher.check() == 1 and store.get("a").fence == 1
    state["key"] = "k1"  # the same fences again: swapped in without re-reading the store
    clock.now += 5
    assert watcher.check() is None and store.fences is indexes["k1"]


def _telemetry_row(device_id: str, point, ts: int) -> dict:
    return {
        "operator": "T-OP-A",
        "device_id": device_id,
        "vehicle_id": f"V-{device_id}",
        "timestamp": ts,
        "lon": point[0],
        "lat": point[1],
        "source_datum": "GCJ-02",
        "battery_pct": None,
        "trip_id": None,
    }


def test_the_consumer_picks_up_a_fence_change_without_restart(
    org, tmp_path, settings, django_capture_on_commit_callbacks
):
    from govcenter.bikeshare.consumer import consume
    from govcenter.bikeshare.services.fences import fence_retire, fences_import
    from govcenter.bikeshare.services.ingest import publish

    from .test_fences import YONGHEGONG, collection, feature, ring

    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""  # no task: the consumer alone must notice
    settings.GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS = 1  # one report per message
    stream_url = f"spool://{tmp_path / 'stream'}"
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with django_capture_on_commit_callbacks(execute=True):
        (fence,) = fences_import(None, collection(feature(ring(YONGHEGONG, 150.0))), "GCJ-02")
    now = int(time.time() * 1000)
    rows = [_telemetry_row("x", YONGHEGONG, now - 3_000), _telemetry_row("y", P2, now - 2_000)]
    assert publish("telemetry", rows, stream_url=stream_url) == 2

    view = open_live_state(url)
    seen = []

    def stop() -> bool:  # called before every read, i.e. between batches, in the consumer's thread
        seen.append(view.total())
        if view.total() == 1 and len(seen) < 50:
            assert view.get("x").fence == fence.pk
            with django_capture_on_commit_callbacks(execute=True):
                fence_retire(None, fence)
        return view.total() == 2 or len(seen) > 50

    try:
        handled = consume(
            "telemetry", stream_url=stream_url, lake_root=tmp_path / "lake", live=url,
            max_records=1, block_ms=50, stop=stop, consumer="t", fence_check_s=0.0,
        )  # fmt: skip
        assert handled == 2
        x = view.get("x")
        assert x.fence == NO_FENCE and x.timestamp_ms == now - 3_000  # re-placed, not re-reported
        assert [b.device_id for b in view.parked_outside_fences()] == ["x", "y"]
        assert view.count_by_fence() == {}
    finally:
        view.close()


def test_a_committed_fence_write_reassigns_the_configured_store(
    org, tmp_path, settings, django_capture_on_commit_callbacks
):
    from govcenter.bikeshare.services.fences import active_fence_index, fence_retire, fences_import
    from govcenter.bikeshare.tasks import reassign_live_fences
    from govcenter.core.audit import AuditEntry

    from .test_fences import XIDAN, YONGHEGONG, collection, feature, ring

    url = f"sqlite:///{tmp_path / 'live.db'}"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = url
    assert reassign_live_fences() == {"skipped": "the live store does not exist yet"}
    with django_capture_on_commit_callbacks(execute=True):
        (a,) = fences_import(None, collection(feature(ring(YONGHEGONG, 150.0))), "GCJ-02")
    with open_live_state(url, fences=active_fence_index()) as store:
        store.update(bikes([("x", YONGHEGONG, "available"), ("y", XIDAN, "available")]))
        assert (store.get("x").fence, store.get("y").fence) == (a.pk, NO_FENCE)

        with django_capture_on_commit_callbacks(execute=True):  # Huey runs tasks at once in tests
            fence_retire(None, a)
        assert store.get("x").fence == NO_FENCE
        with django_capture_on_commit_callbacks(execute=True):
            (b,) = fences_import(None, collection(feature(ring(XIDAN, 150.0))), "GCJ-02")
        assert store.get("y").fence == b.pk
        assert_counts_exact(store)
    entries = AuditEntry.objects.filter(action="bikeshare.live.reassign_fences").order_by("seq")
    assert [e.changes["changed"] for e in entries] == [1, 1]
    assert all(e.user_id is None for e in entries)  # the system
    assert reassign_live_fences() == {"changed": 0, "fences": 1}  # the nightly run: nothing to do
    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    assert reassign_live_fences() == {"skipped": "no live store"}
