"""API of 缓堵工作督查督办 under ``/api/v1/congestion/``.

* ``supervision/`` — the tasks (the kind's viewset): the scoped list (filters ``state``, ``plan``,
  ``unit``, ``year``, ``overdue=1``), one task, ``POST`` a drafted task, the steps
  ``{id}/issue|decompose|report-progress|request-extension|approve-extension|refuse-extension|
  report-completion|accept|send-back|close-out`` and ``{id}/history``; a responsible unit sees only
  its own tasks and sub-tasks (404 otherwise);
* ``supervision-plans/`` — the annual plans (list, one, ``POST``) and ``{id}/import`` (multipart
  ``file``: the plan's tasks from Excel, all rows or none, 400 ``import_invalid`` listing each bad
  row's row and column);
* ``supervision-stats/?year=`` — the dashboard's counts by state and unit and the units' scores.
"""

from __future__ import annotations

from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.errors import ServiceError
from govcenter.core.filters import IntegerFilter
from govcenter.core.models import Unit

from ..kinds import Create, Kind, Step
from ..models import SupervisionPlan, SupervisionReport, SupervisionState, SupervisionTask
from ..services import supervision as services
from .cases import CaseSerializer, InScope

VIEW = "congestion.view_supervisiontask"


def _files_field():
    return serializers.ListField(child=serializers.FileField(), required=False, default=list)


class SupervisionReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupervisionReport
        fields = ["id", "unit", "text", "percent", "reported_at"]


class SupervisionTaskSerializer(CaseSerializer):
    reports = SupervisionReportSerializer(many=True, read_only=True)
    subtasks = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = SupervisionTask
        fields = [
            *CaseSerializer.CASE_FIELDS, "plan", "parent", "item_no", "target", "planned_units", "issued_at",
            "progress", "last_report_at", "completion_text", "completed_at", "sends_back", "review_comment",
            "subtasks", "reports",
        ]  # fmt: skip


class SupervisionTaskCreateSerializer(serializers.Serializer):
    plan = InScope(queryset=SupervisionPlan.objects.all())
    item_no = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    target = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    lead = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.filter(is_active=True))
    responsible = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(is_active=True), many=True, required=False, default=list
    )
    deadline = serializers.DateField()


class SupervisionCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SupervisionProgressSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_BODY)
    percent = serializers.IntegerField(min_value=0, max_value=100)
    files = _files_field()


class SupervisionExtensionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=services.MAX_BODY)
    deadline = serializers.DateField(help_text="the new due date (a working day)")
    files = _files_field()


class SupervisionRefuseSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000)


class SupervisionCompletionSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_BODY)
    files = _files_field()


class SupervisionSendBackSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class SupervisionTaskFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=SupervisionState.choices)
    plan = IntegerFilter(field_name="plan_id")
    year = IntegerFilter(field_name="year", min_value=2000, max_value=2100)
    unit = IntegerFilter(field_name="units__unit", distinct=True)

    class Meta:
        model = SupervisionTask
        fields = ["state", "plan", "year", "unit"]


