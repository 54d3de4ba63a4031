"""The query builder's API (statistic 10 临时数据统计), under /api/v1/parking/stats/.

* ``POST stats/query`` — a spec → the result (rows ≤ 5,000, the total); every bad spec is a 400
  ``{"code","message","details"}``; too many rows → 400 ``too_large``; too slow → 503
  ``query_timeout`` (both offer ``POST stats/query/exports``);
* ``GET stats/query/whitelist`` — sources, measures, dimensions, filters, limits;
* ``stats/queries`` — saved queries (list / create; ``<id>`` read / patch / delete;
  ``shared/<token>`` — run a shared link's query with the viewer's scope);
* ``stats/areas`` — saved areas; ``stats/schedules`` — scheduled Excel exports;
* ``stats/query/exports`` — background Excel exports (create 202, list, status, ``file``).

Scoped: every run applies the caller's data scope. Permission to run:
``parking.view_dailydistrictstat``; saving needs the model permissions (roles.py).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission

from ..models.stats_query import Cadence, QueryExport, SavedQuery, ScheduledExport, StatArea
from ..services import stats_query as services
from ..stats2 import builder

RUN = "parking.view_dailydistrictstat"
TAGS = ["parking-stats-query"]


from .events import ErrorSerializer  # noqa: E402  one "Error" component in the schema

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="bad spec (see the code)"),
    403: OpenApiResponse(ErrorSerializer),
    404: OpenApiResponse(ErrorSerializer),
}


class QuerySpecSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=list(builder.SOURCES), required=False, default="orders")
    measures = serializers.ListField(child=serializers.CharField())
    dimensions = serializers.ListField(child=serializers.CharField(), required=False)
    window = inline_serializer(
        "ParkingQueryWindow",
        {"start": serializers.DateField(), "end": serializers.DateField()},
        required=False,
    )
    filters = serializers.DictField(
        required=False,
        help_text="district, road, segment, area_class, vehicle_class, hours [from, to], weekdays [1–7], pay_channels",
    )
    area = serializers.DictField(
        required=False,
        allow_null=True,
        help_text='{"kind": "polygon", "polygon": GeoJSON Polygon (GCJ-02)} | {"kind": "segments", "codes": [...]} | {"kind": "saved", "id": N}',
    )
    sort = serializers.DictField(required=False, allow_null=True, help_text='{"by": key, "desc": bool}')


class QueryResultSerializer(serializers.Serializer):
    source = serializers.CharField()
    spec = serializers.DictField()
    window = serializers.DictField()
    area = serializers.DictField(allow_null=True)
    columns = serializers.ListField(child=serializers.DictField())
    rows = serializers.ListField(
        child=serializers.DictField(), help_text="dimension values (+ <dim>_label) and measures"
    )
    total = serializers.DictField()
    row_count = serializers.IntegerField()
    elapsed_ms = serializers.IntegerField()


class _Base(APIView):
    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (RUN,)
    write_permissions = (RUN,)


class QueryView(_Base):
    @extend_schema(
        operation_id="parking_stats_query",
        summary="临时数据统计：运行查询",
        request=QuerySpecSerializer,
        responses={
            200: QueryResultSerializer,
            **ERRORS,
            503: OpenApiResponse(ErrorSerializer, description="query_timeout"),
        },
        tags=TAGS,
    )
    def post(self, request):
        return Response(builder.query(request.user, request.data).as_dict())


class WhitelistView(_Base):
    @extend_schema(
        operation_id="parking_stats_query_whitelist",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="the whitelist: sources, measures, dimensions"
            )
        },
        tags=TAGS,
    )
    def get(self, request):
        return Response(builder.whitelist())


# ------------------------------------------------------------------ saved queries


class SavedQuerySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    share_token = serializers.SerializerMethodField()

    class Meta:
        model = SavedQuery
        fields = ["id", "name", "spec", "shared", "owner", "share_token", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "share_token", "created_at", "updated_at"]

    def get_share_token(self, obj) -> str | None:
        request = self.context.get("request")
        return obj.share_token if request and request.user.pk == obj.owner_id else None


class SavedQueryListView(_Base):
    write_permissions = (RUN, "parking.add_savedquery")

    @extend_schema(
        operation_id="parking_stats_queries_list", responses={200: SavedQuerySerializer(many=True)}, tags=TAGS
    )
    def get(self, request):
        qs = SavedQuery.objects.visible_to(request.user).select_related("owner")
        return Response(SavedQuerySerializer(qs, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="parking_stats_queries_create",
        request=SavedQuerySerializer,
        responses={201: SavedQuerySerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request):
        s = SavedQuerySerializer(data=request.data)
        s.is_valid(raise_exception=True)
        saved = services.saved_query_create(actor=request.user, **s.validated_data)
        return Response(
            SavedQuerySerializer(saved, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class SavedQueryDetailView(_Base):
    write_permissions = (RUN,)

    def _get(self, request, pk):
        return get_object_or_404(SavedQuery.objects.visible_to(request.user), pk=pk)

    @extend_schema(
        operation_id="parking_stats_queries_read", responses={200: SavedQuerySerializer, **ERRORS}, tags=TAGS
    )
    def get(self, request, pk: int):
        return Response(SavedQuerySerializer(self._get(request, pk), context={"request": request}).data)

    @extend_schema(
        operation_id="parking_stats_queries_update",
        request=SavedQuerySerializer,
        responses={200: SavedQuerySerializer, **ERRORS},
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        s = SavedQuerySerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        saved = services.saved_query_update(
            actor=request.user,
            saved=self._get(request, pk),
            new_token=bool(request.data.get("new_token")),
            **s.validated_data,
        )
        return Response(SavedQuerySerializer(saved, context={"request": request}).data)

    @extend_schema(operation_id="parking_stats_queries_delete", responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, pk: int):
        services.saved_query_delete(actor=request.user, saved=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedQueryView(_Base):
    @extend_schema(
        operation_id="parking_stats_queries_shared",
        summary="运行分享链接的查询（使用查看者自己的数据范围）",
        responses={
            200: inline_serializer(
                "ParkingSharedQuery", {"query": SavedQuerySerializer(), "result": QueryResultSerializer()}
            ),
            **ERRORS,
        },
        tags=TAGS,
    )
    def get(self, request, token: str):
        saved = services.saved_query_by_token(viewer=request.user, token=token)
        result = services.saved_query_run(viewer=request.user, saved=saved)
        return Response(
            {
                "query": SavedQuerySerializer(saved, context={"request": request}).data,
                "result": result.as_dict(),
            }
        )


# ------------------------------------------------------------------ areas


class StatAreaSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    segment_codes = serializers.ListField(child=serializers.CharField(), write_only=True, required=False)

    class Meta:
        model = StatArea
        fields = [
            "id",
            "name",
            "kind",
            "polygon",
            "segment_ids",
            "segment_codes",
            "shared",
            "owner",
            "created_at",
        ]
        read_only_fields = ["id", "kind", "segment_ids", "owner", "created_at"]


class StatAreaListView(_Base):
    write_permissions = (RUN, "parking.add_statarea")

    @extend_schema(
        operation_id="parking_stats_areas_list", responses={200: StatAreaSerializer(many=True)}, tags=TAGS
    )
    def get(self, request):
        return Response(
            StatAreaSerializer(
                StatArea.objects.visible_to(request.user).select_related("owner"), many=True
            ).data
        )

    @extend_schema(
        operation_id="parking_stats_areas_create",
        request=StatAreaSerializer,
        responses={201: StatAreaSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request):
        s = StatAreaSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        area = services.area_create(
            actor=request.user,
            name=data["name"],
            polygon=data.get("polygon"),
            segment_codes=data.get("segment_codes"),
            shared=data.get("shared", False),
        )
        return Response(StatAreaSerializer(area).data, status=status.HTTP_201_CREATED)


class StatAreaDetailView(_Base):
    def _get(self, request, pk):
        return get_object_or_404(StatArea.objects.visible_to(request.user), pk=pk)

    @extend_schema(
        operation_id="parking_stats_areas_read", responses={200: StatAreaSerializer, **ERRORS}, tags=TAGS
    )
    def get(self, request, pk: int):
        return Response(StatAreaSerializer(self._get(request, pk)).data)

    @extend_schema(
        operation_id="parking_stats_areas_update",
        request=StatAreaSerializer,
        responses={200: StatAreaSerializer, **ERRORS},
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        area = services.area_update(
            actor=request.user,
            area=self._get(request, pk),
            name=request.data.get("name"),
            shared=request.data.get("shared"),
        )
        return Response(StatAreaSerializer(area).data)

    @extend_schema(operation_id="parking_stats_areas_delete", responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, pk: int):
        services.area_delete(actor=request.user, area=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ exports and schedules


class QueryExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueryExport
        fields = [
            "id",
            "title",
            "spec",
            "status",
            "rows",
            "error_code",
            "error_message",
            "schedule",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ExportCreateSerializer(serializers.Serializer):
    spec = serializers.DictField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=100)


class QueryExportListView(_Base):
    @extend_schema(
        operation_id="parking_stats_query_exports_list",
        responses={200: QueryExportSerializer(many=True)},
        tags=TAGS,
    )
    def get(self, request):
        return Response(
            QueryExportSerializer(QueryExport.objects.filter(user=request.user)[:200], many=True).data
        )

    @extend_schema(
        operation_id="parking_stats_query_exports_create",
        request=ExportCreateSerializer,
        responses={202: QueryExportSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request):
        s = ExportCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        job = services.export_start(
            actor=request.user, spec=s.validated_data["spec"], title=s.validated_data.get("title", "")
        )
        job.refresh_from_db()
        return Response(QueryExportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class QueryExportDetailView(_Base):
    @extend_schema(
        operation_id="parking_stats_query_exports_read",
        responses={200: QueryExportSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        return Response(QueryExportSerializer(get_object_or_404(QueryExport, pk=pk, user=request.user)).data)


class QueryExportFileView(_Base):
    @extend_schema(
        operation_id="parking_stats_query_exports_file",
        responses={(200, services.XLSX): bytes, **ERRORS},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        job = get_object_or_404(QueryExport, pk=pk, user=request.user)
        data, name = services.export_file(actor=request.user, job=job)
        response = HttpResponse(data, content_type=services.XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ScheduleSerializer(serializers.ModelSerializer):
    recipients = serializers.SlugRelatedField(
        slug_field="username",
        many=True,
        required=False,
        queryset=get_user_model().objects.filter(is_active=True),
    )
    cadence = serializers.ChoiceField(choices=Cadence.choices)

    class Meta:
        model = ScheduledExport
        fields = ["id", "query", "cadence", "recipients", "active", "last_run", "next_run"]
        read_only_fields = ["id", "active", "last_run", "next_run"]


class ScheduleListView(_Base):
    write_permissions = (RUN, "parking.add_scheduledexport")

    @extend_schema(
        operation_id="parking_stats_schedules_list", responses={200: ScheduleSerializer(many=True)}, tags=TAGS
    )
    def get(self, request):
        qs = ScheduledExport.objects.filter(owner=request.user).prefetch_related("recipients")
        return Response(ScheduleSerializer(qs, many=True).data)

    @extend_schema(
        operation_id="parking_stats_schedules_create",
        request=ScheduleSerializer,
        responses={201: ScheduleSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request):
        s = ScheduleSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        saved = s.validated_data["query"]
        if not SavedQuery.objects.visible_to(request.user).filter(pk=saved.pk).exists():
            return Response({"code": "unknown_query", "message": "unknown query", "details": {}}, status=404)
        schedule = services.schedule_create(
            actor=request.user,
            saved=saved,
            cadence=s.validated_data["cadence"],
            recipients=s.validated_data.get("recipients", []),
        )
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailView(_Base):
    @extend_schema(operation_id="parking_stats_schedules_delete", responses={204: None, **ERRORS}, tags=TAGS)
    def delete(self, request, pk: int):
        services.schedule_delete(
            actor=request.user, schedule=get_object_or_404(ScheduledExport, pk=pk, owner=request.user)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("stats/query", QueryView.as_view(), name="stats-query"),
    path("stats/query/whitelist", WhitelistView.as_view(), name="stats-query-whitelist"),
    path("stats/query/exports", QueryExportListView.as_view(), name="stats-query-exports"),
    path("stats/query/exports/<int:pk>", QueryExportDetailView.as_view(), name="stats-query-export"),
    path("stats/query/exports/<int:pk>/file", QueryExportFileView.as_view(), name="stats-query-export-file"),
    path("stats/queries", SavedQueryListView.as_view(), name="stats-queries"),
    path("stats/queries/<int:pk>", SavedQueryDetailView.as_view(), name="stats-query-saved"),
    path("stats/queries/shared/<str:token>", SharedQueryView.as_view(), name="stats-query-shared"),
    path("stats/areas", StatAreaListView.as_view(), name="stats-areas"),
    path("stats/areas/<int:pk>", StatAreaDetailView.as_view(), name="stats-area"),
    path("stats/schedules", ScheduleListView.as_view(), name="stats-schedules"),
    path("stats/schedules/<int:pk>", ScheduleDetailView.as_view(), name="stats-schedule"),
]
