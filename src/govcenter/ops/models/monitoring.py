"""Monitoring (7×24 监控): probe targets, their results (raw and hourly rollups), alert rules
with flap damping, the state of each (rule, target) alert, and maintenance windows.

A target belongs to a unit (its data scope, like an incident). Results are compact rows; the
hourly rollup keeps counts for uptime (results taken inside a maintenance window are flagged
and left out of the rollup's denominator). The latest result is also kept on the target, so
the page and the Prometheus collector read one row per target.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

from .incidents import Severity


class ProbeKind(models.TextChoices):
    HTTP = "http", _("HTTP")
    TCP = "tcp", _("TCP 端口")
    DB = "db", _("数据库查询")
    REDIS = "redis", _("Redis")
    BROKER = "broker", _("消息中间件")
    DISK = "disk", _("磁盘空间")
    TLS = "tls", _("TLS 证书有效期")
    FRESHNESS = "freshness", _("数据新鲜度")


class MonitorTarget(ScopedModel):
    """One thing probed on a schedule; ``config`` is checked per kind (``monitoring.probes``)."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=ProbeKind.choices)
    config = models.JSONField(_("配置"), default=dict)
    interval_s = models.PositiveIntegerField(_("间隔（秒）"), default=60)
    timeout_s = models.FloatField(_("超时（秒）"), default=5.0)
    enabled = models.BooleanField(_("启用"), default=True)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    # The latest result (written with each batch of results): the page and /metrics read these.
    last_run_at = models.DateTimeField(_("最近探测"), null=True, blank=True)
    last_ok = models.BooleanField(_("最近结果"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_message = models.CharField(max_length=200, blank=True)
    last_success_at = models.DateTimeField(_("最近成功"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["name"]
        verbose_name = _("监控对象")
        verbose_name_plural = _("监控对象")
        permissions = [("manage_monitoring", _("管理监控（对象、告警规则、维护窗口）"))]
        constraints = [
            models.CheckConstraint(condition=models.Q(interval_s__gte=5), name="ops_monitor_interval_min"),
            models.CheckConstraint(condition=models.Q(timeout_s__gt=0), name="ops_monitor_timeout_pos"),
        ]

    def __str__(self) -> str:
        return self.name


class ProbeResult(models.Model):
    """One probe run. Compact: ~40 bytes of data a row; ``maintenance`` marks a run inside a
    maintenance window (kept, but not counted for uptime nor fed to the alert rules)."""

    id = models.BigAutoField(primary_key=True)
    target = models.ForeignKey(MonitorTarget, on_delete=models.CASCADE, related_name="results")
    started_at = models.DateTimeField(_("开始"))
    ok = models.BooleanField(_("正常"))
    latency_ms = models.PositiveIntegerField(_("耗时（毫秒）"), null=True, blank=True)
    value = models.FloatField(_("测量值"), null=True, blank=True)
    message = models.CharField(_("说明"), max_length=200, blank=True)
    maintenance = models.BooleanField(_("维护期内"), default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["target", "started_at"], name="ops_probe_target_time")]
        verbose_name = _("探测结果")
        verbose_name_plural = _("探测结果")

    def __str__(self) -> str:
        return f"{self.target_id} {self.started_at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'fail'}"


class ProbeHourly(models.Model):
    """The hourly rollup of a target's results outside maintenance windows (uptime reads it)."""

    target = models.ForeignKey(MonitorTarget, on_delete=models.CASCADE, related_name="hourly")
    hour = models.DateTimeField(_("小时"))
    total = models.PositiveIntegerField(default=0)
    ok = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "hour"], name="ops_probe_hourly_unique")]
        indexes = [models.Index(fields=["hour"], name="ops_probe_hourly_hour")]

    def __str__(self) -> str:
        return f"{self.target_id} {self.hour:%Y-%m-%d %H}"


class AlertCondition(models.TextChoices):
    DOWN = "down", _("探测失败")
    BELOW = "below", _("测量值低于阈值")
    ABOVE = "above", _("测量值高于阈值")


