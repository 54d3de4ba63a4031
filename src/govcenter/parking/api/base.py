"""API of the parking base data: /api/v1/parking/roads/, segments/, spaces/, devices/.

Reads go through :class:`ScopedViewSet` (out-of-scope ids are 404); writes call the
services with the caller as actor (``parking.add_<model>`` to create,
``parking.change_<model>`` for every other write). ``segments/geojson/`` and
``spaces/geojson/`` export the caller's scope as a GeoJSON FeatureCollection whose
top-level ``datum`` is ``GCJ-02``.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from govcenter.core.api.base import ScopedViewSet
from govcenter.core.api.org import ReasonSerializer, ScopedPrimaryKeyRelatedField
from govcenter.core.models import District, Unit

from ..filters import DeviceFilterSet, RoadFilterSet, SegmentFilterSet, SpaceFilterSet
from ..models import Device, Road, Segment, Space
from ..services import base as services
from ..services import devices as device_services

# ------------------------------------------------------------------------------------------
# Serializers (thin: create/update call the services)
# ------------------------------------------------------------------------------------------


class RoadSerializer(serializers.ModelSerializer):
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all())
    managing_unit = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all(), required=False)
    segment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Road
        fields = [
            "id",
            "district",
            "managing_unit",
            "code",
            "name",
            "status",
            "segment_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # uniqueness is the service's (inside its transaction)

    def validate(self, attrs):
        if self.instance is not None and "district" in attrs and attrs["district"] != self.instance.district:
            raise serializers.ValidationError({"district": "A road cannot move to another district."})
        if self.instance is None and attrs.get("status", Road.Status.ACTIVE) != Road.Status.ACTIVE:
            raise serializers.ValidationError({"status": "A new road is active."})
        return attrs

    def create(self, validated_data):
        validated_data.pop("status", None)
        return services.road_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("district", None)
        return services.road_update(actor=self.context["request"].user, road=instance, **validated_data)


class SegmentSerializer(serializers.ModelSerializer):
    road = ScopedPrimaryKeyRelatedField(queryset=Road.objects.all())
    managing_unit = ScopedPrimaryKeyRelatedField(queryset=Unit.objects.all(), required=False)
    geometry = serializers.JSONField(
        required=False, allow_null=True, help_text="GeoJSON LineString or Polygon, GCJ-02"
    )
    status = serializers.ChoiceField(
        choices=[Segment.Status.ACTIVE, Segment.Status.SUSPENDED], required=False
    )

    class Meta:
        model = Segment
        fields = [
            "id",
            "curb_zone_id",
            "road",
            "district",
            "managing_unit",
            "code",
            "name",
            "side",
            "area_class",
            "tariff_code",
            "geometry",
            "datum",
            "length_cm",
            "status",
            "capacity",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "curb_zone_id",
            "district",
            "datum",
            "capacity",
            "version",
            "created_at",
            "updated_at",
        ]
        validators = []

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["status"] = instance.status  # retired is shown, only not settable here
        return data

    def create(self, validated_data):
        return services.segment_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.segment_update(actor=self.context["request"].user, segment=instance, **validated_data)


class SpaceSerializer(serializers.ModelSerializer):
    segment = ScopedPrimaryKeyRelatedField(queryset=Segment.objects.all())
    segment_code = serializers.CharField(source="segment.code", read_only=True)
    area_class = serializers.IntegerField(source="segment.area_class", read_only=True)
    lon = serializers.FloatField(min_value=-180, max_value=180, help_text="GCJ-02 longitude")
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text="GCJ-02 latitude")
    status = serializers.ChoiceField(
        choices=[Space.Status.ACTIVE, Space.Status.TEMPORARILY_CLOSED], required=False
    )

    class Meta:
        model = Space
        fields = [
            "id",
            "curb_space_id",
            "segment",
            "segment_code",
            "district",
            "number",
            "lon",
            "lat",
            "datum",
            "space_type",
            "length_cm",
            "width_cm",
            "status",
            "area_class",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["curb_space_id", "district", "datum", "version", "created_at", "updated_at"]
        validators = []

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["status"] = instance.status
        return data

    def create(self, validated_data):
        validated_data.pop("status", None)
        return services.space_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.space_update(actor=self.context["request"].user, space=instance, **validated_data)


class DeviceSerializer(serializers.ModelSerializer):
    district = ScopedPrimaryKeyRelatedField(queryset=District.objects.all(), required=False)
    segment = ScopedPrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    space = ScopedPrimaryKeyRelatedField(queryset=Space.objects.all(), required=False, allow_null=True)
    vendor = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.filter(kind="vendor"), required=False, allow_null=True
    )
    data_source_type = serializers.CharField(read_only=True, help_text="CDS data_source_type")
    has_credential = serializers.BooleanField(read_only=True)
    status = serializers.ChoiceField(
        choices=[c for c in Device.Status.values if c != Device.Status.RETIRED], required=False
    )
    battery_pct = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "kind",
            "data_source_type",
            "serial",
            "vendor",
            "district",
            "managing_unit",
            "segment",
            "space",
            "status",
            "last_heartbeat_at",
            "battery_pct",
            "firmware",
            "has_credential",
            "token_prefix",
            "credential_issued_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "managing_unit",
            "last_heartbeat_at",
            "token_prefix",
            "credential_issued_at",
            "created_at",
            "updated_at",
        ]
        validators = []

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["status"] = instance.status
        return data

    def validate(self, attrs):
        if self.instance is not None:
            fixed = {"kind", "serial", "district", "segment", "space"} & set(attrs)
            if fixed:
                raise serializers.ValidationError(
                    {
                        name: "Not changed here (use the bind action for the binding)."
                        for name in sorted(fixed)
                    }
                )
        return attrs

    def create(self, validated_data):
        return device_services.device_register(actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return device_services.device_update(
            actor=self.context["request"].user, device=instance, **validated_data
        )


class DeviceBindSerializer(serializers.Serializer):
    segment = ScopedPrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    space = ScopedPrimaryKeyRelatedField(queryset=Space.objects.all(), required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CredentialSerializer(serializers.Serializer):
    device = serializers.IntegerField()
    token = serializers.CharField(help_text="Shown once; stored only as a digest.")
    token_prefix = serializers.CharField()


class GeoJSONSerializer(serializers.Serializer):
    type = serializers.CharField()
    datum = serializers.CharField()
    features = serializers.ListField(child=serializers.DictField())


# ------------------------------------------------------------------------------------------
# ViewSets
# ------------------------------------------------------------------------------------------


class _BaseDataViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedViewSet,
):
    perm_model = ""

    @property
    def read_permissions(self):
        return (f"parking.view_{self.perm_model}",)

    @property
    def write_permissions(self):
        verb = "add" if self.action == "create" else "change"
        return (f"parking.{verb}_{self.perm_model}",)

    def perform_create(self, serializer):
        serializer.instance = serializer.save()

    def _respond(self, obj, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._respond(serializer.save(), status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self._respond(serializer.save())


def _feature_collection(features: list) -> JsonResponse:
    return JsonResponse(
        {"type": "FeatureCollection", "datum": "GCJ-02", "features": features},
        content_type="application/geo+json",
        json_dumps_params={"ensure_ascii": False},
    )


class RoadViewSet(_BaseDataViewSet):
    """Roads (道路) in the caller's scope."""

    queryset = Road.objects.all()
    serializer_class = RoadSerializer
    filterset_class = RoadFilterSet
    ordering_fields = ["code", "name"]
    ordering = ["code"]
    perm_model = "road"

    def scoped_queryset(self, queryset):
        return queryset.select_related("district", "managing_unit").annotate(
            segment_count=Count("segments", filter=~Q(segments__status=Segment.Status.RETIRED))
        )


