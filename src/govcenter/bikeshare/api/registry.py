"""Staff API of the operator registry.

* ``GET /api/v1/bikeshare/vehicles/`` (and ``/{id}/``) — registered vehicles through the data
  scope: an operator's staff see their own operator's vehicles, district staff their
  district's, the Center all (``bikeshare.view_vehicle``; an out-of-scope id is 404).
* ``POST /api/v1/bikeshare/operators/{id}/credentials`` — issue (rotate) an operator's API key
  (``bikeshare.add_operatorcredential``; the operator must be in the caller's scope, else
  404). The secret is in this response only (``Cache-Control: no-store``); audited.
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission, ScopedViewSet
from govcenter.core.models import Unit, UnitKind

from ..models import Vehicle, VehicleState
from ..services.auth import operator_credential_issue
from .agency import BikeshareErrorSerializer


class VehicleFilterSet(django_filters.FilterSet):
    vehicle_id = django_filters.CharFilter()
    state = django_filters.ChoiceFilter(choices=VehicleState.choices)

    class Meta:
        model = Vehicle
        fields = ["operator", "district", "vehicle_type", "state", "vehicle_id"]


class VehicleSerializer(serializers.ModelSerializer):
    operator_name = serializers.CharField(source="operator.name_zh", read_only=True)
    propulsion_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    is_ebike = serializers.BooleanField(read_only=True, help_text="bicycle with electric propulsion (助力车)")
    state = serializers.CharField(read_only=True, help_text="MDS vehicle_state")

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "operator",
            "operator_name",
            "device_id",
            "provider_id",
            "vehicle_id",
            "e_tag",
            "vehicle_type",
            "propulsion_types",
            "is_ebike",
            "state",
            "district",
            "registered_at",
            "retired_at",
        ]
        read_only_fields = fields


class VehicleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Registered vehicles (车辆) in the caller's scope."""

    queryset = Vehicle.objects.all()
    serializer_class = VehicleSerializer
    filterset_class = VehicleFilterSet
    ordering_fields = ["vehicle_id", "registered_at"]
    ordering = ["operator", "vehicle_id"]
    read_permissions = ("bikeshare.view_vehicle",)

    def scoped_queryset(self, queryset):
        return queryset.select_related("operator").defer("mds_record")


class OperatorCredentialSerializer(serializers.Serializer):
    operator = serializers.IntegerField()
    key_id = serializers.CharField(help_text="public: sent as X-Operator-Key")
    secret = serializers.CharField(help_text="Shown once; stored only as a digest and a ciphertext.")
    issued_at = serializers.DateTimeField()


class OperatorCredentialIssueView(APIView):
    """Issue (rotate) an operator's API key; earlier keys stop working."""

    write_permissions = ("bikeshare.add_operatorcredential",)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_operator_credentials_issue",
        request=None,
        responses={
            201: OperatorCredentialSerializer,
            403: BikeshareErrorSerializer,
            404: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def post(self, request, pk: int):
        operator = get_object_or_404(
            Unit.objects.restrict(request.user).filter(kind=UnitKind.OPERATOR), pk=pk
        )
        credential, secret = operator_credential_issue(actor=request.user, operator=operator)
        response = Response(
            {
                "operator": operator.pk,
                "key_id": credential.key_id,
                "secret": secret,
                "issued_at": serializers.DateTimeField().to_representation(credential.issued_at),
            },
            status=status.HTTP_201_CREATED,
        )
        response["Cache-Control"] = "no-store"
        return response


def register(router) -> None:
    router.register("vehicles", VehicleViewSet, basename="vehicle")
