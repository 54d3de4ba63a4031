"""The data-quality monitor (bikeshare/quality.py, api/quality.py).

A small synthetic day (``demo_scale.load_day``, scale 0.0005, compacted as the demo leaves it)
plus violations of every kind written with ``LakeWriter``: the monitor must report the
synthetic day's own figures — computed here by a plain-Python reference over the lake's
files, not by the monitor's SQL — plus exactly what was injected.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.test import Client

from govcenter.analytics.lake.files import write_part
from govcenter.analytics.lake.schemas import conform, get_spec
from govcenter.analytics.lake.writer import LakeWriter
from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.bikeshare.quality import WEIGHTS, daily_quality
from govcenter.bikeshare.services.auth import operator_source, rejection_count
from govcenter.core.districts import DistrictIndex
from tests.factories import DistrictFactory, RoleFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db
BJ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 2)
SCALE = 0.0005
SEED = 20261101
A, B = UNIT_CODES["meituan"], UNIT_CODES["hellobike"]
INSIDE = (116.3975, 39.9087)  # Tiananmen (GCJ-02), inside Dongcheng
SHANGHAI = (121.4737, 31.2304)
PERM = "bikeshare.view_operatorrejection"


def at(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=BJ)


def point(op, device, when, trip=None, where=INSIDE) -> dict:
    return {"operator": op, "device_id": device, "vehicle_id": device, "timestamp": when,
            "lon": where[0], "lat": where[1], "source_datum": "GCJ-02", "battery_pct": None,
            "trip_id": trip}  # fmt: skip


def trip(op, trip_id, device, start, end) -> dict:
    return {"operator": op, "trip_id": trip_id, "device_id": device, "vehicle_id": device,
            "start_time": start, "end_time": end, "start_lon": INSIDE[0], "start_lat": INSIDE[1],
            "end_lon": INSIDE[0], "end_lat": INSIDE[1], "source_datum": "GCJ-02",
            "distance_m": 500.0, "duration_s": int((end - start).total_seconds())}  # fmt: skip


# -- a plain-Python reference of the rules (no SQL) --------------------------------------------


def lake_rows(root: Path, dataset: str) -> list[dict]:
    rows = []
    for f in sorted((root / dataset).glob("date=*/operator=*/*.parquet")):
        rows.extend(pq.ParquetFile(f).read().to_pylist())
    return rows


def reference(root: Path, day: dt.date) -> dict[str, dict]:
    """Points, devices, interval counts, trip checks and positions per operator, in Python."""
    start, end = at(0, day=day), at(0, day=day + dt.timedelta(days=1))
    ride, parked = dt.timedelta(seconds=120), dt.timedelta(hours=4)
    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    points = {}
    for r in lake_rows(root, "telemetry"):
        points[(r["operator"], r["device_id"], r["timestamp"])] = r["trip_id"]
    by_device, by_trip = defaultdict(list), defaultdict(list)
    for (op, device, t), trip_id in points.items():
        by_device[(op, device)].append((t, trip_id))
        if trip_id is not None:
            by_trip[(op, trip_id)].append(t)
    for (op, _device), pts in by_device.items():
        pts.sort()
        in_day = [t for t, _ in pts if start <= t < end]
        out[op]["telemetry_points"] += len(in_day)
        out[op]["devices_reporting"] += 1 if in_day else 0
        for i, (t, trip_id) in enumerate(pts):
            following = pts[i + 1] if i + 1 < len(pts) else None
            if trip_id is not None and following is not None and following[1] == trip_id:
                continue  # riding on: the 2-minute rule applies
            if start <= t + parked < end:
                out[op]["parked_intervals"] += 1
                if following is None or following[0] - t > parked:
                    out[op]["parked_violations"] += 1
    for (op, _trip_id), times in by_trip.items():
        times.sort()
        for t, u in zip(times, times[1:], strict=False):
            if start <= t + ride < end:
                out[op]["ride_intervals"] += 1
                out[op]["ride_violations"] += u - t > ride
    records = {}
    for r in lake_rows(root, "trips"):
        records[(r["operator"], r["trip_id"])] = r
    for (op, trip_id), r in records.items():
        if start <= r["start_time"] < end:
            out[op]["trips"] += 1
            out[op]["trips_end_before_start"] += r["end_time"] <= r["start_time"]
            out[op]["trips_without_telemetry"] += (op, trip_id) not in by_trip
    for (op, trip_id), times in by_trip.items():
        if start <= min(times) < end and (op, trip_id) not in records:
            out[op]["trips_without_end"] += 1
    # Positions of the day's rows (raw rows, duplicates included) outside every district.
    index = DistrictIndex.from_files()
    lon, lat, ops = [], [], []
    for r in lake_rows(root, "telemetry"):
        if start <= r["timestamp"] < end:
            lon.append(r["lon"]), lat.append(r["lat"]), ops.append(r["operator"])
    for r in lake_rows(root, "trips"):
        if start <= r["start_time"] < end:
            lon += [r["start_lon"], r["end_lon"]]
            lat += [r["start_lat"], r["end_lat"]]
            ops += [r["operator"]] * 2
    outside = index.lookup_codes(np.array(lon), np.array(lat)) == ""
    for op, bad in zip(ops, outside, strict=True):
        out[op]["positions_checked"] += 1
        out[op]["positions_outside"] += int(bad)
    return out


SCALARS = (
    "telemetry_points", "devices_reporting", "ride_intervals", "ride_violations", "parked_intervals",
    "parked_violations", "trips", "trips_without_end", "trips_without_telemetry",
    "trips_end_before_start", "positions_checked", "positions_outside",
)  # fmt: skip

# What the injections below add for operator A (worked out by hand, see inject()).
INJECTED_A = {
    "telemetry_points": 16, "devices_reporting": 6, "ride_intervals": 4, "ride_violations": 1,
    "parked_intervals": 5, "parked_violations": 4, "trips": 3, "trips_without_end": 1,
    "trips_without_telemetry": 1, "trips_end_before_start": 1, "positions_checked": 31,
    "positions_outside": 3,
}  # fmt: skip
INJECTED_B = {"telemetry_points": 20, "devices_reporting": 1, "positions_checked": 20}
LATENESS_B = [10.0 * (i + 1) for i in range(20)]


def inject(root: Path) -> None:
    """Violations of each kind (operator A), redeliveries, and a file of known lateness (B)."""
    w = LakeWriter(root)
    # Ride gap: 21:00, 21:01, 21:05 (240 s after the previous: 1 violation), 21:06 → 3 ride
    # intervals; the last point's 4-hour deadline is after midnight (not this day's).
    w.write("telemetry", [point(A, "inj-1", at(21, m), "inj-ride") for m in (0, 1, 5, 6)])
    w.write("trips", [trip(A, "inj-ride", "inj-1", at(21, 0), at(21, 6))])
    # Parked gaps: 02:00 → 07:00 (5 h, violation), 07:00 → 09:00, 09:00 → 22:00 (violation);
    # 22:00's deadline falls on the next day → 3 intervals, 2 violations.
    w.write("telemetry", [point(A, "inj-2", at(h)) for h in (2, 7, 9, 22)])
    # Across midnight: the previous day's 22:00 → 03:00 (deadline 02:00 today: violation),
    # 03:00 → 21:00 (violation); the previous day's 18:00 has its deadline there → 2 intervals.
    prev = DAY - dt.timedelta(days=1)
    w.write("telemetry", [point(A, "inj-3", at(18, day=prev)), point(A, "inj-3", at(22, day=prev)),
                          point(A, "inj-3", at(3)), point(A, "inj-3", at(21))])  # fmt: skip
    # A trip whose record never came: 2 points (1 ride interval, no violation).
    w.write(
        "telemetry", [point(A, "inj-4", at(21, 0), "inj-noend"), point(A, "inj-4", at(21, 2), "inj-noend")]
    )
    # A trip record that ends before it starts (with its one point), and one without points.
    w.write("telemetry", [point(A, "inj-5", at(21, 30), "inj-backwards")])
    w.write("trips", [trip(A, "inj-backwards", "inj-5", at(21, 30), at(21, 29)),
                      trip(A, "inj-nopoints", "inj-6", at(12), at(12, 10))])  # fmt: skip
    # Three positions in Shanghai (outside Beijing), parked, deadlines after midnight.
    w.write("telemetry", [point(A, "inj-7", at(21, m), where=SHANGHAI) for m in (10, 20, 30)])
    # Redelivery of 5 telemetry rows and 2 trips the demo already wrote (duplicate keys).
    old_points = [
        r
        for r in lake_rows(root, "telemetry")
        if r["operator"] == A and r["timestamp"].astimezone(BJ).date() == DAY
    ]
    old_trips = [r for r in lake_rows(root, "trips") if r["operator"] == A]
    w.write("telemetry", old_points[:5])
    w.write("trips", old_trips[:2])
    # Operator B: one file, written at 22:00, of 20 points 10 … 200 s old by then.
    written = at(22)
    rows = [point(B, "inj-b", written - dt.timedelta(seconds=s)) for s in LATENESS_B]
    spec = get_spec("telemetry")
    write_part(root, spec, DAY.isoformat(), B, conform(spec, rows), written_at=written.isoformat())


@pytest.fixture
def operators():
    return {code: UnitFactory(code=code, kind="operator") for code in UNIT_CODES.values()}


@pytest.fixture
def lake(operators, tmp_path, settings):
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    root = tmp_path / "lake"
    load_day(DAY, scale=SCALE, seed=SEED, lake_root=root, register=False)
    baseline = reference(root, DAY)
    inject(root)
    rejection_count(
        source=operator_source(operators[A]), reason="outside_beijing", operator=operators[A], n=4
    )
    rejection_count(
        source=operator_source(operators[A]), reason="unknown_vehicle", operator=operators[A], n=2
    )
    rejection_count(
        source=operator_source(operators[B]), reason="outside_beijing", operator=operators[B], n=7
    )
    return root, baseline


def by_operator(result: dict) -> dict[str, dict]:
    return {row["operator"]: row for row in result["operators"]}


def test_synthetic_day_follows_the_rules(lake):
    _root, baseline = lake
    for op in (A, B):
        assert baseline[op]["telemetry_points"] > 1000 and baseline[op]["ride_intervals"] > 500
        assert baseline[op]["ride_violations"] == baseline[op]["parked_violations"] == 0
        assert baseline[op]["trips_without_end"] == baseline[op]["trips_without_telemetry"] == 0


def test_figures_are_the_synthetic_day_plus_what_was_injected(lake):
    root, baseline = lake
    rows = by_operator(daily_quality(root, DAY))
    assert set(rows) == set(UNIT_CODES.values())
    for op, injected in ((A, INJECTED_A), (B, INJECTED_B)):
        for name in SCALARS:
            assert rows[op][name] == baseline[op][name] + injected.get(name, 0), (op, name)
    # The Python reference over the lake after injection agrees with the monitor, too.
    after = reference(root, DAY)
    for op in (A, B):
        assert {n: rows[op][n] for n in SCALARS} == {n: after[op][n] for n in SCALARS}
    # Duplicates: the 5 telemetry rows and 2 trips delivered again; none elsewhere.
    assert rows[A]["duplicates"]["telemetry"]["keys"] == 5
    assert rows[A]["duplicates"]["telemetry"]["extra_rows"] == 5
    assert rows[A]["duplicates"]["trips"]["keys"] == 2
    assert rows[B]["duplicates"]["telemetry"]["extra_rows"] == 0
    assert rows[A]["duplicates_complete"] is False  # the demo day was compacted
    # Lateness: only the files written after the demo's compaction are measured.
    assert rows[A]["lateness"]["telemetry"]["rows_measured"] == 16 + 5
    assert rows[A]["lateness"]["trips"]["rows_measured"] == 3 + 2
    late_b = rows[B]["lateness"]["telemetry"]
    assert late_b["rows_measured"] == len(LATENESS_B) == late_b["on_time"]
    assert late_b["p50_s"] == pytest.approx(float(np.percentile(LATENESS_B, 50)))
    assert late_b["p95_s"] == pytest.approx(float(np.percentile(LATENESS_B, 95)), abs=0.05)
    # Ingest refusal counters, per operator and reason.
    assert rows[A]["rejections"] == {"outside_beijing": 4, "unknown_vehicle": 2}
    assert rows[B]["rejections"] == {"outside_beijing": 7}


def test_score_follows_the_weights(lake):
    root, _baseline = lake
    rows = by_operator(daily_quality(root, DAY))
    a = rows[A]
    ride = 1 - a["ride_violations"] / a["ride_intervals"]
    parked = 1 - a["parked_violations"] / a["parked_intervals"]
    trips = 1 - 3 / (a["trips"] + a["trips_without_end"])
    measured = a["lateness"]["telemetry"]["rows_measured"] + a["lateness"]["trips"]["rows_measured"]
    on_time = a["lateness"]["telemetry"]["on_time"] + a["lateness"]["trips"]["on_time"]
    total_rows = sum(v["rows"] for v in a["duplicates"].values())
    dup = 1 - 7 / total_rows
    pos = 1 - a["positions_outside"] / a["positions_checked"]
    expected = 25 * ride + 20 * parked + 20 * trips + 15 * on_time / measured + 10 * dup + 10 * pos
    assert sum(WEIGHTS.values()) == 100
    assert a["score"] == pytest.approx(expected, abs=0.05)
    assert 0 <= rows[B]["score"] <= 100 and rows[B]["score"] > a["score"]


def test_deadlines_after_now_are_not_judged_yet(tmp_path):
    root = tmp_path / "lake"
    LakeWriter(root).write("telemetry", [point(A, "d", at(h)) for h in (2, 7, 9)])
    # At 10:00 only 02:00's deadline (06:00) has passed: 1 interval, 1 violation.
    row = by_operator(daily_quality(root, DAY, now=at(10), rejections=False))[A]
    assert (row["parked_intervals"], row["parked_violations"]) == (1, 1)
    assert row["duplicates_complete"] is True
    # At the end of the day: 02:00 → 07:00 late, 07:00 → 09:00 fine, 09:00 → nothing by 13:00.
    row = by_operator(daily_quality(root, DAY, now=at(23), rejections=False))[A]
    assert (row["parked_intervals"], row["parked_violations"]) == (3, 2)
    with pytest.raises(ValueError):
        daily_quality(root, "2026-02-30", rejections=False)


# -- API ---------------------------------------------------------------------------------------


@pytest.fixture
def users(operators):
    center_role = RoleFactory(code="t-q-center", scope_kind="all", perms=[PERM])
    operator_role = RoleFactory(code="t-q-operator", scope_kind="operator", perms=[PERM])
    plain_role = RoleFactory(code="t-q-plain", scope_kind="all", perms=["bikeshare.view_vehicle"])
    district_role = RoleFactory(code="t-q-district", scope_kind="districts", perms=[PERM])
    center = UnitFactory(code="T-Q-CENTER", kind="center")
    district_unit = UnitFactory(code="T-Q-DC", kind="district_unit", district=DistrictFactory(code="110101"))
    return {
        "district": UserFactory(username="t_q_dc", unit=district_unit, role_set=[district_role]),
        "center": UserFactory(username="t_q_center", unit=center, role_set=[center_role]),
        "op_a": UserFactory(username="t_q_op_a", unit=operators[A], role_set=[operator_role]),
        "plain": UserFactory(username="t_q_plain", unit=center, role_set=[plain_role]),
    }


def get(user, **params):
    client = Client()
    client.force_login(user)
    return client.get("/api/v1/bikeshare/quality", params)


def test_api_scope_and_figures(lake, users):
    root, _baseline = lake
    response = get(users["center"], date=DAY.isoformat())
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["date"] == DAY.isoformat()
    rows = by_operator(body)
    assert set(rows) == set(UNIT_CODES.values())
    direct = by_operator(daily_quality(root, DAY))
    for name in SCALARS:
        assert rows[A][name] == direct[A][name]
    assert rows[A]["operator_name"] and rows[A]["rejections"]["outside_beijing"] == 4

    # An operator's staff: their own operator only; another's code is 404.
    mine = get(users["op_a"], date=DAY.isoformat())
    assert mine.status_code == 200
    assert [r["operator"] for r in mine.json()["operators"]] == [A]
    assert get(users["op_a"], date=DAY.isoformat(), operator=A).status_code == 200
    other = get(users["op_a"], date=DAY.isoformat(), operator=B)
    assert other.status_code == 404 and set(other.json()) == {"code", "message", "details"}
    # A district's staff: no operator falls in a district scope.
    district = get(users["district"], date=DAY.isoformat())
    assert district.status_code == 200 and district.json()["operators"] == []
    # Without the permission: 403.
    assert get(users["plain"], date=DAY.isoformat()).status_code == 403


@pytest.mark.parametrize("raw", ["2026-13-01", "2026-11-2", "yesterday", "2099-01-01", "0001-01-01", "1999-12-31"])
def test_api_bad_date_is_400(users, raw):
    response = get(users["center"], date=raw)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "bad_period"
    assert "date" in body["details"]
