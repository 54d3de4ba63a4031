"""Payment API: the citizen's orders and payments, pay by plate without login (临时代缴), the
provider callback and the sandbox cashier (DEBUG or ``GOVCENTER_PARKING_PAYMENT_SANDBOX``).

Rules are in :mod:`govcenter.parking.services.payments`. Payers without login see masked
data only: order ids, segment names, times and amounts, the plate in its masked form.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core.api.errors import ServiceError
from govcenter.core.api.pagination import Pagination
from govcenter.core.masking import mask_plate

from ..models import Order, PaymentIntent
from ..payments import sandbox
from ..plates import PROVINCES
from ..services import payments as services
from .citizens import CitizenView, CountedRefusalsMixin

PLATE_PATTERN = f"^[{PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{5}}$"
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    pattern=r"^[A-Za-z0-9_.:\-]{8,64}$",
    description="Client-chosen key (8–64 characters); the same key returns the same payment.",
)


class PublicPayThrottle(AnonRateThrottle):
    scope = "parking_public_pay"

    def get_rate(self):
        return settings.GOVCENTER_PARKING_PUBLIC_PAY_RATE


class PublicArrearsThrottle(PublicPayThrottle):
    scope = "parking_public_arrears"


# -- serializers -------------------------------------------------------------------------------


class PublicOrderSerializer(serializers.ModelSerializer):
    segment = serializers.CharField(source="segment.name", read_only=True)
    amount_unpaid_fen = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "segment",
            "started_at",
            "ended_at",
            "state",
            "amount_due_fen",
            "amount_adjustment_fen",
            "amount_paid_fen",
            "amount_unpaid_fen",
        ]

    def get_amount_unpaid_fen(self, order) -> int:
        return order.payable_fen


class CitizenOrderSerializer(PublicOrderSerializer):
    class Meta(PublicOrderSerializer.Meta):
        fields = [*PublicOrderSerializer.Meta.fields, "plate"]


class PaymentListSerializer(serializers.ModelSerializer):
    """A payment in the citizen's list: ``display_status`` is the stored status (the provider is
    asked only for one payment, by :class:`PaymentSerializer`)."""

    order_ids = serializers.SerializerMethodField()
    plate = serializers.SerializerMethodField()
    pay_url = serializers.SerializerMethodField()
    display_status = serializers.SerializerMethodField(help_text="the stored status")

    class Meta:
        model = PaymentIntent
        fields = [
            "out_trade_no",
            "status",
            "display_status",
            "total_fen",
            "order_ids",
            "plate",
            "provider",
            "pay_url",
            "provider_data",
            "created_at",
            "expires_at",
            "paid_at",
        ]

    def get_order_ids(self, intent) -> list[int]:
        return sorted(item.order_id for item in intent.items.all())

    def get_plate(self, intent) -> str:
        return mask_plate(intent.plate) if intent.plate else ""

    def get_display_status(self, intent) -> str:
        return intent.status

    def get_pay_url(self, intent) -> str:
        return str(intent.provider_data.get("pay_url", "")) if intent.status == "created" else ""


class PaymentSerializer(PaymentListSerializer):
    """One payment (detail, create): ``display_status`` asks the provider whether an unpaid
    payment is already paid there (``processing``) — one provider call per response."""

    display_status = serializers.SerializerMethodField(
        help_text="status, or processing: paid at the provider, its notification not handled yet"
    )

    def get_display_status(self, intent) -> str:
        return services.payment_display_status(intent)


class OrderIdsSerializer(serializers.Serializer):
    order_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=services.MAX_ORDERS,
    )


class PublicPaySerializer(OrderIdsSerializer):
    plate = serializers.CharField(max_length=16)


class OrderStateQuery(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["unpaid", "arrears", "billed", "paid", "open", "closed"], required=False
    )


class PlateQuery(serializers.Serializer):
    plate = serializers.CharField(max_length=16)


class ArrearsSerializer(serializers.Serializer):
    plate = serializers.CharField(help_text="masked")
    total_unpaid_fen = serializers.IntegerField()
    orders = PublicOrderSerializer(many=True)


def _payment_response(created: services.Created) -> Response:
    code = status.HTTP_201_CREATED if created.created else status.HTTP_200_OK
    return Response(PaymentSerializer(created.intent).data, status=code)


# -- citizen -------------------------------------------------------------------------------------


class CitizenOrdersView(CitizenView):
    """The caller's orders (plates bound to the account), newest first, paginated."""

    @extend_schema(parameters=[OrderStateQuery], responses=CitizenOrderSerializer(many=True))
    def get(self, request):
        query = OrderStateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = services.citizen_orders(citizen=self.citizen, state=query.validated_data.get("state", ""))
        paginator = Pagination()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(CitizenOrderSerializer(page, many=True).data)


