"""Service-backed round trips: Redis as cache and task broker, PostgreSQL as the database.

They skip (with the reason) where the service is missing and fail instead under
REQUIRE_SERVICES=1, which the service pass of .ci/run sets.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from huey import RedisHuey

TASKS_URL = os.environ.get("GOVCENTER_TASKS_URL", "")


@pytest.mark.redis
def test_redis_cache_round_trip(redis_url):
    config = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": "it"}}
    with override_settings(CACHES=config):
        cache = caches["default"]
        key = f"roundtrip-{uuid.uuid4().hex}"
        cache.set(key, {"plate": "京A·12345", "fen": 1200}, 30)
        assert cache.get(key) == {"plate": "京A·12345", "fen": 1200}
        assert cache.add(f"{key}-n", 0, 30) is True
        assert cache.incr(f"{key}-n", 5) == 5  # atomic counters back the rate limits
        cache.delete(f"{key}-n")
        cache.delete(key)
        assert cache.get(key) is None


@pytest.mark.redis
def test_the_configured_cache_is_redis_in_the_service_pass(redis_url):
    if not os.environ.get("GOVCENTER_REDIS_URL"):
        pytest.skip("GOVCENTER_REDIS_URL not set: this run uses the local-memory cache")
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    cache = caches["default"]
    cache.set("svc-pass", "1", 10)
    assert cache.get("svc-pass") == "1"


@pytest.mark.redis
def test_redis_huey_round_trip_through_the_broker(redis_url):
    """Enqueue on Redis, take it off the queue as a consumer would, run it, read the result."""
    url = TASKS_URL if TASKS_URL.startswith("redis://") else redis_url
    huey = RedisHuey(f"govcenter-it-{uuid.uuid4().hex[:8]}", url=url)
    try:

        @huey.task()
        def add_fen(a: int, b: int) -> int:
            return a + b

        result = add_fen(1200, 34)
        assert huey.pending_count() == 1
        task = huey.dequeue()  # what a worker thread does
        assert task is not None and huey.pending_count() == 0
        huey.execute(task)
        assert result.get(blocking=True, timeout=5) == 1234
    finally:
        huey.storage.flush_all()


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_reports_redis_huey_when_tasks_go_to_redis(client):
    if not TASKS_URL.startswith("redis://"):
        pytest.skip("GOVCENTER_TASKS_URL is not Redis in this run")
    assert settings.HUEY["huey_class"] == "huey.RedisHuey"
    body = client.get("/readyz").json()
    assert body["status"] == "ready", body
    assert body["checks"]["cache"]["detail"] == "RedisCache"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_is_the_database_and_answers_readyz(client):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("SHOW server_version_num")
        assert int(cur.fetchone()[0]) >= 130000
    body = client.get("/readyz").json()
    assert body["checks"]["database"] == {**body["checks"]["database"], "ok": True, "detail": "postgresql"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_has_pg_trgm_for_search():
    """ADR 0003 relies on pg_trgm for short substrings; the extension must be available."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        assert cur.fetchone() is not None
