"""The fence registry: GeoJSON import (all or nothing), datums, versions, scope, retirement,
the rail-station seed, the live picture's fence index and the MDS Geography API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from govcenter.bikeshare.geo import circle_polygon, rail_station_fences
from govcenter.bikeshare.models import Fence, FenceVersion
from govcenter.bikeshare.services.fences import (
    active_fence_index,
    fence_retire,
    fence_revise,
    fences_import,
    fences_seed_rail_stations,
)
from govcenter.core.audit import AuditEntry
from govcenter.core.districts import DISTRICTS
from govcenter.core.geo import distance_m, gcj02_to_wgs84
from tests.factories import DistrictFactory, RoleFactory, UserFactory

from .conftest import assert_error, client_for, signed_headers

IMPORT_URL = "/api/v1/bikeshare/fences/import"
GEO_URL = "/api/v1/bikeshare/geographies"
# GCJ-02 centres of places known to lie in these districts (the rail-station seed's).
YONGHEGONG = (116.4173, 39.949)  # 东城 110101
XIDAN = (116.3742, 39.9075)  # 西城 110102
GUOMAO = (116.4613, 39.9087)  # 朝阳 110105 (not in the test organisation)


def ring(centre, radius=80.0):
    """A closed ring (list of [lon, lat]) around ``centre``, GCJ-02."""
    return [list(p) for p in circle_polygon(*centre, radius, segments=12).exterior.coords]


def feature(coords, **props):
    props.setdefault("name", "测试围栏")
    props.setdefault("kind", "parking")
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]}, "properties": props}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def to_wgs84(coords):
    lon, lat = gcj02_to_wgs84(np.array([c[0] for c in coords]), np.array([c[1] for c in coords]))
    return [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]


@pytest.fixture
def fence_roles(org):
    admin = RoleFactory(
        code="t-bs-fence-admin",
        scope_kind="all",
        perms=["bikeshare.view_fence", "bikeshare.add_fence", "bikeshare.change_fence"],
    )
    district = RoleFactory(
        code="t-bs-fence-district",
        scope_kind="districts",
        perms=["bikeshare.view_fence", "bikeshare.add_fence", "bikeshare.change_fence"],
    )
    org.fence_admin = UserFactory(username="t_fence_admin", unit=org.center, role_set=[admin])
    org.fence_dc = UserFactory(username="t_fence_dc", unit=org.unit_dc, role_set=[district])
    return org


def post_geojson(user, body, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client_for(user).post(
        f"{IMPORT_URL}?{query}", data=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def test_import_a_good_file(fence_roles):
    body = collection(
        feature(ring(YONGHEGONG), name="雍和宫停放区", valid_from="2026-01-01"),
        feature(ring(XIDAN), name="西单禁停区", kind="no_parking"),
    )
    response = post_geojson(fence_roles.fence_admin, body, datum="GCJ-02")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2
    fences = {f.name: f for f in Fence.objects.select_related("district")}
    assert fences["雍和宫停放区"].district.code == "110101" and fences["西单禁停区"].district.code == "110102"
    assert (
        fences["西单禁停区"].kind == "no_parking" and str(fences["雍和宫停放区"].valid_from) == "2026-01-01"
    )
    assert FenceVersion.objects.filter(version=1).count() == 2
    stored = shapely.geometry.shape(fences["雍和宫停放区"].geometry)
    assert stored.bounds == pytest.approx(
        (fences["雍和宫停放区"].min_lon, fences["雍和宫停放区"].min_lat,
         fences["雍和宫停放区"].max_lon, fences["雍和宫停放区"].max_lat)
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="bikeshare.fence.import").count() == 1


def test_a_file_with_bad_features_writes_nothing_and_lists_every_error(fence_roles):
    unclosed = ring(YONGHEGONG)[:-1]
    body = collection(
        feature(ring(YONGHEGONG)),
        feature(unclosed),
        feature(ring(XIDAN), name="", kind="bike_rack"),
        feature(ring(GUOMAO)),  # 朝阳: parses, but the district is not registered here
    )
    response = post_geojson(fence_roles.fence_admin, body, datum="GCJ-02")
    payload = assert_error(response, 400, "invalid_features")
    by_index: dict[int, set] = {}
    for error in payload["details"]["errors"]:
        by_index.setdefault(error["index"], set()).add(error["code"])
    assert by_index == {1: {"unclosed_ring"}, 2: {"missing_name", "unknown_kind"}, 3: {"unknown_district"}}
    assert payload["details"]["feature_count"] == 4
    assert not Fence.objects.exists() and not FenceVersion.objects.exists()
    assert not AuditEntry.objects.filter(action="bikeshare.fence.import").exists()


def test_not_geojson_and_missing_datum_are_refused(fence_roles):
    assert_error(post_geojson(fence_roles.fence_admin, [1, 2], datum="GCJ-02"), 400, "not_feature_collection")
    assert_error(
        post_geojson(fence_roles.fence_admin, collection(feature(ring(XIDAN)))), 400, "missing_datum"
    )
    assert_error(
        post_geojson(fence_roles.fence_admin, collection(feature(ring(XIDAN))), datum="ED50"),
        400,
        "unknown_datum",
    )
    assert not Fence.objects.exists()


def test_a_wgs84_file_is_stored_in_gcj02(fence_roles):
    gcj = ring(XIDAN)
    response = post_geojson(fence_roles.fence_admin, collection(feature(to_wgs84(gcj))), datum="WGS-84")
    assert response.status_code == 201, response.content
    fence = Fence.objects.get()
    assert fence.source_datum == "WGS-84"
    stored = np.array(fence.geometry["coordinates"][0])
    # Stored vertices are the GCJ-02 ones we started from (the file was their WGS-84 inverse) …
    assert distance_m(stored[:, 0], stored[:, 1], np.array(gcj)[:, 0], np.array(gcj)[:, 1]).max() < 0.01
    # … and about half a kilometre from the numbers in the file.
    sent = np.array(to_wgs84(gcj))
    assert distance_m(stored[:, 0], stored[:, 1], sent[:, 0], sent[:, 1]).min() > 400


def test_revision_keeps_the_old_geometry(fence_roles, django_capture_on_commit_callbacks):
    (fence,) = fences_import(fence_roles.fence_admin, collection(feature(ring(XIDAN), name="v1")), "GCJ-02")
    first = fence.geometry
    moved = ring((XIDAN[0] + 0.002, XIDAN[1]))
    fence = fence_revise(fence_roles.fence_admin, fence, collection(feature(moved, name="v2")), "GCJ-02")
    fence.refresh_from_db()
    assert fence.version == 2 and fence.name == "v2"
    versions = list(FenceVersion.objects.filter(fence=fence).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].geometry == first and versions[0].name == "v1"
    assert versions[1].geometry == fence.geometry != first
    assert versions[0].uuid == fence.uuid != versions[1].uuid
    # More than one feature is not a revision; nothing changes.
    two = collection(feature(moved), feature(ring(XIDAN)))
    with pytest.raises(Exception, match="恰好一个|exactly one"):
        fence_revise(fence_roles.fence_admin, fence, two, "GCJ-02")
    assert FenceVersion.objects.filter(fence=fence).count() == 2


def test_scope_by_district(fence_roles):
    fences_import(
        None, collection(feature(ring(YONGHEGONG), name="东"), feature(ring(XIDAN), name="西")), "GCJ-02"
    )
    east, west = Fence.objects.get(name="东"), Fence.objects.get(name="西")
    dc = client_for(fence_roles.fence_dc)
    names = [f["name"] for f in dc.get("/api/v1/bikeshare/fences/").json()["results"]]
    assert names == ["东"]
    assert dc.get(f"/api/v1/bikeshare/fences/{west.pk}/").status_code == 404
    assert dc.get(f"/api/v1/bikeshare/fences/{east.pk}/").json()["versions"][0]["version"] == 1
    # A district's staff cannot import into another district: nothing is written.
    response = post_geojson(
        fence_roles.fence_dc, collection(feature(ring(XIDAN), name="越权")), datum="GCJ-02"
    )
    assert_error(response, 403, "out_of_scope")
    assert not Fence.objects.filter(name="越权").exists()
    assert dc.post(f"/api/v1/bikeshare/fences/{west.pk}/retire/").status_code == 404
    # Users without the permission see nothing.
    assert client_for(fence_roles.plain_dc).get("/api/v1/bikeshare/fences/").status_code == 403


def test_filters_and_retire(fence_roles):
    fences_import(
        None,
        collection(
            feature(ring(YONGHEGONG), name="现行"),
            feature(ring(XIDAN), name="过期", valid_from="2020-01-01", valid_to="2020-12-31"),
            feature(ring((XIDAN[0], XIDAN[1] + 0.003)), name="禁停", kind="no_parking"),
        ),
        "GCJ-02",
    )
    admin = client_for(fence_roles.fence_admin)

    def names(query):
        return sorted(f["name"] for f in admin.get(f"/api/v1/bikeshare/fences/?{query}").json()["results"])

    assert names("active=true") == ["现行", "禁停"]
    assert names("active_on=2020-06-01") == sorted(["禁停", "现行", "过期"])
    assert names("kind=no_parking") == ["禁停"]
    assert names("district_code=110101") == ["现行"]
    current = Fence.objects.get(name="现行")
    response = admin.post(
        f"/api/v1/bikeshare/fences/{current.pk}/retire/", {"reason": "改造"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["retired_at"]
    assert names("active=true") == ["禁停"]
    assert AuditEntry.objects.filter(action="bikeshare.fence.retire").count() == 1
    fence_retire(None, current)  # idempotent
    assert AuditEntry.objects.filter(action="bikeshare.fence.retire").count() == 1


def test_active_fence_index_follows_changes(fence_roles, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (a,) = fences_import(None, collection(feature(ring(YONGHEGONG), name="a")), "GCJ-02")
    index = active_fence_index()
    assert index.fence_ids == (a.pk,)
    assert active_fence_index() is index  # cached
    with django_capture_on_commit_callbacks(execute=True):
        fences_import(
            None,
            collection(
                feature(ring(XIDAN), name="b", kind="rail_station"),
                feature(ring((XIDAN[0], XIDAN[1] + 0.003)), name="c", kind="no_parking"),  # not indexed
            ),
            "GCJ-02",
        )
    b = Fence.objects.get(name="b")
    index = active_fence_index()
    assert index.fence_ids == (a.pk, b.pk)
    hits = index.lookup(np.array([XIDAN[0], YONGHEGONG[0], 116.0]), np.array([XIDAN[1], YONGHEGONG[1], 40.3]))
    assert [index.fence_ids[i] if i >= 0 else None for i in hits.tolist()] == [b.pk, a.pk, None]
    with django_capture_on_commit_callbacks(execute=True):
        fence_retire(None, a)
    assert active_fence_index().fence_ids == (b.pk,)


def test_rail_station_seed_is_idempotent(db):
    for d in DISTRICTS:
        DistrictFactory(code=d.code, name_zh=d.name_zh, name_en=getattr(d, "name_en", d.code))
    specs = rail_station_fences()
    first = fences_seed_rail_stations()
    assert first["created"] == len(specs) == Fence.objects.filter(kind="rail_station").count()
    assert fences_seed_rail_stations()["created"] == 0
    assert Fence.objects.count() == len(specs) == FenceVersion.objects.count()
    stations = set(Fence.objects.values_list("station", flat=True))
    assert stations == {s.station for s in specs}


# ------------------------------------------------------------------------------------------
# MDS Geography
# ------------------------------------------------------------------------------------------

MDS_REQUIRED = {"name", "geography_id", "geography_json", "published_date"}


def check_geography(g: dict) -> None:
    """The MDS 2.0 Geography object (no schema is vendored in data/mds: the required fields)."""
    assert MDS_REQUIRED <= set(g), g.keys()
    assert isinstance(g["name"], str) and isinstance(g["published_date"], int)
    for key in ("effective_date", "retire_date"):
        assert key not in g or isinstance(g[key], int)
    gj = g["geography_json"]
    assert gj["type"] == "FeatureCollection" and gj["features"]
    for f in gj["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_mds_geographies_are_wgs84(fence_roles):
    (fence,) = fences_import(None, collection(feature(ring(XIDAN), name="西单")), "GCJ-02")
    response = client_for(fence_roles.fence_admin).get(GEO_URL)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.mds+json")
    body = response.json()
    assert body["version"] == "2.0.0" and len(body["geographies"]) == 1
    g = body["geographies"][0]
    check_geography(g)
    assert g["geography_id"] == str(fence.uuid)
    exported = np.array(g["geography_json"]["features"][0]["geometry"]["coordinates"][0])
    expected = np.array(to_wgs84(fence.geometry["coordinates"][0]))
    assert distance_m(exported[:, 0], exported[:, 1], expected[:, 0], expected[:, 1]).max() < 0.01
    one = client_for(fence_roles.fence_admin).get(f"{GEO_URL}/{fence.uuid}")
    assert one.status_code == 200 and one.json()["geography"] == g


def test_mds_geography_versions_chain(fence_roles):
    (fence,) = fences_import(None, collection(feature(ring(XIDAN), name="v1")), "GCJ-02")
    old = fence.uuid
    fence = fence_revise(
        None, fence, collection(feature(ring((XIDAN[0] + 0.001, XIDAN[1])), name="v2")), "GCJ-02"
    )
    new = FenceVersion.objects.get(fence=fence, version=2).uuid
    client = client_for(fence_roles.fence_admin)
    listed = client.get(GEO_URL).json()["geographies"]
    assert [g["geography_id"] for g in listed] == [str(new)]
    assert listed[0]["prev_geographies"] == [str(old)] and "retire_date" not in listed[0]
    replaced = client.get(f"{GEO_URL}/{old}").json()["geography"]
    check_geography(replaced)
    assert replaced["name"] == "v1" and replaced["retire_date"] == listed[0]["published_date"]


def test_mds_geographies_need_an_operator_or_staff(fence_roles, keys):
    fences_import(None, collection(feature(ring(XIDAN))), "GCJ-02")
    from django.test import Client

    assert Client().get(GEO_URL).status_code in (401, 403)
    assert client_for(fence_roles.plain_dc).get(GEO_URL).status_code == 403
    signed = signed_headers(keys.a, b"", path=GEO_URL, method="GET")
    response = Client().get(GEO_URL, **signed)
    assert response.status_code == 200, response.content
    assert len(response.json()["geographies"]) == 1
    bad = signed_headers(keys.a, b"", path=GEO_URL, method="GET")
    bad["HTTP_X_SIGNATURE"] = "00" * 32
    assert Client().get(GEO_URL, **bad).status_code == 401
