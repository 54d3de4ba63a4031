"""Staff API of the data-quality monitor: ``GET /api/v1/bikeshare/quality?date=YYYY-MM-DD[&operator=CODE]``.

One Beijing day's data quality per operator (``bikeshare.quality.daily_quality``): telemetry
points and devices, 2-minute / 4-hour rule violations, trips with no end, duplicates,
positions outside Beijing, lateness, the ingest refusal counters and the 0–100 score.

* Permission ``bikeshare.view_operatorrejection`` (the Center's data staff hold it; the
  operator staff role needs it added to see its own page).
* Data scope: a caller whose scope is not "all" sees only the operators its scope covers
  (an operator's staff: their own operator); another operator's code is 404, as everywhere.
* ``date`` defaults to yesterday (Beijing); a malformed, future or too early date is 400
  ``{"code": "bad_period", …}`` (``params.query_date``, as the other staff APIs).
"""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.analytics.lake.config import lake_root
from govcenter.core.api.base import FunctionPermission
from govcenter.core.models import Unit, UnitKind
from govcenter.core.scope import scope_for

from ..quality import daily_quality
from .agency import BikeshareErrorSerializer
from .params import query_date


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
        today = timezone.localdate()
        day = query_date(request.query_params.get("date"), "date", today - dt.timedelta(days=1), last=today)
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
