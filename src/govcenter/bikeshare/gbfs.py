"""GBFS 3.0 feeds of the bike-share systems: pure builders from plain inputs to feed dicts.

The platform publishes one GBFS system per operator (``system_id`` = the operator code) and
the aggregated system ``beijing`` (every operator's bikes in one feed). Each builder here
takes plain values — numpy columns, :class:`~govcenter.bikeshare.geo.FenceSpec` lists,
district records — and returns the feed as a JSON-ready dict; no models, no views, no I/O.
The API layer serves them at ``/api/v1/bikeshare/gbfs/{system_id}/{feed}.json``
(:func:`feed_url`).

Every feed is the GBFS envelope ``{"last_updated", "ttl", "version": "3.0", "data"}``;
timestamps are RFC 3339 in Beijing time (``+08:00``). The official JSON Schemas are vendored
in ``data/gbfs/`` (see PROVENANCE.md there); the tests validate every builder's output
against them. The runtime does not need ``jsonschema``.

Datum (ADR 0005): positions and fences are stored in **GCJ-02** and published in
**WGS-84** (GBFS and RFC 7946 know no other datum) with the iterative inverse of
:mod:`govcenter.core.geo` (≤ 3.7 × 10⁻⁷ m), vectorised, rounded to
:data:`COORD_DECIMALS` decimals (1.1 cm).

Privacy: GBFS requires that a free-floating ``vehicle_id`` is *rotated after each trip*
(so nobody can chain a bike's rides into trips from someone's door). The published id is
``HMAC-SM3(key, id_prefix ‖ device_id ‖ rotation)`` truncated to 128 bits (hex), where
``rotation`` is any value that changes when a trip ends — the end time of the bike's last
trip. Without the secret ``key`` the id neither reveals the device id nor can be linked to
the id the bike had before its last trip; with the same key and no new trip it stays stable
(so an app can hand a bike over to the operator's app). Rotating the key (e.g. daily)
additionally unlinks idle bikes. Bikes on a trip are never published.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from govcenter.bikeshare.geo import FenceKind, FenceSpec, convert_geometry
from govcenter.core.crypto import hmac_sm3
from govcenter.core.districts import DISTRICTS, DistrictInfo
from govcenter.core.geo import Datum, gcj02_to_wgs84

if TYPE_CHECKING:
    from govcenter.bikeshare.synth import SyntheticDay

GBFS_VERSION = "3.0"
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "gbfs"
TIMEZONE = "Asia/Shanghai"
BEIJING = ZoneInfo(TIMEZONE)
AGGREGATE_SYSTEM_ID = "beijing"
# The schemas' language pattern is ^[a-z]{2,3}(-[A-Z]{2})?$ — "zh-Hans" is rejected, so
# Simplified Chinese is tagged "zh-CN" (Chinese as written in mainland China).
LANG_ZH = "zh-CN"
LANG_EN = "en"
LANGUAGES: tuple[str, ...] = (LANG_ZH, LANG_EN)
COORD_DECIMALS = 7  # 1e-7° ≈ 1.1 cm: far below GPS accuracy, far below the 1e-6° round-trip bound
VEHICLE_ID_HEX_CHARS = 32  # 128 bits of the HMAC: no collision among millions of bikes
MIN_KEY_BYTES = 16
# Every feed name GBFS 3.0 defines (gbfs.json's enum), and the ones the platform publishes.
FEED_NAMES = frozenset(
    {
        "gbfs",
        "gbfs_versions",
        "system_information",
        "vehicle_types",
        "station_information",
        "station_status",
        "vehicle_status",
        "system_alerts",
        "system_regions",
        "system_pricing_plans",
        "geofencing_zones",
    }
)
PUBLISHED_FEEDS: tuple[str, ...] = (
    "system_information",
    "vehicle_types",
    "vehicle_status",
    "geofencing_zones",
    "system_regions",
)
FORM_FACTORS = frozenset(
    {"bicycle", "cargo_bicycle", "car", "moped", "scooter_standing", "scooter_seated", "other"}
)
PROPULSION_TYPES = frozenset(
    {
        "human",
        "electric_assist",
        "electric",
        "combustion",
        "combustion_diesel",
        "hybrid",
        "plug_in_hybrid",
        "hydrogen_fuel_cell",
    }
)
RETURN_CONSTRAINTS = frozenset({"free_floating", "roundtrip_station", "any_station", "hybrid"})

_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")
_OPERATOR_CODE_RE = re.compile(r"^[a-z0-9_]+$")  # no "-": it separates the aggregate's prefixes
_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# Asia/Shanghai has been UTC+8 without daylight saving since 1991-09: from 1992 on a fixed
# offset formats timestamps exactly (vectorised); earlier ones go through zoneinfo.
_FIXED_OFFSET_SINCE_MS = int(dt.datetime(1992, 1, 1, tzinfo=BEIJING).timestamp() * 1000)
_OFFSET_S = 8 * 3600
_SYNTH_NAMESPACE = uuid.UUID("6c1f3a52-6f0e-4a7c-9a51-2f7e0b9d3c11")


# ---------------------------------------------------------------------------------------
# Common parts
# ---------------------------------------------------------------------------------------


def rfc3339(moment: dt.datetime) -> str:
    """``moment`` as RFC 3339 in Beijing time, to the second (``2026-11-26T08:00:00+08:00``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("GBFS timestamps need a time zone: got a naive datetime")
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def rfc3339_ms(epoch_ms) -> np.ndarray:
    """Epoch milliseconds (array) → RFC 3339 strings in Beijing time, to the second, vectorised."""
    ms = np.asarray(epoch_ms, dtype=np.int64).ravel()
    if not ms.size:
        return np.array([], dtype=str)
    if int(ms.min()) < _FIXED_OFFSET_SINCE_MS:
        return np.array(
            [rfc3339(dt.datetime.fromtimestamp(v / 1000, BEIJING)) for v in ms.tolist()], dtype=str
        )
    local = (np.floor_divide(ms, 1000) + _OFFSET_S).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s"), "+08:00")


def _check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int | np.integer) or ttl < 0:
        raise ValueError(f"ttl must be a non-negative integer number of seconds, not {ttl!r}")
    return int(ttl)


