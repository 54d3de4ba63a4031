"""缓堵工作督查督办: the annual action plan (年度行动计划) and its tasks, supervised from issue to
close-out (销号).

A :class:`SupervisionPlan` is a year's plan: a title and its tasks. A :class:`SupervisionTask` is a
case: plan item number (``一、3``), title, content, target, a lead unit (牵头, ``UnitRole.LEAD``)
and responsible units (责任单位, ``UnitRole.RESPONSIBLE``), each ``CaseUnit`` with its own
working-day deadline. A task may be decomposed (分解) into one sub-task per responsible unit: a
case of its own (``parent`` set) assigned to that unit alone, so a unit's scope holds only its
own tasks and sub-tasks.

drafted (待下发) → issue → issued (已下发) → progress reports (进展报告) → in_progress (推进中) →
[request_extension → extension_requested (延期待批) → approve_extension / refuse_extension →
in_progress] → report_completion → reported (待审核) → accept → accepted (已审核) / send_back →
in_progress → close_out → closed (已销号).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from govcenter.core.scope import ScopedModel

from .cases import Case


class SupervisionState(models.TextChoices):
    DRAFTED = "drafted", _("待下发")
    ISSUED = "issued", _("已下发")
    IN_PROGRESS = "in_progress", _("推进中")
    EXTENSION_REQUESTED = "extension_requested", _("延期待批")
    REPORTED = "reported", _("待审核")
    ACCEPTED = "accepted", _("已审核")
    CLOSED = "closed", _("已销号")


RUNNING = (SupervisionState.ISSUED, SupervisionState.IN_PROGRESS, SupervisionState.EXTENSION_REQUESTED)


class ExtensionDecision(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


def _can_issue(instance, user) -> bool:
    return user.has_perm("congestion.issue_supervisiontask")


def _can_review(instance, user) -> bool:
    return user.has_perm("congestion.review_supervisiontask")


def _is_task_unit(instance, user) -> bool:
    """The user works in a unit the task is assigned to (lead or responsible)."""
    if not user.has_perm("congestion.report_supervisiontask") or getattr(user, "unit", None) is None:
        return False
    return instance.units.filter(unit_id=user.unit_id).exists()


class SupervisionPlan(ScopedModel):
    """年度行动计划: a units sees the plans in which it has a task."""

    year = models.PositiveSmallIntegerField(_("年度"))
    title = models.CharField(_("计划名称"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("登记人"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("登记时间"))

    scope_fields = {"unit": "tasks__units__unit"}

    class Meta:
        ordering = ["-year", "-id"]
        verbose_name = _("年度行动计划")
        verbose_name_plural = _("年度行动计划")
        constraints = [models.UniqueConstraint(fields=["year", "title"], name="congestion_supplan_once")]

    def __str__(self) -> str:
        return f"{self.year} {self.title}"


class SupervisionTask(Case):
    state = FSMField(
        _("状态"), default=SupervisionState.DRAFTED, choices=SupervisionState.choices, protected=True
    )
    plan = models.ForeignKey(
        SupervisionPlan, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("年度计划")
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subtasks",
        verbose_name=_("上级任务"),
    )
    item_no = models.CharField(_("计划序号"), max_length=30, blank=True)
    target = models.TextField(_("工作目标"), blank=True)
    # Until issue the units are only planned ([{"unit": pk, "role": ..., "deadline": iso}]): a
    # drafted task is nobody's but the Center's; issue assigns them (CaseUnit) and notifies.
    planned_units = models.JSONField(_("拟承办单位"), default=list, blank=True)
    issued_at = models.DateTimeField(_("下发时间"), null=True, blank=True)
    progress = models.PositiveSmallIntegerField(_("完成进度（%）"), default=0)
    last_report_at = models.DateTimeField(_("最近进展报告"), null=True, blank=True)
    completion_text = models.TextField(_("完成情况"), blank=True)
    completed_at = models.DateTimeField(_("完成报告时间"), null=True, blank=True)
    sends_back = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    review_comment = models.TextField(_("审核意见"), blank=True)

    class Meta:
        ordering = ["plan_id", "item_no", "id"]
        verbose_name = _("督办任务")
        verbose_name_plural = _("督办任务")
        permissions = [
            ("issue_supervisiontask", _("下发督办任务")),
            ("report_supervisiontask", _("报送督办任务进展")),
            ("review_supervisiontask", _("审核督办任务")),
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_suptask_state_due")]

    @transition(
        field=state, source=SupervisionState.DRAFTED, target=SupervisionState.ISSUED, permission=_can_issue
    )
    def issue(self, *, at):
        self.issued_at = at

    @transition(
        field=state,
        source=[SupervisionState.DRAFTED, *RUNNING],
        target=None,
        permission=_can_issue,
    )
    def decompose(self):
        """分解: one sub-task per responsible unit (the state does not change)."""

    @transition(
        field=state,
        source=list(RUNNING),
        target=RETURN_VALUE(SupervisionState.IN_PROGRESS, SupervisionState.EXTENSION_REQUESTED),
        permission=_is_task_unit,
    )
    def report_progress(self, *, percent: int, at):
        self.progress, self.last_report_at = percent, at
        if self.state == SupervisionState.EXTENSION_REQUESTED:
            return SupervisionState.EXTENSION_REQUESTED
        return SupervisionState.IN_PROGRESS

    @transition(
        field=state,
        source=[SupervisionState.ISSUED, SupervisionState.IN_PROGRESS],
        target=SupervisionState.EXTENSION_REQUESTED,
        permission=_is_task_unit,
    )
    def request_extension(self):
        pass

    @transition(
        field=state,
        source=SupervisionState.EXTENSION_REQUESTED,
        target=SupervisionState.IN_PROGRESS,
        permission=_can_review,
    )
    def approve_extension(self, *, deadline):
        self.deadline = deadline

    @transition(
        field=state,
        source=SupervisionState.EXTENSION_REQUESTED,
        target=SupervisionState.IN_PROGRESS,
        permission=_can_review,
    )
    def refuse_extension(self):
        pass

    @transition(
        field=state,
        source=[SupervisionState.ISSUED, SupervisionState.IN_PROGRESS],
        target=SupervisionState.REPORTED,
        permission=_is_task_unit,
    )
    def report_completion(self, *, text: str, at):
        self.completion_text, self.completed_at, self.progress = text, at, 100

    @transition(
        field=state,
        source=SupervisionState.REPORTED,
        target=SupervisionState.ACCEPTED,
        permission=_can_review,
    )
    def accept(self, *, remark: str):
        self.review_comment = remark

    @transition(
        field=state,
        source=SupervisionState.REPORTED,
        target=SupervisionState.IN_PROGRESS,
        permission=_can_review,
    )
    def send_back(self, *, reason: str):
        self.review_comment, self.completed_at, self.sends_back = reason, None, self.sends_back + 1

    @transition(
        field=state, source=SupervisionState.ACCEPTED, target=SupervisionState.CLOSED, permission=_can_review
    )
    def close_out(self, *, at):
        self.closed_at = at


class SupervisionReport(models.Model):
    """进展报告 of one unit on one task (files attached to the row)."""

    task = models.ForeignKey(
        SupervisionTask, on_delete=models.CASCADE, related_name="reports", verbose_name=_("任务")
    )
    unit = models.ForeignKey(
        "core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("报送单位")
    )
    text = models.TextField(_("进展情况"))
    percent = models.PositiveSmallIntegerField(_("完成进度（%）"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("报送人"),
    )
    reported_at = models.DateTimeField(_("报送时间"))

    class Meta:
        ordering = ["task_id", "reported_at", "id"]
        verbose_name = _("进展报告")
        verbose_name_plural = _("进展报告")
        indexes = [models.Index(fields=["task", "unit", "reported_at"], name="congestion_supreport_unit")]

    def __str__(self) -> str:
        return f"{self.task_id} {self.percent}%"


class SupervisionExtension(models.Model):
    """延期申请 of one unit: asked before the due date, decided by the Center."""

    task = models.ForeignKey(
        SupervisionTask, on_delete=models.CASCADE, related_name="extensions", verbose_name=_("任务")
    )
    unit = models.ForeignKey(
        "core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请单位")
    )
    reason = models.TextField(_("延期理由"))
    old_deadline = models.DateField(_("原期限"))
    new_deadline = models.DateField(_("申请延至"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("申请人"),
    )
    requested_at = models.DateTimeField(_("申请时间"))
    decision = models.CharField(
        _("审批结果"), max_length=10, choices=ExtensionDecision.choices, default=ExtensionDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("审批人"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    comment = models.TextField(_("审批意见"), blank=True)

    class Meta:
        ordering = ["task_id", "requested_at", "id"]
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")

    def __str__(self) -> str:
        return f"{self.task_id} → {self.new_deadline}"
