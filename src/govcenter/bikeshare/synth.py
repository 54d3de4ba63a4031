"""A synthetic Beijing bike-share day: bikes, trips and telemetry, vectorised with numpy.

What it models (scale 1.0 = Beijing 2024: about 790,000 bikes of 3 operators in the central
area, 3.1 million rides a day, about 30 million telemetry points):

* **Bikes** start the day parked: half near a rail station (the first/last-mile pull), half
  spread over the districts by weight (the six central districts first); every position is
  inside Beijing's real district boundaries (GCJ-02, ``core.districts``).
* **Trips** are assigned to bikes with a skewed rate (many bikes idle, a few busy); start
  times follow the commuter day — a morning peak around 08:00, an evening peak around 18:00,
  a midday plateau and a quiet night. A bike's trips chain: each starts where the previous
  one ended, never before it ended. Destinations: in the morning peak a ride tends to end at
  the nearest rail station (home → metro), in the evening it tends to start from one
  (metro → home; the bikes there were left by the morning); otherwise a random ride of the
  length the duration and a cycling speed give. A destination outside Beijing is folded back.
* **Telemetry**: while ridden a point at the start, every 120 s (the 2-minute rule) and at
  the end, with GPS noise of a few metres; while parked a position every 4 hours (the
  4-hour rule), at a per-bike phase.

Everything is drawn from one seeded generator: the same (day, scale, seed) gives the same
data. Times are epoch milliseconds (UTC) of the given Beijing day; coordinates GCJ-02.
The arrays are plain numpy columns (a dict per data set) so the caller chooses the sink —
the lake writer, the ingest API, a test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from govcenter.core.districts import DistrictIndex

BEIJING = ZoneInfo("Asia/Shanghai")
BIKES_AT_SCALE_1 = 790_000
TRIPS_AT_SCALE_1 = 3_100_000
# Operator code, display name and fleet share (the demo loader maps the codes to the operator
# units `govcenter demo` creates).
OPERATORS: tuple[tuple[str, str, float], ...] = (
    ("meituan", "美团单车", 0.45),
    ("hellobike", "哈啰单车", 0.35),
    ("qingju", "青桔单车", 0.20),
)
# Where bikes are (weights by district code): the central districts carry most of the fleet.
DISTRICT_WEIGHTS: dict[str, float] = {
    "110101": 0.05, "110102": 0.06, "110105": 0.21, "110106": 0.10, "110107": 0.03,
    "110108": 0.19, "110109": 0.01, "110111": 0.03, "110112": 0.08, "110113": 0.04,
    "110114": 0.09, "110115": 0.07, "110116": 0.01, "110117": 0.01, "110118": 0.01,
    "110119": 0.01,
}  # fmt: skip
RIDE_POINT_INTERVAL_S = 120  # a point at least every 2 minutes while ridden
PARKED_REPORT_INTERVAL_S = 4 * 3600  # a position at least every 4 hours while parked
GPS_NOISE_M = 5.0
STATION_PULL_M = 3_000  # a rail station within this distance attracts peak rides
STATION_JITTER_M = 60.0  # where around the station entrance a bike is left
_M_PER_DEG_LAT = 111_320.0


def _m_per_deg_lon(lat: np.ndarray | float) -> np.ndarray | float:
    return _M_PER_DEG_LAT * np.cos(np.radians(lat))


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Equirectangular distance in metres (exact enough within a city)."""
    mid = (np.asarray(lat1) + np.asarray(lat2)) / 2
    dx = (np.asarray(lon2) - np.asarray(lon1)) * _m_per_deg_lon(mid)
    dy = (np.asarray(lat2) - np.asarray(lat1)) * _M_PER_DEG_LAT
    return np.hypot(dx, dy)