def envelope(data: dict, *, ttl: int, now: dt.datetime) -> dict:
    """The GBFS 3.0 feed around ``data``: last_updated (RFC 3339), ttl, version "3.0"."""
    return {"last_updated": rfc3339(now), "ttl": _check_ttl(ttl), "version": GBFS_VERSION, "data": data}


def _check_language(language: str) -> str:
    if not isinstance(language, str) or not _LANGUAGE_RE.match(language):
        raise ValueError(f"language {language!r} is not a tag the GBFS schemas accept (e.g. zh-CN, en)")
    return language


def localized(texts: Mapping[str, str] | str, *, language: str = LANG_ZH) -> list[dict]:
    """A GBFS 3.0 localized string: ``[{"text", "language"}, …]`` (one entry per language).

    ``texts`` maps language tags to texts; a plain string is taken as ``language``. Empty
    texts are left out (GBFS forbids empty strings); at least one must remain.
    """
    if isinstance(texts, str):
        texts = {language: texts}
    entries = [
        {"text": text.strip(), "language": _check_language(tag)}
        for tag, text in texts.items()
        if isinstance(text, str) and text.strip()
    ]
    if not entries:
        raise ValueError("a localized string needs at least one non-empty text")
    return entries


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http(s) URL, not {url!r}")
    return url


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValueError(f"{what} {value!r}: use letters, digits, '.', '_' or '-' only")
    return value


def feed_url(base_url: str, system_id: str, feed: str) -> str:
    """Where a feed is served: ``{base_url}/{system_id}/{feed}.json``.

    ``base_url`` is the absolute URL of the GBFS root, e.g.
    ``https://host/api/v1/bikeshare/gbfs``.
    """
    _check_url(base_url, "base_url")
    if feed not in FEED_NAMES:
        raise ValueError(f"unknown GBFS feed {feed!r}")
    return f"{base_url.rstrip('/')}/{_check_id(system_id, 'system_id')}/{feed}.json"


# ---------------------------------------------------------------------------------------
# gbfs.json, manifest.json
# ---------------------------------------------------------------------------------------


