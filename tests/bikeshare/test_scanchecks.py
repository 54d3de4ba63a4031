"""Scan verification (扫码核查): recording registered and unregistered codes, WGS-84 → GCJ-02,
the live snapshot, idempotency, refusals, data scope and the statistics against an
independent count — through the service and the API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from govcenter.bikeshare.live import open_live_state
from govcenter.bikeshare.models import ScanCheck, Vehicle
from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import distance_m, gcj02_to_wgs84
from govcenter.core.models import AuditEntry
from tests.factories import RoleFactory, UserFactory

from .conftest import PROVIDER_A, assert_error, client_for

pytestmark = pytest.mark.django_db

API = "/api/v1/bikeshare/scan-checks"
STATS = "/api/v1/bikeshare/scan-checks/stats"
# GCJ-02 points inside 东城区 (110101) and 西城区 (110102).
DC_GCJ = (116.4174, 39.9289)
DC_GCJ_2 = (116.4100, 39.9350)
XC_GCJ = (116.3661, 39.9123)


def _wgs(point):
    lon, lat = gcj02_to_wgs84(*point)
    return float(lon), float(lat)


@pytest.fixture
def live_url(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = url
    return url


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def any_live_url(request, tmp_path, settings):
    """The live store on each adapter (the Redis one under a fresh prefix, cleared after)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live-any.db'}"
    else:
        url = f"{request.getfixturevalue('redis_url')}?prefix=test:bikeshare:scan:{uuid.uuid4().hex}"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = url
    yield url
    with open_live_state(url) as live:
        live.clear()


@pytest.fixture
def scan(org, live_url):
    """Inspectors, viewers per scope, and registered vehicles of both operators."""
    o = org
    o.role_inspector = RoleFactory(
        code="t-scan-inspector",
        scope_kind="own_unit",
        perms=["bikeshare.add_scancheck", "bikeshare.view_scancheck"],
    )
    o.role_scan_operator = RoleFactory(
        code="t-scan-operator", scope_kind="operator", perms=["bikeshare.view_scancheck"]
    )
    o.role_scan_district = RoleFactory(
        code="t-scan-district", scope_kind="districts", perms=["bikeshare.view_scancheck"]
    )
    o.role_scan_all = RoleFactory(code="t-scan-all", scope_kind="all", perms=["bikeshare.view_scancheck"])
    o.inspector = UserFactory(username="t_inspector", unit=o.unit_dc, role_set=[o.role_inspector])
    o.inspector2 = UserFactory(username="t_inspector2", unit=o.unit_xc, role_set=[o.role_inspector])
    o.viewer_a = UserFactory(username="t_scan_op_a", unit=o.op_a, role_set=[o.role_scan_operator])
    o.viewer_b = UserFactory(username="t_scan_op_b", unit=o.op_b, role_set=[o.role_scan_operator])
    o.viewer_dc = UserFactory(username="t_scan_dc", unit=o.unit_dc, role_set=[o.role_scan_district])
    o.viewer_all = UserFactory(username="t_scan_all", unit=o.center, role_set=[o.role_scan_all])
    now = timezone.now()

    def bike(operator, code, district=None):
        return Vehicle.objects.create(
            operator=operator,
            device_id=uuid.uuid4(),
            provider_id=PROVIDER_A,
            vehicle_id=code,
            state="available",
            district=district,
            registered_at=now,
        )

    o.bike_a = bike(o.op_a, "A-0001", o.dongcheng)
    o.bike_a2 = bike(o.op_a, "A-0002", o.dongcheng)
    o.bike_b = bike(o.op_b, "B-0001", o.xicheng)
    o.shared_a = bike(o.op_a, "SAME-1")  # one code used by both operators
    o.shared_b = bike(o.op_b, "SAME-1")
    return o


def _record(user, code, result="compliant", point=DC_GCJ, **kw):
    from govcenter.bikeshare.services.scanchecks import scancheck_record

    lon, lat = _wgs(point) if point else (None, None)
    return scancheck_record(user, vehicle_code=code, result=result, lon=lon, lat=lat, datum="WGS-84", **kw)


# ------------------------------------------------------------------------------------------
# Recording
# ------------------------------------------------------------------------------------------


