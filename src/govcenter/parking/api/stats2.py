"""``GET /api/v1/parking/stats/<slug>`` — every registered statistic (parking/stats2/catalog.py).

One route per statistic, generated from its definition, so the OpenAPI schema lists each
statistic's own measures and breakdowns. The numbers are those of the statistic's page and
Excel export (one function, :func:`govcenter.parking.stats2.framework.compute`). Scoped; bad
windows, dates, unknown or out-of-scope places and filters the statistic cannot honour are
400 ``{"code","message","details"}``.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission

from ..stats2.catalog import STATISTICS
from ..stats2.common import parse_query
from ..stats2.framework import Statistic, compute

_FILTER_PARAMETERS = {
    "district": OpenApiParameter("district", int, description="District id (drill: its roads)"),
    "road": OpenApiParameter("road", int, description="Road id (drill: its segments)"),
    "segment": OpenApiParameter("segment", int, description="Segment id"),
    "area_class": OpenApiParameter("area_class", int, enum=[1, 2, 3], description="Area class (地区类别)"),
    "vehicle_class": OpenApiParameter(
        "vehicle_class", str, enum=["small", "large"], description="Vehicle class"
    ),
}


def _parameters(stat: Statistic) -> list:
    return [
        OpenApiParameter(
            "start", OpenApiTypes.DATE, description="First Beijing date (default: end − 6 days)"
        ),
        OpenApiParameter(
            "end", OpenApiTypes.DATE, description="Last Beijing date, inclusive (default: yesterday)"
        ),
        *[_FILTER_PARAMETERS[f] for f in stat.filters],
    ]


def _field(unit: str, help_text: str):
    if unit in ("count", "fen"):
        return serializers.IntegerField(help_text=help_text)
    return serializers.FloatField(allow_null=True, help_text=help_text)


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in slug.replace("-", "_").split("_"))


def _response(stat: Statistic):
    name = f"ParkingStats{_camel(stat.slug)}"
    measures = {m.key: _field(m.unit, f"{m.label} ({m.unit})") for m in stat.measures}
    breakdowns = {
        b.key: inline_serializer(
            f"{name}{_camel(b.key)}",
            {
                "key": serializers.JSONField(help_text="group value"),
                "label": serializers.CharField(),
                **{k: _field(stat.measure(k).unit, str(stat.measure(k).label)) for k in b.measures},
            },
            many=True,
        )
        for b in stat.breakdowns
    }
    return inline_serializer(
        name,
        {
            "statistic": serializers.CharField(),
            "filters": serializers.DictField(),
            "level": serializers.CharField(
                allow_null=True, help_text="district | road | segment; null at the bottom"
            ),
            "total": inline_serializer(f"{name}Measures", measures),
            "rows": inline_serializer(
                f"{name}Row",
                {
                    "id": serializers.IntegerField(),
                    "code": serializers.CharField(),
                    "name": serializers.CharField(),
                    **measures,
                },
                many=True,
            ),
            "breakdowns": inline_serializer(f"{name}Breakdowns", breakdowns),
            "extra": serializers.ListField(
                child=serializers.DictField(), help_text="extra tables of the statistic"
            ),
        },
    )


def _view(stat: Statistic) -> type[APIView]:
    class StatisticView(APIView):
        permission_classes = [IsAuthenticated, FunctionPermission]
        read_permissions = (stat.permission,)

        @extend_schema(
            operation_id=f"parking_stats_{stat.slug}",
            summary=str(stat.title),
            description=str(stat.description),
            parameters=_parameters(stat),
            responses=_response(stat),
            tags=["parking-stats"],
        )
        def get(self, request):
            query = parse_query(request.user, request.query_params, filters=stat.filters, levels=stat.levels)
            return Response(compute(stat, request.user, query).as_dict())

    StatisticView.__name__ = StatisticView.__qualname__ = f"{_camel(stat.slug)}StatsView"
    StatisticView.__doc__ = f"{stat.title}: totals, the next drill level's rows, breakdowns (from the lake)."
    return StatisticView


urlpatterns = [
    path(f"stats/{slug}", _view(stat).as_view(), name=f"stats-{slug}")
    for slug, stat in sorted(STATISTICS.items())
]