def gbfs_json(
    system_id: str,
    base_url: str,
    feeds: Sequence[str] = PUBLISHED_FEEDS,
    *,
    ttl: int,
    now: dt.datetime,
) -> dict:
    """The auto-discovery file of one system: every published feed with its URL.

    GBFS requires ``system_information`` and one of ``vehicle_status``/``station_status``.
    """
    feeds = list(feeds)
    unknown = sorted(set(feeds) - FEED_NAMES)
    if unknown:
        raise ValueError(f"unknown GBFS feeds: {unknown}")
    if len(set(feeds)) != len(feeds):
        raise ValueError("a feed is listed twice")
    if "system_information" not in feeds or not {"vehicle_status", "station_status"} & set(feeds):
        raise ValueError("gbfs.json must list system_information and vehicle_status (or station_status)")
    return envelope(
        {"feeds": [{"name": name, "url": feed_url(base_url, system_id, name)} for name in feeds]},
        ttl=ttl,
        now=now,
    )


def manifest(datasets: Mapping[str, str], *, ttl: int, now: dt.datetime) -> dict:
    """manifest.json: the gbfs.json URL of every system (``{system_id: url}``) the platform serves."""
    if not datasets:
        raise ValueError("a manifest lists at least one system")
    return envelope(
        {
            "datasets": [
                {
                    "system_id": _check_id(system_id, "system_id"),
                    "versions": [{"version": GBFS_VERSION, "url": _check_url(url, "gbfs.json URL")}],
                }
                for system_id, url in datasets.items()
            ]
        },
        ttl=ttl,
        now=now,
    )


# ---------------------------------------------------------------------------------------
# system_information.json, system_regions.json
# ---------------------------------------------------------------------------------------


def system_information(
    system_id: str,
    name_zh: str,
    name_en: str,
    operator_name: Mapping[str, str] | str,
    *,
    feed_contact_email: str,
    ttl: int,
    now: dt.datetime,
    timezone: str = TIMEZONE,
    languages: Sequence[str] = LANGUAGES,
    opening_hours: str = "24/7",
    short_name: Mapping[str, str] | str | None = None,
    url: str | None = None,
    manifest_url: str | None = None,
    phone_number: str | None = None,
    email: str | None = None,
    license_id: str | None = None,
    license_url: str | None = None,
    start_date: dt.date | None = None,
) -> dict:
    """system_information.json of one system.

    ``operator_name`` is ``{language: text}`` (or one Chinese text). ``opening_hours`` is
    OSM opening_hours syntax. Give at most one of ``license_id`` (SPDX) and ``license_url``.
    ``manifest_url`` should be set: the platform publishes several systems.
    """
    languages = [_check_language(tag) for tag in languages]
    if not languages:
        raise ValueError("a system needs at least one language")
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc
    if "@" not in feed_contact_email:
        raise ValueError(f"feed_contact_email {feed_contact_email!r} is not an e-mail address")
    if license_id and license_url:
        raise ValueError("give license_id or license_url, not both")
    data: dict[str, Any] = {
        "system_id": _check_id(system_id, "system_id"),
        "languages": languages,
        "name": localized({LANG_ZH: name_zh, LANG_EN: name_en}),
        "operator": localized(operator_name),
        "opening_hours": opening_hours,
        "feed_contact_email": feed_contact_email,
        "timezone": timezone,
    }
    if short_name:
        data["short_name"] = localized(short_name)
    if url:
        data["url"] = _check_url(url, "url")
    if manifest_url:
        data["manifest_url"] = _check_url(manifest_url, "manifest_url")
    if phone_number:
        if not _E164_RE.match(phone_number):
            raise ValueError(f"phone_number {phone_number!r} is not E.164 (+8610…)")
        data["phone_number"] = phone_number
    if email:
        data["email"] = email
    if license_id:
        data["license_id"] = license_id
    if license_url:
        data["license_url"] = _check_url(license_url, "license_url")
    if start_date:
        data["start_date"] = start_date.isoformat()
    return envelope(data, ttl=ttl, now=now)


