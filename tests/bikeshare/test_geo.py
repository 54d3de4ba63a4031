"""Fence parsing (datums, validation error codes), point → fence lookup, and the station seed."""

from __future__ import annotations

import copy
import json
from datetime import date

import numpy as np
import pytest
import shapely

from govcenter.bikeshare import geo
from govcenter.bikeshare.data.stations import build as stations_build
from govcenter.bikeshare.geo import FenceFileError, FenceIndex, FenceKind, parse_fences, points_in_fences
from govcenter.core import geo as core_geo
from govcenter.core.districts import DistrictIndex
from govcenter.core.geo import Datum

TIANANMEN = (116.397428, 39.90923)  # GCJ-02, Dongcheng
ZHONGGUANCUN = (116.3106, 39.9834)  # GCJ-02, Haidian


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_files()


@pytest.fixture(scope="module")
def seed(index):
    return geo.rail_station_fences(index=index)


def square(lon: float, lat: float, half: float = 0.001) -> list:
    return [
        [
            [lon - half, lat - half],
            [lon + half, lat - half],
            [lon + half, lat + half],
            [lon - half, lat + half],
            [lon - half, lat - half],
        ]
    ]


def feature(coordinates=None, geometry_type="Polygon", **properties) -> dict:
    props = {"name": "测试围栏", "kind": "parking"}
    props.update(properties)
    return {
        "type": "Feature",
        "geometry": {
            "type": geometry_type,
            "coordinates": square(*TIANANMEN) if coordinates is None else coordinates,
        },
        "properties": props,
    }


def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def coords(geometry) -> np.ndarray:
    return shapely.get_coordinates(geometry)


# ---------------------------------------------------------------------------------------
# Datums
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("datum", [Datum.WGS84, Datum.BD09])
def test_a_fence_given_in_another_datum_lands_on_its_gcj02_twin(seed, index, datum):
    twins = list(seed)[:5]
    converted = [
        {
            "type": "Feature",
            "geometry": json.loads(shapely.to_geojson(geo.convert_geometry(f.geometry, Datum.GCJ02, datum))),
            "properties": {"name": f.name, "kind": "rail_station"},
        }
        for f in twins
    ]
    parsed = parse_fences(collection(*converted), datum=datum, index=index)
    assert parsed.ok and len(parsed) == len(twins)
    for fence, twin in zip(parsed, twins, strict=True):
        assert fence.source_datum == datum
        assert fence.datum == Datum.GCJ02
        lon, lat = coords(fence.geometry).T
        tlon, tlat = coords(twin.geometry).T
        assert core_geo.distance_m(lon, lat, tlon, tlat).max() < 0.001  # a millimetre
        assert fence.district == twin.district and fence.district_derived
        # The same numbers taken for GCJ-02 lie hundreds of metres off: no overlap at all.
        wrong = parse_fences(collection(copy.deepcopy(converted[0])), datum=Datum.GCJ02, index=index)
        assert wrong.ok
    offset = shapely.distance(wrong[0].geometry.centroid, twins[0].geometry.centroid) * 111_000
    assert offset > 400
    assert not wrong[0].geometry.intersects(twins[0].geometry)


def test_round_trip_wgs84_in_gcj02_stored_wgs84_out(index):
    rng = np.random.default_rng(5)
    ring = coords(geo.circle_polygon(116.45, 39.93, 400, segments=40))[:-1]
    ring = ring + rng.normal(0, 2e-5, ring.shape)  # irregular, still valid
    wgs = shapely.Polygon(np.vstack([ring, ring[:1]]))
    assert wgs.is_valid
    source = {
        "type": "Feature",
        "geometry": json.loads(shapely.to_geojson(wgs)),
        "properties": {"name": "甲", "kind": "no_parking"},
    }
    fence = parse_fences(collection(source), datum="wgs84", index=index)[0]
    gcj = coords(fence.geometry)
    moved = core_geo.distance_m(*coords(wgs).T, *gcj.T)
    assert moved.min() > 450  # it really was converted
    back = coords(fence.geometry_in(Datum.WGS84))
    assert np.abs(back - coords(wgs)).max() < 1e-8  # under a millimetre
    # Exported as WGS-84 GeoJSON and read again: the same GCJ-02 fence.
    exported = fence.as_geojson(Datum.WGS84)
    again = parse_fences(collection(exported), datum=Datum.WGS84, index=index)[0]
    assert np.abs(coords(again.geometry) - gcj).max() < 1e-9
    assert again.kind == FenceKind.NO_PARKING and again.district == fence.district


