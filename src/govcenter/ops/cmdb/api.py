"""``/api/v1/ops/assets/`` (read, with relations both ways and expiry), ``/api/v1/ops/vulns/``
(read) and ``POST /api/v1/ops/vulns/import`` (multipart ``file`` + ``scanner``: a scanner CSV,
all or nothing — 400 ``invalid_scan`` with ``details.lines`` {line: [problems]})."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError

from ..models import Asset, AssetRelation, Vulnerability
from . import vulns


class RelationSerializer(serializers.ModelSerializer):
    source_code = serializers.CharField(source="source.code", read_only=True)
    target_code = serializers.CharField(source="target.code", read_only=True)

    class Meta:
        model = AssetRelation
        fields = ["id", "source", "source_code", "kind", "target", "target_code"]
        read_only_fields = fields


class AssetSerializer(serializers.ModelSerializer):
    unit_code = serializers.CharField(source="unit.code", read_only=True)

    class Meta:
        model = Asset
        fields = ["id", "code", "name", "asset_class", "contract_item", "product", "version", "vendor", "serial",
                  "location", "unit", "unit_code", "ip", "hostname", "status", "licence_expires_on",
                  "cert_expires_on", "notes", "attributes"]  # fmt: skip
        read_only_fields = fields


class AssetDetailSerializer(AssetSerializer):
    relations_out = RelationSerializer(many=True, read_only=True)
    relations_in = RelationSerializer(many=True, read_only=True)

    class Meta(AssetSerializer.Meta):
        fields = [*AssetSerializer.Meta.fields, "relations_out", "relations_in"]
        read_only_fields = fields


class AssetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Assets in the caller's scope; the detail has the relations both ways."""

    queryset = Asset.objects.all()
    serializer_class = AssetSerializer
    read_permissions = ("ops.view_asset",)
    filterset_fields = ["asset_class", "status", "contract_item"]

    def get_serializer_class(self):
        return AssetDetailSerializer if self.action == "retrieve" else AssetSerializer

    def scoped_queryset(self, queryset):
        queryset = queryset.select_related("unit")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("relations_out__source", "relations_out__target",
                                                 "relations_in__source", "relations_in__target")  # fmt: skip
        return queryset


class VulnerabilitySerializer(serializers.ModelSerializer):
    asset_code = serializers.CharField(source="asset.code", read_only=True)
    plan_number = serializers.CharField(source="plan.number", read_only=True, default=None)

    class Meta:
        model = Vulnerability
        fields = ["id", "asset", "asset_code", "scanner", "plugin_id", "port", "protocol", "cves", "cvss", "title",
                  "severity", "state", "found_at", "last_seen_at", "plan", "plan_number", "verified_at", "closed_at"]  # fmt: skip
        read_only_fields = fields


class VulnerabilityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Vulnerability.objects.all()
    serializer_class = VulnerabilitySerializer
    read_permissions = ("ops.view_vulnerability",)
    filterset_fields = ["state", "severity", "asset"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("asset", "plan")


class ScanImportSerializer(serializers.Serializer):
    scanner = serializers.ChoiceField(choices=list(vulns.SCANNERS))
    file = serializers.FileField()


class ScanImportView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": ScanImportSerializer}, responses=dict)
    def post(self, request):
        if not request.user.has_perm("ops.import_scan"):
            raise ServiceError(_("您无权导入漏洞扫描结果。"), code="permission_denied", status=403)
        payload = ScanImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        if upload.size > 20 * 1024 * 1024:
            raise ServiceError(_("文件过大（上限 20 MB）。"), code="too_large", status=413)
        counts = vulns.import_scan(actor=request.user, data=upload.read(), scanner=payload.validated_data["scanner"],
                                   filename=upload.name)  # fmt: skip
        return Response(counts)
