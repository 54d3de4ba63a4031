"""The synthetic Beijing day: sizes follow the scale, every point is inside Beijing, the
commuter peaks, chained rides, the 2-minute and 4-hour reporting rules, station pull, seeds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from govcenter.bikeshare.synth import (
    BIKES_AT_SCALE_1,
    PARKED_REPORT_INTERVAL_S,
    RIDE_POINT_INTERVAL_S,
    TRIPS_AT_SCALE_1,
    distance_m,
    generate_day,
)
from govcenter.core.districts import DistrictIndex

DAY = dt.date(2026, 11, 2)  # a Monday
# A few central rail stations (GCJ-02, approximate entrances).
STATIONS = [(116.3537, 39.9404), (116.4614, 39.9087), (116.3219, 39.8945), (116.4700, 39.9970), (116.3375, 39.9925)]


@pytest.fixture(scope="module")
def index():
    return DistrictIndex.from_files()


@pytest.fixture(scope="module")
def day(index):
    return generate_day(DAY, scale=0.004, stations=STATIONS, index=index, seed=7)


@pytest.fixture(scope="module")
def telemetry(day):
    chunks = list(day.telemetry_chunks(trips_per_chunk=3_000))
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def test_sizes_follow_the_scale(day, telemetry):
    assert day.n_bikes == round(BIKES_AT_SCALE_1 * 0.004)
    assert day.n_trips == round(TRIPS_AT_SCALE_1 * 0.004)
    assert len(telemetry["lon"]) == day.telemetry_count()
    # one point per (bike, instant): the lake's key for telemetry
    keys = telemetry["device_index"] * (1 << 42) + (telemetry["timestamp_ms"] - day.day_start_ms)
    assert len(np.unique(keys)) == len(keys)
    # About 30 million points at scale 1: 7–13 points per trip (rides plus parked reports).
    assert 7 * day.n_trips < len(telemetry["lon"]) < 13 * day.n_trips
    operators, counts = np.unique(day.bikes["operator_index"], return_counts=True)
    assert operators.tolist() == [0, 1, 2] and counts[0] > counts[1] > counts[2]
    # vehicle serials are unique per operator
    pairs = set(zip(day.bikes["operator_index"].tolist(), day.bikes["serial"].tolist(), strict=True))
    assert len(pairs) == day.n_bikes


def test_every_position_is_inside_beijing(day, telemetry, index):
    for lon, lat in (
        (day.bikes["home_lon"], day.bikes["home_lat"]),
        (day.trips["start_lon"], day.trips["start_lat"]),
        (day.trips["end_lon"], day.trips["end_lat"]),
    ):
        assert (index.lookup(lon, lat) >= 0).all()
    # Ride points are on the way between two inside points (plus metres of GPS noise): allow
    # a handful outside a concave border, never a real share.
    outside = (index.lookup(telemetry["lon"], telemetry["lat"]) < 0).mean()
    assert outside < 0.002


def test_commuter_peaks(day):
    hour = (day.trips["start_ms"] - day.day_start_ms) // 3_600_000
    per_hour = np.bincount(hour.astype(int), minlength=25)[:24]
    assert per_hour[7:9].min() > 2.5 * per_hour[11:15].mean()
    assert per_hour[17:19].min() > 2.5 * per_hour[11:15].mean()
    assert per_hour[2:5].max() < 0.2 * per_hour[11:15].mean()


def test_rides_of_a_bike_chain_in_time_and_place(day):
    t = day.trips
    same = t["device_index"][1:] == t["device_index"][:-1]
    assert same.any()
    assert (t["start_ms"][1:][same] >= t["end_ms"][:-1][same]).all()
    assert np.array_equal(t["start_lon"][1:][same], t["end_lon"][:-1][same])
    assert np.array_equal(t["start_lat"][1:][same], t["end_lat"][:-1][same])
    first = np.r_[True, ~same]
    dev = t["device_index"][first]
    assert np.array_equal(t["start_lon"][first], day.bikes["home_lon"][dev])
    # durations and distances agree with a cycling speed (≤ 5 m/s along the streets)
    seconds = (t["end_ms"] - t["start_ms"]) / 1000
    assert (seconds >= 120).all() and (t["distance_m"] <= 5.0 * seconds + 1).all()
    assert np.allclose(
        t["distance_m"], np.round(distance_m(t["start_lon"], t["start_lat"], t["end_lon"], t["end_lat"]) * 1.25)
    )


def test_reporting_rules_hold(day, telemetry):
    ride = telemetry["trip_index"] >= 0
    trip, ts = telemetry["trip_index"][ride], telemetry["timestamp_ms"][ride]
    order = np.lexsort((ts, trip))
    trip, ts = trip[order], ts[order]
    same = trip[1:] == trip[:-1]
    gaps = np.diff(ts)[same]
    assert gaps.max() <= RIDE_POINT_INTERVAL_S * 1000 and gaps.min() > 0
    # each ride reports at its start and its end
    starts = ts[np.r_[True, ~same]]
    assert np.array_equal(starts, day.trips["start_ms"][np.unique(trip)])
    # parked: every bike reports at least every 4 hours when not riding
    parked = ~ride
    per_bike = np.bincount(telemetry["device_index"][parked], minlength=day.n_bikes)
    idle = np.setdiff1d(np.arange(day.n_bikes), day.trips["device_index"])
    assert (per_bike[idle] == 24 * 3600 // PARKED_REPORT_INTERVAL_S).all()


def test_morning_rides_end_at_rail_stations(day):
    t = day.trips
    hour = (t["start_ms"] - day.day_start_ms) / 3_600_000
    ends = np.min([distance_m(t["end_lon"], t["end_lat"], x, y) for x, y in STATIONS], axis=0)
    morning = (hour >= 7) & (hour < 9)
    midday = (hour >= 11) & (hour < 15)
    assert (ends[morning] < 300).mean() > 3 * max((ends[midday] < 300).mean(), 0.01)


def test_same_seed_same_day_other_seed_other_day(index):
    a = generate_day(DAY, scale=0.0005, stations=STATIONS, index=index, seed=1)
    b = generate_day(DAY, scale=0.0005, stations=STATIONS, index=index, seed=1)
    c = generate_day(DAY, scale=0.0005, stations=STATIONS, index=index, seed=2)
    assert all(np.array_equal(a.trips[k], b.trips[k]) for k in a.trips)
    assert not np.array_equal(a.trips["start_lon"], c.trips["start_lon"])


def test_bad_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        generate_day(DAY, scale=0)
