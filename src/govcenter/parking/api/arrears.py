"""API of penalty cases (处罚案件): /api/v1/parking/penalties/ and the citizen's own.

Staff: list and detail through :class:`ScopedViewSet` (an out-of-scope id is 404), plate
masked; ``POST penalties/{id}/close/`` (a reason) and ``POST penalties/{id}/appeal/`` (a
complaint reference and a reason) need ``parking.manage_penaltycase``, are audited and
refused with 409 when the case's state does not allow them. Citizens:
``GET citizen/penalties`` lists the cases of the plates bound to their account.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.pagination import Pagination
from govcenter.core.masking import MaskedField

from ..models import PlateBinding
from ..models.arrears import PenaltyCase
from ..selectors.arrears import PenaltyCaseFilterSet
from ..services import arrears as services
from .citizens import CitizenView
from .router import router


class PenaltyEvidenceSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    segment = serializers.DictField()
    space = serializers.CharField()
    started_at = serializers.CharField()
    ended_at = serializers.CharField(allow_null=True)
    amount_fen = serializers.IntegerField()
    unpaid_fen = serializers.IntegerField()
    state = serializers.CharField()
    plate_confidence = serializers.FloatField(allow_null=True)
    start_event = serializers.DictField(allow_null=True)
    end_event = serializers.DictField(allow_null=True)


class PenaltyCaseSerializer(serializers.ModelSerializer):
    plate = MaskedField(kind="plate")
    # Plain text, not an enum: "state" already names other choice sets in the schema.
    state = serializers.CharField(read_only=True, help_text="created | notified | paid | closed | appealed")
    order_ids = serializers.SerializerMethodField()

    class Meta:
        model = PenaltyCase
        fields = [
            "id",
            "number",
            "plate",
            "district",
            "managing_unit",
            "state",
            "amount_fen",
            "unpaid_fen",
            "fine_fen",
            "order_count",
            "order_ids",
            "window_ended_at",
            "notice_outcome",
            "created_at",
            "notified_at",
            "paid_at",
            "closed_at",
            "close_reason",
            "appealed_at",
            "appeal_reference",
            "appeal_reason",
        ]
        read_only_fields = fields

    def get_order_ids(self, case) -> list[int]:
        return sorted(item.order_id for item in case.items.all())


class PenaltyCaseDetailSerializer(PenaltyCaseSerializer):
    evidence = PenaltyEvidenceSerializer(many=True, read_only=True)

    class Meta(PenaltyCaseSerializer.Meta):
        fields = [*PenaltyCaseSerializer.Meta.fields, "evidence"]
        read_only_fields = fields


class PenaltyCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class PenaltyAppealSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=64, help_text="the complaint's reference (投诉编号)")
    reason = serializers.CharField(max_length=200)


class PenaltyCaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Penalty cases (处罚案件) in the caller's scope; plates masked."""

    queryset = PenaltyCase.objects.all()
    serializer_class = PenaltyCaseSerializer
    filterset_class = PenaltyCaseFilterSet
    ordering_fields = ["created_at", "amount_fen"]
    ordering = ["-created_at", "-id"]
    read_permissions = ("parking.view_penaltycase",)
    write_permissions = ("parking.manage_penaltycase",)

    def get_serializer_class(self):
        return PenaltyCaseDetailSerializer if self.action != "list" else PenaltyCaseSerializer

    def scoped_queryset(self, queryset):
        return queryset.prefetch_related("items")

    def _respond(self, case):
        return Response(PenaltyCaseDetailSerializer(self.get_queryset().get(pk=case.pk)).data)

    @extend_schema(request=PenaltyCloseSerializer, responses=PenaltyCaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the case (结案) with a reason; audited."""
        body = PenaltyCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.penalty_case_close(actor=request.user, case=self.get_object(), **body.validated_data)
        )

    @extend_schema(request=PenaltyAppealSerializer, responses=PenaltyCaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        """Mark the case appealed (申诉): the complaint's reference and the reason; audited."""
        body = PenaltyAppealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._respond(
            services.penalty_case_appeal(actor=request.user, case=self.get_object(), **body.validated_data)
        )


class CitizenPenaltySerializer(PenaltyCaseSerializer):
    plate = serializers.CharField(read_only=True)  # the citizen's own plate

    class Meta(PenaltyCaseSerializer.Meta):
        fields = [
            "id",
            "number",
            "plate",
            "state",
            "amount_fen",
            "unpaid_fen",
            "fine_fen",
            "order_count",
            "order_ids",
            "created_at",
            "notified_at",
            "paid_at",
            "closed_at",
        ]
        read_only_fields = fields


class CitizenPenaltiesView(CitizenView):
    """The penalty cases of the plates bound to the caller's account, newest first, paginated."""

    @extend_schema(responses=CitizenPenaltySerializer(many=True))
    def get(self, request):
        plates = PlateBinding.objects.filter(citizen=self.citizen, status=PlateBinding.Status.ACTIVE).values(
            "plate"
        )
        cases = (
            PenaltyCase.objects.filter(plate__in=plates)
            .prefetch_related("items")
            .order_by("-created_at", "-id")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(cases, request, view=self)
        return paginator.get_paginated_response(CitizenPenaltySerializer(page, many=True).data)


router.register("penalties", PenaltyCaseViewSet, basename="penalty")

urlpatterns: list = [
    path("citizen/penalties", CitizenPenaltiesView.as_view(), name="citizen-penalties"),
]
