"""Request-wide middleware: context for audit and logs, password expiry, API errors."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation

from . import context

logger = logging.getLogger("govcenter.request")
access_logger = logging.getLogger("govcenter.access")
# Probes and scrapes every few seconds would drown the access log: logged at DEBUG.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address; X-Forwarded-For is trusted only behind our own proxy."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class RequestContextMiddleware:
    """Gives every request an id (honouring a sane X-Request-ID) and a context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        channel = "api" if is_api_path(request.path) else "web"
        token = context.set_context(context.RequestContext(request_id=request_id, ip=client_ip(request), channel=channel))
        start = time.perf_counter()
        try:
            response = self.get_response(request)
            # One structured access line per request, inside the context so it carries the ids.
            access_logger.log(
                logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                    "ip": context.current().ip,
                    "channel": context.current().channel,
                },
            )
        finally:
            context.reset_context(token)
        response["X-Request-ID"] = request_id
        return response


class AuthenticatedContextMiddleware:
    """Once auth has run, names the user (and unit) in the request context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context.set_context(context.context_for_user(user))
        return self.get_response(request)


class PasswordExpiryMiddleware:
    """Staff whose password is older than the limit (or flagged) must change it first."""

    ALLOWED = ("/accounts/", "/i18n/", "/static/", "/healthz", "/readyz", "/metrics")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(self.ALLOWED)
            and password_expired(user)
        ):
            if is_api_path(request.path):
                return JsonResponse(
                    {"code": "password_expired", "message": "Password expired; change it before continuing.", "details": {}},
                    status=403,
                )
            return redirect(reverse("core:password_change"))
        return self.get_response(request)


def password_expired(user) -> bool:
    if user.must_change_password:
        return True
    max_age = settings.GOVCENTER_PASSWORD_MAX_AGE_DAYS
    if not max_age or user.password_changed_at is None:
        return False
    return (timezone.now() - user.password_changed_at).days >= max_age


class ApiErrorMiddleware:
    """Every 4xx/5xx on an API path leaves as ``{"code","message","details"}``.

    DRF's exception handler shapes errors raised inside API views; this catches the
    rest — unknown URLs (404), CSRF failures, unhandled exceptions (500), errors raised
    by other middleware (a bad Host header, 400) — so an API client never gets an HTML
    error page. It sits right after RequestContextMiddleware so every response passes it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = api_error_response(response.status_code)
        # Keep what the other layers said (Allow, WWW-Authenticate, security headers, cookies).
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement[header] = value
        replacement.cookies = response.cookies
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not is_api_path(request.path):
            return None
        logger.exception("unhandled API error", extra={"path": request.path})
        return api_error_response(500)


_DEFAULT_MESSAGES = {
    400: ("bad_request", "The request is malformed."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "Request body too large."),
    429: ("throttled", "Too many requests."),
    500: ("server_error", "Internal server error."),
}


def api_error_response(status: int, code: str | None = None, message: str | None = None, details=None) -> JsonResponse:
    default_code, default_message = _DEFAULT_MESSAGES.get(status, ("error" if status < 500 else "server_error", "Error."))
    return JsonResponse(
        {"code": code or default_code, "message": message or default_message, "details": details or {}}, status=status
    )


class LocaleMiddleware(DjangoLocaleMiddleware):
    """中文 by default whatever the browser says; the 中文/English switch (cookie) decides.

    Django's own middleware follows Accept-Language, which would show English to staff
    whose browsers happen to be set to English. API clients may still ask by header.
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if not chosen and is_api_path(request.path):
            chosen = translation.get_language_from_request(request)
        try:
            language = translation.get_supported_language_variant(chosen) if chosen else settings.LANGUAGE_CODE
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
