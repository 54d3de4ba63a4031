"""GBFS 3.0 feeds: every built feed validates against the vendored official schemas (per
operator and for ``beijing``, 10,000 synthetic bikes and the rail-station seed), positions
are published in WGS-84 and map back to the stored GCJ-02, vehicle ids rotate after a trip
and reveal nothing, fence kinds become the right geofencing rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import shapely
from jsonschema import Draft7Validator, FormatChecker

from govcenter.bikeshare import gbfs, synth
from govcenter.bikeshare.geo import FenceKind, circle_polygon, parse_fences, rail_station_fences
from govcenter.core.crypto import sm3
from govcenter.core.districts import DISTRICTS, DistrictIndex
from govcenter.core.geo import Datum, gcj02_to_wgs84, wgs84_to_gcj02

ROOT = Path(__file__).resolve().parents[2]
SHARED_SCHEMAS = ROOT.parent / "shared" / "data" / "standards" / "gbfs" / "schema-v3.0"
VENDORED = ("gbfs", "system_information", "vehicle_types", "vehicle_status", "geofencing_zones",
            "system_regions", "manifest")  # fmt: skip
BEIJING = gbfs.BEIJING
DAY = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 26, 8, 30, tzinfo=BEIJING)  # morning peak: many bikes on a trip
KEY = b"test-vehicle-id-key-0123456789ab"
BASE_URL = "https://govcenter.example.cn/api/v1/bikeshare/gbfs"
N_BIKES = 10_000
EBIKE = gbfs.ebike(60_000)
OPERATOR_NAMES = {code: {gbfs.LANG_ZH: name, gbfs.LANG_EN: code.title()} for code, name, _ in synth.OPERATORS}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _format_checker() -> FormatChecker:
    """jsonschema's checker plus strict date-time and uri checks (their optional packages are
    not installed, and without them jsonschema lets any string pass)."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri")
    def _uri(value) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value

    return checker


FORMATS = _format_checker()


