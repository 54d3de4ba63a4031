"""Bike-share fences: parse operator/staff GeoJSON into GCJ-02 fences, and point → fence lookup.

Pure functions, no models (ADR 0005): whatever datum a file declares (WGS-84, GCJ-02 or
BD-09), the fences come out in **GCJ-02**, the datum of the district boundaries and the
Center's maps, with the declared datum kept on each :class:`FenceSpec`. Coordinates are
converted with :mod:`govcenter.core.geo`; districts come from :mod:`govcenter.core.districts`.

:func:`parse_fences` reads a GeoJSON FeatureCollection of Polygon/MultiPolygon features and
validates every feature on its own: a bad feature becomes a :class:`FenceError` with a code
(``invalid_geometry``, ``outside_beijing``, ``unknown_kind``, ``bad_dates`` …) in the
result's ``errors`` — the good features still parse. Only a file that is not a
FeatureCollection at all (or declares an unknown datum) raises :class:`FenceFileError`.

:func:`points_in_fences` answers "which fence holds this point" for hundreds of thousands
of positions at once (an STRtree of the fences for candidates, then one vectorised,
prepared shapely predicate over all candidate pairs — no Python loop per point).
"""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from govcenter.core.districts import DISTRICTS, DistrictIndex, get_index, read_city_geometry
from govcenter.core.geo import Datum, Point, convert, to_gcj02

STATIONS_FILE = Path(__file__).resolve().parent / "data" / "stations" / "rail_stations.geojson"

MAX_FEATURES = 20_000
MAX_NAME_CHARS = 100
DISTRICT_CODES = frozenset(d.code for d in DISTRICTS)


class FenceKind(enum.StrEnum):
    """What a fence means for parking."""

    PARKING = "parking"  # bikes must be parked inside
    NO_PARKING = "no_parking"  # bikes must not be parked inside
    RAIL_STATION = "rail_station"  # the area around a metro/rail station entrance

    @property
    def label(self) -> str:
        return str(_KIND_LABELS[self])


_KIND_LABELS = {
    FenceKind.PARKING: gettext_lazy("停放区"),
    FenceKind.NO_PARKING: gettext_lazy("禁停区"),
    FenceKind.RAIL_STATION: gettext_lazy("轨道站点"),
}


class FenceFileError(ValueError):
    """The whole file is unusable (not JSON, not a FeatureCollection, unknown datum, too big)."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class FenceError:
    """One problem with one feature; ``index`` is the feature's position in ``features``."""

    index: int
    code: str
    message: str
    field: str = ""
    feature_id: Any = None

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "feature_id": self.feature_id,
            "code": self.code,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class FenceSpec:
    """A validated fence. ``geometry`` is a shapely Polygon/MultiPolygon in GCJ-02.

    ``source_datum`` is the datum the file declared (the geometry was converted from it);
    ``district_derived`` tells whether ``district`` came from the file or from the
    centroid's district. ``properties`` keeps the feature's properties as given.
    """

    index: int
    name: str
    kind: FenceKind
    geometry: shapely.Polygon | shapely.MultiPolygon
    district: str
    source_datum: Datum
    district_derived: bool = False
    station: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    feature_id: Any = None
    properties: dict = field(default_factory=dict)

    datum = Datum.GCJ02  # the datum of ``geometry``, always

    def is_active(self, day: date) -> bool:
        """Whether the fence applies on ``day`` (both ends of the validity inclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    @property
    def centroid(self) -> Point:
        c = self.geometry.centroid
        return Point(c.x, c.y, Datum.GCJ02)

    def geometry_in(self, datum: str | Datum) -> shapely.Polygon | shapely.MultiPolygon:
        """The geometry in another datum (WGS-84 for MDS/GBFS export: the iterative inverse)."""
        return convert_geometry(self.geometry, Datum.GCJ02, datum)

    def as_geojson(self, datum: str | Datum = Datum.GCJ02) -> dict:
        """A GeoJSON Feature in ``datum`` (GCJ-02 by default; RFC 7946 consumers want WGS-84)."""
        properties = dict(self.properties)
        properties.update(
            {
                "name": self.name,
                "kind": self.kind.value,
                "district": self.district,
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            }
        )
        if self.station:
            properties["station"] = self.station
        feature = {
            "type": "Feature",
            "geometry": json.loads(shapely.to_geojson(self.geometry_in(datum))),
            "properties": properties,
        }
        if self.feature_id is not None:
            feature["id"] = self.feature_id
        return feature


class FenceList(list):
    """The fences that parsed (a plain list of :class:`FenceSpec`) plus ``errors``.

    ``feature_count`` is the number of features in the file, so
    ``len(fences) + number of failing features == feature_count``.
    """

    def __init__(self, fences=(), *, errors=(), feature_count: int = 0, source_datum: Datum = Datum.GCJ02):
        super().__init__(fences)
        self.errors: list[FenceError] = list(errors)
        self.feature_count = feature_count
        self.source_datum = source_datum

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_details(self) -> list[dict]:
        """The errors as plain dicts (for an API error's ``details``)."""
        return [e.as_dict() for e in self.errors]


# ---------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------


def convert_geometry(geometry, source: str | Datum, target: str | Datum):
    """Convert every vertex of a shapely geometry (or array of them) between datums, vectorised."""
    source, target = Datum.parse(source), Datum.parse(target)
    if source == target:
        return geometry

    def _transform(xy: np.ndarray) -> np.ndarray:
        lon, lat = convert(xy[:, 0], xy[:, 1], source, target)
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, _transform)


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


