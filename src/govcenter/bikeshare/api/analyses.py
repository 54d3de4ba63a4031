"""Analyses API (运行分析): read-only JSON under ``/api/v1/bikeshare/analyses/`` (``bikeshare.view_vehicle``).

The computations, parameter checks, scope and cache live in :mod:`govcenter.bikeshare.selectors.analyses`
(the pages call the same functions, so page and API numbers agree); this module maps them to URLs.
"""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission

from ..selectors.analyses import (
    BEIJING,
    DEFAULT_RESOLUTION,
    MAX_DAYS,
    MAX_HEATMAP_HOURS,
    MAX_IDLE_DAYS,
    MAX_OPERATIONS_DAYS,
    MAX_STATION_DAYS,
    MAX_TRAJECTORY_HOURS,
    PERM,
    RIDE_KINDS,
    bad,
    day_range,
    distribution,
    heatmap,
    idle,
    operations,
    parse_bool,
    parse_day,
    parse_int,
    rides,
    stations,
    trajectory,
    window,
)
from ..selectors.scope import LiveScope, live_scope
from .agency import BikeshareErrorSerializer

# -- views ----------------------------------------------------------------------------------

_DAYS = [
    OpenApiParameter("first", OpenApiTypes.DATE, description="first Beijing date (default: see the analysis)"),
    OpenApiParameter("last", OpenApiTypes.DATE, description="last Beijing date, inclusive"),
]
_WINDOW = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="window start (no zone: Beijing time)"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="window end (no zone: Beijing time)"),
]


def _analysis_schema(operation_id: str, summary: str, parameters=()):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=list(parameters),
        responses={200: OpenApiTypes.OBJECT, 400: BikeshareErrorSerializer, 403: BikeshareErrorSerializer},
        tags=["bikeshare"],
    )



class _AnalysisView(APIView):
    read_permissions = (PERM,)

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]

    def scope(self, request) -> LiveScope:
        return live_scope(request.user)


class RidesView(_AnalysisView):
    """Rides by hour, day, ISO week, month (with MoM/YoY) or the peak hour of each day."""

    @_analysis_schema(
        "bikeshare_analyses_rides",
        "Rides by hour / day / week / month (MoM, YoY) or daily peaks",
        [*_DAYS, OpenApiParameter("by_district", bool, description="split by district")],
    )
    def get(self, request, kind: str):
        if kind not in RIDE_KINDS:
            raise bad(_("未知的统计粒度。"), "bad_kind", kind=kind)
        first, last = day_range(request.query_params, MAX_DAYS[kind])
        data = rides(self.scope(request), kind, first, last, parse_bool(request.query_params, "by_district"))
        return Response({"kind": kind, "first": first, "last": last, **data})


class HeatmapView(_AnalysisView):
    @_analysis_schema(
        "bikeshare_analyses_heatmap",
        "H3 heat map of positions in a time window (GCJ-02 hexagons)",
        [
            *_WINDOW,
            OpenApiParameter("resolution", int, description="H3 resolution"),
            OpenApiParameter("points", str, description="telemetry, trip_starts or trip_ends"),
        ],
    )
    def get(self, request):
        params = request.query_params
        start, end = window(params, MAX_HEATMAP_HOURS)
        resolution = parse_int(params, "resolution", DEFAULT_RESOLUTION, 0, 15)
        points = params.get("points") or "telemetry"
        data = heatmap(self.scope(request), start, end, resolution, points)
        return Response({"start": start, "end": end, "resolution": resolution, "points": points, **data})


class TrajectoryView(_AnalysisView):
    @_analysis_schema(
        "bikeshare_analyses_trajectory",
        "One bike's track in a time window (playback)",
        [*_WINDOW, OpenApiParameter("device_id", str), OpenApiParameter("vehicle_id", str)],
    )
    def get(self, request):
        params = request.query_params
        start, end = window(params, MAX_TRAJECTORY_HOURS)
        data = trajectory(self.scope(request), start, end, params.get("device_id"), params.get("vehicle_id"))
        return Response({"start": start, "end": end, **data})


class OperationsView(_AnalysisView):
    @_analysis_schema(
        "bikeshare_analyses_operations", "Fleet, active bikes, turnover and utilisation per operator", _DAYS
    )
    def get(self, request):
        first, last = day_range(request.query_params, MAX_OPERATIONS_DAYS)
        return Response({"first": first, "last": last, **operations(self.scope(request), first, last)})


class IdleView(_AnalysisView):
    @_analysis_schema(
        "bikeshare_analyses_idle",
        "Bikes idle for more than N days",
        [OpenApiParameter("as_of", OpenApiTypes.DATE), OpenApiParameter("days", int)],
    )
    def get(self, request):
        params = request.query_params
        as_of = parse_day(
            params.get("as_of"), "as_of", dt.datetime.now(BEIJING).date() - dt.timedelta(days=1)
        )
        days = parse_int(params, "days", 3, 1, MAX_IDLE_DAYS)
        return Response({"as_of": as_of, "days": days, **idle(self.scope(request), as_of, days)})


class StationsView(_AnalysisView):
    @_analysis_schema(
        "bikeshare_analyses_stations",
        "Rail-station areas: flows by hour, tidal imbalance, accumulation alerts",
        [*_DAYS, OpenApiParameter("threshold", int, description="net inflow per hour that raises an alert")],
    )
    def get(self, request):
        params = request.query_params
        first, last = day_range(params, MAX_STATION_DAYS, default_days=1)
        threshold = parse_int(params, "threshold", 10, 0, 100_000)
        data = stations(self.scope(request), first, last, threshold)
        return Response({"first": first, "last": last, "threshold": threshold, **data})


class DistributionView(_AnalysisView):
    @_analysis_schema("bikeshare_analyses_distribution", "Live bikes per operator and district against quotas")
    def get(self, request):
        return Response(distribution(request.user))


urlpatterns = [
    path("analyses/rides/<str:kind>", RidesView.as_view(), name="bikeshare-analyses-rides"),
    path("analyses/heatmap", HeatmapView.as_view(), name="bikeshare-analyses-heatmap"),
    path("analyses/trajectory", TrajectoryView.as_view(), name="bikeshare-analyses-trajectory"),
    path("analyses/operations", OperationsView.as_view(), name="bikeshare-analyses-operations"),
    path("analyses/idle", IdleView.as_view(), name="bikeshare-analyses-idle"),
    path("analyses/stations", StationsView.as_view(), name="bikeshare-analyses-stations"),
    path("analyses/distribution", DistributionView.as_view(), name="bikeshare-analyses-distribution"),
]
