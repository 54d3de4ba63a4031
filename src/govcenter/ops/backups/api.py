"""``/api/v1/ops/backups/`` and ``/api/v1/ops/backup-drills/``: read-only; the Center's
backups and restore drills for whoever holds ``ops.view_backup``."""

from __future__ import annotations

from rest_framework import mixins, serializers

from govcenter.core.api.base import ScopedViewSet

from ..models import Backup, RestoreDrill

UNSCOPED = "backups and drills are the Center's system records, not a unit's or a district's data"


class BackupSerializer(serializers.ModelSerializer):
    table_count = serializers.SerializerMethodField()

    class Meta:
        model = Backup
        fields = ["id", "kind", "engine", "state", "started_at", "finished_at", "path", "size", "sm3_ciphertext",
                  "sm3_plaintext", "key_id", "expires_at", "error", "historical", "table_count", "tables"]  # fmt: skip
        read_only_fields = fields

    def get_table_count(self, backup) -> int:
        return len(backup.tables or {})


class TableComparisonSerializer(serializers.Serializer):
    table = serializers.CharField()
    rows_expected = serializers.IntegerField(allow_null=True)
    rows_restored = serializers.IntegerField(allow_null=True)
    sm3_expected = serializers.CharField(allow_blank=True)
    sm3_restored = serializers.CharField(allow_blank=True)
    match = serializers.BooleanField()


class RestoreDrillSerializer(serializers.ModelSerializer):
    tables = TableComparisonSerializer(many=True, read_only=True)
    mismatched = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RestoreDrill
        fields = ["id", "backup", "backup_label", "started_at", "finished_at", "scratch_target", "result",
                  "mismatched", "error", "historical", "tables"]  # fmt: skip
        read_only_fields = fields


class BackupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Backups, newest first (no file content: size, checksums, key id, per-table figures)."""

    queryset = Backup.objects.all()
    serializer_class = BackupSerializer
    read_permissions = ("ops.view_backup",)
    unscoped_reason = UNSCOPED
    filterset_fields = ["kind", "state", "engine"]


class RestoreDrillViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Restore drills, newest first, each with its table-by-table comparison."""

    queryset = RestoreDrill.objects.all()
    serializer_class = RestoreDrillSerializer
    read_permissions = ("ops.view_backup",)
    unscoped_reason = UNSCOPED
    filterset_fields = ["result", "backup"]
