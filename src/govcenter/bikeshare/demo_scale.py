"""``govcenter bikeshare demo``: load a synthetic Beijing day (``synth.generate_day``).

What is loaded, for the three operator units ``govcenter demo`` creates (美团 OP-MEITUAN,
哈啰 OP-HELLO, 青桔 OP-QINGJU):

* the **vehicle registry** — one ``Vehicle`` per synthetic bike (bulk insert in batches; a
  re-run skips the bikes already registered: device ids are drawn from the seed);
* the **lake** — the day's trips and telemetry (ride points every 120 s, parked reports every
  4 hours) in Parquet, written chunk by chunk and compacted per partition at the end, so a
  re-run leaves each record once (compaction keeps one row per trip id / (device, time)).

The registry insert is a trusted bulk path for demo data (no per-record MDS validation —
that is what ``POST /agency/vehicles`` is for); it is audited as one entry. At scale 1.0 the
day is 790,000 bikes, 3.1 million trips and about 30 million telemetry points.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from govcenter.analytics.lake.compaction import compact
from govcenter.analytics.lake.writer import LakeWriter
from govcenter.core.districts import DistrictIndex

from .geo import rail_station_fences
from .synth import OPERATORS, SyntheticDay, generate_day

# synth operator code → the operator unit `govcenter demo` creates
UNIT_CODES = {"meituan": "OP-MEITUAN", "hellobike": "OP-HELLO", "qingju": "OP-QINGJU"}
VEHICLE_PREFIX = {"meituan": "MT", "hellobike": "HB", "qingju": "QJ"}
_DEVICE_NAMESPACE = uuid.UUID("6f1c1f8e-3d0b-4c55-9f61-2b0c7e1f6a10")
_TRIP_NAMESPACE = uuid.UUID("0d7e5b0a-52a4-4e7b-8a7e-86a2f5d7c3b1")
GCJ02 = "GCJ-02"


@dataclass
class DemoReport:
    bikes: int = 0
    vehicles_registered: int = 0
    trips: int = 0
    telemetry: int = 0
    lake_files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def device_ids(day: SyntheticDay) -> np.ndarray:
    """A UUID per bike, stable for (seed, bike index): a re-run finds the same vehicles."""
    seed = day.seed
    return np.array(
        [str(uuid.uuid5(_DEVICE_NAMESPACE, f"{seed}:{i}")) for i in range(day.n_bikes)], dtype=object
    )


def vehicle_ids(day: SyntheticDay) -> np.ndarray:
    """The code printed on each bike: operator prefix + 10 digits."""
    prefix = np.array([VEHICLE_PREFIX[code] for code, _name, _share in OPERATORS], dtype=object)
    serial = day.bikes["serial"]
    return prefix[day.bikes["operator_index"]] + np.char.zfill(serial.astype(str), 10).astype(object)


def _timestamps(ms: np.ndarray) -> pa.Array:
    return pa.array(ms, type=pa.timestamp("ms", tz="UTC"))


def load_day(
    day: dt.date,
    *,
    scale: float,
    seed: int,
    lake_root,
    register: bool = True,
    live_url: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> DemoReport:
    """Generate and load one day; returns counts and the seconds each stage took.

    ``live_url``: also set the live picture (``bikeshare.live``) to where every bike stands at
    the end of the day (parked where its last ride ended, or where it stood all day)."""
    from django.db import transaction

    from govcenter.core import audit
    from govcenter.core.models import Unit, UnitKind

    report_progress = progress or (lambda stage, fraction: None)
    units = {u.code: u for u in Unit.objects.filter(kind=UnitKind.OPERATOR, code__in=UNIT_CODES.values())}
    missing = sorted(set(UNIT_CODES.values()) - set(units))
    if missing:
        raise LookupError(f"operator units {', '.join(missing)} are missing: run `govcenter demo` first")
    report = DemoReport()
    started = time.perf_counter()
    index = DistrictIndex.from_files()
    stations = [(f.geometry.centroid.x, f.geometry.centroid.y) for f in rail_station_fences()]
    synthetic = generate_day(
        day, scale=scale, seed=seed, stations=stations, index=index, progress=report_progress
    )
    report.bikes, report.trips = synthetic.n_bikes, synthetic.n_trips
    report.seconds["generate"] = time.perf_counter() - started

    devices = device_ids(synthetic)
    vehicles = vehicle_ids(synthetic)
    op_codes = np.array([UNIT_CODES[code] for code, _name, _share in OPERATORS], dtype=object)
    bike_operator = op_codes[synthetic.bikes["operator_index"]]

    if register:
        t0 = time.perf_counter()
        report.vehicles_registered = _register(
            synthetic, devices, vehicles, bike_operator, units, index, report_progress
        )
        with transaction.atomic():
            audit.record(
                action="bikeshare.demo.load",
                changes={
                    "day": day.isoformat(),
                    "scale": scale,
                    "seed": seed,
                    "vehicles_registered": report.vehicles_registered,
                },
            )
        report.seconds["registry"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    writer = LakeWriter(lake_root)
    trips = synthetic.trips
    trip_ids = np.array(
        [str(uuid.uuid5(_TRIP_NAMESPACE, f"{seed}:{day.isoformat()}:{i}")) for i in range(synthetic.n_trips)],
        dtype=object,
    )
    dev = trips["device_index"]
    trip_table = pa.table(
        {
            "operator": pa.array(bike_operator[dev], type=pa.string()),
            "trip_id": pa.array(trip_ids, type=pa.string()),
            "device_id": pa.array(devices[dev], type=pa.string()),
            "vehicle_id": pa.array(vehicles[dev], type=pa.string()),
            "start_time": _timestamps(trips["start_ms"]),
            "end_time": _timestamps(trips["end_ms"]),
            "start_lon": trips["start_lon"],
            "start_lat": trips["start_lat"],
            "end_lon": trips["end_lon"],
            "end_lat": trips["end_lat"],
            "source_datum": pa.array(np.full(synthetic.n_trips, GCJ02, dtype=object), type=pa.string()),
            "distance_m": trips["distance_m"].astype(np.float64),
            "duration_s": (trips["end_ms"] - trips["start_ms"]) // 1000,
        }
    )
    report.lake_files += len(writer.write("trips", trip_table))
    report.seconds["trips"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    total = synthetic.telemetry_count()
    for chunk in synthetic.telemetry_chunks():
        n = len(chunk["lon"])
        d = chunk["device_index"]
        t = chunk["trip_index"]
        on_trip = t >= 0
        trip_col = np.full(n, None, dtype=object)
        trip_col[on_trip] = trip_ids[t[on_trip]]
        table = pa.table(
            {
                "operator": pa.array(bike_operator[d], type=pa.string()),
                "device_id": pa.array(devices[d], type=pa.string()),
                "vehicle_id": pa.array(vehicles[d], type=pa.string()),
                "timestamp": _timestamps(chunk["timestamp_ms"]),
                "lon": chunk["lon"],
                "lat": chunk["lat"],
                "source_datum": pa.array(np.full(n, GCJ02, dtype=object), type=pa.string()),
                "battery_pct": pa.nulls(n, type=pa.float64()),
                "trip_id": pa.array(trip_col, type=pa.string()),
            }
        )
        report.lake_files += len(writer.write("telemetry", table))
        report.telemetry += n
        report_progress("telemetry", report.telemetry / max(total, 1))
    report.seconds["telemetry"] = time.perf_counter() - t0

    if live_url:
        t0 = time.perf_counter()
        _set_live(live_url, synthetic, devices, vehicles, bike_operator)
        report_progress("live", 1.0)
        report.seconds["live"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for dataset in ("trips", "telemetry"):
        for date in sorted({day, day + dt.timedelta(days=1)}):  # late rides end after midnight
            compact(lake_root, dataset, date)
        report_progress(f"compact {dataset}", 1.0)
    report.seconds["compact"] = time.perf_counter() - t0

    # The day's rollups (analyses 1 and 7 read them; the periodic task keeps them current).
    from .rollups import refresh

    t0 = time.perf_counter()
    for date in sorted({day, day + dt.timedelta(days=1)}):
        refresh(lake_root, first=date, last=date)
    report_progress("rollups", 1.0)
    report.seconds["rollups"] = time.perf_counter() - t0
    report.seconds["total"] = time.perf_counter() - started
    return report


def _register(synthetic, devices, vehicles, bike_operator, units, index, report_progress) -> int:
    """Bulk-insert the bikes (those already registered are skipped); returns how many were new."""
    from django.db import transaction
    from django.utils import timezone

    from govcenter.core.models import District

    from .models.registry import Vehicle

    districts = dict(District.objects.values_list("code", "pk"))
    codes = index.lookup_codes(synthetic.bikes["home_lon"], synthetic.bikes["home_lat"])
    provider = {code: uuid.uuid5(_DEVICE_NAMESPACE, f"provider:{code}") for code in UNIT_CODES.values()}
    now = timezone.now()
    before = Vehicle.objects.filter(operator__in=units.values()).count()
    batch = 5_000
    n = len(devices)
    for first in range(0, n, batch):
        rows = []
        for i in range(first, min(first + batch, n)):
            op = bike_operator[i]
            rows.append(
                Vehicle(
                    operator=units[op],
                    device_id=devices[i],
                    provider_id=provider[op],
                    vehicle_id=vehicles[i],
                    vehicle_type="bicycle",
                    propulsion_types=["human"],
                    state="available",
                    district_id=districts.get(str(codes[i])),
                    registered_at=now,
                )
            )
        with transaction.atomic():
            Vehicle.objects.bulk_create(rows, ignore_conflicts=True)  # a re-run: already there
        report_progress("registry", min(first + batch, n) / n)
    return Vehicle.objects.filter(operator__in=units.values()).count() - before


def _set_live(live_url: str, synthetic: SyntheticDay, devices, vehicles, bike_operator) -> None:
    """Every bike's end-of-day position into the live picture (newest report wins there)."""
    from .live import open_live_state

    trips = synthetic.trips
    n = synthetic.n_bikes
    lon = synthetic.bikes["home_lon"].copy()
    lat = synthetic.bikes["home_lat"].copy()
    ts = np.full(n, synthetic.day_start_ms, dtype=np.int64)
    if synthetic.n_trips:
        dev = trips["device_index"]
        last = np.r_[dev[1:] != dev[:-1], True]  # trips are sorted by (device, start)
        lon[dev[last]] = trips["end_lon"][last]
        lat[dev[last]] = trips["end_lat"][last]
        ts[dev[last]] = trips["end_ms"][last]
    from .services.fences import active_fence_index

    with open_live_state(live_url, fences=active_fence_index()) as live:
        for first in range(0, n, 10_000):
            part = slice(first, first + 10_000)
            live.update(
                {
                    "operator": bike_operator[part].tolist(),
                    "device_id": devices[part].tolist(),
                    "vehicle_id": vehicles[part].tolist(),
                    "timestamp_ms": ts[part],
                    "lon": lon[part],
                    "lat": lat[part],
                    "vehicle_state": ["available"] * len(ts[part]),
                }
            )


SMALL_SCALE = 0.0005  # about 395 bikes and 1,550 trips: what `make run` shows
SMALL_SEED = 20261101


def load_small_demo() -> dict[str, int]:
    """`govcenter demo` (make run): yesterday's small synthetic day, once."""
    from django.conf import settings
    from django.utils import timezone

    from govcenter.analytics.lake.config import lake_root

    from .models.registry import Vehicle
    from .services.fences import fences_seed_rail_stations

    fences = fences_seed_rail_stations()  # the demo's rail-station areas (idempotent)
    if Vehicle.objects.filter(operator__code__in=UNIT_CODES.values()).exists():
        return {"rail-station fences": fences["created"], "vehicles": 0}
    report = load_day(
        timezone.localdate() - dt.timedelta(days=1),
        scale=SMALL_SCALE,
        seed=SMALL_SEED,
        lake_root=lake_root(),
        live_url=getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "") or None,
    )
    return {
        "rail-station fences": fences["created"],
        "vehicles": report.vehicles_registered,
        "trips": report.trips,
        "telemetry points": report.telemetry,
    }
