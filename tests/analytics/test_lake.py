"""The Parquet lake: Beijing-date/operator partitions, schema metadata, atomic files,
compaction without duplicates, retention (系统瘦身) with hourly downsampling, and schema checks.

Expected values are computed here from the records written, independently of the lake code,
and read back through DuckDB (the engine analyses use)."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from govcenter.analytics.lake import (
    SCHEMA_VERSIONS,
    LakeWriter,
    compact,
    duckdb_connection,
    slim,
)
from govcenter.analytics.lake import compaction as lake_compaction
from govcenter.analytics.lake import files as lake_files
from govcenter.analytics.lake import retention as lake_retention
from govcenter.analytics.lake.schemas import DATASETS

UTC = dt.UTC
BEIJING = dt.timezone(dt.timedelta(hours=8))


def point(operator, device, ts, *, lon=116.40, lat=39.90, battery=None, trip=None, datum="WGS-84"):
    return {
        "operator": operator,
        "device_id": device,
        "vehicle_id": f"v-{device}",
        "timestamp": ts,
        "lon": lon,
        "lat": lat,
        "source_datum": datum,
        "battery_pct": battery,
        "trip_id": trip,
    }


def trip(operator, trip_id, start, *, device="d1", minutes=12):
    return {
        "operator": operator,
        "trip_id": trip_id,
        "device_id": device,
        "vehicle_id": f"v-{device}",
        "start_time": start,
        "end_time": start + dt.timedelta(minutes=minutes),
        "start_lon": 116.30,
        "start_lat": 39.95,
        "end_lon": 116.32,
        "end_lat": 39.96,
        "source_datum": "GCJ-02",
        "distance_m": 2100.5,
        "duration_s": minutes * 60,
    }


def event(operator, event_id, ts, *, device="d1", types=("trip_start",), lon=116.3, lat=39.9):
    return {
        "operator": operator,
        "event_id": event_id,
        "device_id": device,
        "vehicle_id": f"v-{device}",
        "timestamp": ts,
        "event_types": list(types),
        "vehicle_state": "on_trip",
        "lon": lon,
        "lat": lat,
        "source_datum": "GCJ-02" if lon is not None else None,
    }


def rows(con, sql):
    return con.execute(sql).fetchall()


def parquet_files(root: Path, dataset: str) -> list[Path]:
    return sorted((root / dataset).rglob("*.parquet"))


def test_batches_land_in_beijing_date_and_operator_partitions(tmp_path):
    writer = LakeWriter(tmp_path)
    late_evening = dt.datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 07:30 on the 26th in Beijing
    before_midnight = dt.datetime(2026, 11, 25, 15, 59, 59, 999000, tzinfo=UTC)  # 23:59:59.999 Beijing
    at_midnight = dt.datetime(2026, 11, 26, 0, 0, tzinfo=BEIJING)  # given in +08:00
    writer.write(
        "telemetry", [point("meituan", "d1", late_evening), point("hellobike", "d2", before_midnight)]
    )
    writer.write("telemetry", [point("meituan", "d1", before_midnight), point("meituan", "d3", at_midnight)])
    writer.write("telemetry", [point("meituan", "d1", late_evening + dt.timedelta(seconds=5))])

    layout = defaultdict(list)
    for path in parquet_files(tmp_path, "telemetry"):
        assert path.name.startswith("part-") and path.suffix == ".parquet"
        layout[(path.parent.parent.name, path.parent.name)].append(path)
    assert {k: len(v) for k, v in layout.items()} == {
        ("date=2026-11-26", "operator=meituan"): 3,  # one file per batch
        ("date=2026-11-25", "operator=hellobike"): 1,
        ("date=2026-11-25", "operator=meituan"): 1,
    }
    ts26 = [
        ts
        for p in layout[("date=2026-11-26", "operator=meituan")]
        for ts in pq.ParquetFile(p).read().column("timestamp").to_pylist()
    ]
    assert sorted(ts26) == [at_midnight, late_evening, late_evening + dt.timedelta(seconds=5)]
    any_file = layout[("date=2026-11-25", "operator=hellobike")][0]
    assert pq.ParquetFile(any_file).metadata.row_group(0).column(0).compression == "ZSTD"

    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT date::VARCHAR, operator, count(*) FROM telemetry GROUP BY ALL ORDER BY ALL") == [
        ("2026-11-25", "hellobike", 1),
        ("2026-11-25", "meituan", 1),
        ("2026-11-26", "meituan", 3),
    ]

    report = compact(tmp_path, "telemetry", date=dt.date(2026, 11, 26))  # one date only
    assert [(p.date, p.operator, p.files_before, p.files_after) for p in report.partitions] == [
        ("2026-11-26", "meituan", 3, 1)
    ]
    assert len(parquet_files(tmp_path, "telemetry")) == 3
    assert rows(con, "SELECT count(*) FROM telemetry WHERE date = DATE '2026-11-26'") == [(3,)]


def test_every_file_carries_dataset_and_schema_version(tmp_path):
    writer = LakeWriter(tmp_path)
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    writer.write("telemetry", [point("didi", "d1", t0, battery=55.0, trip="t1")])
    writer.write("trips", [trip("didi", "t1", t0)])
    writer.write(
        "events",
        [
            event("didi", "e1", t0, types=("trip_start", "reserve")),
            event("didi", "e2", t0, lon=None, lat=None),
        ],
    )
    for dataset in ("telemetry", "trips", "events"):
        (path,) = parquet_files(tmp_path, dataset)
        meta = pq.read_schema(path).metadata
        assert meta[b"govcenter.dataset"] == dataset.encode()
        assert meta[b"govcenter.schema_version"] == str(SCHEMA_VERSIONS[dataset]).encode()
        assert pq.read_schema(path).remove_metadata().equals(DATASETS[dataset].schema)
    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT event_id, event_types, lon FROM events ORDER BY event_id") == [
        ("e1", ["trip_start", "reserve"], 116.3),
        ("e2", ["trip_start"], None),
    ]


def test_compaction_merges_files_drops_duplicates_and_keeps_every_distinct_row(tmp_path):
    writer = LakeWriter(tmp_path)
    rnd = random.Random(7)
    base = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    points = [
        point(
            "meituan",
            f"d{rnd.randint(1, 4)}",
            base + dt.timedelta(seconds=30 * i),
            lon=116 + rnd.random(),
            lat=39.5 + rnd.random(),
            battery=rnd.choice([None, float(rnd.randint(5, 99))]),
        )
        for i in range(300)
    ]
    batches = [points[0:120], points[100:200], points[200:300], points[250:260]]  # overlaps: re-deliveries
    corrected = dict(points[10], battery_pct=1.0)  # the same key, re-sent later with a new value
    batches.append([corrected])
    for batch in batches:
        writer.write("telemetry", batch)

    expected = {}
    for batch in batches:  # last write of a key wins
        for p in batch:
            expected[(p["device_id"], p["timestamp"])] = p
    assert len(expected) == 300

    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT count(*) FROM telemetry")[0][0] == sum(len(b) for b in batches)

    report = compact(tmp_path, "telemetry")
    assert (report.files_before, report.files_after) == (5, 1)
    assert (report.rows_before, report.rows_after) == (sum(len(b) for b in batches), 300)
    assert report.bytes_after < report.bytes_before

    con = duckdb_connection(tmp_path)
    got = rows(con, "SELECT device_id, timestamp, lon, lat, battery_pct, vehicle_id FROM telemetry")
    assert len(got) == 300
    want = {
        (p["device_id"], p["timestamp"], p["lon"], p["lat"], p["battery_pct"], p["vehicle_id"])
        for p in expected.values()
    }
    assert {(d, ts.astimezone(UTC), lo, la, b, v) for d, ts, lo, la, b, v in got} == want
    assert rows(
        con,
        f"SELECT battery_pct FROM telemetry WHERE device_id = '{corrected['device_id']}' "
        f"AND timestamp = '{corrected['timestamp'].isoformat()}'",
    ) == [(1.0,)]

    (merged,) = parquet_files(tmp_path, "telemetry")
    keys = [(r["device_id"], r["timestamp"]) for r in pq.read_table(merged).to_pylist()]
    assert keys == sorted(keys)
    assert pq.read_schema(merged).metadata[b"govcenter.schema_version"] == b"1"

    again = compact(tmp_path, "telemetry")
    assert again.files_after == 1 and all(p.skipped for p in again.partitions)
    assert parquet_files(tmp_path, "telemetry") == [merged]


def test_compaction_dedupes_trips_and_events_by_their_ids(tmp_path):
    writer = LakeWriter(tmp_path)
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    trips = [trip("hellobike", f"t{i}", t0 + dt.timedelta(minutes=i), device=f"d{i % 3}") for i in range(10)]
    events = [
        event("hellobike", f"e{i}", t0 + dt.timedelta(minutes=i), device=f"d{i % 2}") for i in range(10)
    ]
    writer.write("trips", trips[:6])
    writer.write("trips", trips[4:])
    writer.write("trips", [dict(trips[0], distance_m=999.0)])
    writer.write("events", events)
    writer.write("events", events[::2])

    assert compact(tmp_path, "trips").rows_after == 10
    assert compact(tmp_path, "events").rows_after == 10
    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT count(DISTINCT trip_id), count(*) FROM trips") == [(10, 10)]
    assert rows(con, "SELECT distance_m FROM trips WHERE trip_id = 't0'") == [(999.0,)]
    assert rows(con, "SELECT count(DISTINCT event_id), count(*) FROM events") == [(10, 10)]


def test_crash_between_merge_and_delete_is_repaired_by_the_next_compaction(tmp_path):
    writer = LakeWriter(tmp_path)
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    for b in range(3):
        writer.write(
            "telemetry",
            [point("qingju", "d1", t0 + dt.timedelta(seconds=10 * (5 * b + i))) for i in range(5)],
        )
    saved = tmp_path / "saved"
    saved.mkdir()
    originals = parquet_files(tmp_path, "telemetry")
    for p in originals:
        shutil.copy2(p, saved / p.name)
    compact(tmp_path, "telemetry")
    for p in originals:  # the state after a crash: merged file written, inputs not yet removed
        shutil.copy2(saved / p.name, p)

    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT count(*), count(DISTINCT timestamp) FROM telemetry") == [(30, 15)]
    report = compact(tmp_path, "telemetry")
    assert (report.files_before, report.files_after, report.rows_after) == (4, 1, 15)
    assert rows(con, "SELECT count(*), count(DISTINCT timestamp) FROM telemetry") == [(15, 15)]


def test_files_are_never_visible_half_written(tmp_path, monkeypatch):
    writer = LakeWriter(tmp_path)
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    (first,) = writer.write("telemetry", [point("meituan", "d1", t0)])
    partition = first.parent

    # A writer that is still writing (or died while writing): a truncated Parquet under a temp name.
    torn = partition / ".part-0190d7c0-0000-7000-8000-000000000000.tmp"
    torn.write_bytes(first.read_bytes()[:40])
    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT count(*) FROM telemetry") == [(1,)]
    assert compact(tmp_path, "telemetry").rows_after == 1
    assert torn.exists()  # a fresh temp may belong to a live writer: left alone
    (first,) = parquet_files(tmp_path, "telemetry")  # compaction rewrote the single file

    # A crash between writing the temp and renaming it: the write fails, nothing is left behind.
    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(lake_files.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        writer.write("telemetry", [point("meituan", "d1", t0 + dt.timedelta(seconds=1))])
    monkeypatch.undo()
    assert sorted(p.name for p in partition.iterdir()) == sorted([first.name, torn.name])
    assert rows(con, "SELECT count(*) FROM telemetry") == [(1,)]

    # An old temp is a crashed writer's: compaction clears it.
    old = (dt.datetime.now() - dt.timedelta(hours=2)).timestamp()
    os.utime(torn, (old, old))
    writer.write("telemetry", [point("meituan", "d1", t0 + dt.timedelta(seconds=2))])
    compact(tmp_path, "telemetry")
    assert not torn.exists()
    assert rows(con, "SELECT count(*) FROM telemetry") == [(2,)]


def _telemetry_days(writer, today, days, per_hour=30):
    """Points for two operators, three devices, every hour of the last ``days`` Beijing dates."""
    rnd = random.Random(42)
    written = []
    for back in range(days):
        day = today - dt.timedelta(days=back)
        start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=BEIJING)
        batch = []
        for operator in ("meituan", "hellobike"):
            for device in ("d1", "d2", "d3"):
                for hour in range(0, 24, 3):
                    for i in range(per_hour):
                        ts = start + dt.timedelta(hours=hour, seconds=100 * i + rnd.randint(0, 50))
                        battery = None if rnd.random() < 0.2 else round(rnd.uniform(10, 100), 1)
                        batch.append(
                            point(
                                operator,
                                device,
                                ts,
                                lon=116 + rnd.random(),
                                lat=39.6 + rnd.random(),
                                battery=battery,
                            )
                        )
        for part in (batch[: len(batch) // 2], batch[len(batch) // 2 :]):  # two files per partition
            writer.write("telemetry", part)
        written.extend(batch)
    return written


def _expected_hourly(points, before_date):
    groups = defaultdict(list)
    for p in points:
        if p["timestamp"].astimezone(BEIJING).date() < before_date:
            hour = p["timestamp"].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            groups[(p["operator"], p["device_id"], hour)].append(p)
    expected = {}
    for key, pts in groups.items():
        pts.sort(key=lambda p: p["timestamp"])
        batteries = [p["battery_pct"] for p in pts if p["battery_pct"] is not None]
        expected[key] = (
            len(pts),
            (pts[0]["lon"], pts[0]["lat"]),
            (pts[-1]["lon"], pts[-1]["lat"]),
            len(batteries),
            sum(batteries) / len(batteries) if batteries else None,
        )
    return expected


def _hourly(con):
    got = {}
    for op, dev, hour, n, flon, flat, llon, llat, bc, bm in rows(
        con,
        "SELECT operator, device_id, hour, point_count, first_lon, first_lat, last_lon, last_lat, "
        "battery_count, battery_pct_mean FROM telemetry_hourly",
    ):
        got[(op, dev, hour.astimezone(UTC))] = (n, (flon, flat), (llon, llat), bc, bm)
    return got


def _assert_hourly_equal(got, expected):
    assert got.keys() == expected.keys()
    for key, (n, first, last, bc, bm) in expected.items():
        g = got[key]
        assert g[:4] == (n, first, last, bc), key
        assert (g[4] is None and bm is None) or g[4] == pytest.approx(bm), key


def test_slim_downsamples_old_telemetry_to_hourly_and_reports_fewer_bytes(tmp_path):
    writer = LakeWriter(tmp_path)
    today = dt.date(2026, 11, 26)
    points = _telemetry_days(writer, today, days=5)
    t0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    writer.write("trips", [trip("meituan", f"t{i}", t0 + dt.timedelta(hours=i)) for i in range(30)])
    trips_files = parquet_files(tmp_path, "trips")

    report = slim(tmp_path, today=today, raw_telemetry_days=2)
    cutoff = dt.date(2026, 11, 25)
    assert report.cutoff == cutoff.isoformat()
    old_points = [p for p in points if p["timestamp"].astimezone(BEIJING).date() < cutoff]
    assert report.raw_rows == len(old_points)
    assert sorted(report.partitions_downsampled) == sorted(
        (d, op) for d in ("2026-11-22", "2026-11-23", "2026-11-24") for op in ("hellobike", "meituan")
    )
    assert report.datasets["telemetry"].after < report.datasets["telemetry"].before
    assert report.datasets["telemetry_hourly"].before == 0 < report.datasets["telemetry_hourly"].after
    assert report.datasets["trips"].after == report.datasets["trips"].before > 0
    assert report.bytes_after < report.bytes_before
    assert parquet_files(tmp_path, "trips") == trips_files

    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT DISTINCT date::VARCHAR FROM telemetry ORDER BY 1") == [
        ("2026-11-25",),
        ("2026-11-26",),
    ]
    assert not (tmp_path / "telemetry" / "date=2026-11-24").exists()
    expected = _expected_hourly(points, cutoff)
    _assert_hourly_equal(_hourly(con), expected)
    assert rows(con, "SELECT sum(point_count) FROM telemetry_hourly")[0][0] == len(old_points)
    assert rows(con, "SELECT count(*) FROM trips") == [(30,)]

    again = slim(tmp_path, today=today, raw_telemetry_days=2)  # nothing left to do
    assert again.raw_rows == 0 and again.bytes_after == again.bytes_before
    _assert_hourly_equal(_hourly(con), expected)


def test_slim_after_a_crash_does_not_count_twice_and_late_data_adds_up(tmp_path, monkeypatch):
    writer = LakeWriter(tmp_path)
    today = dt.date(2026, 11, 26)
    points = _telemetry_days(writer, today, days=3, per_hour=10)

    def crash(paths):
        raise OSError("simulated crash before the raw files are removed")

    monkeypatch.setattr(lake_retention, "remove_files", crash)
    with pytest.raises(OSError, match="simulated crash"):
        slim(tmp_path, today=today, raw_telemetry_days=1)
    monkeypatch.undo()
    assert parquet_files(tmp_path, "telemetry_hourly")  # written before the crash
    slim(tmp_path, today=today, raw_telemetry_days=1)
    con = duckdb_connection(tmp_path)
    _assert_hourly_equal(_hourly(con), _expected_hourly(points, today))

    # Telemetry arriving late for a date already slimmed is summarised into the same hours.
    late = [
        point(
            "meituan",
            "d1",
            dt.datetime(2026, 11, 24, 16, 30, tzinfo=UTC) + dt.timedelta(seconds=7 * i),
            battery=50.0,
        )
        for i in range(4)
    ]  # 00:30 Beijing on the 25th
    writer.write("telemetry", late)
    # ... and the merge of the partial hourly files crashes before removing its inputs.
    monkeypatch.setattr(lake_compaction, "remove_files", lambda paths: None)
    slim(tmp_path, today=today, raw_telemetry_days=1)
    monkeypatch.undo()
    assert len(parquet_files(tmp_path, "telemetry_hourly")) == 6  # merged file + its two inputs
    summarised = len(points) - 10 * 8 * 6 + len(late)  # all but today's raw points
    assert rows(con, "SELECT sum(point_count) FROM telemetry_hourly")[0][0] > summarised  # counted twice
    report = compact(tmp_path, "telemetry_hourly")  # the leftovers are recognised by their sources
    assert (report.files_before, report.files_after) == (6, 4)  # one per (date, operator)
    _assert_hourly_equal(_hourly(con), _expected_hourly(points + late, today))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pa.table({"operator": ["m"], "device_id": ["d"]}), r"missing columns \['vehicle_id', 'timestamp'"),
        ("lon_as_string", r"telemetry\.lon: wrong type string"),
        ("naive_table", r"telemetry\.timestamp: wrong type timestamp\[ms\]"),
        ([dict(point("m", "d", dt.datetime(2026, 11, 1, 8, 0)))], r"naive datetime"),
        (
            [dict(point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC)), lon="east")],
            r"telemetry\.lon: wrong type",
        ),
        (
            [dict(point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC)), colour="red")],
            r"unknown columns \['colour'\]",
        ),
        (
            [{k: v for k, v in point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC)).items() if k != "lat"}],
            r"missing columns \['lat'\]",
        ),
        ([dict(point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC)), device_id=None)], r"device_id: 1 null"),
        (
            [point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC), datum="Beijing-54")],
            r"unknown datum 'Beijing-54'",
        ),
        ([point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC), lat=95.0)], r"telemetry\.lat: value outside"),
        ([point("../etc", "d", dt.datetime(2026, 11, 1, tzinfo=UTC))], r"operator code '\.\./etc'"),
    ],
)
def test_schema_mismatch_is_a_clear_value_error_and_writes_nothing(tmp_path, data, message):
    good = pa.Table.from_pylist(
        [point("m", "d", dt.datetime(2026, 11, 1, tzinfo=UTC))], schema=DATASETS["telemetry"].schema
    )
    if data == "lon_as_string":
        data = good.set_column(good.schema.get_field_index("lon"), "lon", pa.array(["116.4"]))
    elif data == "naive_table":
        data = good.set_column(
            good.schema.get_field_index("timestamp"),
            "timestamp",
            good.column("timestamp").cast(pa.timestamp("ms")),
        )
    with pytest.raises(ValueError, match=message):
        LakeWriter(tmp_path).write("telemetry", data)
    assert not list(tmp_path.rglob("*.parquet"))


def test_an_event_position_is_all_or_nothing_and_carries_its_datum(tmp_path):
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    writer = LakeWriter(tmp_path)
    with pytest.raises(ValueError, match="lon and lat must be given together"):
        writer.write("events", [event("m", "e1", t0, lat=None)])
    with pytest.raises(ValueError, match=r"events\.source_datum: required where a position is given"):
        writer.write("events", [dict(event("m", "e1", t0), source_datum=None)])
    assert not list(tmp_path.rglob("*.parquet"))
    assert len(writer.write("events", [event("m", "e1", t0, lon=None, lat=None)])) == 1


def test_a_table_with_compatible_types_is_accepted_and_unknown_dataset_refused(tmp_path):
    table = pa.table(
        {
            "operator": pa.array(["m"], pa.large_string()),
            "device_id": ["d"],
            "vehicle_id": ["v"],
            "timestamp": pa.array(
                [dt.datetime(2026, 11, 1, 1, 2, 3, 4000, tzinfo=UTC)], pa.timestamp("us", "UTC")
            ),
            "lon": pa.array([116], pa.int32()),
            "lat": [39.9],
            "source_datum": ["GCJ-02"],
            "battery_pct": pa.array([None], pa.float64()),
            "trip_id": pa.array([None], pa.string()),
        }
    )
    (path,) = LakeWriter(tmp_path).write("telemetry", table)
    assert pq.read_schema(path).remove_metadata().equals(DATASETS["telemetry"].schema)
    with pytest.raises(ValueError, match="unknown lake data set 'positions'"):
        LakeWriter(tmp_path).write("positions", table)


def test_a_file_of_a_newer_schema_version_is_refused(tmp_path):
    writer = LakeWriter(tmp_path)
    t0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    (path,) = writer.write("trips", [trip("m", "t1", t0)])
    table = pq.read_table(path)
    newer = table.replace_schema_metadata({**table.schema.metadata, b"govcenter.schema_version": b"99"})
    pq.write_table(newer, path.with_name("part-newer.parquet"))
    with pytest.raises(ValueError, match="schema version 99 is newer"):
        compact(tmp_path, "trips")
    assert len(parquet_files(tmp_path, "trips")) == 2  # nothing removed


def test_views_exist_on_an_empty_lake(tmp_path):
    con = duckdb_connection(tmp_path)
    for name, spec in DATASETS.items():
        columns = [r[0] for r in rows(con, f"DESCRIBE {name}")]
        assert columns == [*spec.schema.names, "date"]
        assert rows(con, f"SELECT count(*) FROM {name}") == [(0,)]


KILLED_WRITER = """
import datetime as dt, sys
import pyarrow as pa
from govcenter.analytics.lake import LakeWriter
from govcenter.analytics.lake.schemas import DATASETS
n = 50_000
t0 = int(dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC).timestamp() * 1000)
table = pa.table({
    "operator": ["meituan"] * n, "device_id": [f"d{i % 97}" for i in range(n)],
    "vehicle_id": ["v"] * n, "timestamp": pa.array(range(t0, t0 + n), pa.timestamp("ms", "UTC")),
    "lon": [116.0 + i * 1e-6 for i in range(n)], "lat": [39.9] * n, "source_datum": ["GCJ-02"] * n,
    "battery_pct": pa.nulls(n, pa.float64()), "trip_id": pa.nulls(n, pa.string()),
}, schema=DATASETS["telemetry"].schema)
writer = LakeWriter(sys.argv[1])
i = 0
while True:
    writer.write("telemetry", table)
    i += 1
    print(i, flush=True)
