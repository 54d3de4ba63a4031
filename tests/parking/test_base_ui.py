"""Base data UI: scoped lists/details, forms through services, the map, permissions."""

from __future__ import annotations

import pytest
from django.test import Client

from govcenter.parking.models import Device, Segment, Space
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
    return dict(
        dc_road=dc_road,
        xc_road=xc_road,
        dc_seg=dc_seg,
        xc_seg=xc_seg,
        dc_space=dc_space,
        xc_space=xc_space,
        dc_dev=DeviceFactory(space=dc_space, serial="DC-GM-1"),
        xc_dev=DeviceFactory(space=xc_space, serial="XC-GM-1"),
    )


@pytest.mark.parametrize(
    "name,key,search",
    [
        ("road", "road", lambda o: o.name),
        ("segment", "seg", lambda o: o.code),
        ("space", "space", lambda o: f"{o.segment.code}-{o.number}"),
        ("device", "dev", lambda o: o.serial),
    ],
)
def test_ui_lists_are_scoped(org, data, name, key, search):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"/parking/{name}s/",
        detail_url_for=lambda o: f"/parking/{name}s/{o.pk}/",
        visible=[data[f"dc_{key}"]],
        hidden=[data[f"xc_{key}"]],
        expected_count=1,
        search_param="q",
        search_term_for=search,
    )


def test_edit_pages_of_other_districts_are_404(org, data):
    client = client_for(org.manager_dc)
    for url in (
        f"/parking/segments/{data['xc_seg'].pk}/edit/",
        f"/parking/spaces/{data['xc_space'].pk}/edit/",
        f"/parking/devices/{data['xc_dev'].pk}/edit/",
        f"/parking/roads/{data['xc_road'].pk}/edit/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/parking/devices/{data['xc_dev'].pk}/credential/").status_code == 404
    assert client.post(f"/parking/spaces/{data['xc_space'].pk}/retire/").status_code == 404


def test_anonymous_and_unprivileged(org, data):
    assert_requires_login(Client(), "/parking/segments/")
    assert client_for(org.plain_dc).get("/parking/segments/").status_code == 403
    assert client_for(org.leader).get("/parking/segments/new/").status_code == 403


def test_create_segment_and_space_through_forms(org, data):
    client = client_for(org.manager_dc)
    assert client.get("/parking/segments/new/").status_code == 200
    lon, lat = DONGCHENG_POINT
    response = client.post(
        "/parking/segments/new/",
        {
            "road": data["dc_road"].pk,
            "code": "DC-UI",
            "name": "界面路段",
            "side": "south",
            "area_class": "2",
            "tariff_code": "",
            "geometry": f'{{"type": "LineString", "coordinates": [[{lon}, {lat}], [{lon + 0.001}, {lat}]]}}',
            "length_cm": "",
            "status": "active",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(code="DC-UI")
    assert segment.district == org.dongcheng and segment.version == 1
    response = client.post(
        "/parking/spaces/new/",
        {
            "segment": segment.pk,
            "number": "001",
            "lon": lon,
            "lat": lat,
            "space_type": "standard",
            "length_cm": 600,
            "width_cm": 250,
        },
    )
    assert response.status_code == 302
    # A position in 西城 is refused on the form, and nothing is written.
    response = client.post(
        "/parking/spaces/new/",
        {
            "segment": segment.pk,
            "number": "002",
            "lon": XICHENG_POINT[0],
            "lat": XICHENG_POINT[1],
            "space_type": "standard",
            "length_cm": 600,
            "width_cm": 250,
        },
    )
    assert response.status_code == 200 and "不在东城区范围内" in response.content.decode()
    assert Space.objects.filter(segment=segment).count() == 1
    # The other district's segment is not even a choice.
    response = client.post(
        "/parking/spaces/new/",
        {
            "segment": data["xc_seg"].pk,
            "number": "003",
            "lon": lon,
            "lat": lat,
            "space_type": "standard",
            "length_cm": 600,
            "width_cm": 250,
        },
    )
    assert response.status_code == 200 and not Space.objects.filter(number="003").exists()


def test_device_register_credential_page_and_retire(org, data):
    client = client_for(org.manager_dc)
    response = client.post(
        "/parking/devices/new/",
        {
            "kind": "high_video",
            "serial": "HV-UI",
            "district": org.dongcheng.pk,
            "segment": data["dc_seg"].pk,
            "firmware": "1.0",
        },
    )
    assert response.status_code == 302
    device = Device.objects.get(serial="HV-UI")
    response = client.post(f"/parking/devices/{device.pk}/credential/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    device.refresh_from_db()
    assert device.token_prefix and device.token_prefix in response.content.decode()
    detail = client.get(f"/parking/devices/{device.pk}/").content.decode()
    assert device.token_prefix in detail
    response = client.post(f"/parking/devices/{device.pk}/retire/", {"reason": "损坏"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == "retired" and not device.token_digest
    # Binding a sensor to a segment on the form: the service's refusal is shown.
    response = client.post(f"/parking/devices/{data['dc_dev'].pk}/bind/", {"segment": data["dc_seg"].pk})
    assert response.status_code == 200 and "地磁传感器须绑定到泊位" in response.content.decode()


def test_detail_pages_show_versions(org, data):
    client = client_for(org.manager_dc)
    from govcenter.parking.services.base import segment_update

    segment_update(actor=None, segment=data["dc_seg"], area_class=3)
    html = client.get(f"/parking/spaces/{data['dc_space'].pk}/").content.decode()
    assert "v2" in html and "v1" in html
    assert client.get(f"/parking/segments/{data['dc_seg'].pk}/").status_code == 200
    assert client.get(f"/parking/roads/{data['dc_road'].pk}/").status_code == 200


def test_map_page_and_points_are_scoped(org, data):
    client = client_for(org.manager_dc)
    html = client.get("/parking/map/").content.decode()
    assert "parking/js/basedata-map.js" in html and "<script>" not in html
    body = client.get("/parking/map/points.geojson").json()
    assert body["datum"] == "GCJ-02"
    codes = {f["properties"]["code"] for f in body["features"]}
    assert codes == {"DC-SEG", "DC-SEG-101"}


def test_navigation_shows_the_base_data_items(org, data):
    html = client_for(org.manager_dc).get("/parking/segments/").content.decode()
    for url in ("/parking/roads/", "/parking/spaces/", "/parking/devices/", "/parking/map/"):
        assert f'href="{url}"' in html
