"""Work records (工作记录), changes and releases (变更与发布), training (培训), the contract and
SLA ledger (合同与 SLA 台账: milestones, quality assessments, late service) and the generated
monthly / quarterly reports (月报 / 季度报告).

Money is integer fen everywhere. Rows the demo loads carry ``demo=True`` so ``govcenter ops
demo`` can run twice without duplicating them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class WorkCategory(models.TextChoices):
    INSPECTION = "inspection", _("巡检")
    FAULT = "fault", _("故障处理")
    CHANGE = "change", _("变更")
    RELEASE = "release", _("发布")
    BACKUP = "backup", _("备份")
    SECURITY = "security", _("安全")
    TRAINING = "training", _("培训")
    OTHER = "other", _("其他")


class ChangeKind(models.TextChoices):
    CHANGE = "change", _("变更")
    RELEASE = "release", _("发布")


class ChangeResult(models.TextChoices):
    """The result of an executed change; blank while it is not executed yet."""

    SUCCESS = "success", _("成功")
    ROLLED_BACK = "rolled_back", _("已回退")
    FAILED = "failed", _("失败")


class ChangeRecord(ScopedModel):
    """A change or a release: planned window, approval by the Center, execution and result."""

    number = models.CharField(_("编号"), max_length=20, unique=True)
    title = models.CharField(_("标题"), max_length=200)
    kind = models.CharField(_("类型"), max_length=8, choices=ChangeKind.choices)
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    description = models.TextField(_("说明"), blank=True)
    version = models.CharField(_("版本"), max_length=50, blank=True)
    planned_start = models.DateTimeField(_("计划开始"))
    planned_end = models.DateTimeField(_("计划结束"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("批准人"))  # fmt: skip
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    executed_at = models.DateTimeField(_("执行时间"), null=True, blank=True)
    result = models.CharField(_("结果"), max_length=12, choices=ChangeResult.choices, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    demo = models.BooleanField(default=False, editable=False)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-planned_start", "-id"]
        verbose_name = _("变更与发布")
        verbose_name_plural = _("变更与发布")
        permissions = [("approve_changerecord", _("批准变更与发布"))]
        indexes = [models.Index(fields=["planned_start"], name="ops_change_planned")]
        constraints = [
            models.CheckConstraint(condition=models.Q(planned_end__gt=models.F("planned_start")),
                                   name="ops_change_window_order"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class WorkLog(ScopedModel):
    """One engineer's entry in the daily O&M log (运维日志)."""

    engineer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("工程师"))  # fmt: skip
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    date = models.DateField(_("日期"))
    category = models.CharField(_("类别"), max_length=12, choices=WorkCategory.choices)
    start_time = models.TimeField(_("开始时间"))
    end_time = models.TimeField(_("结束时间"))
    summary = models.CharField(_("摘要"), max_length=200)
    details = models.TextField(_("详情"), blank=True)
    incident = models.ForeignKey("ops.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("相关故障"))  # fmt: skip
    change = models.ForeignKey(ChangeRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="worklogs",
                               verbose_name=_("相关变更"))  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    demo = models.BooleanField(default=False, editable=False)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-date", "-start_time", "-id"]
        verbose_name = _("工作日志")
        verbose_name_plural = _("工作日志")
        indexes = [
            models.Index(fields=["date", "engineer"], name="ops_worklog_date_engineer"),
            models.Index(fields=["category", "date"], name="ops_worklog_category_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_time__gt=models.F("start_time")),
                                   name="ops_worklog_time_order"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.date} {self.summary}"


class TrainingSession(ScopedModel):
    """A training session (培训) of the O&M unit: one a month is required. The material is a
    kernel attachment (``govcenter.core.attachments``) of the session."""

    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    date = models.DateField(_("日期"))
    topic = models.CharField(_("主题"), max_length=200)
    trainer = models.CharField(_("讲师"), max_length=100)
    duration_minutes = models.PositiveIntegerField(_("时长（分钟）"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    demo = models.BooleanField(default=False, editable=False)

    scope_fields = {"unit": "unit"}

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("培训")
        verbose_name_plural = _("培训")
        indexes = [models.Index(fields=["date"], name="ops_training_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.topic}"


class TrainingAttendance(models.Model):
    """An invited attendee: whether they came, and their feedback (score 1–5, comment)."""

    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="attendances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("参训人"))  # fmt: skip
    attended = models.BooleanField(_("出席"), default=False)
    score = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    comment = models.CharField(_("反馈"), max_length=500, blank=True)

    class Meta:
        ordering = ["session", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="ops_training_attendee_once"),
            models.CheckConstraint(condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                                   name="ops_training_score_1_5"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.session_id}/{self.user_id}"


class Contract(ScopedModel):
    """The O&M contract: price, service period, bond. ``scope_fields``: the contractor sees its
    own contracts; the Center (scope all) sees every one."""

    number = models.CharField(_("合同编号"), max_length=40, unique=True)
    name = models.CharField(_("合同名称"), max_length=200)
    contractor = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("运维单位"))
    price_fen = models.BigIntegerField(_("合同价（分）"))
    service_start = models.DateField(_("服务期开始"))
    service_end = models.DateField(_("服务期结束"))
    bond_fen = models.BigIntegerField(_("履约保证金（分）"))
    created_at = models.DateTimeField(auto_now_add=True)
    demo = models.BooleanField(default=False, editable=False)

    scope_fields = {"unit": "contractor"}

    class Meta:
        ordering = ["-service_start", "number"]
        verbose_name = _("运维合同")
        verbose_name_plural = _("运维合同")
        constraints = [
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="ops_contract_price_positive"),
            models.CheckConstraint(condition=models.Q(service_end__gte=models.F("service_start")),
                                   name="ops_contract_period_order"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class PaymentMilestone(models.Model):
    """A payment milestone (付款节点): share of the price, its condition, due and paid dates."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    seq = models.PositiveSmallIntegerField(_("序号"))
    percent = models.PositiveSmallIntegerField(_("比例（%）"))
    amount_fen = models.BigIntegerField(_("金额（分）"))
    condition = models.CharField(_("付款条件"), max_length=300)
    due_date = models.DateField(_("应付日期"))
    condition_met_on = models.DateField(_("条件满足日期"), null=True, blank=True)
    paid_on = models.DateField(_("支付日期"), null=True, blank=True)

    class Meta:
        ordering = ["contract", "seq"]
        constraints = [models.UniqueConstraint(fields=["contract", "seq"], name="ops_milestone_seq_unique")]
        verbose_name = _("付款节点")
        verbose_name_plural = _("付款节点")

    def __str__(self) -> str:
        return f"{self.contract_id}#{self.seq} {self.percent}%"


class Grade(models.TextChoices):
    EXCELLENT = "excellent", _("优")
    GOOD = "good", _("良")
    PASS = "pass", _("合格")
    FAIL = "fail", _("不合格")


class QualityAssessment(models.Model):
    """A quality assessment (考核) of a period: the score decides the grade (thresholds in
    settings), a 不合格 grade is a shortfall (a penalty line) and the last grade decides the bond."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="assessments")
    period_start = models.DateField(_("考核期开始"))
    period_end = models.DateField(_("考核期结束"))
    score = models.PositiveSmallIntegerField(_("得分"))
    grade = models.CharField(_("等级"), max_length=10, choices=Grade.choices)
    shortfall = models.BooleanField(_("考核不达标"))
    note = models.TextField(_("说明"), blank=True)
    assessed_on = models.DateField(_("考核日期"))
    demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["contract", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "period_start", "period_end"], name="ops_assessment_once"),
            models.CheckConstraint(condition=models.Q(score__lte=100), name="ops_assessment_score_100"),
        ]
        verbose_name = _("质量考核")
        verbose_name_plural = _("质量考核")

    def __str__(self) -> str:
        return f"{self.contract_id} {self.period_start}–{self.period_end} {self.score}"


class LateService(models.Model):
    """A deliverable of the contract delivered late (or not yet delivered)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="late_services")
    deliverable = models.CharField(_("交付事项"), max_length=200)
    due_date = models.DateField(_("应交付日期"))
    delivered_on = models.DateField(_("实际交付日期"), null=True, blank=True)
    note = models.TextField(_("说明"), blank=True)
    demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["contract", "due_date"]
        constraints = [
            models.CheckConstraint(condition=models.Q(delivered_on__isnull=True)
                                   | models.Q(delivered_on__gt=models.F("due_date")), name="ops_late_after_due"),
        ]  # fmt: skip
        verbose_name = _("迟延服务")
        verbose_name_plural = _("迟延服务")

    def __str__(self) -> str:
        return f"{self.contract_id} {self.deliverable}"


class ReportKind(models.TextChoices):
    MONTH = "month", _("月报")
    QUARTER = "quarter", _("季度报告")


class Report(models.Model):
    """A generated report: the Word and PDF files under ``GOVCENTER_VAR_DIR/reports/ops/``
    with their SM3 digests (checked again at every download)."""

    kind = models.CharField(_("类型"), max_length=8, choices=ReportKind.choices)
    label = models.CharField(_("期间"), max_length=10)
    period_start = models.DateField(_("开始"))
    period_end = models.DateField(_("结束"))
    generated_at = models.DateTimeField(_("生成时间"))
    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")  # fmt: skip
    generated_by_name = models.CharField(_("生成人"), max_length=150)
    parameters = models.JSONField(_("参数"), default=dict)
    docx_path = models.CharField(max_length=255)
    docx_sm3 = models.CharField(max_length=64)
    pdf_path = models.CharField(max_length=255)
    pdf_sm3 = models.CharField(max_length=64)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-generated_at", "-id"]
        verbose_name = _("运维报告")
        verbose_name_plural = _("运维报告")
        indexes = [models.Index(fields=["kind", "period_start"], name="ops_report_kind_period")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}"
