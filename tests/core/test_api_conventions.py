"""API conventions: one error body for every 4xx/5xx on /api/, OpenAPI 3, Swagger UI, token auth."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import ApiToken, AuditEntry
from govcenter.core.tokens import api_token_create, api_token_revoke
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_boom")]


def assert_error_body(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict | list)
    assert b"<html" not in response.content.lower()
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(user):
    client = Client()
    client.force_login(user)
    return client


# --- every failure mode, one body ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/", "/api/nothing-here", "/api/v1/no-such-resource/", "/api/v2/"])
def test_unknown_api_url_is_json_404(client, path):
    assert_error_body(client.get(path), 404, "not_found")


def test_unknown_api_url_is_json_404_for_a_signed_in_user_too(api):
    assert_error_body(api.get("/api/v1/no-such-resource/"), 404, "not_found")


def test_non_api_404_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_anonymous_is_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/test/echo/")
    assert_error_body(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer gc_not-a-real-token", "Bearer", "Bearer a b", "Token nope"])
def test_bad_tokens_are_401(client, header):
    assert_error_body(client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=header), 401, "authentication_failed")


def test_lacking_permission_is_403(api):
    assert_error_body(api.get("/api/v1/test/admins/"), 403, "permission_denied")


def test_method_not_allowed_is_405_and_keeps_allow(api):
    response = api.delete("/api/v1/test/echo/")
    assert_error_body(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_validation_error_is_400_with_field_details(api):
    response = api.post("/api/v1/test/echo/", {"name": "x" * 20, "count": 0}, content_type="application/json")
    body = assert_error_body(response, 400, "invalid")
    assert set(body["details"]) == {"name", "count"}
    assert all(isinstance(msgs, list) and msgs for msgs in body["details"].values())


def test_malformed_json_is_400(api):
    assert_error_body(api.post("/api/v1/test/echo/", "{not json", content_type="application/json"), 400, "parse_error")


def test_valid_post_passes(api):
    response = api.post("/api/v1/test/echo/", {"name": "ok", "count": 2}, content_type="application/json")
    assert response.status_code == 201
    assert response.json() == {"name": "ok", "count": 2}


def test_service_error_keeps_its_code_status_and_details(api):
    body = assert_error_body(api.get("/api/v1/test/refused/"), 409, "calendar_closed")
    assert body["message"] == "Closed on holidays."
    assert body["details"] == {"date": "2025-10-01"}


def test_django_validation_error_from_a_model_is_400(api):
    body = assert_error_body(api.get("/api/v1/test/django-invalid/"), 400, "invalid")
    assert body["details"] == {"plate": ["bad plate"]}


def test_http404_raised_in_a_view_is_json_404(api):
    assert_error_body(api.get("/api/v1/test/missing/"), 404, "not_found")


def test_unhandled_exception_in_an_api_view_is_json_500(api):
    response = api.get("/api/v1/test/boom/", HTTP_X_REQUEST_ID="boom-1")
    body = assert_error_body(response, 500, "server_error")
    assert "boom" not in json.dumps(body)  # no internals leak to the client
    assert response["X-Request-ID"] == "boom-1"


def test_unhandled_exception_in_a_plain_django_view_under_api_is_json_500(api):
    assert_error_body(api.get("/api/v1/test/plain-boom/"), 500, "server_error")


def test_csrf_failure_on_a_session_post_is_json_403(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = assert_error_body(
        client.post("/api/v1/test/echo/", {"name": "ok", "count": 1}, content_type="application/json"),
        403,
        "permission_denied",
    )
    assert "CSRF" in body["message"]


def test_csrf_failure_on_a_plain_view_under_api_is_json_403(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert_error_body(client.post("/api/v1/test/plain-post/", {}), 403, "permission_denied")


def test_token_requests_need_no_csrf(user):
    raw = api_token_create(user=user, name="script")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/test/echo/", {"name": "ok", "count": 1}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 201


def test_a_disallowed_host_is_json_400_on_api_paths(client):
    response = client.get("/api/v1/test/echo/", HTTP_HOST="evil.example")
    assert_error_body(response, 400, "bad_request")


def test_converted_errors_keep_security_headers_and_request_id(client):
    response = client.get("/api/nothing-here", HTTP_X_REQUEST_ID="req-42")
    assert_error_body(response, 404)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"] == "req-42"


# --- OpenAPI schema and Swagger UI -----------------------------------------------------------


@pytest.mark.urls("govcenter.urls")
def test_openapi_schema_is_valid_openapi_3(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document
    if schema["paths"]:  # once any endpoint is registered, both ways in are described
        assert set(schema["components"]["securitySchemes"]) >= {"bearerAuth", "cookieAuth"}
        assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.urls("govcenter.urls")
def test_openapi_schema_as_json(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    validate_schema(response.json())


def test_swagger_ui_uses_only_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, html
    assert all(ref.startswith(("/static/", "/api/docs/")) for ref in refs), refs
    assert "<style" not in html and "<script>" not in html  # no inline code under the CSP
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_swagger_ui_page_keeps_the_strict_csp(client):
    csp = client.get("/api/docs/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert "'unsafe-eval'" not in csp


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_in_chromium_without_csp_violations(live_server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page()
            messages, outside = [], []
            page.on("console", lambda m: messages.append(m.text))
            page.on("request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url))
            page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
            assert "govcenter API" in page.inner_text(".swagger-ui .info .title")
            for block in page.locator(".opblock-summary").all()[:3]:
                block.click()  # expanding operations renders more of the UI
            page.wait_for_timeout(300)
        finally:
            browser.close()
    violations = [m for m in messages if "Content Security Policy" in m]
    assert violations == []
    assert outside == []


# --- tokens ----------------------------------------------------------------------------------


def test_token_auth_works_and_stores_only_a_digest(client, user):
    raw = api_token_create(user=user, name="etl")
    assert raw.startswith("gc_")
    response = client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    token = ApiToken.objects.get(user=user)
    assert raw not in (token.digest, token.prefix) and raw.startswith(token.prefix)
    assert token.last_used_at is not None
    entry = AuditEntry.objects.filter(action="api_token.create").get()
    assert raw not in json.dumps(entry.changes)


def test_revoked_and_expired_tokens_are_refused(client, user):
    raw = api_token_create(user=user, name="old")
    api_token_revoke(token=ApiToken.objects.get(user=user))
    assert_error_body(client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw}"), 401)
    raw2 = api_token_create(user=user, name="short", expires_at=timezone.now() + timedelta(seconds=60))
    ApiToken.objects.filter(name="short").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error_body(client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw2}"), 401)


def test_token_of_a_disabled_user_is_refused(client, user):
    raw = api_token_create(user=user, name="x")
    user.is_active = False
    user.save()
    assert_error_body(client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw}"), 401)


@pytest.mark.parametrize(
    "kwargs",
    [{"name": "  "}, {"name": "x", "expires_at": timezone.now() - timedelta(days=1)}],
)
def test_token_create_refuses_bad_input(user, kwargs):
    with pytest.raises(ServiceError):
        api_token_create(user=user, **kwargs)
    assert not ApiToken.objects.exists()


def test_token_command_creates_a_working_token_and_revokes_it(client, user):
    out = StringIO()
    call_command("token", "create", user.username.upper(), "cli token", "--days", "7", stdout=out)
    raw = out.getvalue().strip()
    assert client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token = ApiToken.objects.get()
    assert token.expires_at > timezone.now() + timedelta(days=6)
    call_command("token", "revoke", token.prefix, stdout=StringIO())
    assert client.get("/api/v1/test/echo/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