class SegmentViewSet(_BaseDataViewSet):
    """Segments (路段, CDS curb zones) in the caller's scope."""

    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilterSet
    ordering_fields = ["code", "name", "capacity"]
    ordering = ["code"]
    perm_model = "segment"

    def scoped_queryset(self, queryset):
        return queryset.select_related("road", "district", "managing_unit")

    @extend_schema(request=ReasonSerializer, responses=SegmentSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        segment = services.segment_retire(
            actor=request.user, segment=self.get_object(), **body.validated_data
        )
        return self._respond(segment)

    @extend_schema(responses={(200, "application/geo+json"): GeoJSONSerializer})
    @action(detail=False, methods=["get"])
    def geojson(self, request):
        """The caller's segments (with the list filters) as GeoJSON features, GCJ-02."""
        qs = self.filter_queryset(self.get_queryset()).exclude(geometry__isnull=True)
        features = [
            {
                "type": "Feature",
                "id": str(s.curb_zone_id),
                "geometry": s.geometry,
                "properties": {
                    "id": s.pk,
                    "curb_zone_id": str(s.curb_zone_id),
                    "code": s.code,
                    "name": s.name,
                    "street_name": s.road.name,
                    "district": s.district.code,
                    "area_class": s.area_class,
                    "street_side": Segment.CDS_STREET_SIDE.get(s.side),
                    "num_spaces": s.capacity,
                    "status": s.status,
                },
            }
            for s in qs
        ]
        return _feature_collection(features)


class SpaceViewSet(_BaseDataViewSet):
    """Spaces (泊位, CDS curb spaces) in the caller's scope."""

    queryset = Space.objects.all()
    serializer_class = SpaceSerializer
    filterset_class = SpaceFilterSet
    ordering_fields = ["number", "segment__code"]
    ordering = ["segment__code", "number"]
    perm_model = "space"

    def scoped_queryset(self, queryset):
        return queryset.select_related("segment", "district")

    @extend_schema(request=ReasonSerializer, responses=SpaceSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        space = services.space_retire(actor=request.user, space=self.get_object(), **body.validated_data)
        return self._respond(space)

    @extend_schema(responses={(200, "application/geo+json"): GeoJSONSerializer})
    @action(detail=False, methods=["get"])
    def geojson(self, request):
        """The caller's spaces (with the list filters) as GeoJSON points, GCJ-02."""
        rows = self.filter_queryset(self.get_queryset()).values_list(
            "pk",
            "curb_space_id",
            "number",
            "segment__code",
            "segment__curb_zone_id",
            "district__code",
            "lon",
            "lat",
            "space_type",
            "status",
        )
        features = [
            {
                "type": "Feature",
                "id": str(uid),
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": pk,
                    "curb_space_id": str(uid),
                    "curb_zone_id": str(zone),
                    "code": f"{segment_code}-{number}",
                    "space_number": number,
                    "district": district,
                    "space_type": space_type,
                    "status": status_,
                },
            }
            for pk, uid, number, segment_code, zone, district, lon, lat, space_type, status_ in rows
        ]
        return _feature_collection(features)


class DeviceViewSet(_BaseDataViewSet):
    """Devices (设备) in the caller's scope; the credential is issued once by ``credential``."""

    queryset = Device.objects.all()
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    ordering_fields = ["serial", "last_heartbeat_at"]
    ordering = ["serial"]
    perm_model = "device"

    def scoped_queryset(self, queryset):
        return queryset.select_related("district", "vendor", "segment", "space").defer("secret_enc")

    @extend_schema(request=DeviceBindSerializer, responses=DeviceSerializer)
    @action(detail=True, methods=["post"])
    def bind(self, request, pk=None):
        body = DeviceBindSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        device = device_services.device_bind(
            actor=request.user, device=self.get_object(), **body.validated_data
        )
        return self._respond(device)

    @extend_schema(request=ReasonSerializer, responses=DeviceSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        device = device_services.device_retire(
            actor=request.user, device=self.get_object(), **body.validated_data
        )
        return self._respond(device)

    @extend_schema(request=None, responses={201: CredentialSerializer})
    @action(detail=True, methods=["post"])
    def credential(self, request, pk=None):
        """Issue (rotate) the device token; the response is the only time it is shown."""
        device = self.get_object()
        raw = device_services.device_credential_issue(actor=request.user, device=device)
        response = Response(
            {"device": device.pk, "token": raw, "token_prefix": raw[:10]}, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response


def register(router) -> None:
    router.register("roads", RoadViewSet, basename="road")
    router.register("segments", SegmentViewSet, basename="segment")
    router.register("spaces", SpaceViewSet, basename="space")
    router.register("devices", DeviceViewSet, basename="device")
