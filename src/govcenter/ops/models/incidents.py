"""The O&M contract's SLA policy table, its special-guard periods (重要活动保障期) and the
incidents (故障) that run on its clock."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from govcenter.core.scope import ScopedModel


class Severity(models.TextChoices):
    S1 = "S1", _("一级：系统不可用")
    S2 = "S2", _("二级：主要功能不可用")
    S3 = "S3", _("三级：部分功能受影响")
    S4 = "S4", _("四级：轻微或咨询")


class DayKind(models.TextChoices):
    """The kind of day a fault is reported on: it decides which policy row applies."""

    WORKDAY = "workday", _("工作日")
    RESTDAY = "restday", _("非工作日")
    GUARD = "guard", _("重要活动保障期")


class SlaPolicy(models.Model):
    """One row of the policy table: the targets for a severity reported on a kind of day.

    ``resolve_minutes`` counts clock minutes from the report (pauses excluded); with
    ``resolve_by_next_workday`` the fault must instead be resolved before the next working day
    begins (settings.GOVCENTER_OPS_WORKDAY_START), pauses again pushing the deadline back.
    """

    severity = models.CharField(_("级别"), max_length=2, choices=Severity.choices)
    day_kind = models.CharField(_("报告日类型"), max_length=8, choices=DayKind.choices)
    respond_minutes = models.PositiveIntegerField(_("响应时限（分钟）"))
    resolve_minutes = models.PositiveIntegerField(_("解决时限（分钟）"), null=True, blank=True)
    resolve_by_next_workday = models.BooleanField(_("下一工作日开始前解决"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day_kind", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "day_kind"], name="ops_sla_policy_unique"),
            models.CheckConstraint(
                condition=models.Q(resolve_by_next_workday=True, resolve_minutes__isnull=True)
                | models.Q(resolve_by_next_workday=False, resolve_minutes__isnull=False),
                name="ops_sla_policy_one_resolve_rule",
            ),
        ]
        verbose_name = _("SLA 策略")
        verbose_name_plural = _("SLA 策略")

    def __str__(self) -> str:
        return f"{self.get_severity_display()} · {self.get_day_kind_display()}"


class GuardPeriod(models.Model):
    """A special-guard period (重要活动保障期: the Two Sessions, National Day …): faults
    reported inside it follow the guard rows of the policy table. Periods never overlap."""

    name = models.CharField(_("名称"), max_length=100)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="ops_guard_period_order")
        ]
        verbose_name = _("重要活动保障期")
        verbose_name_plural = _("重要活动保障期")

    def __str__(self) -> str:
        return self.name


class IncidentState(models.TextChoices):
    REPORTED = "reported", _("已报告")
    RESPONDING = "responding", _("处理中")
    PAUSED = "paused", _("挂起（暂停计时）")
    RESOLVED = "resolved", _("已解决")
    CLOSED = "closed", _("已复盘关闭")


class IncidentSource(models.TextChoices):
    MANUAL = "manual", _("人工报告")
    ALERT = "alert", _("监控告警")


OPEN_STATES = (IncidentState.REPORTED, IncidentState.RESPONDING, IncidentState.PAUSED)


def _in_scope_with(permission: str):
    """A transition permission: ``permission`` and the incident inside the actor's data scope."""

    def check(incident, user) -> bool:
        return user.has_perm(permission) and type(incident).objects.restrict(user).filter(pk=incident.pk).exists()

    return check


_can_handle = _in_scope_with("ops.handle_incident")
_can_review = _in_scope_with("ops.review_incident")


class Incident(ScopedModel):
    """A fault (故障), from its report to its post-incident review, on the SLA clock of the
    kind of day it was reported on (frozen at the report: a guard period added later does not
    change an incident's policy). The deadlines and the breach flag are the clock's answers,
    stored at every step for lists and reports; ``sla.evaluate`` recomputes them."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("描述"), blank=True)
    severity = models.CharField(_("级别"), max_length=2, choices=Severity.choices)
    source = models.CharField(_("来源"), max_length=10, choices=IncidentSource.choices, default=IncidentSource.MANUAL)
    alert_key = models.CharField(_("告警标识"), max_length=200, blank=True)
    unit = models.ForeignKey(
        "core.Unit", on_delete=models.PROTECT, related_name="incidents", verbose_name=_("运维单位")
    )
    state = FSMField(_("状态"), default=IncidentState.REPORTED, choices=IncidentState.choices, protected=True)
    reported_at = models.DateTimeField(_("报告时间"))
    day_kind = models.CharField(_("报告日类型"), max_length=8, choices=DayKind.choices)
    respond_by = models.DateTimeField(_("响应时限"))
    resolve_by = models.DateTimeField(_("解决时限"))
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)
    breach = models.BooleanField(_("超过12小时（违约）"), null=True, blank=True)
    contractor_caused = models.BooleanField(_("运维方原因"), default=True)
    root_cause = models.TextField(_("根本原因"), blank=True)
    resolution = models.TextField(_("处理措施"), blank=True)
    review = models.TextField(_("复盘结论"), blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("故障")
        verbose_name_plural = _("故障")
        permissions = [
            ("handle_incident", _("处理故障（响应、挂起、解决）")),
            ("review_incident", _("复盘并关闭故障")),
        ]
        indexes = [models.Index(fields=["state", "resolve_by"], name="ops_incident_state_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["alert_key"],
                condition=models.Q(state__in=["reported", "responding", "paused"]) & ~models.Q(alert_key=""),
                name="ops_incident_one_open_per_alert",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @transition(field=state, source=IncidentState.REPORTED, target=IncidentState.RESPONDING, permission=_can_handle)
    def respond(self, *, at):
        self.responded_at = at

    @transition(field=state, source=[IncidentState.REPORTED, IncidentState.RESPONDING], target=IncidentState.PAUSED,
                permission=_can_handle)  # fmt: skip
    def pause(self):
        """The clock stops (the pause row is written by the service)."""

    @transition(field=state, source=IncidentState.PAUSED, target=IncidentState.RESPONDING, permission=_can_handle)
    def resume(self, *, at):
        self.responded_at = self.responded_at or at

    @transition(field=state, source=[IncidentState.REPORTED, IncidentState.RESPONDING], target=IncidentState.RESOLVED,
                permission=_can_handle)  # fmt: skip
    def resolve(self, *, at, root_cause, resolution, contractor_caused):
        self.responded_at = self.responded_at or at
        self.resolved_at = at
        self.root_cause = root_cause
        self.resolution = resolution
        self.contractor_caused = contractor_caused

    @transition(field=state, source=IncidentState.RESOLVED, target=IncidentState.CLOSED, permission=_can_review)
    def close(self, *, review):
        self.review = review


class IncidentPause(models.Model):
    """A span the incident's clock stood still (waiting for the Center or a third party)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField(_("开始"))
    ended_at = models.DateTimeField(_("结束"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=300)

    class Meta:
        ordering = ["started_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident"], condition=models.Q(ended_at__isnull=True),
                                    name="ops_incident_one_open_pause"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.incident.number} {self.started_at:%Y-%m-%d %H:%M}"
