"""Bike-share analyses over the Parquet lake, written once as Ibis expressions.

Each function takes an Ibis backend from :func:`govcenter.analytics.engine.connect` (DuckDB
by default, PySpark for scale-out) plus parameters, and returns an Ibis table expression;
:func:`run` executes one to a pyarrow table. The same expression gives the same rows on
both engines (``tests/bikeshare/test_analyses_spark.py``).

Time. The lake stores UTC instants; analyses report Beijing calendar dates and hours of
day. Asia/Shanghai is a fixed UTC+8 (no daylight saving since 1991), so the Beijing hour
and date are integer arithmetic on epoch seconds (:func:`_local_date`, :func:`_local_hour`)
— no engine's session time zone is involved. Windows are half-open ``[start, end)`` given
as zone-aware datetimes in whole seconds; day ranges are inclusive Beijing dates. Filters
also name the ``date`` partitions the window can touch, so the engines prune files.

Space. Coordinates are GCJ-02 (the lake's datum). Two point annotations need code no SQL
engine ships on both sides, so they run as *vectorised* UDFs (a batch of points per call,
DuckDB: pyarrow UDF, Spark: pandas UDF), computed at analysis time:

- the **district** of a point: :class:`govcenter.core.districts.DistrictIndex` — the same
  exact lookup the rest of the project uses (a raster table read for most points, shapely
  for points in boundary cells). A join against a raster lookup table would be pure SQL
  but wrong near borders; a precomputed column would need a lake schema change and a
  backfill whenever boundaries change. Outside every district: ``""``.
- the **H3 cell** of a point: the ``h3`` library. H3 is no Ibis operation, DuckDB has it
  only as a community extension and open-source Spark not at all. Cells are computed
  from the GCJ-02 coordinates as they are (``HEATMAP_DATUM``): the heat map is drawn on the
  Center's GCJ-02 maps, so cells must line up with those, not with WGS-84 ground truth.

Rail-station areas are circles (centre + radius from the station seed) tested with plain
Ibis arithmetic (local equirectangular metres, the formula of
:func:`govcenter.bikeshare.geo.circle_polygon`); no spatial extension is needed.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.datatypes as idt
import numpy as np
import pyarrow as pa

from govcenter.core.geo import Datum

BEIJING_OFFSET_S = 8 * 3600
DAY_S = 86_400
HOUR_S = 3_600
HEATMAP_DATUM = Datum.GCJ02
OUTSIDE = ""  # the district of a point outside Beijing's districts
MORNING_PEAK = (7, 8, 9)  # Beijing hours of day
EVENING_PEAK = (17, 18, 19)
POINT_SOURCES = ("telemetry", "trip_starts", "trip_ends")


# -- running ----------------------------------------------------------------------------


def run(expr: ibis.Table) -> pa.Table:
    """Execute an analysis expression on its backend and return a pyarrow table."""
    return expr.to_pyarrow()


# -- parameters and time arithmetic -------------------------------------------------------


def _check_instant(name: str, value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a zone-aware datetime, got {value!r}")
    if value.microsecond:
        raise ValueError(f"{name} must be in whole seconds, got {value.isoformat()}")
    return value


def _window(start: dt.datetime, end: dt.datetime) -> tuple[int, int, dt.date, dt.date]:
    """Epoch seconds of ``[start, end)`` and the Beijing dates it spans."""
    _check_instant("start", start)
    _check_instant("end", end)
    if not start < end:
        raise ValueError(f"empty window: start {start.isoformat()} is not before end {end.isoformat()}")
    s, e = int(start.timestamp()), int(end.timestamp())
    return s, e, _beijing_date(s), _beijing_date(e - 1)


def _beijing_date(epoch_s: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=(epoch_s + BEIJING_OFFSET_S) // DAY_S)


def _check_days(first: dt.date, last: dt.date) -> None:
    for name, value in (("first", first), ("last", last)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValueError(f"{name} must be a date, got {value!r}")
    if first > last:
        raise ValueError(f"empty day range: {first} is after {last}")


@ibis.udf.scalar.builtin(name="epoch_ms")
def _duckdb_epoch_ms(ts: idt.Timestamp(timezone="UTC")) -> idt.int64:  # type: ignore[empty-body]
    """DuckDB's ``epoch_ms`` on the stored UTC instant (no conversion through local time)."""


