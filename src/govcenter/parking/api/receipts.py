"""Receipt API (电子收费票据): the citizen's receipts, the public verify, the staff list and void.

* ``citizen/receipts`` (citizen token): list own; ``POST`` issues for own paid orders, one
  receipt each or ``merge`` into one (same district only); ``citizen/receipts/{number}`` and
  ``…/pdf``.
* ``public/payments/{out_trade_no}/receipts`` (anonymous, throttled per IP like pay-by-plate):
  the payer of a 临时代缴 payment — who holds its number and the plate — gets the receipts of
  its orders (``POST``, merged by default) and their PDF
  (``…/receipts/{number}/pdf?plate=``).
* ``receipts/{number}/verify`` (anonymous, throttled per IP): ``GET`` (optionally
  ``?signature=`` as printed), ``POST`` with the presented ``signature`` and/or ``content``;
  shows masked data only (the signed content holds no clear plate and no phone).
* ``receipts/`` (staff, ``parking.view_receipt``, scoped by district): list, detail and
  ``POST receipts/{id}/void/`` (``parking.void_receipt``, a reason, audited).

Rules are in :mod:`govcenter.parking.services.receipts`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.pagination import Pagination

from ..models.receipts import Receipt
from ..receipts_pdf import render_receipt_pdf
from ..services import receipts as services
from .citizens import CitizenView
from .payments import OrderIdsSerializer, PublicPayThrottle
from .router import router

# -- serializers -------------------------------------------------------------------------------


class ReceiptItemSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    amount_fen = serializers.IntegerField()


class ReceiptSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name_zh", read_only=True)
    payee = serializers.CharField(source="payee_unit.name_zh", read_only=True)
    payer_plate = serializers.CharField(read_only=True, help_text="masked")
    # Plain text, not an enum: "status" choice sets of other models would collide in the schema.
    status = serializers.CharField(read_only=True, help_text="issued | voided")
    total_capital = serializers.SerializerMethodField()
    items = ReceiptItemSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "number",
            "status",
            "district",
            "payee",
            "payer_plate",
            "total_fen",
            "total_capital",
            "issued_at",
            "items",
            "key_id",
            "signature",
            "void_reason",
            "voided_at",
        ]
        read_only_fields = fields

    def get_total_capital(self, receipt) -> str:
        return services.rmb_capital(receipt.total_fen)


class StaffReceiptSerializer(ReceiptSerializer):
    class Meta(ReceiptSerializer.Meta):
        fields = ["id", *ReceiptSerializer.Meta.fields, "content_sm3", "voided_by_username"]
        read_only_fields = fields


class IssueSerializer(OrderIdsSerializer):
    merge = serializers.BooleanField(default=False, help_text="one receipt for all orders (same district)")


class VerifyQuery(serializers.Serializer):
    signature = serializers.CharField(required=False, allow_blank=True, max_length=400)


class VerifyRequestSerializer(VerifyQuery):
    content = serializers.JSONField(required=False, help_text="the receipt content as presented")

    def validate_content(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class VerificationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=sorted(services.REASONS))
    message = serializers.CharField()
    number = serializers.CharField()
    status = serializers.CharField(help_text="issued | voided")
    content = serializers.DictField(help_text="the signed receipt content (masked data only)")


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


def _verification(result: services.Verification) -> Response:
    data = {
        "valid": result.valid,
        "reason": result.reason,
        "message": str(services.REASONS[result.reason]),
        "number": result.number,
        "status": result.status,
        "content": result.content,
    }
    response = Response(VerificationSerializer(data).data)
    response["Cache-Control"] = "no-store"
    return response


def verify_url(request, number: str) -> str:
    from django.urls import reverse

    return request.build_absolute_uri(reverse("parking-api:receipt-verify", args=[number]))


def pdf_response(request, receipt: Receipt) -> HttpResponse:
    response = HttpResponse(
        render_receipt_pdf(receipt, verify_url=verify_url(request, receipt.number)),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = f'inline; filename="receipt-{receipt.pk}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


PDF_RESPONSE = {(200, "application/pdf"): OpenApiTypes.BINARY}

# -- citizen -------------------------------------------------------------------------------------


class CitizenReceiptsView(CitizenView):
    """The caller's receipts, newest first; ``POST`` issues receipts for own paid orders."""

    @extend_schema(responses=ReceiptSerializer(many=True))
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            services.citizen_receipts(citizen=self.citizen), request, view=self
        )
        return paginator.get_paginated_response(ReceiptSerializer(page, many=True).data)

    @extend_schema(
        request=IssueSerializer,
        responses={201: ReceiptSerializer(many=True), 200: ReceiptSerializer(many=True)},
    )
    def post(self, request):
        body = IssueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.receipt_issue(citizen=self.citizen, **body.validated_data)
        return Response(
            ReceiptSerializer(issued.receipts, many=True).data,
            status=status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK,
        )