KIND = Kind(
    code="supervision",
    model=SupervisionTask,
    label=_("督查督办"),
    serializer=SupervisionTaskSerializer,
    view_permission=VIEW,
    filterset=SupervisionTaskFilter,
    create=Create(SupervisionTaskCreateSerializer, services.task_create, "congestion.add_supervisiontask"),
    steps=(
        Step("issue", _("下发"), SupervisionCommentSerializer, services.task_issue),
        Step(
            "decompose", _("分解"), SupervisionCommentSerializer, services.task_decompose, style="secondary"
        ),
        Step(
            "report_progress",
            _("报送进展"),
            SupervisionProgressSerializer,
            services.task_report_progress,
            upload=True,
        ),  # fmt: skip
        Step(
            "request_extension",
            _("申请延期"),
            SupervisionExtensionSerializer,
            services.task_request_extension,
            style="secondary",
            upload=True,
        ),  # fmt: skip
        Step(
            "approve_extension", _("批准延期"), SupervisionCommentSerializer, services.task_approve_extension
        ),
        Step(
            "refuse_extension",
            _("不予延期"),
            SupervisionRefuseSerializer,
            services.task_refuse_extension,
            style="danger",
        ),  # fmt: skip
        Step(
            "report_completion",
            _("报送完成情况"),
            SupervisionCompletionSerializer,
            services.task_report_completion,
            upload=True,
        ),  # fmt: skip
        Step("accept", _("审核通过"), SupervisionCommentSerializer, services.task_accept),
        Step("send_back", _("退回"), SupervisionSendBackSerializer, services.task_send_back, style="danger"),
        Step("close_out", _("销号"), SupervisionCommentSerializer, services.task_close_out),
    ),
    open_states=tuple(
        s.value
        for s in (SupervisionState.ISSUED, SupervisionState.IN_PROGRESS, SupervisionState.EXTENSION_REQUESTED)
    ),  # fmt: skip
    columns=("number", "item_no", "title", "state", "progress", "deadline", "created_at"),
    progress=lambda task: task.progress,
    started=lambda task: task.issued_at or task.created_at,
    behind=services.report_missing,
    ordering=("plan_id", "item_no", "id"),
    case_arg="task",
)


# -- plans ---------------------------------------------------------------------------------------


class SupervisionPlanSerializer(serializers.ModelSerializer):
    tasks = serializers.SerializerMethodField()

    class Meta:
        model = SupervisionPlan
        fields = ["id", "year", "title", "created_at", "tasks"]
        read_only_fields = ["created_at", "tasks"]

    def get_tasks(self, obj) -> int:
        request = self.context.get("request")
        return SupervisionTask.objects.restrict(request.user).filter(plan=obj).count() if request else 0


class SupervisionPlanImportSerializer(serializers.Serializer):
    file = serializers.FileField()


class SupervisionImportResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()


class SupervisionPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """年度行动计划: staff register plans and import their tasks; units see the plans they work on."""

    queryset = SupervisionPlan.objects.all()
    serializer_class = SupervisionPlanSerializer
    read_permissions = (VIEW,)
    write_permissions = ("congestion.add_supervisiontask",)

    def scoped_queryset(self, queryset):
        return queryset.distinct()

    @extend_schema(request=SupervisionPlanSerializer, responses={201: SupervisionPlanSerializer})
    def create(self, request):
        body = SupervisionPlanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = services.plan_create(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SupervisionPlanImportSerializer, responses=SupervisionImportResultSerializer)
    @action(detail=True, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_tasks(self, request, pk=None):
        body = SupervisionPlanImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        result = services.plan_import(actor=request.user, plan=self.get_object(), data=upload.read(),
                                      filename=upload.name)  # fmt: skip
        if not result.ok:
            errors: dict[str, list[str]] = {}
            for e in result.as_dict()["errors"]:
                errors.setdefault(f"row {e['row']}: {e['column']}", []).append(e["message"])
            raise ServiceError(
                _("导入失败：以下行有错误，未导入任何任务。"), code="import_invalid", details=errors
            )
        return Response(result.as_dict())


class SupervisionStatsView(APIView):
    """The dashboard: counts by state and unit, and the units' scores, within the caller's scope."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=dict)
    def get(self, request):
        if not request.user.has_perm(VIEW):
            raise ServiceError(_("您无权执行该操作。"), code="permission_denied", status=403)
        try:
            year = int(request.query_params.get("year") or services.now().year)
        except ValueError:
            raise ServiceError(
                _("年度无效。"), code="invalid", details={"year": [request.query_params["year"]]}
            ) from None
        return Response(services.supervision_stats(user=request.user, year=year))


router = SimpleRouter()
router.register("supervision-plans", SupervisionPlanViewSet, basename="congestion-supervision-plans")
urlpatterns = [
    path("supervision-stats/", SupervisionStatsView.as_view(), name="congestion-supervision-stats"),
    path("", include(router.urls)),
]
