"""Statistics API: the CDS 1.1 Metrics API and the rest of the CDS Curbs API (areas, objects, policies).

* ``cds/metrics/aggregates`` — CDS Aggregates (``curb_place_type``, ``curb_place_id``,
  ``metric_type``, ``date``, ``hour``, ``value``) from the per-segment daily statistics
  (services/stats.py), one row per place, metric and local hour. Places: ``zone`` (a
  segment) and ``area`` (a district); ``space``/``object`` are refused (400: we keep no
  per-space statistics). Metrics: ``total_sessions`` (orders started in the hour),
  ``total_events`` (device events), ``turnover`` (orders started per available space),
  ``average_dwell_time`` (minutes, orders started in the hour that have ended),
  ``occupancy_percent`` (occupied / known space-time × 100; ``-1`` when the devices were
  offline for the majority of the hour, as CDS defines). ``start_time``/``end_time`` are
  CDS millisecond timestamps (default: yesterday; at most 31 days). CDS serves CSV
  (``application/vnd.cds+csv;version=1.1``, our default); ``Accept: application/json`` or
  ``?format=json`` gives the rows in the CDS JSON envelope under ``data.aggregates``.
  The location filters (``min_lat`` …, ``lat``/``lng``/``radius``) are not supported (400).
* ``cds/metrics/sessions`` — CDS Sessions: one row per finished stay (order) started in the
  asked days (same ``start_time``/``end_time`` and place filters as the aggregates; ``object``
  refused), with the start/end event ids, the space's point (WGS-84), times, zone, area, space
  and vehicle type — never the plate or the payer. Needs ``parking.view_order``; scoped.
* ``cds/curbs/areas`` — districts as Curb Areas (outer ring of the largest boundary
  polygon, WGS-84), ``cds/curbs/objects`` — devices as Curb Objects (cameras
  ``surveillance_camera``, video piles ``video_pile``, sensors ``in_ground_sensor``; PDAs
  move and are left out), ``cds/curbs/policies`` — active tariff plans as Curb Policies
  with their rates (``?ids=`` comma-separated UUIDs).

Scope as everywhere (``.restrict(user)``); lists carry ``links`` (api/cds.py ``paginate``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import defaultdict

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from govcenter.core import geo
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District

from ..models import Device, DeviceKind, Order, OrderState, Segment, TariffPlan
from ..models.stats import DailySegmentStat
from ..services.stats import HOURS, TZ
from . import cds
from .cds import (
    PAGE_PARAMETERS,
    _CdsView,
    _Error,
    _ms,
    _to_wgs84,
    cds_list_schema,
    envelope,
    paged_envelope,
    paginate,
    policy_id,
)

AREA_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:govcenter:parking:district")
METRIC_TYPES = ("total_sessions", "total_events", "turnover", "average_dwell_time", "occupancy_percent")
PLACE_TYPES = ("area", "zone", "space", "object")
AGGREGATE_FIELDS = ("curb_place_type", "curb_place_id", "metric_type", "date", "hour", "value")
CDS_CSV = "application/vnd.cds+csv;version=1.1"
MAX_DAYS = 31
UNSUPPORTED = ("min_lat", "min_lng", "max_lat", "max_lng", "lat", "lng", "radius")


def area_id(district: District | int) -> uuid.UUID:
    """The Curb Area id of a district: stable, name-based on its code."""
    code = district.code if isinstance(district, District) else District.objects.get(pk=district).code
    return uuid.uuid5(AREA_NAMESPACE, code)


# -- metrics ---------------------------------------------------------------------------------


def hour_value(metric: str, h: dict, i: int) -> float | int | None:
    """One metric of hour ``i`` of the summed hourly series ``h``; None = no row (nothing to say)."""
    available = h["available"][i]
    if metric == "total_sessions":
        return h["orders"][i]
    if metric == "total_events":
        return h["events"][i]
    if metric == "average_dwell_time":
        return round(h["dwell"][i] / h["sessions"][i] / 60, 2) if h["sessions"][i] else None
    if not available:
        return None
    if metric == "turnover":
        return round(h["orders"][i] * 3600 / available, 4)
    # occupancy_percent: CDS "-1" when the source was offline for the majority of the time.
    if h["unknown"][i] * 2 > available:
        return -1
    known = available - h["unknown"][i]
    return round(min(100.0, 100 * h["occupied"][i] / known), 2)


def _ms_param(request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ValidationError({name: "Must be a timestamp in milliseconds since the Unix epoch."}) from None


def _days(request) -> list[dt.date]:
    start, end = _ms_param(request, "start_time"), _ms_param(request, "end_time")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    # end_time is exclusive: the last day is the one holding end_time − 1 ms; one day by default.
    last = (end - dt.timedelta(milliseconds=1)).astimezone(TZ).date() if end else None
    first = start.astimezone(TZ).date() if start else (last or yesterday)
    last = last or (first if start else yesterday)
    if last < first:
        raise ValidationError({"end_time": "Must be after start_time."})
    if (last - first).days >= MAX_DAYS:
        raise ServiceError(
            f"At most {MAX_DAYS} days per request.", code="range_too_long", details={"max_days": MAX_DAYS}
        )
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _choice(request, name: str, allowed: tuple) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise ValidationError({name: f"Use one of {', '.join(allowed)}."})
    return raw


def aggregate_rows(request) -> list[dict]:
    """The CDS aggregates the query asks for, from the caller's scoped segment statistics."""
    for name in UNSUPPORTED:
        if name in request.query_params:
            raise ServiceError(
                "Location filters are not supported; filter by curb_place_type and curb_place_id.",
                code="unsupported_parameter",
                details={"parameter": name},
            )
    place_type = _choice(request, "curb_place_type", PLACE_TYPES)
    metric = _choice(request, "metric_type", METRIC_TYPES)
    place_raw = request.query_params.get("curb_place_id")
    if bool(place_type) != bool(place_raw):
        raise ValidationError({"curb_place_id": "curb_place_type and curb_place_id go together."})
    if place_type in ("space", "object"):
        raise ServiceError(
            f"No statistics are kept per {place_type}; use zone or area.",
            code="unsupported_place_type",
            details={"curb_place_type": place_type},
        )
    place_id = cds._uuid_param(request, "curb_place_id")
    days = _days(request)
    qs = (
        DailySegmentStat.objects.restrict(request.user)
        .filter(date__in=days)
        .select_related("segment", "district")
        .order_by("date", "district__sort_order", "segment__code")
    )
    if place_type == "zone":
        qs = qs.filter(segment__curb_zone_id=place_id)
    elif place_type == "area":
        codes = {area_id(d): d.pk for d in District.objects.restrict(request.user).only("pk", "code")}
        qs = qs.filter(district_id=codes.get(place_id, -1))
    metrics = [metric] if metric else list(METRIC_TYPES)
    places: dict[tuple, dict] = {}
    for stat in qs:
        keys = []
        if place_type in (None, "zone"):
            keys.append(("zone", str(stat.segment.curb_zone_id)))
        if place_type in (None, "area"):
            keys.append(("area", str(area_id(stat.district))))
        for key in keys:
            summed = places.setdefault((stat.date, *key), defaultdict(lambda: [0] * HOURS))
            for name, values in stat.hourly.items():
                summed[name] = [a + b for a, b in zip(summed[name], values, strict=False)]
    rows = []
    for (day, kind, pid), hourly in sorted(
        places.items(), key=lambda x: (x[0][0], x[0][1] != "area", x[0][2])
    ):
        for m in metrics:
            for i in range(HOURS):
                value = hour_value(m, hourly, i)
                if value is not None:
                    rows.append(
                        {
                            "curb_place_type": kind,
                            "curb_place_id": pid,
                            "metric_type": m,
                            "date": day.isoformat(),
                            "hour": i,
                            "value": value,
                        }
                    )
    return rows


