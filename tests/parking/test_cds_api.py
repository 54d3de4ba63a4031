"""CDS 1.1 read API: shapes validated against the CDS OpenAPI schemas, scope, 404 body, filters."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.test import Client
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from govcenter.core import geo
from govcenter.parking.models import DeviceEvent
from govcenter.parking.services.events import events_ingest
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db
API = "/api/v1/parking/cds"
# Vendored CDS 1.1 (OpenAPI + shared models + licence): tests/parking/data/cds-1.1/README.md.
CDS = Path(__file__).resolve().parent / "data" / "cds-1.1"

# The envelope fields, pinned tighter than the CDS "Rest Responses" (version exactly "1.1").
_REST = {
    "rest_response_version.yaml": {"type": "string", "const": "1.1"},
    "rest_response_time_zone.yaml": {"type": "string"},
    "rest_response_last_updated.yaml": {"type": "integer"},
    "rest_response_currency.yaml": {"type": "string"},
    "rest_response_custom_attributes_dictionary.yaml": {"type": "object"},
    "rest_response_author.yaml": {"type": "string"},
    "rest_response_license_url.yaml": {"type": "string"},
}


def _clean(node):
    """Two CDS 1.1 schema slips, fixed before validating.

    curb_zone.yaml's geometry has ``oneOf`` (objects) *and* ``type: string`` — drop the type; and
    its GeoJSON polygon/linestring schemas do not pin ``type``, so any geometry matches both
    and ``oneOf`` always fails — read it as ``anyOf``.
    """
    if isinstance(node, dict):
        if "oneOf" in node and node.get("type") == "string":
            node = {k: v for k, v in node.items() if k != "type"}
        if "oneOf" in node:
            node = {("anyOf" if k == "oneOf" else k): v for k, v in node.items()}
        return {k: _clean(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _retrieve(uri: str):
    path = Path(uri.removeprefix("file://"))
    if path.name in _REST:
        return Resource(contents=_REST[path.name], specification=DRAFT202012)
    return Resource(contents=_clean(yaml.safe_load(path.read_text())), specification=DRAFT202012)


REGISTRY = Registry(retrieve=_retrieve)


def _response_schema(api: str, path: str) -> dict:
    doc = yaml.safe_load((CDS / "APIs" / api).read_text())
    schema = copy.deepcopy(
        doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    base = (CDS / "APIs").resolve().as_uri() + "/"
    return {"$id": base + "response", **_clean(schema)}


def validate(body: dict, api: str, path: str) -> None:
    schema = _response_schema(api, path)
    validator = jsonschema.Draft202012Validator(
        schema, registry=REGISTRY, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def net(org):
    return network(org)


def _envelope_ok(body):
    assert body["version"] == "1.1" and body["time_zone"] == "Asia/Shanghai" and body["currency"] == "CNY"
    assert isinstance(body["last_updated"], int)


def test_schema_check_is_not_vacuous():
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {
                "version": "1.1",
                "time_zone": "x",
                "last_updated": 1,
                "currency": "CNY",
                "data": {"zones": [{"curb_zone_id": "not-a-uuid"}]},
            },
            "Curbs API.yaml",
            "/curbs/zones",
        )
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {
                "version": "1.1",
                "time_zone": "x",
                "last_updated": 1,
                "currency": "CNY",
                "data": {"events": [{"event_id": str(uuid.uuid4()), "event_type": "nope"}]},
            },
            "Events API.yaml",
            "/events/events",
        )


def test_zones_match_cds_schema_and_are_wgs84(org, net):
    body = client_for(org.manager_dc).get(f"{API}/curbs/zones").json()
    validate(body, "Curbs API.yaml", "/curbs/zones")
    _envelope_ok(body)
    (zone,) = body["data"]["zones"]
    seg = net.dc_seg
    assert zone["curb_zone_id"] == str(seg.curb_zone_id)
    assert zone["num_spaces"] == 3
    assert sorted(zone["curb_space_ids"]) == sorted(str(s.curb_space_id) for s in net.dc_spaces)
    assert (
        zone["custom_attributes"]["datum"] == "WGS-84"
        and zone["custom_attributes"]["source_datum"] == "GCJ-02"
    )
    lon, lat = seg.geometry["coordinates"][0]
    wlon, wlat = geo.gcj02_to_wgs84(lon, lat)
    assert zone["geometry"]["coordinates"][0] == pytest.approx([float(wlon), float(wlat)], abs=1e-6)
    assert zone["geometry"]["coordinates"][0] != pytest.approx([lon, lat], abs=1e-4)  # really converted

    detail = client_for(org.manager_dc).get(f"{API}/curbs/zones/{seg.curb_zone_id}").json()
    validate(detail, "Curbs API.yaml", "/curbs/zones/{id}")
    assert detail["data"] == zone


def test_spaces_match_cds_schema(org, net):
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/curbs/spaces").json()
    validate(body, "Curbs API.yaml", "/curbs/spaces")
    assert {s["curb_space_id"] for s in body["data"]["spaces"]} == {
        str(s.curb_space_id) for s in net.dc_spaces
    }
    space = net.dc_spaces[0]
    detail = client.get(f"{API}/curbs/spaces/{space.curb_space_id}").json()
    validate(detail, "Curbs API.yaml", "/curbs/spaces/{id}")
    data = detail["data"]
    assert data["curb_zone_id"] == str(net.dc_seg.curb_zone_id) and data["length"] == 6
    ring = data["geometry"]["coordinates"]
    assert ring[0] == ring[-1] and len(ring) == 5
    wlon, wlat = geo.gcj02_to_wgs84(space.lon, space.lat)
    centre = [sum(p[0] for p in ring[:4]) / 4, sum(p[1] for p in ring[:4]) / 4]
    assert centre == pytest.approx([float(wlon), float(wlat)], abs=1e-6)
    filtered = client.get(f"{API}/curbs/spaces", {"zone": str(net.xc_seg.curb_zone_id)}).json()
    assert filtered["data"]["spaces"] == []  # 西城's zone: out of scope, nothing


def test_events_match_cds_schema_mask_plate_and_filter(org, net):
    start = ago(minutes=20)
    events_ingest(
        device=net.sensor,
        events=[
            ev("park_start", start, vehicle_license_plate="京A12345", vehicle_license_plate_confidence=93)
        ],
    )
    events_ingest(device=net.xc_sensor, events=[ev("park_start", start, vehicle_license_plate="京B54321")])
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/events").json()
    validate(body, "Events API.yaml", "/events/events")
    (event,) = body["data"]["events"]
    assert event["event_type"] == "park_start" and event["event_time"] == int(start.timestamp() * 1000)
    assert event["curb_space_id"] == str(net.dc_spaces[0].curb_space_id)
    assert event["curb_zone_id"] == str(net.dc_seg.curb_zone_id)
    assert event["data_source_type"] == "in_ground"
    assert event["data_source_device_id"] == str(
        uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "urn:govcenter:parking:device"), "DC-GM-1")
    )
    assert event["vehicle_license_plate"] != "京A12345" and event["vehicle_license_plate"].endswith("45")
    assert "12345" not in str(body) and event["vehicle_license_plate_confidence"] == 93

    hour = start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    assert len(client.get(f"{API}/events", {"event_time": hour}).json()["data"]["events"]) == 1
    other = (start - dt.timedelta(hours=3)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    assert client.get(f"{API}/events", {"event_time": other}).json()["data"]["events"] == []
    assert (
        len(
            client.get(f"{API}/events", {"curb_zone_id": str(net.dc_seg.curb_zone_id)}).json()["data"][
                "events"
            ]
        )
        == 1
    )
    assert (
        client.get(f"{API}/events", {"curb_space_id": str(net.dc_spaces[1].curb_space_id)}).json()["data"][
            "events"
        ]
        == []
    )
    # Events older than the default 60-minute window need event_time.
    DeviceEvent.objects.update(event_time=ago(hours=2))
    assert client.get(f"{API}/events").json()["data"]["events"] == []
    # The 西城 manager sees only the 西城 event.
    xc = client_for(org.manager_xc).get(f"{API}/events", {"event_time": hour}).json()["data"]["events"]
    assert xc == []  # moved out of that hour above
    xc_hour = ago(hours=2).astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    xc = client_for(org.manager_xc).get(f"{API}/events", {"event_time": xc_hour}).json()["data"]["events"]
    assert [e["curb_space_id"] for e in xc] == [str(net.xc_space.curb_space_id)]


def _error(response, status):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    return body


def test_out_of_scope_unknown_and_malformed_ids_are_404_with_our_error_body(org, net):
    client = client_for(org.manager_dc)
    for url in (
        f"{API}/curbs/zones/{net.xc_seg.curb_zone_id}",
        f"{API}/curbs/spaces/{net.xc_space.curb_space_id}",
        f"{API}/curbs/zones/{uuid.uuid4()}",
        f"{API}/curbs/spaces/not-a-uuid",
    ):
        assert _error(client.get(url), 404)["code"] == "not_found"
    assert client_for(org.manager_xc).get(f"{API}/curbs/zones/{net.xc_seg.curb_zone_id}").status_code == 200


def test_bad_query_parameters_are_400(org, net):
    client = client_for(org.manager_dc)
    _error(client.get(f"{API}/events", {"event_time": "2026-01-01"}), 400)
    _error(client.get(f"{API}/events", {"curb_zone_id": "x"}), 400)
    _error(client.get(f"{API}/curbs/spaces", {"zone": "x"}), 400)


@pytest.mark.parametrize("kind", ["zones", "spaces"])
def test_dongcheng_manager_never_sees_xicheng(org, net, kind):
    if kind == "zones":
        visible, hidden, key = [net.dc_seg], [net.xc_seg], "curb_zone_id"
    else:
        visible, hidden, key = net.dc_spaces, [net.xc_space], "curb_space_id"
    client = client_for(org.manager_dc)
    listed = {item[key] for item in client.get(f"{API}/curbs/{kind}").json()["data"][kind]}
    assert {str(getattr(o, key)) for o in visible} <= listed
    assert not {str(getattr(o, key)) for o in hidden} & listed
    for o in hidden:
        assert client.get(f"{API}/curbs/{kind}/{getattr(o, key)}").status_code == 404
    for o in visible:
        assert client.get(f"{API}/curbs/{kind}/{getattr(o, key)}").status_code == 200


def test_login_and_permission_required(org, net):
    assert Client().get(f"{API}/curbs/zones").status_code in (401, 403)
    assert _error(client_for(org.plain_dc).get(f"{API}/curbs/zones"), 403)
    assert _error(client_for(org.plain_dc).get(f"{API}/events"), 403)


def test_lists_are_paginated_with_links(org, net):
    client = client_for(org.manager_dc)
    first = client.get(f"{API}/curbs/spaces", {"page_size": 2}).json()
    validate(first, "Curbs API.yaml", "/curbs/spaces")
    assert len(first["data"]["spaces"]) == 2
    links = first["links"]
    assert links["prev"] is None and links["next"] and links["first"].startswith("http")
    second = client.get(links["next"]).json()
    assert len(second["data"]["spaces"]) == 1 and second["links"]["next"] is None
    assert second["links"]["prev"] == links["first"]
    seen = [s["curb_space_id"] for s in first["data"]["spaces"] + second["data"]["spaces"]]
    assert sorted(seen) == sorted(str(s.curb_space_id) for s in net.dc_spaces)  # no gap, no repeat
    whole = client.get(f"{API}/curbs/zones").json()
    assert whole["links"]["next"] is None and whole["links"]["prev"] is None
    events = client.get(f"{API}/events", {"page": 3}).json()
    assert events["data"]["events"] == [] and events["links"]["prev"]


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "x"}, {"page_size": "1001"}, {"page_size": "-1"}])
def test_bad_page_parameters_are_400(org, net, params):
    client = client_for(org.manager_dc)
    for path in ("curbs/zones", "curbs/spaces", "events"):
        _error(client.get(f"{API}/{path}", params), 400)