class AlertRule(ScopedModel):
    """When a target is in trouble: a failed probe (``down``) or its value below/above the
    threshold (disk free %, TLS days left, freshness age in seconds). Applies to one target, or
    to every target of ``kind`` in its unit. Flap damping: fire after ``fire_after`` bad
    results in a row, resolve after ``resolve_after`` good ones, and do not fire again within
    ``holdoff_s`` of the last resolve."""

    name = models.CharField(_("名称"), max_length=100)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    target = models.ForeignKey(MonitorTarget, null=True, blank=True, on_delete=models.CASCADE, related_name="rules",
                               verbose_name=_("监控对象"))  # fmt: skip
    kind = models.CharField(_("对象类型"), max_length=10, choices=ProbeKind.choices, blank=True)
    condition = models.CharField(_("条件"), max_length=8, choices=AlertCondition.choices, default=AlertCondition.DOWN)
    threshold = models.FloatField(_("阈值"), null=True, blank=True)
    severity = models.CharField(_("级别"), max_length=2, choices=Severity.choices, default=Severity.S3)
    fire_after = models.PositiveSmallIntegerField(_("连续异常次数后告警"), default=3)
    resolve_after = models.PositiveSmallIntegerField(_("连续正常次数后恢复"), default=2)
    holdoff_s = models.PositiveIntegerField(_("恢复后抑制再告警（秒）"), default=600)
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["name"]
        verbose_name = _("告警规则")
        verbose_name_plural = _("告警规则")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(target__isnull=False, kind="") | models.Q(target__isnull=True) & ~models.Q(kind="")),
                name="ops_alert_rule_target_or_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(condition="down") | models.Q(threshold__isnull=False),
                name="ops_alert_rule_threshold",
            ),
            models.CheckConstraint(condition=models.Q(fire_after__gte=1, resolve_after__gte=1),
                                   name="ops_alert_rule_damping"),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.name


class AlertStatus(models.TextChoices):
    OK = "ok", _("正常")
    PENDING = "pending", _("待定")
    FIRING = "firing", _("告警中")


class AlertState(models.Model):
    """The running state of one rule on one target (streaks, firing or not, the incident)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    target = models.ForeignKey(MonitorTarget, on_delete=models.CASCADE, related_name="alert_states")
    status = models.CharField(_("状态"), max_length=8, choices=AlertStatus.choices, default=AlertStatus.OK)
    bad_streak = models.PositiveIntegerField(default=0)
    good_streak = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(_("告警时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    message = models.CharField(max_length=200, blank=True)
    incident_number = models.CharField(_("故障编号"), max_length=20, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "target"], name="ops_alert_state_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.target_id} {self.status}"

    @property
    def fingerprint(self) -> str:
        return f"mon-r{self.rule_id}-t{self.target_id}"


class AlertEventKind(models.TextChoices):
    FIRED = "fired", _("告警")
    RESOLVED = "resolved", _("恢复")
    HELD = "held", _("抑制（防抖）")


class AlertEvent(models.Model):
    """The history of alerts: fired (with its incident), resolved, held back by the hold-off."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    target = models.ForeignKey(MonitorTarget, on_delete=models.CASCADE, related_name="alert_events")
    kind = models.CharField(_("事件"), max_length=8, choices=AlertEventKind.choices)
    at = models.DateTimeField(_("时间"))
    message = models.CharField(max_length=200, blank=True)
    incident_number = models.CharField(_("故障编号"), max_length=20, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="ops_alert_event_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.rule_id}/{self.target_id} {self.at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(ScopedModel):
    """A planned window on some targets of a unit (none chosen: all of the unit's targets).
    Alerts are suppressed inside it; without collection the probes do not even run. Windows
    on the same target never overlap."""

    name = models.CharField(_("名称"), max_length=100)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    targets = models.ManyToManyField(MonitorTarget, blank=True, related_name="maintenance_windows",
                                     verbose_name=_("监控对象"))  # fmt: skip
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    with_collection = models.BooleanField(_("期间继续采集"), default=True)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("维护窗口")
        verbose_name_plural = _("维护窗口")
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="ops_maint_window_order")
        ]

    def __str__(self) -> str:
        return self.name