@functools.cache
def _city():
    """Beijing's outline (GCJ-02), prepared for repeated ``covers`` tests."""
    city = shapely.from_geojson(json.dumps(read_city_geometry()))
    shapely.prepare(city)
    return city


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _InvalidError(Exception):
    def __init__(self, code: str, message: str, field: str = "geometry"):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _ring(raw) -> np.ndarray:
    """One linear ring as an (n, 2) float array, checked for structure, range and closure."""
    malformed = _InvalidError(
        "invalid_geometry",
        _("多边形坐标结构错误：每个环须为至少 4 个 [经度, 纬度] 坐标点的数组。"),
    )
    if not isinstance(raw, list) or len(raw) < 4:
        raise malformed
    for position in raw:
        if not isinstance(position, list | tuple) or len(position) < 2 or not all(map(_is_number, position)):
            raise malformed
    ring = np.array([position[:2] for position in raw], dtype=np.float64)
    if not np.isfinite(ring).all() or (np.abs(ring[:, 0]) > 180).any() or (np.abs(ring[:, 1]) > 90).any():
        raise _InvalidError(
            "coordinates_out_of_range", _("坐标超出经纬度范围（经度 -180～180，纬度 -90～90）。")
        )
    if not np.array_equal(ring[0], ring[-1]):
        raise _InvalidError("unclosed_ring", _("多边形的环未闭合（首尾坐标点须相同）。"))
    return ring


def _polygon(rings) -> shapely.Polygon:
    if not isinstance(rings, list) or not rings:
        raise _InvalidError("invalid_geometry", _("多边形须至少有一个外环。"))
    arrays = [_ring(r) for r in rings]
    return shapely.Polygon(arrays[0], arrays[1:])


