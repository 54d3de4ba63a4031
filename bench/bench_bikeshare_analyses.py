"""Bike-share analyses 1, 2, 3, 5 and 7 over a month of trips: DuckDB vs a naive scan, vs PySpark.

The issue's target: each analysis over one month (about 95 million trips at scale 1.0) in at
most 2 s on DuckDB on this 2-core machine, and the DuckDB : PySpark ratio on the same data.

Data (cached; reused while the parameters are the same — ``manifest.json``):

* the **month lake** under ``GOVCENTER_VAR_DIR/bench/bikeshare-month-s<scale>-d<days>-<seed>``:
  trips only (no telemetry) of ``--days`` consecutive Beijing days from 2026-10-17 (so the
  month-on-month comparison has two calendar months), each day a ``synth.generate_day`` of
  its own seed (``seed + k``) at ``--scale`` (3.1 M trips a day at 1.0), written with the
  lake writer; device ids come from one fleet (the demo's uuid5 of seed and bike index);
* the **telemetry lake** (same directory, ``telemetry-lake``): one day at scale
  ``min(--scale, 0.02)`` with its trips *and* telemetry (ride points every 120 s, parked
  reports every 4 h) — analyses 2 (telemetry heat map, one trajectory) and 3 (operator daily,
  idle bikes) need telemetry, which the month lake leaves out (30 M points a day);
* the **live store** (``live.db``, SQLite, the embedded default): every bike of the month's
  last day where its last ride ended.

The analyses (``bikeshare.analyses``, DuckDB through Ibis), each timed as the median of 3 runs
after a warm-up run, everything the analysis computes counted:

1. rides by hour over the month + the peak hour of each day + monthly rides with MoM / YoY;
2. H3 (res 8) heat map of trip starts in the morning peak (07:00–10:00) of the month's middle
   day (month lake), plus the telemetry heat map of the same window and one bike's trajectory
   of the day (telemetry lake);
3. operator daily (fleet seen, active, turnover, utilisation) and idle bikes (telemetry lake);
5. distribution vs quotas: **not lake-based** — the live counts per district of each operator
   (``LiveState.count_by_district``) that ``selectors.quotas.quota_usage`` compares with the
   quotas (the quota rows themselves are a small PostgreSQL/SQLite query, not timed here);
7. rail-station flows over the month (arrivals / departures per station and hour), the daily
   tidal imbalance and the peak-hour accumulation alerts.

Baseline in the same run (``naive``): the same answer computed by a full scan with pyarrow
(``pyarrow.dataset`` reading the needed columns of every file of the window, numpy / Arrow
group-by, the same H3 and district kernels), i.e. what one would write without a query engine;
for 5, recounting the bikes' districts from their positions with the district index. With
``--spark`` (the default when pyspark is installed) analyses 1, 2, 3 and 7 also run on PySpark
(local[2]) over the first ``--spark-days`` days (7 by default: a month of trips at scale 1.0
does not fit Spark's default 1 GB local driver; with ``GOVCENTER_SPARK_DRIVER_MEMORY=6g``
``--spark-days 30`` runs the whole month) and DuckDB is timed again on exactly those days;
the record's ratio is DuckDB seconds / PySpark seconds (below 1: DuckDB faster).

Analyses 1 and 7 **as served** (``bikeshare.rollups``, what the pages, the API and the monthly
report run): every partition's rollups rebuilt (timed: the cost per day of trips, paid once by
the periodic job), then five minutes' worth of new trips written to the last day's partitions
(what the 5-minute job has not summarised yet; removed afterwards) and the same answers timed
through the rollups plus a scan of just those files; baseline: the raw DuckDB analysis above.

Run alone: ``python bench/bench_bikeshare_analyses.py [--scale 1.0] [--days 30] [--no-spark | --spark-only]
[--spark-days 7] [--runs 3]``.
``make bench`` runs it at ``GOVCENTER_BENCH_ANALYSES_SCALE`` (default 0.1) over 30 days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

try:
    from bench.common import main, record, run_isolated
except ImportError:
    from common import main, record, run_isolated  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
FIRST_DAY = dt.date(2026, 10, 17)
SEED = 20240901
TELEMETRY_SCALE = 0.02
TARGET_S = 2.0
DATA_VERSION = 1  # bump when the generated data changes


def _src_path() -> None:
    """The source tree importable and Django set up (fence files' messages are translated)."""
    for p in (str(ROOT), str(ROOT / "src")):
        if p not in sys.path:
            sys.path.insert(0, p)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.settings")
    os.environ.setdefault("GOVCENTER_DEBUG", "true")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scale", type=float, default=float(os.environ.get("GOVCENTER_BENCH_ANALYSES_SCALE", "0.1"))
    )
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--spark", dest="spark", action="store_true", default=None)
    p.add_argument("--no-spark", dest="spark", action="store_false")
    p.add_argument("--spark-days", type=int, default=7)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--spark-only", action="store_true", help="only the DuckDB : PySpark comparison")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 2 or not 1 <= args.days <= 400 or args.spark_days < 1 or args.runs < 1:
        p.error("--scale in (0, 2], --days 1–400, --spark-days ≥ 1, --runs ≥ 1")
    return args