def system_regions(districts: Iterable[DistrictInfo] = DISTRICTS, *, ttl: int, now: dt.datetime) -> dict:
    """system_regions.json: one region per district (``region_id`` = GB/T 2260 code)."""
    regions = [
        {"region_id": d.code, "name": localized({LANG_ZH: d.name_zh, LANG_EN: d.name_en})} for d in districts
    ]
    return envelope({"regions": regions}, ttl=ttl, now=now)


# ---------------------------------------------------------------------------------------
# vehicle_types.json
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VehicleType:
    """One vehicle type of a system. Motorised types (anything but ``human``) need a range."""

    vehicle_type_id: str
    name_zh: str
    name_en: str
    form_factor: str = "bicycle"
    propulsion_type: str = "human"
    max_range_meters: float | None = None
    wheel_count: int | None = 2
    rider_capacity: int | None = 1
    max_permitted_speed: int | None = None  # km/h
    return_constraint: str = "free_floating"

    def __post_init__(self) -> None:
        _check_id(self.vehicle_type_id, "vehicle_type_id")
        if self.form_factor not in FORM_FACTORS:
            raise ValueError(f"unknown form_factor {self.form_factor!r}")
        if self.propulsion_type not in PROPULSION_TYPES:
            raise ValueError(f"unknown propulsion_type {self.propulsion_type!r}")
        if self.return_constraint not in RETURN_CONSTRAINTS:
            raise ValueError(f"unknown return_constraint {self.return_constraint!r}")
        if self.motorized and not (self.max_range_meters and self.max_range_meters > 0):
            raise ValueError(
                f"vehicle type {self.vehicle_type_id!r} is motorised: max_range_meters is required"
            )

    @property
    def motorized(self) -> bool:
        return self.propulsion_type != "human"

    def as_gbfs(self) -> dict:
        item: dict[str, Any] = {
            "vehicle_type_id": self.vehicle_type_id,
            "form_factor": self.form_factor,
            "propulsion_type": self.propulsion_type,
            "name": localized({LANG_ZH: self.name_zh, LANG_EN: self.name_en}),
            "return_constraint": self.return_constraint,
        }
        if self.max_range_meters is not None:
            item["max_range_meters"] = float(self.max_range_meters)
        for key in ("wheel_count", "rider_capacity", "max_permitted_speed"):
            value = getattr(self, key)
            if value is not None:
                item[key] = int(value)
        return item


BICYCLE = VehicleType("bicycle", name_zh="自行车", name_en="Bicycle")


def ebike(max_range_meters: float, *, vehicle_type_id: str = "ebike") -> VehicleType:
    """An electric-assist bicycle (pedelec) type; the range is the operator's figure."""
    return VehicleType(
        vehicle_type_id,
        name_zh="助力自行车",
        name_en="E-bike",
        propulsion_type="electric_assist",
        max_range_meters=max_range_meters,
    )


def vehicle_types(types: Sequence[VehicleType], *, ttl: int, now: dt.datetime) -> dict:
    """vehicle_types.json."""
    ids = [t.vehicle_type_id for t in types]
    if len(set(ids)) != len(ids):
        raise ValueError("vehicle_type_id values must be unique")
    return envelope({"vehicle_types": [t.as_gbfs() for t in types]}, ttl=ttl, now=now)


# ---------------------------------------------------------------------------------------
# vehicle_status.json
# ---------------------------------------------------------------------------------------


def rotating_vehicle_ids(device_ids, rotation, *, key: bytes, prefix=None) -> np.ndarray:
    """The published, rotating ``vehicle_id`` of each bike (see the module docstring).

    ``prefix`` (a string, or one per bike) is written before the hash and is part of the
    hashed message: the aggregated system uses the operator code, which keeps the ids of
    different operators apart even when their device ids coincide.
    """
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the vehicle-id key must be a secret of at least {MIN_KEY_BYTES} bytes")
    devices = np.asarray(device_ids).ravel()
    rotations = np.asarray(rotation).ravel()
    if devices.shape != rotations.shape:
        raise ValueError("device_ids and rotation must have the same length")
    prefixes = np.broadcast_to(np.asarray("" if prefix is None else prefix, dtype=object), devices.shape)
    key = bytes(key)
    out = [
        p + hmac_sm3(key, f"gbfs-vehicle-id\x1f{p}\x1f{d}\x1f{r}".encode()).hex()[:VEHICLE_ID_HEX_CHARS]
        for p, d, r in zip(prefixes.tolist(), devices.tolist(), rotations.tolist(), strict=True)
    ]
    return np.array(out, dtype=object)


