"""API of complaints/appeals (投诉/申诉), fee adjustments and customer-service tickets (客服工单).

Staff (router, :class:`ScopedViewSet`: an out-of-scope id is 404):

* ``complaints/`` list (filters: status, district, channel, kind, category, overdue, number),
  create (hotline/mailbox entry, ``parking.add_complaint``), detail with the timeline and the
  fee adjustments; ``POST complaints/{id}/accept|reject|transfer|reply|close|rate`` and
  ``route`` (``parking.route_complaint``), ``adjust-fee`` (``parking.add_feeadjustment``),
  ``reveal`` (audited clear phone/plate).
* ``fee-adjustments/`` read-only list.
* ``tickets/`` list, create, detail with replies; ``POST tickets/{id}/reply|close|reopen|rate|convert|reveal``.

Citizens (``Authorization: Bearer ct_…``): ``citizen/complaints`` (list own, create about an
order of a plate bound to the account — another's order is 404), ``citizen/complaints/{id}``,
``citizen/complaints/{id}/rating``.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core import masking
from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.api.org import ReasonSerializer, RevealPermission, ScopedPrimaryKeyRelatedField
from govcenter.core.api.pagination import Pagination
from govcenter.core.masking import MaskedField
from govcenter.core.models import District, Unit

from ..models.complaints import (
    Complaint,
    ComplaintAction,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    FeeAdjustment,
    ServiceTicket,
    TicketCategory,
    TicketChannel,
    TicketReply,
    TicketStatus,
)
from ..models.orders import Order
from ..services import complaints as services
from ..services import tickets as ticket_services
from ..services.complaints import ComplaintFilterSet, TicketFilterSet
from ..services.payments import citizen_plates
from .citizens import CitizenView
from .router import router

# ------------------------------------------------------------------------------------------
# Serializers
# ------------------------------------------------------------------------------------------


def _enum(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field documented as a string listing its values, not as an enum: ``status``,
    ``kind``, ``channel`` … name many choice sets across the API and drf-spectacular would
    give each enum a hashed component name (validated all the same)."""
    values = list(choices.values) + (["(blank)"] if kwargs.get("allow_blank") else [])
    # A class per choice set: serializers deep-copy (re-instantiate) their fields.
    field_class = extend_schema_field({"type": "string", "description": " | ".join(values)})(
        type(f"{choices.__name__}Field", (serializers.ChoiceField,), {})
    )
    return field_class(choices=choices.choices, **kwargs)


class ComplaintActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ComplaintAction
        fields = ["action", "from_status", "to_status", "note", "actor_name", "created_at"]
        read_only_fields = fields


class FeeAdjustmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeeAdjustment
        fields = [
            "id",
            "order",
            "complaint",
            "amount_fen",
            "reason",
            "adjustment_before_fen",
            "adjustment_after_fen",
            "refund_due_fen",
            "refund_ref",
            "actor_name",
            "created_at",
        ]
        read_only_fields = fields


class ComplaintSerializer(serializers.ModelSerializer):
    kind = _enum(ComplaintKind, read_only=True)
    channel = _enum(ComplaintChannel, read_only=True)
    category = _enum(ComplaintCategory, read_only=True)
    status = _enum(ComplaintStatus, read_only=True)
    outcome = _enum(ComplaintOutcome, read_only=True, allow_blank=True)
    contact_phone = MaskedField(kind="phone")
    plate = MaskedField(kind="plate")
    deadline_state = serializers.SerializerMethodField(help_text="ok | near | overdue | done")

    class Meta:
        model = Complaint
        fields = [
            "id",
            "number",
            "kind",
            "channel",
            "category",
            "subject",
            "body",
            "contact_phone",
            "plate",
            "order",
            "district",
            "handling_unit",
            "status",
            "received_at",
            "deadline",
            "deadline_state",
            "accepted_at",
            "replied_at",
            "closed_at",
            "reply_text",
            "outcome",
            "reject_reason",
            "transferred_to",
            "satisfaction",
            "satisfaction_comment",
            "rated_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_deadline_state(self, obj) -> str:
        return obj.deadline_state()


class ComplaintDetailSerializer(ComplaintSerializer):
    actions = ComplaintActionSerializer(many=True, read_only=True)
    fee_adjustments = FeeAdjustmentSerializer(many=True, read_only=True)

    class Meta(ComplaintSerializer.Meta):
        fields = [*ComplaintSerializer.Meta.fields, "actions", "fee_adjustments"]
        read_only_fields = fields


class ComplaintCreateSerializer(serializers.Serializer):
    kind = _enum(ComplaintKind)
    channel = _enum(ComplaintChannel)
    category = _enum(ComplaintCategory)
    subject = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4000)
    order = ScopedPrimaryKeyRelatedField(queryset=Order.objects.all(), required=False, allow_null=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    plate = serializers.CharField(max_length=16, required=False, allow_blank=True)
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)
    handling_unit = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all(), required=False, allow_null=True)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class TransferSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=100, help_text="the body the complaint is handed to")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000)
    outcome = _enum(ComplaintOutcome)


class CloseSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, help_text="needed when not replied"
    )
    outcome = _enum(ComplaintOutcome, required=False)


class RouteSerializer(serializers.Serializer):
    district = serializers.PrimaryKeyRelatedField(queryset=District.objects.all())
    handling_unit = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.all(), required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=500)


class RateSerializer(serializers.Serializer):
    satisfaction = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AdjustFeeSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(
        min_value=-(2**31), max_value=2**31 - 1, help_text="signed fen; negative lowers the fee"
    )
    reason = serializers.CharField(max_length=500)


class PersonalRevealSerializer(serializers.Serializer):
    contact_phone = serializers.CharField(required=False)
    caller_phone = serializers.CharField(required=False)
    plate = serializers.CharField(required=False)


class TicketReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketReply
        fields = ["id", "text", "public", "author_name", "created_at"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    channel = _enum(TicketChannel, read_only=True)
    category = _enum(TicketCategory, read_only=True)
    status = _enum(TicketStatus, read_only=True)
    caller_phone = MaskedField(kind="phone")
    plate = MaskedField(kind="plate")
    complaint_number = serializers.CharField(source="complaint.number", read_only=True, default=None)

    class Meta:
        model = ServiceTicket
        fields = [
            "id",
            "number",
            "channel",
            "category",
            "caller_phone",
            "plate",
            "subject",
            "body",
            "district",
            "status",
            "first_answer_at",
            "answer_minutes",
            "closed_at",
            "satisfaction",
            "rated_at",
            "complaint",
            "complaint_number",
            "created_at",
        ]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    replies = TicketReplySerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "replies"]
        read_only_fields = fields


class TicketCreateSerializer(serializers.Serializer):
    channel = _enum(TicketChannel)
    category = _enum(TicketCategory)
    subject = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4000)
    caller_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    plate = serializers.CharField(max_length=16, required=False, allow_blank=True)
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)


class TicketReplyRequestSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000)
    public = serializers.BooleanField(default=True, help_text="false: an internal note (does not answer)")


class TicketReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class TicketRateSerializer(serializers.Serializer):
    satisfaction = serializers.IntegerField(min_value=1, max_value=5)


class TicketConvertSerializer(serializers.Serializer):
    kind = _enum(ComplaintKind)
    category = _enum(ComplaintCategory)
    order = ScopedPrimaryKeyRelatedField(queryset=Order.objects.all(), required=False, allow_null=True)
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)
    handling_unit = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all(), required=False, allow_null=True)


# ------------------------------------------------------------------------------------------
# Staff viewsets
# ------------------------------------------------------------------------------------------


def _body(serializer_class, request, context=None) -> dict:
    body = serializer_class(data=request.data, context=context or {})
    body.is_valid(raise_exception=True)
    return body.validated_data


def _reveal(view, request, fields: list[str]) -> Response:
    data = _body(ReasonSerializer, request)
    obj = view.get_object()
    wanted = [f for f in fields if getattr(obj, f)]
    values = (
        masking.reveal_fields(user=request.user, obj=obj, fields=wanted, reason=data.get("reason", ""))
        if wanted
        else {}
    )
    response = Response(values)
    response["Cache-Control"] = "no-store"
    return response


class ComplaintViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Complaints and appeals (投诉/申诉) in the caller's scope; phone and plate masked."""

    queryset = Complaint.objects.all()
    serializer_class = ComplaintSerializer
    filterset_class = ComplaintFilterSet
    ordering_fields = ["received_at", "deadline"]
    ordering = ["-received_at", "-id"]
    read_permissions = ("parking.view_complaint",)

    WRITE = {
        "create": ("parking.add_complaint",),
        "route": ("parking.change_complaint", "parking.route_complaint"),
        "adjust_fee": ("parking.change_complaint", "parking.add_feeadjustment"),
    }

    @property
    def write_permissions(self):
        return self.WRITE.get(self.action, ("parking.change_complaint",))

    def get_permissions(self):
        if self.action == "reveal":
            return [RevealPermission()]
        return super().get_permissions()

    def get_serializer_class(self):
        return ComplaintDetailSerializer if self.action != "list" else ComplaintSerializer

    def scoped_queryset(self, queryset):
        if self.action == "list":
            return queryset.select_related("district", "handling_unit")
        return queryset.prefetch_related("actions", "fee_adjustments")

    def _respond(self, complaint, code=status.HTTP_200_OK):
        fresh = self.get_queryset().filter(pk=complaint.pk).first()
        if fresh is None:  # routed out of the caller's scope
            return Response(ComplaintSerializer(complaint).data, status=code)
        return Response(ComplaintDetailSerializer(fresh).data, status=code)

    @extend_schema(request=ComplaintCreateSerializer, responses={201: ComplaintDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Register a complaint/appeal received by hotline, mailbox or in person."""
        data = _body(ComplaintCreateSerializer, request, self.get_serializer_context())
        complaint = services.complaint_create(actor=request.user, **data)
        return self._respond(complaint, status.HTTP_201_CREATED)

    @extend_schema(request=NoteSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        data = _body(NoteSerializer, request)
        return self._respond(
            services.complaint_accept(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=RejectSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = _body(RejectSerializer, request)
        return self._respond(
            services.complaint_reject(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=TransferSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        data = _body(TransferSerializer, request)
        return self._respond(
            services.complaint_transfer(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=ReplySerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        data = _body(ReplySerializer, request)
        return self._respond(
            services.complaint_reply(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=CloseSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = _body(CloseSerializer, request)
        return self._respond(
            services.complaint_close(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=RouteSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def route(self, request, pk=None):
        """Re-route (改派) to another district/unit; audited."""
        data = _body(RouteSerializer, request)
        return self._respond(
            services.complaint_route(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=RateSerializer, responses=ComplaintDetailSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        """Record the citizen's satisfaction from a call-back."""
        data = _body(RateSerializer, request)
        return self._respond(services.complaint_rate(actor=request.user, complaint=self.get_object(), **data))

    @extend_schema(request=AdjustFeeSerializer, responses={201: FeeAdjustmentSerializer})
    @action(detail=True, methods=["post"], url_path="adjust-fee")
    def adjust_fee(self, request, pk=None):
        """A fee adjustment entry on the complaint's order (the bill itself is never edited)."""
        data = _body(AdjustFeeSerializer, request)
        adjustment = services.complaint_fee_adjust(actor=request.user, complaint=self.get_object(), **data)
        return Response(FeeAdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=PersonalRevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The clear contact phone and plate, for a reason; audited."""
        return _reveal(self, request, ["contact_phone", "plate"])


class FeeAdjustmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Fee adjustment entries (费用调整) in the caller's scope."""

    queryset = FeeAdjustment.objects.all()
    serializer_class = FeeAdjustmentSerializer
    filterset_fields = ["order", "complaint"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    read_permissions = ("parking.view_feeadjustment",)


class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet):
    """Customer-service tickets (客服工单): the Center's; a district sees those referred to it."""

    queryset = ServiceTicket.objects.all()
    serializer_class = TicketSerializer
    filterset_class = TicketFilterSet
    ordering_fields = ["created_at", "answer_minutes"]
    ordering = ["-created_at", "-id"]
    read_permissions = ("parking.view_serviceticket",)

    @property
    def write_permissions(self):
        if self.action == "create":
            return ("parking.add_serviceticket",)
        if self.action == "convert":
            return ("parking.change_serviceticket", "parking.add_complaint")
        return ("parking.change_serviceticket",)

    def get_permissions(self):
        if self.action == "reveal":
            return [RevealPermission()]
        return super().get_permissions()

    def get_serializer_class(self):
        return TicketDetailSerializer if self.action != "list" else TicketSerializer

    def scoped_queryset(self, queryset):
        if self.action == "list":
            return queryset.select_related("complaint")
        return queryset.select_related("complaint").prefetch_related("replies")

    def _respond(self, ticket, code=status.HTTP_200_OK):
        return Response(TicketDetailSerializer(self.get_queryset().get(pk=ticket.pk)).data, status=code)

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = _body(TicketCreateSerializer, request, self.get_serializer_context())
        return self._respond(
            ticket_services.ticket_create(actor=request.user, **data), status.HTTP_201_CREATED
        )

    @extend_schema(request=TicketReplyRequestSerializer, responses={201: TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        data = _body(TicketReplyRequestSerializer, request)
        reply = ticket_services.ticket_reply(actor=request.user, ticket=self.get_object(), **data)
        return self._respond(reply.ticket, status.HTTP_201_CREATED)

    @extend_schema(request=NoteSerializer, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = _body(NoteSerializer, request)
        return self._respond(
            ticket_services.ticket_close(actor=request.user, ticket=self.get_object(), **data)
        )

    @extend_schema(request=TicketReopenSerializer, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        data = _body(TicketReopenSerializer, request)
        return self._respond(
            ticket_services.ticket_reopen(actor=request.user, ticket=self.get_object(), **data)
        )

    @extend_schema(request=TicketRateSerializer, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        data = _body(TicketRateSerializer, request)
        return self._respond(
            ticket_services.ticket_rate(actor=request.user, ticket=self.get_object(), **data)
        )

    @extend_schema(request=TicketConvertSerializer, responses={201: ComplaintDetailSerializer})
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        """Turn the ticket into a complaint/appeal (投诉转办), linked and routed."""
        data = _body(TicketConvertSerializer, request, self.get_serializer_context())
        complaint = ticket_services.ticket_convert(actor=request.user, ticket=self.get_object(), **data)
        return Response(ComplaintDetailSerializer(complaint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=PersonalRevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The clear caller phone and plate, for a reason; audited."""
        return _reveal(self, request, ["caller_phone", "plate"])


router.register("complaints", ComplaintViewSet, basename="complaint")
router.register("fee-adjustments", FeeAdjustmentViewSet, basename="feeadjustment")
router.register("tickets", TicketViewSet, basename="ticket")


# ------------------------------------------------------------------------------------------
# Citizen endpoints
# ------------------------------------------------------------------------------------------


class CitizenComplaintSerializer(serializers.ModelSerializer):
    kind = _enum(ComplaintKind, read_only=True)
    channel = _enum(ComplaintChannel, read_only=True)
    category = _enum(ComplaintCategory, read_only=True)
    status = _enum(ComplaintStatus, read_only=True)
    outcome = _enum(ComplaintOutcome, read_only=True, allow_blank=True)
    plate = MaskedField(kind="plate")

    class Meta:
        model = Complaint
        fields = [
            "id",
            "number",
            "kind",
            "channel",
            "category",
            "subject",
            "body",
            "plate",
            "order",
            "status",
            "received_at",
            "deadline",
            "replied_at",
            "closed_at",
            "reply_text",
            "outcome",
            "reject_reason",
            "transferred_to",
            "satisfaction",
            "satisfaction_comment",
        ]
        read_only_fields = fields


class CitizenComplaintCreateSerializer(serializers.Serializer):
    kind = _enum(ComplaintKind)
    category = _enum(ComplaintCategory)
    subject = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=4000)
    order = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)
    district = serializers.PrimaryKeyRelatedField(
        queryset=District.objects.all(), required=False, allow_null=True, help_text="needed without an order"
    )


def _citizen_complaints(citizen):
    return Complaint.objects.filter(citizen=citizen).order_by("-received_at", "-id")


class CitizenComplaintsView(CitizenView):
    """The caller's complaints (list) and a new one about their own order (create)."""

    @extend_schema(responses=CitizenComplaintSerializer(many=True))
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(_citizen_complaints(self.citizen), request, view=self)
        return paginator.get_paginated_response(CitizenComplaintSerializer(page, many=True).data)

    @extend_schema(request=CitizenComplaintCreateSerializer, responses={201: CitizenComplaintSerializer})
    def post(self, request):
        data = _body(CitizenComplaintCreateSerializer, request)
        order = None
        if data.get("order"):
            # Only an order of a plate bound to this account: anyone else's is "not found".
            order = Order.objects.filter(pk=data["order"], plate__in=citizen_plates(self.citizen)).first()
            if order is None:
                raise ServiceError(
                    "订单不存在", code="order_not_found", status=404, details={"order": [str(data["order"])]}
                )
        complaint = services.complaint_create(
            actor=None,
            citizen=self.citizen,
            channel=ComplaintChannel.APP,
            kind=data["kind"],
            category=data["category"],
            subject=data["subject"],
            body=data["body"],
            order=order,
            district=data.get("district"),
        )
        return Response(CitizenComplaintSerializer(complaint).data, status=status.HTTP_201_CREATED)


class CitizenComplaintView(CitizenView):
    @extend_schema(responses=CitizenComplaintSerializer)
    def get(self, request, pk: int):
        complaint = _citizen_complaints(self.citizen).filter(pk=pk).first()
        if complaint is None:
            raise Http404
        return Response(CitizenComplaintSerializer(complaint).data)


class CitizenComplaintRatingView(CitizenView):
    @extend_schema(request=RateSerializer, responses=CitizenComplaintSerializer)
    def post(self, request, pk: int):
        """Rate a closed complaint (1–5), once."""
        data = _body(RateSerializer, request)
        complaint = _citizen_complaints(self.citizen).filter(pk=pk).first()
        if complaint is None:
            raise Http404
        complaint = services.complaint_rate(complaint=complaint, actor=None, **data)
        return Response(CitizenComplaintSerializer(complaint).data)


urlpatterns: list = [
    path("citizen/complaints", CitizenComplaintsView.as_view(), name="citizen-complaints"),
    path("citizen/complaints/<int:pk>", CitizenComplaintView.as_view(), name="citizen-complaint"),
    path(
        "citizen/complaints/<int:pk>/rating",
        CitizenComplaintRatingView.as_view(),
        name="citizen-complaint-rating",
    ),
]
