"""/healthz, /readyz (per-check detail, 503 on failure), /metrics (Prometheus, restricted)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from govcenter.core.views import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_every_check_with_detail(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert {"database", "cache", "task_queue"} <= set(body["checks"])
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["detail"]
        assert check["ms"] >= 0
    assert body["checks"]["database"]["detail"] in {"sqlite", "postgresql"}
    assert "Huey" in body["checks"]["task_queue"]["detail"]


def test_readyz_is_503_naming_the_failed_check_when_the_cache_is_down(client):
    # A real Redis client pointed at a port where nothing listens.
    dead = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=dead):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["cache"]["ok"] is False
    assert "ConnectionError" in body["checks"]["cache"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_runs_checks_registered_by_modules(client, monkeypatch):
    monkeypatch.setattr(health, "_CHECKS", dict(health._CHECKS))

    def broker():
        raise OSError("connection refused")

    health.register_check("broker", broker)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "ok": False,
        "detail": "OSError: connection refused",
        "ms": response.json()["checks"]["broker"]["ms"],
    }


def test_health_endpoints_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_metrics_from_loopback_carry_latency_histograms_by_route(client):
    client.get("/healthz")
    client.get("/api/schema/")
    response = client.get("/metrics")  # the test client calls from 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "# TYPE django_http_requests_latency_seconds_by_view_method histogram" in text
    buckets = [line for line in text.splitlines() if line.startswith("django_http_requests_latency_seconds_by_view_method_bucket")]
    assert any('view="healthz"' in line for line in buckets)
    assert any('view="api-schema"' in line for line in buckets)


def test_metrics_refuse_remote_callers(client):
    response = client.get("/metrics", REMOTE_ADDR="10.20.30.40")
    assert response.status_code == 403
    assert set(response.json()) == {"code", "message", "details"}


@override_settings(GOVCENTER_METRICS_TOKEN="scrape-secret-123")
def test_metrics_token_lets_a_remote_scraper_in(client):
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="scrape-secret-123").status_code == 403


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_metrics_behind_a_local_proxy_judge_the_forwarded_client(client):
    # nginx on the same host connects from 127.0.0.1; the real caller is in X-Forwarded-For.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_health_paths_are_not_under_api_and_need_no_login(client):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
