"""Statistics 12 and 14 and the custom events behind 12.

* ``GET /api/v1/parking/stats/compare`` — 重大活动节假日数据统计: a period (dates, a holiday of
  the calendar, or a custom event) of any statistic against a baseline
  (:mod:`govcenter.parking.stats2.compare`; the numbers of the page ``/parking/stats/compare/``);
* ``GET /api/v1/parking/stats/holidays?year=`` — the statutory holidays of a year (dates, 调休);
* ``GET /api/v1/parking/stats/district/<id>`` — 各区数据专题统计 (:mod:`…stats2.district`):
  a district's KPIs and ranks (a caller without a city-wide scope gets rank positions only);
* ``/api/v1/parking/stats/events`` (GET list, POST) and ``…/events/<id>`` (GET, PUT, DELETE) —
  the custom events (:mod:`…stats2.events`, audited).

Scoped; bad input is 400 ``{"code","message","details"}``.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District

from ..stats2.compare import BASELINES, _year, compare, holiday_periods
from ..stats2.district import district_in_scope, district_report, window
from ..stats2.events import (
    editable_events,
    stat_event_create,
    stat_event_delete,
    stat_event_update,
    visible_events,
)
from ..stats2.sources import ORDERS_PERMISSION

COMPARE_PARAMETERS = [
    OpenApiParameter(
        "statistic", str, description="Statistic slug: orders or a registered one (default orders)"
    ),
    OpenApiParameter("start", OpenApiTypes.DATE, description="Period: first Beijing date"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Period: last Beijing date, inclusive"),
    OpenApiParameter("holiday", str, description="Period: a holiday key of the calendar (e.g. national_day)"),
    OpenApiParameter("year", int, description="The holiday's year (default: this year)"),
    OpenApiParameter("event", int, description="Period: a custom event id"),
    OpenApiParameter("baseline", str, enum=list(BASELINES), description="Baseline kind (default previous)"),
    OpenApiParameter("baseline_start", OpenApiTypes.DATE, description="Custom baseline: first date"),
    OpenApiParameter("baseline_end", OpenApiTypes.DATE, description="Custom baseline: last date"),
    OpenApiParameter("district", int, description="District id"),
    OpenApiParameter("road", int, description="Road id"),
    OpenApiParameter("segment", int, description="Segment id"),
    OpenApiParameter("area_class", int, enum=[1, 2, 3], description="Area class"),
    OpenApiParameter("vehicle_class", str, enum=["small", "large"], description="Vehicle class"),
]

_VALUE = {
    "period": serializers.FloatField(allow_null=True),
    "baseline": serializers.FloatField(allow_null=True),
    "change": serializers.FloatField(allow_null=True),
    "change_pct": serializers.FloatField(allow_null=True, help_text="change / baseline"),
    "daily_average": serializers.BooleanField(help_text="compared as daily averages"),
}
_WINDOW = inline_serializer(
    "ParkingStatsCompareWindow",
    {
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "days": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "label": serializers.CharField(),
    },
)
COMPARE_RESPONSE = inline_serializer(
    "ParkingStatsCompare",
    {
        "statistic": serializers.CharField(),
        "title": serializers.CharField(),
        "filters": serializers.DictField(),
        "period": _WINDOW,
        "baseline": _WINDOW,
        "basis": serializers.ChoiceField(choices=["total", "daily_average"]),
        "holiday": serializers.DictField(allow_null=True),
        "event": serializers.IntegerField(allow_null=True),
        "measures": inline_serializer(
            "ParkingStatsCompareMeasure",
            {
                "key": serializers.CharField(),
                "label": serializers.CharField(),
                "unit": serializers.CharField(),
                **_VALUE,
            },
            many=True,
        ),
        "daily": serializers.ListField(child=serializers.DictField(), help_text="day 1..N of both windows"),
        "level": serializers.CharField(allow_null=True),
        "rows": serializers.ListField(child=serializers.DictField(), help_text="per place: KPI comparisons"),
    },
)


class StatsCompareView(APIView):
    """重大活动节假日数据统计: a period against a baseline, any statistic."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (ORDERS_PERMISSION,)

    @extend_schema(
        operation_id="parking_stats_compare",
        summary="重大活动节假日数据统计",
        parameters=COMPARE_PARAMETERS,
        responses=COMPARE_RESPONSE,
        tags=["parking-stats"],
    )
    def get(self, request):
        return Response(compare(request.user, request.query_params).as_dict())


