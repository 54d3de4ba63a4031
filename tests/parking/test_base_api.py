"""Base data API: scope (list, count, search, detail 404, GeoJSON export), writes through services, errors."""

from __future__ import annotations

import pytest
from django.test import Client

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Device, Space, SpaceVersion
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.factories import (
    DONGCHENG_POINT,
    XICHENG_POINT,
    DeviceFactory,
    RoadFactory,
    SegmentFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data(org):
    dc_road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc, name="东城测试路")
    xc_road = RoadFactory(district=org.xicheng, managing_unit=org.unit_xc, name="西城测试路")
    dc_seg = SegmentFactory(road=dc_road, code="DC-SEG", name="东城路段")
    xc_seg = SegmentFactory(road=xc_road, code="XC-SEG", name="西城路段")
    dc_space = SpaceFactory(segment=dc_seg, number="101")
    xc_space = SpaceFactory(segment=xc_seg, number="202")
    dc_dev = DeviceFactory(space=dc_space, serial="DC-GM-1")
    xc_dev = DeviceFactory(space=xc_space, serial="XC-GM-1")
    return dict(
        dc_road=dc_road,
        xc_road=xc_road,
        dc_seg=dc_seg,
        xc_seg=xc_seg,
        dc_space=dc_space,
        xc_space=xc_space,
        dc_dev=dc_dev,
        xc_dev=xc_dev,
    )


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    if code:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    "resource,key,search",
    [
        ("roads", "road", lambda o: o.name),
        ("segments", "seg", lambda o: o.code),
        ("spaces", "space", lambda o: f"{o.segment.code}-{o.number}"),
        ("devices", "dev", lambda o: o.serial),
    ],
)
def test_dongcheng_manager_never_sees_xicheng(org, data, resource, key, search):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"{API}/{resource}/",
        detail_url_for=lambda o: f"{API}/{resource}/{o.pk}/",
        visible=[data[f"dc_{key}"]],
        hidden=[data[f"xc_{key}"]],
        expected_count=1,
        search_param="q",
        search_term_for=search,
    )


@pytest.mark.parametrize("resource,key", [("segments", "seg"), ("spaces", "space")])
def test_geojson_export_is_scoped_and_names_the_datum(org, data, resource, key):
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/{resource}/geojson/").json()
    assert body["type"] == "FeatureCollection" and body["datum"] == "GCJ-02"
    ids = {f["properties"]["id"] for f in body["features"]}
    assert ids == {data[f"dc_{key}"].pk}
    assert_scoped(
        client=client,
        list_url=f"{API}/{resource}/",
        detail_url_for=lambda o: f"{API}/{resource}/{o.pk}/",
        visible=[data[f"dc_{key}"]],
        hidden=[data[f"xc_{key}"]],
        export_url=f"{API}/{resource}/geojson/",
        export_marker_for=lambda o: str(o.curb_zone_id if key == "seg" else o.curb_space_id),
    )


def test_leader_sees_both_districts_but_cannot_write(org, data):
    client = client_for(org.leader)
    assert client.get(f"{API}/spaces/").json()["count"] == 2
    assert_error(
        client.patch(
            f"{API}/spaces/{data['dc_space'].pk}/", {"number": "9"}, content_type="application/json"
        ),
        403,
    )


def test_anonymous_is_401(data):
    assert_requires_login(Client(), f"{API}/segments/")


def test_filters(org, data):
    client = client_for(org.leader)
    assert client.get(f"{API}/spaces/", {"district": org.xicheng.pk}).json()["count"] == 1
    assert client.get(f"{API}/segments/", {"area_class": 2}).json()["count"] == 0
    assert client.get(f"{API}/devices/", {"kind": "geomagnetic", "status": "offline"}).json()["count"] == 2
    # An out-of-scope district in a filter is a 400, never a leak.
    manager = client_for(org.manager_dc)
    assert_error(manager.get(f"{API}/spaces/", {"district": org.xicheng.pk}), 400)


