"""GBFS 3.0 systems the platform publishes: one per operator plus ``beijing`` (all operators).

The feeds are built by the pure builders in :mod:`govcenter.bikeshare.gbfs` from

* the **live picture** (:mod:`govcenter.bikeshare.live`, ``GOVCENTER_BIKESHARE_LIVE_URL``):
  every bike's newest position (GCJ-02, published in WGS-84 — ADR 0005); bikes on a trip or
  ``removed``/``elsewhere`` are not published, ``reserved`` and ``non_operational`` are
  flagged;
* the operator units (names), Beijing's districts (regions), and the fences: until the fence
  registry exists, the seeded rail-station areas (``bikeshare/data/stations``).

A system's id is its operator unit's code in lower case with ``_`` (``OP-MEITUAN`` →
``op_meituan``). Published vehicle ids rotate (keyed HMAC-SM3 of the device id and its latest
report time, key derived from ``SECRET_KEY``): they change when a bike reports again, so a
trip cannot be followed across refreshes, and never reveal the device id. A built feed is
cached for its ``ttl`` (building ``vehicle_status`` for all of Beijing takes seconds).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import hmac_sm3
from govcenter.core.models import Unit, UnitKind

from .. import gbfs
from ..geo import rail_station_fences

TTL_SECONDS = 60
_PUBLISHED_STATES = {"available", "reserved", "non_operational"}
_CACHE_PREFIX = "bikeshare:gbfs:"
_SYSTEM_RE = re.compile(r"^[a-z0-9_]{1,64}$")


def system_id_for(unit: Unit) -> str:
    """``OP-MEITUAN`` → ``op_meituan`` (GBFS ids: letters, digits, ``_``)."""
    return re.sub(r"[^a-z0-9_]", "_", unit.code.lower())


def operator_systems() -> dict[str, Unit]:
    """``{system_id: operator unit}`` of the active operators, in code order."""
    units = Unit.objects.filter(kind=UnitKind.OPERATOR, is_active=True).order_by("code")
    return {system_id_for(u): u for u in units}


def _key() -> bytes:
    return hmac_sm3(settings.SECRET_KEY.encode(), b"govcenter:gbfs:vehicle-id")


def _bikes(operator_code: str | None) -> dict[str, np.ndarray]:
    """The bike columns of one operator (``None``: every operator) from the live picture."""
    from ..live import open_live_state

    url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "")
    states = []
    if url:
        with open_live_state(url) as live:
            states = [
                b
                for b in live.dump().values()
                if b.vehicle_state in _PUBLISHED_STATES and (operator_code is None or b.operator == operator_code)
            ]
    return {
        "device_id": np.array([b.device_id for b in states], dtype=object),
        "operator": np.array([b.operator for b in states], dtype=object),
        "lon": np.array([b.lon for b in states], dtype=np.float64),
        "lat": np.array([b.lat for b in states], dtype=np.float64),
        "rotation": np.array([b.timestamp_ms for b in states], dtype=np.int64),
        "last_reported": np.array([b.timestamp_ms for b in states], dtype=np.int64),
        "is_reserved": np.array([b.vehicle_state == "reserved" for b in states], dtype=bool),
        "is_disabled": np.array([b.vehicle_state == "non_operational" for b in states], dtype=bool),
        "vehicle_type_id": np.full(len(states), gbfs.BICYCLE.vehicle_type_id, dtype=object),
    }


def _names(unit: Unit) -> dict[str, str]:
    return {gbfs.LANG_ZH: unit.name_zh, gbfs.LANG_EN: unit.name_en or unit.name_zh}


def build_feed(system_id: str, feed: str, *, base_url: str, now: dt.datetime | None = None) -> dict:
    """One feed of one system (404 ``unknown_system`` / ``unknown_feed`` otherwise)."""
    now = now or timezone.now()
    systems = operator_systems()
    if system_id != gbfs.AGGREGATE_SYSTEM_ID and system_id not in systems:
        raise ServiceError(_("没有这个 GBFS 系统。"), code="unknown_system", status=404,
                           details={"system_id": [system_id]})
    if feed != "gbfs" and feed not in gbfs.PUBLISHED_FEEDS:
        raise ServiceError(_("没有这个 GBFS 数据源。"), code="unknown_feed", status=404,
                           details={"feed": [feed]})
    ttl = TTL_SECONDS
    if feed == "gbfs":
        return gbfs.gbfs_json(system_id, base_url, ttl=ttl, now=now)
    if feed == "system_regions":
        return gbfs.system_regions(ttl=ttl, now=now)
    if feed == "geofencing_zones":
        return gbfs.geofencing_zones(rail_station_fences(), ttl=ttl, now=now)
    aggregate = system_id == gbfs.AGGREGATE_SYSTEM_ID
    operator_codes = {sid: sid for sid in systems}
    if feed == "system_information":
        if aggregate:
            name_zh, name_en = "北京市互联网租赁自行车", "Beijing bike-share"
            operator_name = {gbfs.LANG_ZH: "北京市交通综合治理事务中心",
                             gbfs.LANG_EN: "Beijing Transport Comprehensive Governance Center"}
        else:
            unit = systems[system_id]
            name_zh, name_en, operator_name = unit.name_zh, unit.name_en or unit.name_zh, _names(unit)
        return gbfs.system_information(
            system_id, name_zh, name_en, operator_name,
            feed_contact_email=settings.GOVCENTER_BIKESHARE_GBFS_CONTACT_EMAIL,
            manifest_url=f"{base_url}/manifest.json", ttl=ttl, now=now,
        )
    if aggregate:
        types = gbfs.aggregate_vehicle_types(
            {code: [gbfs.BICYCLE] for code in operator_codes},
            {sid: _names(unit) for sid, unit in systems.items()},
        )
    else:
        types = [gbfs.BICYCLE]
    if feed == "vehicle_types":
        return gbfs.vehicle_types(types, ttl=ttl, now=now)
    # vehicle_status
    if aggregate:
        everyone = _bikes(None)
        by_operator = {}
        for sid, unit in systems.items():
            mask = everyone["operator"] == unit.code
            by_operator[sid] = {k: v[mask] for k, v in everyone.items() if k != "operator"}
        bikes = gbfs.aggregate_bikes(by_operator) if by_operator else {k: v for k, v in everyone.items() if k != "operator"}
    else:
        bikes = {k: v for k, v in _bikes(systems[system_id].code).items() if k != "operator"}
    return gbfs.vehicle_status(bikes, key=_key(), ttl=ttl, now=now, types=types)


def cached_feed(system_id: str, feed: str, *, base_url: str) -> dict:
    """:func:`build_feed`, cached for the feed's ttl (per system, feed and base URL)."""
    if not _SYSTEM_RE.match(system_id):
        raise ServiceError(_("没有这个 GBFS 系统。"), code="unknown_system", status=404,
                           details={"system_id": [system_id[:64]]})
    if feed != "gbfs" and feed not in gbfs.PUBLISHED_FEEDS:
        raise ServiceError(_("没有这个 GBFS 数据源。"), code="unknown_feed", status=404,
                           details={"feed": [feed[:64]]})
    key = f"{_CACHE_PREFIX}{system_id}:{feed}:{base_url}"
    data = cache.get(key)
    if data is None:
        data = build_feed(system_id, feed, base_url=base_url)
        cache.set(key, data, timeout=TTL_SECONDS)
    return data


def manifest_feed(*, base_url: str, now: dt.datetime | None = None) -> dict:
    """manifest.json: every system's gbfs.json."""
    now = now or timezone.now()
    ids = [*operator_systems(), gbfs.AGGREGATE_SYSTEM_ID]
    return gbfs.manifest({sid: f"{base_url}/{sid}/gbfs.json" for sid in ids}, ttl=TTL_SECONDS, now=now)