def schema(name: str) -> dict:
    return json.loads((gbfs.SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def assert_valid(feed: dict, name: str) -> None:
    # A JSON round trip first: what is served is JSON, not Python objects (numpy types fail here).
    served = json.loads(json.dumps(feed, allow_nan=False))
    errors = sorted(Draft7Validator(schema(name), format_checker=FORMATS).iter_errors(served), key=str)
    assert not errors, f"{name}: {len(errors)} errors, first: {errors[0].message} at {list(errors[0].path)}"
    assert served["version"] == "3.0" and served["last_updated"] == gbfs.rfc3339(NOW)


# ---------------------------------------------------------------------------------------
# Fixtures: the synthetic day, the systems' inputs
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_files()


@pytest.fixture(scope="module")
def stations(index):
    fences = rail_station_fences(index=index)
    assert fences.ok and len(fences) == 21
    return fences


@pytest.fixture(scope="module")
def day(index, stations):
    centres = [(f.centroid.lon, f.centroid.lat) for f in stations]
    generated = synth.generate_day(DAY, scale=N_BIKES / synth.BIKES_AT_SCALE_1, stations=centres, index=index)
    assert generated.n_bikes == N_BIKES
    return generated


def with_ebikes(bikes: dict) -> dict:
    """Every fifth bike an e-bike with a battery range (so the motorised rules are exercised)."""
    bikes = dict(bikes)
    n = len(bikes["device_id"])
    electric = np.arange(n) % 5 == 0
    bikes["vehicle_type_id"] = np.where(electric, EBIKE.vehicle_type_id, gbfs.BICYCLE.vehicle_type_id).astype(
        object
    )
    bikes["current_range_meters"] = np.where(electric, 5_000.0 + 100.0 * (np.arange(n) % 400), np.nan)
    bikes["is_disabled"] = np.arange(n) % 97 == 0
    return bikes


@pytest.fixture(scope="module")
def fleets(day) -> dict[str, dict]:
    return {
        code: with_ebikes(gbfs.bikes_from_synthetic_day(day, NOW, operator=code)) for code in day.operators
    }


@pytest.fixture(scope="module")
def systems(fleets) -> dict[str, tuple[dict, list]]:
    """system_id → (bike columns, vehicle types), the operators' and the aggregate."""
    types = [gbfs.BICYCLE, EBIKE]
    out = {code: (bikes, types) for code, bikes in fleets.items()}
    out[gbfs.AGGREGATE_SYSTEM_ID] = (
        gbfs.aggregate_bikes(fleets),
        gbfs.aggregate_vehicle_types({code: types for code in fleets}, OPERATOR_NAMES),
    )
    return out


def no_parking_collection(lon: float, lat: float) -> dict:
    """Around a station centre (GCJ-02): an 80 m no-parking circle with a 20 m parking bay."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "np-1",
                "geometry": shapely.geometry.mapping(circle_polygon(lon, lat, 80.0)),
                "properties": {"name": "站口禁停区", "kind": "no_parking"},
            },
            {
                "type": "Feature",
                "id": "bay-1",
                "geometry": shapely.geometry.mapping(circle_polygon(lon, lat, 20.0)),
                "properties": {"name": "站口停车区", "kind": "parking", "name_en": "Station bay"},
            },
        ],
    }
    return json.loads(json.dumps(collection))  # lists, as a parsed file has them


@pytest.fixture(scope="module")
def fences(stations, index):
    centre = stations[0].centroid
    extra = parse_fences(no_parking_collection(centre.lon, centre.lat), datum="GCJ-02", index=index)
    assert extra.ok, extra.error_details()
    return [*stations, *extra]


# ---------------------------------------------------------------------------------------
# Vendored schemas
# ---------------------------------------------------------------------------------------


def test_vendored_schemas_are_draft07_and_licensed():
    for name in VENDORED:
        document = schema(name)
        assert document["$schema"].startswith("http://json-schema.org/draft-07/schema")
        Draft7Validator.check_schema(document)
    assert "Apache License" in (gbfs.SCHEMA_DIR / "LICENSE").read_text(encoding="utf-8")
    provenance = (gbfs.SCHEMA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "MobilityData/gbfs-json-schema" in provenance and "2e974fd" in provenance


@pytest.mark.skipif(not SHARED_SCHEMAS.is_dir(), reason="no shared standards copy on this machine")
def test_vendored_schemas_are_byte_identical_to_shared():
    for name in VENDORED:
        ours = (gbfs.SCHEMA_DIR / f"{name}.json").read_bytes()
        assert ours == (SHARED_SCHEMAS / f"{name}.json").read_bytes(), name
        assert hashlib.sha256(ours).hexdigest() in (gbfs.SCHEMA_DIR / "PROVENANCE.md").read_text(), name
    assert (gbfs.SCHEMA_DIR / "LICENSE").read_bytes() == (SHARED_SCHEMAS.parent / "LICENSE").read_bytes()


def test_the_format_checks_have_teeth():
    validator = Draft7Validator(schema("gbfs"), format_checker=FORMATS)
    good = gbfs.gbfs_json("meituan", BASE_URL, ttl=60, now=NOW)
    assert validator.is_valid(good)
    for bad in ("2026-11-26 08:30:00", "1764117000", "2026-13-26T08:30:00+08:00"):
        assert not validator.is_valid({**good, "last_updated": bad}), bad
    broken = json.loads(json.dumps(good))
    broken["data"]["feeds"][0]["url"] = "not a url"
    assert not validator.is_valid(broken)


# ---------------------------------------------------------------------------------------
# Every feed of every system validates
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("system_id", ["meituan", "hellobike", "qingju", gbfs.AGGREGATE_SYSTEM_ID])
def test_every_feed_validates(system_id, systems, fences):
    bikes, types = systems[system_id]
    name_zh, name_en = ("北京市共享单车", "Beijing bike share") if system_id == "beijing" else (
        OPERATOR_NAMES[system_id][gbfs.LANG_ZH], OPERATOR_NAMES[system_id][gbfs.LANG_EN])  # fmt: skip
    feeds = {
        "gbfs": gbfs.gbfs_json(system_id, BASE_URL, ttl=60, now=NOW),
        "system_information": gbfs.system_information(
            system_id,
            name_zh,
            name_en,
            {gbfs.LANG_ZH: "北京市交通综合治理事务中心", gbfs.LANG_EN: "Beijing Transport Governance Center"},
            feed_contact_email="gbfs@govcenter.example.cn",
            manifest_url=f"{BASE_URL}/manifest.json",
            phone_number="+861012328",
            license_id="CC-BY-4.0",
            ttl=3600,
            now=NOW,
        ),
        "vehicle_types": gbfs.vehicle_types(types, ttl=3600, now=NOW),
        "vehicle_status": gbfs.vehicle_status(bikes, key=KEY, types=types, ttl=30, now=NOW),
        "geofencing_zones": gbfs.geofencing_zones(fences, ttl=3600, now=NOW),
        "system_regions": gbfs.system_regions(ttl=86400, now=NOW),
    }
    for name, feed in feeds.items():
        assert_valid(feed, name)

    # The discovery file lists exactly the feeds built here, at the URLs.
    listed = {f["name"]: f["url"] for f in feeds["gbfs"]["data"]["feeds"]}
    assert set(listed) == set(feeds) - {"gbfs"}
    assert listed["vehicle_status"] == f"{BASE_URL}/{system_id}/vehicle_status.json"

    # Bikes on a trip are left out, every other bike is in, once.
    vehicles = feeds["vehicle_status"]["data"]["vehicles"]
    on_trip = np.asarray(bikes["on_trip"], dtype=bool)
    assert on_trip.any() and len(vehicles) == int((~on_trip).sum())
    assert len({v["vehicle_id"] for v in vehicles}) == len(vehicles)
    type_ids = {t["vehicle_type_id"] for t in feeds["vehicle_types"]["data"]["vehicle_types"]}
    assert {v["vehicle_type_id"] for v in vehicles} <= type_ids
    motorised = {t.vehicle_type_id for t in types if t.motorized}
    assert all("current_range_meters" in v for v in vehicles if v["vehicle_type_id"] in motorised)
    assert any(v["is_disabled"] for v in vehicles)
    assert len(feeds["geofencing_zones"]["data"]["geofencing_zones"]["features"]) == len(fences)
    assert len(feeds["system_regions"]["data"]["regions"]) == len(DISTRICTS)


def test_manifest_validates(systems):
    datasets = {sid: f"{BASE_URL}/{sid}/gbfs.json" for sid in systems}
    feed = gbfs.manifest(datasets, ttl=3600, now=NOW)
    assert_valid(feed, "manifest")
    assert [d["system_id"] for d in feed["data"]["datasets"]] == list(systems)


def test_aggregate_holds_every_operators_bikes_with_prefixed_ids(systems, fleets):
    bikes, types = systems["beijing"]
    feed = gbfs.vehicle_status(bikes, key=KEY, types=types, ttl=30, now=NOW)["data"]["vehicles"]
    per_operator = {
        code: gbfs.vehicle_status(fleet, key=KEY, types=[gbfs.BICYCLE, EBIKE], ttl=30, now=NOW)["data"][
            "vehicles"
        ]
        for code, fleet in fleets.items()
    }
    assert len(feed) == sum(len(v) for v in per_operator.values())
    for code, vehicles in per_operator.items():
        ours = [v for v in feed if v["vehicle_id"].startswith(f"{code}-")]
        assert len(ours) == len(vehicles)
        assert all(v["vehicle_type_id"].startswith(f"{code}-") for v in ours)
        # Same bikes, same places: the aggregate is the union of the operators' feeds.
        assert sorted((v["lon"], v["lat"]) for v in ours) == sorted((v["lon"], v["lat"]) for v in vehicles)
    names = {t.vehicle_type_id: t.name_zh for t in types}
    assert names["meituan-bicycle"] == "美团单车 自行车"


# ---------------------------------------------------------------------------------------
# Datum: published WGS-84, stored GCJ-02
# ---------------------------------------------------------------------------------------


def test_published_positions_round_trip_to_the_stored_gcj02(fleets):
    bikes = fleets["meituan"]
    vehicles = gbfs.vehicle_status(bikes, key=KEY, ttl=30, now=NOW)["data"]["vehicles"]
    kept = ~np.asarray(bikes["on_trip"])
    ids = gbfs.rotating_vehicle_ids(bikes["device_id"][kept], bikes["rotation"][kept], key=KEY)
    stored = dict(
        zip(
            ids.tolist(),
            zip(bikes["lon"][kept].tolist(), bikes["lat"][kept].tolist(), strict=True),
            strict=True,
        )
    )
    lon = np.array([v["lon"] for v in vehicles])
    lat = np.array([v["lat"] for v in vehicles])
    s_lon = np.array([stored[v["vehicle_id"]][0] for v in vehicles])
    s_lat = np.array([stored[v["vehicle_id"]][1] for v in vehicles])
    back_lon, back_lat = wgs84_to_gcj02(lon, lat)
    assert np.abs(back_lon - s_lon).max() <= 1e-6 and np.abs(back_lat - s_lat).max() <= 1e-6
    # …and the published numbers really are WGS-84: about 500 m off the stored GCJ-02.
    assert np.abs(lon - s_lon).min() > 0.003
    expected_lon, expected_lat = gcj02_to_wgs84(s_lon, s_lat)
    assert np.abs(lon - expected_lon).max() <= 1e-6 and np.abs(lat - expected_lat).max() <= 1e-6


def test_published_fences_round_trip_to_the_stored_gcj02(fences):
    features = gbfs.geofencing_zones(fences, ttl=60, now=NOW)["data"]["geofencing_zones"]["features"]
    stored = {fence.name: fence.geometry for fence in fences}
    for feature in features:
        coordinates = feature["geometry"]["coordinates"]
        polygon = shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in coordinates])
        assert shapely.is_ccw(polygon.geoms[0].exterior)  # RFC 7946 right-hand rule
        back = shapely.transform(polygon, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
        original = stored[feature["properties"]["name"][0]["text"]]
        assert shapely.hausdorff_distance(back, original) <= 1e-6
        assert shapely.hausdorff_distance(polygon, original) > 0.003  # converted, not copied


# ---------------------------------------------------------------------------------------
# Rotating vehicle ids
# ---------------------------------------------------------------------------------------


def test_vehicle_ids_change_after_a_trip_and_stay_put_without_one(day):
    t1 = dt.datetime(2026, 11, 26, 7, 0, tzinfo=BEIJING)
    t2 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BEIJING)
    before = gbfs.bikes_from_synthetic_day(day, t1)
    after = gbfs.bikes_from_synthetic_day(day, t2)
    parked = ~before["on_trip"] & ~after["on_trip"]
    trips = day.trips
    t1_ms, t2_ms = int(t1.timestamp() * 1000), int(t2.timestamp() * 1000)
    rode = np.zeros(day.n_bikes, dtype=bool)
    rode[trips["device_index"][(trips["end_ms"] > t1_ms) & (trips["end_ms"] <= t2_ms)]] = True
    id_before = gbfs.rotating_vehicle_ids(before["device_id"], before["rotation"], key=KEY)
    id_after = gbfs.rotating_vehicle_ids(after["device_id"], after["rotation"], key=KEY)
    moved, idle = parked & rode, parked & ~rode
    assert moved.sum() > 100 and idle.sum() > 100
    assert (id_before[moved] != id_after[moved]).all()
    assert (id_before[idle] == id_after[idle]).all()
    # Nothing in the new id points back to the old one: no shared prefix beyond chance.
    common = [len(_common_prefix(a, b)) for a, b in zip(id_before[moved], id_after[moved], strict=True)]
    assert max(common) < 8


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def test_vehicle_ids_do_not_reveal_device_ids(fleets):
    bikes = fleets["qingju"]
    vehicles = gbfs.vehicle_status(bikes, key=KEY, ttl=30, now=NOW)["data"]["vehicles"]
    published = [v["vehicle_id"] for v in vehicles]
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in published)
    devices = [str(d) for d in bikes["device_id"]]
    text = json.dumps(vehicles)
    for device in devices:
        assert device not in text and device.replace("-", "") not in text
    # Not an unkeyed hash of the device id either, and a different key gives other ids.
    unkeyed = {h(d.encode()).hex()[:32] for d in devices for h in (sm3, lambda b: hashlib.sha256(b).digest())}
    assert not unkeyed & set(published)
    other = gbfs.vehicle_status(bikes, key=b"another-key-of-32-bytes-00000000", ttl=30, now=NOW)
    assert not {v["vehicle_id"] for v in other["data"]["vehicles"]} & set(published)
    with pytest.raises(ValueError):
        gbfs.vehicle_status(bikes, key=b"short", ttl=30, now=NOW)


# ---------------------------------------------------------------------------------------
# Geofencing rules
# ---------------------------------------------------------------------------------------


def rule_at(feed: dict, lon: float, lat: float) -> dict:
    """What a GBFS consumer applies at a WGS-84 point: the first zone holding it, else global."""
    for feature in feed["data"]["geofencing_zones"]["features"]:
        coordinates = feature["geometry"]["coordinates"]
        polygon = shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in coordinates])
        if polygon.covers(shapely.Point(lon, lat)):
            return feature["properties"]["rules"][0]
    return feed["data"]["global_rules"][0]


def test_a_no_parking_fence_forbids_ending_a_ride_there(fences):
    feed = gbfs.geofencing_zones(fences, ttl=60, now=NOW)
    by_name = {f["properties"]["name"][0]["text"]: f for f in feed["data"]["geofencing_zones"]["features"]}
    rule = by_name["站口禁停区"]["properties"]["rules"][0]
    assert rule == {"ride_start_allowed": True, "ride_end_allowed": False, "ride_through_allowed": True}
    assert by_name["站口停车区"]["properties"]["rules"][0]["ride_end_allowed"] is True
    assert by_name["站口停车区"]["properties"]["name"][1] == {"text": "Station bay", "language": "en"}
    station = fences[0]
    assert by_name[station.name]["properties"]["rules"][0]["ride_end_allowed"] is True

    # Nested zones (bay 20 m ⊂ no-parking 80 m ⊂ station area 150 m): the smallest applies.
    centre = station.centroid

    def at(dx_m: float) -> tuple[float, float]:
        lon, lat = gcj02_to_wgs84(centre.lon + dx_m / (111_320 * np.cos(np.radians(centre.lat))), centre.lat)
        return float(lon), float(lat)

    assert rule_at(feed, *at(0))["ride_end_allowed"] is True  # in the bay
    assert rule_at(feed, *at(50))["ride_end_allowed"] is False  # no-parking ring
    assert rule_at(feed, *at(120))["ride_end_allowed"] is True  # station area
    far = at(5_000)
    assert rule_at(feed, *far)["ride_end_allowed"] is True  # free-floating elsewhere
    strict = gbfs.geofencing_zones(fences, ttl=60, now=NOW, global_rule=gbfs.Rule(ride_end_allowed=False))
    assert rule_at(strict, *far)["ride_end_allowed"] is False  # 入栏结算: only inside the areas
    assert rule_at(strict, *at(120))["ride_end_allowed"] is True
    assert_valid(strict, "geofencing_zones")


def test_fence_validity_dates(stations, index):
    centre = stations[3].centroid
    collection = no_parking_collection(centre.lon, centre.lat)
    collection["features"][0]["properties"].update(valid_from="2026-12-01", valid_to="2026-12-31")
    collection["features"][1]["properties"].update(valid_to="2026-11-25")  # ended yesterday
    parsed = parse_fences(collection, datum=Datum.GCJ02, index=index)
    assert parsed.ok and [f.kind for f in parsed] == [FenceKind.NO_PARKING, FenceKind.PARKING]
    feed = gbfs.geofencing_zones(parsed, ttl=60, now=NOW)
    assert_valid(feed, "geofencing_zones")
    (feature,) = feed["data"]["geofencing_zones"]["features"]
    assert feature["properties"]["start"] == "2026-12-01T00:00:00+08:00"
    assert feature["properties"]["end"] == "2027-01-01T00:00:00+08:00"


# ---------------------------------------------------------------------------------------
# Smaller contracts
# ---------------------------------------------------------------------------------------


def test_timestamps_are_rfc3339_in_beijing_time():
    ms = np.array([1_764_117_000_123, 1_700_000_000_999, 600_000_000_000])  # the last one: 1989, DST
    vectorised = gbfs.rfc3339_ms(ms).tolist()
    one_by_one = [
        dt.datetime.fromtimestamp(v // 1000, BEIJING).isoformat(timespec="seconds") for v in ms.tolist()
    ]
    assert vectorised == one_by_one
    assert gbfs.rfc3339_ms(ms[:2]).tolist() == one_by_one[:2]  # the fixed-offset path
    assert one_by_one[0] == "2025-11-26T08:30:00+08:00"
    with pytest.raises(ValueError):
        gbfs.rfc3339(dt.datetime(2026, 11, 26, 8, 30))  # naive


def test_builders_refuse_what_the_schemas_would_reject():
    # zh-Hans is what one would write, but the GBFS schemas only take ll or ll-CC tags.
    assert not re.match(
        schema("system_information")["properties"]["data"]["properties"]["languages"]["items"]["pattern"],
        "zh-Hans",
    )
    common = {"feed_contact_email": "gbfs@govcenter.example.cn", "ttl": 60, "now": NOW}
    with pytest.raises(ValueError):
        gbfs.system_information(
            "meituan", "美团单车", "Meituan", "美团", languages=["zh-Hans", "en"], **common
        )
    with pytest.raises(ValueError):
        gbfs.system_information(
            "meituan", "美团单车", "Meituan", "美团", license_id="CC0-1.0", license_url=BASE_URL, **common
        )
    with pytest.raises(ValueError):
        gbfs.VehicleType("ebike", "助力自行车", "E-bike", propulsion_type="electric_assist")  # no range
    with pytest.raises(ValueError):
        gbfs.gbfs_json("meituan", BASE_URL, ["system_information"], ttl=60, now=NOW)  # no vehicle_status
    with pytest.raises(ValueError):
        gbfs.gbfs_json("meituan", BASE_URL, ttl=-1, now=NOW)
    bikes = {"device_id": ["a", "b"], "lon": [116.4, 116.5], "lat": [39.9, 39.95], "rotation": [0, 0],
             "vehicle_type_id": "ebike"}  # fmt: skip
    with pytest.raises(ValueError, match="current_range_meters"):
        gbfs.vehicle_status(bikes, key=KEY, types=[EBIKE], ttl=30, now=NOW)
    with pytest.raises(ValueError, match="unknown vehicle types"):
        gbfs.vehicle_status(bikes, key=KEY, types=[gbfs.BICYCLE], ttl=30, now=NOW)


def test_bikes_without_a_position_are_left_out():
    bikes = {"device_id": ["a", "b", "c"], "lon": [116.4, np.nan, 116.5], "lat": [39.9, 39.9, 39.95],
             "rotation": [1, 2, 3], "is_reserved": [False, False, True]}  # fmt: skip
    vehicles = gbfs.vehicle_status(bikes, key=KEY, ttl=30, now=NOW)["data"]["vehicles"]
    assert len(vehicles) == 2 and [v["is_reserved"] for v in vehicles] == [False, True]
    assert_valid(gbfs.vehicle_status(bikes, key=KEY, ttl=30, now=NOW), "vehicle_status")
