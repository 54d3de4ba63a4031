"""The bike-share analyses on DuckDB against independent checks computed with pyarrow/numpy
from the same lake files (two synthetic days in different months, so month-on-month has
something to compare)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import h3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from django.db import transaction

from govcenter.analytics.engine import EngineUnavailableError, connect, pyspark_available
from govcenter.bikeshare import analyses as an
from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.core.districts import DistrictIndex
from tests.factories import UnitFactory

BEIJING = ZoneInfo("Asia/Shanghai")
DAYS = (dt.date(2026, 10, 30), dt.date(2026, 11, 2))
SCALE = 0.001
SEED = 7


def build_lake(root) -> None:
    """Two synthetic days written by the demo loader (needs a database with the operator units)."""
    with transaction.atomic():
        for code in UNIT_CODES.values():
            UnitFactory(code=code, kind="operator")
        for day in DAYS:
            load_day(day, scale=SCALE, seed=SEED, lake_root=root, register=False)
        transaction.set_rollback(True)  # the units were only needed for the load


_BUILT: dict[str, object] = {}


@pytest.fixture
def lake(db, tmp_path_factory):
    """The lake, built once per session by the first test that asks (inside its test database)."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("analyses") / "lake"
        build_lake(root)
        _BUILT["root"] = root
    return _BUILT["root"]


@pytest.fixture
def con(lake):
    backend = connect("duckdb", lake)
    yield backend
    backend.disconnect()


def read(lake, dataset: str) -> pa.Table:
    """A data set straight from its files with pyarrow (the ``date`` partition as a string)."""
    part = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    return ds.dataset(lake / dataset, format="parquet", partitioning=part).to_table()


def local(column, fmt: str) -> np.ndarray:
    return np.asarray(
        pc.strftime(column.cast(pa.timestamp("ms", tz="Asia/Shanghai")), format=fmt).to_pylist()
    )


def rows(table: pa.Table, keys: list[str], values: list[str]) -> dict:
    """A result as {key tuple: value tuple}; dates become ISO strings."""

    def norm(v):
        return v.isoformat() if isinstance(v, dt.date) else v

    data = table.to_pylist()
    out = {tuple(norm(r[k]) for k in keys): tuple(norm(r[v]) for v in values) for r in data}
    assert len(out) == len(data), "duplicate keys in the result"
    return out


@pytest.fixture
def trips(lake):
    return read(lake, "trips")


@pytest.fixture
def points(lake):
    return read(lake, "telemetry")


def start_hours(trips):
    return local(trips["start_time"], "%H").astype(int)


# -- (1) rides -------------------------------------------------------------------------------


def test_rides_by_hour_and_peaks(con, trips):
    got = an.run(an.rides_by_hour(con, DAYS[0], DAYS[1]))
    ops = np.asarray(trips["operator"].to_pylist())
    dates = local(trips["start_time"], "%Y-%m-%d")
    expected = Counter(zip(ops.tolist(), dates.tolist(), start_hours(trips).tolist(), strict=True))
    assert rows(got, ["operator", "date", "hour"], ["rides"]) == {k: (v,) for k, v in expected.items()}
    assert sum(expected.values()) == len(trips) > 0

    peaks = an.run(an.peak_hours(an.rides_by_hour(con, DAYS[0], DAYS[1])))
    per_day = defaultdict(dict)
    for (op, date, hour), n in expected.items():
        per_day[(op, date)][hour] = n
    want = {}
    for key, hours in per_day.items():
        best = min(hours, key=lambda h: (-hours[h], h))
        total = sum(hours.values())
        want[key] = (best, hours[best], total)
    assert rows(peaks, ["operator", "date"], ["peak_hour", "peak_rides", "day_rides"]) == want
    assert set(peaks["peak_hour"].to_pylist()) <= {6, 7, 8, 9, 16, 17, 18, 19, 20}  # commuter peaks


