"""Point → district lookup: the vectorised ``DistrictIndex`` against a per-point shapely loop.

Both are measured in the same run on the same polygons (the vendored GCJ-02 boundary
files; no database needed):

* baseline ``shapely per-point contains loop``: for each point, a ``shapely.Point`` tested
  with ``contains`` against the 16 *prepared* district polygons in order until one hits
  (with a bbox pre-check, which is how a careful per-point loop is written), on 20,000
  random points;
* ours: ``DistrictIndex.lookup`` on 2,000,000 random points, best of 3.

Points are uniform in Beijing's bounding box (about 55 % of them fall inside a district).
A second record gives the same lookup fed WGS-84 points (converted to GCJ-02 first), and a
third the index build time against building the 16 prepared polygons alone.

Run alone with ``python bench/bench_districts.py``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import shapely

try:  # imported as bench.bench_districts by bench/run.py
    from bench.common import record
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import record  # type: ignore[no-redef]

from govcenter.core.districts import DISTRICTS, DistrictIndex, read_geometry

BBOX = (115.42, 39.44, 117.52, 41.07)  # GCJ-02 lon/lat, Beijing with a margin
VECTOR_POINTS = 2_000_000
LOOP_POINTS = 20_000
TARGET = "≥ 1,000,000 points/s"


def random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(BBOX[0], BBOX[2], n), rng.uniform(BBOX[1], BBOX[3], n)


def shapely_loop_rate(index: DistrictIndex, lon: np.ndarray, lat: np.ndarray) -> float:
    """Points per second of the per-point loop (prepared polygons, bbox pre-check)."""
    polygons = index.polygons
    bounds = [p.bounds for p in polygons]
    start = time.perf_counter()
    found = 0
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        point = shapely.Point(x, y)
        for polygon, (x0, y0, x1, y1) in zip(polygons, bounds, strict=True):
            if x0 <= x <= x1 and y0 <= y <= y1 and polygon.contains(point):
                found += 1
                break
    elapsed = time.perf_counter() - start
    return len(lon) / elapsed


def vector_rate(index: DistrictIndex, lon: np.ndarray, lat: np.ndarray, datum: str = "GCJ-02") -> float:
    index.lookup(lon[:1000], lat[:1000], datum=datum)  # warm up
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        index.lookup(lon, lat, datum=datum)
        best = max(best, len(lon) / (time.perf_counter() - start))
    return best


def run() -> list[dict]:
    index = DistrictIndex.from_files()
    build_seconds = min(DistrictIndex.from_files().build_seconds for _ in range(2))
    geometries = [read_geometry(d.code) for d in DISTRICTS if d.path is not None]
    start = time.perf_counter()
    for geometry in geometries:
        shapely.prepare(shapely.from_geojson(json.dumps(geometry)))
    prepare_seconds = time.perf_counter() - start

    lon, lat = random_points(VECTOR_POINTS, seed=20251011)
    loop_lon, loop_lat = random_points(LOOP_POINTS, seed=7)
    baseline = shapely_loop_rate(index, loop_lon, loop_lat)
    ours = vector_rate(index, lon, lat)
    # The same places as WGS-84 GPS fixes: the lookup converts them first.
    from govcenter.core.geo import gcj02_to_wgs84

    wgs_lon, wgs_lat = gcj02_to_wgs84(lon, lat)
    ours_wgs = vector_rate(index, wgs_lon, wgs_lat, datum="WGS-84")
    return [
        record(
            name="core.district_lookup",
            value=ours,
            unit="points/s",
            baseline_name="shapely per-point contains loop",
            baseline_value=baseline,
            target=TARGET,
        ),
        record(
            name="core.district_lookup_wgs84",
            value=ours_wgs,
            unit="points/s",
            baseline_name="shapely per-point contains loop",
            baseline_value=baseline,
            target=TARGET,
        ),
        record(
            name="core.district_index_build",
            value=build_seconds,
            unit="s",
            baseline_name="parse + prepare the 16 polygons only",
            baseline_value=prepare_seconds,
            target="< 2 s (once per process)",
        ),
    ]


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item, ensure_ascii=False))
