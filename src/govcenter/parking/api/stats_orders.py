"""``GET /api/v1/parking/stats/orders`` — 订单情况统计 from the lake (parking/stats2/orders.py).

The same numbers as the page ``/parking/stats/orders/`` and its Excel export: one service
function. Scoped (a district manager sees only their district); bad windows, dates, unknown
or out-of-scope districts/roads/segments and area classes are 400 ``{"code","message","details"}``.
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

from ..lake.sync import lake_status
from ..stats2.orders import as_dict, order_stats, parse_query

PERM = "parking.view_dailydistrictstat"

PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First Beijing date (default: end − 6 days)"),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Last Beijing date, inclusive (default: yesterday)"
    ),
    OpenApiParameter("district", int, description="District id (drill: its roads)"),
    OpenApiParameter("road", int, description="Road id (drill: its segments)"),
    OpenApiParameter("segment", int, description="Segment id"),
    OpenApiParameter("area_class", int, enum=[1, 2, 3], description="Area class (地区类别)"),
]

_MEASURES = {
    "orders": serializers.IntegerField(),
    "completed": serializers.IntegerField(),
    "dwell_seconds": serializers.IntegerField(),
    "due_fen": serializers.IntegerField(),
    "paid_fen": serializers.IntegerField(),
    "adjustment_fen": serializers.IntegerField(),
    "day_orders": serializers.IntegerField(),
    "night_orders": serializers.IntegerField(),
    "spaces": serializers.IntegerField(),
    "turnover": serializers.FloatField(allow_null=True),
    "average_minutes": serializers.FloatField(allow_null=True),
}

RESPONSE = inline_serializer(
    "ParkingOrderStats",
    {
        "filters": inline_serializer(
            "ParkingOrderStatsFilters",
            {
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "district": serializers.IntegerField(allow_null=True),
                "road": serializers.IntegerField(allow_null=True),
                "segment": serializers.IntegerField(allow_null=True),
                "area_class": serializers.IntegerField(allow_null=True),
            },
        ),
        "level": serializers.CharField(
            allow_null=True, help_text="district | road | segment; null below a segment"
        ),
        "total": inline_serializer("ParkingOrderStatsMeasures", _MEASURES),
        "rows": inline_serializer(
            "ParkingOrderStatsRow",
            {
                "id": serializers.IntegerField(),
                "code": serializers.CharField(),
                "name": serializers.CharField(),
                **_MEASURES,
            },
            many=True,
        ),
        "duration": inline_serializer(
            "ParkingOrderStatsDuration",
            {"bucket": serializers.CharField(), "orders": serializers.IntegerField()},
            many=True,
        ),
        "by_hour": inline_serializer(
            "ParkingOrderStatsHour",
            {
                "hour": serializers.IntegerField(),
                "orders": serializers.IntegerField(),
                "occupied_seconds": serializers.IntegerField(),
                "occupancy": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
    },
)


class OrderStatsView(APIView):
    """Orders statistic: totals, the next drill level's rows, duration buckets, by hour (from the lake)."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (PERM,)

    @extend_schema(parameters=PARAMETERS, responses=RESPONSE)
    def get(self, request):
        query = parse_query(request.user, request.query_params)
        return Response(as_dict(order_stats(request.user, query)))


LAKE_STATUS = inline_serializer(
    "ParkingLakeStatus",
    {
        "dataset": serializers.CharField(),
        "watermark": serializers.DateTimeField(allow_null=True, help_text="newest updated_at exported"),
        "lag_seconds": serializers.IntegerField(allow_null=True, help_text="now − watermark"),
        "rows": serializers.IntegerField(),
        "partitions": serializers.IntegerField(),
        "last_run": serializers.DateTimeField(allow_null=True),
        "last_result": serializers.DictField(allow_null=True),
    },
    many=True,
)


class LakeStatusView(APIView):
    """Data monitoring: per parking data set of the lake its watermark, lag, rows and last run."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (PERM,)

    @extend_schema(responses=LAKE_STATUS)
    def get(self, request):
        return Response(lake_status())


urlpatterns = [
    path("stats/orders", OrderStatsView.as_view(), name="stats-orders"),
    path("lake/status", LakeStatusView.as_view(), name="lake-status"),
]
