"""Geodetic datums used in China: WGS-84 (GPS), GCJ-02 (web maps, the district files), BD-09 (Baidu).

GCJ-02 is WGS-84 with a published, deliberately non-linear offset of a few hundred metres
inside mainland China; BD-09 adds Baidu's own offset on top of GCJ-02. The forward
transforms are closed formulas; the inverse of WGS-84 → GCJ-02 has no closed form, so
:func:`gcj02_to_wgs84` iterates the forward formula until the error is below 1e-9°
(≈ 0.1 mm), better than the one-step approximation many libraries use (centimetres to metres off).

Every function takes scalars or numpy arrays (vectorised, no Python loop per point) and
returns ``(lon, lat)`` in the same shape. Outside China's rough bounding box the offset is
not applied (the same rule as the published reference implementations), so points abroad
pass through unchanged.

Code that keeps coordinates around should use :class:`Point`, which carries its datum, so
a GPS fix can never be compared with a GCJ-02 polygon by mistake.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# The rough box in which GCJ-02 applies its offset (the reference implementations' rule).
CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

_INVERSE_TOLERANCE = 1e-9  # degrees
_INVERSE_MAX_ITERATIONS = 30


class Datum(enum.StrEnum):
    """The datums a coordinate may be given in."""

    WGS84 = "WGS-84"
    GCJ02 = "GCJ-02"
    BD09 = "BD-09"

    @classmethod
    def parse(cls, value: str | Datum) -> Datum:
        """Accept ``"WGS-84"``, ``"wgs84"``, ``"GCJ02"``, ``"bd-09"`` … (ValueError otherwise)."""
        if isinstance(value, Datum):
            return value
        key = str(value).strip().upper().replace("_", "-")
        aliases = {"WGS84": cls.WGS84, "GCJ02": cls.GCJ02, "BD09": cls.BD09}
        try:
            return cls(key)
        except ValueError:
            pass
        if key.replace("-", "") in aliases:
            return aliases[key.replace("-", "")]
        raise ValueError(f"unknown datum {value!r}: use WGS-84, GCJ-02 or BD-09")


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, bool]:
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64), scalar


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def in_china(lon, lat):
    """True where the GCJ-02 offset applies (a rough box, as in the reference implementations)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (lon >= CHINA_MIN_LON) & (lon <= CHINA_MAX_LON) & (lat >= CHINA_MIN_LAT) & (lat <= CHINA_MAX_LAT)


def _gcj02_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (dlon, dlat) that GCJ-02 adds to a WGS-84 position (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat):
    """WGS-84 → GCJ-02 (closed formula)."""
    lon, lat, scalar = _as_arrays(lon, lat)
    dlon, dlat = _gcj02_offset(lon, lat)
    return _out(lon + dlon, lat + dlat, scalar)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward formula (error < 1e-9°)."""
    lon, lat, scalar = _as_arrays(lon, lat)
    # Start from the one-step estimate, then correct by the residual of the forward map.
    dlon, dlat = _gcj02_offset(lon, lat)
    wlon, wlat = lon - dlon, lat - dlat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        err_lon, err_lat = glon - lon, glat - lat
        wlon = wlon - err_lon
        wlat = wlat - err_lat
        if np.all(np.abs(err_lon) < _INVERSE_TOLERANCE) and np.all(np.abs(err_lat) < _INVERSE_TOLERANCE):
            break
    return _out(wlon, wlat, scalar)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 → BD-09 (Baidu's closed formula)."""
    lon, lat, scalar = _as_arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon, lat):
    """BD-09 → GCJ-02 (Baidu's published inverse; round trip within ~1e-6°, iterate if needed)."""
    lon, lat, scalar = _as_arrays(lon, lat)
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta), z * np.sin(theta), scalar)


def bd09_to_gcj02_exact(lon, lat):
    """BD-09 → GCJ-02 refined by iteration so that ``gcj02_to_bd09`` maps it back within 1e-9°."""
    lon, lat, scalar = _as_arrays(lon, lat)
    glon, glat = bd09_to_gcj02(lon, lat)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        blon, blat = gcj02_to_bd09(glon, glat)
        err_lon, err_lat = blon - lon, blat - lat
        glon = glon - err_lon
        glat = glat - err_lat
        if np.all(np.abs(err_lon) < _INVERSE_TOLERANCE) and np.all(np.abs(err_lat) < _INVERSE_TOLERANCE):
            break
    return _out(glon, glat, scalar)


def convert(lon, lat, source: str | Datum, target: str | Datum):
    """Convert coordinates between any two of WGS-84, GCJ-02 and BD-09 (through GCJ-02)."""
    source, target = Datum.parse(source), Datum.parse(target)
    if source == target:
        lon, lat, scalar = _as_arrays(lon, lat)
        return _out(lon, lat, scalar)
    if source == Datum.WGS84:
        lon, lat = wgs84_to_gcj02(lon, lat)
    elif source == Datum.BD09:
        lon, lat = bd09_to_gcj02_exact(lon, lat)
    # now GCJ-02
    if target == Datum.WGS84:
        return gcj02_to_wgs84(lon, lat)
    if target == Datum.BD09:
        return gcj02_to_bd09(lon, lat)
    return lon, lat


def to_gcj02(lon, lat, datum: str | Datum = Datum.GCJ02):
    """The GCJ-02 position of coordinates given in ``datum`` (the datum of the district files)."""
    return convert(lon, lat, datum, Datum.GCJ02)


def distance_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres (haversine, mean Earth radius), vectorised."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    result = 2 * 6371008.8 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return float(result) if np.ndim(result) == 0 else result


@dataclass(frozen=True, slots=True)
class Point:
    """A longitude/latitude position that knows its datum.

    >>> Point(116.404, 39.915, Datum.WGS84).to(Datum.GCJ02).datum
    <Datum.GCJ02: 'GCJ-02'>
    """

    lon: float
    lat: float
    datum: Datum = Datum.GCJ02

    def __post_init__(self) -> None:
        object.__setattr__(self, "datum", Datum.parse(self.datum))
        lon, lat = float(self.lon), float(self.lat)
        if not (np.isfinite(lon) and np.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"not a longitude/latitude: ({self.lon}, {self.lat})")
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)

    def to(self, datum: str | Datum) -> Point:
        """The same place expressed in another datum."""
        datum = Datum.parse(datum)
        if datum == self.datum:
            return self
        lon, lat = convert(self.lon, self.lat, self.datum, datum)
        return Point(lon, lat, datum)

    def distance_m(self, other: Point) -> float:
        """Distance in metres to ``other`` (compared in WGS-84, whatever datums they carry)."""
        a, b = self.to(Datum.WGS84), other.to(Datum.WGS84)
        return distance_m(a.lon, a.lat, b.lon, b.lat)

    def as_geojson(self) -> dict:
        return {"type": "Point", "coordinates": [self.lon, self.lat]}
