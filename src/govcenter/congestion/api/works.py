"""API of the project kinds under ``/api/v1/congestion/``: ``works/`` (疏堵工程) and ``infra/``
(交通基础设施项目), each built from its ``KIND`` (list, one, register, the steps, history) —
plus ``projects/statistics`` for the dashboard. Amounts are entered in 万元 (up to 6 decimals,
converted exactly) and read in fen."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core import deadlines
from govcenter.core.models import District, Unit

from ..kinds import Create, Kind, Step
from ..models import (
    OPEN_STAGES,
    Better,
    InfraProject,
    Milestone,
    ProjectRisk,
    ReliefWork,
    RiskKind,
    RiskLevel,
    Stage,
    WorkCategory,
    WorkState,
)
from ..services import works as services
from .cases import CaseSerializer

MAX_WAN = 10**8  # 1,000 亿元

# --- shared ----------------------------------------------------------------------------------


class ProjectMilestoneSerializer(serializers.ModelSerializer):
    slipped = serializers.BooleanField(read_only=True)

    class Meta:
        model = Milestone
        fields = ["id", "seq", "name", "planned_on", "actual_on", "slipped"]


class ProjectReportSerializer(serializers.Serializer):
    percent = serializers.IntegerField()
    note = serializers.CharField()
    reason = serializers.CharField()
    month = serializers.DateField(format="%Y-%m", allow_null=True)
    invested_fen = serializers.IntegerField(allow_null=True)
    reported_at = serializers.DateTimeField()


class ProjectSerializer(CaseSerializer):
    """Base of both kinds' read serializers: progress, milestones, reports, behind."""

    milestones = ProjectMilestoneSerializer(many=True, read_only=True)
    reports = ProjectReportSerializer(many=True, read_only=True)
    behind = serializers.SerializerMethodField()

    PROJECT_FIELDS = [*CaseSerializer.CASE_FIELDS, "progress_pct", "milestones", "reports", "behind"]

    def get_behind(self, obj) -> bool:
        return obj.behind()


class ProjectMilestoneInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, label=_("里程碑"))
    planned_on = serializers.DateField(label=_("计划日期"))


class ProjectMilestoneStepSerializer(serializers.Serializer):
    milestone = serializers.PrimaryKeyRelatedField(queryset=Milestone.objects.all())
    actual_on = serializers.DateField()
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProjectCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=services.MAX_TEXT, required=False, allow_blank=True, default="")
    location = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="GeoJSON Point/LineString"
    )
    district = serializers.SlugRelatedField(
        slug_field="code", queryset=District.objects.all(), required=False, allow_null=True, default=None
    )
    unit = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(is_active=True), help_text="责任单位"
    )
    deadline = serializers.DateField(help_text="计划完成日期（工作日）")
    milestones = ProjectMilestoneInputSerializer(many=True, required=False, default=list)


class ProjectCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProjectReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


def _wan(attrs: dict, name: str, fen_name: str) -> dict:
    if name in attrs:
        attrs[fen_name] = services.wan_to_fen(attrs.pop(name), name)
    return attrs


def _wan_field(**kw):
    return serializers.DecimalField(max_digits=16, decimal_places=6, max_value=MAX_WAN, **kw)


# --- 疏堵工程 ----------------------------------------------------------------------------


class WorkIndicatorSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField()
    better = serializers.CharField()
    before_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    before_on = serializers.DateField()
    after_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    after_on = serializers.DateField(allow_null=True)
    improvement_pct = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)


class WorkSerializer(ProjectSerializer):
    indicators = WorkIndicatorSerializer(many=True, read_only=True)

    class Meta:
        model = ReliefWork
        fields = [*ProjectSerializer.PROJECT_FIELDS, "category", "started_at", "completed_at", "suspended_from",
                  "suspend_reason", "indicators"]  # fmt: skip


class WorkIndicatorBeforeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60, label=_("指标"))
    unit = serializers.CharField(max_length=20, help_text="km/h, m, s/veh …", label=_("计量单位"))
    better = serializers.ChoiceField(choices=Better.choices, label=_("改善方向"))
    before_value = serializers.DecimalField(max_digits=12, decimal_places=2, label=_("实施前数值"))
    before_on = serializers.DateField(label=_("实施前测量日期"))


class WorkIndicatorAfterSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60, label=_("指标"))
    after_value = serializers.DecimalField(max_digits=12, decimal_places=2, label=_("实施后数值"))
    after_on = serializers.DateField(label=_("实施后测量日期"))


class WorkCreateSerializer(ProjectCreateSerializer):
    category = serializers.ChoiceField(choices=WorkCategory.choices)
    indicators = WorkIndicatorBeforeSerializer(many=True, required=False, default=list)


class WorkReportSerializer(serializers.Serializer):
    percent = serializers.IntegerField(help_text="0–100")
    note = serializers.CharField(max_length=services.MAX_TEXT)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class WorkEvaluateSerializer(serializers.Serializer):
    indicators = WorkIndicatorAfterSerializer(many=True)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class WorkFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=WorkState.choices)
    category = filters.ChoiceFilter(choices=WorkCategory.choices)
    district = filters.CharFilter(field_name="district__code")

    class Meta:
        model = ReliefWork
        fields = ["state", "category", "district"]


def _progress(case) -> int:
    return case.progress_pct


def _behind(case) -> bool:
    return case.behind()


KIND = Kind(
    code="works",
    model=ReliefWork,
    label=_("疏堵工程"),
    serializer=WorkSerializer,
    view_permission="congestion.view_reliefwork",
    filterset=WorkFilter,
    create=Create(WorkCreateSerializer, services.work_register, "congestion.add_reliefwork"),
    steps=(
        Step("start", _("开工"), ProjectCommentSerializer, services.work_start),
        Step("report", _("填报进度"), WorkReportSerializer, services.work_report),
        Step(
            "milestone",
            _("登记节点完成"),
            ProjectMilestoneStepSerializer,
            services.work_milestone,
            style="secondary",
        ),
        Step("complete", _("完工"), ProjectCommentSerializer, services.work_complete),
        Step("evaluate", _("效果评估"), WorkEvaluateSerializer, services.work_evaluate),
        Step("close", _("关闭"), ProjectCommentSerializer, services.work_close),
        Step("suspend", _("暂停"), ProjectReasonSerializer, services.work_suspend, style="danger"),
        Step("resume", _("恢复"), ProjectReasonSerializer, services.work_resume, style="secondary"),
    ),
    open_states=(WorkState.PLANNED, WorkState.CONSTRUCTION),
    columns=("number", "title", "category", "state", "district", "progress_pct", "deadline"),
    progress=_progress,
    behind=_behind,
    case_arg="work",
)


# --- 交通基础设施项目 ------------------------------------------------------------------------


class InfraApprovalSerializer(serializers.Serializer):
    stage = serializers.CharField()
    document_number = serializers.CharField()
    document_date = serializers.DateField()


class InfraRiskSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectRisk
        fields = [
            "id",
            "kind",
            "description",
            "level",
            "owner",
            "is_open",
            "raised_at",
            "closed_at",
            "resolution",
        ]


class InfraSerializer(ProjectSerializer):
    approvals = InfraApprovalSerializer(many=True, read_only=True)
    risks = InfraRiskSerializer(many=True, read_only=True)
    investment = serializers.SerializerMethodField(help_text="per year: planned / done / cumulative (fen)")

    class Meta:
        model = InfraProject
        fields = [*ProjectSerializer.PROJECT_FIELDS, "builder", "total_investment_fen", "approvals", "risks",
                  "investment"]  # fmt: skip

    def get_investment(self, obj) -> list[dict]:
        return services.investment_by_year(obj)


