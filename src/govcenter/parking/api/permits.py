"""API of residential parking permits (居住停车认证).

Staff (``/api/v1/parking/permits/``, scoped by district; an out-of-scope id is 404):
list/detail (personal data masked), ``POST`` an application entered at the counter
(``parking.add_residentialpermit``), ``approve``/``reject``/``revoke``
(``parking.review_residentialpermit``; four eyes), ``pay-fee`` (``parking.change_residentialpermit``)
and the audited ``reveal``.

Citizens (``/api/v1/parking/citizen/permits``, app token): list their own, apply for a plate
bound to their account (segments by code), ``…/<id>/renew``.
"""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core import masking
from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.api.org import ReasonSerializer, RevealPermission
from govcenter.core.masking import MaskedField

from ..models.permits import PermitFee, ResidentialPermit
from ..services import permits as services
from .citizens import CitizenView
from .router import router

REVEALABLE = ("applicant_name", "applicant_phone", "applicant_id_number", "plate", "address")


class PermitFeeSerializer(serializers.ModelSerializer):
    # Plain text, not an enum: "status" names many choice sets in the schema.
    status = serializers.CharField(read_only=True, help_text="due | paid | cancelled")

    class Meta:
        model = PermitFee
        fields = ["month", "amount_fen", "status", "paid_at"]
        read_only_fields = fields


class _PermitBaseSerializer(serializers.ModelSerializer):
    segment_codes = serializers.SerializerMethodField()
    hours_start = serializers.TimeField(format="%H:%M", read_only=True)
    hours_end = serializers.TimeField(format="%H:%M", read_only=True)
    fees = PermitFeeSerializer(many=True, read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="submitted | active | rejected | expired | revoked"
    )

    def get_segment_codes(self, permit) -> list[str]:
        return sorted(s.code for s in permit.segments.all())


class ResidentialPermitSerializer(_PermitBaseSerializer):
    applicant_name = MaskedField(kind="name")
    applicant_phone = MaskedField(kind="phone")
    applicant_id_number = MaskedField(kind="id_number")
    plate = MaskedField(kind="plate")
    address = MaskedField(kind="name", help_text="masked (first character)")
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True, default=None)
    reviewer = serializers.CharField(source="reviewer.username", read_only=True, default=None)

    class Meta:
        model = ResidentialPermit
        fields = [
            "id",
            "district",
            "citizen",
            "applicant_name",
            "applicant_phone",
            "applicant_id_number",
            "plate",
            "address",
            "address_proof_ref",
            "segments",
            "segment_codes",
            "hours_start",
            "hours_end",
            "monthly_fee_fen",
            "months",
            "valid_from",
            "valid_to",
            "status",
            "renewal_of",
            "submitted_by",
            "submitted_at",
            "reviewer",
            "reviewed_at",
            "review_comment",
            "revoked_at",
            "reminder_sent_at",
            "fees",
        ]
        read_only_fields = fields


class CitizenPermitSerializer(_PermitBaseSerializer):
    """The citizen's own permit: their plate in clear, identity masked."""

    applicant_name = MaskedField(kind="name")
    applicant_id_number = MaskedField(kind="id_number")

    class Meta:
        model = ResidentialPermit
        fields = [
            "id",
            "plate",
            "applicant_name",
            "applicant_id_number",
            "segment_codes",
            "hours_start",
            "hours_end",
            "monthly_fee_fen",
            "months",
            "valid_from",
            "valid_to",
            "status",
            "renewal_of",
            "submitted_at",
            "reviewed_at",
            "review_comment",
            "fees",
        ]
        read_only_fields = fields


class _ApplicationFields(serializers.Serializer):
    plate = serializers.CharField(max_length=16)
    applicant_name = serializers.CharField(max_length=50)
    applicant_id_number = serializers.CharField(max_length=18)
    address = serializers.CharField(max_length=200)
    address_proof_ref = serializers.CharField(
        max_length=100, help_text="房产证/租赁备案/居住证 number or file reference"
    )
    valid_from = serializers.DateField(
        required=False, help_text="any day of the first month (default: this month)"
    )
    months = serializers.IntegerField(min_value=1, default=1)


class PermitApplySerializer(_ApplicationFields):
    """Staff entry at the counter: segments by id, hours may be set."""

    applicant_phone = serializers.CharField(max_length=20)
    segments = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    hours_start = serializers.TimeField(required=False, help_text="local, default 19:00")
    hours_end = serializers.TimeField(required=False, help_text="local, default 07:00 (may cross midnight)")


class CitizenPermitApplySerializer(_ApplicationFields):
    segments = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, help_text="segment codes"
    )


class PermitApproveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)
    monthly_fee_fen = serializers.IntegerField(
        required=False, min_value=0, help_text="default: the fee table"
    )


class PermitCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=500)


class PermitFeePaySerializer(serializers.Serializer):
    month = serializers.DateField(help_text="any day of the month paid")


class PermitRenewSerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, default=1)


class PermitRevealSerializer(serializers.Serializer):
    applicant_name = serializers.CharField()
    applicant_phone = serializers.CharField()
    applicant_id_number = serializers.CharField()
    plate = serializers.CharField()
    address = serializers.CharField()


class ResidentialPermitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Residential parking permits (居住停车认证) in the caller's districts; personal data masked."""

    queryset = ResidentialPermit.objects.all()
    serializer_class = ResidentialPermitSerializer
    filterset_class = services.PermitFilterSet
    ordering_fields = ["submitted_at", "valid_to"]
    ordering = ["-submitted_at", "-id"]
    read_permissions = ("parking.view_residentialpermit",)

    @property
    def write_permissions(self):
        return {
            "create": ("parking.add_residentialpermit",),
            "approve": ("parking.review_residentialpermit",),
            "reject": ("parking.review_residentialpermit",),
            "revoke": ("parking.review_residentialpermit",),
            "pay_fee": ("parking.change_residentialpermit",),
        }.get(self.action, ("parking.view_residentialpermit",))

    def get_permissions(self):
        if self.action == "reveal":
            return [RevealPermission()]
        return super().get_permissions()

    def scoped_queryset(self, queryset):
        return queryset.select_related("submitted_by", "reviewer").prefetch_related("segments", "fees")

    def _answer(self, permit, code=200):
        return Response(self.get_serializer(self.get_queryset().get(pk=permit.pk)).data, status=code)

    @extend_schema(request=PermitApplySerializer, responses={201: ResidentialPermitSerializer})
    def create(self, request):
        """Enter an application at the counter (the entering staff member cannot review it)."""
        body = PermitApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        permit = services.permit_apply(actor=request.user, segment_ids=data.pop("segments"), **data)
        return self._answer(permit, 201)

    def _act(self, request, body_class, service):
        """Validate the body, call ``service`` on the (scoped) permit, answer with the permit."""
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        permit = self.get_object()
        service(actor=request.user, permit=permit, **body.validated_data)
        return self._answer(permit)

    @extend_schema(request=PermitApproveSerializer, responses=ResidentialPermitSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (four eyes): the permit is active, its monthly fees due, the applicant notified."""
        return self._act(request, PermitApproveSerializer, services.permit_approve)

    @extend_schema(request=PermitCommentSerializer, responses=ResidentialPermitSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject with a comment (four eyes)."""
        return self._act(request, PermitCommentSerializer, services.permit_reject)

    @extend_schema(request=PermitCommentSerializer, responses=ResidentialPermitSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke an active permit with a reason; its due fees are cancelled."""
        return self._act(request, PermitCommentSerializer, services.permit_revoke)

    @extend_schema(request=PermitFeePaySerializer, responses=ResidentialPermitSerializer)
    @action(detail=True, methods=["post"], url_path="pay-fee")
    def pay_fee(self, request, pk=None):
        """Record the fee of one month as paid (at the counter)."""
        return self._act(request, PermitFeePaySerializer, services.permit_fee_mark_paid)

    @extend_schema(request=ReasonSerializer, responses=PermitRevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The clear personal data of one permit, for a reason; audited."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = masking.reveal_fields(
            user=request.user,
            obj=self.get_object(),
            fields=list(REVEALABLE),
            reason=body.validated_data.get("reason", ""),
        )
        response = Response(values)
        response["Cache-Control"] = "no-store"
        return response


router.register("permits", ResidentialPermitViewSet, basename="permit")


def _own_permits(citizen):
    return ResidentialPermit.objects.filter(citizen=citizen).prefetch_related("segments", "fees")


class CitizenPermitsView(CitizenView):
    """The citizen's own permits; apply for a plate bound to the account."""

    @extend_schema(responses=CitizenPermitSerializer(many=True))
    def get(self, request):
        return Response(CitizenPermitSerializer(_own_permits(self.citizen)[:100], many=True).data)

    @extend_schema(request=CitizenPermitApplySerializer, responses={201: CitizenPermitSerializer})
    def post(self, request):
        body = CitizenPermitApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        segment_ids = services.segment_ids_for_codes(data.pop("segments"))
        permit = services.permit_apply(citizen=self.citizen, segment_ids=segment_ids, **data)
        return Response(
            CitizenPermitSerializer(_own_permits(self.citizen).get(pk=permit.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CitizenPermitRenewView(CitizenView):
    @extend_schema(request=PermitRenewSerializer, responses={201: CitizenPermitSerializer})
    def post(self, request, pk: int):
        body = PermitRenewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        permit = _own_permits(self.citizen).filter(pk=pk).first()
        if permit is None:
            raise ServiceError(_("居住认证不存在。"), code="not_found", status=404)
        renewal = services.permit_renew(citizen=self.citizen, permit=permit, **body.validated_data)
        return Response(
            CitizenPermitSerializer(_own_permits(self.citizen).get(pk=renewal.pk)).data,
            status=status.HTTP_201_CREATED,
        )


urlpatterns: list = [
    path("citizen/permits", CitizenPermitsView.as_view(), name="citizen-permits"),
    path("citizen/permits/<int:pk>/renew", CitizenPermitRenewView.as_view(), name="citizen-permit-renew"),
]