# -- data --------------------------------------------------------------------------------------


def var_dir() -> Path:
    return Path(os.environ.get("GOVCENTER_VAR_DIR", ROOT / "var")).resolve()


def _trip_table(synthetic, devices, vehicles, bike_operator, day: dt.date):
    """The lake's trips table of one synthetic day, built column by column (no Python loop)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    trips = synthetic.trips
    dev = pa.array(trips["device_index"])
    n = synthetic.n_trips
    ts = pa.timestamp("ms", tz="UTC")
    return pa.table({
        "operator": bike_operator.take(dev),
        "trip_id": pc.binary_join_element_wise(f"{SEED:x}-{day.isoformat()}-", pa.array(np.arange(n)).cast(pa.string()), ""),
        "device_id": devices.take(dev),
        "vehicle_id": vehicles.take(dev),
        "start_time": pa.array(trips["start_ms"], type=ts),
        "end_time": pa.array(trips["end_ms"], type=ts),
        "start_lon": trips["start_lon"], "start_lat": trips["start_lat"],
        "end_lon": trips["end_lon"], "end_lat": trips["end_lat"],
        "source_datum": pa.array(["GCJ-02"] * 1, pa.string()).take(pa.array(np.zeros(n, dtype=np.int64))),
        "distance_m": trips["distance_m"].astype(np.float64),
        "duration_s": (trips["end_ms"] - trips["start_ms"]) // 1000,
    })  # fmt: skip


def _fleet(synthetic):
    """Device ids, vehicle ids and operator codes of a day's bikes as Arrow arrays."""
    import numpy as np
    import pyarrow as pa

    from govcenter.bikeshare.demo_scale import UNIT_CODES, device_ids, vehicle_ids
    from govcenter.bikeshare.synth import OPERATORS

    op_codes = np.array([UNIT_CODES[c] for c, _n, _s in OPERATORS], dtype=object)
    return (
        pa.array(device_ids(synthetic), pa.string()),
        pa.array(vehicle_ids(synthetic), pa.string()),
        pa.array(op_codes[synthetic.bikes["operator_index"]], pa.string()),
    )


def _stations():
    from govcenter.bikeshare.geo import rail_station_fences

    return [(f.geometry.centroid.x, f.geometry.centroid.y) for f in rail_station_fences()]


