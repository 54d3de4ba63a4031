"""Rejection counters API: ``GET /api/v1/parking/rejections/`` (per source and reason).

Every refusal of bad input is counted (services/rejections.py): device ingest (HTTP and
MQTT), Excel/CSV imports, the citizen app and payment notifications. Staff filter by the kind
of source (``?kind=device|mqtt|serial|ip|import|citizen|provider``), ``reason`` and exact
``source``; ``rejections/summary`` totals the counts per kind. Operational telemetry, not
district data: city-wide, with the view permission ``parking.view_ingestrejection``.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError

from ..models import IngestRejection
from ..services import rejections as services
from .router import router

FILTERS = [
    OpenApiParameter("kind", str, enum=list(services.SOURCE_KINDS), description="Kind of source"),
    OpenApiParameter("reason", str, description="Reason code"),
    OpenApiParameter("source", str, description="Exact source, e.g. import:zhang"),
]


class IngestRejectionSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()

    class Meta:
        model = IngestRejection
        fields = ["source", "kind", "reason", "count", "first_at", "last_at"]

    def get_kind(self, row) -> str:
        return services.source_kind(row.source)


class IngestRejectionViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Rejection counters, most recently incremented first."""

    queryset = IngestRejection.objects.all()
    serializer_class = IngestRejectionSerializer
    read_permissions = ("parking.view_ingestrejection",)
    unscoped_reason = "operational telemetry of every input channel, not district data (view permission only)"

    def _filters(self) -> dict:
        params = self.request.query_params
        kind = params.get("kind", "")
        if kind and kind not in services.SOURCE_KINDS:
            raise ServiceError(
                _("未知的来源类型"),
                code="invalid_kind",
                details={"kind": [f"one of {', '.join(services.SOURCE_KINDS)}"]},
            )
        return {
            "kind": kind,
            "reason": params.get("reason", "")[:40],
            "source": params.get("source", "")[:100],
        }

    def scoped_queryset(self, queryset):
        return services.rejection_list(**self._filters())

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=FILTERS,
        responses=inline_serializer(
            "RejectionSummary",
            {"kind": serializers.CharField(), "count": serializers.IntegerField()},
            many=True,
        ),
    )
    @action(detail=False)
    def summary(self, request):
        """Total count per kind of source (the same filters)."""
        totals: dict[str, int] = {}
        for source, n in self.get_queryset().values_list("source", "count"):  # one row per (source, reason)
            kind = services.source_kind(source)
            totals[kind] = totals.get(kind, 0) + int(n)
        return Response([{"kind": k, "count": totals[k]} for k in sorted(totals)])


router.register("rejections", IngestRejectionViewSet, basename="rejection")

urlpatterns: list = []
