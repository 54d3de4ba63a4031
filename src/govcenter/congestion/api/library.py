"""API of 政策研究信息 (``policy/``), 科研项目信息 (``research/``) and 宣传 (``publicity/``) under
``/api/v1/congestion/`` — each a kind of case (its viewset built from ``KIND``), and
``public/publicity`` — citizens, no login: the published news and notices (list and one item).

Filters: ``policy/?tag=…&category=…&q=<full text>``; ``research/?state=…``; ``publicity/?kind=…``.
The investigator's name and phone are masked in every response.
"""

from __future__ import annotations

import re

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework import generics, permissions, serializers

from govcenter.core import search
from govcenter.core.filters import IntegerFilter
from govcenter.core.masking import mask
from govcenter.core.models import Unit

from ..kinds import Create, Kind, Step
from ..models import (
    AcceptanceConclusion,
    DeliverableType,
    ExpenseCategory,
    MidtermConclusion,
    PolicyCategory,
    PolicyDocument,
    PolicyState,
    ProjectState,
    PublicityItem,
    PublicityState,
    PublicityType,
    ResearchProject,
)
from ..services import library as services
from .cases import CaseSerializer

FILES_HELP = "pdf, docx, xlsx, png, jpeg, txt"


def _files():
    return serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text=FILES_HELP
    )


def _unit():
    return serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(is_active=True), required=False, allow_null=True, default=None,
        help_text="责任单位 (default: the caller's unit)",
    )  # fmt: skip


class PolicyTagsField(serializers.CharField):
    """Tags as a list (JSON) or one text separated by commas (a page's text box)."""

    SEPARATORS = re.compile(r"[,，、;；\s]+")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("help_text", "tags: a list, or one text separated by commas")
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist") and len(dictionary.getlist(self.field_name)) > 1:
            return dictionary.getlist(self.field_name)  # a multipart form with one value per tag
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, list | tuple):
            items = [str(super(PolicyTagsField, self).to_internal_value(item)) for item in data]
        else:
            items = self.SEPARATORS.split(str(super().to_internal_value(data)))
        return [item.strip() for item in items if item and item.strip()]

    def to_representation(self, value):
        return value


class _AttachmentsMixin(serializers.Serializer):
    attachments = serializers.SerializerMethodField()

    def get_attachments(self, obj) -> list[dict]:
        from govcenter.core.attachments import attachments_of

        return [{"id": a.pk, "name": a.name, "kind": a.kind, "size": a.size, "sm3": a.sm3}
                for a in attachments_of(obj).order_by("id")]  # fmt: skip


# -- 政策研究信息 ----------------------------------------------------------------------------------


class PolicyVersionReadSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    note = serializers.CharField()
    body = serializers.CharField()
    attachment = serializers.IntegerField(source="attachment_id", allow_null=True)
    attachment_name = serializers.CharField(source="attachment.name", default="")
    created_at = serializers.DateTimeField()


class PolicyDocumentSerializer(CaseSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    versions = PolicyVersionReadSerializer(many=True, read_only=True)

    class Meta:
        model = PolicyDocument
        fields = [*CaseSerializer.CASE_FIELDS, "doc_number", "issuer", "issued_on", "category", "tags", "abstract",
                  "version", "versions", "published_at", "withdraw_reason"]  # fmt: skip


class PolicyCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    doc_number = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    issuer = serializers.CharField(max_length=100)
    issued_on = serializers.DateField()
    category = serializers.ChoiceField(choices=PolicyCategory.choices)
    tags = PolicyTagsField(default=list)
    abstract = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    unit = _unit()
    files = _files()


class PolicyVersionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500)
    body = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    tags = PolicyTagsField(default=None, allow_null=True, help_text="the new tags (empty: unchanged)")
    files = _files()

    def validate_tags(self, value):
        return value or None


class PolicyCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class PolicyReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PolicyFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=PolicyState.choices)
    category = filters.ChoiceFilter(choices=PolicyCategory.choices)
    tag = filters.CharFilter(field_name="tags__name")
    year = IntegerFilter(field_name="issued_on", lookup_expr="year", min_value=1949, max_value=2100)
    q = filters.CharFilter(method="full_text", label="full text")

    class Meta:
        model = PolicyDocument
        fields = ["state", "category", "tag", "year"]

    def full_text(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        _total, hits = search.query(user, value, kinds=["congestion.policydocument"], limit=1000)
        return queryset.filter(pk__in=[h.object_id for h in hits])


POLICY = Kind(
    code="policy",
    model=PolicyDocument,
    label=_("政策研究信息"),
    serializer=PolicyDocumentSerializer,
    view_permission="congestion.view_policydocument",
    filterset=PolicyFilter,
    create=Create(PolicyCreateSerializer, services.policy_create, "congestion.add_policydocument"),
    steps=(
        Step(
            "add_version", _("上传新版本"), PolicyVersionSerializer, services.policy_add_version, upload=True
        ),
        Step("publish", _("发布"), PolicyCommentSerializer, services.policy_publish),
        Step("archive", _("归档"), PolicyCommentSerializer, services.policy_archive, style="secondary"),
        Step("withdraw", _("撤回"), PolicyReasonSerializer, services.policy_withdraw, style="danger"),
    ),
    open_states=(),
    columns=("number", "title", "doc_number", "issuer", "issued_on", "category", "state"),
    ordering=("-issued_on", "-id"),
    case_arg="document",
)


# -- 科研项目信息 ----------------------------------------------------------------------------------


class ResearchExpenseReadSerializer(serializers.Serializer):
    category = serializers.CharField()
    amount_fen = serializers.IntegerField()
    spent_on = serializers.DateField()
    note = serializers.CharField()


class ResearchDeliverableReadSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    day = serializers.DateField()
    attachment = serializers.IntegerField(source="attachment_id", allow_null=True)


class ResearchProjectSerializer(_AttachmentsMixin, CaseSerializer):
    investigator_name = serializers.SerializerMethodField()
    investigator_phone = serializers.SerializerMethodField()
    remaining_fen = serializers.SerializerMethodField()
    expenses = ResearchExpenseReadSerializer(many=True, read_only=True)
    deliverables = ResearchDeliverableReadSerializer(many=True, read_only=True)

    class Meta:
        model = ResearchProject
        fields = [*CaseSerializer.CASE_FIELDS, "organisation", "investigator_name", "investigator_phone",
                  "budget_fen", "spent_fen", "remaining_fen", "contract_number", "contract_date",
                  "contract_amount_fen", "midterm_date", "midterm_conclusion", "midterm_opinion", "acceptance_date",
                  "acceptance_conclusion", "acceptance_experts", "expenses", "deliverables", "attachments"]  # fmt: skip

    def get_investigator_name(self, obj) -> str:
        return mask(obj.investigator_name, "name")

    def get_investigator_phone(self, obj) -> str:
        return mask(obj.investigator_phone, "phone")

    def get_remaining_fen(self, obj) -> int:
        return obj.budget_fen - obj.spent_fen


class ResearchCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    organisation = serializers.CharField(max_length=100)
    investigator_name = serializers.CharField(max_length=50)
    investigator_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    budget_fen = serializers.IntegerField(min_value=1)
    body = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    deadline = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="planned completion"
    )
    unit = _unit()


class ResearchContractSerializer(serializers.Serializer):
    contract_number = serializers.CharField(max_length=60)
    contract_date = serializers.DateField()
    amount_fen = serializers.IntegerField(min_value=1)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    files = _files()


class ResearchMidtermSerializer(serializers.Serializer):
    day = serializers.DateField()
    conclusion = serializers.ChoiceField(choices=MidtermConclusion.choices)
    opinion = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ResearchAcceptSerializer(serializers.Serializer):
    day = serializers.DateField()
    conclusion = serializers.ChoiceField(choices=AcceptanceConclusion.choices)
    experts = serializers.CharField(max_length=500)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ResearchCloseSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ResearchExpenseSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=ExpenseCategory.choices)
    amount_fen = serializers.IntegerField(help_text="positive, in fen")
    spent_on = serializers.DateField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ResearchBudgetSerializer(serializers.Serializer):
    budget_fen = serializers.IntegerField(help_text="the new total budget, fen")
    reason = serializers.CharField(max_length=500)


class ResearchDeliverableSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeliverableType.choices)
    title = serializers.CharField(max_length=200)
    day = serializers.DateField()
    files = _files()


class ResearchFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ProjectState.choices)
    year = IntegerFilter(field_name="year", min_value=2000, max_value=2100)

    class Meta:
        model = ResearchProject
        fields = ["state", "year"]


RESEARCH_OPEN = (
    ProjectState.INITIATED,
    ProjectState.CONTRACTED,
    ProjectState.RECTIFYING,
    ProjectState.REVIEWED,
)

