"""人大建议 / 政协提案: NPC deputies' suggestions and CPPCC members' proposals assigned by the Center
to a lead unit (主办) and co-units (协办). Each unit signs for its part (签收) or returns it (退办);
co-units send their opinion to the lead; the lead's reply letter (答复函, class A/B/C/D) is
countersigned where required (会签) and reviewed by the Center (审核); every proposer rates it
(不满意 → another round); a B-class reply is followed by a second reply (再次答复) once solved.

Per-unit state lives in :class:`ProposalTask` (one row per assignment of a unit), the replies in
:class:`ProposalReply`, the proposers and their ratings in :class:`ProposalProposer`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from .cases import Case, UnitRole


class BodyType(models.TextChoices):
    NPC = "npc", _("人大代表建议")
    CPPCC = "cppcc", _("政协委员提案")


class ProposalState(models.TextChoices):
    REGISTERED = "registered", _("待交办")
    ASSIGNED = "assigned", _("待签收")
    HANDLING = "handling", _("办理中")
    COUNTERSIGNING = "countersigning", _("会签中")
    REVIEWING = "reviewing", _("待审核")
    REPLIED = "replied", _("已答复待评价")
    AWAITING_SECOND = "awaiting_second", _("待再次答复")
    CLOSED = "closed", _("已办结")


class Classification(models.TextChoices):
    A = "A", _("A类：所提问题已经解决或基本解决")
    B = "B", _("B类：正在解决或列入计划解决")
    C = "C", _("C类：因条件限制或其他原因需以后解决")
    D = "D", _("D类：留作参考")


class ProposalSatisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class ExtensionStatus(models.TextChoices):
    NONE = "", _("未申请")
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


HANDLING_STATES = [ProposalState.HANDLING, ProposalState.COUNTERSIGNING, ProposalState.REVIEWING]


def _mine(instance, user, role: str | None = None) -> bool:
    """``user`` handles proposals and works in (a sub-unit of) a unit assigned to ``instance``."""
    from govcenter.core.models import Unit

    if not user.has_perm("congestion.handle_proposal") or getattr(user, "unit", None) is None:
        return False
    links = instance.units.filter(unit_id__in=Unit.objects.subtree_ids(user.unit))
    return (links.filter(role=role) if role else links).exists()


def _is_assigned_unit(instance, user) -> bool:
    return _mine(instance, user)


def _is_lead_unit(instance, user) -> bool:
    return _mine(instance, user, UnitRole.LEAD)


def _is_co_unit(instance, user) -> bool:
    return _mine(instance, user, UnitRole.CO)


def _can_assign(instance, user) -> bool:
    return user.has_perm("congestion.assign_proposal")


def _can_review(instance, user) -> bool:
    return user.has_perm("congestion.review_proposal")


def _can_rate(instance, user) -> bool:
    return user.has_perm("congestion.change_proposal")


def _can_decide_extension(instance, user) -> bool:
    return user.has_perm("congestion.approve_proposal_extension")


def _extension_pending(instance) -> bool:
    return instance.extension_status == ExtensionStatus.REQUESTED


class Proposal(Case):
    state = FSMField(
        _("状态"), default=ProposalState.REGISTERED, choices=ProposalState.choices, protected=True
    )
    body_type = models.CharField(_("类别"), max_length=8, choices=BodyType.choices)
    session = models.CharField(_("届次"), max_length=40, help_text=_("如：十六届四次会议"))
    assembly_number = models.CharField(_("建议号/提案号"), max_length=30)
    countersign_required = models.BooleanField(_("需协办单位会签"), default=False)
    rounds = models.PositiveSmallIntegerField(_("办理轮次"), default=1)
    classification = models.CharField(_("答复类别"), max_length=1, choices=Classification.choices, blank=True)
    reply_text = models.TextField(_("答复内容"), blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    followup_due = models.DateField(_("再次答复期限"), null=True, blank=True)
    second_replied_at = models.DateTimeField(_("再次答复时间"), null=True, blank=True)
    extension_status = models.CharField(
        _("延期状态"),
        max_length=10,
        choices=ExtensionStatus.choices,
        blank=True,
        default=ExtensionStatus.NONE,
    )
    extension_months = models.PositiveSmallIntegerField(_("延期月数"), null=True, blank=True)
    extension_reason = models.TextField(_("延期理由"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("建议提案")
        verbose_name_plural = _("建议提案")
        permissions = [
            ("assign_proposal", _("交办建议提案")),
            ("handle_proposal", _("办理建议提案")),
            ("review_proposal", _("审核建议提案答复")),
            ("approve_proposal_extension", _("审批建议提案延期")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["body_type", "year", "assembly_number"], name="congestion_proposal_number_once"
            )
        ]
        indexes = [models.Index(fields=["state", "deadline"], name="congestion_prop_state_due")]

    # -- assignment and the units' part ---------------------------------------------------------

    @transition(
        field=state, source=ProposalState.REGISTERED, target=ProposalState.ASSIGNED, permission=_can_assign
    )
    def assign(self, *, due, countersign: bool):
        self.deadline, self.countersign_required = due, countersign

    @transition(
        field=state,
        source=[ProposalState.ASSIGNED, *HANDLING_STATES],
        target=RETURN_VALUE(ProposalState.ASSIGNED, *HANDLING_STATES),
        permission=_is_assigned_unit,
    )
    def sign(self, *, task, by, at):
        """签收: the lead's signature starts the handling; a co-unit's leaves the state as it is."""
        task.signed_at, task.signed_by = at, by
        task.save(update_fields=["signed_at", "signed_by"])
        return ProposalState.HANDLING if task.role == UnitRole.LEAD else self.state

    @transition(
        field=state,
        source=[ProposalState.ASSIGNED, ProposalState.HANDLING],
        target=RETURN_VALUE(ProposalState.REGISTERED, ProposalState.ASSIGNED, ProposalState.HANDLING),
        permission=_is_assigned_unit,
    )
    def give_back(self, *, task, reason: str, at):
        """退办: the unit's part ends; the lead's return sends the proposal back to the Center."""
        task.returned_at, task.return_reason, task.active = at, reason, False
        task.save(update_fields=["returned_at", "return_reason", "active"])
        self.units.filter(unit_id=task.unit_id).delete()
        if task.role == UnitRole.LEAD:
            self.deadline = None
            return ProposalState.REGISTERED
        return self.state

    @transition(
        field=state,
        source=[ProposalState.ASSIGNED, ProposalState.HANDLING],
        target=RETURN_VALUE(ProposalState.ASSIGNED, ProposalState.HANDLING),
        permission=_is_co_unit,
    )
    def send_opinion(self, *, task, text: str, at):
        """协办意见 to the lead unit."""
        task.opinion, task.opinion_at = text, at
        task.save(update_fields=["opinion", "opinion_at"])
        return self.state

    # -- the reply ------------------------------------------------------------------------------

    @transition(
        field=state,
        source=ProposalState.HANDLING,
        target=RETURN_VALUE(ProposalState.COUNTERSIGNING, ProposalState.REVIEWING),
        permission=_is_lead_unit,
    )
    def submit_reply(self, *, countersign: bool):
        return ProposalState.COUNTERSIGNING if countersign else ProposalState.REVIEWING

    @transition(
        field=state,
        source=ProposalState.COUNTERSIGNING,
        target=RETURN_VALUE(ProposalState.COUNTERSIGNING, ProposalState.REVIEWING, ProposalState.HANDLING),
        permission=_is_co_unit,
    )
    def countersign(self, *, task, agree: bool, note: str, at, all_done: bool):
        """会签: every co-unit agrees → Center review; one disagreement → back to the lead."""
        task.countersigned_at, task.countersign_note, task.countersign_agreed = at, note, agree
        task.save(update_fields=["countersigned_at", "countersign_note", "countersign_agreed"])
        if not agree:
            return ProposalState.HANDLING
        return ProposalState.REVIEWING if all_done else ProposalState.COUNTERSIGNING

    @transition(
        field=state,
        source=ProposalState.REVIEWING,
        target=RETURN_VALUE(ProposalState.REPLIED, ProposalState.HANDLING),
        permission=_can_review,
    )
    def review(self, *, reply, approve: bool, at, followup_due):
        """审核: approved → replied (the letter goes out); otherwise back to the lead."""
        if not approve:
            return ProposalState.HANDLING
        self.classification, self.reply_text, self.replied_at = reply.classification, reply.text, at
        self.followup_due = followup_due
        return ProposalState.REPLIED

    @transition(
        field=state,
        source=ProposalState.REPLIED,
        target=RETURN_VALUE(
            ProposalState.REPLIED, ProposalState.HANDLING, ProposalState.AWAITING_SECOND, ProposalState.CLOSED
        ),
        permission=_can_rate,
    )
    def rate(self, *, proposer, satisfaction: str, at, outcome: str, due):
        """One proposer's rating: 不满意 → another round for the lead (``due`` its deadline); all in
        → closed, or awaiting the second reply of a B-class item."""
        proposer.satisfaction, proposer.rated_round, proposer.rated_at = satisfaction, self.rounds, at
        proposer.save(update_fields=["satisfaction", "rated_round", "rated_at"])
        if outcome == ProposalState.HANDLING:
            self.rounds += 1
            self.deadline = due
        elif outcome == ProposalState.AWAITING_SECOND:
            self.deadline = self.followup_due
        elif outcome == ProposalState.CLOSED:
            self.closed_at = at
        return outcome

    @transition(
        field=state,
        source=ProposalState.AWAITING_SECOND,
        target=ProposalState.CLOSED,
        permission=_is_lead_unit,
    )
    def second_reply(self, *, at):
        """再次答复 of a B-class item once the problem is solved: the proposal closes."""
        self.second_replied_at, self.closed_at = at, at

    # -- extension ------------------------------------------------------------------------------

    @transition(
        field=state, source=ProposalState.HANDLING, target=ProposalState.HANDLING, permission=_is_lead_unit
    )
    def request_extension(self, *, months: int, reason: str):
        self.extension_status, self.extension_months, self.extension_reason = (
            ExtensionStatus.REQUESTED,
            months,
            reason,
        )

    @transition(
        field=state,
        source=HANDLING_STATES,
        target=RETURN_VALUE(*HANDLING_STATES),
        permission=_can_decide_extension,
        conditions=[_extension_pending],
    )
    def decide_extension(self, *, approve: bool, due):
        self.extension_status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
        if approve:
            self.deadline = due
        return self.state


class ProposalProposer(models.Model):
    """One proposer (代表 / 委员) of a proposal and their rating of the current round."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="proposers")
    name = models.CharField(_("姓名"), max_length=50)
    delegation = models.CharField(_("代表团/界别/党派"), max_length=60, blank=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    satisfaction = models.CharField(
        _("满意度"), max_length=12, choices=ProposalSatisfaction.choices, blank=True
    )
    rated_round = models.PositiveSmallIntegerField(_("评价轮次"), default=0)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)

    class Meta:
        ordering = ["proposal", "order", "id"]
        verbose_name = _("建议提案人")
        verbose_name_plural = _("建议提案人")

    def __str__(self) -> str:
        return f"{self.proposal_id}#{self.order}"


