"""Datum conversions against published reference values, and round trips inside China."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govcenter.core import geo
from govcenter.core.geo import Datum, Point

# coordtransform (wandergis) README / hutool CoordinateUtilTest: input (116.404, 39.915).
COORDTRANSFORM_INPUT = (116.404, 39.915)
COORDTRANSFORM = {
    "wgs84_to_gcj02": (116.41024449916938, 39.91640428150164),
    "gcj02_to_bd09": (116.41036949371029, 39.92133699351021),
    "bd09_to_gcj02": (116.39762729119315, 39.90865673957631),
}
# The one-step GCJ-02 → WGS-84 approximation those libraries publish (centimetres to metres off).
COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP = (116.39775550083061, 39.91359571849836)

# eviltransform's test suite: (wgs_lat, wgs_lng, gcj_lat, gcj_lng).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# Beijing railway station: GCJ-02 (39.90245, 116.42703) ↔ BD-09 (39.90851, 116.43351), 5 decimals.
STATION_GCJ = (116.42703, 39.90245)
STATION_BD = (116.43351, 39.90851)

china_lon = st.floats(min_value=73.7, max_value=134.7, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.4, allow_nan=False)


@pytest.mark.parametrize("name", sorted(COORDTRANSFORM))
def test_coordtransform_reference_values(name):
    lon, lat = getattr(geo, name)(*COORDTRANSFORM_INPUT)
    want_lon, want_lat = COORDTRANSFORM[name]
    assert lon == pytest.approx(want_lon, abs=1e-12)
    assert lat == pytest.approx(want_lat, abs=1e-12)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM)
def test_eviltransform_reference_values(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    lon, lat = geo.wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert (lon, lat) == (pytest.approx(gcj_lon, abs=1e-12), pytest.approx(gcj_lat, abs=1e-12))
    # The exact inverse lands back on the GPS fix, far inside 1 m.
    back_lon, back_lat = geo.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert geo.distance_m(back_lon, back_lat, wgs_lon, wgs_lat) < 0.01


def test_inverse_beats_the_one_step_approximation():
    lon, lat = geo.gcj02_to_wgs84(*COORDTRANSFORM_INPUT)
    # Close to the published one-step value…
    assert geo.distance_m(lon, lat, *COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP) < 1.0
    # …but ours maps forward onto the input to the millimetre, the one-step does not.
    fwd = geo.wgs84_to_gcj02(lon, lat)
    one_step_fwd = geo.wgs84_to_gcj02(*COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP)
    assert geo.distance_m(*fwd, *COORDTRANSFORM_INPUT) < 0.001
    assert geo.distance_m(*one_step_fwd, *COORDTRANSFORM_INPUT) > 0.01


def test_bd09_of_beijing_railway_station():
    lon, lat = geo.gcj02_to_bd09(*STATION_GCJ)
    assert (lon, lat) == (pytest.approx(STATION_BD[0], abs=1e-5), pytest.approx(STATION_BD[1], abs=1e-5))
    lon, lat = geo.bd09_to_gcj02(*STATION_BD)
    assert (lon, lat) == (pytest.approx(STATION_GCJ[0], abs=2e-5), pytest.approx(STATION_GCJ[1], abs=2e-5))


def test_offset_in_beijing_is_a_few_hundred_metres():
    lon, lat = geo.wgs84_to_gcj02(116.39, 39.91)
    assert 100 < geo.distance_m(116.39, 39.91, lon, lat) < 1000


def test_outside_china_passes_through_unchanged():
    for lon, lat in [(-74.006, 40.7128), (2.3522, 48.8566), (151.2093, -33.8688)]:
        assert geo.wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert geo.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_vectorised_equals_scalar():
    rng = np.random.default_rng(3)
    lon = rng.uniform(100, 125, 500)
    lat = rng.uniform(20, 45, 500)
    for fn in (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84, geo.gcj02_to_bd09, geo.bd09_to_gcj02_exact):
        vlon, vlat = fn(lon, lat)
        assert vlon.shape == lon.shape
        for i in (0, 17, 499):
            slon, slat = fn(float(lon[i]), float(lat[i]))
            assert (slon, slat) == (pytest.approx(vlon[i], abs=1e-12), pytest.approx(vlat[i], abs=1e-12))


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_wgs84_gcj02_round_trip_under_a_centimetre(lon, lat):
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    back = geo.gcj02_to_wgs84(glon, glat)
    assert geo.distance_m(*back, lon, lat) < 0.01
    # The offset is real (tens to hundreds of metres), never zero inside China.
    assert 1 < geo.distance_m(glon, glat, lon, lat) < 1500


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_bd09_round_trip(lon, lat):
    blon, blat = geo.gcj02_to_bd09(lon, lat)
    # Baidu's published inverse is approximate (a few metres at most)…
    assert geo.distance_m(*geo.bd09_to_gcj02(blon, blat), lon, lat) < 10
    # …the iterated one is exact to the millimetre.
    assert geo.distance_m(*geo.bd09_to_gcj02_exact(blon, blat), lon, lat) < 0.001


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat, st.sampled_from(list(Datum)), st.sampled_from(list(Datum)))
def test_convert_any_pair_round_trips(lon, lat, a, b):
    there = geo.convert(lon, lat, a, b)
    back = geo.convert(*there, b, a)
    assert geo.distance_m(*back, lon, lat) < 0.01


def test_point_carries_its_datum():
    gps = Point(116.404, 39.915, "wgs84")
    assert gps.datum is Datum.WGS84
    gcj = gps.to(Datum.GCJ02)
    assert gcj.datum is Datum.GCJ02
    assert (gcj.lon, gcj.lat) == pytest.approx(COORDTRANSFORM["wgs84_to_gcj02"], abs=1e-12)
    assert gcj.to("WGS-84").distance_m(gps) < 0.01
    # Distances compare places, whatever datum each point carries.
    assert gps.distance_m(gcj) < 0.01
    assert gps.to(Datum.WGS84) is gps
    assert gcj.as_geojson() == {"type": "Point", "coordinates": [gcj.lon, gcj.lat]}


@pytest.mark.parametrize(
    ("text", "datum"),
    [
        ("WGS-84", Datum.WGS84),
        ("wgs84", Datum.WGS84),
        ("gcj_02", Datum.GCJ02),
        ("GCJ02", Datum.GCJ02),
        ("bd-09", Datum.BD09),
    ],
)
def test_datum_parse(text, datum):
    assert Datum.parse(text) is datum


@pytest.mark.parametrize("bad", ["EPSG:4326", "", "mars"])
def test_datum_parse_rejects_unknown(bad):
    with pytest.raises(ValueError):
        Datum.parse(bad)


@pytest.mark.parametrize(("lon", "lat"), [(181, 0), (0, 91), (math.nan, 0), (0, math.inf)])
def test_point_rejects_impossible_coordinates(lon, lat):
    with pytest.raises(ValueError):
        Point(lon, lat, Datum.WGS84)
