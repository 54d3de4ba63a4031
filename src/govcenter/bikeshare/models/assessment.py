"""Assessment of bike-share operators (考核): indicator sets, monthly scores, quarterly grades.

* :class:`IndicatorSet` — a versioned, weighted set of indicators (weights sum to 100), in
  force from its ``effective_from`` month until a later set starts. Each indicator in
  ``indicators`` is ``{"code", "name", "weight", "method": "linear", "floor", "target"}``:
  points = 100 × (value − floor) / (target − floor), clipped to [0, 100]; ``target < floor``
  means lower is better. ``grade_thresholds`` (minimum mean total per grade A/B/C, below C
  is D) and ``quota_adjustments`` (percent of the current fleet quota per grade) drive the
  quarterly grade. A set used by an assessment is never changed: a new version is created.
* :class:`MonthlyAssessment` — one operator's score for one month, revision by revision.
  A draft may be recomputed in place; a published revision is immutable, recomputing after
  publication creates the next revision. ``indicators`` holds each indicator's value,
  points, weights and raw inputs (sources and counts), so the total can be explained.
* :class:`QuarterlyGrade` — the mean of the quarter's three monthly totals, its grade and
  the quota recommendation per district; a Center user may adopt the recommendation, which
  sets the quotas through ``services.quotas.quota_set`` (the quota history records it).
* :class:`ComplaintTally` — the complaints staff counted for an operator in a month (no
  complaint feed exists for bike-share yet), with the source of the figure.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")


class IndicatorSet(models.Model):
    """A versioned indicator set (configuration, the same for every operator)."""

    version = models.PositiveIntegerField(_("版本"), unique=True)
    name = models.CharField(_("名称"), max_length=100)
    effective_from = models.DateField(_("生效月份"), help_text="the first day of the month it applies from")
    indicators = models.JSONField(_("指标"), default=list)
    grade_thresholds = models.JSONField(_("等级分数线"), default=dict)
    quota_adjustments = models.JSONField(_("总量调整比例"), default=dict)
    note = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-version"]
        verbose_name = _("考核指标体系")
        verbose_name_plural = _("考核指标体系")
        indexes = [models.Index(fields=["effective_from", "version"])]

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"


class MonthlyAssessment(ScopedModel):
    """One revision of one operator's monthly assessment."""

    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_assessments",
        limit_choices_to={"kind": "operator"},
    )
    month = models.DateField(_("考核月份"), help_text="the first day of the month")
    revision = models.PositiveIntegerField(_("修订版本"), default=1)
    indicator_set = models.ForeignKey(
        IndicatorSet, verbose_name=_("指标体系"), on_delete=models.PROTECT, related_name="assessments"
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    total = models.FloatField(_("总分"), default=0.0)
    indicators = models.JSONField(_("指标得分"), default=list)
    computed_at = models.DateTimeField(_("计算时间"))
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_fields = {"operator": "operator"}

    class Meta:
        ordering = ["-month", "operator", "-revision"]
        verbose_name = _("月度考核")
        verbose_name_plural = _("月度考核")
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "month", "revision"], name="bikeshare_assessment_revision"
            ),
        ]
        indexes = [models.Index(fields=["month", "status"])]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.month:%Y-%m} r{self.revision}"

    def save(self, *args, **kwargs):
        # A published revision is a record the operator was shown: it never changes (a
        # recomputation creates the next revision, services/assessment.py).
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == AssessmentStatus.PUBLISHED:
                raise ValueError(f"assessment {self.pk} is published and immutable")
        super().save(*args, **kwargs)


class QuarterlyGrade(ScopedModel):
    """One operator's grade for one quarter with the quota recommendation."""

    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_quarter_grades",
        limit_choices_to={"kind": "operator"},
    )
    year = models.PositiveIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"))
    indicator_set = models.ForeignKey(
        IndicatorSet, verbose_name=_("指标体系"), on_delete=models.PROTECT, related_name="grades"
    )
    mean_total = models.FloatField(_("平均得分"))
    grade = models.CharField(_("等级"), max_length=1)
    months = models.JSONField(_("月度得分"), default=list)
    provisional = models.BooleanField(
        _("暂定"), default=True, help_text="a month is missing or not yet published"
    )
    recommendations = models.JSONField(_("总量建议"), default=list)
    computed_at = models.DateTimeField(_("计算时间"))
    adopted_at = models.DateTimeField(_("采纳时间"), null=True, blank=True)
    adopted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_fields = {"operator": "operator"}

    class Meta:
        ordering = ["-year", "-quarter", "operator"]
        verbose_name = _("季度考核等级")
        verbose_name_plural = _("季度考核等级")
        constraints = [
            models.UniqueConstraint(fields=["operator", "year", "quarter"], name="bikeshare_grade_quarter"),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.year}Q{self.quarter} {self.grade}"


class ComplaintTally(ScopedModel):
    """Complaints about one operator in one month, entered by staff (manual source)."""

    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_complaint_tallies",
        limit_choices_to={"kind": "operator"},
    )
    month = models.DateField(_("月份"), help_text="the first day of the month")
    count = models.PositiveIntegerField(_("投诉件数"))
    source = models.CharField(_("数据来源"), max_length=200)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField(_("录入时间"), auto_now=True)

    scope_fields = {"operator": "operator"}

    class Meta:
        ordering = ["-month", "operator"]
        verbose_name = _("投诉件数")
        verbose_name_plural = _("投诉件数")
        constraints = [
            models.UniqueConstraint(fields=["operator", "month"], name="bikeshare_complaints_month"),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.month:%Y-%m}: {self.count}"


__all__ = ["AssessmentStatus", "ComplaintTally", "IndicatorSet", "MonthlyAssessment", "QuarterlyGrade"]
