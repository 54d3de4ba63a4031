"""Fleet quota API (总量调控).

* ``GET /api/v1/bikeshare/quotas/`` — quotas with their history (every row ever set), scoped
  by operator and district; filters ``operator``, ``district``, ``citywide``, ``current``
  (in force now) — ``bikeshare.view_fleetquota``;
* ``POST /api/v1/bikeshare/quotas/`` — set a quota: it closes the open one of the same
  operator and district (``bikeshare.add_fleetquota``; operator and district in scope,
  a city-wide quota needs a city-wide scope); audited;
* ``GET /api/v1/bikeshare/quotas/over-quota/?at=YYYY-MM-DD&live=true`` — the quotas exceeded
  (registered vehicles, and with ``live=true`` bikes in the live picture, above the quota).
"""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models import FleetQuota
from ..selectors.quotas import over_quota, quota_usage
from ..services.quotas import MAX_QUOTA, quota_set
from .agency import BikeshareErrorSerializer


class FleetQuotaFilterSet(django_filters.FilterSet):
    citywide = django_filters.BooleanFilter(field_name="district", lookup_expr="isnull")
    current = django_filters.BooleanFilter(method="filter_current", help_text="in force now")

    class Meta:
        model = FleetQuota
        fields = ["operator", "district", "citywide", "current"]

    def filter_current(self, queryset, name, value):
        if value is None:
            return queryset
        now = timezone.now()
        q = Q(valid_from__lte=now) & (Q(valid_to__isnull=True) | Q(valid_to__gt=now))
        return queryset.filter(q) if value else queryset.exclude(q)


class FleetQuotaSerializer(serializers.ModelSerializer):
    operator_name = serializers.CharField(source="operator.name_zh", read_only=True)
    district_code = serializers.CharField(
        source="district.code", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = FleetQuota
        fields = ["id", "operator", "operator_name", "district", "district_code", "quota", "valid_from",
                  "valid_to", "reason", "set_by", "created_at"]  # fmt: skip
        read_only_fields = fields


class FleetQuotaSetSerializer(serializers.Serializer):
    operator = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="the operator's unit id")
    district = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="GB/T 2260 code; empty: city-wide"
    )
    quota = serializers.IntegerField(min_value=0, max_value=MAX_QUOTA)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    valid_from = serializers.DateTimeField(required=False, help_text="default: now")


class QuotaUsageSerializer(serializers.Serializer):
    quota_id = serializers.IntegerField()
    operator_id = serializers.IntegerField()
    operator_code = serializers.CharField()
    operator_name = serializers.CharField()
    district_id = serializers.IntegerField(allow_null=True)
    district_code = serializers.CharField(allow_null=True, help_text="null: city-wide")
    district_name = serializers.CharField(allow_null=True)
    quota = serializers.IntegerField()
    registered = serializers.IntegerField(help_text="registered vehicles not retired")
    live = serializers.IntegerField(allow_null=True, help_text="bikes in the live picture (live=true)")
    excess = serializers.IntegerField(help_text="max(registered, live) − quota")


class FleetQuotaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Fleet quotas (车辆投放总量) and their history."""

    queryset = FleetQuota.objects.all()
    serializer_class = FleetQuotaSerializer
    filterset_class = FleetQuotaFilterSet
    ordering_fields = ["valid_from", "quota"]
    ordering = ["operator", "district", "-valid_from"]
    read_permissions = ("bikeshare.view_fleetquota",)
    write_permissions = ("bikeshare.add_fleetquota",)

    def scoped_queryset(self, queryset):
        return queryset.select_related("operator", "district")

    @extend_schema(
        operation_id="bikeshare_quotas_set",
        request=FleetQuotaSetSerializer,
        responses={
            201: FleetQuotaSerializer,
            400: BikeshareErrorSerializer,
            403: BikeshareErrorSerializer,
            404: BikeshareErrorSerializer,
            409: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    def create(self, request):
        body = FleetQuotaSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        operator = Unit.objects.restrict(user).filter(kind=UnitKind.OPERATOR, pk=data["operator"]).first()
        if operator is None:
            raise ServiceError("no such operator in your scope", code="not_found", status=404)
        district = None
        if data.get("district"):
            district = District.objects.restrict(user).filter(code=data["district"]).first()
            if district is None:
                raise ServiceError("no such district in your scope", code="not_found", status=404)
        elif not scope_for(user).all:
            raise ServiceError("a city-wide quota needs a city-wide scope", code="out_of_scope", status=403)
        quota = quota_set(
            user,
            operator=operator,
            district=district,
            quota=data["quota"],
            reason=data.get("reason", ""),
            valid_from=data.get("valid_from"),
        )
        return Response(FleetQuotaSerializer(quota).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="bikeshare_quotas_over_quota",
        parameters=[
            OpenApiParameter("at", str, description="a date (its end) or a date-time; default now"),
            OpenApiParameter("live", bool, description="also count the live picture"),
            OpenApiParameter("all", bool, description="every quota in force, not only the exceeded ones"),
        ],
        responses={
            200: QuotaUsageSerializer(many=True),
            400: BikeshareErrorSerializer,
            503: BikeshareErrorSerializer,
        },
        tags=["bikeshare"],
    )
    @action(detail=False, methods=["get"], url_path="over-quota", pagination_class=None, filterset_class=None)
    def over_quota(self, request):
        """The quotas exceeded now (or at ``at``)."""
        at = _parse_at(request.query_params.get("at"))
        live = None
        if request.query_params.get("live") in ("1", "true", "True"):
            from ..live import open_live_state

            try:
                live = open_live_state()
            except Exception as exc:  # noqa: BLE001  (any store failure is "unavailable")
                raise ServiceError("the live picture is unavailable", code="live_unavailable", status=503,
                                   details={"error": str(exc)[:200]}) from None  # fmt: skip
        select = quota_usage if request.query_params.get("all") in ("1", "true", "True") else over_quota
        try:
            rows = select(at, live=live, user=request.user)
        except OverflowError:  # the end of 9999-12-31 and the like
            raise ServiceError(
                "at is out of range", code="bad_at", details={"at": request.query_params["at"]}
            ) from None
        return Response([r.as_dict() for r in rows])


def _parse_at(value):
    if not value:
        return None
    from django.utils.dateparse import parse_date, parse_datetime

    try:
        moment = parse_datetime(value)
        if moment is not None:
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise ServiceError(
            "at must be a date or a date-time (ISO 8601)", code="bad_at", details={"at": value}
        )
    return day


def register(router) -> None:
    router.register("quotas", FleetQuotaViewSet, basename="fleetquota")