class StatsHolidaysView(APIView):
    """The statutory holidays of a year from the working calendar (one-click periods)."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (ORDERS_PERMISSION,)

    @extend_schema(
        operation_id="parking_stats_holidays",
        parameters=[OpenApiParameter("year", int, description="Year (default: this year)")],
        responses=inline_serializer(
            "ParkingStatsHolidays",
            {
                "year": serializers.IntegerField(),
                "holidays": serializers.ListField(child=serializers.DictField()),
            },
        ),
        tags=["parking-stats"],
    )
    def get(self, request):
        from django.utils import timezone

        year = _year(request.query_params.get("year"), timezone.localdate().year)
        return Response({"year": year, "holidays": [p.as_dict() for p in holiday_periods(year)]})


class StatsDistrictView(APIView):
    """各区数据专题统计: one district's KPIs and ranks across every statistic."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (ORDERS_PERMISSION,)

    @extend_schema(
        operation_id="parking_stats_district",
        parameters=[
            OpenApiParameter(
                "start", OpenApiTypes.DATE, description="First Beijing date (default: end − 6 days)"
            ),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last Beijing date (default: yesterday)"),
        ],
        responses=inline_serializer(
            "ParkingStatsDistrict",
            {
                "district": serializers.DictField(),
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "full_ranking": serializers.BooleanField(help_text="the caller sees every district's values"),
                "statistics": serializers.ListField(child=serializers.DictField()),
            },
        ),
        tags=["parking-stats"],
    )
    def get(self, request, district_id: int):
        district = district_in_scope(request.user, district_id)
        start, end = window(request.query_params)
        return Response(district_report(request.user, district, start, end).as_dict())


class StatEventSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    start = serializers.DateField()
    end = serializers.DateField()
    district = serializers.IntegerField(allow_null=True, required=False, source="district_id")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    created_by = serializers.CharField(read_only=True, source="created_by.username", default=None)


def _district(user, raw) -> District | None:
    if raw in (None, ""):
        return None
    return district_in_scope(user, raw)


def _input(request) -> dict:
    ser = StatEventSerializer(data=request.data)
    if not ser.is_valid():
        raise ServiceError("请求参数无效。", code="invalid", details=ser.errors)
    data = ser.validated_data
    return {
        "name": data["name"],
        "start": data["start"],
        "end": data["end"],
        "district": _district(request.user, data.get("district_id")),
        "note": data.get("note", ""),
    }


class StatEventListView(APIView):
    """Custom events in the caller's scope; POST registers one (audited)."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = ("parking.view_statevent",)
    write_permissions = ("parking.add_statevent",)

    @extend_schema(
        operation_id="parking_stats_events_list",
        responses=StatEventSerializer(many=True),
        tags=["parking-stats"],
    )
    def get(self, request):
        events = visible_events(request.user).select_related("created_by")
        return Response(StatEventSerializer(events, many=True).data)

    @extend_schema(
        operation_id="parking_stats_events_create",
        request=StatEventSerializer,
        responses={201: StatEventSerializer},
        tags=["parking-stats"],
    )
    def post(self, request):
        event = stat_event_create(user=request.user, **_input(request))
        return Response(StatEventSerializer(event).data, status=201)


class StatEventDetailView(APIView):
    """One custom event: read, replace, delete (writes audited; only the caller's editable events)."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = ("parking.view_statevent",)
    write_permissions = ("parking.change_statevent",)

    def _get(self, request, pk, qs):
        from django.http import Http404

        event = qs.filter(pk=pk).select_related("created_by").first()
        if event is None:
            raise Http404
        return event

    @extend_schema(
        operation_id="parking_stats_events_read", responses=StatEventSerializer, tags=["parking-stats"]
    )
    def get(self, request, pk: int):
        return Response(StatEventSerializer(self._get(request, pk, visible_events(request.user))).data)

    @extend_schema(
        operation_id="parking_stats_events_update",
        request=StatEventSerializer,
        responses=StatEventSerializer,
        tags=["parking-stats"],
    )
    def put(self, request, pk: int):
        event = self._get(request, pk, editable_events(request.user))
        event = stat_event_update(user=request.user, event=event, **_input(request))
        return Response(StatEventSerializer(event).data)

    @extend_schema(operation_id="parking_stats_events_delete", responses={204: None}, tags=["parking-stats"])
    def delete(self, request, pk: int):
        if not request.user.has_perm("parking.delete_statevent"):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied
        event = self._get(request, pk, editable_events(request.user))
        stat_event_delete(user=request.user, event=event)
        return Response(status=204)


urlpatterns = [
    path("stats/compare", StatsCompareView.as_view(), name="stats-compare"),
    path("stats/holidays", StatsHolidaysView.as_view(), name="stats-holidays"),
    path("stats/district/<int:district_id>", StatsDistrictView.as_view(), name="stats-district"),
    path("stats/events", StatEventListView.as_view(), name="stats-events"),
    path("stats/events/<int:pk>", StatEventDetailView.as_view(), name="stats-event"),
]