def test_multipolygon_with_a_hole_converts_every_ring(index):
    outer = square(*TIANANMEN, half=0.003)[0]
    hole = square(*TIANANMEN, half=0.001)[0][::-1]
    other = square(*ZHONGGUANCUN)[0]
    fence = parse_fences(
        collection(feature([[outer, hole], [other]], "MultiPolygon")), datum=Datum.WGS84, index=index
    )[0]
    assert isinstance(fence.geometry, shapely.MultiPolygon)
    assert len(fence.geometry.geoms[0].interiors) == 1
    glon, glat = core_geo.wgs84_to_gcj02(np.array(hole)[:, 0], np.array(hole)[:, 1])
    assert np.allclose(
        coords(fence.geometry.geoms[0].interiors[0]), np.column_stack([glon, glat]), atol=1e-12
    )


# ---------------------------------------------------------------------------------------
# Validation: every error code
# ---------------------------------------------------------------------------------------

BOWTIE = [[[116.39, 39.90], [116.40, 39.91], [116.40, 39.90], [116.39, 39.91], [116.39, 39.90]]]
TIANJIN = square(117.2, 39.13)
ACROSS_THE_BORDER = [[[116.0, 39.6], [117.6, 39.6], [117.6, 39.7], [116.0, 39.7], [116.0, 39.6]]]

BAD_FEATURES = {
    "not_a_feature": [{"type": "Polygon", "coordinates": square(*TIANANMEN)}, "just text"],
    "unsupported_geometry": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(TIANANMEN)},
            "properties": {"name": "a", "kind": "parking"},
        },
        {"type": "Feature", "geometry": None, "properties": {"name": "a", "kind": "parking"}},
    ],
    "invalid_geometry": [
        feature(BOWTIE),
        feature([[[116.39, 39.90], [116.40, 39.91], [116.39, 39.90]]]),  # three positions
        feature([[["116.39", 39.90], [116.40, 39.90], [116.40, 39.91], ["116.39", 39.90]]]),
        feature([[[116.39, 39.90], [116.40, 39.90], [116.41, 39.90], [116.39, 39.90]]]),  # zero area
        feature([], "MultiPolygon"),
        feature([]),
    ],
    "unclosed_ring": [feature([[[116.39, 39.90], [116.40, 39.90], [116.40, 39.91], [116.39, 39.91]]])],
    "coordinates_out_of_range": [
        feature([[[196.39, 39.90], [196.40, 39.90], [196.40, 39.91], [196.39, 39.90]]]),
        feature([[[116.39, 99.0], [116.40, 99.0], [116.40, 99.1], [116.39, 99.0]]]),
    ],
    "outside_beijing": [feature(TIANJIN), feature(ACROSS_THE_BORDER)],
    "unknown_kind": [feature(kind="bus_stop"), feature(kind=None)],
    "missing_name": [feature(name=""), feature(name=None)],
    "bad_name": [feature(name="长" * 101), feature(name=42)],
    "bad_station": [feature(station=["西直门"])],
    "bad_dates": [
        feature(valid_from="2026-13-01"),
        feature(valid_to="next week"),
        feature(valid_from=20261126),
        feature(valid_from="2026-12-01", valid_to="2026-11-30"),
    ],
    "unknown_district": [feature(district="110100"), feature(district="东城区")],
    "bad_properties": [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": square(*TIANANMEN)},
            "properties": ["name"],
        }
    ],
}


