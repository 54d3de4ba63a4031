"""The real URLconf plus test-only API views that fail in every way an API can fail."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from govcenter.core.api.errors import ServiceError
from govcenter.urls import handler400, handler403, handler404, handler500  # noqa: F401
from govcenter.urls import urlpatterns as real_urlpatterns


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    count = serializers.IntegerField(min_value=1)


@api_view(["GET", "POST"])
def echo(request):
    if request.method == "GET":
        return Response({"ok": True})
    serializer = EchoSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response(serializer.validated_data, status=201)


@api_view(["GET"])
def boom(request):
    raise RuntimeError("boom: a bug in a view")


@api_view(["GET"])
def refused(request):
    raise ServiceError("Closed on holidays.", code="calendar_closed", status=409, details={"date": "2025-10-01"})


@api_view(["GET"])
def django_invalid(request):
    raise DjangoValidationError({"plate": ["bad plate"]})


@api_view(["GET"])
def missing(request):
    raise Http404("no such thing")


@api_view(["GET"])
@permission_classes([permissions.IsAdminUser])
def admins_only(request):
    return Response({"ok": True})


def plain_boom(request):
    """A plain Django view (no DRF) under /api/: its crash must still leave as JSON."""
    raise ValueError("plain boom")


def plain_post(request):
    """A plain Django view: CsrfViewMiddleware guards it (no DRF csrf_exempt)."""
    return JsonResponse({"ok": True})


def session_cookie(request):
    """Sets the session and CSRF cookies so their flags can be checked."""
    request.session["seen"] = True
    get_token(request)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/v1/test/echo/", echo, name="test-echo"),
    path("api/v1/test/boom/", boom, name="test-boom"),
    path("api/v1/test/refused/", refused, name="test-refused"),
    path("api/v1/test/django-invalid/", django_invalid, name="test-django-invalid"),
    path("api/v1/test/missing/", missing, name="test-missing"),
    path("api/v1/test/admins/", admins_only, name="test-admins"),
    path("api/v1/test/plain-boom/", plain_boom, name="test-plain-boom"),
    path("api/v1/test/plain-post/", plain_post, name="test-plain-post"),
    path("test/session-cookie/", session_cookie, name="test-session-cookie"),
    *real_urlpatterns,
]
