"""Projects: 疏堵工程 (relief works, e.g. junction redesigns) and 交通基础设施项目 (infrastructure
construction). Both are :class:`Project` s — a case with a responsible unit (责任单位), planned
and actual milestones (:class:`Milestone`) and a history of progress reports
(:class:`ProgressReport`; an infrastructure project's monthly reports are progress reports with
a month). One milestone/progress design serves both kinds; each adds its own workflow:

* relief works: planned → in construction → completed → evaluated (after-indicators entered) →
  closed; suspended / resumed with reasons; before/after :class:`WorkIndicator` s;
* infrastructure: stages 立项 → 可研 → 初设 → 施工 → 验收, each reached with its approval
  (:class:`StageApproval`: document number, date, files); yearly :class:`InvestmentPlan` against
  the monthly reports' investment done; a :class:`ProjectRisk` register.

Self-loop transitions (``report``, ``milestone``, ``plan_investment``, ``add_risk`` …) make
every user action a workflow step: permission-checked, history-logged, audited, locked.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from govcenter.core import deadlines

from .cases import Case, UnitRole

# --- shared: milestones, progress reports, the project base, permission callables -------------


class Milestone(models.Model):
    """A planned milestone of a project (any kind) and when it was actually reached."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("事项类型"))
    object_id = models.BigIntegerField(_("事项编号"))
    case = GenericForeignKey("content_type", "object_id")
    seq = models.PositiveSmallIntegerField(_("序号"))
    name = models.CharField(_("节点名称"), max_length=100)
    planned_on = models.DateField(_("计划日期"))
    actual_on = models.DateField(_("实际日期"), null=True, blank=True)

    class Meta:
        ordering = ["content_type", "object_id", "seq"]
        verbose_name = _("里程碑")
        verbose_name_plural = _("里程碑")
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "seq"], name="congestion_milestone_seq"
            )
        ]
        indexes = [models.Index(fields=["planned_on", "actual_on"], name="congestion_milestone_due")]

    def __str__(self) -> str:
        return f"{self.name} {self.planned_on}"

    @property
    def slipped(self) -> bool:
        """The planned date has passed and the milestone was not reached."""
        return self.actual_on is None and self.planned_on < deadlines.today()


class ProgressReport(models.Model):
    """One progress report of a project: percent done with a note (and the reason when the
    percent goes down). An infrastructure project's monthly report (月报) carries its month
    (one per project and month) and the investment done that month."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("事项类型"))
    object_id = models.BigIntegerField(_("事项编号"))
    case = GenericForeignKey("content_type", "object_id")
    percent = models.PositiveSmallIntegerField(_("完成百分比"))
    note = models.TextField(_("进展情况"), blank=True)
    reason = models.CharField(_("进度回退原因"), max_length=500, blank=True)
    month = models.DateField(_("月份"), null=True, blank=True, help_text=_("月报：该月第一天"))
    invested_fen = models.BigIntegerField(_("当月完成投资（分）"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("填报人"),
    )  # fmt: skip
    reported_at = models.DateTimeField(_("填报时间"), default=timezone.now)

    class Meta:
        ordering = ["content_type", "object_id", "reported_at", "id"]
        verbose_name = _("进度报告")
        verbose_name_plural = _("进度报告")
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "month"], name="congestion_report_once_a_month"
            ),
            models.CheckConstraint(
                condition=models.Q(percent__lte=100), name="congestion_report_percent_max"
            ),
            models.CheckConstraint(
                condition=models.Q(invested_fen__isnull=True) | models.Q(invested_fen__gte=0),
                name="congestion_report_invested_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.percent}% {self.reported_at:%Y-%m-%d}"


class Project(Case):
    """Abstract base of the project kinds: progress, milestones, reports, a responsible unit."""

    progress_pct = models.PositiveSmallIntegerField(_("完成百分比"), default=0)
    milestones = GenericRelation(Milestone, object_id_field="object_id", content_type_field="content_type")
    reports = GenericRelation(ProgressReport, object_id_field="object_id", content_type_field="content_type")

    class Meta:
        abstract = True

    def slipped_milestones(self) -> list[Milestone]:
        return [m for m in self.milestones.all() if m.slipped]

    def behind(self) -> bool:
        return bool(self.slipped_milestones())


def _in_responsible_unit(instance, user, perm: str) -> bool:
    from govcenter.core.models import Unit

    if not user.has_perm(perm) or getattr(user, "unit", None) is None:
        return False
    mine = Unit.objects.subtree_ids(user.unit)
    return instance.units.filter(role=UnitRole.RESPONSIBLE, unit_id__in=mine).exists()


def responsible(perm: str):
    """Permission callable: the user holds ``perm`` and works in the case's responsible unit."""
    return lambda instance, user: _in_responsible_unit(instance, user, perm)


def holds(perm: str):
    return lambda instance, user: user.has_perm(perm)


def either(*checks):
    return lambda instance, user: any(check(instance, user) for check in checks)


# --- 疏堵工程 ----------------------------------------------------------------------------