RESEARCH = Kind(
    code="research",
    model=ResearchProject,
    label=_("科研项目"),
    serializer=ResearchProjectSerializer,
    view_permission="congestion.view_researchproject",
    filterset=ResearchFilter,
    create=Create(ResearchCreateSerializer, services.project_create, "congestion.add_researchproject"),
    steps=(
        Step(
            "sign_contract",
            _("合同签订"),
            ResearchContractSerializer,
            services.project_sign_contract,
            upload=True,
        ),
        Step("midterm", _("中期检查"), ResearchMidtermSerializer, services.project_midterm),
        Step("accept", _("验收"), ResearchAcceptSerializer, services.project_accept),
        Step("close", _("结题"), ResearchCloseSerializer, services.project_close, style="secondary"),
        Step(
            "add_expense",
            _("登记支出"),
            ResearchExpenseSerializer,
            services.project_add_expense,
            style="secondary",
        ),
        Step(
            "add_deliverable",
            _("登记成果"),
            ResearchDeliverableSerializer,
            services.project_add_deliverable,
            style="secondary",
            upload=True,
        ),  # fmt: skip
        Step(
            "adjust_budget",
            _("批准预算调整"),
            ResearchBudgetSerializer,
            services.project_adjust_budget,
            style="secondary",
        ),  # fmt: skip
    ),
    open_states=RESEARCH_OPEN,
    columns=("number", "title", "organisation", "state", "budget_fen", "spent_fen", "deadline"),
    progress=lambda p: {"initiated": 0, "contracted": 30, "rectifying": 50, "reviewed": 85}.get(p.state, 100),
    case_arg="project",
)


# -- 宣传 ------------------------------------------------------------------------------------------


class PublicityItemSerializer(_AttachmentsMixin, CaseSerializer):
    class Meta:
        model = PublicityItem
        fields = [*CaseSerializer.CASE_FIELDS, "kind", "published_at", "return_reason", "withdraw_reason",
                  "attachments"]  # fmt: skip


class PublicityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PublicityType.choices)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=services.MAX_BODY)
    unit = _unit()
    files = _files()


class PublicityFilesSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), help_text=FILES_HELP)


class PublicityCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class PublicityReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PublicityFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=PublicityState.choices)
    kind = filters.ChoiceFilter(choices=PublicityType.choices)

    class Meta:
        model = PublicityItem
        fields = ["state", "kind"]


PUBLICITY = Kind(
    code="publicity",
    model=PublicityItem,
    label=_("宣传"),
    serializer=PublicityItemSerializer,
    view_permission="congestion.view_publicityitem",
    filterset=PublicityFilter,
    create=Create(PublicityCreateSerializer, services.publicity_create, "congestion.add_publicityitem"),
    steps=(
        Step(
            "add_files",
            _("上传附件"),
            PublicityFilesSerializer,
            services.publicity_add_files,
            style="secondary",
            upload=True,
        ),  # fmt: skip
        Step("submit", _("提交审核"), PublicityCommentSerializer, services.publicity_submit),
        Step("approve", _("审核通过并发布"), PublicityCommentSerializer, services.publicity_approve),
        Step(
            "send_back",
            _("退回修改"),
            PublicityReasonSerializer,
            services.publicity_send_back,
            style="secondary",
        ),
        Step("withdraw", _("撤回"), PublicityReasonSerializer, services.publicity_withdraw, style="danger"),
    ),
    open_states=(),
    columns=("number", "title", "kind", "state", "published_at", "created_at"),
    case_arg="item",
)

KINDS = (POLICY, RESEARCH, PUBLICITY)


# -- public (no login) -----------------------------------------------------------------------------


class PublicPublicitySerializer(serializers.ModelSerializer):
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = PublicityItem
        fields = ["id", "number", "kind", "title", "body", "published_at", "attachments"]

    def get_attachments(self, obj) -> list[dict]:
        return [{"id": a.pk, "name": a.name, "size": a.size} for a in services.public_attachments(obj)]


class PublicPublicityList(generics.ListAPIView):
    """Published news and notices (新闻 / 通知公告): no login, read-only. ``?kind=news|notice``."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    serializer_class = PublicPublicitySerializer

    def get_queryset(self):
        queryset = services.published_items()
        kind = self.request.query_params.get("kind")
        return queryset.filter(kind=kind) if kind in PublicityType.values else queryset


class PublicPublicityDetail(generics.RetrieveAPIView):
    """One published item (404 for anything not published)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    serializer_class = PublicPublicitySerializer

    def get_object(self):
        return get_object_or_404(services.published_items(), pk=self.kwargs["pk"])