def test_rides_by_day_and_district(con, trips):
    got = an.run(an.rides_by_day(con, DAYS[0], DAYS[1], by_district=True))
    # Independent district answer: the per-point shapely reference, not the raster index.
    index = DistrictIndex.from_files()
    found = index.reference_lookup(trips["start_lon"].to_numpy(), trips["start_lat"].to_numpy())
    codes = np.append(index.codes, "")[found]
    expected = Counter(
        zip(trips["operator"].to_pylist(), codes.tolist(), trips["date"].to_pylist(), strict=True)
    )
    assert rows(got, ["operator", "district", "date"], ["rides"]) == {k: (v,) for k, v in expected.items()}
    assert len({k[1] for k in expected}) > 5  # several districts
    # Only the asked-for days are read.
    one = an.run(an.rides_by_day(con, DAYS[1], DAYS[1]))
    assert set(one["date"].to_pylist()) == {DAYS[1]}
    assert sum(one["rides"].to_pylist()) == sum(
        1 for d in trips["date"].to_pylist() if d == DAYS[1].isoformat()
    )


def test_monthly_rides_month_on_month(con, trips):
    got = an.run(an.monthly_rides(con, DAYS[0], DAYS[1]))
    per = defaultdict(lambda: [set(), 0])
    for op, date in zip(trips["operator"].to_pylist(), trips["date"].to_pylist(), strict=True):
        y, m, _ = (int(x) for x in date.split("-"))
        per[(op, y, m)][0].add(date)
        per[(op, y, m)][1] += 1
    result = {(r["operator"], r["year"], r["month"]): r for r in got.to_pylist()}
    assert set(result) == set(per)
    for (op, y, m), (days, n) in per.items():
        r = result[(op, y, m)]
        assert (r["days"], r["rides"]) == (len(days), n)
        prev = per.get((op, y, m - 1) if m > 1 else (op, y - 1, 12))
        if prev is None:
            assert r["mom_change"] is None
        else:
            expected = (n / len(days)) / (prev[1] / len(prev[0])) - 1
            assert r["mom_change"] == pytest.approx(expected, rel=1e-12)
        assert r["yoy_change"] is None  # no data a year back
    assert any(r["mom_change"] is not None for r in result.values())


# -- (2) heat map and trajectory --------------------------------------------------------------


def window():
    return (
        dt.datetime(2026, 11, 2, 7, 0, tzinfo=BEIJING),
        dt.datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING),
    )


def ms(column) -> list[int]:
    return column.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()


def epoch_s(column) -> np.ndarray:
    return column.cast(pa.int64()).to_numpy() / 1000.0


@pytest.mark.parametrize("source", ["telemetry", "trip_ends"])
def test_heatmap(con, points, trips, source):
    start, end = window()
    got = an.run(an.heatmap(con, start, end, resolution=8, points=source))
    if source == "telemetry":
        t, lon, lat, dev = points["timestamp"], points["lon"], points["lat"], points["device_id"]
    else:
        t, lon, lat, dev = trips["end_time"], trips["end_lon"], trips["end_lat"], trips["device_id"]
    s = epoch_s(t)
    inside = (s >= start.timestamp()) & (s < end.timestamp())
    cells = [
        h3.latlng_to_cell(y, x, 8)
        for x, y in zip(lon.to_numpy()[inside], lat.to_numpy()[inside], strict=True)
    ]
    devices = np.asarray(dev.to_pylist(), dtype=object)[inside]
    count, vehicles = Counter(cells), defaultdict(set)
    for c, d in zip(cells, devices, strict=True):
        vehicles[c].add(d)
    assert rows(got, ["cell"], ["points", "vehicles"]) == {
        (c,): (n, len(vehicles[c])) for c, n in count.items()
    }
    assert len(count) > 10
    assert got["points"].to_pylist() == sorted(got["points"].to_pylist(), reverse=True)


def test_trajectory(con, points, trips):
    start, end = window()
    starts = epoch_s(trips["start_time"])
    ridden = np.flatnonzero((starts >= start.timestamp()) & (starts < end.timestamp()))
    device = trips["device_id"][int(ridden[0])].as_py()  # a bike ridden in the window
    got = an.run(an.trajectory(con, start, end, device_id=device))
    s = epoch_s(points["timestamp"])
    mask = (
        (s >= start.timestamp())
        & (s < end.timestamp())
        & np.asarray(pc.equal(points["device_id"], device).to_numpy(zero_copy_only=False))
    )
    mine = points.filter(pa.array(mask)).sort_by("timestamp")
    assert len(mine) > 2
    assert ms(got["timestamp"]) == ms(mine["timestamp"])
    assert got["lon"].to_pylist() == mine["lon"].to_pylist()
    assert got["trip_id"].to_pylist() == mine["trip_id"].to_pylist()
    vehicle = mine["vehicle_id"][0].as_py() if len(mine) else trips["vehicle_id"][0].as_py()
    by_vehicle = an.run(an.trajectory(con, start, end, vehicle_id=vehicle))
    assert ms(by_vehicle["timestamp"]) == ms(got["timestamp"])