@dataclass
class SyntheticDay:
    """One generated day. ``bikes`` and ``trips`` are dicts of equal-length numpy columns;
    telemetry is produced in chunks by :meth:`telemetry_chunks` (30 million points do not fit
    comfortably in memory at once)."""

    day: dt.date
    operators: list[str]
    bikes: dict[str, np.ndarray]
    trips: dict[str, np.ndarray]
    seed: int
    day_start_ms: int = 0
    _stations: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))

    @property
    def n_bikes(self) -> int:
        return len(self.bikes["device_index"])

    @property
    def n_trips(self) -> int:
        return len(self.trips["trip_index"])

    def telemetry_chunks(self, *, trips_per_chunk: int = 200_000) -> Iterator[dict[str, np.ndarray]]:
        """Ride points of the trips, chunk by chunk, then the parked reports of every bike.

        Columns: ``device_index``, ``trip_index`` (-1 when parked), ``timestamp_ms``,
        ``lon``, ``lat`` (GCJ-02).
        """
        rng = np.random.default_rng([self.seed, 2])
        for first in range(0, self.n_trips, trips_per_chunk):
            yield _ride_points(self.trips, slice(first, first + trips_per_chunk), rng)
        yield _parked_points(self)

    def telemetry_count(self) -> int:
        """How many points :meth:`telemetry_chunks` yields (without generating them)."""
        duration_s = (self.trips["end_ms"] - self.trips["start_ms"]) // 1000
        ride = int((-(-duration_s // RIDE_POINT_INTERVAL_S) + 1).sum())
        return ride + len(_parked_points(self)["timestamp_ms"])


def _sample_in_districts(
    rng: np.random.Generator, index: DistrictIndex, n: int, weights: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly inside districts chosen by weight (rejection sampling in each bbox)."""
    codes = [c for c in index.codes.tolist() if weights.get(c, 0) > 0]
    p = np.array([weights[c] for c in codes], dtype=float)
    counts = rng.multinomial(n, p / p.sum())
    lon = np.empty(n)
    lat = np.empty(n)
    filled = 0
    for code, k in zip(codes, counts, strict=True):
        if k == 0:
            continue
        polygon = index.polygons[index.codes.tolist().index(code)]
        x0, y0, x1, y1 = polygon.bounds
        got_lon: list[np.ndarray] = []
        got = 0
        got_lat: list[np.ndarray] = []
        while got < k:
            m = max(int((k - got) * 2.5), 64)
            x = rng.uniform(x0, x1, m)
            y = rng.uniform(y0, y1, m)
            inside = index.lookup_codes(x, y) == code
            got_lon.append(x[inside])
            got_lat.append(y[inside])
            got += int(inside.sum())
        lon[filled : filled + k] = np.concatenate(got_lon)[:k]
        lat[filled : filled + k] = np.concatenate(got_lat)[:k]
        filled += k
    order = rng.permutation(n)
    return lon[order], lat[order]


def _offset(lon, lat, dx_m, dy_m) -> tuple[np.ndarray, np.ndarray]:
    return lon + dx_m / _m_per_deg_lon(lat), lat + dy_m / _M_PER_DEG_LAT


def _start_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight (Beijing) of ``n`` trip starts: the commuter day."""
    component = rng.choice(4, size=n, p=[0.27, 0.31, 0.37, 0.05])
    s = np.empty(n)
    m = component == 0  # morning peak
    s[m] = rng.normal(8 * 3600, 50 * 60, m.sum())
    m = component == 1  # evening peak
    s[m] = rng.normal(18 * 3600, 65 * 60, m.sum())
    m = component == 2  # day plateau
    s[m] = rng.uniform(6.5 * 3600, 22 * 3600, m.sum())
    m = component == 3  # night
    s[m] = rng.uniform(0, 24 * 3600, m.sum())
    return np.clip(s, 0, 24 * 3600 - 1800).astype(np.int64)


def _nearest_station(stations: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest station for each point (chunked: n × stations)."""
    best = np.zeros(len(lon), dtype=np.int64)
    dist = np.full(len(lon), np.inf)
    for k, (slon, slat) in enumerate(stations):
        d = distance_m(lon, lat, slon, slat)
        closer = d < dist
        best[closer] = k
        dist[closer] = d[closer]
    return best, dist


def generate_day(
    day: dt.date,
    *,
    scale: float = 1.0,
    seed: int = 20240901,
    stations: list[tuple[float, float]] | None = None,
    index: DistrictIndex | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> SyntheticDay:
    """Bikes and trips of one Beijing day (see the module docstring).

    ``stations``: rail-station entrances (lon, lat GCJ-02) that attract peak rides; without
    them rides are random walks. ``progress(stage, fraction)`` is called as the work goes.
    """
    if not 0 < scale <= 2:
        raise ValueError("scale must be in (0, 2]")
    report = progress or (lambda stage, fraction: None)
    rng = np.random.default_rng([seed, 1])
    index = index or DistrictIndex.from_files()
    station_xy = np.asarray(stations or [], dtype=float).reshape(-1, 2)
    n_bikes = max(int(round(BIKES_AT_SCALE_1 * scale)), len(OPERATORS))
    n_trips = int(round(TRIPS_AT_SCALE_1 * scale))
    day_start = dt.datetime.combine(day, dt.time(0), tzinfo=BEIJING)
    day_start_ms = int(day_start.timestamp() * 1000)

    # -- bikes ---------------------------------------------------------------------------
    shares = np.array([share for _code, _name, share in OPERATORS])
    operator = rng.choice(len(OPERATORS), size=n_bikes, p=shares / shares.sum()).astype(np.int8)
    lon, lat = _sample_in_districts(rng, index, n_bikes, DISTRICT_WEIGHTS)
    if len(station_xy):
        near = rng.random(n_bikes) < 0.5
        pick = rng.integers(0, len(station_xy), near.sum())
        r = np.abs(rng.normal(0, 500, near.sum()))
        a = rng.uniform(0, 2 * np.pi, near.sum())
        slon, slat = _offset(station_xy[pick, 0], station_xy[pick, 1], r * np.cos(a), r * np.sin(a))
        ok = index.lookup(slon, slat) >= 0
        idx = np.flatnonzero(near)[ok]
        lon[idx], lat[idx] = slon[ok], slat[ok]
    per_operator = np.zeros(n_bikes, dtype=np.int64)
    for k in range(len(OPERATORS)):
        mask = operator == k
        per_operator[mask] = np.arange(mask.sum())
    bikes = {
        "device_index": np.arange(n_bikes, dtype=np.int64),
        "operator_index": operator,
        "serial": per_operator,  # the number printed on the bike, per operator
        "home_lon": lon,
        "home_lat": lat,
    }
    report("bikes", 1.0)

    # -- trips: who rides when -------------------------------------------------------------
    activity = rng.gamma(0.8, 1.0, n_bikes)
    bike = rng.choice(n_bikes, size=n_trips, p=activity / activity.sum())
    start_s = _start_seconds(rng, n_trips)
    order = np.lexsort((start_s, bike))
    bike, start_s = bike[order], start_s[order]
    duration_s = np.clip(rng.lognormal(np.log(11 * 60), 0.55, n_trips), 120, 2 * 3600).astype(np.int64)
    speed = np.clip(rng.normal(3.1, 0.6, n_trips), 1.8, 5.0)  # m/s, about 11 km/h
    # rank of each trip within its bike's day
    first = np.r_[True, bike[1:] != bike[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n_trips), 0))
    rank = np.arange(n_trips) - group_start

    o_lon = np.empty(n_trips)
    o_lat = np.empty(n_trips)
    d_lon = np.empty(n_trips)
    d_lat = np.empty(n_trips)
    max_rank = int(rank.max()) if n_trips else -1
    for k in range(max_rank + 1):
        cur = np.flatnonzero(rank == k)
        if k == 0:
            o_lon[cur], o_lat[cur] = lon[bike[cur]], lat[bike[cur]]
        else:
            prev = cur - 1
            o_lon[cur], o_lat[cur] = d_lon[prev], d_lat[prev]
            start_s[cur] = np.maximum(start_s[cur], start_s[prev] + duration_s[prev] + 60)
        _destinations(rng, index, station_xy, cur, start_s, duration_s, speed, o_lon, o_lat, d_lon, d_lat)
        # A ride the geometry made longer than its drawn duration takes as long as the speed
        # needs (before the next rank chains on its end).
        reach = distance_m(o_lon[cur], o_lat[cur], d_lon[cur], d_lat[cur]) * 1.25
        duration_s[cur] = np.maximum(duration_s[cur], (reach / speed[cur]).astype(np.int64) + 60)
        report("trips", (k + 1) / (max_rank + 1))

    dist = distance_m(o_lon, o_lat, d_lon, d_lat)
    start_ms = day_start_ms + start_s * 1000
    trips = {
        "trip_index": np.arange(n_trips, dtype=np.int64),
        "device_index": bike.astype(np.int64),
        "operator_index": operator[bike],
        "start_ms": start_ms,
        "end_ms": start_ms + duration_s * 1000,
        "start_lon": o_lon,
        "start_lat": o_lat,
        "end_lon": d_lon,
        "end_lat": d_lat,
        "distance_m": np.round(dist * 1.25).astype(np.int64),  # streets, not a straight line
    }
    return SyntheticDay(
        day=day,
        operators=[code for code, _name, _share in OPERATORS],
        bikes=bikes,
        trips=trips,
        seed=seed,
        day_start_ms=day_start_ms,
        _stations=station_xy,
    )


def _destinations(rng, index, stations, cur, start_s, duration_s, speed, o_lon, o_lat, d_lon, d_lat) -> None:
    """Destinations of the trips ``cur`` (their origins are set): station pull at peaks, else random."""
    n = len(cur)
    reach = speed[cur] * duration_s[cur] / 1.25
    angle = rng.uniform(0, 2 * np.pi, n)
    x, y = _offset(o_lon[cur], o_lat[cur], reach * np.cos(angle), reach * np.sin(angle))
    if len(stations):
        hour = start_s[cur] / 3600
        morning = (hour >= 6.5) & (hour < 9.5)
        best, dist = _nearest_station(stations, o_lon[cur], o_lat[cur])
        # Morning: home → metro (ride to the station). Evening: metro → home — the bikes left
        # at the stations in the morning ride away from them, which a random direction does.
        to_station = morning & (dist < STATION_PULL_M) & (dist > 200) & (rng.random(n) < 0.6)
        jitter = rng.normal(0, STATION_JITTER_M, (2, n))
        sx, sy = _offset(stations[best, 0], stations[best, 1], jitter[0], jitter[1])
        x = np.where(to_station, sx, x)
        y = np.where(to_station, sy, y)
    outside = index.lookup(x, y) < 0
    if outside.any():  # fold the ride back the other way; if that is outside too, a round trip
        fx, fy = 2 * o_lon[cur] - x, 2 * o_lat[cur] - y
        x = np.where(outside, fx, x)
        y = np.where(outside, fy, y)
        still = index.lookup(x, y) < 0
        x = np.where(still, o_lon[cur], x)
        y = np.where(still, o_lat[cur], y)
    d_lon[cur], d_lat[cur] = x, y


def _ride_points(trips: dict[str, np.ndarray], part: slice, rng: np.random.Generator) -> dict[str, np.ndarray]:
    start = trips["start_ms"][part]
    end = trips["end_ms"][part]
    duration_s = (end - start) // 1000
    per_trip = -(-duration_s // RIDE_POINT_INTERVAL_S) + 1  # start, every 120 s, end (no repeat)
    trip = np.repeat(np.arange(len(start)), per_trip)
    offsets = np.cumsum(per_trip) - per_trip
    j = np.arange(len(trip)) - np.repeat(offsets, per_trip)
    last = j == np.repeat(per_trip - 1, per_trip)
    ts = start[trip] + j * RIDE_POINT_INTERVAL_S * 1000
    ts = np.where(last, end[trip], ts)
    frac = (ts - start[trip]) / np.maximum(end[trip] - start[trip], 1)
    s_lon, s_lat = trips["start_lon"][part][trip], trips["start_lat"][part][trip]
    e_lon, e_lat = trips["end_lon"][part][trip], trips["end_lat"][part][trip]
    lon = s_lon + (e_lon - s_lon) * frac
    lat = s_lat + (e_lat - s_lat) * frac
    interior = (j > 0) & ~last
    noise = rng.normal(0, GPS_NOISE_M, (2, len(trip))) * interior
    lon, lat = _offset(lon, lat, noise[0], noise[1])
    base = part.start or 0
    return {
        "device_index": trips["device_index"][part][trip],
        "trip_index": trip.astype(np.int64) + base,
        "timestamp_ms": ts.astype(np.int64),
        "lon": lon,
        "lat": lat,
    }


def _parked_schedule(day: SyntheticDay) -> tuple[np.ndarray, np.ndarray]:
    """(device, time) of every parked report: every 4 hours from a per-bike phase."""
    rng = np.random.default_rng([day.seed, 3])
    n = day.n_bikes
    phase = rng.integers(0, PARKED_REPORT_INTERVAL_S, n)
    slots = 24 * 3600 // PARKED_REPORT_INTERVAL_S
    device = np.repeat(np.arange(n), slots)
    t_s = np.tile(np.arange(slots) * PARKED_REPORT_INTERVAL_S, n) + np.repeat(phase, slots)
    return device, day.day_start_ms + t_s.astype(np.int64) * 1000


def _parked_points(day: SyntheticDay) -> dict[str, np.ndarray]:
    """Where each bike stands at its report times: home before its first ride, else where
    its last finished ride ended; a report that falls during a ride is dropped (the ride
    reports instead)."""
    device, ts = _parked_schedule(day)
    trips = day.trips
    # Trips are sorted by (device, start): find the last trip of the device that started before ts.
    key_trip = trips["device_index"] * (1 << 42) + (trips["start_ms"] - day.day_start_ms)
    key_rep = device * (1 << 42) + (ts - day.day_start_ms)
    pos = np.searchsorted(key_trip, key_rep, side="right") - 1
    has = pos >= 0
    has[has] = trips["device_index"][pos[has]] == device[has]
    riding = np.zeros(len(device), dtype=bool)
    riding[has] = trips["end_ms"][pos[has]] >= ts[has]  # the ride's end point reports then
    lon = day.bikes["home_lon"][device].copy()
    lat = day.bikes["home_lat"][device].copy()
    lon[has] = trips["end_lon"][pos[has]]
    lat[has] = trips["end_lat"][pos[has]]
    keep = ~riding
    return {
        "device_index": device[keep].astype(np.int64),
        "trip_index": np.full(int(keep.sum()), -1, dtype=np.int64),
        "timestamp_ms": ts[keep],
        "lon": lon[keep],
        "lat": lat[keep],
    }
