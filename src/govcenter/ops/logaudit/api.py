"""``POST /api/v1/ops/logs``: other hosts ship their JSON log lines in batches (≤ 1000).

Needs ``ops.ingest_logrecord`` (an O&M service account's API token). The whole batch is
validated before anything is stored: one bad record refuses the batch (400, errors by index in
``details.records``); a good batch is stored in one transaction and audited once. A timestamp
must carry its UTC offset and may not lie more than 5 minutes in the future."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.errors import ServiceError

from ..models import LogLevel
from . import services

MAX_BATCH = 1000


class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its UTC offset: a host's local clock is not ours."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            tail = value.strip()[10:]
            if not (tail.endswith(("Z", "z")) or "+" in tail or "-" in tail):
                raise serializers.ValidationError("ts needs a UTC offset (Z or ±hh:mm)")
        return super().to_internal_value(value)


class LogLineSerializer(serializers.Serializer):
    ts = OffsetDateTimeField()
    level = serializers.ChoiceField(choices=LogLevel.choices)
    logger = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    message = serializers.CharField(max_length=20_000, allow_blank=False, trim_whitespace=False)
    request_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    user_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=2**63 - 1)
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    action = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    object_type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    object_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    host = serializers.CharField(max_length=100)
    app = serializers.CharField(max_length=50)
    extra = serializers.DictField(required=False, default=dict)

    def validate_ts(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + dt.timedelta(minutes=5):
            raise serializers.ValidationError("ts is in the future")
        return value


class LogBatchSerializer(serializers.Serializer):
    records = LogLineSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class LogIngestView(APIView):
    @extend_schema(request=LogBatchSerializer,
                   responses=inline_serializer("LogIngestResult", {"stored": serializers.IntegerField()}))  # fmt: skip
    def post(self, request):
        if not request.user.has_perm("ops.ingest_logrecord"):
            raise ServiceError(_("您无权提交日志。"), code="permission_denied", status=403)
        batch = LogBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        records = [
            {"ts": r["ts"], "level": r["level"], "logger": r["logger"], "message": r["message"],
             "request_id": r["request_id"], "user_id": r["user_id"], "username": r["username"], "action": r["action"],
             "object_type": r["object_type"], "object_id": r["object_id"], "source_host": r["host"],
             "source_app": r["app"], "extra": r["extra"]}
            for r in batch.validated_data["records"]
        ]  # fmt: skip
        stored = services.logs_ingest(actor=request.user, records=records)
        return Response({"stored": stored}, status=201)
