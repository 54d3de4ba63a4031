"""Assessment API (考核) under ``/api/v1/bikeshare/assessment/``.

* ``indicator-sets`` — GET list / POST create (data staff); ``indicator-sets/<id>`` GET,
  PATCH (only while no assessment used the set: 409 otherwise). Weights must sum to 100.
* ``months/<YYYY-MM>`` — GET the newest visible revision per operator (Center: drafts too;
  operators: their own published results); ``months/<YYYY-MM>/compute`` — POST computes drafts.
* ``results/<id>`` — GET one revision with every indicator's inputs; ``results/<id>/publish``.
* ``quarters/<YYYY-Qn>`` — GET stored grades; ``quarters/<YYYY-Qn>/compute`` — POST stores them.
* ``grades/<id>/adopt`` — POST sets the recommended quotas through the quota service.
* ``complaints`` — POST the complaints counted for an operator and month (manual source).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core.api.base import FunctionPermission
from govcenter.core.models import Unit, UnitKind

from ..models.assessment import IndicatorSet
from ..services import assessment as services
from .agency import BikeshareErrorSerializer

ERRORS = {400: BikeshareErrorSerializer, 403: BikeshareErrorSerializer, 404: BikeshareErrorSerializer,
          409: BikeshareErrorSerializer}  # fmt: skip


class _View(APIView):
    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]


class AssessmentIndicatorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=services.MEASURES)
    name = serializers.CharField(max_length=50)
    weight = serializers.FloatField()
    method = serializers.ChoiceField(choices=services.METHODS, default="linear")
    floor = serializers.FloatField(help_text="value scoring 0 points")
    target = serializers.FloatField(help_text="value scoring 100 points (below floor: lower is better)")


class IndicatorSetSerializer(serializers.ModelSerializer):
    indicators = AssessmentIndicatorSerializer(many=True)
    grade_thresholds = serializers.DictField(
        child=serializers.FloatField(), help_text="{A, B, C}: minimum mean total"
    )
    quota_adjustments = serializers.DictField(
        child=serializers.FloatField(), help_text="{A, B, C, D}: percent"
    )
    in_use = serializers.SerializerMethodField()

    class Meta:
        model = IndicatorSet
        fields = ["id", "version", "name", "effective_from", "indicators", "grade_thresholds",
                  "quota_adjustments", "note", "created_at", "in_use"]  # fmt: skip
        read_only_fields = ["id", "version", "created_at", "in_use"]

    def get_in_use(self, obj) -> bool:
        return services.indicator_set_in_use(obj)


class IndicatorSetInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    effective_from = serializers.DateField(
        required=False, help_text="any day of the first month it applies to"
    )
    indicators = serializers.ListField(child=serializers.DictField(), required=False)
    grade_thresholds = serializers.DictField(required=False)
    quota_adjustments = serializers.DictField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class IndicatorSetListView(_View):
    """Indicator sets, newest first; POST creates the next version."""

    read_permissions = (services.SET_VIEW_PERMISSION,)
    write_permissions = services.SET_EDIT_PERMISSIONS

    @extend_schema(operation_id="bikeshare_assessment_sets_list", responses={200: IndicatorSetSerializer(many=True)},
                   tags=["bikeshare"])  # fmt: skip
    def get(self, request):
        return Response(IndicatorSetSerializer(IndicatorSet.objects.all(), many=True).data)

    @extend_schema(operation_id="bikeshare_assessment_sets_create", request=IndicatorSetInputSerializer,
                   responses={201: IndicatorSetSerializer, **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request):
        data = IndicatorSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        missing = [k for k in ("name", "effective_from", "indicators") if k not in v]
        if missing:
            raise serializers.ValidationError({k: ["required"] for k in missing})
        new = services.indicator_set_create(request.user, **v)
        return Response(IndicatorSetSerializer(new).data, status=status.HTTP_201_CREATED)


class IndicatorSetDetailView(_View):
    read_permissions = (services.SET_VIEW_PERMISSION,)
    write_permissions = services.SET_EDIT_PERMISSIONS

    @extend_schema(operation_id="bikeshare_assessment_sets_retrieve", responses={200: IndicatorSetSerializer, 404:
                   BikeshareErrorSerializer}, tags=["bikeshare"])  # fmt: skip
    def get(self, request, pk: int):
        return Response(IndicatorSetSerializer(get_object_or_404(IndicatorSet, pk=pk)).data)

    @extend_schema(operation_id="bikeshare_assessment_sets_update", request=IndicatorSetInputSerializer,
                   responses={200: IndicatorSetSerializer, **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def patch(self, request, pk: int):
        found = get_object_or_404(IndicatorSet, pk=pk)
        data = IndicatorSetInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(
            IndicatorSetSerializer(
                services.indicator_set_update(request.user, found, **data.validated_data)
            ).data
        )


class AssessmentIndicatorResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    weight = serializers.FloatField()
    effective_weight = serializers.FloatField(help_text="weight after redistributing missing indicators")
    floor = serializers.FloatField()
    target = serializers.FloatField()
    value = serializers.FloatField(allow_null=True)
    points = serializers.FloatField(allow_null=True)
    weighted = serializers.FloatField()
    missing = serializers.BooleanField()
    inputs = serializers.DictField(help_text="the raw inputs and their sources")


class MonthlyAssessmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator_code = serializers.CharField()
    operator_name = serializers.CharField()
    month = serializers.CharField()
    revision = serializers.IntegerField()
    indicator_set_version = serializers.IntegerField()
    total = serializers.FloatField()
    status = serializers.CharField()
    computed_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    indicators = AssessmentIndicatorResultSerializer(many=True)


class MonthResultsView(_View):
    """The newest visible revision per operator for the month."""

    read_permissions = (services.VIEW_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_month", responses={200: MonthlyAssessmentSerializer(many=True),
                   **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def get(self, request, month: str):
        year, m = services.parse_month(month)
        rows = services.month_results(request.user, year, m)
        return Response(
            MonthlyAssessmentSerializer([services.assessment_as_dict(r) for r in rows], many=True).data
        )


class MonthComputeView(_View):
    write_permissions = (services.COMPUTE_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_month_compute", request=None,
                   responses={200: MonthlyAssessmentSerializer(many=True), **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request, month: str):
        year, m = services.parse_month(month)
        rows = services.assessment_compute_month(request.user, year=year, month=m)
        return Response(
            MonthlyAssessmentSerializer([services.assessment_as_dict(r) for r in rows], many=True).data
        )


class ResultView(_View):
    read_permissions = (services.VIEW_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_result", responses={200: MonthlyAssessmentSerializer, **ERRORS},
                   tags=["bikeshare"])  # fmt: skip
    def get(self, request, pk: int):
        row = get_object_or_404(services.visible_assessments(request.user), pk=pk)
        return Response(MonthlyAssessmentSerializer(services.assessment_as_dict(row)).data)


class PublishView(_View):
    write_permissions = (services.PUBLISH_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_publish", request=None,
                   responses={200: MonthlyAssessmentSerializer, **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request, pk: int):
        row = get_object_or_404(services.visible_assessments(request.user), pk=pk)
        row = services.assessment_publish(request.user, row)
        return Response(MonthlyAssessmentSerializer(services.assessment_as_dict(row)).data)


class QuotaRecommendationSerializer(serializers.Serializer):
    quota_id = serializers.IntegerField()
    district = serializers.CharField(allow_null=True, help_text="district code; null: city-wide")
    district_name = serializers.CharField()
    current_quota = serializers.IntegerField()
    recommended_quota = serializers.IntegerField()
    change_pct = serializers.FloatField()


class QuarterlyGradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator_code = serializers.CharField(source="operator.code")
    operator_name = serializers.CharField(source="operator.name_zh")
    year = serializers.IntegerField()
    quarter = serializers.IntegerField()
    mean_total = serializers.FloatField()
    grade = serializers.CharField()
    provisional = serializers.BooleanField()
    months = serializers.ListField(child=serializers.DictField())
    recommendations = QuotaRecommendationSerializer(many=True)
    adopted_at = serializers.DateTimeField(allow_null=True)


class QuarterView(_View):
    read_permissions = (services.GRADE_VIEW_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_quarter", responses={200: QuarterlyGradeSerializer(many=True),
                   **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def get(self, request, quarter: str):
        year, q = services.parse_quarter(quarter)
        rows = services.visible_grades(request.user).filter(year=year, quarter=q).order_by("-mean_total")
        return Response(QuarterlyGradeSerializer(rows, many=True).data)


class QuarterComputeView(_View):
    write_permissions = (services.GRADE_COMPUTE_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_quarter_compute", request=None,
                   responses={200: QuarterlyGradeSerializer(many=True), **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request, quarter: str):
        year, q = services.parse_quarter(quarter)
        return Response(QuarterlyGradeSerializer(services.quarter_grade_compute(request.user, year=year, quarter=q),
                                        many=True).data)  # fmt: skip


class AdoptView(_View):
    write_permissions = services.ADOPT_PERMISSIONS

    @extend_schema(operation_id="bikeshare_assessment_adopt", request=None,
                   responses={200: QuarterlyGradeSerializer, **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request, pk: int):
        grade = get_object_or_404(services.visible_grades(request.user), pk=pk)
        return Response(QuarterlyGradeSerializer(services.quarter_grade_adopt(request.user, grade)).data)


class ComplaintTallyInputSerializer(serializers.Serializer):
    operator = serializers.IntegerField(help_text="operator unit id")
    month = serializers.CharField(help_text="YYYY-MM")
    count = serializers.IntegerField(min_value=0)
    source = serializers.CharField(max_length=200, help_text="where the figure comes from")


class ComplaintTallySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator = serializers.IntegerField(source="operator_id")
    month = serializers.DateField()
    count = serializers.IntegerField()
    source = serializers.CharField()


class ComplaintView(_View):
    write_permissions = (services.COMPLAINT_PERMISSION,)

    @extend_schema(operation_id="bikeshare_assessment_complaints", request=ComplaintTallyInputSerializer,
                   responses={200: ComplaintTallySerializer, **ERRORS}, tags=["bikeshare"])  # fmt: skip
    def post(self, request):
        data = ComplaintTallyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        year, month = services.parse_month(v["month"])
        operator = get_object_or_404(Unit, pk=v["operator"], kind=UnitKind.OPERATOR)
        row = services.complaint_tally_set(
            request.user, operator=operator, year=year, month=month, count=v["count"], source=v["source"]
        )
        return Response(ComplaintTallySerializer(row).data)


urlpatterns: list = [
    path("assessment/indicator-sets", IndicatorSetListView.as_view(), name="bikeshare-assessment-sets"),
    path("assessment/indicator-sets/<int:pk>", IndicatorSetDetailView.as_view(), name="bikeshare-assessment-set"),
    path("assessment/months/<str:month>", MonthResultsView.as_view(), name="bikeshare-assessment-month"),
    path("assessment/months/<str:month>/compute", MonthComputeView.as_view(),
         name="bikeshare-assessment-month-compute"),
    path("assessment/results/<int:pk>", ResultView.as_view(), name="bikeshare-assessment-result"),
    path("assessment/results/<int:pk>/publish", PublishView.as_view(), name="bikeshare-assessment-publish"),
    path("assessment/quarters/<str:quarter>", QuarterView.as_view(), name="bikeshare-assessment-quarter"),
    path("assessment/quarters/<str:quarter>/compute", QuarterComputeView.as_view(),
         name="bikeshare-assessment-quarter-compute"),
    path("assessment/grades/<int:pk>/adopt", AdoptView.as_view(), name="bikeshare-assessment-adopt"),
    path("assessment/complaints", ComplaintView.as_view(), name="bikeshare-assessment-complaints"),
]  # fmt: skip