def _column(bikes: Mapping[str, Any], name: str, n: int, default=None, dtype=None) -> np.ndarray | None:
    if name not in bikes or bikes[name] is None:
        if default is None:
            return None
        return np.full(n, default, dtype=dtype)
    value = np.asarray(bikes[name], dtype=dtype)
    if value.ndim == 0:
        return np.full(n, value.item(), dtype=dtype if dtype is not None else value.dtype)
    if value.shape != (n,):
        raise ValueError(f"bike column {name!r} has {value.shape[0]} values for {n} bikes")
    return value


def vehicle_status(
    bikes: Mapping[str, Any],
    *,
    key: bytes,
    ttl: int,
    now: dt.datetime,
    types: Sequence[VehicleType] | None = None,
) -> dict:
    """vehicle_status.json from columns of equal length (numpy arrays or lists).

    Columns: ``device_id`` (the operator's id, never published), ``lon``/``lat`` (GCJ-02),
    ``rotation`` (changes when a trip ends: the last trip's end time; drives the rotating
    ``vehicle_id``). Optional: ``vehicle_type_id`` (one per bike or one for all),
    ``is_reserved``, ``is_disabled``, ``on_trip`` (bikes on a trip are left out, as GBFS
    requires), ``last_reported`` (epoch ms), ``current_range_meters`` (NaN = unknown),
    ``id_prefix`` (one per bike or one for all; set by :func:`aggregate_bikes`).

    Bikes without a finite position are left out (a free-floating bike needs lat/lon).
    With ``types``, every ``vehicle_type_id`` must be one of them and a bike of a motorised
    type must have a ``current_range_meters`` (GBFS makes it required for those).
    """
    devices = np.asarray(bikes["device_id"]).ravel()
    n = len(devices)
    lon = _column(bikes, "lon", n, dtype=np.float64)
    lat = _column(bikes, "lat", n, dtype=np.float64)
    rotation = _column(bikes, "rotation", n)
    if lon is None or lat is None or rotation is None:
        raise ValueError("bikes need the columns device_id, lon, lat and rotation")
    on_trip = _column(bikes, "on_trip", n, False, bool)
    reserved = _column(bikes, "is_reserved", n, False, bool)
    disabled = _column(bikes, "is_disabled", n, False, bool)
    type_ids = _column(bikes, "vehicle_type_id", n, dtype=object)
    last_reported = _column(bikes, "last_reported", n, dtype=np.int64)
    range_m = _column(bikes, "current_range_meters", n, dtype=np.float64)
    prefix = _column(bikes, "id_prefix", n, dtype=object)

    keep = ~on_trip & np.isfinite(lon) & np.isfinite(lat)
    idx = np.flatnonzero(keep)
    if types is not None:
        by_id = {t.vehicle_type_id: t for t in types}
        if type_ids is None:
            raise ValueError("vehicle_type_id is required when the system has vehicle types")
        unknown = set(type_ids[idx].tolist()) - set(by_id)
        if unknown:
            raise ValueError(f"bikes of unknown vehicle types: {sorted(unknown)}")
        motorized = np.array([by_id[t].motorized for t in type_ids[idx].tolist()], dtype=bool)
        no_range = motorized & ~(
            np.isfinite(range_m[idx]) if range_m is not None else np.zeros(len(idx), bool)
        )
        if no_range.any():
            raise ValueError(f"{int(no_range.sum())} motorised bikes have no current_range_meters")

    wlon, wlat = gcj02_to_wgs84(lon[idx], lat[idx])
    wlon = np.round(wlon, COORD_DECIMALS)
    wlat = np.round(wlat, COORD_DECIMALS)
    ids = rotating_vehicle_ids(
        devices[idx], rotation[idx], key=key, prefix=None if prefix is None else prefix[idx]
    )

    columns: dict[str, list] = {
        "vehicle_id": ids.tolist(),
        "lat": wlat.tolist(),
        "lon": wlon.tolist(),
        "is_reserved": reserved[idx].tolist(),
        "is_disabled": disabled[idx].tolist(),
    }
    if type_ids is not None:
        columns["vehicle_type_id"] = [str(t) for t in type_ids[idx].tolist()]
    if last_reported is not None:
        columns["last_reported"] = rfc3339_ms(last_reported[idx]).tolist()
    names = list(columns)
    vehicles = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    if range_m is not None:
        for vehicle, value in zip(vehicles, range_m[idx].tolist(), strict=True):
            if np.isfinite(value):
                vehicle["current_range_meters"] = max(float(value), 0.0)
    return envelope({"vehicles": vehicles}, ttl=ttl, now=now)