class WorkState(models.TextChoices):
    PLANNED = "planned", _("计划")
    CONSTRUCTION = "construction", _("施工中")
    COMPLETED = "completed", _("已完工")
    EVALUATED = "evaluated", _("已评估")
    CLOSED = "closed", _("已关闭")
    SUSPENDED = "suspended", _("已暂停")


class WorkCategory(models.TextChoices):
    JUNCTION = "junction", _("节点改造")
    ROAD = "road", _("道路疏通")
    SIGNAL = "signal", _("信号优化")
    CHANNEL = "channel", _("渠化与标志标线")
    PARKING = "parking", _("停车治理")
    OTHER = "other", _("其他")


class Better(models.TextChoices):
    LOWER = "lower", _("越低越好")
    HIGHER = "higher", _("越高越好")


WORK_REPORT = "congestion.report_reliefwork"
WORK_CHANGE = "congestion.change_reliefwork"
_work_unit = responsible(WORK_REPORT)
_work_staff = holds(WORK_CHANGE)


class ReliefWork(Project):
    state = FSMField(_("状态"), default=WorkState.PLANNED, choices=WorkState.choices, protected=True)
    category = models.CharField(_("工程类别"), max_length=12, choices=WorkCategory.choices)
    started_at = models.DateTimeField(_("开工时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完工时间"), null=True, blank=True)
    suspended_from = models.CharField(_("暂停前状态"), max_length=16, blank=True)
    suspend_reason = models.CharField(_("暂停原因"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("疏堵工程")
        verbose_name_plural = _("疏堵工程")
        permissions = [("report_reliefwork", _("填报疏堵工程进度"))]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_work_state_due")]

    @transition(field=state, source=WorkState.PLANNED, target=WorkState.CONSTRUCTION, permission=_work_unit)
    def start(self, *, at):
        self.started_at = at

    @transition(field=state, source=[WorkState.PLANNED, WorkState.CONSTRUCTION], target=RETURN_VALUE(),
                permission=either(_work_unit, _work_staff))  # fmt: skip
    def milestone(self):
        return self.state

    @transition(
        field=state, source=WorkState.CONSTRUCTION, target=WorkState.CONSTRUCTION, permission=_work_unit
    )
    def report(self, *, percent: int):
        self.progress_pct = percent

    @transition(field=state, source=WorkState.CONSTRUCTION, target=WorkState.COMPLETED, permission=_work_unit)
    def complete(self, *, at):
        self.progress_pct, self.completed_at = 100, at

    @transition(field=state, source=WorkState.COMPLETED, target=WorkState.EVALUATED, permission=_work_staff)
    def evaluate(self):
        pass

    @transition(field=state, source=WorkState.EVALUATED, target=WorkState.CLOSED, permission=_work_staff)
    def close(self, *, at):
        self.closed_at = at

    @transition(field=state, source=[WorkState.PLANNED, WorkState.CONSTRUCTION], target=WorkState.SUSPENDED,
                permission=_work_staff)  # fmt: skip
    def suspend(self, *, reason: str):
        self.suspended_from, self.suspend_reason = self.state, reason

    @transition(field=state, source=WorkState.SUSPENDED,
                target=RETURN_VALUE(WorkState.PLANNED, WorkState.CONSTRUCTION), permission=_work_staff)  # fmt: skip
    def resume(self):
        back, self.suspended_from, self.suspend_reason = self.suspended_from, "", ""
        return back


class WorkIndicator(models.Model):
    """A before/after traffic indicator of a relief work (peak-hour speed, queue length…)."""

    work = models.ForeignKey(ReliefWork, on_delete=models.CASCADE, related_name="indicators")
    name = models.CharField(_("指标"), max_length=60)
    unit = models.CharField(_("计量单位"), max_length=20)
    better = models.CharField(_("改善方向"), max_length=8, choices=Better.choices)
    before_value = models.DecimalField(_("实施前"), max_digits=12, decimal_places=2)
    before_on = models.DateField(_("实施前测定日期"))
    after_value = models.DecimalField(_("实施后"), max_digits=12, decimal_places=2, null=True, blank=True)
    after_on = models.DateField(_("实施后测定日期"), null=True, blank=True)

    class Meta:
        ordering = ["work", "id"]
        verbose_name = _("效果指标")
        verbose_name_plural = _("效果指标")
        constraints = [models.UniqueConstraint(fields=["work", "name"], name="congestion_indicator_once")]

    def __str__(self) -> str:
        return f"{self.name}（{self.unit}）"

    @property
    def improvement_pct(self) -> Decimal | None:
        """How much better the after value is, in percent of the before value (1 decimal)."""
        if self.after_value is None or not self.before_value:
            return None
        change = Decimal(self.after_value) - Decimal(self.before_value)
        if self.better == Better.LOWER:
            change = -change
        return (100 * change / abs(Decimal(self.before_value))).quantize(Decimal("0.1"))


# --- 交通基础设施项目 ------------------------------------------------------------------------


class Stage(models.TextChoices):
    INITIATION = "initiation", _("立项")
    FEASIBILITY = "feasibility", _("可研")
    DESIGN = "design", _("初设")
    CONSTRUCTION = "construction", _("施工")
    ACCEPTANCE = "acceptance", _("验收")


class RiskLevel(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class RiskKind(models.TextChoices):
    RISK = "risk", _("风险")
    ISSUE = "issue", _("问题")


INFRA_REPORT = "congestion.report_infraproject"
INFRA_CHANGE = "congestion.change_infraproject"
_infra_unit = responsible(INFRA_REPORT)
_infra_staff = holds(INFRA_CHANGE)
OPEN_STAGES = [Stage.INITIATION, Stage.FEASIBILITY, Stage.DESIGN, Stage.CONSTRUCTION]


class InfraProject(Project):
    state = FSMField(_("阶段"), default=Stage.INITIATION, choices=Stage.choices, protected=True)
    builder = models.CharField(_("建设单位"), max_length=100, blank=True)
    total_investment_fen = models.BigIntegerField(_("总投资（分）"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("交通基础设施项目")
        verbose_name_plural = _("交通基础设施项目")
        permissions = [("report_infraproject", _("填报基础设施项目月报"))]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_infra_state_due")]

    @transition(field=state, source=Stage.INITIATION, target=Stage.FEASIBILITY, permission=_infra_staff)
    def feasibility(self):
        pass

    @transition(field=state, source=Stage.FEASIBILITY, target=Stage.DESIGN, permission=_infra_staff)
    def design(self):
        pass

    @transition(field=state, source=Stage.DESIGN, target=Stage.CONSTRUCTION, permission=_infra_staff)
    def construction(self):
        pass

    @transition(field=state, source=Stage.CONSTRUCTION, target=Stage.ACCEPTANCE, permission=_infra_staff)
    def acceptance(self, *, at):
        self.progress_pct, self.closed_at = 100, at

    @transition(
        field=state, source=OPEN_STAGES, target=RETURN_VALUE(), permission=either(_infra_unit, _infra_staff)
    )
    def milestone(self):
        return self.state

    @transition(field=state, source=OPEN_STAGES, target=RETURN_VALUE(), permission=_infra_unit)
    def report(self, *, percent: int):
        self.progress_pct = percent
        return self.state

    @transition(field=state, source=OPEN_STAGES, target=RETURN_VALUE(), permission=_infra_staff)
    def plan_investment(self):
        return self.state

    @transition(
        field=state, source=OPEN_STAGES, target=RETURN_VALUE(), permission=either(_infra_unit, _infra_staff)
    )
    def add_risk(self):
        return self.state

    @transition(
        field=state, source=OPEN_STAGES, target=RETURN_VALUE(), permission=either(_infra_unit, _infra_staff)
    )
    def close_risk(self):
        return self.state


class StageApproval(models.Model):
    """The approval with which a project reached a stage (批复文号, date; files attached to it)."""

    project = models.ForeignKey(InfraProject, on_delete=models.CASCADE, related_name="approvals")
    stage = models.CharField(_("阶段"), max_length=16, choices=Stage.choices)
    document_number = models.CharField(_("批复文号"), max_length=80)
    document_date = models.DateField(_("批复日期"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("登记人"),
    )  # fmt: skip
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    class Meta:
        ordering = ["project", "recorded_at", "id"]
        verbose_name = _("阶段批复")
        verbose_name_plural = _("阶段批复")
        constraints = [models.UniqueConstraint(fields=["project", "stage"], name="congestion_approval_once")]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.document_number}"


class InvestmentPlan(models.Model):
    """计划投资 of one project in one year (integer fen); 完成投资 comes from the monthly reports."""

    project = models.ForeignKey(InfraProject, on_delete=models.CASCADE, related_name="investment_plans")
    year = models.PositiveSmallIntegerField(_("年度"))
    planned_fen = models.BigIntegerField(_("计划投资（分）"))

    class Meta:
        ordering = ["project", "year"]
        verbose_name = _("年度投资计划")
        verbose_name_plural = _("年度投资计划")
        constraints = [
            models.UniqueConstraint(fields=["project", "year"], name="congestion_investment_once"),
            models.CheckConstraint(
                condition=models.Q(planned_fen__gte=0), name="congestion_investment_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}: {self.planned_fen}"


class ProjectRisk(models.Model):
    project = models.ForeignKey(InfraProject, on_delete=models.CASCADE, related_name="risks")
    kind = models.CharField(_("类型"), max_length=8, choices=RiskKind.choices, default=RiskKind.RISK)
    description = models.TextField(_("描述"))
    level = models.CharField(_("等级"), max_length=8, choices=RiskLevel.choices)
    owner = models.CharField(_("责任人"), max_length=50)
    is_open = models.BooleanField(_("未关闭"), default=True)
    raised_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    resolution = models.CharField(_("处理结果"), max_length=500, blank=True)

    class Meta:
        ordering = ["project", "-is_open", "raised_at", "id"]
        verbose_name = _("风险与问题")
        verbose_name_plural = _("风险与问题")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.description[:20]}"
