"""MDS 2.0 Agency API for operators: ``POST /api/v1/bikeshare/agency/vehicles``.

Authentication is per operator, never a staff session or API token: HMAC-SM3 signature
headers ``X-Operator-Key``, ``X-Timestamp`` (Unix seconds), ``X-Nonce`` (8–64 characters,
single use) and ``X-Signature`` = hex HMAC-SM3, keyed with the operator's secret, over
``METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))`` (services/auth.py). Any refusal is a
401 ``{"code", "message", "details"}``, counted per source.

Body: the MDS list of vehicles, or ``{"vehicles": [...]}``. Answer: the MDS bulk response
``{"success", "total", "failures": [{"item", "error", "error_description", "error_details"}]}``
— **201** when every record is registered (or was already, identically), **200** when some
failed. Deviation from MDS, which answers 400/409 with that body: here a 4xx always means the
request was refused whole with nothing written (``{"code", "message", "details"}``: body not
JSON or not a batch 400, more than the batch limit 413), so a processed batch is a 2xx.
"""

from __future__ import annotations

import dataclasses
import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core import context
from govcenter.core.middleware import client_ip

from ..services import auth
from ..services.registry import MAX_BATCH, vehicles_register


class BikeshareErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class AgencyFailureSerializer(serializers.Serializer):
    item = serializers.JSONField(help_text="the record as sent")
    error = serializers.ChoiceField(
        choices=[
            "bad_param",
            "missing_param",
            "duplicate_in_batch",
            "registered_by_other_operator",
            "already_registered",
        ]
    )
    error_description = serializers.CharField()
    error_details = serializers.ListField(child=serializers.CharField(), help_text="the parameters at fault")


class AgencyBulkResponseSerializer(serializers.Serializer):
    success = serializers.IntegerField(
        min_value=0, help_text="records registered now or already (identically)"
    )
    total = serializers.IntegerField(min_value=0)
    failures = AgencyFailureSerializer(many=True)


_VEHICLE_ITEM = {
    "type": "object",
    "description": "MDS 2.0 Vehicle (micromobility); Beijing extensions: e_tag, district (GB/T 2260 code)",
    "required": ["device_id", "provider_id", "vehicle_id", "vehicle_type", "propulsion_types"],
    "properties": {
        "device_id": {"type": "string", "format": "uuid"},
        "provider_id": {"type": "string", "format": "uuid"},
        "vehicle_id": {"type": "string", "maxLength": 255},
        "vehicle_type": {"type": "string", "enum": ["bicycle"]},
        "propulsion_types": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["human", "electric_assist", "electric"]},
        },
        "e_tag": {"type": "string", "maxLength": 64},
        "district": {"type": "string"},
    },
    "additionalProperties": True,
}
_VEHICLE_LIST = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _VEHICLE_ITEM}
_REQUEST_SCHEMA = {
    "oneOf": [
        _VEHICLE_LIST,
        {"type": "object", "required": ["vehicles"], "properties": {"vehicles": _VEHICLE_LIST}},
    ]
}

SIGNATURE_HEADERS = [
    OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False, description=text)
    for name, text in (
        ("X-Operator-Key", "the operator's key id"),
        ("X-Timestamp", "Unix seconds"),
        ("X-Nonce", "single-use nonce, 8–64 characters"),
        ("X-Signature", "hex HMAC-SM3 over METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))"),
    )
]


def authenticate_operator(request):
    """The operator of a signed request; a counted 401 ServiceError otherwise."""
    return auth.operator_authenticate(
        key_id=request.META.get("HTTP_X_OPERATOR_KEY", ""),
        timestamp=request.META.get("HTTP_X_TIMESTAMP", ""),
        nonce=request.META.get("HTTP_X_NONCE", ""),
        signature=request.META.get("HTTP_X_SIGNATURE", ""),
        method=request.method,
        path=request.path,
        body=request.body,
        source=f"ip:{client_ip(request) or '-'}",
    )


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_batch(body: bytes, operator) -> list:
    """The vehicle list of the body (a list, or ``{"vehicles": [...]}``); a counted 400 otherwise."""
    source = auth.operator_source(operator)
    try:
        data = json.loads(body or b"null", parse_constant=_no_constants)
    except ValueError:
        raise auth.request_reject(
            source=source, reason="invalid_json", operator=operator, message="the body is not JSON"
        ) from None
    if isinstance(data, dict) and set(data) == {"vehicles"}:
        data = data["vehicles"]
    return data


@dataclasses.dataclass
class _ActingOperator:
    """Names the operator as the acting unit of the request, so the audit chain shows who pushed."""

    operator: object
    token: object = None

    def __enter__(self):
        ctx = dataclasses.replace(
            context.current(), unit_id=self.operator.pk, unit_name=str(self.operator)[:100], channel="api"
        )
        self.token = context.set_context(ctx)

    def __exit__(self, *exc):
        context.reset_context(self.token)
        return False


class AgencyVehiclesView(APIView):
    """Register vehicles (MDS Agency, bulk, partial success)."""

    authentication_classes: list = []  # the operator authenticates itself (authenticate_operator)
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="bikeshare_agency_vehicles_register",
        request={"application/json": _REQUEST_SCHEMA},
        parameters=SIGNATURE_HEADERS,
        responses={
            200: AgencyBulkResponseSerializer,
            201: AgencyBulkResponseSerializer,
            400: BikeshareErrorSerializer,
            401: BikeshareErrorSerializer,
            409: BikeshareErrorSerializer,
            413: BikeshareErrorSerializer,
        },
        auth=[],
        tags=["bikeshare"],
    )
    def post(self, request):
        body = request.body  # read before authenticating: the signature covers the exact bytes
        operator = authenticate_operator(request)
        records = parse_batch(body, operator)
        with _ActingOperator(operator):
            result = vehicles_register(operator=operator, records=records)
        return Response(result.as_dict(), status=200 if result.failures else 201)
