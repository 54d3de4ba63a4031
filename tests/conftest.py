"""Suite-wide fixtures and the rule for service-backed tests.

Tests marked ``postgres`` need the default database to be PostgreSQL: they skip (with
the reason) in the SQLite pass of ``make test`` and run in the PostgreSQL pass of
``.ci/run``. Tests marked ``redis`` need Redis at GOVCENTER_REDIS_URL (default
redis://127.0.0.1:6379/15): they skip when it does not answer; ``mqtt`` tests likewise need
Mosquitto at 127.0.0.1:1883, and ``nats`` tests NATS with JetStream at GOVCENTER_NATS_TEST_URL
(default nats://127.0.0.1:4222). With ``REQUIRE_SERVICES=1``
(set by .ci/run for its service pass) a missing service fails the test instead.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
REDIS_TEST_URL = os.environ.get("GOVCENTER_REDIS_URL") or "redis://127.0.0.1:6379/15"
MQTT_TEST_ADDRESS = ("127.0.0.1", 1883)  # Mosquitto, for tests marked ``mqtt``
NATS_TEST_URL = os.environ.get("GOVCENTER_NATS_TEST_URL") or "nats://127.0.0.1:4222"


def _missing(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _redis_answers() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {REDIS_TEST_URL} does not answer ({type(exc).__name__})"


def _mqtt_answers() -> str | None:
    import socket

    try:
        socket.create_connection(MQTT_TEST_ADDRESS, timeout=1).close()
        return None
    except OSError as exc:
        return f"Mosquitto at {MQTT_TEST_ADDRESS[0]}:{MQTT_TEST_ADDRESS[1]} does not answer ({type(exc).__name__})"


def _nats_answers() -> str | None:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(NATS_TEST_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
        return None
    except OSError as exc:
        return f"NATS at {NATS_TEST_URL} does not answer ({type(exc).__name__})"


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            _missing("needs PostgreSQL: set GOVCENTER_DATABASE_URL=postgres://… (the .ci/run service pass does)")
    if item.get_closest_marker("redis"):
        reason = _redis_answers()
        if reason:
            _missing(reason)
    if item.get_closest_marker("mqtt"):
        reason = _mqtt_answers()
        if reason:
            _missing(reason)
    if item.get_closest_marker("nats"):
        reason = _nats_answers()
        if reason:
            _missing(reason)


@pytest.fixture
def redis_url() -> str:
    return REDIS_TEST_URL


@pytest.fixture
def nats_url() -> str:
    return NATS_TEST_URL
