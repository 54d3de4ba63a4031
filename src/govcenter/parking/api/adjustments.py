"""API of temporary occupations (/occupations/) and change sets (/changesets/).

Reads through :class:`ScopedViewSet` (an out-of-scope id is 404). Occupations: create needs
``parking.add_temporaryoccupation``, cancel/end ``change``. Change sets: create, add and
remove items and submit need ``add``/``change`` of ``changeset``; review, apply and revert
need ``parking.review_changeset`` (and the service refuses a reviewer who is the author).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.org import ReasonSerializer, ScopedPrimaryKeyRelatedField
from govcenter.core.models import District

from ..models import ChangeSet, ChangeSetItem, Segment, Space, TemporaryOccupation
from ..services import changesets as changeset_services
from ..services import occupations as occupation_services

# ------------------------------------------------------------------------------------------
# Temporary occupations
# ------------------------------------------------------------------------------------------


class TemporaryOccupationSerializer(serializers.ModelSerializer):
    segment = ScopedPrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    spaces = ScopedPrimaryKeyRelatedField(queryset=Space.objects.all(), many=True, required=False)
    space_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default="")

    class Meta:
        model = TemporaryOccupation
        fields = [
            "id",
            "district",
            "segment",
            "spaces",
            "space_count",
            "reason",
            "reason_text",
            "starts_at",
            "ends_at",
            "status",
            "started_at",
            "ended_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["district", "status", "started_at", "ended_at", "created_at"]

    def create(self, validated_data):
        return occupation_services.occupation_create(actor=self.context["request"].user, **validated_data)


class TemporaryOccupationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Temporary occupations (临时占用) in the caller's scope."""

    queryset = TemporaryOccupation.objects.all()
    serializer_class = TemporaryOccupationSerializer
    read_permissions = ("parking.view_temporaryoccupation",)
    ordering = ["-starts_at"]

    @property
    def write_permissions(self):
        verb = "add" if self.action == "create" else "change"
        return (f"parking.{verb}_temporaryoccupation",)

    def scoped_queryset(self, queryset):
        from django.db.models import Count

        return (
            queryset.select_related("created_by")
            .prefetch_related("spaces")
            .annotate(space_count=Count("spaces", distinct=True))
            .order_by("-starts_at", "-pk")
        )

    def _respond(self, obj, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=obj.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(serializer.save(), status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=TemporaryOccupationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        occ = occupation_services.occupation_cancel(
            actor=request.user, occupation=self.get_object(), **body.validated_data
        )
        return self._respond(occ)

    @extend_schema(request=ReasonSerializer, responses=TemporaryOccupationSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End an active occupation now (early); spaces and devices are restored."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        occ = occupation_services.occupation_end(
            actor=request.user, occupation=self.get_object(), **body.validated_data
        )
        return self._respond(occ)


# ------------------------------------------------------------------------------------------
# Change sets
# ------------------------------------------------------------------------------------------


class ChangeSetItemSerializer(serializers.ModelSerializer):
    segment = ScopedPrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    space = ScopedPrimaryKeyRelatedField(queryset=Space.objects.all(), required=False, allow_null=True)
    lon = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True, help_text="GCJ-02 longitude"
    )
    lat = serializers.FloatField(
        min_value=-90, max_value=90, required=False, allow_null=True, help_text="GCJ-02 latitude"
    )

    class Meta:
        model = ChangeSetItem
        fields = [
            "id",
            "position",
            "op",
            "segment",
            "space",
            "base_version",
            "number",
            "lon",
            "lat",
            "space_type",
            "note",
        ]
        read_only_fields = ["position", "base_version"]


class ChangeSetSerializer(serializers.ModelSerializer):
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all())
    author = serializers.CharField(source="author.username", read_only=True, default="")
    reviewer = serializers.CharField(source="reviewer.username", read_only=True, default="")
    items = ChangeSetItemSerializer(many=True, read_only=True)
    diff = serializers.JSONField(read_only=True, help_text="Per item: the space before and after the apply")

    class Meta:
        model = ChangeSet
        fields = [
            "id",
            "district",
            "title",
            "description",
            "status",
            "author",
            "reviewer",
            "review_comment",
            "submitted_at",
            "reviewed_at",
            "applied_at",
            "reverted_at",
            "items",
            "diff",
            "created_at",
        ]
        read_only_fields = [
            "status",
            "review_comment",
            "submitted_at",
            "reviewed_at",
            "applied_at",
            "reverted_at",
            "created_at",
        ]

    def create(self, validated_data):
        return changeset_services.changeset_create(actor=self.context["request"].user, **validated_data)


class ReviewSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ItemRefSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text="id of the item to remove")


REVIEW_ACTIONS = frozenset({"review", "apply", "revert"})


class ChangeSetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet
):
    """Planned space adjustments (规划车位调整) in the caller's scope."""

    queryset = ChangeSet.objects.all()
    serializer_class = ChangeSetSerializer
    read_permissions = ("parking.view_changeset",)

    @property
    def write_permissions(self):
        if self.action in REVIEW_ACTIONS:
            return ("parking.review_changeset",)
        return ("parking.add_changeset" if self.action == "create" else "parking.change_changeset",)

    def scoped_queryset(self, queryset):
        return (
            queryset.select_related("author", "reviewer")
            .prefetch_related("items")
            .order_by("-created_at", "-pk")
        )

    def _respond(self, obj, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=obj.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(serializer.save(), status.HTTP_201_CREATED)

    @extend_schema(request=ChangeSetItemSerializer, responses={201: ChangeSetSerializer})
    @action(detail=True, methods=["post"], url_path="items")
    def add_item(self, request, pk=None):
        body = ChangeSetItemSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = {k: v for k, v in body.validated_data.items() if v is not None}
        change_set = self.get_object()
        changeset_services.changeset_item_add(actor=request.user, change_set=change_set, **data)
        return self._respond(change_set, status.HTTP_201_CREATED)

    @extend_schema(request=ItemRefSerializer, responses=ChangeSetSerializer)
    @action(detail=True, methods=["post"], url_path="remove-item")
    def remove_item(self, request, pk=None):
        body = ItemRefSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_set = self.get_object()
        item = change_set.items.filter(pk=body.validated_data["item"]).first()
        if item is None:
            raise serializers.ValidationError({"item": "No such item in this change set."})
        changeset_services.changeset_item_remove(actor=request.user, item=item)
        return self._respond(change_set)

    @extend_schema(request=None, responses=ChangeSetSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._respond(
            changeset_services.changeset_submit(actor=request.user, change_set=self.get_object())
        )

    @extend_schema(request=ReviewSerializer, responses=ChangeSetSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cs = changeset_services.changeset_review(
            actor=request.user, change_set=self.get_object(), **body.validated_data
        )
        return self._respond(cs)

    @extend_schema(request=None, responses=ChangeSetSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """Apply an approved set atomically; a stale item fails all, named in the error."""
        return self._respond(
            changeset_services.changeset_apply(actor=request.user, change_set=self.get_object())
        )

    @extend_schema(request=ReasonSerializer, responses=ChangeSetSerializer)
    @action(detail=True, methods=["post"])
    def revert(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cs = changeset_services.changeset_revert(
            actor=request.user, change_set=self.get_object(), **body.validated_data
        )
        return self._respond(cs)


def register(router) -> None:
    router.register("occupations", TemporaryOccupationViewSet, basename="occupation")
    router.register("changesets", ChangeSetViewSet, basename="changeset")
