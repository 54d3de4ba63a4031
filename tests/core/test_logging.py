"""Structured JSON logs: one JSON object per line, carrying the request id and user."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.conf import settings

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """Capture what the configured stdout handler (formatter + filter from settings) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.formatter.__class__.__name__ == "JsonFormatter")
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    access = logging.getLogger("govcenter.access")
    old_level = access.level
    access.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        handler.setStream(old_stream)
        access.setLevel(old_level)


def test_logging_config_uses_the_installed_json_formatter():
    from pythonjsonlogger.json import JsonFormatter

    formatter = settings.LOGGING["formatters"]["json"]
    assert formatter["()"] == "pythonjsonlogger.json.JsonFormatter"
    root = logging.getLogger()
    assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)


def test_each_request_logs_one_json_access_line_with_its_request_id(client, log_lines):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="probe-1")
    assert response["X-Request-ID"] == "probe-1"
    lines = [line for line in log_lines() if line["logger"] == "govcenter.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "probe-1"
    assert line["path"] == "/healthz" and line["status"] == 200 and line["method"] == "GET"
    assert line["level"] == "DEBUG"  # probes are quiet
    assert line["time"].endswith("+00:00")
    assert isinstance(line["duration_ms"], float)


def test_access_line_names_the_signed_in_user(client, log_lines):
    user = UserFactory()
    client.force_login(user)
    client.get("/api/v1/", HTTP_X_REQUEST_ID="api-7")
    line = next(entry for entry in log_lines() if entry["logger"] == "govcenter.access")
    assert line["user_id"] == user.pk
    assert line["channel"] == "api"
    assert line["level"] == "INFO"


def test_a_fresh_request_id_is_made_when_none_or_a_bad_one_is_sent(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first != second and len(first) == 32
    bad = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert bad != "bad id\nwith newline" and " " not in bad


@pytest.mark.urls("tests.core.urls_boom")
def test_an_api_crash_is_logged_as_json_with_the_traceback_and_request_id(client, log_lines):
    client.force_login(UserFactory())
    response = client.get("/api/v1/test/boom/", HTTP_X_REQUEST_ID="crash-9")
    assert response.status_code == 500
    errors = [line for line in log_lines() if line["level"] == "ERROR" and line["logger"] == "govcenter.request"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "crash-9"
    assert "RuntimeError: boom" in errors[0]["exc_info"]