class CdsCsvRenderer(BaseRenderer):
    """CDS Metrics CSV (the view renders the text; this renderer only takes part in negotiation)."""

    media_type = "application/vnd.cds+csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode("utf-8") if isinstance(data, str) else data


class _CdsMetricsView(_CdsView):
    """A CDS Metrics endpoint: CSV by default, JSON on request; errors always JSON."""

    renderer_classes = [CdsCsvRenderer, JSONRenderer]

    def handle_exception(self, exc):
        # Errors are always our JSON body, whichever representation was negotiated.
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)


class CdsMetricAggregatesView(_CdsMetricsView):
    read_permissions = ("parking.view_dailysegmentstat",)

    @extend_schema(
        tags=["parking-cds"],
        parameters=[
            OpenApiParameter("curb_place_type", str, enum=list(PLACE_TYPES)),
            OpenApiParameter("curb_place_id", OpenApiTypes.UUID),
            OpenApiParameter("metric_type", str, enum=list(METRIC_TYPES)),
            OpenApiParameter(
                "start_time", int, description="ms since the epoch, inclusive (default yesterday)"
            ),
            OpenApiParameter("end_time", int, description="ms since the epoch, exclusive"),
            OpenApiParameter("format", str, enum=["csv", "json"], description="default CSV (as CDS) or JSON"),
            *PAGE_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, 400: _Error, 403: _Error},
        summary="CDS Metrics aggregates (hourly, per curb zone and area)",
        operation_id="parking_cds_metrics_aggregates",
    )
    def get(self, request):
        rows, links = paginate(request, aggregate_rows(request))
        return cds_rows_response(request, "aggregates", rows, AGGREGATE_FIELDS, links)