def ensure_data(scale: float, days: int, log=print) -> Path:
    """The cached bench data directory (built here unless its manifest matches)."""
    _src_path()
    import numpy as np

    from govcenter.analytics.lake.writer import LakeWriter
    from govcenter.bikeshare.synth import generate_day
    from govcenter.core.districts import DistrictIndex

    params = {"version": DATA_VERSION, "scale": scale, "days": days, "first": FIRST_DAY.isoformat(), "seed": SEED,
              "telemetry_scale": min(scale, TELEMETRY_SCALE)}  # fmt: skip
    base = var_dir() / "bench" / f"bikeshare-month-s{scale:g}-d{days}-{SEED}"
    manifest = base / "manifest.json"
    if manifest.exists():
        got = json.loads(manifest.read_text())
        if {k: got.get(k) for k in params} == params:
            return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    t0 = time.perf_counter()
    index, stations = DistrictIndex.from_files(), _stations()
    writer = LakeWriter(base / "lake")
    fleet = None
    total = 0
    last = None
    for k in range(days):
        day = FIRST_DAY + dt.timedelta(days=k)
        synthetic = generate_day(day, scale=scale, seed=SEED + k, stations=stations, index=index)
        if fleet is None:
            fleet = _fleet(synthetic)  # one fleet: the same bikes every day
        writer.write("trips", _trip_table(synthetic, *fleet, day))
        total += synthetic.n_trips
        last = synthetic
        log(f"  generated {day}: {synthetic.n_trips:,} trips ({time.perf_counter() - t0:.0f} s)")

    # One day with telemetry, small (analyses 2 and 3).
    tday = FIRST_DAY + dt.timedelta(days=days // 2)
    small = generate_day(tday, scale=params["telemetry_scale"], seed=SEED, stations=stations, index=index)
    devices, vehicles, operators = _fleet(small)
    twriter = LakeWriter(base / "telemetry-lake")
    twriter.write("trips", _trip_table(small, devices, vehicles, operators, tday))
    points = 0
    import pyarrow as pa

    for chunk in small.telemetry_chunks():
        d = pa.array(chunk["device_index"])
        t = chunk["trip_index"]
        trip_ids = np.where(t >= 0, np.char.add(f"{SEED:x}-{tday.isoformat()}-", t.astype(str)), None)
        n = len(t)
        twriter.write("telemetry", pa.table({
            "operator": operators.take(d), "device_id": devices.take(d), "vehicle_id": vehicles.take(d),
            "timestamp": pa.array(chunk["timestamp_ms"], pa.timestamp("ms", tz="UTC")),
            "lon": chunk["lon"], "lat": chunk["lat"],
            "source_datum": pa.array(["GCJ-02"] * n, pa.string()),
            "battery_pct": pa.nulls(n, pa.float64()), "trip_id": pa.array(trip_ids, pa.string()),
        }))  # fmt: skip
        points += n

    # The live store: every bike where the month's last day left it.
    _fill_live(base / "live.db", last, *fleet)
    manifest.write_text(json.dumps({**params, "trips": total, "telemetry_points": points,
                                    "bikes": last.n_bikes, "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip
    log(f"  bench data: {total:,} trips, {points:,} telemetry points, {time.perf_counter() - t0:.0f} s")
    return base


def _fill_live(path: Path, synthetic, devices, vehicles, operators) -> None:
    import numpy as np

    from govcenter.bikeshare.live import open_live_state

    trips, n = synthetic.trips, synthetic.n_bikes
    lon, lat = synthetic.bikes["home_lon"].copy(), synthetic.bikes["home_lat"].copy()
    ts = np.full(n, synthetic.day_start_ms, dtype=np.int64)
    dev = trips["device_index"]
    lastt = np.r_[dev[1:] != dev[:-1], True]
    lon[dev[lastt]], lat[dev[lastt]], ts[dev[lastt]] = (
        trips["end_lon"][lastt],
        trips["end_lat"][lastt],
        trips["end_ms"][lastt],
    )
    dl, vl, ol = devices.to_pylist(), vehicles.to_pylist(), operators.to_pylist()
    from govcenter.core.districts import DistrictIndex

    with open_live_state(f"sqlite://{path}", districts=DistrictIndex.from_files()) as live:
        for first in range(0, n, 20_000):
            part = slice(first, first + 20_000)
            live.update({"operator": ol[part], "device_id": dl[part], "vehicle_id": vl[part], "timestamp_ms": ts[part],
                         "lon": lon[part], "lat": lat[part], "vehicle_state": ["available"] * len(ts[part])})  # fmt: skip


# -- the analyses ---------------------------------------------------------------------------------


def _beijing(day: dt.date, hour: int) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo("Asia/Shanghai"))


class Analyses:
    """Each analysis as parts ``(lake, fn(con) -> rows)``; ``lake`` is ``month`` or ``telemetry``."""

    def __init__(self, first: dt.date, last: dt.date, tday: dt.date, device: str):
        self.first, self.last, self.tday, self.device = first, last, tday, device
        self.mid = first + (last - first) // 2

    def parts(self, key: str) -> list[tuple[str, object]]:
        return getattr(self, key)()

    def a1(self):
        from govcenter.bikeshare import analyses as an

        def rides(con):
            hourly = an.run(an.rides_by_hour(con, self.first, self.last))
            peaks = an.run(an.peak_hours(an.rides_by_hour(con, self.first, self.last)))
            monthly = an.run(an.monthly_rides(con, self.first, self.last))
            return hourly.num_rows + peaks.num_rows + monthly.num_rows

        return [("month", rides)]

    def a2(self):
        from govcenter.bikeshare import analyses as an

        def starts(con):
            return an.run(
                an.heatmap(con, _beijing(self.mid, 7), _beijing(self.mid, 10), points="trip_starts")
            ).num_rows

        def points(con):
            heat = an.run(
                an.heatmap(con, _beijing(self.tday, 7), _beijing(self.tday, 10), points="telemetry")
            )
            end = _beijing(self.tday + dt.timedelta(days=1), 0)
            path = an.run(an.trajectory(con, _beijing(self.tday, 0), end, device_id=self.device))
            return heat.num_rows + path.num_rows

        return [("month", starts), ("telemetry", points)]

    def a3(self):
        from govcenter.bikeshare import analyses as an

        def ops(con):
            daily = an.run(an.operator_daily(con, self.tday, self.tday))
            idle = an.run(an.idle_counts(an.idle_vehicles(con, self.tday, 1)))
            return daily.num_rows + idle.num_rows

        return [("telemetry", ops)]

    def a7(self):
        import ibis

        from govcenter.bikeshare import analyses as an

        def stations(con):
            end = _beijing(self.last + dt.timedelta(days=1), 0)
            flows = an.run(an.station_flows(con, _beijing(self.first, 0), end))
            table = ibis.memtable(flows)
            imbalance = an.run(an.station_imbalance(table))
            alerts = an.run(an.accumulation_alerts(table, threshold=20))
            return flows.num_rows + imbalance.num_rows + alerts.num_rows

        return [("month", stations)]


def time_parts(analyses: Analyses, key: str, connect_to, runs: int) -> float:
    """Sum over an analysis's parts of each part's median time; ``connect_to(lake)`` gives the
    backend (connected before the clock starts)."""
    total = 0.0
    for lake, fn in analyses.parts(key):
        con = connect_to(lake)
        total += timed(lambda fn=fn, con=con: fn(con), runs)
    return total


def _read(root: Path, dataset: str, columns: list[str], first: dt.date, last: dt.date, filt=None):
    import pyarrow as pa
    import pyarrow.dataset as ds

    part = ds.partitioning(pa.schema([("date", pa.date32()), ("operator", pa.string())]), flavor="hive")
    data = ds.dataset(root / dataset, format="parquet", partitioning=part)
    cond = (ds.field("date") >= first) & (ds.field("date") <= last)
    if filt is not None:
        cond = cond & filt
    return data.to_table(columns=columns, filter=cond)


def _utc_ms(moment: dt.datetime):
    import pyarrow as pa

    return pa.scalar(int(moment.timestamp() * 1000), pa.timestamp("ms", tz="UTC"))


def _local(ts_column):
    """Beijing seconds of a timestamp column (numpy int64)."""
    import pyarrow as pa

    return ts_column.cast(pa.int64()).to_numpy() // 1000 + 8 * 3600


class Naive:
    """The same answers by a full pyarrow scan + numpy / Arrow group-by (the baseline)."""

    def __init__(self, analyses: Analyses, lake: Path, tlake: Path):
        self.a, self.lake, self.tlake = analyses, lake, tlake

    def a1(self):
        import numpy as np
        import pyarrow as pa

        t = _read(self.lake, "trips", ["operator", "start_time"], self.a.first, self.a.last)
        s = _local(t["start_time"])
        day, hour = s // 86_400, (s // 3600) % 24
        keyed = pa.table({"operator": t["operator"], "day": day, "hour": hour})
        hourly = keyed.group_by(["operator", "day", "hour"]).aggregate([([], "count_all")])
        # peak hour per (operator, day): sort by count desc, hour asc, first of each group
        srt = hourly.sort_by(
            [
                ("operator", "ascending"),
                ("day", "ascending"),
                ("count_all", "descending"),
                ("hour", "ascending"),
            ]
        )
        o, d = srt["operator"].to_numpy(zero_copy_only=False), srt["day"].to_numpy()
        firsts = np.r_[True, (o[1:] != o[:-1]) | (d[1:] != d[:-1])]
        dates = (np.datetime64("1970-01-01") + day.astype("timedelta64[D]")).astype("datetime64[M]")
        monthly = pa.table({"operator": t["operator"], "month": dates.astype(np.int64), "day": day})
        m = monthly.group_by(["operator", "month"]).aggregate([([], "count_all"), ("day", "count_distinct")])
        return hourly.num_rows + int(firsts.sum()) + m.num_rows

    def a2(self):
        import pyarrow.dataset as ds

        from govcenter.bikeshare import analyses as an

        s, e = _beijing(self.a.mid, 7), _beijing(self.a.mid, 10)
        t = _read(self.lake, "trips", ["start_lon", "start_lat", "device_id"], self.a.first, self.a.last,
                  (ds.field("start_time") >= _utc_ms(s)) & (ds.field("start_time") < _utc_ms(e)))  # fmt: skip
        cells = an.h3_cells(t["start_lon"].to_numpy(), t["start_lat"].to_numpy(), 8)
        heat = Counter(cells)
        vehicles = len(set(zip(cells.tolist(), t["device_id"].to_pylist(), strict=True)))
        ts, te = _beijing(self.a.tday, 7), _beijing(self.a.tday, 10)
        p = _read(self.tlake, "telemetry", ["lon", "lat", "device_id", "timestamp"], self.a.tday, self.a.tday)
        sec = p["timestamp"].cast("int64").to_numpy() // 1000
        inside = (sec >= ts.timestamp()) & (sec < te.timestamp())
        tcells = an.h3_cells(p["lon"].to_numpy()[inside], p["lat"].to_numpy()[inside], 8)
        theat = Counter(tcells)
        path = p.filter(p["device_id"].to_numpy(zero_copy_only=False) == self.a.device).sort_by("timestamp")
        return len(heat) + vehicles + len(theat) + path.num_rows

    def a3(self):
        import pyarrow as pa
        import pyarrow.compute as pc

        p = _read(
            self.tlake,
            "telemetry",
            ["operator", "device_id", "vehicle_id", "timestamp"],
            self.a.tday,
            self.a.tday,
        )
        t = _read(self.tlake, "trips", ["operator", "device_id"], self.a.tday, self.a.tday)
        fleet = p.group_by("operator").aggregate([("device_id", "count_distinct")])
        rides = t.group_by("operator").aggregate([([], "count_all"), ("device_id", "count_distinct")])
        seen = p.group_by(["operator", "device_id"]).aggregate([("vehicle_id", "max"), ("timestamp", "max")])
        ridden = pc.unique(t["device_id"])
        idle = seen.filter(pc.invert(pc.is_in(seen["device_id"], value_set=ridden)))
        counts = idle.group_by("operator").aggregate([([], "count_all")])
        return fleet.num_rows + rides.num_rows + counts.num_rows + pa.table({"x": [1]}).num_rows

    def a7(self):
        import numpy as np

        from govcenter.bikeshare import analyses as an

        areas = an.station_areas().to_pylist()
        t = _read(self.lake, "trips", ["start_time", "end_time", "start_lon", "start_lat", "end_lon", "end_lat"],
                  self.a.first - dt.timedelta(days=1), self.a.last)  # fmt: skip
        lo, hi = (
            _beijing(self.a.first, 0).timestamp(),
            _beijing(self.a.last + dt.timedelta(days=1), 0).timestamp(),
        )
        flows = Counter()
        for prefix, sign in (("start", -1), ("end", 1)):
            sec = t[f"{prefix}_time"].cast("int64").to_numpy() // 1000
            ok = (sec >= lo) & (sec < hi)
            lon, lat, hours = (
                t[f"{prefix}_lon"].to_numpy()[ok],
                t[f"{prefix}_lat"].to_numpy()[ok],
                (sec[ok] + 8 * 3600) // 3600,
            )
            for k, a in enumerate(areas):
                dx, dy = (lon - a["lon"]) * a["m_lon"], (lat - a["lat"]) * a["m_lat"]
                near = dx * dx + dy * dy <= a["radius_m"] ** 2
                h, n = np.unique(hours[near], return_counts=True)
                for hh, nn in zip(h.tolist(), n.tolist(), strict=True):
                    flows[(k, hh, sign)] += nn
        return len(flows)

    def a5(self, live):
        import numpy as np

        from govcenter.bikeshare.analyses import district_codes

        bikes = live.dump()  # every position (the naive path: recount districts from positions)
        ops = np.array([b.operator for b in bikes.values()], dtype=object)
        codes = district_codes(
            np.array([b.lon for b in bikes.values()]), np.array([b.lat for b in bikes.values()])
        )
        return len(Counter(zip(ops.tolist(), codes.tolist(), strict=True)))


def timed(fn, runs: int) -> float:
    """Median seconds of ``runs`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _live_a5(live):
    from govcenter.bikeshare.demo_scale import UNIT_CODES

    return sum(len(live.count_by_district(operator=code)) for code in UNIT_CODES.values())


def _month(args, month, naive, names, con, tcon, base: Path, manifest: dict) -> list[dict]:
    """DuckDB vs the naive scan over the whole window, and analysis 5 on the live store."""
    from govcenter.bikeshare.live import open_live_state

    records = []
    scope = f"{manifest['trips']:,} trips, {args.days} d, scale {args.scale:g}"
    raw: dict[str, float] = {}
    for key, label in names.items():
        duck_s = raw[key] = time_parts(month, key, {"month": con, "telemetry": tcon}.get, args.runs)
        naive_s = timed(getattr(naive, key), 1)
        met = "yes" if duck_s <= TARGET_S else "NO"
        print(f"analysis {key[1]} ({label}): DuckDB {duck_s:.2f} s, naive pyarrow scan {naive_s:.2f} s, "
              f"target ≤ {TARGET_S:g} s met: {met}")  # fmt: skip
        records.append(record(name=f"bikeshare.analyses.{key[1]}_duckdb", value=duck_s, unit="s",
                              baseline_name="full pyarrow scan + numpy/Arrow group-by", baseline_value=naive_s,
                              target=f"<= {TARGET_S:g} s ({scope}): {met}"))  # fmt: skip
    with open_live_state(f"sqlite://{base / 'live.db'}") as live:
        live_s = timed(lambda: _live_a5(live), args.runs)
        naive_s = timed(lambda: naive.a5(live), 1)
    met = "yes" if live_s <= TARGET_S else "NO"
    print(
        f"analysis 5 (distribution vs quotas: live counts per operator × district, SQLite live store, "
        f"{manifest['bikes']:,} bikes; not lake-based): {live_s:.3f} s, naive recount {naive_s:.2f} s, met: {met}"
    )
    records.append(record(name="bikeshare.analyses.5_live_counts", value=live_s * 1000, unit="ms",
                          baseline_name="recount districts from every live position (dump + district index)",
                          baseline_value=naive_s * 1000, target=f"<= {TARGET_S:g} s ({manifest['bikes']:,} bikes live): {met}"))  # fmt: skip
    return records + _served(args, month, base / "lake", raw, manifest)


RECENT_S = 300  # the periodic rollup job's period: at most this much of today is scanned raw


def _recent_files(lake: Path, day: dt.date, trips_per_day: int) -> list[Path]:
    """Write what the trips partitions of ``day`` receive in :data:`RECENT_S` seconds (a slice of
    their trips under new ids, one new file each); returns the files, to remove afterwards."""
    import pyarrow as pa

    from govcenter.analytics.lake.files import data_files, partitions, read_part, write_part
    from govcenter.analytics.lake.schemas import TRIPS

    added = []
    parts = partitions(lake, "trips", day)
    n = max(1, trips_per_day * RECENT_S // 86_400 // len(parts))
    for part in parts:
        table = read_part(data_files(part.path)[0], TRIPS).slice(0, n)
        ids = pa.array([f"recent-{part.operator}-{k}" for k in range(table.num_rows)])
        table = table.set_column(table.schema.get_field_index("trip_id"), "trip_id", ids)
        added.append(write_part(lake, TRIPS, day.isoformat(), part.operator, table))
    return added


def _served(args, month: Analyses, lake: Path, duck_s: dict[str, float], manifest: dict) -> list[dict]:
    """Analyses 1 and 7 as the API serves them: every day's rollups, the last day (playing
    today) summarised up to the periodic job's last run, and the trips written since (five
    minutes' worth) scanned raw."""
    import ibis

    from govcenter.bikeshare import analyses as an
    from govcenter.bikeshare import rollups

    t = time.perf_counter()
    report = rollups.refresh(lake, rebuild=True)
    build_s = time.perf_counter() - t
    per_day = build_s / max(1, len({d for d, _o in report.built}))
    print(f"rollups: {len(report.built)} partitions built in {build_s:.1f} s ({per_day:.1f} s per day of trips)")
    raw_per_day = (duck_s["a1"] + duck_s["a7"]) / args.days
    records = [record(name="bikeshare.rollups.build_per_day", value=per_day, unit="s",
                      baseline_name="raw analyses 1 + 7 per day of data (paid by every request)",
                      baseline_value=raw_per_day, target="once per day of trips (periodic job)")]  # fmt: skip
    areas = an.station_areas()
    added = _recent_files(lake, month.last, manifest["trips"] // args.days)
    try:

        def a1():
            hourly, how = rollups.rides_hourly(lake, month.first, month.last)
            assert how["files_scanned"] == len(added), how
            by_op = (
                hourly.group_by(["operator", "date", "hour"]).aggregate([("rides", "sum")])
                .rename_columns(["operator", "date", "hour", "rides"])
            )  # fmt: skip
            peaks = an.run(an.peak_hours(ibis.memtable(by_op)))
            monthly = an.run(an.monthly_from_daily(an.daily_from_hourly(ibis.memtable(by_op))))
            return by_op.num_rows + peaks.num_rows + monthly.num_rows

        def a7():
            end = _beijing(month.last + dt.timedelta(days=1), 0)
            flows, _how = rollups.station_hourly(lake, _beijing(month.first, 0), end, areas)
            table = ibis.memtable(flows)
            imbalance = an.run(an.station_imbalance(table))
            alerts = an.run(an.accumulation_alerts(table, threshold=20))
            return flows.num_rows + imbalance.num_rows + alerts.num_rows

        for key, fn, label in (("a1", a1, "rides by hour/peaks/monthly"), ("a7", a7, "station flows/imbalance/alerts")):
            served_s = timed(fn, args.runs)
            met = "yes" if served_s <= TARGET_S else "NO"
            print(f"analysis {key[1]} ({label}) as served (rollups + {RECENT_S // 60} min of today's trips scanned): "
                  f"{served_s:.2f} s, raw DuckDB {duck_s[key]:.2f} s, target ≤ {TARGET_S:g} s met: {met}")  # fmt: skip
            records.append(record(name=f"bikeshare.analyses.{key[1]}_served", value=served_s, unit="s",
                                  baseline_name="the same analysis on DuckDB over the raw trips", baseline_value=duck_s[key],
                                  target=f"<= {TARGET_S:g} s ({args.days} d, scale {args.scale:g}): {met}"))  # fmt: skip
        t = time.perf_counter()
        rollups.refresh(lake, first=month.last, last=month.last)
        step_s = time.perf_counter() - t
        print(f"rollups: the periodic step adding {RECENT_S // 60} min of trips to today's rollups: {step_s:.2f} s")
    finally:
        for f in added:
            f.unlink()
    return records


def measure(argv: list[str] | None = None) -> list[dict]:
    args = options(sys.argv[1:] if argv is None else argv)
    _src_path()
    t0 = time.perf_counter()
    base = ensure_data(args.scale, args.days)
    manifest = json.loads((base / "manifest.json").read_text())
    print(f"data: {manifest['trips']:,} trips over {args.days} days at scale {args.scale:g}, "
          f"{manifest['telemetry_points']:,} telemetry points (one day), {manifest['bikes']:,} bikes live "
          f"({base}; ready in {time.perf_counter() - t0:.0f} s)")  # fmt: skip

    import pyarrow.compute as pc

    from govcenter.analytics.engine import connect, pyspark_available

    lake, tlake = base / "lake", base / "telemetry-lake"
    first, last = FIRST_DAY, FIRST_DAY + dt.timedelta(days=args.days - 1)
    tday = FIRST_DAY + dt.timedelta(days=args.days // 2)
    device = _read(tlake, "trips", ["device_id"], tday, tday)["device_id"]
    counts = pc.value_counts(device)
    device = counts[pc.index(counts.field("counts"), pc.max(counts.field("counts"))).as_py()][
        "values"
    ].as_py()  # busiest
    month = Analyses(first, last, tday, device)
    naive = Naive(month, lake, tlake)
    con, tcon = connect("duckdb", lake), connect("duckdb", tlake)
    records: list[dict] = []
    names = {"a1": "rides by hour/peaks/monthly MoM-YoY", "a2": "heat map (peak window) + trajectory",
             "a3": "operator daily + idle (1 day telemetry)", "a7": "station flows/imbalance/alerts"}  # fmt: skip
    if not args.spark_only:
        records += _month(args, month, naive, names, con, tcon, base, manifest)
    con.disconnect()
    tcon.disconnect()

    spark = args.spark if args.spark is not None else pyspark_available()
    if spark and not pyspark_available():
        print("PySpark comparison skipped: pyspark is not installed")
    elif spark:
        from govcenter.analytics.engine import spark_session

        sdays = min(args.spark_days, args.days)
        slast = first + dt.timedelta(days=sdays - 1)
        week = Analyses(first, slast, tday, device)
        session = spark_session()
        try:
            duck, tduck = connect("duckdb", lake), connect("duckdb", tlake)
            roots = {"month": lake, "telemetry": tlake}

            def spark_to(which):  # one session, session-wide view names: re-point them per part
                return connect("pyspark", roots[which], spark_session=session)

            for key, label in names.items():
                duck_s = time_parts(week, key, {"month": duck, "telemetry": tduck}.get, args.runs)
                spark_s = time_parts(week, key, spark_to, 1)
                print(f"analysis {key[1]} ({label}) on {sdays} days: DuckDB {duck_s:.2f} s, PySpark local[2] "
                      f"{spark_s:.2f} s (DuckDB : PySpark = 1 : {spark_s / duck_s:.1f})")  # fmt: skip
                records.append(record(name=f"bikeshare.analyses.{key[1]}_duckdb_vs_spark", value=duck_s, unit="s",
                                      baseline_name=f"PySpark local[2], same {sdays} days", baseline_value=spark_s,
                                      target="ratio < 1: DuckDB faster"))  # fmt: skip
            duck.disconnect()
            tduck.disconnect()
        finally:
            session.stop()
    return records


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=7200)


if __name__ == "__main__":
    main(measure)