class InfraFilesMixin(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class InfraCreateSerializer(ProjectCreateSerializer, InfraFilesMixin):
    document_number = serializers.CharField(max_length=80, help_text="立项批复文号")
    document_date = serializers.DateField()
    builder = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    total_investment_wan = _wan_field(required=False, help_text="总投资（万元）")

    def validate(self, attrs):
        return _wan(attrs, "total_investment_wan", "total_investment_fen")


class InfraStageSerializer(InfraFilesMixin):
    document_number = serializers.CharField(max_length=80, help_text="批复文号")
    document_date = serializers.DateField()
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class InfraPlanSerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    planned_wan = _wan_field(help_text="计划投资（万元）")
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        return _wan(attrs, "planned_wan", "planned_fen")


class InfraReportSerializer(serializers.Serializer):
    month = serializers.DateField(input_formats=["%Y-%m", "%Y-%m-%d"], help_text="YYYY-MM")
    text = serializers.CharField(max_length=services.MAX_TEXT)
    percent = serializers.IntegerField(help_text="0–100")
    invested_wan = _wan_field(help_text="当月完成投资（万元）")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)

    def validate(self, attrs):
        return _wan(attrs, "invested_wan", "invested_fen")


class InfraRiskAddSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RiskKind.choices, default=RiskKind.RISK)
    description = serializers.CharField(max_length=services.MAX_TEXT)
    level = serializers.ChoiceField(choices=RiskLevel.choices)
    owner = serializers.CharField(max_length=50)


class InfraRiskCloseSerializer(serializers.Serializer):
    risk = serializers.PrimaryKeyRelatedField(queryset=ProjectRisk.objects.filter(is_open=True))
    resolution = serializers.CharField(max_length=500)


class InfraFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=Stage.choices)
    district = filters.CharFilter(field_name="district__code")

    class Meta:
        model = InfraProject
        fields = ["state", "district"]


def _stage(name: str, label):
    return Step(name, label, InfraStageSerializer, services.stage_step(name), upload=True)


INFRA_KIND = Kind(
    code="infra",
    model=InfraProject,
    label=_("交通基础设施项目"),
    serializer=InfraSerializer,
    view_permission="congestion.view_infraproject",
    filterset=InfraFilter,
    create=Create(InfraCreateSerializer, services.infra_register, "congestion.add_infraproject"),
    steps=(
        _stage("feasibility", _("可研批复")),
        _stage("design", _("初设批复")),
        _stage("construction", _("开工（施工）")),
        _stage("acceptance", _("竣工验收")),
        Step("report", _("填报月报"), InfraReportSerializer, services.infra_report, upload=True),
        Step(
            "milestone",
            _("登记节点完成"),
            ProjectMilestoneStepSerializer,
            services.infra_milestone,
            style="secondary",
        ),  # fmt: skip
        Step(
            "plan_investment",
            _("年度投资计划"),
            InfraPlanSerializer,
            services.infra_plan_investment,
            style="secondary",
        ),  # fmt: skip
        Step(
            "add_risk", _("登记风险/问题"), InfraRiskAddSerializer, services.infra_add_risk, style="secondary"
        ),
        Step(
            "close_risk",
            _("关闭风险/问题"),
            InfraRiskCloseSerializer,
            services.infra_close_risk,
            style="secondary",
        ),
    ),
    open_states=tuple(OPEN_STAGES),
    columns=("number", "title", "state", "district", "progress_pct", "total_investment_fen", "deadline"),
    progress=_progress,
    behind=_behind,
    case_arg="project",
)


# --- the dashboard ---------------------------------------------------------------------------


class ProjectStatisticsQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100, required=False)


class ProjectStatisticsView(APIView):
    """Counts by state / stage / district, investment plan vs actual for a year (fen) and the
    slipped milestones of the projects in the caller's scope (``?year=`` default this year)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[ProjectStatisticsQuerySerializer], responses=dict)
    def get(self, request):
        from govcenter.core.api.errors import ServiceError

        user = request.user
        if not (user.has_perm("congestion.view_reliefwork") or user.has_perm("congestion.view_infraproject")):
            raise ServiceError(_("您无权查看项目统计。"), code="permission_denied", status=403)
        query = ProjectStatisticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or deadlines.today().year
        return Response(services.project_statistics(user, year=year))
