"""GBFS 3.0 published by the platform (public, no authentication, like any GBFS feed).

``GET /api/v1/bikeshare/gbfs/manifest.json`` lists every system; each system's feeds are at
``/api/v1/bikeshare/gbfs/{system_id}/{feed}.json`` (``gbfs``, ``system_information``,
``vehicle_types``, ``vehicle_status``, ``geofencing_zones``, ``system_regions``). An unknown
system or feed is a 404 ``{"code","message","details"}``. ``Cache-Control: max-age`` = the
feed's ttl. See services/gbfs_publish.py for what is published.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..services import gbfs_publish
from .agency import BikeshareErrorSerializer


def _base_url(request) -> str:
    return request.build_absolute_uri("/api/v1/bikeshare/gbfs").rstrip("/")


def _respond(data: dict) -> Response:
    response = Response(data)
    response["Cache-Control"] = f"public, max-age={data.get('ttl', gbfs_publish.TTL_SECONDS)}"
    return response


class GbfsManifestView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="bikeshare_gbfs_manifest", responses={200: OpenApiTypes.OBJECT}, auth=[],
                   tags=["bikeshare"])
    def get(self, request):
        return _respond(gbfs_publish.manifest_feed(base_url=_base_url(request)))


class GbfsFeedView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="bikeshare_gbfs_feed",
                   responses={200: OpenApiTypes.OBJECT, 404: BikeshareErrorSerializer}, auth=[],
                   tags=["bikeshare"])
    def get(self, request, system_id: str, feed: str):
        return _respond(gbfs_publish.cached_feed(system_id, feed, base_url=_base_url(request)))


urlpatterns = [
    path("gbfs/manifest.json", GbfsManifestView.as_view(), name="bikeshare-gbfs-manifest"),
    path("gbfs/<str:system_id>/<str:feed>.json", GbfsFeedView.as_view(), name="bikeshare-gbfs-feed"),
]