@pytest.mark.parametrize("code", sorted(BAD_FEATURES))
def test_each_bad_feature_gets_its_code_and_the_good_ones_still_parse(index, code):
    bad = BAD_FEATURES[code]
    good = feature(name="好围栏")
    features = [good, *copy.deepcopy(bad), copy.deepcopy(good)]
    result = parse_fences(collection(*features), datum=Datum.GCJ02, index=index)
    assert result.feature_count == len(features)
    assert [f.index for f in result] == [0, len(features) - 1]
    assert [f.name for f in result] == ["好围栏", "好围栏"]
    assert sorted({e.index for e in result.errors}) == list(range(1, len(bad) + 1))
    assert [e.code for e in result.errors] == [code] * len(bad)
    assert all(e.message for e in result.errors)
    details = result.error_details()
    assert details[0]["code"] == code and details[0]["index"] == 1
    assert not result.ok


def test_every_problem_of_one_feature_is_reported(index):
    bad = feature(BOWTIE, kind="bus_stop", name="", valid_from="soon", district="999999")
    bad["id"] = "f-7"
    result = parse_fences(collection(bad), datum=Datum.GCJ02, index=index)
    assert len(result) == 0
    assert {e.code for e in result.errors} == {
        "invalid_geometry",
        "unknown_kind",
        "missing_name",
        "bad_dates",
        "unknown_district",
    }
    assert {e.feature_id for e in result.errors} == {"f-7"}
    assert {e.field for e in result.errors} == {"geometry", "kind", "name", "valid_from", "district"}


def test_the_city_check_happens_after_conversion(index):
    # Near Beijing's outline, a small square is inside when its numbers are GCJ-02 but not
    # when they are WGS-84 (converted, it moves ~540 m) — or the other way round.
    city = geo._city()
    border = np.concatenate([coords(p.exterior) for p in getattr(city, "geoms", [city])])
    for x, y in border[::25]:
        ring = square(x, y, 0.0004)
        taken_as_gcj = shapely.Polygon(ring[0])
        taken_as_wgs = geo.convert_geometry(taken_as_gcj, Datum.WGS84, Datum.GCJ02)
        if city.covers(taken_as_gcj) != city.covers(taken_as_wgs):
            break
    else:
        pytest.fail("no border square found")
    as_gcj = parse_fences(collection(feature(ring)), datum="GCJ-02", index=index)
    as_wgs = parse_fences(collection(feature(ring)), datum="WGS-84", index=index)
    assert as_gcj.ok == city.covers(taken_as_gcj) and as_wgs.ok == city.covers(taken_as_wgs)
    failing = as_wgs if as_gcj.ok else as_gcj
    assert [e.code for e in failing.errors] == ["outside_beijing"]


@pytest.mark.parametrize(
    ("payload", "datum", "code"),
    [
        ("{not json", "GCJ-02", "bad_json"),
        (b"\xff\xfe", "GCJ-02", "bad_json"),
        ('{"type": "Feature"}', "GCJ-02", "not_feature_collection"),
        ({"type": "FeatureCollection", "features": {}}, "GCJ-02", "not_feature_collection"),
        ([], "GCJ-02", "not_feature_collection"),
        (collection(feature()), "CGCS2000", "unknown_datum"),
    ],
)
def test_a_file_that_is_unusable_as_a_whole_raises(index, payload, datum, code):
    with pytest.raises(FenceFileError) as caught:
        parse_fences(payload, datum=datum, index=index)
    assert caught.value.code == code and caught.value.message


def test_too_many_features_is_refused_before_any_work(index):
    with pytest.raises(FenceFileError) as caught:
        parse_fences(collection(*[feature()] * 4), datum="GCJ-02", index=index, max_features=3)
    assert caught.value.code == "too_many_features"
    assert caught.value.details == {"count": 4, "max": 3}