# -- (3) operator operations -----------------------------------------------------------------


def test_operator_daily(con, points, trips):
    got = an.run(an.operator_daily(con, DAYS[0], DAYS[1] + dt.timedelta(days=1)))
    seen, active, rides = defaultdict(set), defaultdict(set), Counter()
    for op, d, dev in zip(
        points["operator"].to_pylist(),
        points["date"].to_pylist(),
        points["device_id"].to_pylist(),
        strict=True,
    ):
        seen[(op, d)].add(dev)
    for op, d, dev in zip(
        trips["operator"].to_pylist(), trips["date"].to_pylist(), trips["device_id"].to_pylist(), strict=True
    ):
        active[(op, d)].add(dev)
        rides[(op, d)] += 1
    want = {}
    for key, devs in seen.items():
        a, n = len(active[key]), rides[key]
        want[key] = (len(devs), a, n, n / a if a else 0.0, a / len(devs))
    result = rows(
        got, ["operator", "date"], ["fleet_seen", "active_vehicles", "rides", "turnover", "utilisation"]
    )
    assert set(result) == set(want)
    for key, values in want.items():
        assert result[key][:3] == values[:3]
        assert result[key][3:] == pytest.approx(values[3:], rel=1e-12)
    assert {d for _, d in want} >= {d.isoformat() for d in DAYS}


def test_idle_vehicles(con, points, trips):
    as_of = DAYS[1]
    got = an.run(an.idle_vehicles(con, as_of, 2))
    window_days = {as_of.isoformat(), (as_of - dt.timedelta(days=1)).isoformat()}
    seen = {
        (op, dev)
        for op, d, dev in zip(
            points["operator"].to_pylist(),
            points["date"].to_pylist(),
            points["device_id"].to_pylist(),
            strict=True,
        )
        if d in window_days
    }
    ridden = {
        dev
        for d, dev in zip(trips["date"].to_pylist(), trips["device_id"].to_pylist(), strict=True)
        if d in window_days
    }
    idle = {(op, dev) for op, dev in seen if dev not in ridden}
    assert set(zip(got["operator"].to_pylist(), got["device_id"].to_pylist(), strict=True)) == idle
    assert 0 < len(idle) < len(seen)
    counts = an.run(an.idle_counts(an.idle_vehicles(con, as_of, 2)))
    assert dict(zip(counts["operator"].to_pylist(), counts["idle"].to_pylist(), strict=True)) == dict(
        Counter(op for op, _ in idle)
    )


# -- (7) rail stations -----------------------------------------------------------------------


def station_check(trips, stations: pa.Table, start, end):
    """Arrivals/departures per (station, Beijing date, hour), by numpy distances."""
    flows = defaultdict(lambda: [0, 0])
    for prefix, slot in (("end", 0), ("start", 1)):
        t = trips[f"{prefix}_time"]
        s = epoch_s(t)
        inside = (s >= start.timestamp()) & (s < end.timestamp())
        lon, lat = trips[f"{prefix}_lon"].to_numpy(), trips[f"{prefix}_lat"].to_numpy()
        dates, hours = local(t, "%Y-%m-%d"), local(t, "%H").astype(int)
        for st in stations.to_pylist():
            m_lon, m_lat = an.m_per_deg(st["lat"])
            d = np.hypot((lon - st["lon"]) * m_lon, (lat - st["lat"]) * m_lat)
            for i in np.flatnonzero(inside & (d <= st["radius_m"])):
                flows[(st["station_id"], dates[i], int(hours[i]))][slot] += 1
    return flows