class ProposalTask(models.Model):
    """One unit's assignment to a proposal: sign-for (or return) within the set working days,
    a co-unit's opinion to the lead, its countersignature."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="tasks")
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("单位"))
    role = models.CharField(_("角色"), max_length=12, choices=UnitRole.choices)
    active = models.BooleanField(_("在办"), default=True)
    assigned_at = models.DateTimeField(_("交办时间"))
    sign_due = models.DateField(_("签收期限"))
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    returned_at = models.DateTimeField(_("退办时间"), null=True, blank=True)
    return_reason = models.TextField(_("退办理由"), blank=True)
    opinion_due = models.DateField(_("协办意见期限"), null=True, blank=True)
    opinion = models.TextField(_("协办意见"), blank=True)
    opinion_at = models.DateTimeField(_("协办意见时间"), null=True, blank=True)
    countersigned_at = models.DateTimeField(_("会签时间"), null=True, blank=True)
    countersign_agreed = models.BooleanField(_("会签同意"), null=True, blank=True)
    countersign_note = models.TextField(_("会签意见"), blank=True)

    class Meta:
        ordering = ["proposal", "role", "id"]
        verbose_name = _("建议提案承办任务")
        verbose_name_plural = _("建议提案承办任务")
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "unit"], condition=models.Q(active=True), name="congestion_proptask_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} {self.role} {self.unit_id}"


class ReplyKind(models.TextChoices):
    FIRST = "first", _("答复")
    SECOND = "second", _("再次答复")


class ProposalReply(models.Model):
    """A reply letter (答复函) as submitted by the lead: its text, class and letter files."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="replies")
    kind = models.CharField(_("类型"), max_length=8, choices=ReplyKind.choices, default=ReplyKind.FIRST)
    round = models.PositiveSmallIntegerField(_("办理轮次"))
    text = models.TextField(_("答复内容"))
    classification = models.CharField(_("答复类别"), max_length=1, choices=Classification.choices, blank=True)
    followup_due = models.DateField(_("计划解决期限"), null=True, blank=True)
    files = models.JSONField(_("答复函文件"), default=list)  # Attachment ids on the proposal
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交时间"))
    decision = models.CharField(_("审核结果"), max_length=10, blank=True)  # approved / returned
    decision_note = models.TextField(_("审核意见"), blank=True)

    class Meta:
        ordering = ["proposal", "submitted_at", "id"]
        verbose_name = _("建议提案答复函")
        verbose_name_plural = _("建议提案答复函")

    def __str__(self) -> str:
        return f"{self.proposal_id} {self.kind} r{self.round}"