def _geometry(raw, datum: Datum):
    """The feature's geometry in GCJ-02, or :class:`_InvalidError`."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        shown = kind if isinstance(kind, str) else ("null" if raw is None else type(raw).__name__)
        raise _InvalidError(
            "unsupported_geometry",
            _("几何须为 GeoJSON Polygon 或 MultiPolygon（实际为 %(type)s）。") % {"type": shown},
        )
    coordinates = raw.get("coordinates")
    if kind == "Polygon":
        geometry = _polygon(coordinates)
    else:
        if not isinstance(coordinates, list) or not coordinates:
            raise _InvalidError("invalid_geometry", _("MultiPolygon 须至少含一个多边形。"))
        geometry = shapely.MultiPolygon([_polygon(p) for p in coordinates])
    _check_valid(geometry)
    converted = convert_geometry(geometry, datum, Datum.GCJ02)
    # The datum offset is almost a translation (< 1.1 m change across 150 m, ADR 0005), but
    # a polygon that is valid only by a hair may not survive it: check the stored geometry too.
    _check_valid(converted)
    return converted


def _check_valid(geometry) -> None:
    if geometry.is_empty or geometry.area == 0:
        raise _InvalidError("invalid_geometry", _("几何为空或面积为零。"))
    if not geometry.is_valid:
        raise _InvalidError(
            "invalid_geometry",
            _("几何无效：%(reason)s。") % {"reason": shapely.is_valid_reason(geometry)},
        )


def _text(properties: dict, name: str, *, required: bool) -> str:
    value = properties.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _InvalidError("missing_name", _("缺少围栏名称。"), name)
        return ""
    if not isinstance(value, str) or len(value.strip()) > MAX_NAME_CHARS:
        if name == "name":
            message = _("围栏名称须为不超过 %(max)d 个字符的文本。")
        else:
            message = _("站点名称须为不超过 %(max)d 个字符的文本。")
        raise _InvalidError(
            "bad_name" if name == "name" else "bad_station", message % {"max": MAX_NAME_CHARS}, name
        )
    return value.strip()


def _date(properties: dict, name: str) -> date | None:
    value = properties.get(name)
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _InvalidError(
            "bad_dates", _("%(field)s 须为 ISO 日期（YYYY-MM-DD）。") % {"field": name}, name
        ) from None


def _properties(properties: dict) -> dict:
    """The checked properties; every problem is collected (a list of :class:`_InvalidError`)."""
    checked: dict[str, Any] = {}
    problems: list[_InvalidError] = []

    def attempt(key: str, fn) -> None:
        try:
            checked[key] = fn()
        except _InvalidError as problem:
            problems.append(problem)

    attempt("name", lambda: _text(properties, "name", required=True))
    attempt("station", lambda: _text(properties, "station", required=False))

    def kind() -> FenceKind:
        value = properties.get("kind")
        try:
            return FenceKind(value)
        except ValueError:
            raise _InvalidError(
                "unknown_kind",
                _(
                    "围栏类型须为 parking（停放区）、no_parking（禁停区）或 rail_station（轨道站点），实际为 %(kind)s。"
                )
                % {"kind": json.dumps(value, ensure_ascii=False)},
                "kind",
            ) from None

    attempt("kind", kind)
    attempt("valid_from", lambda: _date(properties, "valid_from"))
    attempt("valid_to", lambda: _date(properties, "valid_to"))
    start, end = checked.get("valid_from"), checked.get("valid_to")
    if start and end and end < start:
        problems.append(
            _InvalidError(
                "bad_dates",
                _("有效期结束日期（%(valid_to)s）早于开始日期（%(valid_from)s）。")
                % {"valid_to": end.isoformat(), "valid_from": start.isoformat()},
                "valid_to",
            )
        )

    def district() -> str:
        value = properties.get("district")
        if value is None or value == "":
            return ""
        if str(value) not in DISTRICT_CODES:
            raise _InvalidError(
                "unknown_district",
                _("未知的行政区代码：%(code)s。") % {"code": json.dumps(value, ensure_ascii=False)},
                "district",
            )
        return str(value)

    attempt("district", district)
    if problems:
        raise _PropertyProblemsError(problems)
    return checked


class _PropertyProblemsError(Exception):
    def __init__(self, problems: list[_InvalidError]):
        super().__init__(problems)
        self.problems = problems


def _load(geojson) -> dict:
    if isinstance(geojson, bytes | bytearray):
        try:
            geojson = geojson.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FenceFileError("bad_json", _("文件不是有效的 JSON：%(error)s") % {"error": exc}) from exc
    if isinstance(geojson, str):
        try:
            geojson = json.loads(geojson)
        except ValueError as exc:
            raise FenceFileError("bad_json", _("文件不是有效的 JSON：%(error)s") % {"error": exc}) from exc
    if (
        not isinstance(geojson, dict)
        or geojson.get("type") != "FeatureCollection"
        or not isinstance(geojson.get("features"), list)
    ):
        raise FenceFileError("not_feature_collection", _("文件须为 GeoJSON FeatureCollection。"))
    return geojson


def parse_fences(
    geojson: dict | str | bytes,
    *,
    datum: str | Datum,
    index: DistrictIndex | None = None,
    max_features: int = MAX_FEATURES,
) -> FenceList:
    """Validate a GeoJSON FeatureCollection of fences and convert it to GCJ-02.

    ``datum`` is the datum the sender declares for every coordinate in the file.
    Each feature is checked on its own — structure, closed rings, lon/lat ranges,
    shapely validity (in the declared datum and after conversion), wholly inside
    Beijing's outline, and its properties (``name``; ``kind`` one of
    :class:`FenceKind`; optional ``station``; optional ``valid_from``/``valid_to`` ISO
    dates, end not before start; optional ``district`` code). A feature without
    ``district`` gets the district of its centroid (``index``: the district lookup,
    :func:`govcenter.core.districts.get_index` by default).

    Returns a :class:`FenceList`: the good fences in file order, plus ``errors`` (all
    the problems of every bad feature). Raises :class:`FenceFileError` only when the file
    as a whole is unusable.
    """
    try:
        source = Datum.parse(datum)
    except ValueError:
        raise FenceFileError(
            "unknown_datum",
            _("未知的坐标系：%(datum)s（可选 WGS-84、GCJ-02、BD-09）。") % {"datum": datum},
        ) from None
    collection = _load(geojson)
    features = collection["features"]
    if len(features) > max_features:
        raise FenceFileError(
            "too_many_features",
            _("要素数量 %(count)d 超过上限 %(max)d。") % {"count": len(features), "max": max_features},
            {"count": len(features), "max": max_features},
        )

    errors: list[FenceError] = []
    pending: list[tuple[int, Any, dict, dict, Any]] = []  # index, id, properties, checked, geometry
    city = _city()
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.append(FenceError(i, "not_a_feature", _("不是 GeoJSON Feature 对象。"), ""))
            continue
        feature_id = feature.get("id")
        failures: list[_InvalidError] = []
        geometry = None
        try:
            geometry = _geometry(feature.get("geometry"), source)
            if not city.covers(geometry):
                raise _InvalidError(
                    "outside_beijing",
                    _("围栏不完全在北京市行政区域内（由 %(datum)s 换算为 GCJ-02 后判断）。")
                    % {"datum": source.value},
                )
        except _InvalidError as problem:
            failures.append(problem)
        properties = feature.get("properties")
        if properties is None:
            properties = {}
        checked: dict = {}
        if not isinstance(properties, dict):
            failures.append(_InvalidError("bad_properties", _("properties 须为 JSON 对象。"), "properties"))
        else:
            try:
                checked = _properties(properties)
            except _PropertyProblemsError as problems:
                failures.extend(problems.problems)
        if failures:
            errors.extend(FenceError(i, p.code, p.message, p.field, feature_id) for p in failures)
            continue
        pending.append((i, feature_id, properties, checked, geometry))

    # One vectorised district lookup for every fence without a district: the centroid, and
    # for the rare concave fence whose centroid falls off the districts, a point inside it.
    fences: list[FenceSpec] = []
    need = [k for k, item in enumerate(pending) if not item[3]["district"]]
    derived: dict[int, str] = {}
    if need:
        lookup = index if index is not None else get_index()
        geometries = [pending[k][4] for k in need]
        for points in (shapely.centroid(geometries), shapely.point_on_surface(geometries)):
            open_ = [j for j, k in enumerate(need) if not derived.get(k)]
            if not open_:
                break
            codes = lookup.lookup_codes(shapely.get_x(points[open_]), shapely.get_y(points[open_]))
            for j, code in zip(open_, codes.tolist(), strict=True):
                derived[need[j]] = code
    for k, (i, feature_id, properties, checked, geometry) in enumerate(pending):
        district = checked["district"] or derived.get(k, "")
        if not district:
            errors.append(
                FenceError(
                    i,
                    "outside_beijing",
                    _("围栏不在北京市任何行政区内，无法确定所属行政区。"),
                    "district",
                    feature_id,
                )
            )
            continue
        fences.append(
            FenceSpec(
                index=i,
                name=checked["name"],
                kind=checked["kind"],
                geometry=geometry,
                district=district,
                source_datum=source,
                district_derived=not checked["district"],
                station=checked["station"],
                valid_from=checked["valid_from"],
                valid_to=checked["valid_to"],
                feature_id=feature_id,
                properties=dict(properties),
            )
        )
    errors.sort(key=lambda e: e.index)
    return FenceList(fences, errors=errors, feature_count=len(features), source_datum=source)


# ---------------------------------------------------------------------------------------
# Point → fence
# ---------------------------------------------------------------------------------------


class FenceIndex:
    """Fences (GCJ-02) ready for repeated point lookups: an STRtree plus prepared polygons.

    Build it once per set of fences and call :meth:`lookup` for every batch of positions.
    """

    def __init__(self, fences: Sequence[FenceSpec | shapely.Geometry]):
        geometries = [f.geometry if isinstance(f, FenceSpec) else f for f in fences]
        self.geometries = np.array(geometries, dtype=object)
        if len(self.geometries) and not all(isinstance(g, shapely.Geometry) for g in geometries):
            raise TypeError("fences must be FenceSpec objects or shapely geometries")
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    def __len__(self) -> int:
        return len(self.geometries)

    def lookup(self, lon, lat, *, datum: str | Datum = Datum.GCJ02) -> np.ndarray:
        """The index of the fence holding each point, -1 where none does (int64, same shape).

        A point on a fence's edge is inside it. Where fences overlap, the lowest index
        wins. Points in WGS-84 or BD-09 are converted to GCJ-02 first; NaN is outside.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if lon.shape != lat.shape:
            raise ValueError("lon and lat must have the same shape")
        shape = lon.shape
        lon, lat = lon.ravel(), lat.ravel()
        if Datum.parse(datum) != Datum.GCJ02:
            lon, lat = to_gcj02(lon, lat, datum)
        result = np.full(lon.shape, -1, dtype=np.int64)
        if not len(self.geometries) or not lon.size:
            return result.reshape(shape)
        finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        points = shapely.points(lon[finite], lat[finite])
        # Bounding-box candidates from the tree, then the exact test on every candidate pair
        # at once (prepared polygons; intersects_xy counts the edge as inside).
        point_idx, fence_idx = self.tree.query(points)
        if point_idx.size:
            hit = shapely.intersects_xy(
                self.geometries[fence_idx], lon[finite][point_idx], lat[finite][point_idx]
            )
            point_idx, fence_idx = point_idx[hit], fence_idx[hit]
            order = np.lexsort((fence_idx, point_idx))
            point_idx, fence_idx = point_idx[order], fence_idx[order]
            first = np.unique(point_idx, return_index=True)[1]
            result[finite[point_idx[first]]] = fence_idx[first]
        return result.reshape(shape)