def test_a_json_string_with_bom_and_properties_parse(index):
    text = "\ufeff" + json.dumps(
        collection(
            feature(name=" 西单北侧停放区 ", valid_from="2026-12-01", valid_to="2027-03-31", station="西单")
        )
    )
    result = parse_fences(text.encode("utf-8"), datum="gcj02", index=index)
    assert result.ok
    fence = result[0]
    assert fence.name == "西单北侧停放区" and fence.station == "西单"
    assert (fence.valid_from, fence.valid_to) == (date(2026, 12, 1), date(2027, 3, 31))
    assert fence.is_active(date(2026, 12, 1)) and fence.is_active(date(2027, 3, 31))
    assert not fence.is_active(date(2026, 11, 30)) and not fence.is_active(date(2027, 4, 1))
    assert fence.kind.label  # a translated label exists


def test_district_is_derived_from_the_centroid_unless_given(index):
    result = parse_fences(
        collection(
            feature(square(*TIANANMEN)),
            feature(square(*ZHONGGUANCUN)),
            feature(square(*ZHONGGUANCUN), district="BDA"),
        ),
        datum=Datum.GCJ02,
        index=index,
    )
    assert [(f.district, f.district_derived) for f in result] == [
        ("110101", True),
        ("110108", True),
        ("BDA", False),
    ]


@pytest.mark.django_db
def test_the_default_district_lookup_is_the_shared_index():
    # No index passed: govcenter.core.districts.get_index() (database rows or the files).
    result = parse_fences(collection(feature(square(*ZHONGGUANCUN))), datum=Datum.GCJ02)
    assert result.ok and result[0].district == "110108"


# ---------------------------------------------------------------------------------------
# Point → fence
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_fences(seed):
    """The station seed, overlapping circles, a holed square and a MultiPolygon."""
    extra = [
        geo.circle_polygon(116.3551, 39.9406, 300),  # overlaps 西直门 (index 0)
        geo.circle_polygon(116.3560, 39.9410, 80),
        shapely.Polygon(square(116.50, 39.95, 0.004)[0], [square(116.50, 39.95, 0.002)[0]]),
        shapely.MultiPolygon(
            [shapely.Polygon(square(116.30, 39.85)[0]), shapely.Polygon(square(116.31, 39.85)[0])]
        ),
    ]
    return [f.geometry for f in seed] + extra


def reference(fences, lon, lat) -> np.ndarray:
    """The slow per-point shapely answer: the first fence that covers the point."""
    result = np.full(len(lon), -1, dtype=np.int64)
    for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
        point = shapely.Point(x, y)
        for k, fence in enumerate(fences):
            if fence.covers(point):
                result[i] = k
                break
    return result


