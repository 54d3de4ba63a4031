"""Planned changes to the base data: temporary occupations (临时占用) and change sets (规划车位调整).

Temporary occupation: a set of spaces (a whole segment, or chosen spaces) closed for a
period. The spaces it covers are fixed when it is created (``spaces``), so the rows tell
for any past moment which spaces were closed — :func:`selectors.adjustments.space_closed_at`
reads them. ``started_at``/``ended_at`` are the actual times the task (or a person)
started and ended it; ``starts_at``/``ends_at`` the plan. ``restore_state`` keeps the
statuses the spaces and devices had before, so ending restores exactly those.

Change set: a district's planned additions, moves and retirements of spaces, written as
items, submitted, reviewed by someone other than the author, then applied in one
transaction; ``diff`` records before/after per space so an applied set can be reverted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

from .base import Space


class TemporaryOccupation(ScopedModel):
    """Spaces closed for a period (construction, an event, an emergency); devices offline meanwhile."""

    class Reason(models.TextChoices):
        CONSTRUCTION = "construction", _("施工")
        EVENT = "event", _("活动")
        EMERGENCY = "emergency", _("应急")
        OTHER = "other", _("其他")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("待开始")
        ACTIVE = "active", _("占用中")
        ENDED = "ended", _("已结束")
        CANCELLED = "cancelled", _("已取消")

    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        on_delete=models.PROTECT,
        related_name="parking_occupations",
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_occupations"
    )
    segment = models.ForeignKey(
        "parking.Segment",
        verbose_name=_("路段"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="occupations",
        help_text=_("整段占用时填写；否则选择泊位。"),
    )
    spaces = models.ManyToManyField(Space, verbose_name=_("泊位"), related_name="occupations")
    reason = models.CharField(_("占用原因"), max_length=16, choices=Reason.choices)
    reason_text = models.CharField(_("原因说明"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("计划开始"))
    ends_at = models.DateTimeField(_("计划结束"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    started_at = models.DateTimeField(_("实际开始"), null=True, blank=True)
    ended_at = models.DateTimeField(_("实际结束"), null=True, blank=True)
    restore_state = models.JSONField(default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-starts_at", "-pk"]
        verbose_name = _("临时占用")
        verbose_name_plural = _("临时占用")
        indexes = [
            models.Index(fields=["district", "status"]),
            models.Index(fields=["status", "starts_at"]),
            models.Index(fields=["status", "ends_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="parking_occ_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"


class ChangeSet(ScopedModel):
    """A district's planned space adjustments (规划车位调整), reviewed and applied as one."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("待审核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        APPLIED = "applied", _("已实施")
        REVERTED = "reverted", _("已撤回")

    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_changesets"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_changesets"
    )
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("编制人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    review_comment = models.CharField(_("审核意见"), max_length=500, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    applied_at = models.DateTimeField(_("实施时间"), null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("实施人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reverted_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤回人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # [{"item": n, "op": ..., "space_id": ..., "space": "SEG-001", "before": {...}|null, "after": {...}}]
    diff = models.JSONField(_("变更对比"), default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("车位调整方案")
        verbose_name_plural = _("车位调整方案")
        permissions = [("review_changeset", _("审核、实施和撤回车位调整方案"))]
        indexes = [models.Index(fields=["district", "status"])]

    def __str__(self) -> str:
        return self.title


class ChangeSetItem(ScopedModel):
    """One planned change: add a space, move a space (position and/or number), or retire one."""

    class Op(models.TextChoices):
        ADD = "add", _("新增")
        MOVE = "move", _("调整")
        RETIRE = "retire", _("撤销")

    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(_("序号"))
    op = models.CharField(_("操作"), max_length=8, choices=Op.choices)
    segment = models.ForeignKey(
        "parking.Segment",
        verbose_name=_("路段"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    space = models.ForeignKey(
        Space, verbose_name=_("泊位"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The space's version when the item was written: apply refuses the item if it moved on since.
    base_version = models.PositiveIntegerField(_("依据版本"), null=True, blank=True)
    number = models.CharField(_("泊位编号"), max_length=20, blank=True)
    lon = models.FloatField(_("经度（GCJ-02）"), null=True, blank=True)
    lat = models.FloatField(_("纬度（GCJ-02）"), null=True, blank=True)
    space_type = models.CharField(_("泊位类型"), max_length=12, choices=Space.Type.choices, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    scope_fields = {"district": "change_set__district", "unit": "change_set__managing_unit"}

    class Meta:
        ordering = ["change_set", "position"]
        verbose_name = _("车位调整项")
        verbose_name_plural = _("车位调整项")
        constraints = [
            models.UniqueConstraint(fields=["change_set", "position"], name="parking_csitem_position"),
        ]

    def __str__(self) -> str:
        target = self.space or (f"{self.segment.code}-{self.number}" if self.segment_id else self.number)
        return f"#{self.position} {self.get_op_display()} {target}"
