"""``POST /api/v1/parking/quote``: the price of one stay under the tariff in force.

Open to anonymous callers: a price quote reveals no personal or district data and the
citizen app shows it before login. Anonymous callers are throttled per IP
(``GOVCENTER_PARKING_QUOTE_ANON_RATE``, default ``60/min``); signed-in users and API tokens
are not. Bad input is 400 ``{"code", "message", "details"}`` with the field named in
``details``; no plan in force is 400 ``no_tariff_plan`` naming ``area_class``.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core.api.errors import ServiceError

from ..models import AreaClass, VehicleClass
from ..selectors.tariffs import NoTariffPlanError, tariff_quote


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset; a naive timestamp is refused rather than guessed."""

    default_error_messages = {"naive": _("时间须带 UTC 偏移，例如 2025-03-03T08:00:00+08:00。")}

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but impossible, e.g. 08:60
                self.fail("invalid", format="ISO 8601 with a UTC offset")
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class QuoteRequestSerializer(serializers.Serializer):
    area_class = serializers.ChoiceField(choices=AreaClass.choices, help_text="1, 2 or 3 (一/二/三类地区)")
    vehicle = serializers.ChoiceField(choices=VehicleClass.choices)
    start = AwareDateTimeField(help_text="ISO 8601 with offset")
    end = AwareDateTimeField(help_text="ISO 8601 with offset; not before start")
    at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="pick the plan in force at this instant (default: at start)",
    )

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": [_("结束时间早于开始时间。")]})
        return attrs


class QuoteLineSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "night", "cap"])
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    units = serializers.IntegerField()
    unit_fen = serializers.IntegerField()
    multiplier_pct = serializers.IntegerField()
    amount_fen = serializers.IntegerField(help_text="may be negative on a cap line")
    note = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


class QuotePlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    name = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=0)
    lines = QuoteLineSerializer(many=True)
    note = serializers.CharField(allow_blank=True, help_text="免费时长内 when the stay is within the grace")
    plan = QuotePlanSerializer()


class QuoteAnonThrottle(AnonRateThrottle):
    scope = "parking_quote_anon"

    def get_rate(self):
        return settings.GOVCENTER_PARKING_QUOTE_ANON_RATE


class QuoteView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [QuoteAnonThrottle]

    @extend_schema(
        operation_id="parking_quote",
        request=QuoteRequestSerializer,
        responses={200: QuoteSerializer},
        examples=[
            OpenApiExample(
                "一类 small, 08:00–09:30",
                request_only=True,
                value={
                    "area_class": 1,
                    "vehicle": "small",
                    "start": "2025-03-03T08:00:00+08:00",
                    "end": "2025-03-03T09:30:00+08:00",
                },
            )
        ],
        description="Price one stay (integer fen, itemised lines) under the tariff plan in force at its start.",
    )
    def post(self, request):
        serializer = QuoteRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = tariff_quote(
                area_class=int(data["area_class"]),
                vehicle=data["vehicle"],
                start=data["start"],
                end=data["end"],
                at=data.get("at"),
            )
        except NoTariffPlanError as exc:
            raise ServiceError(str(exc), code="no_tariff_plan", details={"area_class": [str(exc)]}) from None
        except ValueError as exc:
            raise ServiceError(str(exc), code="invalid", details={"non_field_errors": [str(exc)]}) from None
        return Response(result)
