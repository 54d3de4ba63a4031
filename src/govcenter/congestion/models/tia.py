"""交通影响评价 (traffic impact assessment, TIA): an application with its materials → the
acceptance check (受理; every missing material in one 补正通知) → form and content review →
the expert review meeting → the opinion (passed with conditions), a revision round, or
不予通过 → delivery (送达) → closed. Each stage has a working-day time limit; the application
carries Beijing's trigger-threshold flag (services/tia.py decides it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from .cases import Case, UnitRole


class TiaState(models.TextChoices):
    SUBMITTED = "submitted", _("待受理")
    SUPPLEMENTING = "supplementing", _("待补正")
    ACCEPTED = "accepted", _("形式与内容审查")
    EXPERT_REVIEW = "expert_review", _("待专家评审")
    MEETING_HELD = "meeting_held", _("待出具评审意见")
    REVISING = "revising", _("修改中")
    OPINION_ISSUED = "opinion_issued", _("已出具意见，待送达")
    REJECTED = "rejected", _("不予通过，待送达")
    CLOSED = "closed", _("已办结")


# The stage whose working-day limit (GOVCENTER_CONGESTION_TIA_WORKDAYS) runs in each state.
STAGE_OF_STATE = {
    TiaState.SUBMITTED: "acceptance",
    TiaState.SUPPLEMENTING: "supplement",
    TiaState.ACCEPTED: "review",
    TiaState.EXPERT_REVIEW: "meeting",
    TiaState.MEETING_HELD: "opinion",
    TiaState.REVISING: "revision",
    TiaState.OPINION_ISSUED: "delivery",
    TiaState.REJECTED: "delivery",
}
STAGE_LABELS = {
    "acceptance": _("受理"),
    "supplement": _("补正"),
    "review": _("形式与内容审查"),
    "meeting": _("专家评审会"),
    "opinion": _("评审意见"),
    "revision": _("修改"),
    "delivery": _("送达"),
}


class TiaUse(models.TextChoices):
    RESIDENTIAL = "residential", _("居住")
    PUBLIC = "public", _("公共建筑（办公、商业、医院、学校等）")
    INDUSTRIAL = "industrial", _("工业")
    MIXED = "mixed", _("混合")


class RingArea(models.TextChoices):
    RING2 = "ring2", _("二环内")
    CENTRAL = "central", _("中心城区六区")
    SUBCENTRE = "subcentre", _("城市副中心")
    OTHER = "other", _("其他地区")


class TiaDecision(models.TextChoices):
    PASSED = "passed", _("通过（附条件）")
    REJECTED = "rejected", _("不予通过")


class DeliveryMethod(models.TextChoices):
    IN_PERSON = "in_person", _("直接送达")
    POST = "post", _("邮寄送达")
    ELECTRONIC = "electronic", _("电子送达")


# Labels of the default materials (GOVCENTER_CONGESTION_TIA_MATERIALS may add key:label ones).
MATERIAL_LABELS = {
    "application_form": _("申请表"),
    "tia_report": _("交通影响评价报告书"),
    "site_plan": _("总平面图"),
    "approval": _("项目批复文件"),
}


def _may(perm: str):
    def check(instance, user) -> bool:
        return user.has_perm(perm)

    return check


def _is_review_unit(instance, user) -> bool:
    """The user reviews TIAs and works in (a sub-unit of) the application's review unit (主办)."""
    from govcenter.core.models import Unit

    if not user.has_perm("congestion.review_tiaapplication") or getattr(user, "unit", None) is None:
        return False
    mine = Unit.objects.subtree_ids(user.unit)
    return instance.units.filter(role=UnitRole.LEAD, unit_id__in=mine).exists()


_register, _accept = _may("congestion.add_tiaapplication"), _may("congestion.accept_tiaapplication")


