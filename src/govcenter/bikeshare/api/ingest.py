"""MDS 2.0 Agency push for operators: ``POST /api/v1/bikeshare/agency/{events,telemetry,trips}``.

The same conventions as ``POST /agency/vehicles`` (api/agency.py): HMAC-SM3 signed operator
requests; body the MDS list, ``{"data": [...]}`` or ``{"<kind>": [...]}``; answer the MDS bulk
response ``{"success", "total", "failures"}`` — **201** when every record was accepted, **200**
when some failed. Accepted records are durable in the Stream before the answer goes out
(services/ingest.py). A 4xx/5xx ``{"code", "message", "details"}`` means the request was
refused whole and nothing was published (400 not JSON / not a batch, 401 signature, 413 more
than the batch limit), except 503 ``stream_unavailable``, after which the batch must be sent
again (re-sending is always safe: records carry their idempotency keys).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core import fastjson

from ..services import auth
from ..services.ingest import MAX_BATCH, ingest
from .agency import (
    SIGNATURE_HEADERS,
    BikeshareErrorSerializer,
    _ActingOperator,
    authenticate_operator,
)

INGEST_ERRORS = [
    "bad_param",
    "missing_param",
    "duplicate_in_batch",
    "unknown_vehicle",
    "other_operator_vehicle",
    "timestamp_in_future",
    "timestamp_too_old",
    "outside_beijing",
    "trip_end_before_start",
    "trip_implausible",
]


class IngestFailureSerializer(serializers.Serializer):
    item = serializers.JSONField(help_text="the record as sent")
    error = serializers.ChoiceField(choices=INGEST_ERRORS)
    error_description = serializers.CharField()
    error_details = serializers.ListField(child=serializers.CharField(), help_text="the parameters at fault")


class IngestBulkResponseSerializer(serializers.Serializer):
    success = serializers.IntegerField(min_value=0, help_text="records accepted (durable in the stream)")
    total = serializers.IntegerField(min_value=0)
    failures = IngestFailureSerializer(many=True)


_GPS = {
    "type": "object",
    "required": ["lat", "lng"],
    "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
    "description": "in the operator's declared datum (default WGS-84)",
}
_TIMESTAMP = {"type": "integer", "description": "Unix milliseconds"}
_UUID = {"type": "string", "format": "uuid"}
_ITEMS = {
    "events": {
        "type": "object",
        "description": "MDS 2.0 Event (micromobility)",
        "required": ["device_id", "provider_id", "event_id", "vehicle_state", "event_types", "timestamp"],
        "properties": {
            "device_id": _UUID, "provider_id": _UUID, "event_id": _UUID,
            "vehicle_state": {"type": "string"},
            "event_types": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "timestamp": _TIMESTAMP, "location": _GPS,
            "trip_ids": {"type": "array", "items": _UUID},
        },
        "additionalProperties": True,
    },
    "telemetry": {
        "type": "object",
        "description": "MDS 2.0 Telemetry",
        "required": ["device_id", "provider_id", "telemetry_id", "timestamp", "trip_ids", "journey_id", "location"],
        "properties": {
            "device_id": _UUID, "provider_id": _UUID, "telemetry_id": _UUID, "timestamp": _TIMESTAMP,
            "trip_ids": {"type": "array", "items": _UUID, "nullable": True},
            "journey_id": {**_UUID, "nullable": True},
            "location": _GPS,
            "battery_percent": {"type": "integer", "minimum": 0, "maximum": 100},
        },
        "additionalProperties": True,
    },
    "trips": {
        "type": "object",
        "description": "MDS 2.0 Trip (micromobility)",
        "required": ["provider_id", "device_id", "trip_id", "start_time", "end_time", "start_location",
                     "end_location", "duration", "distance"],
        "properties": {
            "device_id": _UUID, "provider_id": _UUID, "trip_id": _UUID,
            "start_time": _TIMESTAMP, "end_time": _TIMESTAMP, "start_location": _GPS, "end_location": _GPS,
            "duration": {"type": "integer", "minimum": 0, "description": "seconds"},
            "distance": {"type": "integer", "minimum": 0, "description": "metres"},
        },
        "additionalProperties": True,
    },
}  # fmt: skip


def _request_schema(kind: str) -> dict:
    items = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH[kind], "items": _ITEMS[kind]}
    return {
        "oneOf": [
            items,
            {"type": "object", "required": ["data"], "properties": {"data": items}},
            {"type": "object", "required": [kind], "properties": {kind: items}},
        ]
    }


def loads_json(body: bytes):
    """The body as ``json.loads`` without NaN/Infinity parses it (fast: ``core.fastjson``)."""
    return fastjson.loads(body)


def parse_records(body: bytes, operator, kind: str):
    """The record list of the body (a list, ``{"data": [...]}`` or ``{kind: [...]}``); a counted 400
    when the body is not JSON (anything else not a list is refused by the service)."""
    try:
        data = loads_json(body or b"null")
    except ValueError:
        raise auth.request_reject(
            source=auth.operator_source(operator), reason="invalid_json", operator=operator,
            message="the body is not JSON",
        ) from None  # fmt: skip
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)) in ("data", kind):
        data = next(iter(data.values()))
    return data


class _AgencyIngestView(APIView):
    authentication_classes: list = []  # the operator authenticates itself (authenticate_operator)
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    kind = ""

    def _post(self, request):
        body = request.body  # read before authenticating: the signature covers the exact bytes
        operator = authenticate_operator(request)
        records = parse_records(body, operator, self.kind)
        with _ActingOperator(operator):
            result = ingest(operator=operator, kind=self.kind, records=records)
        return Response(result.as_dict(), status=200 if result.failures else 201)


def _schema(kind: str):
    return extend_schema(
        operation_id=f"bikeshare_agency_{kind}_push",
        request={"application/json": _request_schema(kind)},
        parameters=SIGNATURE_HEADERS,
        responses={
            200: IngestBulkResponseSerializer,
            201: IngestBulkResponseSerializer,
            400: BikeshareErrorSerializer,
            401: BikeshareErrorSerializer,
            413: BikeshareErrorSerializer,
            503: BikeshareErrorSerializer,
        },
        auth=[],
        tags=["bikeshare"],
    )


class AgencyEventsView(_AgencyIngestView):
    """Push vehicle events (MDS Agency, bulk, partial success)."""

    kind = "events"

    @_schema("events")
    def post(self, request):
        return self._post(request)


class AgencyTelemetryView(_AgencyIngestView):
    """Push telemetry points (MDS Agency, bulk, partial success)."""

    kind = "telemetry"

    @_schema("telemetry")
    def post(self, request):
        return self._post(request)


class AgencyTripsView(_AgencyIngestView):
    """Push finished trips (MDS Agency, bulk, partial success)."""

    kind = "trips"

    @_schema("trips")
    def post(self, request):
        return self._post(request)