# ---------------------------------------------------------------------------------------
# geofencing_zones.json
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A GBFS geofencing rule (``vehicle_type_ids`` empty = every type)."""

    ride_start_allowed: bool = True
    ride_end_allowed: bool = True
    ride_through_allowed: bool = True
    vehicle_type_ids: tuple[str, ...] = ()
    maximum_speed_kph: int | None = None

    def as_gbfs(self) -> dict:
        rule: dict[str, Any] = {}
        if self.vehicle_type_ids:
            rule["vehicle_type_ids"] = list(self.vehicle_type_ids)
        rule.update(
            ride_start_allowed=self.ride_start_allowed,
            ride_end_allowed=self.ride_end_allowed,
            ride_through_allowed=self.ride_through_allowed,
        )
        if self.maximum_speed_kph is not None:
            rule["maximum_speed_kph"] = int(self.maximum_speed_kph)
        return rule


# What each fence kind means for a rider. A no-parking zone forbids ending a ride but not
# starting one (a bike wrongly left there must be ridden away) nor riding through; parking
# areas and rail-station areas are where rides may end.
KIND_RULES: dict[FenceKind, Rule] = {
    FenceKind.NO_PARKING: Rule(ride_end_allowed=False),
    FenceKind.PARKING: Rule(),
    FenceKind.RAIL_STATION: Rule(),
}
_KIND_ORDER = {FenceKind.NO_PARKING: 0, FenceKind.RAIL_STATION: 1, FenceKind.PARKING: 2}


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=BEIJING)


def _ring(coords) -> list:
    return np.round(np.asarray(coords)[:, :2], COORD_DECIMALS).tolist()


def _multipolygon_coordinates(geometry) -> list:
    polygons = geometry.geoms if isinstance(geometry, shapely.MultiPolygon) else [geometry]
    return [[_ring(p.exterior.coords), *(_ring(r.coords) for r in p.interiors)] for p in polygons]


def _fence_name(fence: FenceSpec) -> list[dict]:
    texts = {LANG_ZH: fence.name}
    name_en = fence.properties.get("name_en")
    station_en = fence.properties.get("station_en")
    if isinstance(name_en, str) and name_en.strip():
        texts[LANG_EN] = name_en
    elif fence.kind == FenceKind.RAIL_STATION and isinstance(station_en, str) and station_en.strip():
        texts[LANG_EN] = f"{station_en.strip()} Station area"
    return localized(texts)


def geofencing_zones(
    fences: Sequence[FenceSpec],
    *,
    ttl: int,
    now: dt.datetime,
    global_rule: Rule = Rule(),
    vehicle_type_ids: Sequence[str] = (),
    kind_rules: Mapping[FenceKind, Rule] | None = None,
) -> dict:
    """geofencing_zones.json from fences (GCJ-02), published as WGS-84 MultiPolygons.

    Each fence becomes one zone with the rule of its kind (:data:`KIND_RULES`, or
    ``kind_rules``), restricted to ``vehicle_type_ids`` if given. ``global_rule`` applies
    outside every zone: the default lets rides end anywhere; ``Rule(ride_end_allowed=False)``
    publishes "end rides only inside parking/station areas" (入栏结算).

    Fences whose validity ended before today (Beijing) are left out; the others carry
    ``start``/``end`` when they have validity dates (``end`` is the midnight after
    ``valid_to``). GBFS gives precedence to the zone listed first where zones overlap, so
    zones are listed smallest first: a parking bay painted inside a no-parking square, or a
    no-parking strip inside a parking area, overrides the larger zone around it.
    Rings follow the RFC 7946 right-hand rule (exteriors counter-clockwise).
    """
    rules = dict(KIND_RULES)
    rules.update(kind_rules or {})
    type_ids = tuple(vehicle_type_ids)
    today = now.astimezone(BEIJING).date()
    live = [f for f in fences if f.valid_to is None or f.valid_to >= today]
    features: list[dict] = []
    if live:
        geometries = np.array([f.geometry for f in live], dtype=object)
        wgs = shapely.orient_polygons(
            convert_geometry(geometries, Datum.GCJ02, Datum.WGS84), exterior_cw=False
        )
        areas = shapely.area(wgs)
        order = sorted(range(len(live)), key=lambda k: (areas[k], _KIND_ORDER[live[k].kind], live[k].index))
        for k in order:
            fence = live[k]
            rule = rules[fence.kind]
            if type_ids:
                rule = replace(rule, vehicle_type_ids=type_ids)
            properties: dict[str, Any] = {"name": _fence_name(fence)}
            if fence.valid_from:
                properties["start"] = rfc3339(_day_start(fence.valid_from))
            if fence.valid_to:
                properties["end"] = rfc3339(_day_start(fence.valid_to + dt.timedelta(days=1)))
            properties["rules"] = [rule.as_gbfs()]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "MultiPolygon", "coordinates": _multipolygon_coordinates(wgs[k])},
                    "properties": properties,
                }
            )
    global_ = replace(global_rule, vehicle_type_ids=type_ids) if type_ids else global_rule
    return envelope(
        {
            "geofencing_zones": {"type": "FeatureCollection", "features": features},
            "global_rules": [global_.as_gbfs()],
        },
        ttl=ttl,
        now=now,
    )


# ---------------------------------------------------------------------------------------
# The aggregated system
# ---------------------------------------------------------------------------------------

_FLAG_COLUMNS = ("on_trip", "is_reserved", "is_disabled")


def _check_operator(code: str) -> str:
    if not isinstance(code, str) or not _OPERATOR_CODE_RE.match(code):
        raise ValueError(f"operator code {code!r}: use lower-case letters, digits and '_'")
    return code


def aggregate_bikes(bikes_by_operator: Mapping[str, Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Every operator's bike columns as one system's columns (for ``beijing``).

    Each bike gets ``id_prefix`` = ``"<operator>-"`` (so vehicle ids stay unique and show
    whose bike it is) and its ``vehicle_type_id`` becomes ``"<operator>-<type>"`` (the
    operators' types differ, e.g. in range): pair with :func:`aggregate_vehicle_types`.
    Optional columns missing for some operators get their defaults (flags false, range
    unknown); ``last_reported`` must be given for all operators or none.
    """
    parts: list[dict[str, np.ndarray]] = []
    names: set[str] = set()
    for code, bikes in bikes_by_operator.items():
        _check_operator(code)
        n = len(np.asarray(bikes["device_id"]).ravel())
        part = {name: _column(bikes, name, n) for name in bikes if bikes[name] is not None}
        part["id_prefix"] = np.full(n, f"{code}-", dtype=object)
        if "vehicle_type_id" in part:
            part["vehicle_type_id"] = np.array(
                [f"{code}-{t}" for t in part["vehicle_type_id"].tolist()], dtype=object
            )
        parts.append(part)
        names |= set(part)
    if not parts:
        raise ValueError("no operators to aggregate")
    if "last_reported" in names and not all("last_reported" in p for p in parts):
        raise ValueError("last_reported is given for some operators only")
    if "vehicle_type_id" in names and not all("vehicle_type_id" in p for p in parts):
        raise ValueError("vehicle_type_id is given for some operators only")
    merged: dict[str, np.ndarray] = {}
    for name in sorted(names):
        columns = []
        for part in parts:
            n = len(part["device_id"])
            if name in part:
                columns.append(part[name])
            elif name in _FLAG_COLUMNS:
                columns.append(np.zeros(n, dtype=bool))
            elif name == "current_range_meters":
                columns.append(np.full(n, np.nan))
            else:
                raise ValueError(f"column {name!r} is given for some operators only")
        merged[name] = np.concatenate(
            [np.asarray(c, dtype=object) if c.dtype.kind in "OUS" else c for c in columns]
        )
    return merged


