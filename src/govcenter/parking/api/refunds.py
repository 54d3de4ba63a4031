"""Staff API of refunds and reconciliation: /api/v1/parking/refunds/, reconciliation-runs/.

* ``refunds/`` (scoped by district): list and detail (``parking.view_refund``); ``POST``
  asks for a refund (``parking.request_refund``) of a payment in the caller's scope, by
  ``out_trade_no``; ``POST refunds/{id}/approve/`` and ``reject/`` decide
  (``parking.approve_refund``; never one's own request: 409 ``four_eyes``); ``retry/`` asks
  the provider again about an approved refund.
* ``reconciliation-runs/`` (city-wide, ``parking.view_reconciliationrun``): the daily runs
  with their differences.

Rules are in :mod:`govcenter.parking.services.refunds` and ``services.reconciliation``;
errors are ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError

from ..models import Order
from ..models.refunds import ReconciliationDifference, ReconciliationRun, Refund, RefundReason, RefundStatus
from ..services import refunds as services
from .router import router


def _choices_text(choices) -> str:
    return " | ".join(value for value, _label in choices)


class RefundSerializer(serializers.ModelSerializer):
    out_trade_no = serializers.CharField(source="intent.out_trade_no", read_only=True)
    # Plain text, not enums: "status" names many choice sets across the schema.
    status = serializers.CharField(read_only=True, help_text=_choices_text(RefundStatus.choices))
    reason_category = serializers.CharField(read_only=True, help_text=_choices_text(RefundReason.choices))

    class Meta:
        model = Refund
        fields = [
            "id",
            "refund_no",
            "out_trade_no",
            "order",
            "district",
            "amount_fen",
            "reason_category",
            "reason",
            "status",
            "requested_by_username",
            "requested_at",
            "approved_by_username",
            "decided_at",
            "decision_note",
            "provider_trade_no",
            "provider_refund_no",
            "failure_reason",
            "succeeded_at",
        ]
        read_only_fields = fields


class RefundRequestSerializer(serializers.Serializer):
    out_trade_no = serializers.CharField(max_length=32)
    order = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    amount_fen = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    reason_category = serializers.ChoiceField(choices=RefundReason.choices)
    reason = serializers.CharField(max_length=500)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ReconciliationDifferenceSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True, help_text=_choices_text(ReconciliationDifference.Kind.choices)
    )
    entry = serializers.CharField(
        read_only=True, help_text=_choices_text(ReconciliationDifference.Entry.choices)
    )
    status = serializers.CharField(
        read_only=True, help_text=_choices_text(ReconciliationDifference.Status.choices)
    )

    class Meta:
        model = ReconciliationDifference
        fields = [
            "id",
            "kind",
            "entry",
            "out_trade_no",
            "provider_trade_no",
            "refund_no",
            "statement_amount_fen",
            "ledger_amount_fen",
            "occurred_at",
            "status",
            "note",
            "resolved_by_username",
            "resolved_at",
        ]
        read_only_fields = fields


class ReconciliationRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_choices_text(ReconciliationRun.Status.choices))

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "date",
            "provider",
            "status",
            "statement_count",
            "statement_paid_fen",
            "statement_refunded_fen",
            "ledger_count",
            "ledger_paid_fen",
            "ledger_refunded_fen",
            "matched_count",
            "difference_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReconciliationRunDetailSerializer(ReconciliationRunSerializer):
    differences = ReconciliationDifferenceSerializer(many=True, read_only=True)

    class Meta(ReconciliationRunSerializer.Meta):
        fields = [*ReconciliationRunSerializer.Meta.fields, "differences"]
        read_only_fields = fields


class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Refunds (退款) in the caller's scope."""

    queryset = Refund.objects.all()
    serializer_class = RefundSerializer
    filterset_class = services.RefundFilterSet
    ordering_fields = ["requested_at", "amount_fen"]
    ordering = ["-requested_at", "-id"]
    read_permissions = ("parking.view_refund",)

    @property
    def write_permissions(self):
        return (services.REQUEST_PERMISSION,) if self.action == "create" else (services.APPROVE_PERMISSION,)

    def scoped_queryset(self, queryset):
        return queryset.select_related("intent")

    def _respond(self, refund, code=status.HTTP_200_OK):
        return Response(RefundSerializer(self.get_queryset().get(pk=refund.pk)).data, status=code)

    @extend_schema(request=RefundRequestSerializer, responses={201: RefundSerializer})
    def create(self, request):
        """Ask for a refund of a payment (or one of its orders) in the caller's scope."""
        body = RefundRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        intent = services.payment_list(user=request.user).filter(out_trade_no=data["out_trade_no"]).first()
        if intent is None:
            raise ServiceError(
                "支付单不存在", code="not_found", status=404, details={"out_trade_no": [data["out_trade_no"]]}
            )
        order = None
        if data.get("order"):
            order = Order.objects.restrict(request.user).filter(pk=data["order"]).first()
            if order is None:
                raise ServiceError(
                    "订单不存在", code="not_found", status=404, details={"order": [data["order"]]}
                )
        refund = services.refund_request(
            actor=request.user,
            intent=intent,
            order=order,
            amount_fen=data["amount_fen"],
            reason_category=data["reason_category"],
            reason=data["reason"],
        )
        return self._respond(refund, status.HTTP_201_CREATED)

    def _decide(self, request, service):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = body.validated_data.get("note", "")
        return self._respond(service(actor=request.user, refund=self.get_object(), note=note))

    @extend_schema(request=DecisionSerializer, responses=RefundSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (never one's own request) and send the refund to the provider."""
        return self._decide(request, services.refund_approve)

    @extend_schema(request=DecisionSerializer, responses=RefundSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject with a note (required)."""
        return self._decide(request, services.refund_reject)

    @extend_schema(request=None, responses=RefundSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Ask the provider again about an approved refund (idempotent by refund_no)."""
        return self._respond(services.refund_retry(actor=request.user, refund=self.get_object()))


class ReconciliationRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Daily reconciliation runs (对账) with their differences; city-wide."""

    queryset = ReconciliationRun.objects.all()
    serializer_class = ReconciliationRunSerializer
    ordering_fields = ["date"]
    ordering = ["-date", "provider"]
    read_permissions = ("parking.view_reconciliationrun",)
    unscoped_reason = "city-wide: the provider statement has no district (view permission only)"

    def get_serializer_class(self):
        return ReconciliationRunDetailSerializer if self.action == "retrieve" else ReconciliationRunSerializer

    def scoped_queryset(self, queryset):
        if self.action == "retrieve":
            return queryset.prefetch_related("differences")
        return queryset


router.register("refunds", RefundViewSet, basename="refund")
router.register("reconciliation-runs", ReconciliationRunViewSet, basename="reconciliation-run")

urlpatterns: list = []
