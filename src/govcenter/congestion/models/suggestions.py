"""缓堵意见建议: suggestions from the public form or entered by staff, assigned to a lead unit,
replied to, rated by the proposer (不满意 sends it back), closed — or merged into an earlier
duplicate."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from govcenter.core.models.org import validate_phone

from .cases import Case, UnitRole


class SuggestionState(models.TextChoices):
    SUBMITTED = "submitted", _("待交办")
    ASSIGNED = "assigned", _("办理中")
    REPLIED = "replied", _("已答复")
    CLOSED = "closed", _("已办结")
    MERGED = "merged", _("已合并")


class Channel(models.TextChoices):
    PUBLIC_FORM = "public_form", _("网上征集")
    STAFF = "staff", _("工作人员录入")
    HOTLINE = "hotline", _("热线电话")
    LETTER = "letter", _("来信")


class Topic(models.TextChoices):
    SIGNAL = "signal", _("信号灯与交通组织")
    PARKING = "parking", _("停车")
    ROAD = "road", _("道路设施")
    TRANSIT = "transit", _("公共交通")
    SLOW = "slow", _("步行、自行车与共享单车")
    SCHOOL = "school", _("学校医院周边")
    OTHER = "other", _("其他")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


def _can_assign(instance, user) -> bool:
    return user.has_perm("congestion.assign_suggestion")


def _is_lead_unit(instance, user) -> bool:
    """The replying user's own unit is a lead unit of the suggestion, or an ancestor of one."""
    from govcenter.core.models import Unit

    if not user.has_perm("congestion.reply_suggestion") or getattr(user, "unit", None) is None:
        return False
    mine = Unit.objects.subtree_ids(user.unit)
    return instance.units.filter(role=UnitRole.LEAD, unit_id__in=mine).exists()


def _can_change(instance, user) -> bool:
    return user.has_perm("congestion.change_suggestion")


class Suggestion(Case):
    state = FSMField(
        _("状态"), default=SuggestionState.SUBMITTED, choices=SuggestionState.choices, protected=True
    )
    channel = models.CharField(_("来源渠道"), max_length=12, choices=Channel.choices)
    topic = models.CharField(_("议题"), max_length=12, choices=Topic.choices)
    proposer_name = models.CharField(_("建议人"), max_length=50, blank=True)
    proposer_phone = models.CharField(_("联系电话"), max_length=20, blank=True, validators=[validate_phone])
    reply = models.TextField(_("答复内容"), blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("答复人"),
    )
    satisfaction = models.CharField(_("满意度"), max_length=12, choices=Satisfaction.choices, blank=True)
    rounds = models.PositiveSmallIntegerField(_("办理轮次"), default=1)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        verbose_name=_("合并至"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("意见建议")
        verbose_name_plural = _("意见建议")
        permissions = [
            ("assign_suggestion", _("交办意见建议")),
            ("reply_suggestion", _("答复意见建议")),
        ]
        indexes = [
            models.Index(fields=["state", "deadline"], name="congestion_sugg_state_due"),
            models.Index(fields=["-created_at", "-id"], name="congestion_sugg_created"),  # the list's order
        ]

    @transition(
        field=state, source=SuggestionState.SUBMITTED, target=SuggestionState.ASSIGNED, permission=_can_assign
    )
    def assign(self, *, deadline):
        self.deadline = deadline

    @transition(
        field=state, source=SuggestionState.ASSIGNED, target=SuggestionState.REPLIED, permission=_is_lead_unit
    )
    def answer(self, *, text: str, by, at):
        self.reply, self.replied_by, self.replied_at = text, by, at

    @transition(
        field=state,
        source=SuggestionState.REPLIED,
        target=RETURN_VALUE(SuggestionState.CLOSED, SuggestionState.ASSIGNED),
        permission=_can_change,
    )
    def rate(self, *, satisfaction: str, at, deadline):
        """The proposer's rating (entered by staff after the return visit); 不满意 sends the
        suggestion back to its lead unit for another round, due by ``deadline``."""
        self.satisfaction = satisfaction
        if satisfaction == Satisfaction.UNSATISFIED:
            self.rounds += 1
            self.deadline = deadline
            return SuggestionState.ASSIGNED
        self.closed_at = at
        return SuggestionState.CLOSED

    @transition(
        field=state, source=SuggestionState.REPLIED, target=SuggestionState.CLOSED, permission=_can_change
    )
    def close(self, *, at):
        self.closed_at = at

    @transition(
        field=state,
        source=[SuggestionState.SUBMITTED, SuggestionState.ASSIGNED],
        target=SuggestionState.MERGED,
        permission=_can_change,
    )
    def merge(self, *, into, at):
        self.merged_into, self.closed_at = into, at
