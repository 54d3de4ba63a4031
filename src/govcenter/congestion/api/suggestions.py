"""API of 缓堵意见建议 under ``/api/v1/congestion/``.

* ``suggestions/`` — staff: the scoped list (filters ``state``, ``topic``, ``district``,
  ``overdue=1``; each row with its warning colour), one suggestion, ``POST`` staff entry, and the
  workflow steps ``{id}/assign|answer|rate|close|merge`` (the transition's own permission decides:
  403 ``transition_forbidden``, 409 ``illegal_transition`` / ``state_changed``), ``{id}/history``;
* ``public/suggestions`` — citizens, no login, rate-limited: submit from the public form; the
  answer is the number to quote.

Proposer names and phones are masked in every response.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core.masking import mask
from govcenter.core.models import District, Unit

from ..kinds import Create, Kind, Step
from ..models import Channel, Satisfaction, Suggestion, SuggestionState, Topic
from ..services import suggestions as services
from .cases import CaseSerializer, InScope


class SuggestionSerializer(CaseSerializer):
    proposer_name = serializers.SerializerMethodField()
    proposer_phone = serializers.SerializerMethodField()

    class Meta:
        model = Suggestion
        fields = [
            *CaseSerializer.CASE_FIELDS, "channel", "topic", "proposer_name", "proposer_phone", "reply",
            "replied_at", "satisfaction", "rounds", "merged_into",
        ]  # fmt: skip

    def get_proposer_name(self, obj) -> str:
        return mask(obj.proposer_name, "name")

    def get_proposer_phone(self, obj) -> str:
        return mask(obj.proposer_phone, "phone")


class SuggestionSubmitSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.STAFF)
    topic = serializers.ChoiceField(choices=Topic.choices)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=services.MAX_BODY, required=False, allow_blank=True, default="")
    location = serializers.JSONField(required=False, allow_null=True, default=None)
    district = serializers.SlugRelatedField(
        slug_field="code", queryset=District.objects.all(), required=False, allow_null=True, default=None
    )
    proposer_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    proposer_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class PublicSuggestionSubmitSerializer(SuggestionSubmitSerializer):
    channel = serializers.HiddenField(default=Channel.PUBLIC_FORM)
    district = serializers.HiddenField(default=None)
    proposer_phone = serializers.CharField(max_length=20)


class SuggestionAssignSerializer(serializers.Serializer):
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.filter(is_active=True))
    workdays = serializers.IntegerField(min_value=1, max_value=250, required=False)
    deadline = serializers.DateField(required=False)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if "workdays" in attrs and "deadline" in attrs:
            raise serializers.ValidationError({"deadline": ["give workdays or deadline, not both"]})
        return attrs


class SuggestionAnswerSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_BODY)


class SuggestionRateSerializer(serializers.Serializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SuggestionCloseSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=1000)


class SuggestionMergeSerializer(serializers.Serializer):
    into = InScope(queryset=Suggestion.objects.all(), help_text="the earlier suggestion this one duplicates")
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SuggestionFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=SuggestionState.choices)
    topic = filters.ChoiceFilter(choices=Topic.choices)
    district = filters.CharFilter(field_name="district__code")

    class Meta:
        model = Suggestion
        fields = ["state", "topic", "district"]


KIND = Kind(
    code="suggestions",
    model=Suggestion,
    label=_("意见建议"),
    serializer=SuggestionSerializer,
    view_permission="congestion.view_suggestion",
    filterset=SuggestionFilter,
    create=Create(SuggestionSubmitSerializer, services.suggestion_submit, "congestion.add_suggestion"),
    steps=(
        Step("assign", _("交办"), SuggestionAssignSerializer, services.suggestion_assign),
        Step("answer", _("答复"), SuggestionAnswerSerializer, services.suggestion_answer),
        Step("rate", _("登记满意度"), SuggestionRateSerializer, services.suggestion_rate),
        Step("close", _("办结"), SuggestionCloseSerializer, services.suggestion_close, style="secondary"),
        Step("merge", _("合并重复"), SuggestionMergeSerializer, services.suggestion_merge, style="secondary"),
    ),
    open_states=(SuggestionState.SUBMITTED, SuggestionState.ASSIGNED),
    columns=("number", "title", "topic", "state", "district", "deadline", "created_at"),
    case_arg="suggestion",
)


class PublicSuggestionThrottle(AnonRateThrottle):
    scope = "congestion_public_suggestion"

    def get_rate(self):
        return settings.GOVCENTER_CONGESTION_PUBLIC_RATE


class PublicSuggestionNumberSerializer(serializers.Serializer):
    number = serializers.CharField()


class PublicSuggestionView(APIView):
    """The public form (网上征集): no login, rate-limited per address; returns the number."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [PublicSuggestionThrottle]

    @extend_schema(
        request=PublicSuggestionSubmitSerializer, responses={201: PublicSuggestionNumberSerializer}
    )
    def post(self, request):
        body = PublicSuggestionSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suggestion = services.suggestion_submit(actor=None, **body.validated_data)
        return Response({"number": suggestion.number}, status=status.HTTP_201_CREATED)
