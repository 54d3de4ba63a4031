"""/healthz (the process answers), /readyz (its dependencies answer), /metrics (Prometheus).

Readiness runs every registered check and reports each with its detail and duration;
any failing check makes the answer 503, so a load balancer takes the instance out.
Modules that bring a dependency (a stream broker, say) add a check with
:func:`register_check` from their AppConfig.ready().

/metrics is for the Prometheus scraper only: it answers callers on the loopback
interface, or anyone presenting ``Authorization: Bearer <GOVCENTER_METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ..middleware import client_ip

_CHECKS: dict[str, Callable[[], str]] = {}


def register_check(name: str, check: Callable[[], str]) -> None:
    """Add a readiness check: a callable returning a short detail, raising when not ready."""
    _CHECKS[name] = check


@require_GET
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _timed(check: Callable[[], str]) -> dict:
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # noqa: BLE001 — any failure makes the check red, with its reason
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return connection.vendor


def check_cache() -> str:
    key = "govcenter:readyz"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def check_task_queue() -> str:
    """The Huey storage answers (SQLite file, or the Redis broker at scale)."""
    from huey.contrib.djhuey import HUEY

    pending = HUEY.storage.queue_size()
    return f"{type(HUEY).__name__}, {pending} pending"


register_check("database", check_database)
register_check("cache", check_cache)
register_check("task_queue", check_task_queue)


@require_GET
@never_cache
def readyz(request):
    checks = {name: _timed(check) for name, check in _CHECKS.items()}
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


def metrics_allowed(request) -> bool:
    """Loopback callers, or the bearer token of GOVCENTER_METRICS_TOKEN when it is set."""
    token = settings.GOVCENTER_METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    try:
        return ipaddress.ip_address(client_ip(request) or "").is_loopback
    except ValueError:
        return False


@require_GET
@never_cache
def metrics(request):
    if not metrics_allowed(request):
        return JsonResponse(
            {"code": "permission_denied", "message": "Metrics are served to loopback or with the metrics token.", "details": {}},
            status=403,
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
