"""``/api/v1/ops/``: work logs, changes and releases, training sessions (read, in the caller's scope)."""

from __future__ import annotations

from rest_framework import mixins, serializers

from govcenter.core.api.base import ScopedViewSet

from ..models import ChangeRecord, TrainingAttendance, TrainingSession, WorkLog


class WorkLogSerializer(serializers.ModelSerializer):
    engineer_username = serializers.CharField(source="engineer.username", read_only=True)
    incident_number = serializers.CharField(source="incident.number", read_only=True, default=None)
    change_number = serializers.CharField(source="change.number", read_only=True, default=None)

    class Meta:
        model = WorkLog
        fields = ["id", "engineer", "engineer_username", "unit", "date", "category", "start_time", "end_time",
                  "summary", "details", "incident", "incident_number", "change", "change_number"]  # fmt: skip
        read_only_fields = fields


class WorkLogViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Work logs of the caller's scope, newest first."""

    queryset = WorkLog.objects.all()
    serializer_class = WorkLogSerializer
    read_permissions = ("ops.view_worklog",)
    filterset_fields = ["category", "engineer", "date"]

    def scoped_queryset(self, queryset):
        return queryset.select_related("engineer", "incident", "change")


class ChangeRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeRecord
        fields = ["id", "number", "title", "kind", "unit", "description", "version", "planned_start", "planned_end",
                  "approved_by", "approved_at", "executed_at", "result"]  # fmt: skip
        read_only_fields = fields


class ChangeRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Changes and releases of the caller's scope."""

    queryset = ChangeRecord.objects.all()
    serializer_class = ChangeRecordSerializer
    read_permissions = ("ops.view_changerecord",)
    filterset_fields = ["kind", "result"]


class TrainingAttendanceSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = TrainingAttendance
        fields = ["user", "username", "attended", "score", "comment"]
        read_only_fields = fields


class TrainingSessionSerializer(serializers.ModelSerializer):
    attendances = TrainingAttendanceSerializer(many=True, read_only=True)

    class Meta:
        model = TrainingSession
        fields = ["id", "unit", "date", "topic", "trainer", "duration_minutes", "attendances"]
        read_only_fields = fields


class TrainingSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Training sessions of the caller's scope with attendance and feedback."""

    queryset = TrainingSession.objects.all()
    serializer_class = TrainingSessionSerializer
    read_permissions = ("ops.view_trainingsession",)

    def scoped_queryset(self, queryset):
        return queryset.prefetch_related("attendances__user")
