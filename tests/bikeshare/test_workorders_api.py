"""Work orders API (派单): list filters and scope, detail with history, create, the
transitions with their permissions, 4xx bodies, generate, stats, and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govcenter.bikeshare.models.workorders import WorkOrder
from govcenter.bikeshare.services import workorders as wo

from . import test_workorders as base
from .conftest import assert_error, client_for

w = base.w  # the fixture of test_workorders.py

pytestmark = pytest.mark.django_db

API = "/api/v1/bikeshare/work-orders"


def _create(w, **kw):
    body = {"operator": w.op_a.pk, "title": "路口车辆堆积", "district": "110101", **kw}
    return client_for(w.wo_center).post(API, body, content_type="application/json")


def test_create_list_detail_and_filters(w):
    response = _create(w, kind="outside_fence", lon=116.41, lat=39.92)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("派单-") and body["status"] == "issued" and body["datum"] == "GCJ-02"
    assert body["operator_code"] == w.op_a.code and body["district_code"] == "110101"
    assert [e["action"] for e in body["events"]] == ["issue"]
    _create(w, operator=w.op_b.code, district="110102", title="乙")
    listed = client_for(w.wo_center).get(API).json()
    assert listed["count"] == 2 if isinstance(listed, dict) else len(listed) == 2
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {r["operator_code"] for r in rows} == {w.op_a.code, w.op_b.code}

    def numbers(query, user=None):
        data = client_for(user or w.wo_center).get(API, query).json()
        return {r["operator_code"] for r in (data["results"] if isinstance(data, dict) else data)}

    assert numbers({"operator": w.op_b.pk}) == {w.op_b.code}
    assert numbers({"district": "110101"}) == {w.op_a.code}
    assert numbers({"kind": "outside_fence"}) == {w.op_a.code}
    assert numbers({"status": "closed"}) == set()
    assert numbers({"overdue": "false"}) == {w.op_a.code, w.op_b.code}
    assert numbers({"overdue": "true"}) == set()
    assert numbers({"open": "true"}) == {w.op_a.code, w.op_b.code}
    # Scope: the operator sees its own, the district its district's, nobody nothing.
    assert numbers({}, w.wo_op_a) == {w.op_a.code}
    assert numbers({}, w.wo_dc) == {w.op_a.code}
    detail = client_for(w.wo_op_b).get(f"{API}/{body['id']}")
    assert_error(detail, 404, "not_found")
    assert client_for(w.nobody).get(API).status_code == 403


def test_transitions_through_the_api(w):
    order_id = _create(w).json()["id"]
    op_a, center = client_for(w.wo_op_a), client_for(w.wo_center)
    # The Center cannot respond, the operator cannot close.
    assert_error(center.post(f"{API}/{order_id}/respond", {"note": "x"}, content_type="application/json"), 403,
                 "permission_denied")  # fmt: skip
    assert_error(
        op_a.post(f"{API}/{order_id}/close", {}, content_type="application/json"), 403, "permission_denied"
    )
    assert_error(client_for(w.wo_op_b).post(f"{API}/{order_id}/respond", {"note": "x"}, content_type="application/json"),
                 404, "not_found")  # fmt: skip
    assert_error(
        center.post(f"{API}/{order_id}/close", {}, content_type="application/json"), 409, "bad_transition"
    )
    body = assert_error(
        op_a.post(f"{API}/{order_id}/respond", {"evidence": "nope"}, content_type="application/json"),
        400,
        "invalid",
    )
    assert "evidence" in body["details"]
    assert_error(op_a.post(f"{API}/{order_id}/respond", {}, content_type="application/json"), 400, "missing")
    response = op_a.post(
        f"{API}/{order_id}/respond",
        {"note": "已调走", "evidence": ["PHOTO-1"]},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "responded"
    assert_error(center.post(f"{API}/{order_id}/reopen", {}, content_type="application/json"), 400, "invalid")
    response = center.post(
        f"{API}/{order_id}/reopen", {"note": "仍有车辆", "due_hours": 1}, content_type="application/json"
    )
    assert response.json()["status"] == "issued" and response.json()["reopen_count"] == 1
    op_a.post(f"{API}/{order_id}/respond", {"note": "再次处理"}, content_type="application/json")
    response = center.post(f"{API}/{order_id}/close", {"note": "通过"}, content_type="application/json")
    assert response.json()["status"] == "closed"
    assert [e["action"] for e in response.json()["events"]] == [
        "issue",
        "respond",
        "reopen",
        "respond",
        "close",
    ]
    assert_error(center.post(f"{API}/{order_id}/cancel", {"reason": "r"}, content_type="application/json"), 409,
                 "bad_transition")  # fmt: skip
    assert_error(
        center.post(f"{API}/999999/cancel", {"reason": "r"}, content_type="application/json"),
        404,
        "not_found",
    )


def test_create_refusals(w):
    assert_error(client_for(w.wo_op_a).post(API, {"operator": w.op_a.pk, "title": "x"}, content_type="application/json"),
                 403, "permission_denied")  # fmt: skip
    assert_error(_create(w, operator="NOPE"), 400, "bad_operator")
    assert_error(_create(w, district="999999"), 400, "bad_district")
    assert_error(_create(w, kind="bogus"), 400, "invalid")
    assert_error(_create(w, lon=116.4), 400, "invalid")
    _create(w, dedupe_key="same")
    body = assert_error(_create(w, dedupe_key="same"), 409, "duplicate")
    assert body["details"]["number"][0].startswith("派单-")
    assert WorkOrder.objects.count() == 1


def test_generate_and_stats(w, tmp_path, settings):
    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    settings.GOVCENTER_LAKE_DIR = tmp_path / "no-lake"
    response = client_for(w.wo_center).post(f"{API}/generate", {}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"created", "existing", "by_kind", "errors"}
    assert_error(client_for(w.wo_op_a).post(f"{API}/generate", {}, content_type="application/json"), 403,
                 "permission_denied")  # fmt: skip
    assert_error(client_for(w.wo_center).post(f"{API}/generate", {"kinds": ["x"]}, content_type="application/json"),
                 400, "invalid")  # fmt: skip

    order_id = _create(w).json()["id"]
    client_for(w.wo_op_a).post(f"{API}/{order_id}/respond", {"note": "n"}, content_type="application/json")
    today = timezone.localdate()
    stats = (
        client_for(w.wo_center)
        .get(f"{API}/stats", {"from": today.isoformat(), "to": today.isoformat()})
        .json()
    )
    rows = {r["operator"]: r for r in stats["rows"]}
    assert rows[w.op_a.code]["issued"] == 1 and rows[w.op_a.code]["rate_on_time"] == 1.0
    assert rows[w.op_b.code]["issued"] == 0 and rows[w.op_b.code]["rate_on_time"] is None
    own = client_for(w.wo_op_b).get(f"{API}/stats").json()
    assert [r["operator"] for r in own["rows"]] == [w.op_b.code]
    bad = client_for(w.wo_center).get(f"{API}/stats", {"from": "2026-13-01"})
    assert_error(bad, 400, "bad_period")
    start = (today - dt.timedelta(days=400)).isoformat()
    assert_error(client_for(w.wo_center).get(f"{API}/stats", {"from": start}), 400, "bad_period")


def test_response_stats_contract_signature(w):
    today = timezone.localdate()
    assert set(wo.response_stats(w.op_a, today, today)) == {
        "issued",
        "responded",
        "responded_on_time",
        "closed",
        "overdue",
        "rate_on_time",
    }


def test_openapi_schema_has_the_endpoints_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for suffix in (
        "",
        "/{id}",
        "/{id}/respond",
        "/{id}/close",
        "/{id}/reopen",
        "/{id}/cancel",
        "/generate",
        "/stats",
    ):
        assert f"{API}{suffix}" in paths, suffix
    ours = [
        m
        for m in (GENERATOR_STATS._warn_cache | GENERATOR_STATS._error_cache)
        if "orkOrder" in m or "work_order" in m
    ]
    assert ours == []


def test_list_query_count_does_not_grow_with_orders(w, django_assert_max_num_queries):
    for i in range(3):
        _create(w, title=f"派单{i}")
    client = client_for(w.wo_center)
    client.get(API)  # warm the session and permission caches
    with django_assert_max_num_queries(12) as few:
        assert client.get(API).status_code == 200
        baseline = len(few.captured_queries)
    for i in range(10):
        _create(w, title=f"更多{i}", operator=w.op_b.code)
    with django_assert_max_num_queries(baseline):
        assert client.get(API).status_code == 200
