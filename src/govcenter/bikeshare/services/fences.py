"""Fence registry writes: GeoJSON import, revision (a new version), retirement, the rail seed.

Every write is one transaction with one audit entry. An import is all-or-nothing per file:
:func:`govcenter.bikeshare.geo.parse_fences` checks every feature, and if any feature fails
(or names a district we do not have) nothing is written and the ServiceError lists every
problem of every feature (``details.errors``: index, feature_id, code, field, message).

:func:`active_fence_index` gives the live picture its :class:`~govcenter.bikeshare.geo.FenceIndex`
of parking and rail-station fences in force on a day. It is cached per process and keyed by
a generation number kept in the shared cache, which every fence write bumps on commit — so
every process rebuilds after a change, and only then. The commit also enqueues the task
``bikeshare.reassign_live_fences``, which re-places the live picture's parked bikes by the new
index (bikes that did not move may have entered or left a fence).
"""

from __future__ import annotations

import json
import threading
from datetime import date

import shapely
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import Datum
from govcenter.core.models import District

from ..geo import FenceFileError, FenceIndex, FenceKind, FenceSpec, parse_fences, rail_station_fences
from ..models import Fence, FenceVersion

GENERATION_KEY = "bikeshare:fences:generation"
INDEX_KINDS = (FenceKind.PARKING.value, FenceKind.RAIL_STATION.value)
FENCE_FIELDS = ["id", "uuid", "name", "kind", "station", "district_id", "version", "source_datum",
                "valid_from", "valid_to", "min_lon", "min_lat", "max_lon", "max_lat"]  # fmt: skip
SHAPE_FIELDS = ("name", "kind", "station", "geometry", "min_lon", "min_lat", "max_lon", "max_lat",
                "source_datum", "valid_from", "valid_to")  # fmt: skip


def active_q(day: date) -> Q:
    """Fences in force on ``day``: inside the (inclusive) validity dates, not retired by then."""
    return (
        (Q(valid_from__isnull=True) | Q(valid_from__lte=day))
        & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        & (Q(retired_at__isnull=True) | Q(retired_at__date__gt=day))
    )


def _shape(spec: FenceSpec) -> dict:
    """The model fields of a parsed fence."""
    min_lon, min_lat, max_lon, max_lat = spec.geometry.bounds
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "station": spec.station,
        "geometry": json.loads(shapely.to_geojson(spec.geometry)),
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "source_datum": spec.source_datum.value,
        "valid_from": spec.valid_from,
        "valid_to": spec.valid_to,
    }


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _parse(geojson, datum) -> tuple[list[FenceSpec], dict[str, District]]:
    """Parse a file; a 400 listing every feature's problems unless all of it is good."""
    try:
        fences = parse_fences(geojson, datum=datum)
    except FenceFileError as exc:
        raise ServiceError(exc.message, code=exc.code, details=exc.details) from None
    districts = {d.code: d for d in District.objects.filter(code__in={f.district for f in fences})}
    errors = fences.error_details()
    for spec in fences:
        if spec.district not in districts:
            errors.append(
                {
                    "index": spec.index,
                    "feature_id": spec.feature_id,
                    "code": "unknown_district",
                    "field": "district",
                    "message": _("行政区 %(code)s 未在系统中登记。") % {"code": spec.district},
                }
            )
    if errors:
        errors.sort(key=lambda e: e["index"])
        raise ServiceError(
            _("文件中有 %(n)d 个要素无效，未导入任何围栏。") % {"n": len({e["index"] for e in errors})},
            code="invalid_features",
            details={"feature_count": fences.feature_count, "errors": errors},
        )
    if not fences:
        raise ServiceError(_("文件中没有任何要素。"), code="empty_file", details={"feature_count": 0})
    return list(fences), districts


def _bump_generation() -> None:
    """On commit: a new generation (every process's next ``active_fence_index`` rebuilds), then
    the task that re-places the live picture's bikes by the new index (``bikeshare.tasks``)."""

    def bump():
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:
            cache.set(GENERATION_KEY, 1, timeout=None)

    def reassign():
        from ..tasks import reassign_live_fences_task

        reassign_live_fences_task()  # enqueued (run at once when Huey is immediate)

    transaction.on_commit(bump)
    # robust: the fence is written whatever happens to the queue; the consumer's own check
    # (consumer.FenceWatcher) and the nightly run re-assign anyway.
    transaction.on_commit(reassign, robust=True)