def test_station_flows_imbalance_and_alerts(con, trips):
    start = dt.datetime(2026, 11, 2, 0, 0, tzinfo=BEIJING)
    end = dt.datetime(2026, 11, 3, 6, 0, tzinfo=BEIJING)
    stations = an.station_areas()
    assert len(stations) == 21
    flows_expr = an.station_flows(con, start, end, stations=stations)
    got = an.run(flows_expr)
    want = station_check(trips, stations, start, end)
    assert rows(got, ["station_id", "date", "hour"], ["arrivals", "departures", "net"]) == {
        k: (a, d, a - d) for k, (a, d) in want.items()
    }
    assert sum(a for a, _ in want.values()) > 20 and sum(d for _, d in want.values()) > 20

    daily = an.run(an.station_imbalance(flows_expr))
    per_day = defaultdict(lambda: [0, 0, 0, 0])
    for (sid, date, hour), (a, d) in want.items():
        v = per_day[(sid, date)]
        v[0] += a
        v[1] += d
        v[2] += (a - d) if hour in an.MORNING_PEAK else 0
        v[3] += (a - d) if hour in an.EVENING_PEAK else 0
    assert rows(daily, ["station_id", "date"], ["arrivals", "departures", "morning_net", "evening_net"]) == {
        k: tuple(v) for k, v in per_day.items()
    }

    threshold = 1
    alerts = an.run(an.accumulation_alerts(flows_expr, threshold=threshold))
    expected = {
        k for k, (a, d) in want.items() if k[2] in an.MORNING_PEAK + an.EVENING_PEAK and a - d > threshold
    }
    assert set(rows(alerts, ["station_id", "date", "hour"], ["net"])) == expected
    assert expected  # the synthetic commute piles bikes up at stations
    assert alerts["net"].to_pylist() == sorted(alerts["net"].to_pylist(), reverse=True)


# -- parameters and engine selection ---------------------------------------------------------


def test_bad_parameters_are_refused(con):
    start, end = window()
    with pytest.raises(ValueError, match="zone-aware"):
        an.heatmap(con, start.replace(tzinfo=None), end)
    with pytest.raises(ValueError, match="empty window"):
        an.trajectory(con, end, start, device_id="x")
    with pytest.raises(ValueError, match="exactly one"):
        an.trajectory(con, start, end)
    with pytest.raises(ValueError, match="resolution"):
        an.heatmap(con, start, end, resolution=16)
    with pytest.raises(ValueError, match="points"):
        an.heatmap(con, start, end, points="parked")
    with pytest.raises(ValueError, match="empty day range"):
        an.rides_by_day(con, DAYS[1], DAYS[0])
    with pytest.raises(ValueError, match="days"):
        an.idle_vehicles(con, DAYS[1], 0)
    with pytest.raises(ValueError, match="unknown analytics engine"):
        connect("trino", "/nonexistent")


def test_empty_lake_gives_empty_results(tmp_path):
    backend = connect("duckdb", tmp_path / "empty")
    assert an.run(an.rides_by_hour(backend, DAYS[0], DAYS[1])).num_rows == 0
    start, end = window()
    assert an.run(an.station_flows(backend, start, end)).num_rows == 0
    assert an.run(an.heatmap(backend, start, end)).num_rows == 0


@pytest.mark.skipif(pyspark_available(), reason="pyspark is installed: the refusal cannot be seen")
def test_pyspark_missing_is_a_clear_error(tmp_path):
    with pytest.raises(EngineUnavailableError, match="scale"):
        connect("pyspark", tmp_path)


@pytest.mark.parametrize("resolution", [0, 7, 8, 9, 15])
def test_h3_kernel_gives_the_reference_library_cells(resolution):
    """The vectorised kernel (h3ronpy) against h3-py point by point, around Beijing and far off."""
    rng = np.random.default_rng(resolution)
    lon = np.concatenate([rng.uniform(115.4, 117.6, 3000), rng.uniform(-180, 180, 500), [116.397, 180.0, -180.0]])
    lat = np.concatenate([rng.uniform(39.4, 41.1, 3000), rng.uniform(-90, 90, 500), [39.909, 90.0, -90.0]])
    got = an.h3_ints(lon, lat, resolution)
    assert got.dtype == np.int64
    assert got.tolist() == [h3.str_to_int(h3.latlng_to_cell(y, x, resolution)) for x, y in zip(lon, lat, strict=True)]
    assert an.h3_names(got).tolist() == [h3.int_to_str(int(c)) for c in got]
    assert an.h3_ints(np.array([]), np.array([]), resolution).tolist() == []


def test_h3_kernel_refuses_points_without_a_position():
    with pytest.raises(ValueError, match="finite"):
        an.h3_ints(np.array([116.4, np.nan]), np.array([39.9, 39.9]), 8)
