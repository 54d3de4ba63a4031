"""The 7×24 duty roster (值班表), its swaps, the escalation chain of incidents (升级链), the
special-guard plans (重要活动保障方案) and the incident response plans (应急预案) with their
drills (演练). Services live in ``govcenter.ops.duty``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from govcenter.core.scope import ScopedModel

from .incidents import GuardPeriod, Incident, Severity


class Shift(models.Model):
    """A shift of the day (白班 08:30–17:30, 夜班 17:30–08:30 the next day). Active shifts
    must tile the 24 hours (the generator checks); ``ends`` at or before ``starts`` means the
    shift runs into the next day. Configuration of the Center, not scoped."""

    code = models.SlugField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=20)
    starts = models.TimeField(_("开始"))
    ends = models.TimeField(_("结束"))
    is_night = models.BooleanField(_("夜班"), default=False)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["starts"]
        verbose_name = _("班次")
        verbose_name_plural = _("班次")

    def __str__(self) -> str:
        return f"{self.name} {self.starts:%H:%M}–{self.ends:%H:%M}"


class DutyRole(models.TextChoices):
    ENGINEER = "engineer", _("值班工程师")
    LEADER = "leader", _("值班领导")


class DutyDayKind(models.TextChoices):
    WORKDAY = "workday", _("工作日")
    HOLIDAY = "holiday", _("节假日")
    GUARD = "guard", _("重要活动保障期")


class DutyAssignment(ScopedModel):
    """One seat of one shift on one date for the O&M unit: the primary on site and the backup
    on call. Guard days have a second engineer seat; non-working and guard days a leader."""

    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    date = models.DateField(_("日期"))
    shift = models.ForeignKey(Shift, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("班次"))
    role = models.CharField(_("值班角色"), max_length=10, choices=DutyRole.choices, default=DutyRole.ENGINEER)
    seat = models.PositiveSmallIntegerField(_("席位"), default=1)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    day_kind = models.CharField(_("日期类型"), max_length=8, choices=DutyDayKind.choices)
    primary = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("主班"))  # fmt: skip
    backup = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("备班"))  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["starts_at", "role", "seat"]
        verbose_name = _("值班安排")
        verbose_name_plural = _("值班安排")
        permissions = [
            ("manage_duty", _("编排值班表")),
            ("request_duty_swap", _("申请换班")),
            ("approve_duty_swap", _("审批换班")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["unit", "date", "shift", "role", "seat"], name="ops_duty_one_seat"),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="ops_duty_order"),
        ]
        indexes = [models.Index(fields=["unit", "starts_at"], name="ops_duty_unit_start")]

    def __str__(self) -> str:
        return f"{self.date} {self.shift.name} {self.get_role_display()}"


class SwapState(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class DutySwap(ScopedModel):
    """A swap request (换班): the requester's seat goes to ``counterpart``; with
    ``counter_assignment`` the counterpart's seat comes back (an exchange). The duty leader
    approves; the roster rules are checked again at approval."""

    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    assignment = models.ForeignKey(DutyAssignment, on_delete=models.CASCADE, related_name="+", verbose_name=_("本人班次"))
    counter_assignment = models.ForeignKey(DutyAssignment, null=True, blank=True, on_delete=models.CASCADE,
                                           related_name="+", verbose_name=_("对方班次"))  # fmt: skip
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("申请人"))  # fmt: skip
    counterpart = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("对方"))  # fmt: skip
    reason = models.CharField(_("原因"), max_length=300)
    state = models.CharField(_("状态"), max_length=10, choices=SwapState.choices, default=SwapState.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("审批人"))  # fmt: skip
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("换班申请")
        verbose_name_plural = _("换班申请")


class TargetKind(models.TextChoices):
    ON_DUTY_PRIMARY = "on_duty_primary", _("当班主班")
    ON_DUTY_BACKUP = "on_duty_backup", _("当班备班")
    DUTY_LEADER = "duty_leader", _("值班领导")
    ROLE = "role", _("角色")
    USER = "user", _("指定人员")


class EscalationBasis(models.TextChoices):
    RESPOND = "respond", _("未响应")
    RESOLVE = "resolve", _("未解决")


class EscalationPolicy(models.Model):
    """The escalation chain of one severity (configuration of the Center)."""

    severity = models.CharField(_("级别"), max_length=2, choices=Severity.choices, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["severity"]
        verbose_name = _("升级策略")
        verbose_name_plural = _("升级策略")

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    """Level k: after ``after_minutes`` of running clock (pauses excluded) without a response
    (or resolution), notify the target."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField(_("级"))
    after_minutes = models.PositiveIntegerField(_("计时分钟数"))
    basis = models.CharField(_("条件"), max_length=8, choices=EscalationBasis.choices)
    target = models.CharField(_("通知对象"), max_length=20, choices=TargetKind.choices)
    role_code = models.CharField(_("角色代码"), max_length=50, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("人员"))  # fmt: skip
    sms = models.BooleanField(_("短信"), default=False)

    class Meta:
        ordering = ["policy", "level"]
        constraints = [models.UniqueConstraint(fields=["policy", "level"], name="ops_escalation_level_unique")]
        verbose_name = _("升级级别")
        verbose_name_plural = _("升级级别")

    def __str__(self) -> str:
        return f"{self.policy.severity} L{self.level}"


