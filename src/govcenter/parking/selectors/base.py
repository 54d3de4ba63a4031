"""Reads of the parking base data, always through the caller's data scope.

Every list starts from ``.restrict(user)``; details are looked up inside that restricted
queryset, so an out-of-scope id is "does not exist" (404 in views), never a 403.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from govcenter.core.models import District

from ..models import Device, DeviceOfflinePeriod, Road, Segment, SegmentVersion, Space, SpaceVersion
from ..models.base import RoadVersion
from ..models.devices import DeviceBinding
from ..services.devices import token_digest


def road_list(*, user) -> QuerySet[Road]:
    """Roads in the caller's scope, with their non-retired segment count."""
    return (
        Road.objects.restrict(user)
        .select_related("district", "managing_unit")
        .annotate(segment_count=Count("segments", filter=~Q(segments__status=Segment.Status.RETIRED)))
    )


def segment_list(*, user) -> QuerySet[Segment]:
    """Segments (CDS curb zones) in the caller's scope."""
    return Segment.objects.restrict(user).select_related("road", "district", "managing_unit")


def space_list(*, user) -> QuerySet[Space]:
    """Spaces (CDS curb spaces) in the caller's scope."""
    return Space.objects.restrict(user).select_related("segment", "district")


def device_list(*, user) -> QuerySet[Device]:
    """Devices in the caller's scope (the credential columns are never selected for display)."""
    return (
        Device.objects.restrict(user)
        .select_related("district", "vendor", "segment", "space", "space__segment")
        .defer("secret_enc")
    )


def road_detail(*, user, pk: int) -> Road:
    return road_list(user=user).get(pk=pk)


def segment_detail(*, user, pk: int) -> Segment:
    return segment_list(user=user).get(pk=pk)


def space_detail(*, user, pk: int) -> Space:
    return space_list(user=user).get(pk=pk)


def device_detail(*, user, pk: int) -> Device:
    return device_list(user=user).get(pk=pk)


def segment_versions(*, user, segment: Segment) -> QuerySet[SegmentVersion]:
    return SegmentVersion.objects.restrict(user).filter(segment=segment).order_by("-version")


def space_versions(*, user, space: Space) -> QuerySet[SpaceVersion]:
    return SpaceVersion.objects.restrict(user).filter(space=space).order_by("-version")


def road_versions(*, user, road: Road) -> QuerySet[RoadVersion]:
    return RoadVersion.objects.restrict(user).filter(road=road).order_by("-version")


def device_bindings(
    *, user, device: Device | None = None, segment: Segment | None = None, space: Space | None = None
) -> QuerySet[DeviceBinding]:
    """Binding periods in the caller's scope, newest first: of one device, or of every device
    that was ever bound to a segment (sensors on its spaces included) or to a space."""
    qs = DeviceBinding.objects.restrict(user).select_related("device", "segment", "space")
    if device is not None:
        qs = qs.filter(device=device)
    if segment is not None:
        qs = qs.filter(segment=segment)
    if space is not None:
        qs = qs.filter(space=space)
    return qs.order_by("-valid_from", "-pk")


def _valid_at(qs: QuerySet, at: datetime) -> QuerySet:
    return qs.filter(valid_from__lte=at).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def device_offline_periods(*, user, device: Device) -> QuerySet[DeviceOfflinePeriod]:
    return DeviceOfflinePeriod.objects.restrict(user).filter(device=device).order_by("-started_at")


def space_version_at(space: Space | int, at: datetime) -> SpaceVersion | None:
    """The version of ``space`` valid at ``at`` (valid_from ≤ at < valid_to), or None before it existed.

    Not scoped: for callers that already hold the space.
    """
    space_id = space if isinstance(space, int) else space.pk
    return _valid_at(SpaceVersion.objects.filter(space_id=space_id), at).order_by("-version").first()


def segment_version_at(segment: Segment | int, at: datetime) -> SegmentVersion | None:
    """The version of ``segment`` valid at ``at``, or None."""
    segment_id = segment if isinstance(segment, int) else segment.pk
    return _valid_at(SegmentVersion.objects.filter(segment_id=segment_id), at).order_by("-version").first()


