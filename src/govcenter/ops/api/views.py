"""``/api/v1/ops/``: incidents with their SLA clock (read, in the caller's scope) and an
Alertmanager-compatible webhook (``POST alerts``) that opens incidents from firing alerts.

The webhook takes Alertmanager's v4 payload. Each firing alert becomes an incident (or finds
the open one with its fingerprint: a repeated notification is not a second fault): severity
from the ``severity`` label (``critical`` → S1, ``major``/``error`` → S2, ``warning`` → S3,
``info``/``minor`` → S4, or S1–S4 as such), the unit from the ``unit`` label (a unit code in
the caller's scope) or the caller's own unit, the title from ``annotations.summary`` or
``labels.alertname``, the report time from ``startsAt``. Resolved alerts are counted, not
acted on: an incident is resolved by a person, with its root cause. The whole payload is
checked before anything is opened: a bad alert refuses the request (400, by index).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError

from .. import incidents
from ..models import Incident

SEVERITY_LABELS = {
    "critical": "S1", "page": "S1", "s1": "S1",
    "major": "S2", "error": "S2", "high": "S2", "s2": "S2",
    "warning": "S3", "s3": "S3",
    "info": "S4", "minor": "S4", "low": "S4", "s4": "S4",
}  # fmt: skip


class IncidentSerializer(serializers.ModelSerializer):
    unit_code = serializers.CharField(source="unit.code", read_only=True)
    clock = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "number", "title", "description", "severity", "source", "state", "unit", "unit_code",
                  "reported_at", "day_kind", "respond_by", "resolve_by", "responded_at", "resolved_at", "breach",
                  "contractor_caused", "root_cause", "resolution", "review", "clock"]  # fmt: skip
        read_only_fields = fields

    def get_clock(self, incident) -> dict:
        return incidents.clock(incident).as_dict()


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Incidents in the caller's scope, newest first, each with its SLA clock as of now."""

    queryset = Incident.objects.all()
    serializer_class = IncidentSerializer
    read_permissions = ("ops.view_incident",)
    filterset_fields = ["state", "severity"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("unit").prefetch_related("pauses")


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = serializers.DictField(child=serializers.CharField(max_length=300, allow_blank=True))
    annotations = serializers.DictField(child=serializers.CharField(max_length=2000, allow_blank=True), required=False)
    startsAt = serializers.DateTimeField()  # noqa: N815 (Alertmanager's name)
    fingerprint = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate(self, data):
        if data["status"] == "firing":
            label = (data["labels"].get("severity") or "").strip().lower()
            if label not in SEVERITY_LABELS:
                raise serializers.ValidationError({"labels": [f"severity {label!r} is not one of {sorted(SEVERITY_LABELS)}"]})
        return data


class AlertPayloadSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=10, required=False)
    status = serializers.CharField(max_length=20, required=False)
    alerts = AlertSerializer(many=True, allow_empty=False, max_length=500)


class AlertWebhookView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=AlertPayloadSerializer, responses=dict)
    def post(self, request):
        user = request.user
        if not user.has_perm("ops.add_incident"):
            raise ServiceError(_("您无权报告故障。"), code="permission_denied", status=403)
        payload = AlertPayloadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        alerts = payload.validated_data["alerts"]
        opened, existing = incidents.incidents_from_alerts(actor=user, alerts=alerts, severities=SEVERITY_LABELS)
        resolved = sum(1 for a in alerts if a["status"] == "resolved")
        return Response({"opened": opened, "existing": existing, "resolved_ignored": resolved})