class TiaApplication(Case):
    state = FSMField(_("状态"), default=TiaState.SUBMITTED, choices=TiaState.choices, protected=True)
    builder = models.CharField(_("建设单位"), max_length=200)
    floor_area = models.DecimalField(_("地上建筑面积（平方米）"), max_digits=11, decimal_places=2)
    use = models.CharField(_("用途"), max_length=12, choices=TiaUse.choices)
    ring_area = models.CharField(_("区位"), max_length=12, choices=RingArea.choices)
    ring_area_chosen = models.BooleanField(_("区位为人工选择"), default=False)
    needs_tia = models.BooleanField(_("达到交评启动标准"), default=False)
    threshold_m2 = models.PositiveIntegerField(_("启动标准（平方米）"))
    stage_started_at = models.DateTimeField(_("本阶段开始时间"), null=True, blank=True)
    supplement_notices = models.PositiveSmallIntegerField(_("补正通知次数"), default=0)
    missing_materials = models.JSONField(_("补正材料"), default=list, blank=True)
    review_notes = models.TextField(_("审查意见"), blank=True)
    meeting_date = models.DateField(_("评审会日期"), null=True, blank=True)
    experts = models.JSONField(_("评审专家"), default=list, blank=True)
    minutes = models.ForeignKey(
        "core.Attachment", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("评审会纪要"),
    )  # fmt: skip
    revision_rounds = models.PositiveSmallIntegerField(_("修改轮次"), default=0)
    decision = models.CharField(_("评审结论"), max_length=12, choices=TiaDecision.choices, blank=True)
    opinion = models.TextField(_("评审意见（条件或理由）"), blank=True)
    decided_at = models.DateTimeField(_("出具意见时间"), null=True, blank=True)
    delivered_on = models.DateField(_("送达日期"), null=True, blank=True)
    delivery_method = models.CharField(
        _("送达方式"), max_length=12, choices=DeliveryMethod.choices, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("交通影响评价")
        verbose_name_plural = _("交通影响评价")
        permissions = [
            ("accept_tiaapplication", _("受理交通影响评价")),
            ("review_tiaapplication", _("审查交通影响评价")),
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_tia_state_due")]

    @transition(
        field=state,
        source=[TiaState.SUBMITTED, TiaState.SUPPLEMENTING],
        target=RETURN_VALUE(TiaState.SUBMITTED, TiaState.SUPPLEMENTING),
        permission=_register,
    )
    def add_materials(self):
        """Materials received (the state stays; the history keeps the receipt)."""
        return self.state

    @transition(field=state, source=TiaState.SUBMITTED, target=TiaState.SUPPLEMENTING, permission=_accept)
    def request_supplement(self, *, missing: list[str]):
        self.missing_materials = missing
        self.supplement_notices += 1

    @transition(field=state, source=TiaState.SUPPLEMENTING, target=TiaState.SUBMITTED, permission=_register)
    def resubmit(self):
        pass

    @transition(field=state, source=TiaState.SUBMITTED, target=TiaState.ACCEPTED, permission=_accept)
    def accept(self):
        self.missing_materials = []

    @transition(
        field=state, source=TiaState.ACCEPTED, target=TiaState.EXPERT_REVIEW, permission=_is_review_unit
    )
    def review(self, *, notes: str):
        self.review_notes = notes

    @transition(
        field=state, source=TiaState.EXPERT_REVIEW, target=TiaState.MEETING_HELD, permission=_is_review_unit
    )
    def hold_meeting(self, *, date, experts: list[str], minutes):
        self.meeting_date, self.experts, self.minutes = date, experts, minutes

    @transition(
        field=state, source=TiaState.MEETING_HELD, target=TiaState.OPINION_ISSUED, permission=_is_review_unit
    )
    def issue_opinion(self, *, conditions: str, at):
        self.decision, self.opinion, self.decided_at = TiaDecision.PASSED, conditions, at

    @transition(
        field=state, source=TiaState.MEETING_HELD, target=TiaState.REVISING, permission=_is_review_unit
    )
    def revise(self):
        self.revision_rounds += 1

    @transition(field=state, source=TiaState.REVISING, target=TiaState.EXPERT_REVIEW, permission=_register)
    def submit_revision(self):
        pass

    @transition(
        field=state,
        source=[TiaState.ACCEPTED, TiaState.EXPERT_REVIEW, TiaState.MEETING_HELD],
        target=TiaState.REJECTED,
        permission=_is_review_unit,
    )
    def reject(self, *, reasons: str, at):
        self.decision, self.opinion, self.decided_at = TiaDecision.REJECTED, reasons, at

    @transition(
        field=state,
        source=[TiaState.OPINION_ISSUED, TiaState.REJECTED],
        target=TiaState.CLOSED,
        permission=_accept,
    )
    def deliver(self, *, on, how: str, at):
        self.delivered_on, self.delivery_method, self.closed_at = on, how, at


class TiaMaterial(models.Model):
    """One file of an application's materials checklist, tagged with its material key."""

    application = models.ForeignKey(
        TiaApplication, on_delete=models.CASCADE, related_name="materials", verbose_name=_("交通影响评价")
    )
    key = models.CharField(_("材料"), max_length=40)
    attachment = models.ForeignKey("core.Attachment", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(_("收件时间"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("收件人"),
    )  # fmt: skip

    class Meta:
        ordering = ["application", "key", "id"]
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")

    def __str__(self) -> str:
        return f"{self.application_id}:{self.key}"


class TiaRevision(models.Model):
    """One revision round: the expert comments the applicant must answer, and when it came back."""

    application = models.ForeignKey(
        TiaApplication, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("交通影响评价")
    )
    round = models.PositiveSmallIntegerField(_("轮次"))
    comments = models.TextField(_("专家意见"))
    opened_at = models.DateTimeField(_("退回修改时间"))
    resubmitted_at = models.DateTimeField(_("修改后提交时间"), null=True, blank=True)

    class Meta:
        ordering = ["application", "round"]
        verbose_name = _("修改轮次")
        verbose_name_plural = _("修改轮次")
        constraints = [
            models.UniqueConstraint(fields=["application", "round"], name="congestion_tia_round_once")
        ]

    def __str__(self) -> str:
        return f"{self.application_id}#{self.round}"
