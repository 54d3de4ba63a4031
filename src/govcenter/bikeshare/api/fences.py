"""Fence registry API (staff) and the MDS 2.0 Geography API (operators and staff).

Staff (data scope by district; ``bikeshare.view_fence`` to read):

* ``GET /api/v1/bikeshare/fences/`` and ``/fences/{id}/`` — fences (GCJ-02), filters
  ``kind``, ``district`` (id), ``district_code``, ``active_on`` (a date), ``active`` (today);
  the detail carries the geometry and every version;
* ``POST /api/v1/bikeshare/fences/import?datum=WGS-84[&district=110101]`` — body: a GeoJSON
  FeatureCollection in ``datum``; all or nothing, 400 ``invalid_features`` lists every
  feature's problems (``bikeshare.add_fence``);
* ``POST /fences/{id}/revise/?datum=…`` (one-feature collection: a new version) and
  ``POST /fences/{id}/retire/`` (``bikeshare.change_fence``).

MDS Geography (read-only, WGS-84 as MDS requires; ADR 0005): ``GET /api/v1/bikeshare/geographies``
and ``/geographies/{geography_id}``. Callers: an operator signing the request as for the
Agency API (HMAC-SM3 headers, empty body), or staff with ``bikeshare.view_fence`` (their
scope). Each fence version is one immutable geography: a revision publishes a new
``geography_id`` whose ``prev_geographies`` names the old one, which gets a ``retire_date``.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import django_filters
import shapely
from django.db.models import F, OuterRef, Subquery
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission, ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import Datum
from govcenter.core.models import District

from ..geo import convert_geometry
from ..models import Fence, FenceKindChoices, FenceVersion
from ..services.fences import active_q, fence_retire, fence_revise, fences_import
from .agency import SIGNATURE_HEADERS, BikeshareErrorSerializer, authenticate_operator

MDS_VERSION = "2.0.0"
MDS_CONTENT_TYPE = "application/vnd.mds+json;version=2.0"


class RawGeoJSONParser(BaseParser):
    """Leaves the body to ``parse_fences`` (which reports bad JSON as a file error)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class FenceFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FenceKindChoices.choices)
    district_code = django_filters.CharFilter(field_name="district__code")
    active_on = django_filters.DateFilter(method="filter_active_on", help_text="in force on this date")
    active = django_filters.BooleanFilter(method="filter_active", help_text="in force today (true) or not")

    class Meta:
        model = Fence
        fields = ["kind", "district", "district_code", "active_on", "active"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(active_q(value)) if value else queryset

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        q = active_q(timezone.localdate())
        return queryset.filter(q) if value else queryset.exclude(q)


KIND_HELP = "parking (停放区), no_parking (禁停区) or rail_station (轨道站点)"
DATUM_HELP = "the datum the fence was sent in: WGS-84, GCJ-02 or BD-09 (stored in GCJ-02)"


class FenceSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)
    source_datum = serializers.CharField(read_only=True, help_text=DATUM_HELP)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    district_code = serializers.CharField(source="district.code", read_only=True)
    bbox = serializers.SerializerMethodField(help_text="[min_lon, min_lat, max_lon, max_lat], GCJ-02")

    class Meta:
        model = Fence
        fields = ["id", "uuid", "name", "kind", "kind_label", "station", "district", "district_code",
                  "version", "source_datum", "valid_from", "valid_to", "retired_at", "created_at",
                  "updated_at", "bbox"]  # fmt: skip
        read_only_fields = fields

    def get_bbox(self, obj) -> list[float]:
        return [obj.min_lon, obj.min_lat, obj.max_lon, obj.max_lat]


class FenceVersionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=KIND_HELP)
    source_datum = serializers.CharField(read_only=True, help_text=DATUM_HELP)

    class Meta:
        model = FenceVersion
        fields = ["version", "uuid", "name", "kind", "station", "geometry", "source_datum", "valid_from",
                  "valid_to", "created_by", "created_at"]  # fmt: skip
        read_only_fields = fields


class FenceDetailSerializer(FenceSerializer):
    geometry = serializers.JSONField(read_only=True, help_text="GeoJSON geometry, GCJ-02")
    versions = FenceVersionSerializer(many=True, read_only=True)

    class Meta(FenceSerializer.Meta):
        fields = [*FenceSerializer.Meta.fields, "geometry", "versions"]
        read_only_fields = fields


class FenceImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    fences = serializers.ListField(child=serializers.UUIDField())


class FenceRetireSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


DATUM_PARAM = OpenApiParameter(
    "datum",
    str,
    required=True,
    enum=[d.value for d in Datum],
    description="datum of every coordinate in the body",
)
GEOJSON_BODY = {"application/json": {"type": "object", "description": "GeoJSON FeatureCollection"}}