def test_registered_code_links_vehicle_operator_district_and_live_snapshot(scan, any_live_url):
    live_lon, live_lat = DC_GCJ[0] + 0.001, DC_GCJ[1]
    reported_ms = 1_790_000_000_000
    with open_live_state(any_live_url) as live:
        live.update(
            {
                "operator": [scan.op_a.code],
                "device_id": [str(scan.bike_a.device_id)],
                "vehicle_id": ["A-0001"],
                "timestamp_ms": [reported_ms],
                "lon": [live_lon],
                "lat": [live_lat],
                "vehicle_state": ["available"],
            }
        )
    before = AuditEntry.objects.filter(action="bikeshare.scancheck.record").count()
    check = _record(scan.inspector, " A-0001 ", "damaged", flags=["outside_fence"], photo_ref="IMG-1")

    assert check.vehicle == scan.bike_a and check.operator == scan.op_a and check.registered
    assert check.vehicle_code == "A-0001"
    assert check.district == scan.dongcheng and check.unit == scan.unit_dc
    assert (check.result, check.flags, check.photo_ref) == ("damaged", ["outside_fence"], "IMG-1")
    assert check.live_state == "available"
    assert check.live_reported_at == dt.datetime.fromtimestamp(reported_ms / 1000, tz=dt.UTC)
    assert check.live_outside_fence is True  # the test store has no fences
    expected = float(distance_m(DC_GCJ[0], DC_GCJ[1], live_lon, live_lat))
    assert check.live_distance_m == pytest.approx(expected, abs=0.2)
    assert 50 < check.live_distance_m < 120  # 0.001° of longitude at 40° N ≈ 85 m
    assert AuditEntry.objects.filter(action="bikeshare.scancheck.record").count() == before + 1


def test_wgs84_position_is_stored_in_gcj02(scan):
    wgs = _wgs(DC_GCJ)
    assert float(distance_m(*wgs, *DC_GCJ)) > 100  # the offset is real here
    check = _record(scan.inspector, "A-0001")
    assert (check.datum, check.source_datum) == ("GCJ-02", "WGS-84")
    assert check.lon == pytest.approx(DC_GCJ[0], abs=1e-7)
    assert check.lat == pytest.approx(DC_GCJ[1], abs=1e-7)


def test_position_given_in_gcj02_is_kept(scan):
    from govcenter.bikeshare.services.scanchecks import scancheck_record

    check = scancheck_record(
        scan.inspector,
        vehicle_code="B-0001",
        result="compliant",
        lon=XC_GCJ[0],
        lat=XC_GCJ[1],
        datum="GCJ-02",
    )
    assert (check.lon, check.lat, check.source_datum) == (XC_GCJ[0], XC_GCJ[1], "GCJ-02")
    assert check.district == scan.xicheng


def test_unregistered_code_gets_the_flag_and_the_chosen_brand(scan):
    check = _record(scan.inspector, "NOPE-9", "outside_fence", operator=scan.op_b.pk)
    assert check.vehicle is None and not check.registered
    assert check.operator == scan.op_b
    assert check.result == "outside_fence" and check.flags == ["unregistered"]
    plain = _record(scan.inspector, "NOPE-10", "unregistered")
    assert plain.operator is None and plain.flags == [] and plain.district == scan.dongcheng


def test_retired_vehicle_counts_as_unregistered(scan):
    Vehicle.objects.filter(pk=scan.bike_a2.pk).update(retired_at=timezone.now())
    check = _record(scan.inspector, "A-0002", "unregistered", operator=scan.op_a.pk)
    assert check.vehicle is None and check.operator == scan.op_a


def test_without_position_the_district_comes_from_the_registry(scan):
    check = _record(scan.inspector, "B-0001", point=None)
    assert check.lon is None and check.district == scan.xicheng and check.live_distance_m is None


@pytest.mark.parametrize(
    ("code", "result", "kw", "error"),
    [
        ("", "compliant", {}, "missing_code"),
        ("A\x00B", "compliant", {}, "bad_code"),
        ("A-0001", "great", {}, "bad_result"),
        ("A-0001", "compliant", {"flags": ["damaged"]}, "compliant_with_problems"),
        ("A-0001", "unregistered", {}, "registered_vehicle"),
        ("NOPE-1", "compliant", {}, "unregistered_compliant"),
        ("SAME-1", "compliant", {}, "ambiguous_code"),
        ("A-0001", "compliant", {"operator": 999999}, "bad_operator"),
    ],
)
def test_refusals_write_nothing(scan, code, result, kw, error):
    with pytest.raises(ServiceError) as info:
        _record(scan.inspector, code, result, **kw)
    assert info.value.error_code == error
    assert not ScanCheck.objects.exists()