def _check_district(actor, district: District | None, specs) -> None:
    """Every fence must lie in ``district`` (when given) and in the actor's data scope."""
    if district is not None:
        wrong = [s for s in specs if s.district != district.code]
        if wrong:
            raise ServiceError(
                _("文件中有要素不在指定的行政区内。"),
                code="wrong_district",
                details={"indexes": [s.index for s in wrong], "district": district.code},
            )
    user = _user(actor)
    if user is not None:
        allowed = set(District.objects.restrict(user).values_list("code", flat=True))
        outside = [s for s in specs if s.district not in allowed]
        if outside:
            raise ServiceError(
                _("文件中有要素所在的行政区不在您的数据范围内。"),
                code="out_of_scope",
                status=403,
                details={
                    "indexes": [s.index for s in outside],
                    "districts": sorted({s.district for s in outside}),
                },
            )


def fences_import(actor, geojson, datum, district: District | None = None) -> list[Fence]:
    """Import a GeoJSON FeatureCollection of fences (declared ``datum``), all or nothing.

    ``district``: when given, every feature must lie in it (the district of a file from a
    district's staff). Each feature becomes a new :class:`Fence` with its version 1.
    """
    specs, districts = _parse(geojson, datum)
    _check_district(actor, district, specs)
    user = _user(actor)
    with transaction.atomic():
        fences = [Fence(district=districts[s.district], created_by=user, **_shape(s)) for s in specs]
        Fence.objects.bulk_create(fences, batch_size=1000)
        if any(f.pk is None for f in fences):  # backends without RETURNING
            by_uuid = dict(Fence.objects.filter(uuid__in=[f.uuid for f in fences]).values_list("uuid", "pk"))
            for fence in fences:
                fence.pk = by_uuid[fence.uuid]
        FenceVersion.objects.bulk_create(
            [
                FenceVersion(
                    fence=f,
                    uuid=f.uuid,
                    version=1,
                    created_by=user,
                    **{k: getattr(f, k) for k in SHAPE_FIELDS},
                )
                for f in fences
            ],
            batch_size=1000,
        )
        audit.record(
            action="bikeshare.fence.import",
            object_type="bikeshare.fence",
            object_repr=f"{len(fences)} fences ({Datum.parse(datum).value})",
            changes={
                "before": {},
                "after": {
                    "count": len(fences),
                    "source_datum": Datum.parse(datum).value,
                    "fences": [str(f.uuid) for f in fences],
                },
            },
        )
        _bump_generation()
    return fences


def fence_revise(actor, fence: Fence, geojson, datum) -> Fence:
    """Replace a fence's shape and attributes with a one-feature file: a new version.

    The previous version stays in :class:`FenceVersion`; the fence keeps its uuid.
    """
    specs, districts = _parse(geojson, datum)
    if len(specs) != 1:
        raise ServiceError(
            _("修订围栏须提交恰好一个要素。"), code="one_feature_required", details={"count": len(specs)}
        )
    spec = specs[0]
    _check_district(actor, None, specs)
    user = _user(actor)
    with transaction.atomic():
        fence = Fence.objects.select_for_update().get(pk=fence.pk)
        if fence.retired_at is not None:
            raise ServiceError(_("围栏已撤销，不能修订。"), code="fence_retired", status=409)
        before = audit.snapshot(fence, FENCE_FIELDS)
        for key, value in _shape(spec).items():
            setattr(fence, key, value)
        fence.district = districts[spec.district]
        fence.version += 1
        fence.save()
        FenceVersion.objects.create(
            fence=fence,
            version=fence.version,
            created_by=user,
            **{k: getattr(fence, k) for k in SHAPE_FIELDS},
        )
        audit.record(
            action="bikeshare.fence.revise",
            obj=fence,
            changes=audit.diff(before, audit.snapshot(fence, FENCE_FIELDS)),
        )
        _bump_generation()
    return fence