"""


def test_a_concurrent_reader_and_a_killed_writer_only_ever_see_complete_files(tmp_path):
    """A reader polling while another process writes, and the lake after that process is SIGKILLed."""
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.DEVNULL)
    verified = set()
    try:
        while len(verified) < 8:  # read every file the moment it appears, as an analysis would
            assert proc.poll() is None, "the writer died"
            for path in parquet_files(tmp_path, "telemetry"):
                if path not in verified:
                    assert pq.ParquetFile(path).read().num_rows == 50_000
                    verified.add(path)
            time.sleep(0.001)
        time.sleep(random.uniform(0, 0.1))  # kill it somewhere inside a later write (not an assertion)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    files = parquet_files(tmp_path, "telemetry")
    for path in files:
        assert pq.ParquetFile(path).read().num_rows == 50_000
    con = duckdb_connection(tmp_path)
    assert rows(con, "SELECT count(*) FROM telemetry") == [(50_000 * len(files),)]


def test_lake_settings_have_defaults_and_are_validated(settings, tmp_path):
    from govcenter.analytics.lake.config import lake_root, raw_telemetry_days

    settings.GOVCENTER_VAR_DIR = tmp_path / "var"
    for name in ("GOVCENTER_LAKE_DIR", "GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert lake_root() == tmp_path / "var" / "lake"
    assert raw_telemetry_days() == 90
    settings.GOVCENTER_LAKE_DIR = str(tmp_path / "elsewhere")
    settings.GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS = "30"
    assert (lake_root(), raw_telemetry_days()) == (tmp_path / "elsewhere", 30)
    settings.GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS = "0"
    with pytest.raises(ValueError, match="must be ≥ 1"):
        raw_telemetry_days()
