"""Staff API of parking orders and anomalies: /api/v1/parking/orders/, anomalies/.

Reads through :class:`ScopedViewSet` (an out-of-scope id is 404). The plate is masked in
every answer; a holder of ``core.reveal_personal_data`` asks for it with
``POST orders/{id}/reveal/`` and a reason (audited). ``POST orders/{id}/corrections/`` is
the patrol PDA correction (``parking.correct_order``): plate, vehicle class and/or times
with an evidence photo reference, audited, re-billed when the times change, refused once
paid. ``POST anomalies/{id}/resolve/`` closes the review of an anomaly.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core import masking
from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.org import ReasonSerializer, RevealPermission
from govcenter.core.masking import MaskedField

from ..models import Order, OrderCorrection, ParkingAnomaly
from ..selectors.orders import AnomalyFilterSet, OrderFilterSet
from ..services import orders as services
from .tariff import AwareDateTimeField


class OrderCorrectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderCorrection
        fields = ["id", "field", "before", "after", "evidence_photo_ref", "reason", "actor_username", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.field == OrderCorrection.Field.PLATE:
            data["before"], data["after"] = masking.mask_plate(instance.before), masking.mask_plate(instance.after)
        return data


class OrderSerializer(serializers.ModelSerializer):
    plate = MaskedField(kind="plate")
    # Plain text, not an enum: the schema already names this choice set (the quote's vehicle).
    vehicle_class = serializers.CharField(read_only=True, help_text="small | large")
    segment_code = serializers.CharField(source="segment.code", read_only=True)
    space_number = serializers.CharField(source="space.number", read_only=True)
    tariff_plan_code = serializers.CharField(source="tariff_plan.code", read_only=True, default=None)

    class Meta:
        model = Order
        fields = [
            "id",
            "district",
            "managing_unit",
            "segment",
            "segment_code",
            "space",
            "space_number",
            "space_version",
            "tariff_plan",
            "tariff_plan_code",
            "plate",
            "plate_confidence",
            "vehicle_class",
            "started_at",
            "ended_at",
            "state",
            "amount_due_fen",
            "amount_paid_fen",
            "quote_lines",
            "billed_at",
            "start_event",
            "end_event",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderCorrectionRequestSerializer(serializers.Serializer):
    plate = serializers.CharField(required=False, max_length=16)
    vehicle_class = serializers.CharField(required=False, help_text="small | large")
    started_at = AwareDateTimeField(required=False)
    ended_at = AwareDateTimeField(required=False)
    evidence_photo_ref = serializers.CharField(max_length=200, help_text="reference of the patrol's evidence photo")
    reason = serializers.CharField(max_length=200)

    def validate_vehicle_class(self, value):
        if value not in ("small", "large"):
            raise serializers.ValidationError("Use small or large.")
        return value

    def validate(self, attrs):
        if not {"plate", "vehicle_class", "started_at", "ended_at"} & set(attrs):
            raise serializers.ValidationError({"plate": ["Give at least one of plate, vehicle_class, started_at, ended_at."]})
        return attrs


class PlateRevealSerializer(serializers.Serializer):
    plate = serializers.CharField()


class AnomalySerializer(serializers.ModelSerializer):
    space_code = serializers.SerializerMethodField()
    device_serial = serializers.CharField(source="event.device.serial", read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)

    class Meta:
        model = ParkingAnomaly
        fields = [
            "id",
            "kind",
            "status",
            "district",
            "space",
            "space_code",
            "event",
            "event_type",
            "device_serial",
            "event_time",
            "order",
            "resolution_note",
            "resolved_at",
            "resolved_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_space_code(self, obj) -> str | None:
        return f"{obj.space.segment.code}-{obj.space.number}" if obj.space_id else None


class AnomalyResolveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[ParkingAnomaly.Status.RESOLVED, ParkingAnomaly.Status.DISMISSED])
    note = serializers.CharField(max_length=200)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Parking orders (停车订单) in the caller's scope; plates masked."""

    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    filterset_class = OrderFilterSet
    ordering_fields = ["started_at", "ended_at", "amount_due_fen"]
    ordering = ["-started_at", "-id"]
    read_permissions = ("parking.view_order",)

    @property
    def write_permissions(self):
        return ("parking.correct_order",) if self.action == "corrections" else ("parking.view_order",)

    def get_permissions(self):
        if self.action == "reveal":
            return [RevealPermission()]
        return super().get_permissions()

    def scoped_queryset(self, queryset):
        return queryset.select_related("segment", "space", "tariff_plan")

    @extend_schema(request=OrderCorrectionRequestSerializer, responses={201: OrderSerializer})
    @action(detail=True, methods=["post"])
    def corrections(self, request, pk=None):
        """Patrol correction (巡检更正) of plate, vehicle class and/or times, with evidence."""
        body = OrderCorrectionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.order_correct(actor=request.user, order=self.get_object(), **body.validated_data)
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data, status=201)

    @extend_schema(request=ReasonSerializer, responses=PlateRevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The clear plate of one order, for a reason; audited."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = masking.reveal_fields(
            user=request.user, obj=self.get_object(), fields=["plate"], reason=body.validated_data.get("reason", "")
        )
        response = Response(values)
        response["Cache-Control"] = "no-store"
        return response


class AnomalyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Parking anomalies (停车异常) for review, in the caller's scope."""

    queryset = ParkingAnomaly.objects.all()
    serializer_class = AnomalySerializer
    filterset_class = AnomalyFilterSet
    ordering_fields = ["event_time"]
    ordering = ["-event_time", "-id"]
    read_permissions = ("parking.view_parkinganomaly",)
    write_permissions = ("parking.change_parkinganomaly",)

    def scoped_queryset(self, queryset):
        return queryset.select_related("space", "space__segment", "event", "event__device")

    @extend_schema(request=AnomalyResolveSerializer, responses=AnomalySerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        body = AnomalyResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        anomaly = services.anomaly_resolve(actor=request.user, anomaly=self.get_object(), **body.validated_data)
        return Response(AnomalySerializer(self.get_queryset().get(pk=anomaly.pk)).data)


def register(router) -> None:
    router.register("orders", OrderViewSet, basename="order")
    router.register("anomalies", AnomalyViewSet, basename="anomaly")
