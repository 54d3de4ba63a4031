"""``POST /api/v1/parking/device-events``: a batch of CDS curb events from one device.

Authentication is per device, never a staff session or API token:

* ``Authorization: Device <token>`` (the credential issued once to the device), or
* HMAC-SM3 signature headers ``X-Device-Serial``, ``X-Timestamp`` (Unix seconds, ±5 min),
  ``X-Nonce`` (8–64 characters, single use) and ``X-Signature`` = hex HMAC-SM3, keyed with
  the device token, over ``METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))``.

Unknown device, bad token, bad or replayed signature, stale timestamp → 401
``{"code", "message", "details"}``, counted per source. The body is ``{"events": [...]}``
(at most ``GOVCENTER_PARKING_MAX_BATCH``; more is 413, nothing written). The answer is 200
with one result per event, in input order, and the counts per outcome — a rejected or
anomalous event is reported in its result, never as an HTTP error.
"""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.middleware import client_ip

from ..services import events as services


class DeviceEventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(choices=["accepted", "duplicate", "anomaly", "rejected"])
    reason = serializers.CharField(allow_blank=True)
    order_id = serializers.IntegerField(allow_null=True)
    message = serializers.CharField(required=False)
    original_outcome = serializers.CharField(required=False, help_text="for duplicates: what the first copy became")


class DeviceEventBatchResponseSerializer(serializers.Serializer):
    results = DeviceEventResultSerializer(many=True)
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    anomalies = serializers.IntegerField()
    rejected = serializers.IntegerField()


class DeviceEventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        help_text="CDS Curb Events (event_id, event_type, event_time, curb_space_id or space_number, "
        "vehicle_license_plate, …); each is validated on its own and gets its own result",
    )


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


_SIGNATURE_HEADERS = [
    OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False, description=text)
    for name, text in (
        ("X-Device-Serial", "signed requests: the device serial"),
        ("X-Timestamp", "signed requests: Unix seconds"),
        ("X-Nonce", "signed requests: single-use nonce"),
        ("X-Signature", "signed requests: hex HMAC-SM3"),
    )
]


def authenticate_device(request):
    """The device of the request (token or signature); a counted 401 ServiceError otherwise."""
    source = f"ip:{client_ip(request) or '-'}"
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Device "):
        return services.device_authenticate_token(token=header.removeprefix("Device ").strip(), source=source)
    serial = request.META.get("HTTP_X_DEVICE_SERIAL", "")
    if serial or request.META.get("HTTP_X_SIGNATURE"):
        return services.device_authenticate_signature(
            serial=serial,
            timestamp=request.META.get("HTTP_X_TIMESTAMP", ""),
            nonce=request.META.get("HTTP_X_NONCE", ""),
            signature=request.META.get("HTTP_X_SIGNATURE", ""),
            method=request.method,
            path=request.path,
            body=request.body,
            source=source,
        )
    raise services.batch_reject(
        source=source,
        reason="missing_credentials",
        status=401,
        message="device credentials required: Authorization: Device <token>, or the X-Signature headers",
    )


class DeviceEventIngestView(APIView):
    """Device event ingest (CDS Events, batch)."""

    authentication_classes: list = []  # the device authenticates itself (authenticate_device)
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="parking_device_events_ingest",
        request=DeviceEventBatchSerializer,
        parameters=_SIGNATURE_HEADERS,
        responses={
            200: DeviceEventBatchResponseSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            413: ErrorSerializer,
        },
        auth=[],
        tags=["parking"],
    )
    def post(self, request):
        body = request.body  # read before authenticating: the signature covers the exact bytes
        device = authenticate_device(request)
        source = services.device_source(device)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise services.batch_reject(
                source=source, reason="invalid_json", device=device, message="the body is not JSON"
            ) from None
        if not isinstance(data, dict) or "events" not in data:
            raise services.batch_reject(
                source=source,
                reason="invalid_body",
                device=device,
                message='the body must be {"events": [...]}',
                details={"events": ["This field is required."]},
            )
        results = services.events_ingest(device=device, events=data["events"], transport="http")
        return Response(services.summarise(results))



