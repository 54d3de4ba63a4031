"""CDS Metrics aggregates and the Curbs areas/objects/policies: CDS shapes, values, scope, 4xx."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import jsonschema
import pytest

from govcenter.parking.api.stats import area_id, policy_id
from govcenter.parking.models import TariffPlan
from govcenter.parking.services.stats import stats_compute
from tests.parking.stats_helpers import DAY, DAY_START, at, build_day, overlap
from tests.parking.test_cds_api import CDS, REGISTRY, client_for, validate

pytestmark = pytest.mark.django_db
API = "/api/v1/parking/cds"
AGG = {"$ref": f"file://{(CDS / 'Shared Data Models' / 'aggregate.yaml').resolve()}"}


def _agg_validate(row: dict) -> None:
    jsonschema.Draft202012Validator(
        AGG, registry=REGISTRY, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(row)


def _window() -> dict:
    start = int(DAY_START.timestamp() * 1000)
    return {"start_time": start, "end_time": start + 86_400_000}


@pytest.fixture
def day(org):
    n = build_day(org)
    stats_compute(date=DAY)
    return n


def _rows(client, **params) -> list[dict]:
    response = client.get(
        f"{API}/metrics/aggregates", {**_window(), "format": "json", "page_size": 1000, **params}
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()["data"]["aggregates"]


def _series(rows, metric, place_id) -> dict[int, float]:
    return {
        r["hour"]: r["value"] for r in rows if r["metric_type"] == metric and r["curb_place_id"] == place_id
    }


def test_aggregates_match_the_cds_aggregate_schema(org, day):
    rows = _rows(client_for(org.manager_dc))
    assert rows
    for row in rows:
        _agg_validate(row)
    assert {r["curb_place_type"] for r in rows} == {"zone", "area"}
    assert {r["date"] for r in rows} == {DAY.isoformat()}
    with pytest.raises(jsonschema.ValidationError):  # the check is not vacuous
        _agg_validate({**rows[0], "metric_type": "occupancy"})


def test_zone_values_follow_the_stays(org, day):
    zone = str(day.dc_seg.curb_zone_id)
    rows = _rows(client_for(org.manager_dc), curb_place_type="zone", curb_place_id=zone)
    assert {r["curb_place_id"] for r in rows} == {zone}
    live = [s for s in day.stays if s[0].segment_id == day.dc_seg.pk and s[3] != "void"]
    sessions = _series(rows, "total_sessions", zone)
    for h in range(24):
        lo, hi = at(h), at(h + 1)
        assert sessions[h] == sum(1 for s in live if lo <= s[1] < hi)
    # Occupancy: occupied / known space-time of each hour, −1 when most of it was unknown.
    occupancy = _series(rows, "occupancy_percent", zone)
    for h in range(24):
        lo, hi = at(h), at(h + 1)
        occupied = sum(overlap(s[1], s[2] or at(24), lo, hi) for s in live)
        unknown = sum(
            overlap(a, b, lo, hi) * k for dev, a, b, k in day.offline if dev.district_id == org.dongcheng.pk
        )
        available = 3 * 3600
        want = -1 if unknown * 2 > available else round(100 * occupied / (available - unknown), 2)
        assert occupancy[h] == want, h
    assert occupancy[0] == -1 and occupancy[8] == round(100 / 3, 2)
    turnover = _series(rows, "turnover", zone)
    assert turnover[8] == round(1 / 3, 4)
    dwell = _series(rows, "average_dwell_time", zone)
    assert dwell == {8: 120.0, 14: 45.0, 22: 240.0}  # minutes of the ended stays, by start hour


def test_area_is_the_sum_of_its_zones(org, day):
    area = str(area_id(org.dongcheng))
    client = client_for(org.manager_dc)
    by_area = _rows(client, curb_place_type="area", curb_place_id=area, metric_type="total_sessions")
    by_zone = _rows(
        client,
        curb_place_type="zone",
        curb_place_id=str(day.dc_seg.curb_zone_id),
        metric_type="total_sessions",
    )
    assert [(r["hour"], r["value"]) for r in by_area] == [(r["hour"], r["value"]) for r in by_zone]
    assert sum(r["value"] for r in by_area) == 4


def test_csv_is_the_default_representation(org, day):
    client = client_for(org.manager_dc)
    response = client.get(
        f"{API}/metrics/aggregates", {**_window(), "metric_type": "total_events", "page_size": 10}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.cds+csv")
    reader = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert reader and set(reader[0]) == {
        "curb_place_type",
        "curb_place_id",
        "metric_type",
        "date",
        "hour",
        "value",
    }
    assert len(reader) == 10 and 'rel="next"' in response["Link"]
    accept = client.get(
        f"{API}/metrics/aggregates", _window(), HTTP_ACCEPT="application/vnd.cds+csv;version=1.1"
    )
    assert accept.status_code == 200 and accept["Content-Type"].startswith("application/vnd.cds+csv")
    as_json = client.get(f"{API}/metrics/aggregates", _window(), HTTP_ACCEPT="application/json")
    assert as_json.json()["version"] == "1.1"


def test_aggregates_pagination_links(org, day):
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/metrics/aggregates", {**_window(), "format": "json", "page_size": 7}).json()
    assert len(body["data"]["aggregates"]) == 7 and body["links"]["prev"] is None
    second = client.get(body["links"]["next"]).json()
    assert second["links"]["prev"] and second["data"]["aggregates"] != body["data"]["aggregates"]


def test_aggregates_are_scoped(org, day):
    rows = _rows(client_for(org.manager_xc))
    assert {r["curb_place_id"] for r in rows} == {str(day.xc_seg.curb_zone_id), str(area_id(org.xicheng))}
    assert (
        _rows(client_for(org.manager_xc), curb_place_type="area", curb_place_id=str(area_id(org.dongcheng)))
        == []
    )
    assert (
        _rows(client_for(org.manager_xc), curb_place_type="zone", curb_place_id=str(day.dc_seg.curb_zone_id))
        == []
    )


def _error(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code
    return body


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"metric_type": "occupancy"}, None),
        ({"curb_place_type": "space", "curb_place_id": str(uuid.uuid4())}, "unsupported_place_type"),
        ({"curb_place_type": "zone"}, None),
        ({"curb_place_type": "zone", "curb_place_id": "x"}, None),
        ({"min_lat": "39.9"}, "unsupported_parameter"),
        ({"start_time": "yesterday"}, None),
        ({"start_time": "1773072000000", "end_time": "1770000000000"}, None),
        ({"start_time": "1700000000000", "end_time": "1773072000000"}, "range_too_long"),
    ],
)
def test_aggregates_bad_queries_are_400(org, day, params, code):
    _error(
        client_for(org.manager_dc).get(f"{API}/metrics/aggregates", {"format": "json", **params}), 400, code
    )
    # Same JSON error body when CSV was negotiated.
    _error(client_for(org.manager_dc).get(f"{API}/metrics/aggregates", params), 400, code)


SESSION = {"$ref": f"file://{(CDS / 'Shared Data Models' / 'session.yaml').resolve()}"}


def _sessions(client, **params) -> list[dict]:
    response = client.get(
        f"{API}/metrics/sessions", {**_window(), "format": "json", "page_size": 1000, **params}
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()["data"]["sessions"]


def test_sessions_are_the_finished_stays_of_the_day_in_cds_shape(org, day):
    rows = _sessions(client_for(org.leader))
    validator = jsonschema.Draft202012Validator(
        SESSION, registry=REGISTRY, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for row in rows:
        validator.validate(row)
        assert "plate" not in str(row)
    # Finished, not void, started inside the day: derived from the stays the fixture built.
    want = sorted(
        (int(s[1].timestamp() * 1000), int(s[2].timestamp() * 1000), str(s[0].curb_space_id))
        for s in day.stays
        if s[3] != "void" and s[2] is not None and DAY_START <= s[1] < DAY_START + dt.timedelta(days=1)
    )
    got = sorted((r["event_time_start"], r["event_time_end"], r["curb_space_id"]) for r in rows)
    assert got == want and len(got) == 4
    by_space = {r["curb_space_id"]: r for r in rows}
    xc = by_space[str(day.xc_space.curb_space_id)]
    assert xc["curb_area_ids"] == [str(area_id(org.xicheng))]
    assert xc["curb_zone_id"] == str(day.xc_seg.curb_zone_id)
    # Scoped: the Dongcheng manager gets Dongcheng's only; place filters narrow it.
    dc = _sessions(client_for(org.manager_dc))
    assert {r["curb_space_id"] for r in dc} == {r["curb_space_id"] for r in rows} - {xc["curb_space_id"]}
    one = _sessions(client_for(org.leader), curb_place_type="space", curb_place_id=xc["curb_space_id"])
    assert one == [xc]


def test_sessions_csv_and_bad_queries(org, day):
    client = client_for(org.leader)
    response = client.get(f"{API}/metrics/sessions", _window())
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.cds+csv")
    reader = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(reader) == 4 and reader[0]["session_type"] == "parking"
    _error(
        client.get(
            f"{API}/metrics/sessions", {"curb_place_type": "object", "curb_place_id": str(uuid.uuid4())}
        ),
        400,
        "unsupported_place_type",
    )
    _error(client.get(f"{API}/metrics/sessions", {"lat": "39.9"}), 400, "unsupported_parameter")


def test_metrics_permissions(org, day):
    _error(client_for(org.plain_dc).get(f"{API}/metrics/sessions"), 403)
    _error(client_for(org.plain_dc).get(f"{API}/metrics/aggregates"), 403)
    assert (
        client_for(org.leader).get(f"{API}/metrics/aggregates", {**_window(), "format": "json"}).status_code
        == 200
    )


def _square(lon, lat, d=0.01):
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def test_areas_are_districts_in_cds_shape(org, day):
    org.dongcheng.geometry = {
        "type": "MultiPolygon",
        "coordinates": [
            [_square(116.40, 39.90, 0.001)],
            [_square(116.41, 39.91, 0.05)[:-1] + [[116.43, 39.95], [116.41, 39.91]]],
        ],
    }
    org.dongcheng.save()
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/curbs/areas").json()
    validate(body, "Curbs API.yaml", "/curbs/areas")
    (area,) = body["data"]["areas"]  # 西城 is out of scope
    assert area["curb_area_id"] == str(area_id(org.dongcheng))
    assert area["curb_zone_ids"] == [str(day.dc_seg.curb_zone_id)]
    ring = area["geometry"]["coordinates"]
    assert len(ring) == 6 and ring[0] == ring[-1]  # the larger polygon's outer ring, one ring as CDS 1.1
    assert area["custom_attributes"]["datum"] == "WGS-84"
    assert body["links"]["next"] is None


def test_objects_are_fixed_devices(org, day):
    body = client_for(org.manager_dc).get(f"{API}/curbs/objects").json()
    validate(body, "Curbs API.yaml", "/curbs/objects")
    objects = {o["name"]: o for o in body["data"]["objects"]}
    assert set(objects) == {"DC-GM-1", "DC-CAM-1"}
    assert objects["DC-CAM-1"]["object_type"] == "surveillance_camera"
    assert objects["DC-GM-1"]["curb_space_id"] == str(day.dc_spaces[0].curb_space_id)
    assert objects["DC-CAM-1"]["curb_zone_id"] == str(day.dc_seg.curb_zone_id)


def test_policies_are_the_active_tariff_plans(org, day):
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/curbs/policies").json()
    validate(body, "Curbs API.yaml", "/curbs/policies")
    plans = list(TariffPlan.objects.filter(status="active"))
    assert {p["curb_policy_id"] for p in body["data"]["policies"]} == {str(policy_id(p)) for p in plans}
    plan = next(p for p in plans if p.area_class == 1)
    policy = next(p for p in body["data"]["policies"] if p["curb_policy_id"] == str(policy_id(plan)))
    day_rule = next(r for r in policy["rules"] if r["name"] == "car day")
    first = day_rule["rate"][0]
    per_hour = plan.day_first_unit_fen * 60 / plan.day_unit_minutes
    assert first["rate_unit"] == "hour" and first["rate"] == per_hour
    assert first["increment_amount"] == plan.day_first_unit_fen
    one = client.get(f"{API}/curbs/policies", {"ids": str(policy_id(plan))}).json()["data"]["policies"]
    assert [p["curb_policy_id"] for p in one] == [str(policy_id(plan))]
    _error(client.get(f"{API}/curbs/policies", {"ids": "nope"}), 400)


def test_yesterday_is_the_default_window(org, day):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    stats_compute(date=yesterday)
    rows = (
        client_for(org.manager_dc)
        .get(f"{API}/metrics/aggregates", {"format": "json"})
        .json()["data"]["aggregates"]
    )
    assert {r["date"] for r in rows} <= {yesterday.isoformat()}


def test_zones_reference_the_policies_of_their_area_class(org, day):
    body = client_for(org.manager_dc).get(f"{API}/curbs/zones").json()
    validate(body, "Curbs API.yaml", "/curbs/zones")
    (zone,) = body["data"]["zones"]
    plans = TariffPlan.objects.filter(status="active", area_class=day.dc_seg.area_class)
    assert zone["curb_policy_ids"] == [str(policy_id(p)) for p in plans.order_by("code", "version")]
    listed = {
        p["curb_policy_id"]
        for p in client_for(org.manager_dc).get(f"{API}/curbs/policies").json()["data"]["policies"]
    }
    assert set(zone["curb_policy_ids"]) <= listed


def test_end_time_alone_means_the_day_before_it(org, day):
    end = _window()["end_time"]  # midnight after DAY: exclusive, so DAY alone
    body = (
        client_for(org.manager_dc)
        .get(f"{API}/metrics/aggregates", {"end_time": end, "format": "json"})
        .json()
    )
    assert {r["date"] for r in body["data"]["aggregates"]} == {DAY.isoformat()}
