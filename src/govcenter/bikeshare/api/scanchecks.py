"""Scan verification API (扫码核查).

* ``POST /api/v1/bikeshare/scan-checks`` — record a check (``bikeshare.add_scancheck``);
  the position is given in ``datum`` (default WGS-84) and stored in GCJ-02. ``client_ref``
  makes a retry return the first check (200 instead of 201).
* ``GET /api/v1/bikeshare/scan-checks`` — checks in the caller's scope
  (``bikeshare.view_scancheck``), filterable by operator, district, result, date range.
* ``GET /api/v1/bikeshare/scan-checks/stats?from=&to=&group_by=`` — counts per operator,
  district, inspector or result with the share of unregistered bikes.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission, ScopedViewSet

from ..models.scanchecks import PROBLEMS, ScanCheck, ScanResult
from ..services import scanchecks as services
from .agency import BikeshareErrorSerializer
from .params import query_date


class ScanCheckFilterSet(django_filters.FilterSet):
    result = django_filters.ChoiceFilter(choices=ScanResult.choices)
    checked_from = django_filters.IsoDateTimeFilter(field_name="checked_at", lookup_expr="gte")
    checked_to = django_filters.IsoDateTimeFilter(field_name="checked_at", lookup_expr="lt")
    unregistered = django_filters.BooleanFilter(field_name="vehicle", lookup_expr="isnull")

    class Meta:
        model = ScanCheck
        fields = ["operator", "district", "inspector", "result", "vehicle_code"]


class ScanCheckSerializer(serializers.ModelSerializer):
    inspector_name = serializers.SerializerMethodField()
    operator_name = serializers.CharField(source="operator.name_zh", read_only=True, default=None)
    district_code = serializers.CharField(source="district.code", read_only=True, default=None)
    registered = serializers.BooleanField(read_only=True)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=PROBLEMS), read_only=True)

    class Meta:
        model = ScanCheck
        fields = [
            "id",
            "checked_at",
            "inspector",
            "inspector_name",
            "unit",
            "vehicle_code",
            "vehicle",
            "registered",
            "operator",
            "operator_name",
            "district",
            "district_code",
            "lon",
            "lat",
            "datum",
            "source_datum",
            "accuracy_m",
            "result",
            "flags",
            "note",
            "photo_ref",
            "live_state",
            "live_reported_at",
            "live_distance_m",
            "live_outside_fence",
            "client_ref",
        ]
        read_only_fields = fields

    def get_inspector_name(self, obj) -> str:
        return obj.inspector.full_name or obj.inspector.get_username()


class ScanCheckInputSerializer(serializers.Serializer):
    vehicle_code = serializers.CharField(max_length=255, help_text="the code on the bike / its QR code")
    operator = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="operator unit id; required for an unregistered bike's brand",
    )
    result = serializers.ChoiceField(choices=ScanResult.choices, help_text="the primary result")
    flags = serializers.ListField(
        child=serializers.ChoiceField(choices=PROBLEMS),
        required=False,
        default=list,
        help_text="further problems",
    )
    lon = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    datum = serializers.ChoiceField(choices=["WGS-84", "GCJ-02", "BD-09"], required=False, default="WGS-84")
    accuracy_m = serializers.FloatField(required=False, allow_null=True, min_value=0)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=services.MAX_NOTE)
    photo_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    client_ref = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64, help_text="idempotency key of the client"
    )

    def validate(self, attrs):
        if (attrs.get("lon") is None) != (attrs.get("lat") is None):
            raise serializers.ValidationError({"lat": ["lon and lat go together"]})
        return attrs


@extend_schema_view(
    list=extend_schema(operation_id="bikeshare_scan_checks_list", tags=["bikeshare"]),
    create=extend_schema(
        operation_id="bikeshare_scan_checks_create",
        request=ScanCheckInputSerializer,
        responses={
            201: ScanCheckSerializer,
            200: ScanCheckSerializer,
            400: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    ),
)
class ScanCheckViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Scan checks (扫码核查) in the caller's scope; POST records one."""

    queryset = ScanCheck.objects.all()
    serializer_class = ScanCheckSerializer
    filterset_class = ScanCheckFilterSet
    ordering_fields = ["checked_at"]
    ordering = ["-checked_at", "-id"]
    read_permissions = (services.VIEW_PERMISSION,)
    write_permissions = (services.ADD_PERMISSION,)

    def scoped_queryset(self, queryset):
        return queryset.select_related("inspector", "operator", "district")

    def create(self, request):
        data = ScanCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client_ref = data.validated_data.get("client_ref") or ""
        existed = (
            bool(client_ref)
            and ScanCheck.objects.filter(inspector=request.user, client_ref=client_ref).exists()
        )
        check = services.scancheck_record(request.user, **data.validated_data)
        return Response(
            ScanCheckSerializer(check).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )


class ScanStatsRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="operator/district/inspector id or result code")
    label = serializers.CharField()
    total = serializers.IntegerField()
    unregistered = serializers.IntegerField()
    unregistered_share = serializers.FloatField(help_text="unregistered / total")
    results = serializers.DictField(child=serializers.IntegerField(), help_text="checks per primary result")


class ScanStatsSerializer(serializers.Serializer):
    period_from = serializers.DateField(source="from")
    period_to = serializers.DateField(source="to")
    group_by = serializers.CharField()
    rows = ScanStatsRowSerializer(many=True)


class ScanCheckStatsView(APIView):
    """Statistics of the checks in the caller's scope."""

    read_permissions = (services.VIEW_PERMISSION,)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_scan_checks_stats",
        parameters=[
            OpenApiParameter("from", dt.date, description="first local date (default: 29 days before `to`)"),
            OpenApiParameter("to", dt.date, description="last local date (default: today)"),
            OpenApiParameter("group_by", str, enum=list(services.GROUP_BY), description="default: operator"),
        ],
        responses={200: ScanStatsSerializer, 400: BikeshareErrorSerializer, 403: BikeshareErrorSerializer},
        tags=["bikeshare"],
    )
    def get(self, request):
        end = query_date(request.query_params.get("to"), "to", timezone.localdate())
        start = query_date(request.query_params.get("from"), "from", end - dt.timedelta(days=29))
        group_by = request.query_params.get("group_by") or "operator"
        rows = services.scancheck_stats(request.user, period=(start, end), group_by=group_by)
        for row in rows:
            row["key"] = None if row["key"] is None else str(row["key"])
        body = {"from": start, "to": end, "group_by": group_by, "rows": rows}
        return Response(ScanStatsSerializer(body).data)
