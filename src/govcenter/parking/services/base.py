"""Writes of the parking base data: roads, segments, spaces — versioned and audited.

Every service is keyword-only, runs in one transaction, ``full_clean()``s what it saves,
writes the new :class:`RoadVersion`/:class:`SegmentVersion`/:class:`SpaceVersion` rows
(through the one chain writer :func:`write_versions`, which the device services use for
binding periods too) and appends the change (before/after diff) to the audit chain in that
same transaction, so a refusal leaves nothing half-written. Moving a space to another
segment takes its sensor along (the sensor's segment and binding period follow).

Scope: ``actor`` may only write inside the districts their data scope covers; it is
re-checked here, inside the transaction, not only by the view that fetched the object.
``actor=None`` is the system (CLI, demo, import tasks).

Bulk variants (``space_create_bulk``) validate every row first, write with
``bulk_create`` and record one audit entry listing every row (STYLE trap 3: bulk writes
never bypass the audit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models import Road, Segment, SegmentVersion, Space, SpaceVersion
from ..models.base import RoadVersion

ROAD_FIELDS = ["district_id", "managing_unit_id", "code", "name", "status"]
SEGMENT_FIELDS = [
    "road_id",
    "district_id",
    "managing_unit_id",
    "code",
    "name",
    "side",
    "area_class",
    "tariff_code",
    "geometry",
    "length_cm",
    "status",
]
SPACE_FIELDS = [
    "segment_id",
    "district_id",
    "number",
    "lon",
    "lat",
    "space_type",
    "length_cm",
    "width_cm",
    "status",
]

ROAD_EDITABLE = frozenset({"code", "name", "status", "managing_unit"})
SEGMENT_EDITABLE = frozenset(
    {
        "road",
        "code",
        "name",
        "side",
        "area_class",
        "tariff_code",
        "geometry",
        "length_cm",
        "status",
        "managing_unit",
    }
)
SPACE_EDITABLE = frozenset(
    {"segment", "number", "lon", "lat", "space_type", "length_cm", "width_cm", "status"}
)
# Segment attributes that change what its spaces are billed under: they version the spaces too.
SPACE_RELEVANT_SEGMENT_FIELDS = ("code", "area_class", "tariff_code", "status")


# ------------------------------------------------------------------------------------------
# Guards shared with the device services
# ------------------------------------------------------------------------------------------


def check_district_in_scope(actor, district_id: int | None, *, field: str = "district") -> None:
    """The actor may only write inside the districts of their data scope."""
    if actor is None or getattr(actor, "is_superuser", False) or district_id is None:
        return
    scope = scope_for(actor)
    if scope.all:
        return
    if district_id not in scope.district_ids:
        raise ValidationError({field: _("不在本人数据范围内的区，不能修改。")}, code="out_of_scope")


def district_parking_unit(district: District) -> Unit:
    """The district's parking management unit (区停车管理单位), the default managing unit."""
    unit = (
        Unit.objects.filter(district=district, kind=UnitKind.DISTRICT_UNIT, is_active=True)
        .order_by("path")
        .first()
    )
    if unit is None:
        raise ValidationError(
            {
                "managing_unit": _("%(district)s没有启用的区停车管理单位，请指定管理单位。")
                % {"district": district}
            },
            code="no_district_unit",
        )
    return unit


def check_managing_unit(unit: Unit, district_id: int) -> None:
    if unit.district_id != district_id:
        raise ValidationError({"managing_unit": _("管理单位须属于同一个区。")}, code="unit_district_mismatch")
    if not unit.is_active:
        raise ValidationError({"managing_unit": _("管理单位已停用。")}, code="inactive_unit")


