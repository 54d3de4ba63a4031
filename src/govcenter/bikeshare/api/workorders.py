"""Work orders to operators API (派单) under ``/api/v1/bikeshare/work-orders``.

* ``GET  work-orders`` — orders in the caller's scope (``bikeshare.view_workorder``), filters
  ``status``, ``kind``, ``operator`` (unit id), ``district`` (code), ``overdue`` (true: marked
  overdue at least once; false: never), ``open`` (issued or responded), ``issued_from``/``issued_to``;
* ``POST work-orders`` — a manual order by the Center (``bikeshare.add_workorder``);
* ``GET  work-orders/{id}`` — one order with its history (out of scope: 404);
* ``POST work-orders/{id}/respond`` — the operator's response with note and evidence
  (``bikeshare.respond_workorder``, own operator only);
* ``POST work-orders/{id}/close|reopen|cancel`` — the Center's verification
  (``bikeshare.change_workorder``);
* ``POST work-orders/generate`` — issue orders for the current violations (Center, city-wide);
* ``GET  work-orders/stats?from=&to=`` — response figures per operator in scope.

Illegal transitions answer 409 ``bad_transition``; every error is ``{"code","message","details"}``.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission, ScopedViewSet
from govcenter.core.models import Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models.workorders import (
    OPEN_STATUSES,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderKind,
    WorkOrderStatus,
)
from ..services import workorders as services
from .agency import BikeshareErrorSerializer
from .params import query_date

ERRORS = {
    400: BikeshareErrorSerializer,
    403: BikeshareErrorSerializer,
    404: BikeshareErrorSerializer,
    409: BikeshareErrorSerializer,
}


class WorkOrderFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WorkOrderStatus.choices)
    kind = django_filters.ChoiceFilter(choices=WorkOrderKind.choices)
    district = django_filters.CharFilter(field_name="district__code", help_text="district code (GB/T 2260)")
    overdue = django_filters.BooleanFilter(
        field_name="overdue_at", lookup_expr="isnull", exclude=True, help_text="marked overdue at least once"
    )
    open = django_filters.BooleanFilter(method="filter_open", help_text="issued or responded")
    issued_from = django_filters.IsoDateTimeFilter(field_name="issued_at", lookup_expr="gte")
    issued_to = django_filters.IsoDateTimeFilter(field_name="issued_at", lookup_expr="lt")

    class Meta:
        model = WorkOrder
        fields = ["status", "kind", "operator", "district", "overdue", "open", "number"]

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        q = Q(status__in=OPEN_STATUSES)
        return queryset.filter(q) if value else queryset.exclude(q)


class WorkOrderEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrderEvent
        fields = ["id", "at", "action", "from_status", "to_status", "actor", "actor_name", "note", "data"]
        read_only_fields = fields

    def get_actor_name(self, obj) -> str | None:
        if obj.actor is None:
            return None
        return obj.actor.full_name or obj.actor.get_username()


class WorkOrderSerializer(serializers.ModelSerializer):
    operator_code = serializers.CharField(source="operator.code", read_only=True)
    operator_name = serializers.CharField(source="operator.name_zh", read_only=True)
    district_code = serializers.CharField(source="district.code", read_only=True, default=None)
    late = serializers.SerializerMethodField(help_text="issued and past its deadline now")
    responded_on_time = serializers.BooleanField(read_only=True, allow_null=True)

    class Meta:
        model = WorkOrder
        fields = ["id", "number", "operator", "operator_code", "operator_name", "district", "district_code",
                  "kind", "source", "subject", "dedupe_key", "title", "description", "lon", "lat", "datum",
                  "status", "issued_at", "issued_by", "due_at", "initial_due_at", "overdue_at", "late",
                  "responded_at", "first_responded_at", "responded_by", "responded_on_time", "response_note",
                  "response_evidence", "closed_at", "cancelled_at", "cancel_reason", "reopen_count"]  # fmt: skip
        read_only_fields = fields

    def get_late(self, obj) -> bool:
        return obj.status == WorkOrderStatus.ISSUED and obj.due_at < timezone.now()


class WorkOrderDetailSerializer(WorkOrderSerializer):
    events = WorkOrderEventSerializer(many=True, read_only=True)

    class Meta(WorkOrderSerializer.Meta):
        fields = [*WorkOrderSerializer.Meta.fields, "evidence", "events"]
        read_only_fields = fields


class WorkOrderCreateSerializer(serializers.Serializer):
    operator = serializers.CharField(max_length=32, help_text="operator unit id or code")
    kind = serializers.ChoiceField(
        choices=WorkOrderKind.choices, required=False, default=WorkOrderKind.MANUAL
    )
    title = serializers.CharField(max_length=services.MAX_TITLE)
    subject = serializers.CharField(
        max_length=services.MAX_SUBJECT, required=False, allow_blank=True, default=""
    )
    description = serializers.CharField(
        max_length=services.MAX_NOTE, required=False, allow_blank=True, default=""
    )
    district = serializers.CharField(
        max_length=12, required=False, allow_blank=True, allow_null=True, help_text="district code"
    )
    lon = serializers.FloatField(required=False, allow_null=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    datum = serializers.ChoiceField(choices=["GCJ-02", "WGS-84", "BD-09"], required=False, default="GCJ-02")
    due_hours = serializers.FloatField(
        required=False, allow_null=True, min_value=0.1, max_value=services.MAX_DUE_HOURS
    )
    dedupe_key = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if (attrs.get("lon") is None) != (attrs.get("lat") is None):
            raise serializers.ValidationError({"lat": ["lon and lat go together"]})
        return attrs


class WorkOrderRespondSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=services.MAX_NOTE, required=False, allow_blank=True, default="")
    evidence = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_EVIDENCE_CHARS),
        required=False,
        default=list,
        max_length=services.MAX_EVIDENCE_ITEMS,
        help_text="photo references or short texts",
    )


class WorkOrderNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=services.MAX_NOTE, required=False, allow_blank=True, default="")


class WorkOrderReopenSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=services.MAX_NOTE, help_text="why the response is rejected")
    due_hours = serializers.FloatField(
        required=False, allow_null=True, min_value=0.1, max_value=services.MAX_DUE_HOURS
    )


class WorkOrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=services.MAX_NOTE)


class WorkOrderGenerateSerializer(serializers.Serializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(k) for k in services.GENERATED_KINDS]),
        required=False,
        default=list,
        help_text="default: every generated kind",
    )


class WorkOrderGenerateKindSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()


class WorkOrderGenerateResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField(help_text="violations that already have an open order")
    by_kind = serializers.DictField(child=WorkOrderGenerateKindSerializer())
    errors = serializers.ListField(child=serializers.CharField())


class WorkOrderStatsRowSerializer(serializers.Serializer):
    operator = serializers.CharField(help_text="operator code")
    issued = serializers.IntegerField()
    responded = serializers.IntegerField()
    responded_on_time = serializers.IntegerField()
    closed = serializers.IntegerField()
    overdue = serializers.IntegerField()
    rate_on_time = serializers.FloatField(allow_null=True)


class WorkOrderStatsSerializer(serializers.Serializer):
    period_from = serializers.DateField(source="from")
    period_to = serializers.DateField(source="to")
    rows = WorkOrderStatsRowSerializer(many=True)


_WRITE = {
    "create": (services.ISSUE_PERMISSION,),
    "respond": (services.RESPOND_PERMISSION,),
    "close": (services.VERIFY_PERMISSION,),
    "reopen": (services.VERIFY_PERMISSION,),
    "cancel": (services.VERIFY_PERMISSION,),
}


def _action_schema(name: str, request, summary: str):
    return extend_schema(
        operation_id=f"bikeshare_work_orders_{name}",
        summary=summary,
        request=request,
        responses={200: WorkOrderDetailSerializer, **ERRORS},
        tags=["bikeshare"],
    )


@extend_schema_view(
    list=extend_schema(operation_id="bikeshare_work_orders_list", tags=["bikeshare"]),
    retrieve=extend_schema(
        operation_id="bikeshare_work_orders_retrieve",
        responses={200: WorkOrderDetailSerializer, 404: BikeshareErrorSerializer},
        tags=["bikeshare"],
    ),
    create=extend_schema(
        operation_id="bikeshare_work_orders_create",
        request=WorkOrderCreateSerializer,
        responses={201: WorkOrderDetailSerializer, **ERRORS},
        tags=["bikeshare"],
    ),
)
class WorkOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Work orders (派单) in the caller's scope."""

    queryset = WorkOrder.objects.all()
    serializer_class = WorkOrderSerializer
    filterset_class = WorkOrderFilterSet
    ordering_fields = ["issued_at", "due_at"]
    ordering = ["-issued_at", "-id"]
    read_permissions = (services.VIEW_PERMISSION,)

    @property
    def write_permissions(self) -> tuple[str, ...]:
        return _WRITE.get(getattr(self, "action", None) or "", ())

    def scoped_queryset(self, queryset):
        queryset = queryset.select_related("operator", "district")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events__actor")
        return queryset

    def get_serializer_class(self):
        return WorkOrderDetailSerializer if self.action == "retrieve" else WorkOrderSerializer

    def _detail(self, order, code=status.HTTP_200_OK):
        order = (
            WorkOrder.objects.prefetch_related("events__actor")
            .select_related("operator", "district")
            .get(pk=order.pk)
        )
        return Response(WorkOrderDetailSerializer(order).data, status=code)

    def create(self, request):
        body = WorkOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.workorder_create(request.user, **body.validated_data)
        return self._detail(order, status.HTTP_201_CREATED)

    @_action_schema("respond", WorkOrderRespondSerializer, "the operator responds")
    def respond(self, request, pk=None):
        body = WorkOrderRespondSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.workorder_respond(request.user, self.get_object(), **body.validated_data)
        return self._detail(order)

    @_action_schema("close", WorkOrderNoteSerializer, "the Center accepts the response")
    def close(self, request, pk=None):
        body = WorkOrderNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._detail(services.workorder_close(request.user, self.get_object(), **body.validated_data))

    @_action_schema("reopen", WorkOrderReopenSerializer, "the Center rejects the response")
    def reopen(self, request, pk=None):
        body = WorkOrderReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._detail(services.workorder_reopen(request.user, self.get_object(), **body.validated_data))

    @_action_schema("cancel", WorkOrderCancelSerializer, "the Center cancels the order")
    def cancel(self, request, pk=None):
        body = WorkOrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._detail(services.workorder_cancel(request.user, self.get_object(), **body.validated_data))


