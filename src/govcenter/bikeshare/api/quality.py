"""Staff API of the data-quality monitor: ``GET /api/v1/bikeshare/quality?date=YYYY-MM-DD[&operator=CODE]``.

One Beijing day's data quality per operator (``bikeshare.quality.daily_quality``): telemetry
points and devices, 2-minute / 4-hour rule violations, trips with no end, duplicates,
positions outside Beijing, lateness, the ingest refusal counters and the 0–100 score.

* Permission ``bikeshare.view_operatorrejection`` (the Center's data staff hold it; the
  operator staff role needs it added to see its own page).
* Data scope: a caller whose scope is not "all" sees only the operators its scope covers
  (an operator's staff: their own operator); another operator's code is 404, as everywhere.
* ``date`` defaults to yesterday (Beijing); a malformed or future date is 400
  ``{"code": "invalid_date", …}``.
"""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.analytics.lake.config import lake_root
from govcenter.core.api.base import FunctionPermission
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit, UnitKind
from govcenter.core.scope import scope_for

from ..quality import daily_quality
from .agency import BikeshareErrorSerializer
from .params import FIRST_DATE


def _day(request) -> dt.date:
    raw = request.query_params.get("date")
    today = timezone.localdate()
    if raw in (None, ""):
        return today - dt.timedelta(days=1)
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(
            _("日期格式应为 YYYY-MM-DD。"), code="invalid_date", details={"date": [raw[:40]]}
        ) from None
    if day > today:
        raise ServiceError(_("不能查询未来日期。"), code="invalid_date", details={"date": [raw]})
    if day < FIRST_DATE:
        raise ServiceError(
            _("日期早于 %(first)s，没有数据。") % {"first": FIRST_DATE}, code="invalid_date", details={"date": [raw]}
        )
    return day


class QualityView(APIView):
    """Data quality per operator for one day (数据质量监测)."""

    read_permissions = ("bikeshare.view_operatorrejection",)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    @extend_schema(
        operation_id="bikeshare_quality",
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="Beijing date (default: yesterday)"),
            OpenApiParameter("operator", str, description="operator unit code (the lake's operator)"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: BikeshareErrorSerializer, 404: BikeshareErrorSerializer},
        tags=["bikeshare"],
    )
    def get(self, request):
        day = _day(request)
        units = Unit.objects.restrict(request.user).filter(kind=UnitKind.OPERATOR)
        names = dict(units.values_list("code", "name_zh"))
        asked = request.query_params.get("operator") or None
        if asked is not None:
            if asked not in names and not scope_for(request.user).all:
                raise NotFound()
            operators = asked
        else:
            operators = None if scope_for(request.user).all else sorted(names)
        result = daily_quality(lake_root(), day, operator=operators, now=timezone.now())
        for row in result["operators"]:
            row["operator_name"] = names.get(row["operator"], "")
        return Response(result)


urlpatterns = [path("quality", QualityView.as_view(), name="bikeshare-quality")]
