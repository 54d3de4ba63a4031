"""The configuration database (资产, CMDB) of the O&M contract, the vulnerability register
(漏洞登记 → 整改方案 → 审批 → 实施 → 验证 → 关闭) and the hardening baselines (安全基线).

Every asset belongs to the unit that maintains it (the data scope); vulnerabilities, plans
and checklist results inherit the scope of their asset."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from govcenter.core.scope import ScopedModel


class AssetClass(models.TextChoices):
    SERVER = "server", _("服务器")
    MIDDLEWARE = "middleware", _("中间件")
    SIGNATURE_SERVER = "signature_server", _("签名验签服务器")
    DATA_SYNC = "data_sync", _("数据同步系统")
    WEB_PROTECT = "web_protect", _("网页防篡改")
    LOG_AUDIT = "log_audit", _("日志审计")
    USB_KEY = "usb_key", _("USB Key")
    CERTIFICATE = "certificate", _("HTTPS 证书")
    APPLICATION = "application", _("应用系统")


class AssetStatus(models.TextChoices):
    IN_SERVICE = "in_service", _("在用")
    SPARE = "spare", _("备用")
    RETIRED = "retired", _("已退役")


class Asset(ScopedModel):
    """One configuration item: a server (with its operating system), a middleware instance,
    a security product, a USB key or a certificate. ``contract_item`` names the line of the
    O&M contract's inventory it comes from (empty for items added later)."""

    code = models.CharField(_("资产编号"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    asset_class = models.CharField(_("类别"), max_length=20, choices=AssetClass.choices)
    contract_item = models.CharField(_("合同清单项"), max_length=40, blank=True, db_index=True)
    product = models.CharField(_("产品型号"), max_length=200, blank=True)
    version = models.CharField(_("版本"), max_length=60, blank=True)
    vendor = models.CharField(_("厂商"), max_length=200, blank=True)
    serial = models.CharField(_("序列号"), max_length=100, blank=True)
    location = models.CharField(_("位置（机房）"), max_length=200, blank=True)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="assets", verbose_name=_("运维单位"))
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    hostname = models.CharField(_("主机名"), max_length=100, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=AssetStatus.choices, default=AssetStatus.IN_SERVICE)
    licence_expires_on = models.DateField(_("许可到期日"), null=True, blank=True)
    cert_expires_on = models.DateField(_("证书到期日"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    attributes = models.JSONField(_("其他属性"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("资产")
        verbose_name_plural = _("资产")
        indexes = [models.Index(fields=["asset_class", "status"], name="ops_asset_class_status")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RelationKind(models.TextChoices):
    RUNS_ON = "runs_on", _("运行于")
    INSTALLED_ON = "installed_on", _("安装于")
    PROTECTS = "protects", _("防护")
    ISSUED_TO = "issued_to", _("颁发给")
    DEPENDS_ON = "depends_on", _("依赖")


class AssetRelation(ScopedModel):
    """``source`` —kind→ ``target`` (TongWeb runs on a server, a TopWAF client protects a
    web server). No self-loops, no duplicates; the allowed target classes per kind are the
    service's rule (``cmdb.services.RELATION_TARGETS``)."""

    source = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="relations_out", verbose_name=_("源资产"))
    kind = models.CharField(_("关系"), max_length=16, choices=RelationKind.choices)
    target = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="relations_in", verbose_name=_("目标资产"))
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "source__unit"}

    class Meta:
        ordering = ["source__code", "kind", "target__code"]
        verbose_name = _("资产关系")
        verbose_name_plural = _("资产关系")
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "target"], name="ops_asset_relation_unique"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="ops_asset_relation_no_loop"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


# --------------------------------------------------------------------------------------------
# Vulnerabilities and their remediation
# --------------------------------------------------------------------------------------------


class VulnSeverity(models.TextChoices):
    CRITICAL = "critical", _("严重")
    HIGH = "high", _("高危")
    MEDIUM = "medium", _("中危")
    LOW = "low", _("低危")


class VulnState(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    PLANNED = "planned", _("已制定方案")
    APPROVED = "approved", _("已审批")
    EXECUTED = "executed", _("已实施")
    VERIFIED = "verified", _("已验证")
    CLOSED = "closed", _("已关闭")


OPEN_VULN_STATES = (VulnState.REGISTERED, VulnState.PLANNED, VulnState.APPROVED, VulnState.EXECUTED)


def _in_scope_with(permission: str):
    def check(obj, user) -> bool:
        return user.has_perm(permission) and type(obj).objects.restrict(user).filter(pk=obj.pk).exists()

    return check


_can_plan = _in_scope_with("ops.plan_remediation")
_can_approve = _in_scope_with("ops.approve_remediation")
_can_execute = _in_scope_with("ops.execute_remediation")
_can_verify = _in_scope_with("ops.verify_remediation")


class Vulnerability(ScopedModel):
    """One finding of a scanner on one asset (deduplicated by asset + plugin + port), on its
    way from the register to closure."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="vulnerabilities", verbose_name=_("资产"))
    scanner = models.CharField(_("扫描器"), max_length=20)
    plugin_id = models.CharField(_("插件编号"), max_length=40)
    port = models.PositiveIntegerField(_("端口"), default=0)
    protocol = models.CharField(_("协议"), max_length=10, blank=True)
    cves = models.JSONField(_("CVE 编号"), default=list, blank=True)
    cvss = models.DecimalField(_("CVSS"), max_digits=3, decimal_places=1, null=True, blank=True)
    title = models.CharField(_("漏洞名称"), max_length=300)
    severity = models.CharField(_("风险等级"), max_length=10, choices=VulnSeverity.choices)
    synopsis = models.TextField(_("概述"), blank=True)
    description = models.TextField(_("描述"), blank=True)
    solution = models.TextField(_("修复建议"), blank=True)
    found_at = models.DateTimeField(_("发现时间"))
    last_seen_at = models.DateTimeField(_("最近一次扫描发现"))
    state = FSMField(_("状态"), default=VulnState.REGISTERED, choices=VulnState.choices, protected=True)
    plan = models.ForeignKey("RemediationPlan", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="vulnerabilities", verbose_name=_("整改方案"))  # fmt: skip
    verified_at = models.DateTimeField(_("验证通过时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"unit": "asset__unit"}

    class Meta:
        ordering = ["-found_at", "-id"]
        verbose_name = _("漏洞")
        verbose_name_plural = _("漏洞")
        permissions = [
            ("import_scan", _("导入漏洞扫描结果")),
            ("plan_remediation", _("制定漏洞整改方案")),
            ("approve_remediation", _("审批漏洞整改方案")),
            ("execute_remediation", _("实施漏洞整改")),
            ("verify_remediation", _("验证漏洞整改")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["asset", "plugin_id", "port"], name="ops_vuln_unique_finding"),
        ]
        indexes = [models.Index(fields=["state", "severity"], name="ops_vuln_state_severity")]

    def __str__(self) -> str:
        return f"{self.asset.code} {self.plugin_id}/{self.port} {self.title}"

    @transition(field=state, source=VulnState.REGISTERED, target=VulnState.PLANNED, permission=_can_plan)
    def plan_it(self, *, plan):
        self.plan = plan

    @transition(field=state, source=VulnState.PLANNED, target=VulnState.REGISTERED, permission=_can_approve)
    def reject(self):
        """The approver sends the plan back: the finding waits for a new plan."""
        self.plan = None

    @transition(field=state, source=VulnState.PLANNED, target=VulnState.APPROVED, permission=_can_approve)
    def approve(self):
        pass

    @transition(field=state, source=VulnState.APPROVED, target=VulnState.EXECUTED, permission=_can_execute)
    def execute(self):
        pass

    @transition(field=state, source=VulnState.EXECUTED, target=VulnState.VERIFIED, permission=_can_verify)
    def verify(self, *, at):
        self.verified_at = at

    @transition(field=state, source=VulnState.EXECUTED, target=VulnState.PLANNED, permission=_can_verify)
    def fail_verification(self):
        """Still there after the remediation: back to the plan (revise, approve again)."""

    @transition(field=state, source=VulnState.VERIFIED, target=VulnState.CLOSED, permission=_can_verify)
    def close(self, *, at):
        self.closed_at = at

    @transition(field=state, source=[VulnState.VERIFIED, VulnState.CLOSED], target=VulnState.REGISTERED,
                permission=_can_plan)  # fmt: skip
    def reopen(self):
        """A later scan finds it again."""
        self.plan = None
        self.verified_at = None
        self.closed_at = None


class PlanRisk(models.TextChoices):
    LOW = "low", _("低")
    MEDIUM = "medium", _("中")
    HIGH = "high", _("高")


class PlanStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待审批")
    APPROVED = "approved", _("已审批")
    REJECTED = "rejected", _("已驳回")
    EXECUTED = "executed", _("已实施")
    VERIFIED = "verified", _("验证通过")
    FAILED = "failed", _("验证未通过")
    CLOSED = "closed", _("已关闭")


class RemediationPlan(ScopedModel):
    """整改方案: the hardening steps for some findings of one unit, each with its rollback,
    in a planned window, approved by someone other than its planner."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    window_start = models.DateTimeField(_("计划窗口开始"))
    window_end = models.DateTimeField(_("计划窗口结束"))
    risk = models.CharField(_("实施风险"), max_length=8, choices=PlanRisk.choices)
    risk_note = models.TextField(_("风险说明"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=PlanStatus.choices, default=PlanStatus.SUBMITTED)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("制定人"))  # fmt: skip
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("审批人"))  # fmt: skip
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    approval_comment = models.TextField(_("审批意见"), blank=True)
    created_at = models.DateTimeField(_("制定时间"))

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("整改方案")
        verbose_name_plural = _("整改方案")
        constraints = [
            models.CheckConstraint(condition=models.Q(window_end__gt=models.F("window_start")),
                                   name="ops_plan_window_order"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class RemediationStep(models.Model):
    """One hardening step and the one step that undoes it."""

    plan = models.ForeignKey(RemediationPlan, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("序号"))
    action = models.TextField(_("加固步骤"))
    rollback = models.TextField(_("回退步骤"))

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "order"], name="ops_plan_step_unique"),
            models.CheckConstraint(condition=~models.Q(rollback="") & ~models.Q(action=""),
                                   name="ops_plan_step_has_rollback"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.order}"


class StepOutcome(models.TextChoices):
    DONE = "done", _("完成")
    FAILED = "failed", _("失败")
    ROLLED_BACK = "rolled_back", _("已回退")
    SKIPPED = "skipped", _("未执行")


class ExecutionRecord(models.Model):
    """实施记录: who carried the plan out, when, and the outcome and output of every step."""

    plan = models.ForeignKey(RemediationPlan, on_delete=models.CASCADE, related_name="executions")
    executed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"))
    outcomes = models.JSONField(_("步骤结果"), default=list)  # [{"order", "outcome", "output"}]
    summary = models.TextField(_("实施说明"), blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.started_at:%Y-%m-%d %H:%M}"


class Verification(models.Model):
    """验证: a rescan or a manual check after the execution; failed sends the findings back."""

    plan = models.ForeignKey(RemediationPlan, on_delete=models.CASCADE, related_name="verifications")
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(_("验证时间"))
    method = models.CharField(_("验证方式"), max_length=100)
    passed = models.BooleanField(_("验证通过"))
    result = models.TextField(_("验证结果"))

    class Meta:
        ordering = ["verified_at", "id"]

    def __str__(self) -> str:
        return f"{self.plan_id} {'pass' if self.passed else 'fail'}"


# --------------------------------------------------------------------------------------------
# Hardening baselines
# --------------------------------------------------------------------------------------------


class BaselineItem(models.Model):
    """One item of the hardening baseline of an operating system (``baseline`` e.g.
    ``neokylin-v6``), with the 等保 2.0 (GB/T 22239-2019) control it implements."""

    baseline = models.CharField(_("基线"), max_length=30)
    code = models.CharField(_("条目编号"), max_length=20)
    title = models.CharField(_("检查项"), max_length=200)
    check_method = models.TextField(_("检查方法"))
    expected = models.TextField(_("期望结果"))
    source = models.CharField(_("依据"), max_length=200)

    class Meta:
        ordering = ["baseline", "code"]
        verbose_name = _("基线检查项")
        verbose_name_plural = _("基线检查项")
        constraints = [models.UniqueConstraint(fields=["baseline", "code"], name="ops_baseline_item_unique")]

    def __str__(self) -> str:
        return f"{self.baseline} {self.code} {self.title}"


class CheckResult(models.TextChoices):
    PASS = "pass", _("符合")
    FAIL = "fail", _("不符合")
    NA = "na", _("不适用")


class BaselineCheck(ScopedModel):
    """The latest result of one baseline item on one server (each change audited)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="baseline_checks")
    item = models.ForeignKey(BaselineItem, on_delete=models.PROTECT, related_name="checks")
    result = models.CharField(_("结果"), max_length=4, choices=CheckResult.choices)
    evidence = models.TextField(_("证据"), blank=True)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(_("检查时间"))

    scope_fields = {"unit": "asset__unit"}

    class Meta:
        ordering = ["asset__code", "item__code"]
        verbose_name = _("基线检查结果")
        verbose_name_plural = _("基线检查结果")
        permissions = [("check_baseline", _("登记安全基线检查结果"))]
        constraints = [models.UniqueConstraint(fields=["asset", "item"], name="ops_baseline_check_unique")]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.item_id} {self.result}"