def _epoch(column):
    """Whole epoch seconds of a timestamp column, floored on both engines.

    On DuckDB through ``epoch_ms`` of the instant: Ibis's ``epoch_seconds()`` there casts
    the zone-aware value to a local TIMESTAMP first, which costs three times the whole
    grouping of a month of trips. Spark's ``epoch_seconds()`` is already whole seconds.
    """
    if column._find_backend(use_default=False).name == "duckdb":
        return _duckdb_epoch_ms(column) // 1000
    return column.epoch_seconds()


def _in_window(column, start_s: int, end_s: int):
    seconds = _epoch(column)
    return (seconds >= start_s) & (seconds < end_s)


def _local_seconds(column):
    return _epoch(column) + BEIJING_OFFSET_S


def _local_hour(column):
    """Beijing hour of day (0–23) of a timestamp column."""
    return ((_local_seconds(column) // HOUR_S) % 24).cast("int32")


def _local_date(column):
    """Beijing calendar date of a timestamp column (the sessions run in UTC)."""
    return ((_local_seconds(column) // DAY_S) * DAY_S).cast("int64").as_timestamp("s").date()


def _dates(table, first: dt.date, last: dt.date):
    return table.date.between(first, last)


# -- point annotations (vectorised UDFs) ---------------------------------------------------


@functools.cache
def _district_index():
    from govcenter.core.districts import DistrictIndex

    return DistrictIndex.from_files()


def district_codes(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """District code of each GCJ-02 point (``OUTSIDE`` where none) — the UDFs' kernel."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if not len(lon):
        return np.array([], dtype=object)
    return _district_index().lookup_codes(lon, lat).astype(object)


def h3_ints(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell of each point at ``resolution`` as its 64-bit index (int64: the top bit of an H3
    index is always 0), coordinates taken as given.

    Vectorised: h3ronpy (the Rust h3o port, over the whole array, no Python per point) — the
    same cells as the reference ``h3`` library (tests compare them). ValueError for a point
    that is not finite (the callers drop points without a position first).
    """
    from h3ronpy.vector import coordinates_to_cells

    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if not len(lon):
        return np.empty(0, dtype=np.int64)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValueError("H3 cell of a point without a finite position")
    cells = pa.array(coordinates_to_cells(lat, lon, resolution))
    return cells.to_numpy(zero_copy_only=False).view(np.int64)


def h3_names(cells: np.ndarray) -> np.ndarray:
    """The hex names of H3 indexes (one conversion per distinct cell)."""
    import h3.api.basic_int as h3_int

    cells = np.asarray(cells, dtype=np.int64)
    if not len(cells):
        return np.empty(0, dtype=object)
    distinct, where = np.unique(cells, return_inverse=True)
    names = np.array([h3_int.int_to_str(int(c)) for c in distinct.tolist()], dtype=object)
    return names[where]


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (hex string) of each point at ``resolution``, coordinates taken as given."""
    return h3_names(h3_ints(lon, lat, resolution))


def _numpy(values) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return values.to_numpy(zero_copy_only=False)
    return np.asarray(values)


@ibis.udf.scalar.pyarrow(name="govcenter_district_pa")
def _district_pa(lon: idt.float64, lat: idt.float64) -> idt.string:
    return pa.array(district_codes(_numpy(lon), _numpy(lat)), type=pa.string())


@ibis.udf.scalar.pandas(name="govcenter_district_pd")
def _district_pd(lon: idt.float64, lat: idt.float64) -> idt.string:
    import pandas as pd

    return pd.Series(district_codes(lon.to_numpy(), lat.to_numpy()), index=lon.index, dtype=object)


@ibis.udf.scalar.pyarrow(name="govcenter_h3_pa")
def _h3_pa(lon: idt.float64, lat: idt.float64, resolution: idt.int32) -> idt.int64:
    res = _numpy(resolution)
    if not len(res):
        return pa.array([], type=pa.int64())
    return pa.array(h3_ints(_numpy(lon), _numpy(lat), int(res[0])), type=pa.int64())


@ibis.udf.scalar.pandas(name="govcenter_h3_pd")
def _h3_pd(lon: idt.float64, lat: idt.float64, resolution: idt.int32) -> idt.int64:
    import pandas as pd

    if not len(resolution):
        return pd.Series([], dtype="int64")
    return pd.Series(h3_ints(lon.to_numpy(), lat.to_numpy(), int(resolution.iloc[0])), index=lon.index)


@ibis.udf.scalar.pyarrow(name="govcenter_h3_name_pa")
def _h3_name_pa(cell: idt.int64) -> idt.string:
    return pa.array(h3_names(_numpy(cell)), type=pa.string())


@ibis.udf.scalar.pandas(name="govcenter_h3_name_pd")
def _h3_name_pd(cell: idt.int64) -> idt.string:
    import pandas as pd

    return pd.Series(h3_names(cell.to_numpy()), index=cell.index, dtype=object)


def _vectorised(con) -> str:
    return "pandas" if con.name == "pyspark" else "pyarrow"


def district_of(con, lon, lat):
    """Column expression: the district code of GCJ-02 points (a vectorised UDF on ``con``)."""
    return (_district_pd if _vectorised(con) == "pandas" else _district_pa)(lon, lat)


def h3_of(con, lon, lat, resolution: int):
    """Column expression: the H3 cell of points at ``resolution`` (0–15), as its int64 index.

    Grouping on the integer is cheaper than on the hex name; :func:`h3_name_of` names the
    (far fewer) cells left after aggregation.
    """
    if not isinstance(resolution, int) or not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be a whole number 0–15, got {resolution!r}")
    res = ibis.literal(resolution, type="int32")
    return (_h3_pd if _vectorised(con) == "pandas" else _h3_pa)(lon, lat, res)


def h3_name_of(con, cell):
    """Column expression: the hex name of int64 H3 indexes (from :func:`h3_of`)."""
    return (_h3_name_pd if _vectorised(con) == "pandas" else _h3_name_pa)(cell)


# -- (1) rides by hour / day, peaks, month-on-month and year-on-year ----------------------


def _trip_starts(con, first: dt.date, last: dt.date, by_district: bool):
    trips = con.table("trips")
    trips = trips.filter(_dates(trips, first, last))
    if by_district:
        trips = trips.mutate(district=district_of(con, trips.start_lon, trips.start_lat))
    return trips, ["operator", "district"] if by_district else ["operator"]


def rides_by_hour(con, first: dt.date, last: dt.date, *, by_district: bool = False) -> ibis.Table:
    """Trips started per operator (and district of the start point), Beijing date and hour.

    Columns: operator, [district], date, hour (0–23), rides. Hours without rides are absent.
    """
    _check_days(first, last)
    trips, keys = _trip_starts(con, first, last, by_district)
    trips = trips.mutate(hour=_local_hour(trips.start_time))
    return (
        trips.group_by([*keys, "date", "hour"])
        .aggregate(rides=trips.count())
        .order_by([*keys, "date", "hour"])
    )


def rides_by_day(con, first: dt.date, last: dt.date, *, by_district: bool = False) -> ibis.Table:
    """Trips started per operator (and district), Beijing date: operator, [district], date, rides."""
    _check_days(first, last)
    trips, keys = _trip_starts(con, first, last, by_district)
    return trips.group_by([*keys, "date"]).aggregate(rides=trips.count()).order_by([*keys, "date"])


def _ride_keys(hourly: ibis.Table) -> list[str]:
    return ["operator", "district"] if "district" in hourly.columns else ["operator"]


def daily_from_hourly(hourly: ibis.Table) -> ibis.Table:
    """Rides per day from the rows of :func:`rides_by_hour` (or the rollups' same rows)."""
    keys = _ride_keys(hourly)
    return hourly.group_by([*keys, "date"]).aggregate(rides=hourly.rides.sum()).order_by([*keys, "date"])


def peak_hours(hourly: ibis.Table) -> ibis.Table:
    """The busiest hour of each group of :func:`rides_by_hour` (the earliest one on a tie).

    Columns: the group keys, date, peak_hour, peak_rides, day_rides, peak_share.
    """
    keys = [c for c in hourly.columns if c not in ("hour", "rides")]
    rank = ibis.row_number().over(group_by=keys, order_by=[ibis.desc("rides"), "hour"])
    total = hourly.rides.sum().over(group_by=keys)
    ranked = hourly.mutate(_rank=rank, day_rides=total)
    return (
        ranked.filter(ranked._rank == 0)
        .select(
            *keys,
            peak_hour=ranked.hour,
            peak_rides=ranked.rides,
            day_rides=ranked.day_rides,
            peak_share=ranked.rides.cast("float64") / ranked.day_rides.cast("float64"),
        )
        .order_by(keys)
    )


def monthly_rides(con, first: dt.date, last: dt.date, *, by_district: bool = False) -> ibis.Table:
    """Rides per operator (and district) and calendar month, with month-on-month and year-on-year.

    The lake may hold only some days of a month, so months are compared by their average
    rides per day with data (``rides_per_day``); ``days`` says how many days that is.
    ``mom_change`` / ``yoy_change`` = rides_per_day / the previous month's (the same month
    a year before) − 1, null where that month has no data in ``[first, last]``.
    Columns: operator, [district], year, month, days, rides, rides_per_day,
    prev_month_rides_per_day, mom_change, prev_year_rides_per_day, yoy_change.
    """
    return monthly_from_daily(rides_by_day(con, first, last, by_district=by_district))


def monthly_from_daily(daily: ibis.Table) -> ibis.Table:
    """:func:`monthly_rides` from the rows of :func:`rides_by_day` (or :func:`daily_from_hourly`).

    A day counts for a month when it has a ride: daily rows exist only for days with rides.
    """
    keys = _ride_keys(daily)
    daily = daily.mutate(year=daily.date.year().cast("int32"), month=daily.date.month().cast("int32"))
    monthly = daily.group_by([*keys, "year", "month"]).aggregate(
        days=daily.date.nunique(), rides=daily.rides.sum().cast("int64")
    )
    monthly = monthly.mutate(
        rides_per_day=monthly.rides.cast("float64") / monthly.days.cast("float64"),
        month_index=monthly.year.cast("int64") * 12 + monthly.month.cast("int64") - 1,
    )

    def shifted(months: int, name: str):
        return monthly.select(
            *keys, month_index=monthly.month_index + months, **{name: monthly.rides_per_day}
        )

    prev_m = shifted(1, "prev_month_rides_per_day")
    prev_y = shifted(12, "prev_year_rides_per_day")
    joined = monthly.left_join(prev_m, [*keys, "month_index"]).select(
        *[monthly[c] for c in monthly.columns], prev_m.prev_month_rides_per_day
    )
    joined = joined.left_join(prev_y, [*keys, "month_index"]).select(
        *[joined[c] for c in joined.columns], prev_y.prev_year_rides_per_day
    )
    return (
        joined.mutate(
            mom_change=joined.rides_per_day / joined.prev_month_rides_per_day - 1.0,
            yoy_change=joined.rides_per_day / joined.prev_year_rides_per_day - 1.0,
        )
        .select(
            *keys,
            "year",
            "month",
            "days",
            "rides",
            "rides_per_day",
            "prev_month_rides_per_day",
            "mom_change",
            "prev_year_rides_per_day",
            "yoy_change",
        )
        .order_by([*keys, "year", "month"])
    )


# -- (2) H3 heat map and one bike's trajectory --------------------------------------------


def heatmap(
    con,
    start: dt.datetime,
    end: dt.datetime,
    *,
    resolution: int = 8,
    points: str = "telemetry",
    operator: str | None = None,
) -> ibis.Table:
    """Points per H3 cell in ``[start, end)``: cell, points, vehicles (distinct devices).

    ``points``: ``telemetry`` (every reported position), ``trip_starts`` or ``trip_ends``.
    Cells are H3 over GCJ-02 coordinates (see the module docstring).
    """
    if points not in POINT_SOURCES:
        raise ValueError(f"points must be one of {list(POINT_SOURCES)}, got {points!r}")
    s, e, first, last = _window(start, end)
    if points == "telemetry":
        table = con.table("telemetry")
        time, lon, lat = "timestamp", "lon", "lat"
    else:
        table = con.table("trips")
        prefix = "start" if points == "trip_starts" else "end"
        time, lon, lat = f"{prefix}_time", f"{prefix}_lon", f"{prefix}_lat"
        if points == "trip_ends":  # a trip lives in its start date's partition
            first -= dt.timedelta(days=1)
    table = table.filter(
        _dates(table, first, last), _in_window(table[time], s, e), table[lon].notnull(), table[lat].notnull()
    )
    if operator is not None:
        table = table.filter(table.operator == operator)
    table = table.mutate(cell_id=h3_of(con, table[lon], table[lat], resolution))
    cells = table.group_by("cell_id").aggregate(points=table.count(), vehicles=table.device_id.nunique())
    return cells.select(
        cell=h3_name_of(con, cells.cell_id), points=cells.points, vehicles=cells.vehicles
    ).order_by([ibis.desc("points"), "cell"])


def trajectory(
    con,
    start: dt.datetime,
    end: dt.datetime,
    *,
    device_id: str | None = None,
    vehicle_id: str | None = None,
) -> ibis.Table:
    """One bike's reported positions in ``[start, end)``, in time order.

    Give exactly one of ``device_id`` / ``vehicle_id``. Columns: timestamp, lon, lat
    (GCJ-02), trip_id (null while parked), operator, device_id, vehicle_id.
    """
    if (device_id is None) == (vehicle_id is None):
        raise ValueError("give exactly one of device_id and vehicle_id")
    s, e, first, last = _window(start, end)
    points = con.table("telemetry")
    which = points.device_id == device_id if device_id is not None else points.vehicle_id == vehicle_id
    points = points.filter(_dates(points, first, last), _in_window(points.timestamp, s, e), which)
    return points.select(
        "timestamp", "lon", "lat", "trip_id", "operator", "device_id", "vehicle_id"
    ).order_by(["timestamp", "device_id"])


# -- (3) operator operations ---------------------------------------------------------------


def operator_daily(con, first: dt.date, last: dt.date) -> ibis.Table:
    """Per operator and Beijing date: fleet_seen, active_vehicles, rides, turnover, utilisation.

    fleet_seen = distinct bikes that reported any position that day; active_vehicles =
    distinct bikes that started a ride; turnover = rides per active bike; utilisation =
    active / seen. Days on which an operator reported no position are absent.
    """
    _check_days(first, last)
    points = con.table("telemetry")
    points = points.filter(_dates(points, first, last))
    fleet = points.group_by(["operator", "date"]).aggregate(fleet_seen=points.device_id.nunique())
    trips = con.table("trips")
    trips = trips.filter(_dates(trips, first, last))
    rides = trips.group_by(["operator", "date"]).aggregate(
        active_vehicles=trips.device_id.nunique(), rides=trips.count()
    )
    joined = fleet.left_join(rides, ["operator", "date"]).select(
        fleet.operator,
        fleet.date,
        fleet.fleet_seen,
        active_vehicles=rides.active_vehicles.fill_null(0),
        rides=rides.rides.fill_null(0),
    )
    return joined.mutate(
        turnover=ibis.ifelse(
            joined.active_vehicles > 0,
            joined.rides.cast("float64") / joined.active_vehicles.cast("float64"),
            0.0,
        ),
        utilisation=joined.active_vehicles.cast("float64") / joined.fleet_seen.cast("float64"),
    ).order_by(["operator", "date"])


def idle_vehicles(con, as_of: dt.date, days: int) -> ibis.Table:
    """Bikes seen in the ``days`` Beijing dates up to ``as_of`` that started no ride in them.

    Columns: operator, device_id, vehicle_id, last_seen (latest reported position).
    """
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number ≥ 1, got {days!r}")
    first = as_of - dt.timedelta(days=days - 1)
    _check_days(first, as_of)
    points = con.table("telemetry")
    points = points.filter(_dates(points, first, as_of))
    seen = points.group_by(["operator", "device_id"]).aggregate(
        vehicle_id=points.vehicle_id.max(), last_seen=points.timestamp.max()
    )
    trips = con.table("trips")
    ridden = trips.filter(_dates(trips, first, as_of)).select("device_id").distinct()
    return (
        seen.anti_join(ridden, "device_id")
        .select("operator", "device_id", "vehicle_id", "last_seen")
        .order_by(["operator", "device_id"])
    )


def idle_counts(idle: ibis.Table) -> ibis.Table:
    """Idle bikes per operator from :func:`idle_vehicles`: operator, idle."""
    return idle.group_by("operator").aggregate(idle=idle.count()).order_by("operator")


REBALANCE_MIN_M = 200.0  # a bike found this far from where its last ride ended was moved
BEIJING_LAT = 39.9  # the latitude of the equirectangular distance below (error < 0.5 % in Beijing)


def rebalancing(con, first: dt.date, last: dt.date, *, min_m: float = REBALANCE_MIN_M) -> ibis.Table:
    """Bikes moved without a ride (调度/搬运) per operator and Beijing date.

    A move is a ride that starts more than ``min_m`` metres from where the same bike's
    previous ride ended (the previous ride looked up from the day before ``first`` on),
    counted on the Beijing date of the ride's start. Columns: operator, date, moves,
    bikes_moved, moved_km (the straight-line displacement, summed).
    """
    if not (isinstance(min_m, int | float) and math.isfinite(min_m) and min_m > 0):
        raise ValueError(f"min_m must be a positive number of metres, got {min_m!r}")
    _check_days(first, last)
    trips = con.table("trips")
    trips = trips.filter(_dates(trips, first - dt.timedelta(days=1), last))
    previous = ibis.window(group_by="device_id", order_by=["start_time", "trip_id"])
    trips = trips.mutate(
        prev_lon=trips.end_lon.lag().over(previous), prev_lat=trips.end_lat.lag().over(previous)
    )
    kx, ky = m_per_deg(BEIJING_LAT)
    gap_m = (
        ((trips.start_lon - trips.prev_lon) * kx) ** 2 + ((trips.start_lat - trips.prev_lat) * ky) ** 2
    ).sqrt()
    trips = trips.mutate(gap_m=gap_m)
    moved = trips.filter(trips.prev_lon.notnull() & (trips.gap_m > float(min_m)) & _dates(trips, first, last))
    return (
        moved.group_by(["operator", "date"])
        .aggregate(
            moves=moved.count(), bikes_moved=moved.device_id.nunique(), moved_km=moved.gap_m.sum() / 1000.0
        )
        .order_by(["operator", "date"])
    )


# -- (7) rail-station areas: arrivals, departures, tidal imbalance, accumulation --------------


def m_per_deg(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude at ``lat`` (as ``geo.circle_polygon``)."""
    phi = math.radians(lat)
    return 111_319.488 * math.cos(phi), 111_132.954 - 559.822 * math.cos(2 * phi)


def station_areas(fences: Iterable | None = None) -> pa.Table:
    """The station areas as a table: station_id, station, lon, lat, radius_m, m_lon, m_lat.

    From :func:`govcenter.bikeshare.geo.rail_station_fences` by default; each fence's
    ``center`` and ``radius_m`` properties (GCJ-02), or its centroid and the radius of a
    circle of the same area when the file gives none.
    """
    if fences is None:
        from .geo import rail_station_fences

        fences = rail_station_fences()
    rows = []
    for k, fence in enumerate(fences):
        props = fence.properties
        if props.get("center") and props.get("radius_m"):
            lon, lat = (float(v) for v in props["center"])
            radius = float(props["radius_m"])
        else:
            lon, lat = fence.centroid.lon, fence.centroid.lat
            m_lon, m_lat = m_per_deg(lat)
            radius = math.sqrt(fence.geometry.area * m_lon * m_lat / math.pi)
        m_lon, m_lat = m_per_deg(lat)
        rows.append(
            {
                "station_id": str(fence.feature_id or f"station-{k}"),
                "station": fence.station or fence.name,
                "lon": lon,
                "lat": lat,
                "radius_m": radius,
                "m_lon": m_lon,
                "m_lat": m_lat,
            }
        )
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("station_id", pa.string()),
                ("station", pa.string()),
                ("lon", pa.float64()),
                ("lat", pa.float64()),
                ("radius_m", pa.float64()),
                ("m_lon", pa.float64()),
                ("m_lat", pa.float64()),
            ]
        ),
    )


def _near(stations, lon, lat):
    dx = (lon - stations.lon) * stations.m_lon
    dy = (lat - stations.lat) * stations.m_lat
    return dx * dx + dy * dy <= stations.radius_m * stations.radius_m


GRID_DEG = 0.01  # the cells trips and station circles meet in (about 850 m × 1,100 m)
_GRID_ROW = 100_000  # cell key = floor(lon / GRID_DEG) * _GRID_ROW + floor(lat / GRID_DEG)


def _cell_key(lon, lat):
    """Column expression: the grid cell of points (the same double arithmetic as :func:`station_cells`)."""
    return (lon / GRID_DEG).floor().cast("int64") * _GRID_ROW + (lat / GRID_DEG).floor().cast("int64")


def station_cells(stations: pa.Table) -> pa.Table:
    """``stations`` with one row per grid cell its circle's bounding box touches (column ``cell``).

    Joining trips to stations on the cell is an equality (hash) join; the exact distance
    test (:func:`_near`) then keeps only the points inside each circle, so the result is that
    of the plain nested-loop join, without comparing every trip with every station.
    """
    rows = []
    for station in stations.to_pylist():
        # A hair wider than the circle: a point the distance test keeps is always in a cell.
        d_lon = station["radius_m"] / station["m_lon"] + 1e-9
        d_lat = station["radius_m"] / station["m_lat"] + 1e-9
        x0, x1 = (
            math.floor((station["lon"] - d_lon) / GRID_DEG),
            math.floor((station["lon"] + d_lon) / GRID_DEG),
        )
        y0, y1 = (
            math.floor((station["lat"] - d_lat) / GRID_DEG),
            math.floor((station["lat"] + d_lat) / GRID_DEG),
        )
        rows += [{**station, "cell": x * _GRID_ROW + y} for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return pa.Table.from_pylist(rows, schema=stations.schema.append(pa.field("cell", pa.int64())))


def station_flows(
    con, start: dt.datetime, end: dt.datetime, *, stations: pa.Table | None = None
) -> ibis.Table:
    """Arrivals and departures per station area and Beijing hour in ``[start, end)``.

    A departure is a trip starting inside the area (bucketed by its start time), an arrival
    one ending inside it (by its end time). Columns: station_id, station, date, hour,
    arrivals, departures, net (= arrivals − departures, the tidal imbalance; positive means
    bikes pile up). Hours with neither are absent.
    """
    s, e, first, last = _window(start, end)
    areas = ibis.memtable(station_cells(stations if stations is not None else station_areas()))
    trips = con.table("trips")
    # Arrivals in the window may belong to trips started the day before.
    trips = trips.filter(_dates(trips, first - dt.timedelta(days=1), last))

    def side(prefix: str, arrivals: int):
        time = trips[f"{prefix}_time"]
        chosen = trips.filter(_in_window(time, s, e))
        lon, lat = chosen[f"{prefix}_lon"], chosen[f"{prefix}_lat"]
        chosen = chosen.mutate(_cell=_cell_key(lon, lat))
        joined = chosen.join(
            areas,
            [chosen._cell == areas.cell, _near(areas, chosen[f"{prefix}_lon"], chosen[f"{prefix}_lat"])],
        )
        return joined.select(
            joined.station_id,
            joined.station,
            date=_local_date(joined[f"{prefix}_time"]),
            hour=_local_hour(joined[f"{prefix}_time"]),
            arrivals=ibis.literal(arrivals, type="int64"),
            departures=ibis.literal(1 - arrivals, type="int64"),
        )

    both = ibis.union(side("end", 1), side("start", 0), distinct=False)
    flows = both.group_by(["station_id", "station", "date", "hour"]).aggregate(
        arrivals=both.arrivals.sum(), departures=both.departures.sum()
    )
    return flows.mutate(net=flows.arrivals - flows.departures).order_by(["station_id", "date", "hour"])


def station_imbalance(
    flows: ibis.Table,
    *,
    morning: Sequence[int] = MORNING_PEAK,
    evening: Sequence[int] = EVENING_PEAK,
) -> ibis.Table:
    """Daily tidal imbalance per station from :func:`station_flows`.

    Columns: station_id, station, date, arrivals, departures, net, morning_net, evening_net.
    """

    def net_in(hours):
        return ibis.ifelse(flows.hour.isin(list(hours)), flows.net, 0).sum()

    return (
        flows.group_by(["station_id", "station", "date"])
        .aggregate(
            arrivals=flows.arrivals.sum(),
            departures=flows.departures.sum(),
            net=flows.net.sum(),
            morning_net=net_in(morning),
            evening_net=net_in(evening),
        )
        .order_by(["station_id", "date"])
    )


def accumulation_alerts(
    flows: ibis.Table,
    *,
    threshold: int,
    peak_hours: Sequence[int] = MORNING_PEAK + EVENING_PEAK,
) -> ibis.Table:
    """Peak hours in which a station's net inflow exceeds ``threshold`` bikes (most first)."""
    if not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"threshold must be a whole number ≥ 0, got {threshold!r}")
    hours = sorted({int(h) for h in peak_hours})
    if not hours or hours[0] < 0 or hours[-1] > 23:
        raise ValueError(f"peak_hours must be hours of day 0–23, got {list(peak_hours)!r}")
    return flows.filter(flows.hour.isin(hours), flows.net > threshold).order_by(
        [ibis.desc("net"), "station_id", "date", "hour"]
    )