def _datum(request) -> str:
    datum = request.query_params.get("datum", "")
    if not datum:
        raise ServiceError(
            "the query parameter datum is required", code="missing_datum", details={"datum": ["required"]}
        )
    return datum


class FenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Electronic fences (电子围栏) in the caller's districts."""

    queryset = Fence.objects.all()
    serializer_class = FenceSerializer
    filterset_class = FenceFilterSet
    ordering_fields = ["name", "created_at", "valid_from"]
    ordering = ["district", "kind", "name", "id"]
    read_permissions = ("bikeshare.view_fence",)
    write_permissions = ("bikeshare.change_fence",)

    def get_serializer_class(self):
        return FenceDetailSerializer if self.action == "retrieve" else FenceSerializer

    def scoped_queryset(self, queryset):
        queryset = queryset.select_related("district")
        if self.action == "retrieve":
            return queryset.prefetch_related("versions")
        return queryset.defer("geometry")

    @extend_schema(
        operation_id="bikeshare_fences_revise",
        parameters=[DATUM_PARAM],
        request=GEOJSON_BODY,
        responses={
            200: FenceDetailSerializer,
            400: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
            404: BikeshareErrorSerializer,
            409: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    @action(detail=True, methods=["post"], parser_classes=[RawGeoJSONParser])
    def revise(self, request, pk=None):
        """Replace the fence's shape with a one-feature file: a new version (the old one is kept)."""
        fence = fence_revise(request.user, self.get_object(), request.body, _datum(request))
        fence = self.get_queryset().prefetch_related("versions").get(pk=fence.pk)
        return Response(FenceDetailSerializer(fence).data)

    @extend_schema(
        operation_id="bikeshare_fences_retire",
        request=FenceRetireSerializer,
        responses={200: FenceSerializer, 403: BikeshareErrorSerializer, 404: BikeshareErrorSerializer},
        tags=["bikeshare"],
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Retire the fence (it stops applying today; idempotent)."""
        body = FenceRetireSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fence = fence_retire(request.user, self.get_object(), body.validated_data.get("reason", ""))
        return Response(FenceSerializer(fence).data)


class FenceImportView(APIView):
    """Import a GeoJSON FeatureCollection of fences: all or nothing."""

    parser_classes = [RawGeoJSONParser]
    write_permissions = ("bikeshare.add_fence",)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_fences_import",
        parameters=[
            DATUM_PARAM,
            OpenApiParameter("district", str, description="GB/T 2260 code: every fence must lie in it"),
        ],
        request=GEOJSON_BODY,
        responses={
            201: FenceImportResultSerializer,
            400: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def post(self, request):
        district = None
        code = request.query_params.get("district")
        if code:
            district = get_object_or_404(District.objects.restrict(request.user), code=code)
        fences = fences_import(request.user, request.body, _datum(request), district=district)
        return Response(
            {"created": len(fences), "fences": [str(f.uuid) for f in fences]}, status=status.HTTP_201_CREATED
        )


# ------------------------------------------------------------------------------------------
# MDS 2.0 Geography
# ------------------------------------------------------------------------------------------


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


GEOGRAPHY_FIELDS = ("uuid", "version", "name", "kind", "station", "geometry", "valid_from", "valid_to",
                    "created_at", "fence__uuid", "fence__retired_at", "fence__district__code",
                    "fence__district__name_zh", "prev_uuid", "successor_created_at")  # fmt: skip


def geography_rows(versions) -> list[dict]:
    """Plain rows of a FenceVersion queryset with what an MDS geography needs (one query)."""
    siblings = FenceVersion.objects.filter(fence=OuterRef("fence"))
    return list(
        versions.annotate(
            prev_uuid=Subquery(siblings.filter(version=OuterRef("version") - 1).values("uuid")[:1]),
            successor_created_at=Subquery(
                siblings.filter(version=OuterRef("version") + 1).values("created_at")[:1]
            ),
        )
        .order_by("fence_id", "version")
        .values(*GEOGRAPHY_FIELDS)
    )


def mds_geographies(rows: list[dict]) -> list[dict]:
    """MDS Geography objects (WGS-84) of :func:`geography_rows` rows.

    All polygons are converted in one vectorised call (the iterative GCJ-02 → WGS-84 inverse).
    A replaced version retires when its successor was published; a fence retires when it was
    retired or the day after its ``valid_to``.
    """
    if not rows:
        return []
    stored = shapely.from_geojson([json.dumps(r["geometry"]) for r in rows])
    converted = shapely.to_geojson(convert_geometry(stored, Datum.GCJ02, Datum.WGS84))
    labels = {value: str(label) for value, label in FenceKindChoices.choices}
    out = []
    for row, geometry in zip(rows, converted.tolist(), strict=True):
        retire = [m for m in (
            row["successor_created_at"],
            row["fence__retired_at"],
            _day_start(row["valid_to"] + timedelta(days=1)) if row["valid_to"] else None,
        ) if m is not None]  # fmt: skip
        properties = {"name": row["name"], "kind": row["kind"], "district": row["fence__district__code"],
                      "fence_id": str(row["fence__uuid"]), "version": row["version"]}  # fmt: skip
        if row["station"]:
            properties["station"] = row["station"]
        geography = {
            "name": row["name"],
            "description": f"{labels.get(row['kind'], row['kind'])}（{row['fence__district__name_zh']}）",
            "geography_id": str(row["uuid"]),
            "geography_json": {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": json.loads(geometry), "properties": properties}],
            },
            "effective_date": _ms(_day_start(row["valid_from"]) if row["valid_from"] else row["created_at"]),
            "published_date": _ms(row["created_at"]),
            "retire_date": _ms(min(retire)) if retire else None,
            "prev_geographies": [str(row["prev_uuid"])] if row["prev_uuid"] else None,
        }
        out.append({k: v for k, v in geography.items() if v is not None})
    return out


class MdsGeographySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(required=False)
    geography_id = serializers.UUIDField()
    geography_json = serializers.JSONField(help_text="GeoJSON FeatureCollection, WGS-84")
    effective_date = serializers.IntegerField(required=False, help_text="ms since the epoch")
    published_date = serializers.IntegerField(help_text="ms since the epoch")
    retire_date = serializers.IntegerField(required=False, help_text="ms since the epoch")
    prev_geographies = serializers.ListField(child=serializers.UUIDField(), required=False)


class MdsGeographiesSerializer(serializers.Serializer):
    version = serializers.CharField()
    geographies = MdsGeographySerializer(many=True)


class MdsGeographyResponseSerializer(serializers.Serializer):
    version = serializers.CharField()
    geography = MdsGeographySerializer()


class _MdsGeographyBase(APIView):
    """Signed operator requests or staff with ``bikeshare.view_fence``."""

    permission_classes = [AllowAny]  # checked in :meth:`visible_fences`

    def visible_fences(self, request):
        if request.META.get("HTTP_X_OPERATOR_KEY"):
            authenticate_operator(request._request)
            return Fence.objects.all()
        user = request.user
        if not (user and user.is_authenticated):
            raise NotAuthenticated()
        if not user.has_perm("bikeshare.view_fence"):
            raise PermissionDenied()
        return Fence.objects.restrict(user)

    def mds(self, data, status_code=200) -> Response:
        return Response(data, status=status_code, content_type=MDS_CONTENT_TYPE)


class MdsGeographiesView(_MdsGeographyBase):
    """All geographies in force or to come (current versions of fences not retired or expired)."""

    @extend_schema(
        operation_id="bikeshare_mds_geographies_list",
        parameters=[
            *SIGNATURE_HEADERS,
            OpenApiParameter("district", str, description="GB/T 2260 code: only this district's fences"),
            OpenApiParameter("kind", str, enum=[k for k, _l in FenceKindChoices.choices]),
        ],
        responses={
            200: MdsGeographiesSerializer,
            401: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def get(self, request):
        fences = (
            self.visible_fences(request)
            .filter(retired_at__isnull=True)
            .exclude(valid_to__lt=timezone.localdate())
        )
        if request.query_params.get("district"):
            fences = fences.filter(district__code=request.query_params["district"])
        if request.query_params.get("kind"):
            fences = fences.filter(kind=request.query_params["kind"])
        current = FenceVersion.objects.filter(fence__in=fences.values("pk"), version=F("fence__version"))
        return self.mds({"version": MDS_VERSION, "geographies": mds_geographies(geography_rows(current))})


class MdsGeographyView(_MdsGeographyBase):
    """One geography: any version of a fence, current or replaced."""

    @extend_schema(
        operation_id="bikeshare_mds_geographies_retrieve",
        parameters=[
            *SIGNATURE_HEADERS,
            OpenApiParameter("geography_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            200: MdsGeographyResponseSerializer,
            401: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
            404: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def get(self, request, geography_id):
        fences = self.visible_fences(request)
        rows = geography_rows(FenceVersion.objects.filter(fence__in=fences.values("pk"), uuid=geography_id))
        if not rows:
            raise NotFound()
        return self.mds({"version": MDS_VERSION, "geography": mds_geographies(rows)[0]})


def register(router) -> None:
    router.register("fences", FenceViewSet, basename="fence")


urlpatterns = [
    path("fences/import", FenceImportView.as_view(), name="bikeshare-fences-import"),
    path("geographies", MdsGeographiesView.as_view(), name="bikeshare-mds-geographies"),
    path("geographies/<uuid:geography_id>", MdsGeographyView.as_view(), name="bikeshare-mds-geography"),
]