class WorkOrderGenerateView(APIView):
    """Issue orders for the current violations (the Center, city-wide scope)."""

    write_permissions = (services.ISSUE_PERMISSION,)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_work_orders_generate",
        request=WorkOrderGenerateSerializer,
        responses={200: WorkOrderGenerateResultSerializer, **ERRORS},
        tags=["bikeshare"],
    )
    def post(self, request):
        body = WorkOrderGenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.generate_from_violations(request.user, kinds=body.validated_data["kinds"] or None)
        return Response(WorkOrderGenerateResultSerializer(result).data)


class WorkOrderStatsView(APIView):
    """Response figures per operator in the caller's scope (the monthly assessment's input)."""

    read_permissions = (services.VIEW_PERMISSION,)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_work_orders_stats",
        parameters=[
            OpenApiParameter(
                "from", dt.date, description="first Beijing date (default: the month's first day)"
            ),
            OpenApiParameter("to", dt.date, description="last Beijing date (default: today)"),
        ],
        responses={
            200: WorkOrderStatsSerializer,
            400: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def get(self, request):
        end = query_date(request.query_params.get("to"), "to", timezone.localdate())
        start = query_date(request.query_params.get("from"), "from", end.replace(day=1))
        stats = services.response_stats_all(start, end)
        scope = scope_for(request.user)
        if not scope.all:
            codes = set(
                Unit.objects.filter(kind=UnitKind.OPERATOR, pk__in=scope.operator_ids).values_list(
                    "code", flat=True
                )
            )
            stats = {code: row for code, row in stats.items() if code in codes}
        rows = [{"operator": code, **row} for code, row in stats.items()]
        return Response(WorkOrderStatsSerializer({"from": start, "to": end, "rows": rows}).data)


urlpatterns: list = [
    path(
        "work-orders",
        WorkOrderViewSet.as_view({"get": "list", "post": "create"}),
        name="bikeshare-work-orders",
    ),
    path("work-orders/generate", WorkOrderGenerateView.as_view(), name="bikeshare-work-orders-generate"),
    path("work-orders/stats", WorkOrderStatsView.as_view(), name="bikeshare-work-orders-stats"),
    path(
        "work-orders/<int:pk>",
        WorkOrderViewSet.as_view({"get": "retrieve"}),
        name="bikeshare-work-order",
    ),
    *[
        path(
            f"work-orders/<int:pk>/{name}",
            WorkOrderViewSet.as_view({"post": name}),
            name=f"bikeshare-work-order-{name}",
        )
        for name in ("respond", "close", "reopen", "cancel")
    ],
]