class EscalationEvent(ScopedModel):
    """One level notified for one incident (at most once: unique per incident and level)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(_("级"))
    basis = models.CharField(_("条件"), max_length=8, choices=EscalationBasis.choices)
    target = models.CharField(_("通知对象"), max_length=20, choices=TargetKind.choices)
    due_at = models.DateTimeField(_("应升级时间"))
    notified_at = models.DateTimeField(_("通知时间"))
    recipients = models.JSONField(_("通知人员"), default=list)  # [{"id", "name"}]
    channel = models.CharField(_("渠道"), max_length=20)  # "app" or "app+sms"

    scope_fields = {"unit": "incident__unit"}

    class Meta:
        ordering = ["incident", "level"]
        constraints = [models.UniqueConstraint(fields=["incident", "level"], name="ops_escalation_once")]
        verbose_name = _("升级记录")
        verbose_name_plural = _("升级记录")

    def __str__(self) -> str:
        return f"{self.incident.number} L{self.level}"


class GuardPlanState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    APPROVED = "approved", _("已批准")
    IN_PROGRESS = "in_progress", _("保障中")
    CLOSED = "closed", _("已总结关闭")


def _can_approve_guard_plan(plan, user) -> bool:
    return user.has_perm("ops.approve_guard_plan") and plan.created_by_id != user.pk


def _can_run_guard_plan(plan, user) -> bool:
    return user.has_perm("ops.change_guardplan") and type(plan).objects.restrict(user).filter(pk=plan.pk).exists()


class GuardPlan(ScopedModel):
    """The plan (重要活动保障方案) of one special-guard period: drafted by the O&M unit, approved
    by a Center leader other than its author, run, and closed with a summary."""

    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    guard_period = models.OneToOneField(GuardPeriod, on_delete=models.PROTECT, related_name="plan",
                                        verbose_name=_("保障期"))  # fmt: skip
    event_name = models.CharField(_("活动名称"), max_length=100)
    scope = models.TextField(_("保障范围"))
    objectives = models.TextField(_("保障目标"))
    organisation = models.TextField(_("组织机构"))
    state = FSMField(_("状态"), default=GuardPlanState.DRAFT, choices=GuardPlanState.choices, protected=True)
    summary = models.TextField(_("保障总结"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-guard_period__starts_at"]
        verbose_name = _("重要活动保障方案")
        verbose_name_plural = _("重要活动保障方案")
        permissions = [("approve_guard_plan", _("批准保障方案"))]

    def __str__(self) -> str:
        return self.event_name

    @transition(field=state, source=GuardPlanState.DRAFT, target=GuardPlanState.APPROVED,
                permission=_can_approve_guard_plan)  # fmt: skip
    def approve(self, *, by, at):
        self.approved_by, self.approved_at = by, at

    @transition(field=state, source=GuardPlanState.APPROVED, target=GuardPlanState.IN_PROGRESS,
                permission=_can_run_guard_plan)  # fmt: skip
    def start(self):
        pass

    @transition(field=state, source=GuardPlanState.IN_PROGRESS, target=GuardPlanState.CLOSED,
                permission=_can_run_guard_plan)  # fmt: skip
    def close(self, *, summary):
        self.summary = summary


class ChecklistPhase(models.TextChoices):
    PRE = "pre", _("保障前")
    DAILY = "daily", _("每日")
    POST = "post", _("保障后")


class GuardChecklistItem(models.Model):
    plan = models.ForeignKey(GuardPlan, on_delete=models.CASCADE, related_name="items")
    phase = models.CharField(_("阶段"), max_length=8, choices=ChecklistPhase.choices)
    title = models.CharField(_("检查项"), max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("责任人"))  # fmt: skip
    done = models.BooleanField(_("已完成"), default=False)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")  # fmt: skip
    evidence = models.TextField(_("完成情况及佐证"), blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["plan", "phase", "order", "id"]
        verbose_name = _("保障检查项")
        verbose_name_plural = _("保障检查项")

    def __str__(self) -> str:
        return self.title


class PlanKind(models.TextChoices):
    TAMPERING = "tampering", _("网页篡改")
    DDOS = "ddos", _("拒绝服务攻击")
    INTRUSION = "intrusion", _("入侵与恶意代码")
    DATA_LEAK = "data_leak", _("数据泄露")
    RANSOMWARE = "ransomware", _("勒索软件")
    ATTACK = "attack", _("网络攻击（综合）")


class ResponsePlan(models.Model):
    """An incident response plan (应急预案); its text lives in versions (configuration of the
    Center, not scoped: every holder of the view permission reads it)."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    kind = models.CharField(_("类别"), max_length=12, choices=PlanKind.choices)
    title = models.CharField(_("名称"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("应急预案")
        verbose_name_plural = _("应急预案")
        permissions = [("manage_response_plan", _("编制应急预案")), ("approve_response_plan", _("批准应急预案"))]

    def __str__(self) -> str:
        return self.title

    def current(self):
        """The approved version in force (None before the first approval)."""
        return self.versions.filter(state=PlanVersionState.APPROVED).order_by("-version").first()


class PlanVersionState(models.TextChoices):
    DRAFT = "draft", _("待批准")
    APPROVED = "approved", _("现行")
    SUPERSEDED = "superseded", _("已废止")


class ResponsePlanVersion(models.Model):
    """One version of a plan; an edit is a new version (draft until a security administrator
    approves it; the approved one before it is then superseded). Never changed once approved."""

    plan = models.ForeignKey(ResponsePlan, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveSmallIntegerField(_("版本"))
    triggers = models.TextField(_("启动条件"))
    steps = models.JSONField(_("处置步骤"), default=list)  # [{"title", "owner_role", "action", "minutes"}]
    contacts = models.JSONField(_("联系人"), default=list)  # [{"name", "role", "phone"}]
    change_note = models.CharField(_("修订说明"), max_length=300, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=PlanVersionState.choices, default=PlanVersionState.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)

    class Meta:
        ordering = ["plan", "-version"]
        constraints = [models.UniqueConstraint(fields=["plan", "version"], name="ops_plan_version_unique")]
        verbose_name = _("预案版本")
        verbose_name_plural = _("预案版本")

    def __str__(self) -> str:
        return f"{self.plan.title} v{self.version}"


class DrillKind(models.TextChoices):
    TABLETOP = "tabletop", _("桌面推演")
    LIVE = "live", _("实战演练")


class DrillRecord(ScopedModel):
    """A drill (演练) of one plan version by the O&M unit: per-step timing and outcome."""

    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    plan_version = models.ForeignKey(ResponsePlanVersion, on_delete=models.PROTECT, related_name="drills",
                                     verbose_name=_("预案版本"))  # fmt: skip
    held_on = models.DateField(_("演练日期"))
    kind = models.CharField(_("形式"), max_length=10, choices=DrillKind.choices)
    scenario = models.TextField(_("演练场景"))
    participants = models.TextField(_("参演人员"))
    step_results = models.JSONField(_("步骤记录"), default=list)  # [{"step", "minutes", "outcome"}]
    findings = models.TextField(_("发现问题"), blank=True)
    improvements = models.TextField(_("改进措施"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("演练记录")
        verbose_name_plural = _("演练记录")

    def __str__(self) -> str:
        return f"{self.held_on} {self.plan_version}"