def points_in_fences(lon, lat, fences: Sequence[FenceSpec | shapely.Geometry], *, datum=Datum.GCJ02):
    """The index into ``fences`` of the fence holding each point, or -1 (vectorised).

    ``fences`` are :class:`FenceSpec` (GCJ-02) or shapely geometries in GCJ-02; ``lon``/
    ``lat`` are arrays in ``datum``. For repeated lookups on the same fences, keep a
    :class:`FenceIndex`.
    """
    return FenceIndex(fences).lookup(lon, lat, datum=datum)


# ---------------------------------------------------------------------------------------
# The rail-station seed
# ---------------------------------------------------------------------------------------


def rail_station_fences(*, index: DistrictIndex | None = None) -> FenceList:
    """The demo seed of metro-station areas (``data/stations/rail_stations.geojson``), parsed.

    The file declares its datum in a top-level ``"datum"`` member (GCJ-02); positions are
    hand-entered approximations, not survey data (see the README there).
    """
    collection = json.loads(STATIONS_FILE.read_text(encoding="utf-8"))
    return parse_fences(collection, datum=collection.get("datum", Datum.GCJ02), index=index)


def circle_polygon(lon: float, lat: float, radius_m: float, *, segments: int = 64) -> shapely.Polygon:
    """A polygon of ``segments`` vertices on a circle of ``radius_m`` metres around (lon, lat).

    Local equirectangular approximation (metres per degree at ``lat``): exact enough for
    fences of a few hundred metres (the error is far below a metre). The datum of the
    result is that of the centre.
    """
    angles = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    m_per_deg_lat = 111_132.954 - 559.822 * math.cos(2 * math.radians(lat))
    m_per_deg_lon = 111_319.488 * math.cos(math.radians(lat))
    ring = np.column_stack(
        [lon + radius_m * np.cos(angles) / m_per_deg_lon, lat + radius_m * np.sin(angles) / m_per_deg_lat]
    )
    return shapely.Polygon(np.vstack([ring, ring[:1]]))
