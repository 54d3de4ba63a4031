"""Configuration from the environment: insecure-config refusal, TLS switches, security headers, cookies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings

GOOD_SECRET = "k3Jx9-Qm2vR8pL0sT7wY4zA1bC6dE5fG_hN-uV3iO8rW2qX7yZ"
GOVCENTER = [sys.executable, "-m", "govcenter.cli"]


def _env(tmp_path, **overrides) -> dict:
    """A clean production-like environment: no test settings, no GOVCENTER_* from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCENTER_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"GOVCENTER_VAR_DIR": str(tmp_path), "GOVCENTER_DEBUG": "false"})
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _govcenter(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([*GOVCENTER, *args], env=_env(tmp_path, **env), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "GOVCENTER_SECRET_KEY is not set"),
        ({"GOVCENTER_SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "GOVCENTER_SECRET_KEY is a default or weak value"),
        ({"GOVCENTER_SECRET_KEY": "short-secret"}, "GOVCENTER_SECRET_KEY is a default or weak value"),
        ({"GOVCENTER_SECRET_KEY": "a" * 60}, "GOVCENTER_SECRET_KEY is a default or weak value"),
        ({"GOVCENTER_SECRET_KEY": GOOD_SECRET, "GOVCENTER_ALLOWED_HOSTS": "*"}, "GOVCENTER_ALLOWED_HOSTS"),
        ({"GOVCENTER_SECRET_KEY": GOOD_SECRET, "GOVCENTER_ALLOWED_HOSTS": "gov.example,*"}, "GOVCENTER_ALLOWED_HOSTS"),
        ({"GOVCENTER_SECRET_KEY": GOOD_SECRET, "GOVCENTER_ALLOWED_HOSTS": ""}, "GOVCENTER_ALLOWED_HOSTS"),
    ],
)
def test_debug_off_refuses_an_insecure_configuration_in_one_line(tmp_path, env, reason):
    result = _govcenter(tmp_path, "check", **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govcenter: refusing to start with DEBUG off: ")
    assert reason in lines[0]
    assert result.stdout == ""


def test_debug_off_with_a_good_secret_and_hosts_starts(tmp_path):
    result = _govcenter(tmp_path, "check", GOVCENTER_SECRET_KEY=GOOD_SECRET, GOVCENTER_ALLOWED_HOSTS="gov.example")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert not (tmp_path / "secret.key").exists()  # production never generates its own secret


def test_debug_on_generates_a_secret_once_under_var(tmp_path):
    first = _govcenter(tmp_path, "check", GOVCENTER_DEBUG="true")
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret.key").read_text()
    assert len(key) >= 50
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    _govcenter(tmp_path, "check", GOVCENTER_DEBUG="true")
    assert (tmp_path / "secret.key").read_text() == key


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"GOVCENTER_DEBUG": "maybe"}, "GOVCENTER_DEBUG='maybe' is not a boolean"),
        ({"GOVCENTER_DEBUG": "true", "GOVCENTER_WEB_THREADS": "many"}, "GOVCENTER_WEB_THREADS='many' is not an integer"),
        ({"GOVCENTER_DEBUG": "true", "GOVCENTER_TASKS_URL": "amqp://rabbit"}, "GOVCENTER_TASKS_URL"),
        ({"GOVCENTER_DEBUG": "true", "GOVCENTER_DATABASE_URL": "nonsense://x"}, "GOVCENTER_DATABASE_URL"),
    ],
)
def test_malformed_values_fail_at_start_in_one_line(tmp_path, env, reason):
    result = _govcenter(tmp_path, "check", **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def _settings_in_subprocess(tmp_path, names: list[str], **env) -> dict:
    code = (
        "import json, sys; import govcenter.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path, GOVCENTER_SECRET_KEY=GOOD_SECRET, GOVCENTER_ALLOWED_HOSTS="gov.example", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


TLS_NAMES = [
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
]


def test_tls_switch_turns_on_hsts_and_secure_cookies(tmp_path):
    on = _settings_in_subprocess(tmp_path, TLS_NAMES, GOVCENTER_TLS="true", GOVCENTER_BEHIND_PROXY="true")
    assert on["SECURE_HSTS_SECONDS"] >= 31536000
    assert on["SECURE_SSL_REDIRECT"] is on["SESSION_COOKIE_SECURE"] is on["CSRF_COOKIE_SECURE"] is True
    assert on["LANGUAGE_COOKIE_SECURE"] is True
    assert on["SECURE_PROXY_SSL_HEADER"] is not None
    off = _settings_in_subprocess(tmp_path, TLS_NAMES)
    assert off["SECURE_HSTS_SECONDS"] == 0
    assert off["SESSION_COOKIE_SECURE"] is off["CSRF_COOKIE_SECURE"] is False
    assert off["SECURE_PROXY_SSL_HEADER"] is None


def test_service_urls_select_postgres_redis_and_redis_huey(tmp_path):
    got = _settings_in_subprocess(
        tmp_path,
        ["DATABASES", "CACHES", "HUEY"],
        GOVCENTER_DATABASE_URL="postgres://gc:pw@db.example:5432/govcenter",
        GOVCENTER_REDIS_URL="redis://cache.example:6379/1",
        GOVCENTER_TASKS_URL="redis://cache.example:6379/2",
    )
    assert got["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert got["DATABASES"]["default"]["NAME"] == "govcenter"
    assert got["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert got["HUEY"]["huey_class"] == "huey.RedisHuey" and got["HUEY"]["url"].endswith("/2")
    embedded = _settings_in_subprocess(tmp_path, ["DATABASES", "CACHES", "HUEY"])
    assert embedded["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert embedded["DATABASES"]["default"]["NAME"].startswith(str(tmp_path))
    assert embedded["HUEY"]["huey_class"] == "huey.SqliteHuey" and embedded["HUEY"]["filename"].startswith(str(tmp_path))


# --- headers and cookies in the running app ----------------------------------------------------


@pytest.mark.django_db
def test_security_headers_on_every_response(client):
    for path in ("/healthz", "/api/nothing", "/api/schema/"):
        response = client.get(path)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in response, path  # TLS is off here
        csp = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";") if d.strip())
        assert csp["script-src"] == "'self'", path
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_is_sent_on_secure_requests_when_enabled(client):
    response = client.get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.django_db
@pytest.mark.urls("tests.core.urls_boom")
def test_session_and_csrf_cookies_flags(client):
    response = client.get("/test/session-cookie/")
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert not session["secure"]  # TLS off in tests; see test_tls_switch… for the TLS case
    assert session["max-age"] == "" or int(session["max-age"]) <= 30 * 60  # idle timeout, browser-session cookie
    csrf = response.cookies["csrftoken"]
    assert csrf["samesite"] == "Lax"


@pytest.mark.django_db
@pytest.mark.urls("tests.core.urls_boom")
@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_cookies_are_secure_when_tls_settings_are_on(client):
    response = client.get("/test/session-cookie/", secure=True)
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["csrftoken"]["secure"] is True
