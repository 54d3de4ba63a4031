"""API of the organisation: /api/v1/units/, /users/, /roles/, /districts/.

Reads go through :class:`ScopedViewSet` (out-of-scope ids are 404); writes call the
services with the caller as actor. Personal data (name, phone) is masked in every
response; a holder of ``core.reveal_personal_data`` asks for clear values of one user with
``POST /users/{id}/reveal/`` and a reason (audited, :func:`masking.reveal_fields`).
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Count, Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import masking, services
from ..filters import DistrictFilterSet, RoleFilterSet, UnitFilterSet, UserFilterSet
from ..models import District, Role, Unit, User
from ..roles import dotted_names
from .base import ScopedViewSet

READ_ORG = ("core.manage_accounts",)
MANAGE = ("core.manage_accounts",)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key whose choices are the rows in the caller's scope (others: 'does not exist')."""

    def get_queryset(self):
        request = self.context.get("request")
        qs = super().get_queryset()
        if request is None:
            return qs.none()
        return qs.restrict(request.user)


class MaskedCharField(serializers.CharField):
    """Writable, but read back masked (``138****5678``, ``张*``) for every caller.

    (``masking.MaskedField`` is the read-only variant; account forms must accept input.
    Clear values come only from the audited ``reveal`` action.)
    """

    def __init__(self, *, kind: str, **kwargs):
        self.kind = kind
        super().__init__(**kwargs)

    def to_representation(self, value):
        value = super().to_representation(value)
        return masking.mask(value, self.kind) if value else value


class UnitSerializer(serializers.ModelSerializer):
    parent = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all(), allow_null=True, required=False)
    district = serializers.PrimaryKeyRelatedField(
        queryset=District.objects.all(), allow_null=True, required=False
    )
    depth = serializers.IntegerField(read_only=True)
    contact_phone = MaskedCharField(kind="phone", required=False, allow_blank=True, max_length=20)

    class Meta:
        model = Unit
        fields = [
            "id",
            "code",
            "name_zh",
            "name_en",
            "kind",
            "parent",
            "district",
            "depth",
            "contact_name",
            "contact_phone",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_active", "created_at", "updated_at"]

    def create(self, validated_data):
        return services.unit_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.unit_update(actor=self.context["request"].user, unit=instance, **validated_data)


class RoleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "code", "name_zh", "name_en"]


class UserSerializer(serializers.ModelSerializer):
    unit = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all())
    unit_name = serializers.CharField(source="unit.name_zh", read_only=True)
    full_name = MaskedCharField(kind="name", required=False, allow_blank=True, max_length=40)
    phone = MaskedCharField(kind="phone", required=False, allow_blank=True, max_length=20)
    roles = serializers.PrimaryKeyRelatedField(queryset=Role.objects.all(), many=True, required=False)
    role_details = RoleRefSerializer(source="roles", many=True, read_only=True)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "full_name",
            "phone",
            "email",
            "unit",
            "unit_name",
            "roles",
            "role_details",
            "is_active",
            "must_change_password",
            "disabled_reason",
            "last_login",
            "date_joined",
            "password",
        ]
        read_only_fields = [
            "is_active",
            "must_change_password",
            "disabled_reason",
            "last_login",
            "date_joined",
        ]

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": "An initial password is required."})
        if self.instance is not None and "password" in attrs:
            raise serializers.ValidationError({"password": "Passwords are not changed here."})
        if self.instance is not None and "username" in attrs and attrs["username"] != self.instance.username:
            raise serializers.ValidationError({"username": "A username cannot be changed."})
        return attrs

    def create(self, validated_data):
        return services.user_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        actor = self.context["request"].user
        roles = validated_data.pop("roles", None)
        validated_data.pop("username", None)
        user = services.user_update(actor=actor, user=instance, **validated_data)
        if roles is not None:
            user = services.user_assign_roles(actor=actor, user=user, roles=roles)
        return User.objects.select_related("unit").prefetch_related("roles").get(pk=user.pk)


class RoleSerializer(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField()
    user_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Role
        fields = [
            "id",
            "code",
            "name_zh",
            "name_en",
            "description",
            "scope_kind",
            "districts",
            "operator",
            "permissions",
            "is_builtin",
            "user_count",
        ]
        read_only_fields = fields

    def get_permissions(self, role) -> list[str]:
        return sorted(dotted_names(role.permissions.all()))


class DistrictSerializer(serializers.ModelSerializer):
    geometry = serializers.SerializerMethodField()

    class Meta:
        model = District
        fields = [
            "id",
            "code",
            "name_zh",
            "name_en",
            "kind",
            "datum",
            "min_lon",
            "min_lat",
            "max_lon",
            "max_lat",
            "geometry",
        ]
        read_only_fields = fields

    def get_geometry(self, district) -> dict | None:
        # GeoJSON (GCJ-02) only on request: boundaries are large.
        return district.geometry if self.context.get("with_geometry") else None


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


USER_REVEALABLE = ("full_name", "phone")


class RevealSerializer(serializers.Serializer):
    fields = serializers.ListField(
        child=serializers.ChoiceField(choices=USER_REVEALABLE),
        min_length=1,
        max_length=len(USER_REVEALABLE),
        help_text="Personal-data fields to show in clear.",
    )
    reason = serializers.CharField(max_length=200, help_text="Why the clear values are needed (audited).")


class UserRevealSerializer(serializers.Serializer):
    """Only the fields asked for are present."""

    full_name = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)