def test_points_in_fences_on_200000_points_matches_shapely_per_point(mixed_fences):
    rng = np.random.default_rng(2026)
    n = 200_000
    centres = np.array([shapely.get_coordinates(f.centroid)[0] for f in mixed_fences])
    near = rng.integers(0, len(centres), n // 2)
    lon = np.concatenate([centres[near, 0] + rng.normal(0, 0.003, n // 2), rng.uniform(116.1, 116.7, n // 2)])
    lat = np.concatenate([centres[near, 1] + rng.normal(0, 0.002, n // 2), rng.uniform(39.6, 40.2, n // 2)])
    result = points_in_fences(lon, lat, mixed_fences)
    assert result.shape == (n,) and result.dtype == np.int64
    hits = np.flatnonzero(result >= 0)
    misses = np.flatnonzero(result < 0)
    assert len(hits) > 10_000 and len(misses) > 10_000  # both answers are exercised
    sample = np.concatenate([rng.choice(hits, 1500, replace=False), rng.choice(misses, 1500, replace=False)])
    assert np.array_equal(result[sample], reference(mixed_fences, lon[sample], lat[sample]))
    # Whole-array cross-check with shapely's vectorised predicate, fence by fence.
    expected = np.full(n, -1, dtype=np.int64)
    for k in range(len(mixed_fences) - 1, -1, -1):
        expected[shapely.intersects_xy(mixed_fences[k], lon, lat)] = k
    assert np.array_equal(result, expected)


def test_overlap_edges_holes_nan_and_shape(mixed_fences):
    first, outer = 0, len(mixed_fences) - 4  # 西直门 and the 300 m circle around the same point
    edge = shapely.get_coordinates(mixed_fences[1])[3]
    lon = np.array([[116.3551, 116.3551 + 0.0025], [edge[0], np.nan]])
    lat = np.array([[39.9406, 39.9406], [edge[1], 39.9]])
    result = points_in_fences(lon, lat, mixed_fences)
    assert result.shape == (2, 2)
    assert result[0, 0] == first  # in both: the lower index wins
    assert result[0, 1] == outer  # ~210 m east: only in the large circle
    assert result[1, 0] == 1  # a vertex is on the edge: inside
    assert result[1, 1] == -1  # NaN
    holed = len(mixed_fences) - 2
    assert points_in_fences([116.50, 116.503], [39.95, 39.95], mixed_fences).tolist() == [-1, holed]
    assert points_in_fences([], [], mixed_fences).tolist() == []
    assert points_in_fences([116.5], [39.95], []).tolist() == [-1]


def test_points_in_fences_converts_the_points_datum(seed):
    fences = list(seed)
    centres = np.array([f.properties["center"] for f in fences])
    wlon, wlat = core_geo.gcj02_to_wgs84(centres[:, 0], centres[:, 1])
    index = FenceIndex(fences)
    assert index.lookup(wlon, wlat, datum=Datum.WGS84).tolist() == list(range(len(fences)))
    # The same GPS numbers taken for GCJ-02 miss every 150 m fence (the offset is ~0.5 km).
    assert (index.lookup(wlon, wlat) == -1).all()


# ---------------------------------------------------------------------------------------
# The station seed
# ---------------------------------------------------------------------------------------


def test_the_seed_parses_with_zero_errors(seed):
    assert seed.ok, seed.error_details()
    assert seed.feature_count == len(seed) >= 20
    assert {f.kind for f in seed} == {FenceKind.RAIL_STATION}
    assert len({f.station for f in seed}) == len(seed)
    assert {"西直门", "国贸", "北京西站", "望京", "五道口", "天通苑", "回龙观"} <= {f.station for f in seed}


def test_every_station_is_in_its_own_district(seed, index):
    centres = np.array([f.properties["center"] for f in seed])
    codes = index.lookup_codes(centres[:, 0], centres[:, 1]).tolist()
    assert codes == [f.district for f in seed]
    assert len(set(codes)) >= 8  # spread over the city, not one district
    # And the district a fence would be given from its centroid is the same.
    stripped = json.loads(geo.STATIONS_FILE.read_text(encoding="utf-8"))
    for item in stripped["features"]:
        del item["properties"]["district"]
    derived = parse_fences(stripped, datum=Datum.GCJ02, index=index)
    assert [(f.district, f.district_derived) for f in derived] == [(f.district, True) for f in seed]


def test_each_seed_fence_is_a_150_m_circle_around_its_station(seed):
    for fence in seed:
        lon, lat = fence.properties["center"]
        assert fence.geometry.contains(shapely.Point(lon, lat))
        ring = coords(fence.geometry)
        radii = core_geo.distance_m(lon, lat, ring[:, 0], ring[:, 1])
        assert np.abs(radii - 150).max() < 0.5
        assert len(ring) == 65


def test_the_seed_file_is_what_build_py_generates():
    on_disk = json.loads(geo.STATIONS_FILE.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(stations_build.build()))
