"""API of 人大建议 / 政协提案 under ``/api/v1/congestion/proposals/``: the scoped list (filters
``state``, ``body_type``, ``year``, ``classification``, ``lead_unit``, ``overdue=1``), one proposal
with its proposers (names masked), units' assignments and replies, registration, and the workflow
steps ``{id}/assign|sign|give-back|send-opinion|submit-reply|countersign|review|rate|second-reply|
request-extension|decide-extension`` — the transition's own permission decides."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework import serializers

from govcenter.core import deadlines
from govcenter.core.filters import IntegerFilter
from govcenter.core.masking import mask
from govcenter.core.models import Unit

from ..kinds import Create, Kind, Step
from ..models import (
    BodyType,
    Classification,
    Proposal,
    ProposalProposer,
    ProposalReply,
    ProposalSatisfaction,
    ProposalState,
    ProposalTask,
    UnitRole,
)
from ..services import proposals as services
from .cases import CaseSerializer


class ProposalProposerSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = ProposalProposer
        fields = ["id", "name", "delegation", "satisfaction", "rated_round", "rated_at"]

    def get_name(self, obj) -> str:
        return mask(obj.name, "name")


class ProposalTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProposalTask
        fields = ["id", "unit", "role", "active", "assigned_at", "sign_due", "signed_at", "returned_at",
                  "return_reason", "opinion_due", "opinion", "opinion_at", "countersigned_at",
                  "countersign_agreed", "countersign_note"]  # fmt: skip


class ProposalReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProposalReply
        fields = ["id", "kind", "round", "text", "classification", "followup_due", "files", "submitted_at",
                  "decision", "decision_note"]  # fmt: skip


class ProposalSerializer(CaseSerializer):
    proposers = ProposalProposerSerializer(many=True, read_only=True)
    tasks = ProposalTaskSerializer(many=True, read_only=True)
    replies = ProposalReplySerializer(many=True, read_only=True)

    class Meta:
        model = Proposal
        fields = [
            *CaseSerializer.CASE_FIELDS, "body_type", "session", "assembly_number", "countersign_required",
            "rounds", "classification", "reply_text", "replied_at", "followup_due", "second_replied_at",
            "extension_status", "extension_months", "extension_reason", "proposers", "tasks", "replies",
        ]  # fmt: skip


class ProposalRegisterSerializer(serializers.Serializer):
    body_type = serializers.ChoiceField(choices=BodyType.choices)
    year = serializers.IntegerField(
        min_value=2000, max_value=2100, required=False, allow_null=True, default=None
    )
    session = serializers.CharField(max_length=40, help_text="届次，如：十六届四次会议")
    assembly_number = serializers.CharField(max_length=30)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=services.MAX_TEXT, required=False, allow_blank=True, default="")
    proposers = serializers.CharField(
        max_length=4000, help_text="one proposer a line: 姓名 or 姓名|代表团/界别/党派"
    )

    def validate_proposers(self, value: str) -> list[dict]:
        rows = []
        for line in value.splitlines():
            name, _sep, delegation = line.replace("｜", "|").partition("|")
            if name.strip():
                rows.append({"name": name.strip(), "delegation": delegation.strip()})
        return rows


class ProposalAssignSerializer(serializers.Serializer):
    lead = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.filter(is_active=True))
    co_units = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(is_active=True), many=True, required=False, default=list
    )
    countersign = serializers.BooleanField(required=False, default=False)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProposalSignSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProposalReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ProposalOpinionSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_TEXT)


class ProposalReplySubmitSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_TEXT)
    classification = serializers.ChoiceField(choices=Classification.choices)
    followup_due = serializers.DateField(required=False, allow_null=True, default=None)
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProposalCountersignSerializer(serializers.Serializer):
    agree = serializers.BooleanField()
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ProposalReviewSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ProposalRateSerializer(serializers.Serializer):
    proposer = serializers.IntegerField(help_text="id of one of the proposal's proposers")
    satisfaction = serializers.ChoiceField(choices=ProposalSatisfaction.choices)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProposalSecondReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_TEXT)
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class ProposalExtensionRequestSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    reason = serializers.CharField(max_length=2000)


class ProposalExtensionDecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ProposalFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ProposalState.choices)
    body_type = filters.ChoiceFilter(choices=BodyType.choices)
    classification = filters.ChoiceFilter(choices=Classification.choices)
    year = IntegerFilter(min_value=2000, max_value=2100)
    lead_unit = IntegerFilter(method="filter_lead_unit")

    class Meta:
        model = Proposal
        fields = ["state", "body_type", "classification", "year"]

    def filter_lead_unit(self, queryset, name, value):
        return queryset.filter(units__role=UnitRole.LEAD, units__unit_id=value).distinct()


def _started(proposal: Proposal):
    lead = next((u for u in proposal.units.all() if u.role == UnitRole.LEAD), None)
    return lead.assigned_at if lead else proposal.created_at


def _behind(proposal: Proposal) -> bool:
    """A milestone slipped: a unit has not signed for it, or a co-unit's opinion is late."""
    today = deadlines.today()
    for task in proposal.tasks.all():
        if task.active and (
            (task.signed_at is None and task.sign_due < today)
            or (task.opinion_due and task.opinion_at is None and task.opinion_due < today)
        ):
            return True
    return False


KIND = Kind(
    code="proposals",
    model=Proposal,
    label=_("建议提案"),
    serializer=ProposalSerializer,
    view_permission="congestion.view_proposal",
    filterset=ProposalFilter,
    create=Create(ProposalRegisterSerializer, services.proposal_register, "congestion.add_proposal"),
    steps=(
        Step("assign", _("交办"), ProposalAssignSerializer, services.proposal_assign),
        Step("sign", _("签收"), ProposalSignSerializer, services.proposal_sign),
        Step("give_back", _("退办"), ProposalReturnSerializer, services.proposal_return, style="danger"),
        Step("send_opinion", _("提交协办意见"), ProposalOpinionSerializer, services.proposal_opinion),
        Step(
            "submit_reply",
            _("提交答复函"),
            ProposalReplySubmitSerializer,
            services.proposal_submit_reply,
            upload=True,
        ),  # fmt: skip
        Step("countersign", _("会签"), ProposalCountersignSerializer, services.proposal_countersign),
        Step("review", _("审核答复"), ProposalReviewSerializer, services.proposal_review),
        Step("rate", _("登记满意度"), ProposalRateSerializer, services.proposal_rate),
        Step(
            "second_reply",
            _("再次答复"),
            ProposalSecondReplySerializer,
            services.proposal_second_reply,
            upload=True,
        ),  # fmt: skip
        Step(
            "request_extension",
            _("申请延期"),
            ProposalExtensionRequestSerializer,
            services.proposal_request_extension,
            style="secondary",
        ),  # fmt: skip
        Step(
            "decide_extension",
            _("审批延期"),
            ProposalExtensionDecideSerializer,
            services.proposal_decide_extension,
            style="secondary",
        ),  # fmt: skip
    ),
    open_states=(
        ProposalState.ASSIGNED,
        ProposalState.HANDLING,
        ProposalState.COUNTERSIGNING,
        ProposalState.REVIEWING,
        ProposalState.AWAITING_SECOND,
    ),  # fmt: skip
    columns=(
        "number",
        "title",
        "body_type",
        "session",
        "assembly_number",
        "state",
        "classification",
        "deadline",
        "created_at",
    ),  # fmt: skip
    started=_started,
    behind=_behind,
    case_arg="proposal",
)