def cds_rows_response(request, key: str, rows: list[dict], fields, links: dict) -> Response:
    """CDS Metrics rows as CSV (the default) or in the JSON envelope under ``data.<key>``."""
    if request.accepted_renderer.format != "csv":
        return Response({**envelope({key: rows}), "links": links})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    # A list cell (curb_area_ids) is one cell of comma-separated ids.
    writer.writerows({k: ",".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows)
    response = Response(buf.getvalue(), content_type=CDS_CSV)
    # CSV has no envelope: the page links travel in the HTTP Link header (RFC 8288).
    response["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url)
    return response


SESSION_FIELDS = (
    "session_type",
    "event_id_start",
    "event_id_end",
    "event_location_start_latitude",
    "event_location_start_longitude",
    "event_location_end_latitude",
    "event_location_end_longitude",
    "event_time_start",
    "event_time_end",
    "curb_zone_id",
    "curb_area_ids",
    "curb_space_id",
    "vehicle_type",
)
# CDS vehicle_type of our vehicle classes (large = buses and lorries: "truck" is the CDS word).
_VEHICLE_TYPES = {"small": "car", "large": "truck"}


def session_orders(request):
    """The caller's finished stays (orders) that started in the asked days, oldest first."""
    for name in UNSUPPORTED:
        if name in request.query_params:
            raise ServiceError(
                "Location filters are not supported; filter by curb_place_type and curb_place_id.",
                code="unsupported_parameter",
                details={"parameter": name},
            )
    place_type = _choice(request, "curb_place_type", PLACE_TYPES)
    place_raw = request.query_params.get("curb_place_id")
    if bool(place_type) != bool(place_raw):
        raise ValidationError({"curb_place_id": "curb_place_type and curb_place_id go together."})
    if place_type == "object":
        raise ServiceError(
            "Sessions are kept per zone, area and space, not per object.",
            code="unsupported_place_type",
            details={"curb_place_type": place_type},
        )
    place_id = cds._uuid_param(request, "curb_place_id")
    days = _days(request)
    start = dt.datetime.combine(days[0], dt.time(0), tzinfo=TZ)
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(0), tzinfo=TZ)
    qs = (
        Order.objects.restrict(request.user)
        .filter(started_at__gte=start, started_at__lt=end, ended_at__isnull=False)
        .exclude(state=OrderState.VOID)
        .select_related("segment", "space", "district", "start_event", "end_event")
        .only(
            "id",
            "started_at",
            "ended_at",
            "vehicle_class",
            "segment__curb_zone_id",
            "space__curb_space_id",
            "space__lon",
            "space__lat",
            "district__code",
            "start_event__event_id",
            "end_event__event_id",
        )
        .order_by("started_at", "id")
    )
    if place_type == "zone":
        qs = qs.filter(segment__curb_zone_id=place_id)
    elif place_type == "space":
        qs = qs.filter(space__curb_space_id=place_id)
    elif place_type == "area":
        codes = {area_id(d): d.pk for d in District.objects.restrict(request.user).only("pk", "code")}
        qs = qs.filter(district_id=codes.get(place_id, -1))
    return qs


def session_row(order: Order) -> dict:
    """One stay as a CDS Session: no plate, no person — place, times and vehicle type only."""
    lon, lat = (float(v) for v in geo.gcj02_to_wgs84(order.space.lon, order.space.lat))
    row = {
        "session_type": "parking",
        "event_location_start_latitude": round(lat, 6),
        "event_location_start_longitude": round(lon, 6),
        "event_location_end_latitude": round(lat, 6),
        "event_location_end_longitude": round(lon, 6),
        "event_time_start": _ms(order.started_at),
        "event_time_end": _ms(order.ended_at),
        "curb_zone_id": str(order.segment.curb_zone_id),
        "curb_area_ids": [str(area_id(order.district))],
        "curb_space_id": str(order.space.curb_space_id),
        "vehicle_type": _VEHICLE_TYPES.get(order.vehicle_class, "car"),
    }
    # The device events that opened and closed the stay, when it came from a device (a
    # corrected or imported stay may have none: the keys are left out, CSV cells empty).
    if order.start_event_id:
        row["event_id_start"] = str(order.start_event.event_id)
    if order.end_event_id:
        row["event_id_end"] = str(order.end_event.event_id)
    return row


class CdsMetricSessionsView(_CdsMetricsView):
    """CDS Metrics sessions: every finished stay, without plate or payer (WGS-84 points)."""

    read_permissions = ("parking.view_order",)

    @extend_schema(
        tags=["parking-cds"],
        parameters=[
            OpenApiParameter("curb_place_type", str, enum=["area", "zone", "space"]),
            OpenApiParameter("curb_place_id", OpenApiTypes.UUID),
            OpenApiParameter(
                "start_time", int, description="ms since the epoch, inclusive (default yesterday)"
            ),
            OpenApiParameter("end_time", int, description="ms since the epoch, exclusive"),
            OpenApiParameter("format", str, enum=["csv", "json"], description="default CSV (as CDS) or JSON"),
            *PAGE_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, 400: _Error, 403: _Error},
        summary="CDS Metrics sessions (finished stays, by start day)",
        operation_id="parking_cds_metrics_sessions",
    )
    def get(self, request):
        orders, links = paginate(request, session_orders(request))
        rows = [session_row(o) for o in orders]
        return cds_rows_response(request, "sessions", rows, SESSION_FIELDS, links)


# -- curbs: areas, objects, policies -----------------------------------------------------------


def _largest_ring(geometry: dict | None) -> list | None:
    if not geometry:
        return None
    if geometry.get("type") == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry.get("type") == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        return None
    rings = [p[0] for p in polygons if p and len(p[0]) >= 4]
    return max(rings, key=len) if rings else None


def area_data(district: District, zone_ids: list[str]) -> dict | None:
    """A district as a CDS Curb Area (None when it has no boundary)."""
    ring = _largest_ring(district.geometry)
    kind = "boundary_outer_ring"
    if ring is None and district.min_lon is not None:
        lo, la, hi, ha = district.min_lon, district.min_lat, district.max_lon, district.max_lat
        ring, kind = [[lo, la], [hi, la], [hi, ha], [lo, ha], [lo, la]], "bounding_box"
    if ring is None:
        return None
    return {
        "curb_area_id": str(area_id(district)),
        "geometry": {"type": "Polygon", "coordinates": _to_wgs84(ring)},
        "name": district.name_zh,
        "published_date": _ms(getattr(district, "created_at", None)) or 0,
        "last_updated_date": _ms(getattr(district, "updated_at", None)) or 0,
        "curb_zone_ids": zone_ids,
        "custom_attributes": cds._datum_attrs(
            district=district.code, geometry_kind=kind, name_en=district.name_en
        ),
    }


def _area_items(request):
    districts = list(District.objects.restrict(request.user).order_by("sort_order", "code"))
    zones = defaultdict(list)
    for district_id, zone in (
        Segment.objects.restrict(request.user)
        .filter(geometry__isnull=False, district__in=districts)
        .order_by("code")
        .values_list("district_id", "curb_zone_id")
    ):
        zones[district_id].append(str(zone))
    return [a for a in (area_data(d, zones[d.pk]) for d in districts) if a is not None]


class CdsAreasView(_CdsView):
    read_permissions = ("parking.view_segment",)

    @cds_list_schema("CDS Curb Areas (districts)", "parking_cds_areas_list")
    def get(self, request):
        return Response(paged_envelope(request, "areas", _area_items(request), lambda a: a))


OBJECT_TYPES = {
    DeviceKind.HIGH_VIDEO: "surveillance_camera",
    DeviceKind.VIDEO_PILE: "video_pile",
    DeviceKind.GEOMAGNETIC: "in_ground_sensor",
}


def object_data(device: Device) -> dict | None:
    """A fixed device as a CDS Curb Object at its space's point or its segment's first point."""
    if device.space_id:
        lon, lat = device.space.lon, device.space.lat
    elif device.segment_id and device.segment.geometry:
        coords = device.segment.geometry["coordinates"]
        while coords and isinstance(coords[0], list):
            coords = coords[0]
        lon, lat = coords[0], coords[1]
    else:
        return None
    data = {
        "curb_object_id": str(cds.device_uuid(device.serial)),
        "geometry": {"type": "Point", "coordinates": _to_wgs84([lon, lat])},
        "object_type": OBJECT_TYPES[device.kind],
        "name": device.serial,
        "published_date": _ms(device.created_at),
        "last_updated_date": _ms(device.updated_at),
        "custom_attributes": cds._datum_attrs(kind=device.kind, status=device.status),
    }
    if device.space_id:
        data["curb_space_id"] = str(device.space.curb_space_id)
        data["curb_zone_id"] = str(device.space.segment.curb_zone_id)
    else:
        data["curb_zone_id"] = str(device.segment.curb_zone_id)
    return data


class CdsObjectsView(_CdsView):
    read_permissions = ("parking.view_device",)

    @cds_list_schema("CDS Curb Objects (fixed devices)", "parking_cds_objects_list")
    def get(self, request):
        devices = (
            Device.objects.restrict(request.user)
            .filter(kind__in=list(OBJECT_TYPES))
            .exclude(status=Device.Status.RETIRED)
            .select_related("space", "space__segment", "segment")
            .defer("secret_enc")
            .order_by("serial")
        )
        page, links = paginate(request, devices)
        return Response({**envelope({"objects": [o for o in map(object_data, page) if o]}), "links": links})


def _rate(unit_fen: int, unit_minutes: int) -> dict:
    """A CDS rate for ``unit_fen`` per ``unit_minutes`` started: per hour when exact, else per minute."""
    if (unit_fen * 60) % unit_minutes == 0:
        rate = {"rate": unit_fen * 60 // unit_minutes, "rate_unit": "hour"}
    else:
        rate = {"rate": round(unit_fen / unit_minutes), "rate_unit": "minute"}
    # Every started unit is paid in full: the amount rounds up to whole units.
    return {**rate, "rate_unit_period": "rolling", "increment_amount": unit_fen}


def policy_data(plan: TariffPlan) -> dict:
    """An active tariff plan as a CDS Curb Policy: a day and a night rule per vehicle class."""
    day = (plan.day_start.strftime("%H:%M"), plan.day_end.strftime("%H:%M"))
    first_minutes = plan.first_period_units * plan.day_unit_minutes
    span = {"start_date": _ms(plan.valid_from)}
    if plan.valid_to:
        span["end_date"] = _ms(plan.valid_to)
    rules = []
    classes = {"small": "car", "large": "large_vehicle"}
    for vehicle, user_class in classes.items():
        pct = int((plan.vehicle_multipliers or {}).get(vehicle, 100))

        def fen(value: int, pct: int = pct) -> int:
            return value * pct // 100

        first = _rate(fen(plan.day_first_unit_fen), plan.day_unit_minutes)
        later = _rate(fen(plan.day_later_unit_fen), plan.day_unit_minutes)
        if first["rate_unit"] == "hour" and first_minutes % 60 == 0:
            first["end_duration"] = first_minutes // 60
        if later["rate_unit"] == "hour" and first_minutes % 60 == 0:
            later["start_duration"] = first_minutes // 60
        rules.append(
            {
                "name": f"{user_class} day",
                "activity": "parking",
                "user_classes": [user_class],
                "rate": [first, later],
            }
        )
        rules.append(
            {
                "name": f"{user_class} night",
                "activity": "parking",
                "user_classes": [user_class],
                "rate": [_rate(fen(plan.night_unit_fen), plan.night_unit_minutes)],
            }
        )
    description = f"{plan.get_area_class_display()} · day {day[0]}–{day[1]}"
    if plan.grace_minutes:
        description += f" · free {plan.grace_minutes} min"
    if plan.daily_cap_fen:
        description += f" · daily cap {plan.daily_cap_fen} fen"
    return {
        "curb_policy_id": str(policy_id(plan)),
        "name": plan.name,
        "description": str(description),
        "published_date": _ms(plan.created_at),
        "priority": 1,
        "rules": rules,
        "time_spans": [
            {**span, "time_of_day_start": day[0], "time_of_day_end": day[1]},
            {**span, "time_of_day_start": day[1], "time_of_day_end": day[0]},
        ],
    }


class CdsPoliciesView(_CdsView):
    read_permissions = ("parking.view_tariffplan",)

    @cds_list_schema(
        "CDS Curb Policies (active tariff plans)",
        "parking_cds_policies_list",
        [OpenApiParameter("ids", str, description="comma-separated curb_policy_id UUIDs")],
    )
    def get(self, request):
        plans = TariffPlan.objects.filter(status=TariffPlan.Status.ACTIVE).order_by(
            "area_class", "code", "version"
        )
        items = [policy_data(p) for p in plans]
        raw = request.query_params.get("ids")
        if raw:
            try:
                wanted = {str(uuid.UUID(x.strip())) for x in raw.split(",") if x.strip()}
            except ValueError:
                raise ValidationError({"ids": "Must be comma-separated UUIDs."}) from None
            items = [p for p in items if p["curb_policy_id"] in wanted]
        return Response(paged_envelope(request, "policies", items, lambda p: p))


urlpatterns: list = [
    path("cds/metrics/aggregates", CdsMetricAggregatesView.as_view(), name="cds-metrics-aggregates"),
    path("cds/metrics/sessions", CdsMetricSessionsView.as_view(), name="cds-metrics-sessions"),
    path("cds/curbs/areas", CdsAreasView.as_view(), name="cds-areas"),
    path("cds/curbs/objects", CdsObjectsView.as_view(), name="cds-objects"),
    path("cds/curbs/policies", CdsPoliciesView.as_view(), name="cds-policies"),
]