def check_points_in_district(
    lons: Sequence[float], lats: Sequence[float], district: District, *, field: str
) -> None:
    """Positions must lie inside the district's boundary (skipped for areas without one).

    ``lons``/``lats`` are GCJ-02; one vectorised look-up for the whole batch.
    """
    if not len(lons):
        return
    from govcenter.core.districts import get_index

    index = get_index()
    if district.code not in set(index.codes.tolist()):
        return  # management areas (BDA) and test districts have no boundary
    codes = index.lookup_codes(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    bad = [i for i, code in enumerate(codes.tolist()) if code != district.code]
    if bad:
        i = bad[0]
        raise ValidationError(
            {
                field: _("位置（%(lon).6f, %(lat).6f，GCJ-02）不在%(district)s范围内。")
                % {"lon": lons[i], "lat": lats[i], "district": district.name_zh}
            },
            code="outside_district",
        )


def validate_geometry(geometry) -> None:
    """GeoJSON LineString or Polygon in GCJ-02 lon/lat (CDS curb zone geometry)."""
    if geometry in (None, ""):
        return
    import shapely

    if not isinstance(geometry, dict) or geometry.get("type") not in ("LineString", "Polygon"):
        raise ValidationError(
            {"geometry": _("几何须为 GeoJSON LineString 或 Polygon。")}, code="bad_geometry"
        )
    try:
        import json

        shape = shapely.from_geojson(json.dumps(geometry))
    except Exception as exc:  # noqa: BLE001  (shapely raises several types for bad input)
        raise ValidationError(
            {"geometry": _("几何无法解析：%(error)s") % {"error": exc}}, code="bad_geometry"
        ) from exc
    if shape.is_empty or not shape.is_valid:
        raise ValidationError({"geometry": _("几何无效（空或自相交）。")}, code="bad_geometry")
    minx, miny, maxx, maxy = shape.bounds
    if not (73 <= minx <= maxx <= 136 and 3 <= miny <= maxy <= 54):
        raise ValidationError({"geometry": _("几何坐标须为中国境内的 GCJ-02 经纬度。")}, code="bad_geometry")


def geometry_point(geometry) -> tuple[float, float] | None:
    """A representative point (lon, lat) of a segment geometry, for maps and district checks."""
    if not geometry:
        return None
    import json

    import shapely

    point = shapely.from_geojson(json.dumps(geometry)).representative_point()
    return point.x, point.y


def _refresh_capacity(segment_ids: Iterable[int]) -> None:
    # Derived data, not an audited attribute: an update() is right here.
    ids = sorted(set(segment_ids))
    if not ids:
        return
    counts = (
        Space.objects.filter(segment=OuterRef("pk"))
        .exclude(status=Space.Status.RETIRED)
        .order_by()
        .values("segment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Segment.objects.filter(pk__in=ids).update(capacity=Coalesce(Subquery(counts), 0))


def _after(at: datetime, previous: datetime) -> datetime:
    # valid_to must be strictly after valid_from, even for two changes in one clock tick.
    return at if at > previous else previous + timedelta(microseconds=1)


# ------------------------------------------------------------------------------------------
# Versions
# ------------------------------------------------------------------------------------------


def segment_snapshot(segment: Segment) -> dict:
    return {
        "code": segment.code,
        "name": segment.name,
        "road_id": segment.road_id,
        "district_id": segment.district_id,
        "managing_unit_id": segment.managing_unit_id,
        "side": segment.side,
        "area_class": segment.area_class,
        "tariff_code": segment.tariff_code,
        "geometry": segment.geometry,
        "length_cm": segment.length_cm,
        "status": segment.status,
    }


def space_snapshot(space: Space, segment: Segment) -> dict:
    return {
        "number": space.number,
        "segment_id": segment.pk,
        "segment_code": segment.code,
        "district_id": space.district_id,
        "lon": space.lon,
        "lat": space.lat,
        "datum": space.datum,
        "space_type": space.space_type,
        "length_cm": space.length_cm,
        "width_cm": space.width_cm,
        "status": space.status,
        "segment_status": segment.status,
        "area_class": segment.area_class,
        "tariff_code": segment.tariff_code,
    }


def write_versions(model, owner: str, items: Sequence[tuple], at: datetime) -> list:
    """The one writer of version chains (road, segment, space versions and device bindings).

    ``items`` are ``(owner_obj, snapshot, columns)``: for each owner whose ``snapshot``
    differs from its current version's, the current version is closed (``valid_to``) and the
    next one opened at ``at`` with the snapshot and the extra ``columns``; a ``None``
    snapshot only closes (an unbound device). ``valid_to`` is always after ``valid_from``,
    even for two changes in one clock tick. Two queries and one bulk insert per call.
    Returns ``(owner_obj, new_version_row)`` for the owners that got a new version.
    """
    if not items:
        return []
    ids = [obj.pk for obj, _snap, _cols in items]
    fk = f"{owner}_id"
    current = {
        getattr(v, fk): v
        for v in model.objects.select_for_update().filter(**{f"{fk}__in": ids}, valid_to__isnull=True)
    }
    # An owner without an open version may still have closed ones (an unbound device).
    missing = [pk for pk in ids if pk not in current]
    last = (
        dict(
            model.objects.filter(**{f"{fk}__in": missing})
            .order_by()
            .values_list(fk)
            .annotate(m=Max("version"))
        )
        if missing
        else {}
    )
    to_close, new, out = [], [], []
    for obj, snap, columns in items:
        old = current.get(obj.pk)
        if old is not None and old.snapshot == snap:
            continue
        valid_from = at
        if old is not None:
            valid_from = _after(at, old.valid_from)
            old.valid_to = valid_from
            to_close.append(old)
        if snap is None:
            continue
        row = model(
            **{owner: obj},
            version=(old.version if old else last.get(obj.pk, 0)) + 1,
            valid_from=valid_from,
            snapshot=snap,
            **(columns or {}),
        )
        new.append(row)
        out.append((obj, row))
    if to_close:
        model.objects.bulk_update(to_close, ["valid_to"])
    if new:
        model.objects.bulk_create(new)
    return out


def _bump(owner_model, pairs: list) -> int:
    """Store each owner's new version number on the owner row (lists read it without a join)."""
    for obj, row in pairs:
        obj.version = row.version
    if pairs:
        owner_model.objects.bulk_update([obj for obj, _row in pairs], ["version"])
    return len(pairs)


def road_snapshot(road: Road) -> dict:
    return {
        "code": road.code,
        "name": road.name,
        "district_id": road.district_id,
        "managing_unit_id": road.managing_unit_id,
        "status": road.status,
    }


def version_roads(roads: Sequence[Road], at: datetime) -> int:
    """Close the current version and open the next for each road whose attributes changed."""
    return _bump(Road, write_versions(RoadVersion, "road", [(r, road_snapshot(r), None) for r in roads], at))


def _version_segment(segment: Segment, at: datetime) -> SegmentVersion | None:
    """Close the current version and open the next one, if the versioned attributes changed."""
    pairs = write_versions(SegmentVersion, "segment", [(segment, segment_snapshot(segment), None)], at)
    _bump(Segment, pairs)
    return pairs[0][1] if pairs else None


def version_spaces(spaces: Sequence[Space], at: datetime) -> int:
    """Bulk: for each space whose versioned attributes changed, close the current version and
    open the next (see :func:`write_versions`). Returns how many."""
    items = []
    for space in spaces:
        snap = space_snapshot(space, space.segment)
        columns = {k: snap[k] for k in ("area_class", "tariff_code", "status")}
        items.append((space, snap, columns))
    return _bump(Space, write_versions(SpaceVersion, "space", items, at))


# ------------------------------------------------------------------------------------------
# Roads
# ------------------------------------------------------------------------------------------


@transaction.atomic
def road_create(
    *, actor, district: District, code: str, name: str, managing_unit: Unit | None = None
) -> Road:
    """Create a road of ``district`` (managed by the district's parking unit unless given); audited."""
    check_district_in_scope(actor, district.pk)
    unit = managing_unit or district_parking_unit(district)
    check_managing_unit(unit, district.pk)
    road = Road(district=district, managing_unit=unit, code=code, name=name)
    road.full_clean()
    road.save()
    version_roads([road], timezone.now())
    audit.record(
        action="parking.road.create",
        obj=road,
        changes={"before": {}, "after": audit.snapshot(road, ROAD_FIELDS)},
    )
    return road


@transaction.atomic
def road_update(*, actor, road: Road, **fields) -> Road:
    """Change a road's code, name, status or managing unit; retiring needs no active segments."""
    unknown = set(fields) - ROAD_EDITABLE
    if unknown:
        raise TypeError(f"road_update() got unexpected fields: {', '.join(sorted(unknown))}")
    road = Road.objects.select_for_update().get(pk=road.pk)
    check_district_in_scope(actor, road.district_id)
    before = audit.snapshot(road, ROAD_FIELDS)
    for name, value in fields.items():
        setattr(road, name, value)
    if "managing_unit" in fields:
        check_managing_unit(road.managing_unit, road.district_id)
    if road.status == Road.Status.RETIRED and road.segments.exclude(status=Segment.Status.RETIRED).exists():
        raise ValidationError({"status": _("道路还有未撤销的路段，不能撤销。")}, code="has_active_segments")
    road.full_clean()
    changes = audit.diff(before, audit.snapshot(road, ROAD_FIELDS))
    if changes["after"]:
        road.save()
        version_roads([road], timezone.now())
        audit.record(action="parking.road.update", obj=road, changes=changes)
    return road


# ------------------------------------------------------------------------------------------
# Segments
# ------------------------------------------------------------------------------------------


def _check_segment(segment: Segment) -> None:
    validate_geometry(segment.geometry)
    point = geometry_point(segment.geometry)
    if point is not None:
        check_points_in_district([point[0]], [point[1]], segment.district, field="geometry")


@transaction.atomic
def segment_create(
    *,
    actor,
    road: Road,
    code: str,
    name: str,
    area_class: int,
    side: str = Segment.Side.BOTH,
    tariff_code: str = "",
    geometry: dict | None = None,
    length_cm: int | None = None,
    managing_unit: Unit | None = None,
    status: str = Segment.Status.ACTIVE,
) -> Segment:
    """Create a segment (CDS curb zone) on ``road``: its first version, audited."""
    road = Road.objects.select_related("district").get(pk=road.pk)
    check_district_in_scope(actor, road.district_id, field="road")
    if road.status != Road.Status.ACTIVE:
        raise ValidationError({"road": _("道路已撤销，不能新增路段。")}, code="road_retired")
    if status == Segment.Status.RETIRED:
        raise ValidationError({"status": _("新路段不能是撤销状态。")}, code="bad_status")
    unit = managing_unit or road.managing_unit
    check_managing_unit(unit, road.district_id)
    segment = Segment(
        road=road,
        district=road.district,
        managing_unit=unit,
        code=code,
        name=name,
        side=side,
        area_class=area_class,
        tariff_code=tariff_code,
        geometry=geometry or None,
        length_cm=length_cm,
        status=status,
    )
    segment.full_clean()
    _check_segment(segment)
    segment.save()
    _version_segment(segment, timezone.now())
    audit.record(
        action="parking.segment.create",
        obj=segment,
        changes={"before": {}, "after": audit.snapshot(segment, SEGMENT_FIELDS)},
    )
    return segment


@transaction.atomic
def segment_update(*, actor, segment: Segment, reason: str = "", **fields) -> Segment:
    """Change a segment; a new segment version, and new versions of its spaces when what they
    are billed under (area class, tariff, code, status) changed. Retire with :func:`segment_retire`."""
    unknown = set(fields) - SEGMENT_EDITABLE
    if unknown:
        raise TypeError(f"segment_update() got unexpected fields: {', '.join(sorted(unknown))}")
    segment = Segment.objects.select_for_update().select_related("district").get(pk=segment.pk)
    check_district_in_scope(actor, segment.district_id)
    if segment.status == Segment.Status.RETIRED:
        raise ValidationError(_("路段已撤销，不能修改。"), code="segment_retired")
    if fields.get("status") == Segment.Status.RETIRED:
        raise ValidationError({"status": _("撤销路段请使用“撤销”操作。")}, code="bad_status")
    road = fields.get("road")
    if road is not None and road.pk != segment.road_id:
        if road.district_id != segment.district_id:
            raise ValidationError({"road": _("路段不能调整到其他区的道路。")}, code="road_district_mismatch")
        if road.status != Road.Status.ACTIVE:
            raise ValidationError({"road": _("道路已撤销。")}, code="road_retired")
    before = audit.snapshot(segment, SEGMENT_FIELDS)
    for name, value in fields.items():
        setattr(segment, name, value)
    if "managing_unit" in fields:
        check_managing_unit(segment.managing_unit, segment.district_id)
    segment.full_clean()
    _check_segment(segment)
    changes = audit.diff(before, audit.snapshot(segment, SEGMENT_FIELDS))
    if not changes["after"]:
        return segment
    segment.save()
    now = timezone.now()
    _version_segment(segment, now)
    versioned = 0
    if any(k in changes["after"] for k in SPACE_RELEVANT_SEGMENT_FIELDS):
        spaces = list(segment.spaces.exclude(status=Space.Status.RETIRED))
        for space in spaces:
            space.segment = segment
        versioned = version_spaces(spaces, now)
    audit.record(
        action="parking.segment.update",
        obj=segment,
        changes={**changes, "space_versions": versioned},
        reason=reason,
    )
    return segment


@transaction.atomic
def segment_retire(*, actor, segment: Segment, reason: str = "") -> Segment:
    """Retire a segment and all its spaces (new versions for each). Refused while devices are
    still bound to it (rebind or retire them first)."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    check_district_in_scope(actor, segment.district_id)
    if segment.status == Segment.Status.RETIRED:
        return segment
    from ..models import Device

    bound = Device.objects.filter(Q(segment=segment) | Q(space__segment=segment)).exclude(
        status=Device.Status.RETIRED
    )
    if bound.exists():
        raise ValidationError(
            _("路段还绑定着 %(n)d 台设备，请先解绑或报废。") % {"n": bound.count()}, code="has_devices"
        )
    before = audit.snapshot(segment, SEGMENT_FIELDS)
    segment.status = Segment.Status.RETIRED
    segment.save(update_fields=["status", "updated_at"])
    now = timezone.now()
    _version_segment(segment, now)
    spaces = list(segment.spaces.exclude(status=Space.Status.RETIRED))
    for space in spaces:
        space.status = Space.Status.RETIRED
        space.segment = segment
    Space.objects.bulk_update(spaces, ["status"])
    version_spaces(spaces, now)
    _refresh_capacity([segment.pk])
    audit.record(
        action="parking.segment.retire",
        obj=segment,
        changes={
            **audit.diff(before, audit.snapshot(segment, SEGMENT_FIELDS)),
            "retired_spaces": [s.pk for s in spaces],
        },
        reason=reason,
    )
    return segment


# ------------------------------------------------------------------------------------------
# Spaces
# ------------------------------------------------------------------------------------------


def _writable_segment(actor, segment: Segment, *, field: str = "segment") -> Segment:
    segment = Segment.objects.select_related("district").get(pk=segment.pk)
    check_district_in_scope(actor, segment.district_id, field=field)
    if segment.status == Segment.Status.RETIRED:
        raise ValidationError({field: _("路段已撤销，不能新增或调入泊位。")}, code="segment_retired")
    return segment


@transaction.atomic
def space_create_bulk(*, actor, segment: Segment, rows: Sequence[dict], reason: str = "") -> list[Space]:
    """Create many spaces on one segment: all rows valid or none written; one audit entry.

    Each row: ``number``, ``lon``, ``lat`` (GCJ-02) and optionally ``space_type``,
    ``length_cm``, ``width_cm``. Errors name the row (1-based) and the field.
    """
    segment = _writable_segment(actor, segment)
    spaces: list[Space] = []
    seen: dict[str, int] = {}
    existing = set(Space.objects.filter(segment=segment).values_list("number", flat=True))
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - {"number", "lon", "lat", "space_type", "length_cm", "width_cm"}
        if unknown:
            raise TypeError(f"space row {i}: unexpected fields {', '.join(sorted(unknown))}")
        space = Space(segment=segment, district=segment.district, **row)
        try:
            space.full_clean(validate_unique=False, validate_constraints=False)
            number = str(space.number)
            if number in existing or number in seen:
                raise ValidationError(
                    {
                        "number": _("泊位编号 %(number)s 在路段 %(segment)s 中已存在。")
                        % {"number": number, "segment": segment.code}
                    },
                    code="duplicate_number",
                )
            check_points_in_district([space.lon], [space.lat], segment.district, field="lon")
        except ValidationError as exc:
            if len(rows) == 1:
                raise
            raise ValidationError(
                {"rows": [_("第 %(row)d 行：%(errors)s") % {"row": i, "errors": _flat(exc)}]},
                code="row_error",
            ) from exc
        seen[number] = i
        spaces.append(space)
    Space.objects.bulk_create(spaces)
    if connection_lacks_returning_ids(spaces):
        ids = dict(Space.objects.filter(segment=segment, number__in=list(seen)).values_list("number", "pk"))
        for space in spaces:
            space.pk = space.id = ids[space.number]
    version_spaces(spaces, timezone.now())
    _refresh_capacity([segment.pk])
    audit.record(
        action="parking.space.create" if len(spaces) == 1 else "parking.space.bulk_create",
        obj=spaces[0] if len(spaces) == 1 else segment,
        changes={"before": {}, "after": [audit.snapshot(s, ["id", *SPACE_FIELDS]) for s in spaces]}
        if len(spaces) != 1
        else {"before": {}, "after": audit.snapshot(spaces[0], SPACE_FIELDS)},
        reason=reason,
    )
    return spaces


def connection_lacks_returning_ids(objs) -> bool:
    return any(o.pk is None for o in objs)


def _flat(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def space_create(
    *,
    actor,
    segment: Segment,
    number: str,
    lon: float,
    lat: float,
    space_type: str = Space.Type.STANDARD,
    length_cm: int = 600,
    width_cm: int = 250,
) -> Space:
    """Create one space (CDS curb space) on a non-retired segment: first version, audited."""
    row = {
        "number": number,
        "lon": lon,
        "lat": lat,
        "space_type": space_type,
        "length_cm": length_cm,
        "width_cm": width_cm,
    }
    return space_create_bulk(actor=actor, segment=segment, rows=[row])[0]


@transaction.atomic
def space_update(*, actor, space: Space, reason: str = "", **fields) -> Space:
    """Change a space (number, position, type, status, or move it to another segment of the same
    district); a new space version when a versioned attribute changed. Retire with :func:`space_retire`."""
    unknown = set(fields) - SPACE_EDITABLE
    if unknown:
        raise TypeError(f"space_update() got unexpected fields: {', '.join(sorted(unknown))}")
    space = Space.objects.select_for_update().select_related("segment", "district").get(pk=space.pk)
    check_district_in_scope(actor, space.district_id)
    if space.status == Space.Status.RETIRED:
        raise ValidationError(_("泊位已撤销，不能修改。"), code="space_retired")
    if fields.get("status") == Space.Status.RETIRED:
        raise ValidationError({"status": _("撤销泊位请使用“撤销”操作。")}, code="bad_status")
    old_segment_id = space.segment_id
    new_segment = fields.get("segment")
    if new_segment is not None and new_segment.pk != old_segment_id:
        new_segment = _writable_segment(actor, new_segment)
        if new_segment.district_id != space.district_id:
            raise ValidationError(
                {"segment": _("泊位不能调整到其他区的路段。")}, code="segment_district_mismatch"
            )
        fields["segment"] = new_segment
    before = audit.snapshot(space, SPACE_FIELDS)
    for name, value in fields.items():
        setattr(space, name, value)
    space.full_clean()
    check_points_in_district([space.lon], [space.lat], space.district, field="lon")
    changes = audit.diff(before, audit.snapshot(space, SPACE_FIELDS))
    if not changes["after"]:
        return space
    space.save()
    now = timezone.now()
    version_spaces([space], now)
    moved = []
    if space.segment_id != old_segment_id:
        # A sensor goes with its space: its segment column and its binding period follow.
        from ..models import Device
        from .devices import version_bindings

        moved = list(
            Device.objects.select_for_update().filter(space=space).exclude(status=Device.Status.RETIRED)
        )
        for device in moved:
            device.space, device.segment = space, space.segment
        Device.objects.bulk_update(moved, ["segment"])
        version_bindings(moved, now)
    _refresh_capacity({old_segment_id, space.segment_id})
    audit.record(
        action="parking.space.update",
        obj=space,
        changes={**changes, **({"moved_devices": [d.pk for d in moved]} if moved else {})},
        reason=reason,
    )
    return space


@transaction.atomic
def space_retire(*, actor, space: Space, reason: str = "") -> Space:
    """Retire a space (its last version says so). Refused while a sensor is bound to it."""
    space = Space.objects.select_for_update().select_related("segment").get(pk=space.pk)
    check_district_in_scope(actor, space.district_id)
    if space.status == Space.Status.RETIRED:
        return space
    from ..models import Device

    if Device.objects.filter(space=space).exclude(status=Device.Status.RETIRED).exists():
        raise ValidationError(_("泊位还绑定着地磁设备，请先解绑或报废。"), code="has_devices")
    before = audit.snapshot(space, SPACE_FIELDS)
    space.status = Space.Status.RETIRED
    space.save(update_fields=["status", "updated_at"])
    version_spaces([space], timezone.now())
    _refresh_capacity([space.segment_id])
    audit.record(
        action="parking.space.retire",
        obj=space,
        changes=audit.diff(before, audit.snapshot(space, SPACE_FIELDS)),
        reason=reason,
    )
    return space


@transaction.atomic
def space_reactivate(*, actor, space: Space, reason: str = "") -> Space:
    """Bring a retired space back (status active, a new version); its segment must not be retired.

    Used by the change-set revert (services/changesets.py) to undo a planned retirement.
    """
    space = Space.objects.select_for_update().select_related("segment").get(pk=space.pk)
    check_district_in_scope(actor, space.district_id)
    if space.status != Space.Status.RETIRED:
        return space
    _writable_segment(actor, space.segment)
    before = audit.snapshot(space, SPACE_FIELDS)
    space.status = Space.Status.ACTIVE
    space.save(update_fields=["status", "updated_at"])
    version_spaces([space], timezone.now())
    _refresh_capacity([space.segment_id])
    audit.record(
        action="parking.space.reactivate",
        obj=space,
        changes=audit.diff(before, audit.snapshot(space, SPACE_FIELDS)),
        reason=reason,
    )
    return space
