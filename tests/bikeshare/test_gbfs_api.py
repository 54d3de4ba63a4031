"""The GBFS systems the platform publishes, end to end: a synthetic day in the live picture →
``/api/v1/bikeshare/gbfs/…`` → every feed valid against the vendored GBFS 3.0 schemas; one
system per operator plus ``beijing``; unknown systems/feeds are 404 with the error body."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client
from jsonschema import Draft7Validator

from govcenter.bikeshare import gbfs
from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.bikeshare.live import open_live_state
from govcenter.core.districts import load_districts
from tests.bikeshare.test_gbfs import DAY, FORMATS, schema
from tests.factories import UnitFactory

pytestmark = pytest.mark.django_db


def assert_valid(feed: dict, name: str) -> None:
    errors = sorted(Draft7Validator(schema(name), format_checker=FORMATS).iter_errors(feed), key=str)
    assert not errors, f"{name}: {len(errors)} errors, first: {errors[0].message} at {list(errors[0].path)}"
    assert feed["version"] == "3.0" and isinstance(json.dumps(feed), str)
API = "/api/v1/bikeshare/gbfs"
SYSTEMS = ["op_hello", "op_meituan", "op_qingju"]


@pytest.fixture
def published(settings, tmp_path):
    load_districts()
    for code in UNIT_CODES.values():
        UnitFactory(code=code, kind="operator", name_zh=f"{code}单车", name_en=code.title())
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{tmp_path / 'live.db'}"
    cache.clear()
    load_day(DAY, scale=0.001, seed=3, lake_root=tmp_path / "lake", register=False,
             live_url=settings.GOVCENTER_BIKESHARE_LIVE_URL)
    with open_live_state(settings.GOVCENTER_BIKESHARE_LIVE_URL) as live:
        return {code: live.total(operator=code) for code in UNIT_CODES.values()}


def test_manifest_lists_every_system(published):
    body = Client().get(f"{API}/manifest.json").json()
    assert_valid(body, "manifest")
    ids = [d["system_id"] for d in body["data"]["datasets"]]
    assert ids == [*SYSTEMS, gbfs.AGGREGATE_SYSTEM_ID]
    assert all(d["versions"][0]["url"].endswith(f"/{d['system_id']}/gbfs.json") for d in body["data"]["datasets"])


@pytest.mark.parametrize("system_id", [*SYSTEMS, gbfs.AGGREGATE_SYSTEM_ID])
def test_every_feed_of_every_system_is_valid(published, system_id):
    client = Client()
    discovery = client.get(f"{API}/{system_id}/gbfs.json")
    assert discovery.status_code == 200 and discovery["Cache-Control"].startswith("public, max-age=")
    assert_valid(discovery.json(), "gbfs")
    for feed in discovery.json()["data"]["feeds"]:
        path = feed["url"].split("://", 1)[1].split("/", 1)[1]
        response = client.get(f"/{path}")
        assert response.status_code == 200, (feed, response.content[:200])
        assert_valid(response.json(), feed["name"])


def test_vehicle_status_publishes_each_operators_parked_bikes(published):
    client = Client()
    per_operator = {
        sid: len(client.get(f"{API}/{sid}/vehicle_status.json").json()["data"]["vehicles"]) for sid in SYSTEMS
    }
    assert per_operator == {f"op_{code.split('-')[1].lower()}": n for code, n in published.items()}
    everyone = client.get(f"{API}/beijing/vehicle_status.json").json()["data"]["vehicles"]
    assert len(everyone) == sum(published.values())
    assert {v["vehicle_id"].split("-")[0] for v in everyone} == set(SYSTEMS)
    # coordinates are WGS-84: about 500 m west/south of the stored GCJ-02 (ADR 0005)
    assert all(115.4 < v["lon"] < 117.6 and 39.4 < v["lat"] < 41.1 for v in everyone)


@pytest.mark.parametrize("path, code", [("nope/gbfs.json", "unknown_system"), ("beijing/station_status.json", "unknown_feed"),
                                        ("OP-MEITUAN/gbfs.json", "unknown_system")])
def test_unknown_system_or_feed_is_404(published, path, code):
    response = Client().get(f"{API}/{path}")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == code and set(body) == {"code", "message", "details"}