def fence_retire(actor, fence: Fence, reason: str = "") -> Fence:
    """Retire a fence: it stops applying today and stays on record (idempotent)."""
    with transaction.atomic():
        fence = Fence.objects.select_for_update().get(pk=fence.pk)
        if fence.retired_at is not None:
            return fence
        fence.retired_at = timezone.now()
        fence.save(update_fields=["retired_at", "updated_at"])
        audit.record(
            action="bikeshare.fence.retire",
            obj=fence,
            reason=reason[:500],
            changes={"before": {"retired_at": None}, "after": {"retired_at": fence.retired_at}},
        )
        _bump_generation()
    return fence


def fences_seed_rail_stations() -> dict:
    """Create the demo rail-station fences (``rail_station_fences()``), idempotent.

    Each seed fence is keyed by ``seed_key`` (``rail:<name>``): a second run creates nothing.
    Stations in a district not in the database are skipped (counted).
    """
    specs = rail_station_fences()
    if specs.errors:
        raise ServiceError(
            "the rail-station seed does not parse", code="bad_seed", details={"errors": specs.error_details()}
        )
    districts = {d.code: d for d in District.objects.filter(code__in={s.district for s in specs})}
    created = skipped = 0
    with transaction.atomic():
        existing = set(Fence.objects.exclude(seed_key="").values_list("seed_key", flat=True))
        new: list[Fence] = []
        for spec in specs:
            key = f"rail:{spec.feature_id or spec.name}"[:100]
            if key in existing:
                continue
            if spec.district not in districts:
                skipped += 1
                continue
            existing.add(key)
            new.append(Fence(district=districts[spec.district], seed_key=key, **_shape(spec)))
        for fence in new:
            fence.save()
            FenceVersion.objects.create(
                fence=fence, uuid=fence.uuid, version=1, **{k: getattr(fence, k) for k in SHAPE_FIELDS}
            )
        created = len(new)
        if new:
            audit.record(
                action="bikeshare.fence.seed_rail_stations",
                object_type="bikeshare.fence",
                object_repr=f"{created} rail-station fences",
                changes={"before": {}, "after": {"fences": [f.seed_key for f in new]}},
            )
            _bump_generation()
    return {"created": created, "skipped_unknown_district": skipped, "total": len(specs)}


# ------------------------------------------------------------------------------------------
# The active index for the live picture
# ------------------------------------------------------------------------------------------

_index_lock = threading.Lock()
_index_cache: dict[tuple[date, int], FenceIndex] = {}


def _generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 0, timeout=None)
        value = cache.get(GENERATION_KEY, 0)
    return int(value)


def active_index_key(day: date | None = None) -> tuple[date, int]:
    """What :func:`active_fence_index` is cached by: (``day`` or today, the fence generation).

    Cheap (one shared-cache read): a long-running process compares it every few seconds and
    asks for the index again only when it changed (``consumer.FenceWatcher``).
    """
    return (day or timezone.localdate(), _generation())


def active_fence_index(day: date | None = None) -> FenceIndex:
    """A :class:`FenceIndex` of the parking and rail-station fences in force on ``day`` (today).

    ``index.fence_ids[i]`` is the :class:`Fence` pk of the index's fence ``i`` (ordered by pk).
    Cached per process per (day, generation); any fence write bumps the generation. The live
    picture stores ``fence_ids`` (not positions), so its stored fences survive a new index.
    """
    key = active_index_key(day)
    day = key[0]
    with _index_lock:
        index = _index_cache.get(key)
        if index is not None:
            return index
    rows = list(
        Fence.objects.filter(active_q(day), kind__in=INDEX_KINDS).order_by("pk").values_list("pk", "geometry")
    )
    geometries = shapely.from_geojson([json.dumps(g) for _pk, g in rows]) if rows else []
    index = FenceIndex(list(geometries))
    index.fence_ids = tuple(pk for pk, _g in rows)
    with _index_lock:
        _index_cache.clear()  # one day and generation at a time: older entries are stale
        _index_cache[key] = index
    return index