class CitizenPaymentsView(CitizenView):
    @extend_schema(responses=PaymentListSerializer(many=True))
    def get(self, request):
        """The caller's latest 50 payments with their stored status (the detail asks the provider)."""
        return Response(
            PaymentListSerializer(services.citizen_payments(citizen=self.citizen)[:50], many=True).data
        )

    @extend_schema(
        request=OrderIdsSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: PaymentSerializer, 200: PaymentSerializer},
    )
    def post(self, request):
        body = OrderIdsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = services.payment_create(
            citizen=self.citizen,
            order_ids=body.validated_data["order_ids"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return _payment_response(created)


class CitizenPaymentView(CitizenView):
    @extend_schema(responses=PaymentSerializer)
    def get(self, request, out_trade_no: str):
        intent = services.citizen_payments(citizen=self.citizen).filter(out_trade_no=out_trade_no).first()
        if intent is None:
            raise Http404
        return Response(PaymentSerializer(intent).data)


# -- pay by plate without login ----------------------------------------------------------------


class PublicArrearsView(CountedRefusalsMixin, APIView):
    """Unpaid orders of a plate (临时代缴): masked data only."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [PublicArrearsThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("plate", str, required=True, pattern=PLATE_PATTERN)],
        responses=ArrearsSerializer,
    )
    def get(self, request):
        query = PlateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        plate, orders = services.plate_arrears(plate=query.validated_data["plate"])
        orders = list(orders[: services.MAX_ORDERS])
        data = {
            "plate": mask_plate(plate),
            "total_unpaid_fen": sum(o.payable_fen for o in orders),
            "orders": orders,
        }
        return Response(ArrearsSerializer(data).data)


class PublicPaymentsView(CountedRefusalsMixin, APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [PublicPayThrottle]

    @extend_schema(
        request=PublicPaySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: PaymentSerializer, 200: PaymentSerializer},
    )
    def post(self, request):
        body = PublicPaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = services.payment_create(
            citizen=None,
            plate=body.validated_data["plate"],
            order_ids=body.validated_data["order_ids"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return _payment_response(created)


# -- provider side -------------------------------------------------------------------------------

ProviderAck = inline_serializer(
    "PaymentNotifyAck", {"code": serializers.CharField(), "message": serializers.CharField()}
)


class PaymentNotifyView(APIView):
    """The provider's asynchronous callback (signed; stored whatever happens)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: ProviderAck})
    def post(self, request):
        return Response(services.payment_notify(headers=request.headers, body=request.body))


class SandboxPayView(APIView):
    """The sandbox cashier: the payer pays; the signed notification's delivery to our callback
    is queued (a task, retried with backoff), so the payment reads "processing" until it is
    handled. ``notify_status``/``notify_answer`` are the first attempt's, when it has already
    run (tasks run immediately in development), else null."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "SandboxPaid",
                {
                    "out_trade_no": serializers.CharField(),
                    "trade_state": serializers.CharField(),
                    "notify": serializers.CharField(help_text="queued"),
                    "notify_status": serializers.IntegerField(allow_null=True),
                    "notify_answer": serializers.DictField(allow_null=True),
                },
            )
        },
    )
    def post(self, request, out_trade_no: str):
        if not sandbox.sandbox_enabled() or settings.GOVCENTER_PARKING_PAYMENT_PROVIDER != (
            "govcenter.parking.payments.sandbox.SandboxProvider"
        ):
            raise Http404
        try:
            queued = sandbox.sandbox_cashier_pay(out_trade_no)
        except sandbox.SandboxPayError as exc:
            raise ServiceError(
                str(exc), code=exc.code, status=404 if exc.code == "not_found" else 409
            ) from None
        first = queued.get(blocking=False) if queued is not None else None
        return Response(
            {
                "out_trade_no": out_trade_no,
                "trade_state": "SUCCESS",
                "notify": "queued",
                "notify_status": first.get("status") if first else None,
                "notify_answer": first.get("answer") if first else None,
            }
        )
