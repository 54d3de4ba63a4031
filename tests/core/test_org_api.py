"""API of units, users, roles, districts: writes through services, masking, query counts, schema."""

from __future__ import annotations

import pytest
from django.test import Client

from govcenter.core.models import AuditEntry, Unit, User
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db
GOOD = "Init#Pass2026"


@pytest.fixture
def org():
    return build_org()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    if code:
        assert body["code"] == code, body
    return body


def test_sysadmin_creates_and_updates_a_unit(org):
    client = client_for(org.sysadmin)
    response = client.post(
        "/api/v1/units/",
        {"code": "API-1", "name_zh": "接口单位", "kind": "department", "parent": org.center.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    unit = Unit.objects.get(code="API-1")
    assert (
        unit.parent == org.center
        and AuditEntry.objects.filter(action="unit.create", object_id=str(unit.pk)).exists()
    )
    response = client.patch(f"/api/v1/units/{unit.pk}/", {"name_zh": "新名"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["name_zh"] == "新名"


def test_unit_cycle_is_a_400_with_details(org):
    client = client_for(org.sysadmin)
    response = client.patch(
        f"/api/v1/units/{org.unit_dc.pk}/", {"parent": org.sub_dc.pk}, content_type="application/json"
    )
    body = assert_error(response, 400, "invalid")
    assert "parent" in body["details"]


def test_unit_deactivate_refused_with_active_users(org):
    client = client_for(org.sysadmin)
    response = client.post(
        f"/api/v1/units/{org.unit_xc.pk}/deactivate/", {"reason": "x"}, content_type="application/json"
    )
    assert_error(response, 400)


def test_readers_cannot_write(org):
    client = client_for(org.manager_dc)
    response = client.patch(
        f"/api/v1/units/{org.unit_dc.pk}/", {"name_zh": "x"}, content_type="application/json"
    )
    assert_error(response, 403, "permission_denied")
    response = client.post(
        "/api/v1/units/", {"code": "x", "name_zh": "x", "kind": "department"}, content_type="application/json"
    )
    assert_error(response, 403)


def test_write_to_an_out_of_scope_object_is_404(org):
    role = RoleFactory(code="dc-admin", scope_kind="districts", perms=["core.manage_accounts"])
    org.manager_dc.roles.add(role)
    client = client_for(org.manager_dc)
    response = client.patch(
        f"/api/v1/units/{org.unit_xc.pk}/", {"name_zh": "x"}, content_type="application/json"
    )
    assert_error(response, 404, "not_found")
    # A parent outside the scope is "does not exist", not a hint that it does.
    response = client.post(
        "/api/v1/units/",
        {"code": "DC-NEW", "name_zh": "x", "kind": "department", "parent": org.unit_xc.pk},
        content_type="application/json",
    )
    body = assert_error(response, 400)
    assert "parent" in body["details"]


def test_user_create_via_api_and_password_policy(org):
    client = client_for(org.sysadmin)
    payload = {
        "username": "api.user",
        "unit": org.unit_dc.pk,
        "full_name": "王五",
        "phone": "13712345678",
        "roles": [org.roles["district_manager"].pk],
        "password": "weak",
    }
    body = assert_error(client.post("/api/v1/users/", payload, content_type="application/json"), 400)
    assert "password" in body["details"]
    payload["password"] = GOOD
    response = client.post("/api/v1/users/", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert "password" not in data and data["must_change_password"] is True
    assert data["role_details"][0]["code"] == "district_manager"
    user = User.objects.get(username="api.user")
    assert user.check_password(GOOD)


def test_user_update_assigns_roles_and_refuses_separation_breach(org):
    client = client_for(org.sysadmin)
    url = f"/api/v1/users/{org.plain_dc.pk}/"
    response = client.patch(url, {"roles": [org.roles["center_leader"].pk]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert [r["code"] for r in response.json()["role_details"]] == ["center_leader"]
    response = client.patch(url, {"roles": [org.roles["auditor"].pk]}, content_type="application/json")
    assert_error(response, 400, "invalid")
    response = client.patch(url, {"username": "renamed"}, content_type="application/json")
    assert_error(response, 400)


def test_user_deactivate_activate_actions(org):
    client = client_for(org.sysadmin)
    response = client.post(
        f"/api/v1/users/{org.plain_dc.pk}/deactivate/", {"reason": "调离"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    response = client.post(f"/api/v1/users/{org.plain_dc.pk}/activate/", content_type="application/json")
    assert response.status_code == 200 and response.json()["is_active"] is True


def test_personal_data_is_masked_without_reveal_permission(org):
    UserFactory(username="masked.one", unit=org.unit_dc, full_name="张三丰", phone="13812345678")
    data = client_for(org.manager_dc).get("/api/v1/users/?q=masked.one").json()["results"][0]
    assert data["full_name"] == "张**" and data["phone"] == "138****5678"
    # The sysadmin holds reveal_personal_data: lists and details stay masked all the same.
    holder = client_for(org.sysadmin)
    data = holder.get("/api/v1/users/?q=masked.one").json()["results"][0]
    assert data["full_name"] == "张**" and data["phone"] == "138****5678"
    data = holder.get(f"/api/v1/users/{data['id']}/").json()
    assert data["full_name"] == "张**" and data["phone"] == "138****5678"
    assert not AuditEntry.objects.filter(action="reveal").exists()


def test_search_by_masked_fields_needs_reveal(org):
    UserFactory(username="p1", unit=org.unit_dc, phone="13999990000")
    assert client_for(org.manager_dc).get("/api/v1/users/?q=13999990000").json()["count"] == 0
    hit = client_for(org.sysadmin).get("/api/v1/users/?q=13999990000").json()
    assert hit["count"] == 1 and hit["results"][0]["phone"] == "139****0000"  # found, not shown


def reveal_url(user) -> str:
    return f"/api/v1/users/{user.pk}/reveal/"


@pytest.fixture
def person(org):
    return UserFactory(username="api.reveal", unit=org.unit_dc, full_name="张三丰", phone="13812345678")


def test_reveal_returns_the_asked_fields_once_and_audits(org, person):
    response = client_for(org.sysadmin).post(
        reveal_url(person), {"fields": ["phone", "full_name"], "reason": "核实投诉人身份"}, "application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"phone": "13812345678", "full_name": "张三丰"}
    assert "no-store" in response["Cache-Control"]
    (entry,) = AuditEntry.objects.filter(action="reveal")
    assert entry.user_id == org.sysadmin.pk and entry.object_id == str(person.pk)
    assert entry.changes == {"fields": ["phone", "full_name"]} and entry.reason == "核实投诉人身份"
    assert "13812345678" not in str(entry.changes) + entry.object_repr + entry.reason
    assert "张三丰" not in str(entry.changes) + entry.object_repr + entry.reason
    only_phone = client_for(org.sysadmin).post(
        reveal_url(person), {"fields": ["phone"], "reason": "回访"}, "application/json"
    )
    assert only_phone.json() == {"phone": "13812345678"}
    assert AuditEntry.objects.filter(action="reveal").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": ["phone"]}, "reason"),
        ({"fields": ["phone"], "reason": "   "}, "reason"),
        ({"fields": ["password"], "reason": "核实身份"}, "fields"),
        ({"fields": ["phone", "email"], "reason": "核实身份"}, "fields"),
        ({"fields": [], "reason": "核实身份"}, "fields"),
        ({"reason": "核实身份"}, "fields"),
    ],
)
def test_reveal_bad_body_is_a_400_and_audits_nothing(org, person, body, field):
    response = client_for(org.sysadmin).post(reveal_url(person), body, "application/json")
    body = assert_error(response, 400, "invalid")
    assert field in body["details"] and "13812345678" not in response.content.decode()
    assert not AuditEntry.objects.filter(action="reveal").exists()


def test_reveal_needs_the_permission_and_the_scope(org, person):
    good = {"fields": ["phone"], "reason": "核实身份"}
    # manager_dc reads Dongcheng users but holds no reveal permission; nobody reads no users.
    for caller in (org.manager_dc, org.nobody):
        response = client_for(caller).post(reveal_url(person), good, "application/json")
        assert_error(response, 403)
        assert "13812345678" not in response.content.decode()
    xc_holder = UserFactory(
        unit=org.unit_xc,
        role_set=[
            RoleFactory(
                scope_kind="districts",
                district_set=[org.xicheng],
                perms=["core.view_user", "core.reveal_personal_data"],
            )
        ],
    )
    assert_error(client_for(xc_holder).post(reveal_url(person), good, "application/json"), 404)
    assert not AuditEntry.objects.filter(action="reveal").exists()
    response = client_for(xc_holder).post(reveal_url(org.plain_xc), good, "application/json")
    assert response.status_code == 200 and response.json() == {"phone": org.plain_xc.phone}
    assert Client().post(reveal_url(person), good, "application/json").status_code in (401, 403)


def test_roles_api_lists_permissions_and_scope(org):
    data = client_for(org.sysadmin).get("/api/v1/roles/?scope_kind=districts").json()
    codes = {r["code"] for r in data["results"]}
    assert "district_manager" in codes and "sysadmin" not in codes
    manager = next(r for r in data["results"] if r["code"] == "district_manager")
    assert "core.view_unit" in manager["permissions"] and manager["is_builtin"] is True
    assert client_for(org.plain_dc).get("/api/v1/roles/").status_code == 403


def test_districts_geometry_on_request(org):
    org.dongcheng.geometry = {
        "type": "MultiPolygon",
        "coordinates": [[[[116.4, 39.9], [116.5, 39.9], [116.4, 40.0], [116.4, 39.9]]]],
    }
    org.dongcheng.save()
    client = client_for(org.leader)
    plain = client.get(f"/api/v1/districts/{org.dongcheng.pk}/").json()
    assert plain["geometry"] is None and plain["datum"] == "GCJ-02"
    full = client.get(f"/api/v1/districts/{org.dongcheng.pk}/?geometry=1").json()
    assert full["geometry"]["type"] == "MultiPolygon"


def test_user_list_query_count_is_constant(org, django_assert_max_num_queries):
    """Baseline 13: session (1) + user, unit, permissions (3) + scope (2) + count, page,
    roles prefetch (3) + session save (3, SESSION_SAVE_EVERY_REQUEST) — whatever the size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(org.sysadmin)
    client.get("/api/v1/users/")  # warm the session
    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/users/?page_size=100")
    for _ in range(30):
        UserFactory(unit=org.unit_dc, role_set=[org.roles["center_leader"], org.role_own_unit_reader])
    with django_assert_max_num_queries(13):
        response = client.get("/api/v1/users/?page_size=100")
    assert response.json()["count"] >= 40
    with CaptureQueriesContext(connection) as large:
        client.get("/api/v1/users/?page_size=100")
    assert len(large) == len(small)


def test_openapi_schema_is_valid():
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    text = out.getvalue()
    for path in ("/api/v1/units/", "/api/v1/users/", "/api/v1/roles/", "/api/v1/districts/"):
        assert path in text
