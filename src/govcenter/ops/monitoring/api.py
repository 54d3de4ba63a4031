"""``/api/v1/ops/monitoring/``: targets (list, read, create, change — in the caller's scope),
a target's latest results and its uptime over N days, and maintenance windows (list, create:
an overlap on the same target is 409). Writes go through ``services`` (audited)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit

from ..models import MaintenanceWindow, MonitorTarget, ProbeKind, ProbeResult
from . import services


class MonitorTargetSerializer(serializers.ModelSerializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all())
    unit_code = serializers.CharField(source="unit.code", read_only=True)
    kind = serializers.ChoiceField(choices=ProbeKind.choices)
    config = serializers.DictField()

    class Meta:
        model = MonitorTarget
        fields = ["id", "name", "kind", "config", "interval_s", "timeout_s", "enabled", "unit", "unit_code",
                  "last_run_at", "last_ok", "last_latency_ms", "last_value", "last_message", "last_success_at"]  # fmt: skip
        read_only_fields = ["last_run_at", "last_ok", "last_latency_ms", "last_value", "last_message", "last_success_at"]


class ProbeResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProbeResult
        fields = ["started_at", "ok", "latency_ms", "value", "message", "maintenance"]
        read_only_fields = fields


UptimeSerializer = inline_serializer(
    "MonitorUptime",
    {
        "target": serializers.IntegerField(),
        "days": serializers.IntegerField(),
        "ok": serializers.IntegerField(),
        "total": serializers.IntegerField(),
        "percent": serializers.FloatField(allow_null=True),
    },
)


class MonitorTargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                           mixins.UpdateModelMixin, ScopedViewSet):  # fmt: skip
    """Monitoring targets in the caller's scope with their latest result."""

    queryset = MonitorTarget.objects.all()
    serializer_class = MonitorTargetSerializer
    read_permissions = ("ops.view_monitortarget",)
    write_permissions = ("ops.manage_monitoring",)
    filterset_fields = ["kind", "enabled"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("unit")

    def perform_create(self, serializer):
        serializer.instance = services.target_save(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        data = {**MonitorTargetSerializer(serializer.instance).data, **serializer.validated_data}
        data["unit"] = serializer.validated_data.get("unit", serializer.instance.unit)
        fields = ("name", "kind", "config", "interval_s", "timeout_s", "enabled", "unit")
        serializer.instance = services.target_save(actor=self.request.user, target=serializer.instance,
                                                   **{f: data[f] for f in fields})  # fmt: skip

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="at most this many, newest first (≤ 1000, default 100)")],
        responses=ProbeResultSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        target = self.get_object()
        try:
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise ServiceError("limit must be 1–1000", code="invalid", details={"limit": ["1–1000"]})
        rows = target.results.order_by("-started_at")[:limit]
        return Response(ProbeResultSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="the last N days (1–366, default 30)")],
        responses=UptimeSerializer,
    )
    @action(detail=True, methods=["get"])
    def uptime(self, request, pk=None):
        target = self.get_object()
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            days = 0
        if not 1 <= days <= 366:
            raise ServiceError("days must be 1–366", code="invalid", details={"days": ["1–366"]})
        now = timezone.now()
        ok, total = services.uptime([target.pk], now - dt.timedelta(days=days), now).get(target.pk, (0, 0))
        return Response({"target": target.pk, "days": days, "ok": ok, "total": total,
                         "percent": services.percent(ok, total)})  # fmt: skip


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all())
    targets = serializers.PrimaryKeyRelatedField(queryset=MonitorTarget.objects.all(), many=True, required=False)

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "name", "unit", "targets", "starts_at", "ends_at", "with_collection", "note"]


class MaintenanceWindowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                               ScopedViewSet):  # fmt: skip
    """Maintenance windows in the caller's scope; a new one overlapping another window on the
    same target is refused with 409 (``code: overlap``)."""

    queryset = MaintenanceWindow.objects.all()
    serializer_class = MaintenanceWindowSerializer
    read_permissions = ("ops.view_monitortarget",)
    write_permissions = ("ops.manage_monitoring",)

    def scoped_queryset(self, queryset):
        return queryset.prefetch_related("targets")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        visible = set(MonitorTarget.objects.restrict(request.user).values_list("pk", flat=True))
        hidden = [t.pk for t in data.get("targets", []) if t.pk not in visible]
        if hidden:
            raise ServiceError("targets outside your scope", code="invalid", details={"targets": hidden})
        window = services.window_create(actor=request.user, **data)
        return Response(MaintenanceWindowSerializer(window).data, status=status.HTTP_201_CREATED)