def aggregate_vehicle_types(
    types_by_operator: Mapping[str, Sequence[VehicleType]],
    operator_names: Mapping[str, Mapping[str, str]] | None = None,
) -> list[VehicleType]:
    """The operators' vehicle types with ``"<operator>-"`` ids (see :func:`aggregate_bikes`).

    ``operator_names`` (``{code: {language: name}}``) prefixes the type names, e.g.
    ``美团单车 自行车`` / ``Meituan Bicycle``.
    """
    out: list[VehicleType] = []
    for code, types in types_by_operator.items():
        _check_operator(code)
        names = (operator_names or {}).get(code, {})
        for t in types:
            out.append(
                replace(
                    t,
                    vehicle_type_id=f"{code}-{t.vehicle_type_id}",
                    name_zh=f"{names[LANG_ZH]} {t.name_zh}" if names.get(LANG_ZH) else t.name_zh,
                    name_en=f"{names[LANG_EN]} {t.name_en}" if names.get(LANG_EN) else t.name_en,
                )
            )
    return out


# ---------------------------------------------------------------------------------------
# A demo source: the synthetic day
# ---------------------------------------------------------------------------------------


def synthetic_device_id(operator: str, serial: int) -> str:
    """A stable UUID for a synthetic bike (what an operator would register as device_id)."""
    return str(uuid.uuid5(_SYNTH_NAMESPACE, f"{operator}/{int(serial)}"))


