"""``/api/v1/ops/duty/``: who is on duty now (or ``?at=ISO``), and ``roster?from=&to=`` the seats
of a date range (at most 62 days; default this month), in the caller's data scope; ``?unit=CODE`` narrows both."""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.errors import ServiceError

from ..models import DutyAssignment
from ..sla import TZ
from . import roster


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SeatSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    unit = serializers.CharField()
    date = serializers.DateField()
    shift = serializers.CharField()
    role = serializers.CharField()
    role_label = serializers.CharField()
    seat = serializers.IntegerField()
    day_kind = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    primary = PersonSerializer()
    backup = PersonSerializer(allow_null=True)


class OnDutySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    seats = SeatSerializer(many=True)


class RosterSerializer(serializers.Serializer):
    start = serializers.DateField(source="from")
    end = serializers.DateField(source="to")
    seats = SeatSerializer(many=True)


def _check(request) -> None:
    if not request.user.has_perm("ops.view_dutyassignment"):
        raise ServiceError(_("您无权查看值班表。"), code="permission_denied", status=403)


def _unit_filter(qs, request):
    code = (request.query_params.get("unit") or "").strip()
    return qs.filter(unit__code=code) if code else qs


UNIT = OpenApiParameter("unit", str, description="an O&M unit's code")


class OnDutyView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("at", str, description="ISO 8601 (Beijing time when no offset)"), UNIT],
                   responses=OnDutySerializer)  # fmt: skip
    def get(self, request):
        _check(request)
        text = (request.query_params.get("at") or "").strip()
        at = None
        if text:
            try:
                at = dt.datetime.fromisoformat(text.replace(" ", "+") if "T" in text and " " in text else text)
            except ValueError:
                raise ServiceError(_("时间格式错误。"), code="invalid", details={"at": [text]}) from None
            at = at.replace(tzinfo=TZ) if at.tzinfo is None else at
        seats = _unit_filter(roster.who_is_on_duty(at, user=request.user), request)
        moment = (at or dt.datetime.now(TZ)).astimezone(TZ)
        return Response({"at": moment.isoformat(), "seats": [roster.seat_dict(a) for a in seats]})


class RosterView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, description="YYYY-MM-DD; default the first day of this month"),
        OpenApiParameter("to", OpenApiTypes.DATE, description="YYYY-MM-DD; default the last day of from's month"),
        UNIT], responses=RosterSerializer)  # fmt: skip
    def get(self, request):
        _check(request)
        first = dt.datetime.now(TZ).date().replace(day=1)
        values = {}
        for name in ("from", "to"):
            text = (request.query_params.get(name) or "").strip()
            if not text:
                start = values.get("from", first)
                month_end = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
                values[name] = first if name == "from" else month_end
                continue
            try:
                values[name] = dt.date.fromisoformat(text)
            except ValueError:
                raise ServiceError(_("日期格式错误（YYYY-MM-DD）。"), code="invalid", details={name: [text]}) from None
        if values["to"] < values["from"] or (values["to"] - values["from"]).days > 62:
            raise ServiceError(_("日期范围须在 62 天以内且结束不早于开始。"), code="invalid",
                               details={"to": [values["to"].isoformat()]})  # fmt: skip
        qs = DutyAssignment.objects.restrict(request.user).filter(date__gte=values["from"], date__lte=values["to"])
        qs = _unit_filter(qs, request).select_related("shift", "primary", "backup", "unit").order_by(
            "starts_at", "role", "seat")  # fmt: skip
        return Response({"from": values["from"].isoformat(), "to": values["to"].isoformat(),
                         "seats": [roster.seat_dict(a) for a in qs]})  # fmt: skip


urlpatterns = [
    path("", OnDutyView.as_view(), name="ops-duty-now"),
    path("roster", RosterView.as_view(), name="ops-duty-roster"),
]
