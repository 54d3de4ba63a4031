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
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from govcenter.core import deadlines, workflow
from govcenter.core.api.base import FunctionPermission, ScopedViewSet
from govcenter.core.masking import mask
from govcenter.core.models import District, Unit

from ..models import Channel, Satisfaction, Suggestion, SuggestionState, Topic
from ..services import suggestions as services


class SuggestionSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.code", read_only=True, default=None)
    proposer_name = serializers.SerializerMethodField()
    proposer_phone = serializers.SerializerMethodField()
    warning = serializers.SerializerMethodField(help_text="none / blue (near) / yellow / red (overdue)")
    units = serializers.SerializerMethodField()

    class Meta:
        model = Suggestion
        fields = [
            "id", "number", "state", "channel", "topic", "title", "body", "district", "location", "deadline",
            "warning", "proposer_name", "proposer_phone", "reply", "replied_at", "satisfaction", "rounds",
            "merged_into", "units", "created_at", "closed_at",
        ]  # fmt: skip

    def get_proposer_name(self, obj) -> str:
        return mask(obj.proposer_name, "name")

    def get_proposer_phone(self, obj) -> str:
        return mask(obj.proposer_phone, "phone")

    def get_warning(self, obj) -> str:
        open_ = obj.state in (SuggestionState.SUBMITTED, SuggestionState.ASSIGNED)
        return str(deadlines.warning(obj.deadline)) if open_ else "none"

    def get_units(self, obj) -> list[dict]:
        return [{"unit": u.unit_id, "role": u.role, "deadline": u.deadline} for u in obj.units.all()]


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
    into = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TransitionLogSerializer(serializers.Serializer):
    transition = serializers.CharField()
    source = serializers.CharField()
    state = serializers.CharField()
    actor_name = serializers.CharField()
    unit_name = serializers.CharField()
    comment = serializers.CharField()
    at = serializers.DateTimeField()


class SuggestionFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=SuggestionState.choices)
    topic = filters.ChoiceFilter(choices=Topic.choices)
    district = filters.CharFilter(field_name="district__code")
    overdue = filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Suggestion
        fields = ["state", "topic", "district"]

    def filter_overdue(self, queryset, name, value):
        open_states = [SuggestionState.SUBMITTED, SuggestionState.ASSIGNED]
        late = Q(state__in=open_states, deadline__lt=deadlines.today())
        return queryset.filter(late) if value else queryset.exclude(late)


STEPS = {"assign", "answer", "rate", "close", "merge", "history"}


class SuggestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet):
    queryset = Suggestion.objects.all()
    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilter
    read_permissions = ("congestion.view_suggestion",)
    write_permissions = ("congestion.add_suggestion",)

    def scoped_queryset(self, queryset):
        return queryset.select_related("district").prefetch_related("units").order_by("-created_at", "-id")

    def get_permissions(self):
        if self.action in STEPS:
            # Viewing the suggestion is enough to ask; the transition's own permission decides.
            return [permissions.IsAuthenticated(), _ViewPermission()]
        return super().get_permissions()

    def _done(self, suggestion) -> Response:
        return Response(SuggestionSerializer(suggestion).data)

    @extend_schema(request=SuggestionSubmitSerializer, responses={201: SuggestionSerializer})
    def create(self, request):
        body = SuggestionSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suggestion = services.suggestion_submit(actor=request.user, **body.validated_data)
        return Response(SuggestionSerializer(suggestion).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SuggestionAssignSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        body = SuggestionAssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(services.suggestion_assign(actor=request.user, suggestion=self.get_object(), **body.validated_data))

    @extend_schema(request=SuggestionAnswerSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        body = SuggestionAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(services.suggestion_answer(actor=request.user, suggestion=self.get_object(), **body.validated_data))

    @extend_schema(request=SuggestionRateSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        body = SuggestionRateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(services.suggestion_rate(actor=request.user, suggestion=self.get_object(), **body.validated_data))

    @extend_schema(request=SuggestionCloseSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        body = SuggestionCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(services.suggestion_close(actor=request.user, suggestion=self.get_object(), **body.validated_data))

    @extend_schema(request=SuggestionMergeSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        body = SuggestionMergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        into = get_object_or_404(self.get_queryset(), pk=body.validated_data["into"])  # in scope, or 404
        return self._done(services.suggestion_merge(
            actor=request.user, suggestion=self.get_object(), into=into, comment=body.validated_data["comment"]
        ))  # fmt: skip

    @extend_schema(responses=TransitionLogSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        return Response(TransitionLogSerializer(workflow.history(self.get_object()), many=True).data)


class _ViewPermission(FunctionPermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("congestion.view_suggestion"))


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

    @extend_schema(request=PublicSuggestionSubmitSerializer, responses={201: PublicSuggestionNumberSerializer})
    def post(self, request):
        body = PublicSuggestionSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suggestion = services.suggestion_submit(actor=None, **body.validated_data)
        return Response({"number": suggestion.number}, status=status.HTTP_201_CREATED)
