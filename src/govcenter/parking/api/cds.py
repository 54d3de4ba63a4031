"""Read-only CDS 1.1 compatible API under /api/v1/parking/cds/ (Curbs and Events).

* ``curbs/zones``, ``curbs/zones/{curb_zone_id}``: segments as CDS Curb Zones;
* ``curbs/spaces`` (``?zone=<curb_zone_id>``), ``curbs/spaces/{curb_space_id}``: spaces as Curb Spaces;
* ``events`` (``?event_time=YYYY-MM-DDTHH`` — one UTC hour, CDS semantics; default the last
  60 minutes; ``?curb_zone_id=``, ``?curb_space_id=``): device events as Curb Events, newest first.

Every response is the CDS REST envelope ``{"version": "1.1", "time_zone": "Asia/Shanghai",
"last_updated", "currency": "CNY", "data": {...}}``; timestamps are integer milliseconds since
the Unix epoch, as CDS defines them. Authentication and scope are those of the rest of the API
(staff session or API token; every query through ``.restrict(request.user)``); an id outside
the caller's scope is 404 with our ``{"code", "message", "details"}`` body.

Coordinates: we store GCJ-02; CDS expects WGS-84, so geometry is converted to WGS-84 with
:mod:`govcenter.core.geo` on output and ``custom_attributes`` carry ``datum: WGS-84`` and
``source_datum: GCJ-02``. A segment without geometry cannot be a CDS Curb Zone (geometry is
required) and is left out. A space has only a point; its CDS polygon is an axis-aligned
length × width rectangle centred on that point (approximate footprint, said in
``custom_attributes.geometry_kind``), written as one ring of positions as CDS 1.1's
coordinates.yaml defines a polygon. A zone/space detail's ``data`` is the object itself (CDS).
Plates are always masked.

Lists are paginated (``?page=``, ``?page_size=`` up to 1000, default 500): CDS 1.1 itself
defines no pagination, so we follow its sister spec MDS — a top-level ``links`` object with
``first``, ``prev``, ``next`` (absolute URLs; ``prev``/``next`` null at the ends) beside the
CDS envelope; its schemas allow the extra key.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from govcenter.core import geo
from govcenter.core.api.base import FunctionPermission
from govcenter.core.masking import mask_plate

from ..models import DeviceEvent, Segment, Space, TariffPlan

CDS_VERSION = "1.1"
TIME_ZONE = "Asia/Shanghai"
CURRENCY = "CNY"
_M_PER_DEG_LAT = 111_320.0


class _Error(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


def _ms(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def envelope(data: dict, last_updated: dt.datetime | None = None) -> dict:
    """The CDS REST response envelope around ``data``."""
    return {
        "version": CDS_VERSION,
        "time_zone": TIME_ZONE,
        "last_updated": _ms(last_updated or timezone.now()),
        "currency": CURRENCY,
        "data": data,
    }


PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="page number (from 1)"),
    OpenApiParameter(
        "page_size", int, description=f"items per page (default {PAGE_SIZE}, at most {MAX_PAGE_SIZE})"
    ),
]


def _positive_int(request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: "Must be a positive integer."}) from None
    if value < 1 or (maximum is not None and value > maximum):
        raise ValidationError({name: f"Must be between 1 and {maximum}." if maximum else "Must be positive."})
    return value


def paginate(request, items) -> tuple[list, dict]:
    """One page of ``items`` (a queryset or list) and the MDS-style ``links`` of the page."""
    size = _positive_int(request, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    page = _positive_int(request, "page", 1)
    chunk = list(items[(page - 1) * size : page * size + 1])
    has_next = len(chunk) > size

    def url(n: int | None) -> str | None:
        if n is None:
            return None
        params = request.query_params.copy()
        params["page"] = str(n)
        params["page_size"] = str(size)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    links = {
        "first": url(1),
        "prev": url(page - 1 if page > 1 else None),
        "next": url(page + 1 if has_next else None),
    }
    return chunk[:size], links


def cds_list_schema(summary: str, operation_id: str, parameters: list | None = None):
    """The OpenAPI description of a paginated CDS list endpoint."""
    return extend_schema(
        tags=["parking-cds"],
        parameters=[*(parameters or []), *PAGE_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT, 400: _Error},
        summary=summary,
        operation_id=operation_id,
    )


def paged_envelope(request, key: str, items, render, last_updated=None) -> dict:
    """The CDS envelope around one page of ``items`` (rendered by ``render``) plus ``links``."""
    page, links = paginate(request, items)
    return {**envelope({key: [render(i) for i in page]}, last_updated), "links": links}


def _to_wgs84(coords):
    """Convert nested GeoJSON coordinate arrays from GCJ-02 to WGS-84."""
    if coords and isinstance(coords[0], (int, float)):
        lon, lat = geo.gcj02_to_wgs84(float(coords[0]), float(coords[1]))
        return [round(float(lon), 7), round(float(lat), 7)]
    return [_to_wgs84(c) for c in coords]


def _datum_attrs(**extra) -> dict:
    return {"datum": "WGS-84", "source_datum": "GCJ-02", **{k: str(v) for k, v in extra.items()}}


POLICY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:govcenter:parking:tariff-plan")


def policy_id(plan: TariffPlan) -> uuid.UUID:
    """A plan version never changes once published, so (code, version) names one CDS policy forever."""
    return uuid.uuid5(POLICY_NAMESPACE, f"{plan.code}:{plan.version}")


def policy_ids_by_area_class() -> dict[int, list[str]]:
    """The CDS policy ids (active tariff plans, api/stats.py ``curbs/policies``) per area class."""
    out: dict[int, list[str]] = {}
    for plan in TariffPlan.objects.filter(status=TariffPlan.Status.ACTIVE).order_by("code", "version"):
        out.setdefault(plan.area_class, []).append(str(policy_id(plan)))
    return out


def zone_data(segment: Segment, space_ids: list[str], policy_ids: list[str] | None = None) -> dict:
    """One segment as a CDS Curb Zone (geometry in WGS-84; policies = its area class's tariff plans)."""
    data = {
        "curb_zone_id": str(segment.curb_zone_id),
        "geometry": {
            "type": segment.geometry["type"],
            "coordinates": _to_wgs84(segment.geometry["coordinates"]),
        },
        "curb_policy_ids": list(policy_ids or []),
        "published_date": _ms(segment.created_at),
        "last_updated_date": _ms(segment.updated_at),
        "start_date": _ms(segment.created_at),
        "name": segment.name,
        "user_zone_id": segment.code,
        "street_name": segment.road.name,
        "num_spaces": segment.capacity,
        "curb_space_ids": space_ids,
        "jurisdiction_type": "public",
        "custom_attributes": _datum_attrs(
            area_class=segment.area_class, status=segment.status, district=segment.district.code
        ),
    }
    if segment.length_cm and segment.length_cm >= 100:
        data["length"] = segment.length_cm // 100
    if segment.side in Segment.CDS_STREET_SIDE:
        data["street_side"] = Segment.CDS_STREET_SIDE[segment.side]
    return data


def _rectangle(lon: float, lat: float, length_m: float, width_m: float) -> dict:
    dlat = width_m / 2 / _M_PER_DEG_LAT
    dlon = length_m / 2 / (_M_PER_DEG_LAT * math.cos(math.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
    ]
    ring.append(ring[0])
    # CDS 1.1 coordinates.yaml: a polygon's coordinates are one ring of positions (not RFC 7946's list of rings).
    return {"type": "Polygon", "coordinates": [[round(x, 7), round(y, 7)] for x, y in ring]}


def space_data(space: Space) -> dict:
    """One space as a CDS Curb Space (WGS-84 footprint rectangle around its point)."""
    lon, lat = geo.gcj02_to_wgs84(space.lon, space.lat)
    data = {
        "curb_space_id": str(space.curb_space_id),
        "geometry": _rectangle(float(lon), float(lat), space.length_cm / 100, space.width_cm / 100),
        "name": f"{space.segment.code}-{space.number}",
        "published_date": _ms(space.created_at),
        "last_updated_date": _ms(space.updated_at),
        "curb_zone_id": str(space.segment.curb_zone_id),
        "length": max(1, round(space.length_cm / 100)),
        "width": max(1, round(space.width_cm / 100)),
        "custom_attributes": _datum_attrs(
            geometry_kind="approximate_rectangle",
            space_type=space.space_type,
            status=space.status,
            number=space.number,
        ),
    }
    if space.number.isdigit():
        data["space_number"] = int(space.number)
    return data


# CDS data_source_device_id must be a UUID; our devices are known by serial, so the id is the
# name-based (v5) UUID of the serial: stable, and the same for every consumer.
DEVICE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:govcenter:parking:device")


def device_uuid(serial: str) -> uuid.UUID:
    return uuid.uuid5(DEVICE_NAMESPACE, serial)


def event_data(event: DeviceEvent) -> dict:
    """One device event as a CDS Curb Event (plate masked)."""
    data = {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "event_time": _ms(event.event_time),
        "event_publication_time": _ms(event.received_at),
        "data_source_type": event.data_source_type,
        "data_source_device_id": str(device_uuid(event.device.serial)),
        "data_source_device_name": event.device.serial,
        "custom_attributes": {"outcome": event.outcome, "device_serial": event.device.serial},
    }
    if event.segment_id:
        data["curb_zone_id"] = str(event.segment.curb_zone_id)
    if event.space_id:
        data["curb_space_id"] = str(event.space.curb_space_id)
    if event.plate:
        data["vehicle_license_plate"] = mask_plate(event.plate)
        data["vehicle_license_plate_jurisdiction"] = "CN"
    if event.plate_confidence is not None:
        pct = event.plate_confidence * 100 if event.plate_confidence <= 1 else event.plate_confidence
        data["vehicle_license_plate_confidence"] = min(100, max(1, round(pct)))
    return data


def _uuid_param(request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationError({name: "Must be a UUID."}) from None


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404 from None


class _CdsView(APIView):
    permission_classes = [IsAuthenticated, FunctionPermission]
    pagination_class = None


def _zones(request):
    spaces = Prefetch(
        "spaces", queryset=Space.objects.order_by("number").only("id", "segment_id", "curb_space_id")
    )
    return (
        Segment.objects.restrict(request.user)
        .filter(geometry__isnull=False)
        .select_related("road", "district")
        .prefetch_related(spaces)
    )


def _zone(segment: Segment, policies: dict[int, list[str]]) -> dict:
    spaces = [str(s.curb_space_id) for s in segment.spaces.all()]
    return zone_data(segment, spaces, policies.get(segment.area_class, []))


class CdsZonesView(_CdsView):
    read_permissions = ("parking.view_segment",)

    @cds_list_schema("CDS Curb Zones", "parking_cds_zones_list")
    def get(self, request):
        policies = policy_ids_by_area_class()
        zones = _zones(request).order_by("code")
        return Response(paged_envelope(request, "zones", zones, lambda s: _zone(s, policies)))


class CdsZoneView(_CdsView):
    read_permissions = ("parking.view_segment",)

    @extend_schema(
        tags=["parking-cds"],
        responses={200: OpenApiTypes.OBJECT, 404: _Error},
        summary="CDS Curb Zone",
        operation_id="parking_cds_zone",
    )
    def get(self, request, curb_zone_id: str):
        segment = _zones(request).filter(curb_zone_id=_uuid_or_404(curb_zone_id)).first()
        if segment is None:
            raise Http404
        return Response(envelope(_zone(segment, policy_ids_by_area_class()), segment.updated_at))


def _spaces(request):
    return Space.objects.restrict(request.user).select_related("segment")


class CdsSpacesView(_CdsView):
    read_permissions = ("parking.view_space",)

    @extend_schema(
        tags=["parking-cds"],
        parameters=[
            OpenApiParameter("zone", OpenApiTypes.UUID, description="only the spaces of this curb zone"),
            *PAGE_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, 400: _Error},
        summary="CDS Curb Spaces",
        operation_id="parking_cds_spaces_list",
    )
    def get(self, request):
        qs = _spaces(request)
        zone = _uuid_param(request, "zone")
        if zone is not None:
            qs = qs.filter(segment__curb_zone_id=zone)
        return Response(
            paged_envelope(request, "spaces", qs.order_by("segment__code", "number", "pk"), space_data)
        )


class CdsSpaceView(_CdsView):
    read_permissions = ("parking.view_space",)

    @extend_schema(
        tags=["parking-cds"],
        responses={200: OpenApiTypes.OBJECT, 404: _Error},
        summary="CDS Curb Space",
        operation_id="parking_cds_space",
    )
    def get(self, request, curb_space_id: str):
        space = _spaces(request).filter(curb_space_id=_uuid_or_404(curb_space_id)).first()
        if space is None:
            raise Http404
        return Response(envelope(space_data(space), space.updated_at))


def _hour_window(raw: str | None) -> tuple[dt.datetime, dt.datetime]:
    if not raw:
        end = timezone.now()
        return end - dt.timedelta(minutes=60), end
    try:
        start = dt.datetime.strptime(raw, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValidationError({"event_time": "Use YYYY-MM-DDTHH (one UTC hour)."}) from None
    return start, start + dt.timedelta(hours=1)


class CdsEventsView(_CdsView):
    read_permissions = ("parking.view_deviceevent",)

    @extend_schema(
        tags=["parking-cds"],
        parameters=[
            OpenApiParameter(
                "event_time", str, description="YYYY-MM-DDTHH: events in that UTC hour; default last 60 min"
            ),
            OpenApiParameter("curb_zone_id", OpenApiTypes.UUID),
            OpenApiParameter("curb_space_id", OpenApiTypes.UUID),
            *PAGE_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, 400: _Error},
        summary="CDS Curb Events",
        operation_id="parking_cds_events_list",
    )
    def get(self, request):
        start, end = _hour_window(request.query_params.get("event_time"))
        qs = (
            DeviceEvent.objects.restrict(request.user)
            .filter(event_time__gte=start, event_time__lt=end)
            .select_related("device", "segment", "space")
            .order_by("-event_time")
        )
        zone = _uuid_param(request, "curb_zone_id")
        if zone is not None:
            qs = qs.filter(segment__curb_zone_id=zone)
        space = _uuid_param(request, "curb_space_id")
        if space is not None:
            qs = qs.filter(space__curb_space_id=space)
        return Response(paged_envelope(request, "events", qs.order_by("-event_time", "-pk"), event_data))