class RevealPermission(permissions.BasePermission):
    """Read access to users (any read permission of the viewset) plus the reveal permission."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        readable = any(user.has_perm(p) for p in getattr(view, "read_permissions", ()))
        return bool(user and user.is_authenticated and readable and masking.can_reveal(user))


class UnitViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Units of the organisation tree in the caller's scope."""

    queryset = Unit.objects.all()
    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet
    ordering_fields = ["path", "code", "name_zh"]
    ordering = ["path"]
    read_permissions = ("core.manage_accounts", "core.view_unit")
    write_permissions = MANAGE

    def scoped_queryset(self, queryset):
        return queryset.select_related("parent", "district")

    @extend_schema(request=ReasonSerializer, responses=UnitSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        unit = services.unit_deactivate(
            actor=request.user, unit=self.get_object(), reason=body.validated_data.get("reason", "")
        )
        return Response(UnitSerializer(unit, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=UnitSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        unit = services.unit_activate(actor=request.user, unit=self.get_object())
        return Response(UnitSerializer(unit, context=self.get_serializer_context()).data)


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    """Accounts of the units in the caller's scope; name and phone masked (``reveal`` for clear values)."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    ordering_fields = ["username", "date_joined", "last_login"]
    ordering = ["username"]
    read_permissions = ("core.manage_accounts", "core.view_user")
    write_permissions = MANAGE

    def scoped_queryset(self, queryset):
        return queryset.select_related("unit").prefetch_related(
            Prefetch("roles", queryset=Role.objects.only("id", "code", "name_zh", "name_en"))
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        user = self.scoped_queryset(User.objects.filter(pk=user.pk)).get()
        return Response(self.get_serializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_deactivate(
            actor=request.user, user=self.get_object(), reason=body.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        user = services.user_activate(actor=request.user, user=self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data)

    def get_permissions(self):
        # A reveal is a read of clear values, not an account write: it needs read access and
        # core.reveal_personal_data, not core.manage_accounts.
        if self.action == "reveal":
            return [permissions.IsAuthenticated(), RevealPermission()]
        return super().get_permissions()

    @extend_schema(
        request=RevealSerializer,
        responses={200: UserRevealSerializer},
        description="Clear values of the asked fields, once; audited with the reason (action reveal).",
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        user = self.get_object()  # through the scope: 404 outside it, whatever the body
        body = RevealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = masking.reveal_fields(
            user=request.user,
            obj=user,
            fields=body.validated_data["fields"],
            reason=body.validated_data["reason"],
        )
        response = Response(values)
        response["Cache-Control"] = "no-store, private"
        return response


class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Roles with their function permissions and data scope (read-only here)."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_class = RoleFilterSet
    ordering_fields = ["code", "name_zh"]
    ordering = ["code"]
    read_permissions = ("core.manage_accounts", "core.view_role")
    unscoped_reason = "roles are configuration shared by all units, not data of one unit"

    def scoped_queryset(self, queryset):
        return queryset.annotate(user_count=Count("users", distinct=True)).prefetch_related(
            "districts", Prefetch("permissions", queryset=Permission.objects.select_related("content_type"))
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("geometry", OpenApiTypes.BOOL, description="include GeoJSON boundary")]
    ),
    retrieve=extend_schema(
        parameters=[OpenApiParameter("geometry", OpenApiTypes.BOOL, description="include GeoJSON boundary")]
    ),
)
class DistrictViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Districts (GB/T 2260) in the caller's scope; ``?geometry=1`` adds the GCJ-02 boundary."""

    queryset = District.objects.all()
    serializer_class = DistrictSerializer
    filterset_class = DistrictFilterSet
    ordering_fields = ["sort_order", "code"]
    ordering = ["sort_order", "code"]

    def _with_geometry(self) -> bool:
        return self.request.query_params.get("geometry", "").lower() in {"1", "true", "yes"}

    def scoped_queryset(self, queryset):
        return queryset if self._with_geometry() else queryset.defer("geometry")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_geometry": self._with_geometry()}


def register(router) -> None:
    """Called once by core/api/router.py."""
    router.register("units", UnitViewSet, basename="unit")
    router.register("users", UserViewSet, basename="user")
    router.register("roles", RoleViewSet, basename="role")
    router.register("districts", DistrictViewSet, basename="district")