def road_version_at(road: Road | int, at: datetime) -> RoadVersion | None:
    """The version of ``road`` valid at ``at``, or None before it existed."""
    road_id = road if isinstance(road, int) else road.pk
    return _valid_at(RoadVersion.objects.filter(road_id=road_id), at).order_by("-version").first()


def device_binding_at(device: Device | int, at: datetime) -> DeviceBinding | None:
    """The binding period of ``device`` at ``at`` (valid_from ≤ at < valid_to), or None when
    it was unbound, retired or not yet registered then."""
    device_id = device if isinstance(device, int) else device.pk
    return _valid_at(DeviceBinding.objects.filter(device_id=device_id), at).order_by("-version").first()


def devices_bound_at(
    at: datetime, *, segment: Segment | int | None = None, space: Space | int | None = None
) -> QuerySet[DeviceBinding]:
    """The binding periods valid at ``at`` on a segment (its cameras and its spaces' sensors)
    or on one space; ``.device`` is what watched it then. Not scoped (callers hold the target)."""
    qs = DeviceBinding.objects.select_related("device")
    if segment is not None:
        qs = qs.filter(segment_id=segment if isinstance(segment, int) else segment.pk)
    if space is not None:
        qs = qs.filter(space_id=space if isinstance(space, int) else space.pk)
    return _valid_at(qs, at).order_by("device_id")


def device_for_token(raw: str) -> Device | None:
    """The non-retired device whose credential is ``raw`` (compared by SM3 digest), or None."""
    if not raw:
        return None
    return (
        Device.objects.filter(token_digest=token_digest(raw))
        .exclude(status=Device.Status.RETIRED)
        .select_related("district", "space", "segment")
        .first()
    )


def counts_by_district(*, user) -> list[dict]:
    """Per district in the caller's scope: roads, segments, spaces and devices (non-retired).

    One grouped query per model; districts with nothing are listed with zeros.
    """
    districts = list(
        District.objects.restrict(user).order_by("sort_order", "code").values("pk", "code", "name_zh")
    )
    rows = {
        d["pk"]: {**d, "roads": 0, "segments": 0, "spaces": 0, "devices": 0, "devices_online": 0}
        for d in districts
    }
    queries = {
        "roads": Road.objects.restrict(user).exclude(status=Road.Status.RETIRED),
        "segments": Segment.objects.restrict(user).exclude(status=Segment.Status.RETIRED),
        "spaces": Space.objects.restrict(user).exclude(status=Space.Status.RETIRED),
        "devices": Device.objects.restrict(user).exclude(status=Device.Status.RETIRED),
        "devices_online": Device.objects.restrict(user).filter(status=Device.Status.ONLINE),
    }
    for key, qs in queries.items():
        for row in qs.order_by().values("district").annotate(n=Count("pk")):
            if row["district"] in rows:
                rows[row["district"]][key] = row["n"]
    return list(rows.values())


def map_points(*, user, district: District | None = None, limit: int = 100_000) -> dict:
    """Segments and spaces of the caller's scope as GeoJSON points (GCJ-02) for the district map.

    Spaces are their positions; segments the representative point of their geometry
    (segments without geometry are left out). ``limit`` bounds the spaces sent.
    """
    from ..services.base import geometry_point

    segments = Segment.objects.restrict(user).exclude(status=Segment.Status.RETIRED)
    spaces = Space.objects.restrict(user).exclude(status=Space.Status.RETIRED)
    if district is not None:
        segments, spaces = segments.filter(district=district), spaces.filter(district=district)
    features = []
    for pk, code, name, area_class, geometry in segments.values_list(
        "pk", "code", "name", "area_class", "geometry"
    ):
        point = geometry_point(geometry)
        if point is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(point[0], 6), round(point[1], 6)]},
                "properties": {
                    "kind": "segment",
                    "id": pk,
                    "code": code,
                    "name": name,
                    "area_class": area_class,
                },
            }
        )
    for pk, number, code, lon, lat, status in spaces.values_list(
        "pk", "number", "segment__code", "lon", "lat", "status"
    )[:limit]:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {"kind": "space", "id": pk, "code": f"{code}-{number}", "status": status},
            }
        )
    return {"type": "FeatureCollection", "datum": "GCJ-02", "features": features}
