"""Counting the live picture per operator and district (analysis 5, the quota page, over-quota
orders): ``count_by_operator_district`` on both adapters equals a brute-force count and what
``count_by_district(operator=…)`` gives per operator; on SQLite both read only the covering
index; ``quota_usage`` and ``distribution`` give the same numbers as a recount of the store."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import numpy as np
import pytest
from django.utils import timezone

from govcenter.bikeshare.geo import FenceIndex, circle_polygon
from govcenter.bikeshare.live import NO_FENCE, PARKED_STATES, VEHICLE_STATES, RedisLiveState, SqliteLiveState
from govcenter.core.districts import DistrictIndex

OPERATORS = ["T-OP-A", "T-OP-B", "ghost", "hellobike"]


@pytest.fixture(scope="module")
def districts():
    return DistrictIndex.from_files()


@pytest.fixture(scope="module")
def batch():
    """3,000 bikes over central Beijing (several districts, some outside every fence)."""
    rng = np.random.default_rng(5)
    n = 3_000
    return {
        "operator": rng.choice(OPERATORS, n, p=[0.4, 0.3, 0.1, 0.2]).tolist(),
        "device_id": [f"bk-{i:05d}" for i in range(n)],
        "vehicle_id": [f"V{i}" for i in range(n)],
        "timestamp_ms": rng.integers(1, 10**9, n),
        "lon": 116.25 + rng.random(n) * 0.35,
        "lat": 39.80 + rng.random(n) * 0.25,
        "vehicle_state": rng.choice(VEHICLE_STATES, n).tolist(),
    }


@pytest.fixture(scope="module")
def fences():
    rng = np.random.default_rng(6)
    index = FenceIndex(
        [circle_polygon(116.25 + x * 0.35, 39.80 + y * 0.25, 900.0) for x, y in rng.random((60, 2))]
    )
    index.fence_ids = tuple(range(10, 70))
    return index


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request, tmp_path, districts, fences, batch):
    if request.param == "sqlite":
        s = SqliteLiveState(tmp_path / "live.db", fences=fences, districts=districts)
    else:
        s = RedisLiveState(
            request.getfixturevalue("redis_url"), f"test:bikeshare:live:{uuid.uuid4().hex}", fences=fences,
            districts=districts,
        )  # fmt: skip
    s.update(batch)
    yield s
    if isinstance(s, RedisLiveState):
        s.clear()
    s.close()


def brute(store, *, states=None, fenced=None) -> dict[tuple[str, str], int]:
    return dict(
        Counter(
            (b.operator, b.district)
            for b in store.dump().values()
            if (states is None or b.vehicle_state in states)
            and (fenced is None or (b.fence != NO_FENCE) == fenced)
        )
    )


def test_counts_per_operator_and_district_equal_brute_force(store):
    assert len({d for _o, d in brute(store)}) >= 4 and brute(store, fenced=True)  # the data spreads
    for states in (None, PARKED_STATES, ["on_trip"], []):
        for fenced in (None, True, False):
            got = store.count_by_operator_district(states=states, fenced=fenced)
            assert got == brute(store, states=states, fenced=fenced), (states, fenced)
            for op in OPERATORS:  # the same numbers as the per-operator query
                mine = {d: n for (o, d), n in got.items() if o == op}
                assert store.count_by_district(op, states=states, fenced=fenced) == mine
    with pytest.raises(ValueError):
        store.count_by_operator_district(states=["parked"])


def test_sqlite_counts_read_only_the_covering_index(tmp_path, districts):
    store = SqliteLiveState(tmp_path / "plan.db", districts=districts)
    try:
        conn = store._conn()
        for sql, args in (
            ("SELECT operator, district, COUNT(*) FROM live GROUP BY operator, district", ()),
            ("SELECT district, COUNT(*) FROM live WHERE operator = ? GROUP BY district", ("a",)),
            (
                "SELECT district, COUNT(*) FROM live WHERE operator = ? AND vehicle_state IN (?, ?) "
                "AND fence >= 0 GROUP BY district",
                ("a", *PARKED_STATES),
            ),
        ):
            plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            assert "COVERING INDEX live_operator_district" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # already in GROUP BY order
    finally:
        store.close()


@pytest.fixture
def quotas(request, org, settings, store):
    from govcenter.bikeshare.models import FleetQuota

    if isinstance(store, SqliteLiveState):
        settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{store.path}"
    else:
        settings.GOVCENTER_BIKESHARE_LIVE_URL = (
            f"{request.getfixturevalue('redis_url')}?prefix={store.prefix}"
        )
    start = timezone.now() - dt.timedelta(days=1)
    return [
        FleetQuota.objects.create(operator=org.op_a, district=org.dongcheng, quota=1, valid_from=start),
        FleetQuota.objects.create(operator=org.op_a, district=None, quota=10_000, valid_from=start),
        FleetQuota.objects.create(operator=org.op_b, district=org.xicheng, quota=3, valid_from=start),
    ]


def test_quota_usage_and_distribution_equal_a_recount(org, store, quotas):
    # ``org`` first: it clears the cache, which with GOVCENTER_REDIS_URL is the store's Redis db.
    from govcenter.bikeshare.selectors.analyses import distribution
    from govcenter.bikeshare.selectors.quotas import quota_usage
    from tests.factories import UserFactory

    want = brute(store)
    usage = {u.quota_id: u for u in quota_usage(live=store)}
    a_dc, a_all, b_xc = quotas
    assert usage[a_dc.pk].live == want[("T-OP-A", "110101")] > 0
    assert usage[a_all.pk].live == sum(n for (o, _d), n in want.items() if o == "T-OP-A")
    assert usage[b_xc.pk].live == want[("T-OP-B", "110102")] > 0
    assert usage[a_dc.pk].excess == usage[a_dc.pk].live - 1
    # Counts handed over by the caller give the same rows as the store itself.
    assert quota_usage(live_counts=store.count_by_operator_district()) == list(usage.values())

    staff = UserFactory(unit=org.center, role_set=[org.roles["data_staff"]])
    result = distribution(staff)
    assert result["live_error"] is None
    # Operators with a unit (T-OP-A, T-OP-B) are listed, per district, in code order.
    expected = [
        {"operator": op, "district": d, "live": n}
        for (op, d), n in sorted(want.items())
        if op in ("T-OP-A", "T-OP-B")
    ]
    assert result["live"] == expected
    assert [q["live"] for q in result["quotas"]] == [u.live for u in usage.values()]
    # Operator staff: their operator's bikes only.
    ops_a = UserFactory(unit=org.op_a, role_set=[org.roles["operator_staff"]])
    mine = distribution(ops_a)
    assert mine["live"] == [r for r in expected if r["operator"] == "T-OP-A"]
    assert [q["quota_id"] for q in mine["quotas"]] == [a_all.pk, a_dc.pk]  # city-wide first
