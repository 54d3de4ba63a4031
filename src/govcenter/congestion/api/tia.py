"""API of 交通影响评价 under ``/api/v1/congestion/tia/``: the scoped list (filters ``state``,
``use``, ``ring_area``, ``needs_tia``, ``district``, ``overdue``), one application with its
threshold flag, materials checklist, revision rounds and stage timeline, ``POST`` to register
one, and the workflow steps ``{id}/add-materials|request-supplement|resubmit|accept|review|
hold-meeting|issue-opinion|revise|submit-revision|reject|deliver``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework import serializers

from govcenter.core.models import Unit

from ..kinds import Create, Kind, Step
from ..models import DeliveryMethod, RingArea, TiaApplication, TiaState, TiaUse
from ..services import tia as services
from .cases import CaseSerializer


class TiaApplicationSerializer(CaseSerializer):
    threshold_flag = serializers.SerializerMethodField()
    materials = serializers.SerializerMethodField()
    revisions = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = TiaApplication
        fields = [
            *CaseSerializer.CASE_FIELDS, "builder", "floor_area", "use", "ring_area", "ring_area_chosen",
            "needs_tia", "threshold_m2", "threshold_flag", "stage_started_at", "supplement_notices",
            "missing_materials", "materials", "review_notes", "meeting_date", "experts", "minutes",
            "revision_rounds", "revisions", "decision", "opinion", "decided_at", "delivered_on",
            "delivery_method", "timeline",
        ]  # fmt: skip

    DETAIL_ONLY = ("materials", "revisions", "timeline")  # a query or more each: not in list rows

    def get_fields(self):
        fields = super().get_fields()
        if getattr(self.context.get("view"), "action", None) == "list":
            for name in self.DETAIL_ONLY:
                fields.pop(name)
        return fields

    def get_threshold_flag(self, obj) -> dict:
        return services.threshold_flag(obj)

    def get_materials(self, obj) -> list[dict]:
        """The checklist: every required material with the files received for it."""
        files: dict[str, list] = {}
        for m in obj.materials.select_related("attachment"):
            files.setdefault(m.key, []).append({"attachment": m.attachment_id, "name": m.attachment.name,
                                                "received_at": m.received_at})  # fmt: skip
        return [
            {"key": key, "label": label, "received": key in files, "files": files.get(key, [])}
            for key, label in services.materials_required().items()
        ]

    def get_revisions(self, obj) -> list[dict]:
        return list(obj.revisions.values("round", "comments", "opened_at", "resubmitted_at"))

    def get_timeline(self, obj) -> list[dict]:
        return services.tia_timeline(obj)


class TiaSubmitSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, help_text="project name")
    builder = serializers.CharField(max_length=200)
    location = serializers.JSONField(help_text="GeoJSON Point, GCJ-02")
    floor_area = serializers.DecimalField(max_digits=11, decimal_places=2, help_text="above-ground m²")
    use = serializers.ChoiceField(choices=TiaUse.choices)
    ring_area = serializers.ChoiceField(
        choices=RingArea.choices, required=False, allow_blank=True, default="",
        help_text="leave empty to compute it from the point",
    )  # fmt: skip
    body = serializers.CharField(max_length=services.MAX_TEXT, required=False, allow_blank=True, default="")


def _material_choices():
    return list(services.materials_required().items())


class TiaMaterialsSerializer(serializers.Serializer):
    material = serializers.ChoiceField(choices=[])
    files = serializers.ListField(child=serializers.FileField(), required=False)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["material"].choices = _material_choices()  # the checklist setting, read per request


class TiaCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TiaAcceptSerializer(serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(is_active=True), help_text="review unit"
    )
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TiaReviewSerializer(serializers.Serializer):
    notes = serializers.CharField(max_length=services.MAX_TEXT, help_text="形式审查与内容审查意见")


class TiaMeetingSerializer(serializers.Serializer):
    date = serializers.DateField()
    experts = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=services.MAX_EXPERTS, label=_("评审专家")
    )
    files = serializers.ListField(child=serializers.FileField(), required=False, help_text="minutes")
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TiaOpinionSerializer(serializers.Serializer):
    conditions = serializers.CharField(max_length=services.MAX_TEXT)


class TiaReviseSerializer(serializers.Serializer):
    comments = serializers.CharField(max_length=services.MAX_TEXT, help_text="expert comments to answer")


class TiaRevisionSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), required=False)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TiaRejectSerializer(serializers.Serializer):
    reasons = serializers.CharField(max_length=services.MAX_TEXT)


class TiaDeliverSerializer(serializers.Serializer):
    delivered_on = serializers.DateField()
    delivery_method = serializers.ChoiceField(choices=DeliveryMethod.choices)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TiaFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=TiaState.choices)
    use = filters.ChoiceFilter(choices=TiaUse.choices)
    ring_area = filters.ChoiceFilter(choices=RingArea.choices)
    needs_tia = filters.BooleanFilter()
    district = filters.CharFilter(field_name="district__code")

    class Meta:
        model = TiaApplication
        fields = ["state", "use", "ring_area", "needs_tia", "district"]


KIND = Kind(
    code="tia",
    model=TiaApplication,
    label=_("交通影响评价"),
    serializer=TiaApplicationSerializer,
    view_permission="congestion.view_tiaapplication",
    filterset=TiaFilter,
    create=Create(TiaSubmitSerializer, services.tia_submit, "congestion.add_tiaapplication"),
    steps=(
        Step("add_materials", _("收取材料"), TiaMaterialsSerializer, services.tia_add_materials, upload=True),
        Step(
            "request_supplement",
            _("发补正通知"),
            TiaCommentSerializer,
            services.tia_request_supplement,
            style="secondary",
        ),
        Step("resubmit", _("补正完毕"), TiaCommentSerializer, services.tia_resubmit),
        Step("accept", _("受理"), TiaAcceptSerializer, services.tia_accept),
        Step("review", _("形式与内容审查"), TiaReviewSerializer, services.tia_review),
        Step("hold_meeting", _("专家评审会"), TiaMeetingSerializer, services.tia_hold_meeting, upload=True),
        Step("issue_opinion", _("出具评审意见"), TiaOpinionSerializer, services.tia_issue_opinion),
        Step("revise", _("退回修改"), TiaReviseSerializer, services.tia_revise, style="secondary"),
        Step(
            "submit_revision",
            _("提交修改稿"),
            TiaRevisionSerializer,
            services.tia_submit_revision,
            upload=True,
        ),
        Step("reject", _("不予通过"), TiaRejectSerializer, services.tia_reject, style="danger"),
        Step("deliver", _("送达"), TiaDeliverSerializer, services.tia_deliver),
    ),  # fmt: skip
    open_states=tuple(s for s in TiaState.values if s != TiaState.CLOSED),
    columns=(
        "number",
        "title",
        "builder",
        "use",
        "floor_area",
        "ring_area",
        "needs_tia",
        "state",
        "district",
        "deadline",
    ),  # fmt: skip
    started=lambda case: case.stage_started_at or case.created_at,
    behind=lambda case: case.revision_rounds >= services.BEHIND_AFTER_ROUNDS,
    case_arg="application",
)
