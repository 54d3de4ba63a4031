"""``GET /api/v1/congestion/statistics?year=``: every subsystem's figures the caller may see."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core import deadlines
from govcenter.core.api.errors import ServiceError

from ..services import statistics


class StatisticsQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100, required=False)


class StatisticsView(APIView):
    """The figures of the statistics page, as numbers: ``proposals``, ``projects``,
    ``supervision``, ``tia`` and ``library``, each present only with its view permission and
    counted within the caller's data scope (``?year=`` default this year; money in fen)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[StatisticsQuerySerializer], responses=dict)
    def get(self, request):
        query = StatisticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or deadlines.today().year
        data = statistics.gather(request.user, year=year)
        if len(data) == 1:  # only the year: no subsystem to show
            raise ServiceError(_("您无权查看缓堵项目统计。"), code="permission_denied", status=403)
        return Response(data)