def test_operator_resolves_a_shared_code(scan):
    check = _record(scan.inspector, "SAME-1", operator=scan.op_b.pk)
    assert check.vehicle == scan.shared_b


def test_client_ref_makes_a_retry_idempotent(scan):
    first = _record(scan.inspector, "A-0001", client_ref="c-1")
    again = _record(scan.inspector, "A-0001", client_ref="c-1")
    assert again.pk == first.pk and ScanCheck.objects.count() == 1
    other = _record(scan.inspector2, "A-0001", client_ref="c-1")  # another inspector's key
    assert other.pk != first.pk


def test_bad_position_is_refused(scan):
    from govcenter.bikeshare.services.scanchecks import scancheck_record

    with pytest.raises(ServiceError) as info:
        scancheck_record(scan.inspector, vehicle_code="A-0001", result="compliant", lon=500, lat=39.9)
    assert info.value.error_code == "bad_position"


# ------------------------------------------------------------------------------------------
# API, scope and permissions
# ------------------------------------------------------------------------------------------


def test_api_post_and_list_by_scope(scan):
    client = client_for(scan.inspector)
    lon, lat = _wgs(DC_GCJ)
    body = {
        "vehicle_code": "A-0001",
        "result": "illegally_parked",
        "lon": lon,
        "lat": lat,
        "client_ref": "k1",
    }
    response = client.post(API, body, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["registered"] and data["operator"] == scan.op_a.pk and data["district_code"] == "110101"
    assert data["lat"] == pytest.approx(DC_GCJ[1], abs=1e-7) and data["datum"] == "GCJ-02"
    again = client.post(API, body, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == data["id"]

    _record(scan.inspector2, "B-0001", point=XC_GCJ)  # op B, Xicheng
    _record(scan.inspector2, "NOPE-1", "unregistered", point=XC_GCJ, operator=scan.op_a.pk)  # op A, Xicheng

    def codes(user):
        response = client_for(user).get(API)
        assert response.status_code == 200, response.content
        return sorted(r["vehicle_code"] for r in response.json()["results"])

    assert codes(scan.viewer_a) == ["A-0001", "NOPE-1"]  # operator A's checks only
    assert codes(scan.viewer_b) == ["B-0001"]
    assert codes(scan.viewer_dc) == ["A-0001"]  # Dongcheng only
    assert codes(scan.viewer_all) == ["A-0001", "B-0001", "NOPE-1"]
    assert codes(scan.inspector) == ["A-0001"]  # own unit's inspectors
    filtered = client_for(scan.viewer_all).get(API, {"unregistered": "true"}).json()["results"]
    assert [r["vehicle_code"] for r in filtered] == ["NOPE-1"]


def test_api_refusals(scan):
    client = client_for(scan.inspector)
    assert_error(
        client.post(API, {"vehicle_code": "NOPE", "result": "compliant"}, content_type="application/json"),
        400,
        "unregistered_compliant",
    )
    response = client.post(API, {"vehicle_code": "A-0001"}, content_type="application/json")
    assert response.status_code == 400 and set(response.json()) == {"code", "message", "details"}
    # Viewers may read but not record; roles without the permissions get 403.
    assert (
        client_for(scan.viewer_all)
        .post(API, {"vehicle_code": "A-0001", "result": "compliant"}, content_type="application/json")
        .status_code
        == 403
    )
    # a built-in role with no bike-share scan permission
    staff = UserFactory(username="t_plain_staff", unit=scan.op_a, role_set=[scan.roles["parking_patrol"]])
    assert client_for(staff).get(API).status_code == 403
    assert client_for(staff).get(STATS).status_code == 403
    assert client_for(scan.manager_dc).get(API).status_code == 200  # district managers read their district's
    assert not ScanCheck.objects.exists()


# ------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------

PLAN = [
    # (inspector, code, result, point, operator for unregistered)
    ("inspector", "A-0001", "compliant", DC_GCJ, None),
    ("inspector", "A-0002", "damaged", DC_GCJ_2, None),
    ("inspector", "X-1", "unregistered", DC_GCJ, "op_a"),
    ("inspector", "X-2", "outside_fence", DC_GCJ, "op_a"),
    ("inspector2", "B-0001", "illegally_parked", XC_GCJ, None),
    ("inspector2", "Y-1", "unregistered", XC_GCJ, "op_b"),
    ("inspector2", "Z-1", "unregistered", XC_GCJ, None),
    ("inspector2", "A-0001", "compliant", XC_GCJ, None),
]
REGISTERED = {"A-0001": "op_a", "A-0002": "op_a", "B-0001": "op_b"}
DISTRICT_OF = {DC_GCJ: "dongcheng", DC_GCJ_2: "dongcheng", XC_GCJ: "xicheng"}


def _load_plan(scan):
    for who, code, result, point, op in PLAN:
        _record(getattr(scan, who), code, result, point=point, operator=getattr(scan, op).pk if op else None)


def _expected(scan, dim, keep=lambda row: True):
    """The counts per dimension computed from PLAN alone (not from the database)."""
    total, unregistered = Counter(), Counter()
    for who, code, result, point, op in PLAN:
        operator = REGISTERED.get(code, op)
        row = {
            "operator": getattr(scan, operator).pk if operator else None,
            "district": getattr(scan, DISTRICT_OF[point]).pk,
            "inspector": getattr(scan, who).pk,
            "result": result,
        }
        if not keep(row):
            continue
        total[row[dim]] += 1
        unregistered[row[dim]] += code not in REGISTERED
    return {k: (total[k], unregistered[k]) for k in total}


@pytest.mark.parametrize("dim", ["operator", "district", "inspector", "result"])
def test_stats_match_an_independent_count(scan, dim):
    from govcenter.bikeshare.services.scanchecks import scancheck_stats

    _load_plan(scan)
    today = timezone.localdate()
    rows = scancheck_stats(scan.viewer_all, period=(today, today), group_by=dim)
    got = {r["key"]: (r["total"], r["unregistered"]) for r in rows}
    assert got == _expected(scan, dim)
    for r in rows:
        assert r["unregistered_share"] == round(r["unregistered"] / r["total"], 4)
        assert sum(r["results"].values()) == r["total"]
    if dim == "operator":
        share = {r["key"]: r["unregistered_share"] for r in rows}
        assert share[scan.op_a.pk] == round(2 / 5, 4)  # of 5 op-A checks
        assert share[None] == 1.0  # Z-1: brand unknown


def test_stats_follow_the_scope_and_the_period(scan):
    from govcenter.bikeshare.services.scanchecks import scancheck_stats

    _load_plan(scan)
    today = timezone.localdate()
    dc = scan.dongcheng.pk
    rows = scancheck_stats(scan.viewer_dc, period=(today, today), group_by="operator")
    assert {r["key"]: (r["total"], r["unregistered"]) for r in rows} == _expected(
        scan, "operator", keep=lambda row: row["district"] == dc
    )
    rows = scancheck_stats(scan.viewer_b, period=(today, today), group_by="district")
    assert {r["key"]: (r["total"], r["unregistered"]) for r in rows} == _expected(
        scan, "district", keep=lambda row: row["operator"] == scan.op_b.pk
    )
    # A check from yesterday (local time) is outside today's period.
    ScanCheck.objects.filter(vehicle_code="Z-1").update(
        checked_at=timezone.now() - dt.timedelta(days=1, hours=1)
    )
    rows = scancheck_stats(scan.viewer_all, period=(today, today), group_by="result")
    assert sum(r["total"] for r in rows) == len(PLAN) - 1
    with pytest.raises(ServiceError):
        scancheck_stats(scan.viewer_all, period=(today, today), group_by="colour")
    with pytest.raises(ServiceError):
        scancheck_stats(scan.viewer_all, period=(today, today - dt.timedelta(days=1)), group_by="result")


def test_stats_api(scan):
    _load_plan(scan)
    today = timezone.localdate().isoformat()
    response = client_for(scan.viewer_a).get(STATS, {"from": today, "to": today, "group_by": "result"})
    assert response.status_code == 200, response.content
    body = response.json()
    expected = _expected(scan, "result", keep=lambda row: row["operator"] == scan.op_a.pk)
    assert {r["key"]: (r["total"], r["unregistered"]) for r in body["rows"]} == expected
    assert body["group_by"] == "result" and body["period_from"] == today
    assert_error(client_for(scan.viewer_a).get(STATS, {"group_by": "colour"}), 400, "bad_group_by")
    assert_error(client_for(scan.viewer_a).get(STATS, {"from": "yesterday"}), 400, "bad_period")
    # Far-off dates are refused before any date arithmetic (the default "from" is 29 days earlier).
    assert_error(client_for(scan.viewer_a).get(STATS, {"to": "0001-01-01"}), 400, "bad_period")