def bikes_from_synthetic_day(
    day: SyntheticDay, at: dt.datetime, *, operator: str | None = None, vehicle_type_id: str = "bicycle"
) -> dict[str, np.ndarray]:
    """The bike columns :func:`vehicle_status` takes, as the synthetic day stands at ``at``.

    A bike is where its last finished trip ended (or at home before its first trip);
    ``on_trip`` where a trip spans ``at``; ``rotation`` and ``last_reported`` are the end of
    the last finished trip (the start of the day before any). ``operator`` keeps that
    operator's bikes only. Positions GCJ-02, as stored.
    """
    at_ms = int(at.timestamp() * 1000)
    bikes, trips = day.bikes, day.trips
    n = day.n_bikes
    device = np.arange(n, dtype=np.int64)
    # Trips are sorted by (device, start): the last trip of each device started by ``at``.
    key_trip = trips["device_index"] * (1 << 42) + (trips["start_ms"] - day.day_start_ms)
    key_at = device * (1 << 42) + (at_ms - day.day_start_ms)
    pos = np.searchsorted(key_trip, key_at, side="right") - 1
    has = pos >= 0
    has[has] = trips["device_index"][pos[has]] == device[has]
    on_trip = np.zeros(n, dtype=bool)
    on_trip[has] = trips["end_ms"][pos[has]] > at_ms
    # The last *finished* trip: the one found, or the one before it when that is still going.
    done = pos.copy()
    done[on_trip] -= 1
    finished = done >= 0
    finished[finished] = trips["device_index"][done[finished]] == device[finished]
    lon = bikes["home_lon"].copy()
    lat = bikes["home_lat"].copy()
    lon[finished] = trips["end_lon"][done[finished]]
    lat[finished] = trips["end_lat"][done[finished]]
    last_end = np.full(n, day.day_start_ms, dtype=np.int64)
    last_end[finished] = trips["end_ms"][done[finished]]
    codes = np.array(day.operators, dtype=object)[bikes["operator_index"]]
    serial = bikes["serial"]
    columns = {
        "device_id": np.array(
            [synthetic_device_id(c, s) for c, s in zip(codes.tolist(), serial.tolist(), strict=True)],
            dtype=object,
        ),
        "operator": codes,
        "lon": lon,
        "lat": lat,
        "rotation": last_end,
        "last_reported": last_end,
        "on_trip": on_trip,
        "vehicle_type_id": np.full(n, vehicle_type_id, dtype=object),
    }
    if operator is not None:
        mask = codes == operator
        columns = {name: value[mask] for name, value in columns.items()}
    return columns
