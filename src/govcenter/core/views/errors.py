"""Error pages: JSON on API paths (one body for every error), a shell page elsewhere."""

from __future__ import annotations

from django.shortcuts import render

from ..middleware import api_error_response, is_api_path


def _respond(request, status: int, template: str):
    if is_api_path(request.path):
        return api_error_response(status)
    return render(request, template, status=status)


def bad_request(request, exception=None):
    return _respond(request, 400, "core/errors/400.html")


def permission_denied(request, exception=None):
    return _respond(request, 403, "core/errors/403.html")


def page_not_found(request, exception=None):
    return _respond(request, 404, "core/errors/404.html")


def server_error(request):
    return _respond(request, 500, "core/errors/500.html")