def test_manager_creates_segment_and_space_through_services(org, data):
    client = client_for(org.manager_dc)
    lon, lat = DONGCHENG_POINT
    response = client.post(
        f"{API}/segments/",
        {
            "road": data["dc_road"].pk,
            "code": "DC-NEW",
            "name": "新路段",
            "area_class": 1,
            "side": "north",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat]]},
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    seg = response.json()
    assert seg["district"] == org.dongcheng.pk and seg["version"] == 1 and seg["datum"] == "GCJ-02"
    response = client.post(
        f"{API}/spaces/",
        {"segment": seg["id"], "number": "001", "lon": lon, "lat": lat},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    space_id = response.json()["id"]
    response = client.patch(
        f"{API}/segments/{seg['id']}/", {"area_class": 3}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["version"] == 2
    assert SpaceVersion.objects.get(space_id=space_id, valid_to__isnull=True).area_class == 3
    response = client.post(
        f"{API}/spaces/{space_id}/retire/", {"reason": "调整"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "retired"
    assert AuditEntry.objects.filter(action="parking.space.retire", object_id=str(space_id)).exists()


def test_bad_input_is_a_clear_400(org, data):
    client = client_for(org.manager_dc)
    lon, lat = DONGCHENG_POINT
    body = assert_error(
        client.post(
            f"{API}/spaces/",
            {"segment": data["dc_seg"].pk, "number": "101", "lon": lon, "lat": lat},
            content_type="application/json",
        ),
        400,
    )
    assert "101" in str(body["details"])
    # A segment of another district is "does not exist" (no leak), not a 403 or a 500.
    body = assert_error(
        client.post(
            f"{API}/spaces/",
            {"segment": data["xc_seg"].pk, "number": "1", "lon": lon, "lat": lat},
            content_type="application/json",
        ),
        400,
    )
    assert "segment" in body["details"]
    body = assert_error(
        client.post(
            f"{API}/spaces/",
            {"segment": data["dc_seg"].pk, "number": "102", "lon": XICHENG_POINT[0], "lat": XICHENG_POINT[1]},
            content_type="application/json",
        ),
        400,
    )
    assert "lon" in body["details"]
    assert_error(
        client.patch(
            f"{API}/segments/{data['dc_seg'].pk}/",
            {"geometry": {"type": "Point", "coordinates": [1, 2]}},
            content_type="application/json",
        ),
        400,
    )
    assert_error(
        client.post(
            f"{API}/devices/",
            {"kind": "geomagnetic", "serial": "BAD", "segment": data["dc_seg"].pk},
            content_type="application/json",
        ),
        400,
    )
    assert Space.objects.count() == 2 and not Device.objects.filter(serial="BAD").exists()


def test_out_of_scope_writes_are_404(org, data):
    client = client_for(org.manager_dc)
    assert_error(
        client.patch(
            f"{API}/spaces/{data['xc_space'].pk}/", {"number": "1"}, content_type="application/json"
        ),
        404,
    )
    assert_error(client.post(f"{API}/devices/{data['xc_dev'].pk}/credential/"), 404)
    assert_error(
        client.post(f"{API}/segments/{data['xc_seg'].pk}/retire/", {}, content_type="application/json"), 404
    )


def test_device_credential_and_bind(org, data):
    client = client_for(org.manager_dc)
    dev = data["dc_dev"]
    response = client.post(f"{API}/devices/{dev.pk}/credential/")
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    token = response.json()["token"]
    detail = client.get(f"{API}/devices/{dev.pk}/").json()
    assert detail["has_credential"] and token not in str(detail) and detail["token_prefix"] == token[:10]
    other = SpaceFactory(segment=data["dc_seg"], number="103")
    response = client.post(
        f"{API}/devices/{dev.pk}/bind/", {"space": other.pk}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["space"] == other.pk
    assert_error(
        client.post(
            f"{API}/devices/{dev.pk}/bind/", {"segment": data["dc_seg"].pk}, content_type="application/json"
        ),
        400,
    )
    assert_error(
        client.patch(f"{API}/devices/{dev.pk}/", {"kind": "pda"}, content_type="application/json"), 400
    )


def test_schema_lists_the_parking_endpoints(org):
    client = client_for(org.leader)
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/parking/segments/",
        "/api/v1/parking/spaces/geojson/",
        "/api/v1/parking/devices/{id}/credential/",
    ):
        assert path in paths, sorted(paths)
