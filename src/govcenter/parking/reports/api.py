"""``/api/v1/parking/stats/reports`` — the weekly and monthly reports (statistics 8 and 9).

* ``GET stats/reports`` — the stored reports the caller may see (scoped, as the page);
* ``POST stats/reports`` — queue one on demand (``kind``, ``period``, ``district``): a Huey job
  generates it as the caller; 202 with the row (``status`` queued, or already queued / running
  — poll ``GET stats/reports/<id>``); bad input 400 ``{"code","message","details"}``, nothing queued;
* ``GET stats/reports/<id>`` — one report (its status, error, version);
* ``GET stats/reports/<id>/<docx|xlsx>`` — the file after its SM3 check (409 ``file_corrupt``
  when tampered with); audited.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission

from ..models.reports import ParkingReport, ParkingReportKind
from . import services


class ParkingReportSerializer(serializers.ModelSerializer):
    district_code = serializers.CharField(source="district.code", default=None, read_only=True)

    class Meta:
        model = ParkingReport
        fields = [
            "id", "kind", "label", "period_start", "period_end", "district", "district_code", "version",
            "parameters", "status", "docx_sm3", "xlsx_sm3", "summary", "generated_at", "generated_by_name",
            "duration_ms", "error", "requested_at",
        ]  # fmt: skip
        read_only_fields = fields


class ParkingReportCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ParkingReportKind.choices)
    period = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="2026-10 (monthly) or 2026-W44 (weekly); empty: the last complete one",
    )
    district = serializers.IntegerField(
        required=False, allow_null=True, help_text="District id; empty: the city"
    )


class ParkingReportListView(APIView):
    """The stored weekly and monthly parking reports (scoped); POST generates one."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (services.VIEW_PERMISSION,)
    write_permissions = (services.ADD_PERMISSION,)

    @extend_schema(responses=ParkingReportSerializer(many=True), tags=["parking-stats"])
    def get(self, request):
        reports = services.parkingreport_list(request.user)[:200]
        return Response(ParkingReportSerializer(reports, many=True).data)

    @extend_schema(
        request=ParkingReportCreateSerializer,
        responses={202: ParkingReportSerializer},
        tags=["parking-stats"],
    )
    def post(self, request):
        data = ParkingReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        district = services.district_of(request.user, data.validated_data.get("district"))
        report = services.parkingreport_request(
            actor=request.user,
            kind=data.validated_data["kind"],
            label=data.validated_data.get("period") or None,
            district=district,
        )
        return Response(ParkingReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ParkingReportDetailView(APIView):
    """One report the caller may see: its status while queued or running, then its version."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (services.VIEW_PERMISSION,)

    @extend_schema(
        responses=ParkingReportSerializer, tags=["parking-stats"], operation_id="parking_stats_report_detail"
    )
    def get(self, request, pk: int):
        report = get_object_or_404(services.parkingreport_list(request.user), pk=pk)
        return Response(ParkingReportSerializer(report).data)


class ParkingReportFileView(APIView):
    """One stored file of a report (SM3 checked; audited)."""

    permission_classes = [IsAuthenticated, FunctionPermission]
    read_permissions = (services.VIEW_PERMISSION,)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), 409: None},
        tags=["parking-stats"],
    )
    def get(self, request, pk: int, ext: str):
        report = get_object_or_404(services.parkingreport_list(request.user), pk=pk)
        data, name, content_type = services.parkingreport_file(actor=request.user, report=report, ext=ext)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    path("stats/reports", ParkingReportListView.as_view(), name="stats-reports"),
    path("stats/reports/<int:pk>", ParkingReportDetailView.as_view(), name="stats-report"),
    path("stats/reports/<int:pk>/<str:ext>", ParkingReportFileView.as_view(), name="stats-report-file"),
]