class _CitizenReceipt(CitizenView):
    def receipt(self, number: str) -> Receipt:
        receipt = services.citizen_receipts(citizen=self.citizen).filter(number=number).first()
        if receipt is None:
            raise Http404
        return receipt


class CitizenReceiptView(_CitizenReceipt):
    @extend_schema(responses=ReceiptSerializer)
    def get(self, request, number: str):
        return Response(ReceiptSerializer(self.receipt(number)).data)


class CitizenReceiptPdfView(_CitizenReceipt):
    @extend_schema(responses=PDF_RESPONSE)
    def get(self, request, number: str):
        return pdf_response(request, self.receipt(number))


# -- pay by plate (临时代缴) ------------------------------------------------------------------------


class PublicReceiptRequestSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=16, help_text="the plate the payment was made for")
    merge = serializers.BooleanField(default=True, help_text="one receipt for all orders (same district)")


class PlateQuery(serializers.Serializer):
    plate = serializers.CharField(max_length=16)


class _Public(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [PublicPayThrottle]


class PublicPaymentReceiptsView(_Public):
    """Receipts of a payment made without login; the plate proves the payer knows it."""

    @extend_schema(
        request=PublicReceiptRequestSerializer,
        responses={201: ReceiptSerializer(many=True), 200: ReceiptSerializer(many=True)},
    )
    def post(self, request, out_trade_no: str):
        body = PublicReceiptRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.receipt_issue_for_payment(out_trade_no=out_trade_no, **body.validated_data)
        return Response(
            ReceiptSerializer(issued.receipts, many=True).data,
            status=status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK,
        )


class PublicPaymentReceiptPdfView(_Public):
    @extend_schema(parameters=[OpenApiParameter("plate", str, required=True)], responses=PDF_RESPONSE)
    def get(self, request, out_trade_no: str, number: str):
        query = PlateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        receipts = services.payment_receipts(out_trade_no=out_trade_no, plate=query.validated_data["plate"])
        receipt = receipts.filter(number=number).first()
        if receipt is None:
            raise Http404
        return pdf_response(request, receipt)


# -- public verify -------------------------------------------------------------------------------


class ReceiptVerifyThrottle(AnonRateThrottle):
    scope = "parking_receipt_verify"

    def get_rate(self):
        return settings.GOVCENTER_PARKING_RECEIPT_VERIFY_RATE


class ReceiptVerifyView(APIView):
    """Is receipt ``number`` authentic and in force? Anyone may ask; masked data only."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ReceiptVerifyThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("signature", str, required=False, description="Base64 signature as printed")
        ],
        responses=VerificationSerializer,
    )
    def get(self, request, number: str):
        query = VerifyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return _verification(services.receipt_verify(number=number, **query.validated_data))

    @extend_schema(request=VerifyRequestSerializer, responses=VerificationSerializer)
    def post(self, request, number: str):
        body = VerifyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _verification(services.receipt_verify(number=number, **body.validated_data))


# -- staff ---------------------------------------------------------------------------------------


class ReceiptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """E-receipts (电子票据) in the caller's scope; ``void`` (红冲) with a reason."""

    queryset = Receipt.objects.all()
    serializer_class = StaffReceiptSerializer
    filterset_class = services.ReceiptFilterSet
    ordering_fields = ["issued_at", "total_fen"]
    ordering = ["-issued_at", "-id"]
    read_permissions = ("parking.view_receipt",)
    write_permissions = ("parking.void_receipt",)

    def scoped_queryset(self, queryset):
        return queryset.select_related("district", "payee_unit").prefetch_related("items")

    @extend_schema(request=VoidSerializer, responses=StaffReceiptSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        receipt = services.receipt_void(actor=request.user, receipt=self.get_object(), **body.validated_data)
        return Response(StaffReceiptSerializer(self.get_queryset().get(pk=receipt.pk)).data)


router.register("receipts", ReceiptViewSet, basename="receipt")

urlpatterns: list = [
    path("citizen/receipts", CitizenReceiptsView.as_view(), name="citizen-receipts"),
    path("citizen/receipts/<str:number>", CitizenReceiptView.as_view(), name="citizen-receipt"),
    path("citizen/receipts/<str:number>/pdf", CitizenReceiptPdfView.as_view(), name="citizen-receipt-pdf"),
    path("receipts/<str:number>/verify", ReceiptVerifyView.as_view(), name="receipt-verify"),
    path(
        "public/payments/<str:out_trade_no>/receipts",
        PublicPaymentReceiptsView.as_view(),
        name="public-payment-receipts",
    ),
    path(
        "public/payments/<str:out_trade_no>/receipts/<str:number>/pdf",
        PublicPaymentReceiptPdfView.as_view(),
        name="public-payment-receipt-pdf",
    ),
]
