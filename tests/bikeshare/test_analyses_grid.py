"""Station flows meet trips and station circles in grid cells: the same rows as testing every pair.

Random trip ends around two stations whose circles straddle cell borders (one sits on a
corner of four cells); the arrivals counted per station must equal a brute-force count of
the points inside each circle, computed here with numpy.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pyarrow as pa
import pytest

from govcenter.analytics.engine import connect
from govcenter.analytics.lake import LakeWriter
from govcenter.bikeshare import analyses as an

BEIJING = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 11, 10, 8, 0, tzinfo=BEIJING)


def _stations() -> pa.Table:
    rows = []
    for sid, lon, lat, radius in (("corner", 116.40, 39.90, 400.0), ("edge", 116.4537, 39.93, 650.0)):
        m_lon, m_lat = an.m_per_deg(lat)
        rows.append({"station_id": sid, "station": sid, "lon": lon, "lat": lat, "radius_m": radius,
                     "m_lon": m_lon, "m_lat": m_lat})  # fmt: skip
    return pa.Table.from_pylist(rows)


def test_cells_cover_every_circle_and_flows_equal_the_brute_force_count(tmp_path):
    stations = _stations()
    cells = an.station_cells(stations)
    per_station = {}
    for sid, cell in zip(cells["station_id"].to_pylist(), cells["cell"].to_pylist(), strict=True):
        per_station.setdefault(sid, []).append(cell)
    assert len(per_station["corner"]) == len(set(per_station["corner"])) == 4  # a corner of 4 cells

    rng = np.random.default_rng(7)
    n = 4000
    which = rng.integers(0, 2, n)
    lon0 = np.where(which == 0, 116.40, 116.4537)
    lat0 = np.where(which == 0, 39.90, 39.93)
    lon = lon0 + rng.uniform(-0.01, 0.01, n)
    lat = lat0 + rng.uniform(-0.008, 0.008, n)
    minutes = rng.integers(0, 50, n)
    trips = [
        {"operator": "meituan", "trip_id": f"t{i}", "device_id": f"d{i}", "vehicle_id": f"v{i}",
         "start_time": START + dt.timedelta(minutes=int(minutes[i])) - dt.timedelta(minutes=9),
         "end_time": START + dt.timedelta(minutes=int(minutes[i])),
         "start_lon": 116.2, "start_lat": 39.8, "end_lon": float(lon[i]), "end_lat": float(lat[i]),
         "source_datum": "GCJ-02", "distance_m": 900.0, "duration_s": 540}
        for i in range(n)
    ]  # fmt: skip
    LakeWriter(tmp_path).write("trips", trips)

    flows = an.run(an.station_flows(connect("duckdb", tmp_path), START, START + dt.timedelta(hours=1),
                                    stations=stations))  # fmt: skip
    got = {r["station_id"]: r["arrivals"] for r in flows.to_pylist()}
    expected = {}
    for s in stations.to_pylist():
        dx = (lon - s["lon"]) * s["m_lon"]
        dy = (lat - s["lat"]) * s["m_lat"]
        expected[s["station_id"]] = int(np.count_nonzero(dx * dx + dy * dy <= s["radius_m"] ** 2))
    assert got == expected and min(expected.values()) > 100


@pytest.mark.parametrize(("lon", "lat"), [(116.40, 39.90), (116.409999, 39.909999), (116.0, 40.0)])
def test_a_point_and_its_cell_use_the_same_arithmetic(lon, lat):
    t = ibis.memtable({"lon": [lon], "lat": [lat]})
    key = ibis.duckdb.connect().execute(t.mutate(k=an._cell_key(t.lon, t.lat)))["k"][0]
    assert key == math.floor(lon / an.GRID_DEG) * 100_000 + math.floor(lat / an.GRID_DEG)
