"""Rebalancing (调度): bikes found away from where their last ride ended, per operator and day.

A small lake of hand-made rides with known gaps; the expected moves are worked out here
with the same equirectangular distance, independently of the Ibis expression, and the same
rows come from DuckDB and (when installed) PySpark.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from govcenter.analytics.engine import connect, pyspark_available
from govcenter.analytics.lake import LakeWriter
from govcenter.bikeshare import analyses as an

BEIJING = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 11, 10)


def _ride(operator, trip_id, device, start, start_pos, end_pos, minutes=10):
    t0 = dt.datetime.combine(DAY, dt.time(0), tzinfo=BEIJING) + start
    return {
        "operator": operator, "trip_id": trip_id, "device_id": device, "vehicle_id": f"v-{device}",
        "start_time": t0, "end_time": t0 + dt.timedelta(minutes=minutes),
        "start_lon": start_pos[0], "start_lat": start_pos[1], "end_lon": end_pos[0], "end_lat": end_pos[1],
        "source_datum": "GCJ-02", "distance_m": 1000.0, "duration_s": minutes * 60,
    }  # fmt: skip


def _metres(a, b) -> float:
    kx, ky = an.m_per_deg(an.BEIJING_LAT)
    return math.hypot((b[0] - a[0]) * kx, (b[1] - a[1]) * ky)


A, B, C = (116.40, 39.90), (116.41, 39.90), (116.40, 39.91)
NEAR_A = (116.4010, 39.9005)  # ~100 m from A: found where it was left, no move


@pytest.fixture
def lake(tmp_path):
    h = dt.timedelta(hours=1)
    rides = [
        # d1: A→B, then starts at C (moved B→C), then at C's end (B) again: one move on DAY
        _ride("meituan", "t1", "d1", 8 * h, A, B),
        _ride("meituan", "t2", "d1", 12 * h, C, B),
        _ride("meituan", "t3", "d1", 18 * h, B, A),
        # d2: chained rides, a few metres of GPS noise only
        _ride("meituan", "t4", "d2", 9 * h, B, A),
        _ride("meituan", "t5", "d2", 10 * h, NEAR_A, C),
        # d3 (another operator): ended at A the day before, starts at B on DAY: a move on DAY
        _ride("hellobike", "t6", "d3", -6 * h, C, A),
        _ride("hellobike", "t7", "d3", 7 * h, B, C),
        # d4: its previous ride is two days earlier: not looked up, no move counted
        _ride("hellobike", "t8", "d4", -40 * h, C, A),
        _ride("hellobike", "t9", "d4", 11 * h, C, B),
    ]
    LakeWriter(tmp_path).write("trips", rides)
    return tmp_path


def _rows(table) -> dict:
    return {
        (r["operator"], r["date"]): (r["moves"], r["bikes_moved"], round(r["moved_km"], 6))
        for r in table.to_pylist()
    }


def test_moves_are_counted_where_a_ride_starts_away_from_the_last_end(lake):
    con = connect("duckdb", lake)
    got = _rows(an.run(an.rebalancing(con, DAY, DAY)))
    assert got == {
        ("meituan", DAY): (1, 1, round(_metres(B, C) / 1000, 6)),
        ("hellobike", DAY): (1, 1, round(_metres(A, B) / 1000, 6)),
    }
    assert _metres(A, NEAR_A) < an.REBALANCE_MIN_M < _metres(B, C)


def test_the_threshold_decides_and_bad_parameters_are_refused(lake):
    con = connect("duckdb", lake)
    far = _rows(an.run(an.rebalancing(con, DAY, DAY, min_m=_metres(B, C) + 1)))
    assert far == {}  # every gap here is at most B–C (≈ 1.4 km)
    near = _rows(an.run(an.rebalancing(con, DAY, DAY, min_m=50)))
    assert near[("meituan", DAY)][0] == 2  # now d2's 100 m of noise counts too
    for bad in (0, -5, float("nan"), "200"):
        with pytest.raises(ValueError):
            an.rebalancing(con, DAY, DAY, min_m=bad)
    with pytest.raises(ValueError):
        an.rebalancing(con, DAY, DAY - dt.timedelta(days=1))


@pytest.mark.skipif(not pyspark_available(), reason="pyspark is not installed (optional extra `scale`)")
def test_pyspark_gives_the_same_rows(lake):
    from govcenter.analytics.engine import spark_session

    session = spark_session()
    try:
        spark = connect("pyspark", lake, spark_session=session)
        duck = connect("duckdb", lake)
        a = _rows(an.run(an.rebalancing(duck, DAY, DAY)))
        b = {
            (op, d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])): (m, n, round(km, 6))
            for (op, d), (m, n, km) in _rows(an.run(an.rebalancing(spark, DAY, DAY))).items()
        }
        assert a == b and len(a) == 2
    finally:
        session.stop()
