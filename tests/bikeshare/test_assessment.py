"""Assessment of operators (考核): scoring maths, indicator sets, measuring a month from the
lake and the database, publication, quarter grades, quota adoption, scope, API, CLI, pages."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from govcenter.analytics.lake.writer import LakeWriter
from govcenter.bikeshare.models import FleetQuota, Vehicle
from govcenter.bikeshare.models.assessment import MonthlyAssessment, QuarterlyGrade
from govcenter.bikeshare.models.fences import Fence
from govcenter.bikeshare.models.scanchecks import ScanCheck
from govcenter.bikeshare.quality import daily_quality
from govcenter.bikeshare.services import assessment as svc
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from tests.bikeshare.conftest import assert_error, client_for
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
BJ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 10, 15)
INSIDE = (116.3975, 39.9087)  # Tiananmen (GCJ-02), Dongcheng
OUTSIDE = (116.4100, 39.9200)
CENTER_PERMS = [
    "bikeshare.view_monthlyassessment", "bikeshare.add_monthlyassessment", "bikeshare.change_monthlyassessment",
    "bikeshare.view_indicatorset", "bikeshare.add_indicatorset", "bikeshare.change_indicatorset",
    "bikeshare.view_quarterlygrade", "bikeshare.add_quarterlygrade", "bikeshare.change_quarterlygrade",
    "bikeshare.add_fleetquota", "bikeshare.view_fleetquota", "bikeshare.add_complainttally",
]  # fmt: skip
OPERATOR_PERMS = [
    "bikeshare.view_monthlyassessment",
    "bikeshare.view_quarterlygrade",
    "bikeshare.view_indicatorset",
]


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BJ)


@pytest.fixture
def env(org, tmp_path, settings):
    o = org
    settings.GOVCENTER_LAKE_DIR = str(tmp_path / "lake")
    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    o.lake = tmp_path / "lake"
    role_c = RoleFactory(code="t-as-center", scope_kind="all", perms=CENTER_PERMS)
    role_o = RoleFactory(code="t-as-operator", scope_kind="operator", perms=OPERATOR_PERMS)
    o.center_user = UserFactory(username="t_as_center", unit=o.center, role_set=[role_c])
    o.user_a = UserFactory(username="t_as_a", unit=o.op_a, role_set=[role_o])
    o.user_b = UserFactory(username="t_as_b", unit=o.op_b, role_set=[role_o])
    svc.seed_default_indicator_set()
    return o


def _set(**over):
    """A fresh definition (weights 50/30/20) for the maths tests."""
    inds = [
        {
            "code": "data_quality",
            "name": "数据质量",
            "weight": 50,
            "method": "linear",
            "floor": 60,
            "target": 100,
        },
        {
            "code": "in_fence_rate",
            "name": "入栏率",
            "weight": 30,
            "method": "linear",
            "floor": 50,
            "target": 90,
        },
        {"code": "complaints", "name": "投诉", "weight": 20, "method": "linear", "floor": 10, "target": 0},
    ]
    return over.get("indicators", inds)


# -- scoring maths -------------------------------------------------------------------------


def test_points_are_linear_clipped_and_follow_the_direction():
    up = {"floor": 60, "target": 100}
    down = {"floor": 10, "target": 0}
    assert svc.indicator_points(up, 80) == 50.0
    assert svc.indicator_points(up, 59) == 0.0 and svc.indicator_points(up, 120) == 100.0
    assert svc.indicator_points(down, 2.5) == 75.0
    assert svc.indicator_points(down, 15) == 0.0 and svc.indicator_points(down, 0) == 100.0


def test_total_is_the_weighted_sum():
    m = {
        "data_quality": svc.Measure(80.0),
        "in_fence_rate": svc.Measure(70.0),
        "complaints": svc.Measure(5.0),
    }
    total, rows = svc.score_indicators(_set(), m)
    # 50 points × 50 % + 50 × 30 % + 50 × 20 %
    assert total == 50.0
    assert [r["weighted"] for r in rows] == [25.0, 15.0, 10.0]
    assert not any(r["missing"] for r in rows)


def test_missing_indicator_weight_is_redistributed_proportionally_and_marked():
    m = {"data_quality": svc.Measure(100.0), "in_fence_rate": svc.Measure(50.0),
         "complaints": svc.Measure(None, {"note": "none"})}  # fmt: skip
    total, rows = svc.score_indicators(_set(), m)
    by = {r["code"]: r for r in rows}
    assert (
        by["complaints"]["missing"]
        and by["complaints"]["points"] is None
        and by["complaints"]["weighted"] == 0
    )
    assert by["complaints"]["inputs"] == {"note": "none"}
    assert by["data_quality"]["effective_weight"] == 62.5 and by["in_fence_rate"]["effective_weight"] == 37.5
    assert total == 62.5  # 100 points × 62.5 % + 0 points × 37.5 %


def test_everything_missing_gives_zero_and_marks_all():
    total, rows = svc.score_indicators(_set(), {})
    assert total == 0 and all(r["missing"] for r in rows)


@pytest.mark.parametrize(
    ("mean", "grade"), [(95, "A"), (90, "A"), (89.99, "B"), (80, "B"), (60, "C"), (59.9, "D"), (0, "D")]
)
def test_grade_thresholds(mean, grade):
    assert svc.grade_for(mean, {"A": 90, "B": 80, "C": 60}) == grade


# -- indicator sets ------------------------------------------------------------------------


def test_weights_must_sum_to_100(env):
    bad = _set()
    bad[0] = {**bad[0], "weight": 40}
    with pytest.raises(ServiceError) as caught:
        svc.indicator_set_create(
            env.center_user, name="x", effective_from=dt.date(2026, 1, 1), indicators=bad
        )
    assert caught.value.error_code == "bad_indicator_set" and "weights" in caught.value.details


def test_indicator_set_api(env):
    c = client_for(env.center_user)
    url = "/api/v1/bikeshare/assessment/indicator-sets"
    bad = _set()
    bad[2] = {**bad[2], "weight": 30}  # sums to 110
    r = c.post(
        url,
        {"name": "v2", "effective_from": "2026-07-15", "indicators": bad},
        content_type="application/json",
    )
    body = assert_error(r, 400, "bad_indicator_set")
    assert "weights" in body["details"]
    r = c.post(url, {"name": "v2", "effective_from": "2026-07-15", "indicators": [{**_set()[0], "code": "nope"}]},
               content_type="application/json")  # fmt: skip
    assert_error(r, 400, "bad_indicator_set")
    r = c.post(url, {"name": "v2", "effective_from": "2026-07-15", "indicators": _set(),
                     "grade_thresholds": {"A": 85, "B": 70, "C": 50}}, content_type="application/json")  # fmt: skip
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["version"] == 2 and created["effective_from"] == "2026-07-01"
    assert created["quota_adjustments"] == {"A": 10.0, "B": 0.0, "C": -10.0, "D": -20.0}
    # The set in force: the newest that started on or before the month.
    assert svc.indicator_set_for(dt.date(2026, 6, 1)).version == 1
    assert svc.indicator_set_for(dt.date(2026, 8, 1)).version == 2
    # Operators may read, not write.
    assert client_for(env.user_a).get(url).status_code == 200
    r = client_for(env.user_a).post(url, {"name": "x"}, content_type="application/json")
    assert r.status_code == 403
    # PATCH while unused; weights checked again.
    r = c.patch(f"{url}/{created['id']}", {"indicators": bad}, content_type="application/json")
    assert_error(r, 400, "bad_indicator_set")
    r = c.patch(f"{url}/{created['id']}", {"name": "v2b"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["name"] == "v2b"
    assert AuditEntry.objects.filter(action="bikeshare.assessment.set.update").count() == 1


def test_a_used_indicator_set_cannot_change(env):
    _month_rows(env, [(2026, 7, 80.0, "published")])
    used = svc.indicator_set_for(dt.date(2026, 7, 1))
    r = client_for(env.center_user).patch(
        f"/api/v1/bikeshare/assessment/indicator-sets/{used.pk}",
        {"name": "z"},
        content_type="application/json",
    )
    assert_error(r, 409, "indicator_set_in_use")


# -- measuring a month ---------------------------------------------------------------------


def _square(lon, lat, d=0.002):
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _trip(op, trip_id, end):
    start = at(DAY, 8)
    return {"operator": op, "trip_id": trip_id, "device_id": f"d-{trip_id}", "vehicle_id": f"v-{trip_id}",
            "start_time": start, "end_time": start + dt.timedelta(minutes=10), "start_lon": INSIDE[0],
            "start_lat": INSIDE[1], "end_lon": end[0], "end_lat": end[1], "source_datum": "GCJ-02",
            "distance_m": 900.0, "duration_s": 600}  # fmt: skip


def _point(op, device, when, trip=None, where=INSIDE):
    return {"operator": op, "device_id": device, "vehicle_id": device, "timestamp": when, "lon": where[0],
            "lat": where[1], "source_datum": "GCJ-02", "battery_pct": None, "trip_id": trip}  # fmt: skip


@pytest.fixture
def month_data(env):
    """October 2026: operator A has trips, telemetry, quotas, scans and complaints; B has none."""
    o = env
    Fence.objects.create(
        name="停放区", kind="parking", geometry=_square(*INSIDE), min_lon=INSIDE[0] - 0.002,
        min_lat=INSIDE[1] - 0.002, max_lon=INSIDE[0] + 0.002, max_lat=INSIDE[1] + 0.002,
        source_datum="GCJ-02", district=o.dongcheng,
    )  # fmt: skip
    a = o.op_a.code
    w = LakeWriter(o.lake)
    w.write("trips", [_trip(a, "t1", INSIDE), _trip(a, "t2", INSIDE), _trip(a, "t3", INSIDE),
                      _trip(a, "t4", OUTSIDE)])  # fmt: skip
    w.write("telemetry", [_point(a, "d-x", at(DAY, 9, m)) for m in range(0, 30, 10)])
    registered = at(dt.date(2026, 9, 1), 0)
    o.bikes = [
        Vehicle.objects.create(operator=o.op_a, device_id=uuid.uuid4(), provider_id=uuid.uuid4(),
                               vehicle_id=f"A-{i}", state="available", district=o.dongcheng,
                               registered_at=registered)
        for i in range(3)
    ]  # fmt: skip
    FleetQuota.objects.create(operator=o.op_a, district=o.dongcheng, quota=2, valid_from=registered)
    for i, result in enumerate(["compliant", "compliant", "compliant", "damaged"]):
        ScanCheck.objects.create(inspector=o.center_user, unit=o.center, checked_at=at(DAY, 10, i),
                                 vehicle_code=f"A-{i % 3}", vehicle=o.bikes[i % 3], operator=o.op_a,
                                 district=o.dongcheng, result=result)  # fmt: skip
    svc.complaint_tally_set(
        o.center_user, operator=o.op_a, year=2026, month=10, count=1, source="12345 热线月报"
    )
    return o


def test_month_measures_and_explains_every_indicator(month_data):
    o = month_data
    rows = svc.assessment_compute_month(o.center_user, year=2026, month=10)
    by_op = {r.operator.code: r for r in rows}
    assert set(by_op) == {o.op_a.code, o.op_b.code}
    ind = {i["code"]: i for i in by_op[o.op_a.code].indicators}

    assert ind["in_fence_rate"]["value"] == 75.0  # 3 of 4 trip ends in the fence
    assert (
        ind["in_fence_rate"]["inputs"]["trip_ends"] == 4
        and ind["in_fence_rate"]["inputs"]["inside_fences"] == 3
    )
    assert ind["over_quota"]["value"] == 50.0  # 3 registered bikes, quota 2
    assert (
        ind["over_quota"]["inputs"]["quotas_over"] == 1
        and ind["over_quota"]["inputs"]["rows"][0]["excess"] == 1
    )
    assert ind["scan_compliance"]["value"] == 75.0
    assert ind["scan_compliance"]["inputs"]["checks"] == 4
    assert ind["complaints"]["value"] == round(1 * 10_000 / 3, 4)
    assert ind["complaints"]["inputs"]["fleet"] == 3 and "12345" in ind["complaints"]["inputs"]["source"]
    # Data quality: the mean of the days with data (one day here), as the monitor scores it.
    expected = next(r["score"] for r in daily_quality(o.lake, DAY, operator=[o.op_a.code])["operators"])
    assert ind["data_quality"]["value"] == expected
    assert (
        ind["data_quality"]["inputs"]["days_with_data"] == 1
        and ind["data_quality"]["inputs"]["days_checked"] == 31
    )
    # No work orders: missing, weight redistributed, still explained.
    assert ind["work_order_response"]["missing"] and ind["work_order_response"]["inputs"]
    present = [i for i in ind.values() if not i["missing"]]
    assert sum(i["effective_weight"] for i in present) == pytest.approx(100, abs=1e-3)
    expected_total = sum(
        svc.indicator_points(i, i["value"]) * i["weight"] / sum(p["weight"] for p in present) for i in present
    )
    assert by_op[o.op_a.code].total == round(expected_total, 2)
    assert all(i["inputs"] for i in ind.values())

    # Operator B: no lake rows, no quota, no scans, no complaints — each missing with a reason.
    ind_b = {i["code"]: i for i in by_op[o.op_b.code].indicators}
    assert ind_b["in_fence_rate"]["missing"] and ind_b["in_fence_rate"]["inputs"]["trip_ends"] == 0
    assert ind_b["over_quota"]["missing"] and ind_b["complaints"]["missing"]
    assert by_op[o.op_b.code].total == 0
    assert AuditEntry.objects.filter(action="bikeshare.assessment.compute").count() == 2

    # The contract of the monthly report.
    scores = svc.month_scores(2026, 10)
    assert [s["operator_code"] for s in scores] == [o.op_a.code, o.op_b.code]
    first = scores[0]
    assert {"operator_code", "operator_name", "total", "status", "indicators"} <= set(first)
    assert {"code", "name", "weight", "value", "points", "weighted", "inputs", "missing"} <= set(
        first["indicators"][0]
    )


def test_in_fence_rate_falls_back_to_the_live_picture(env, tmp_path, settings):
    from govcenter.bikeshare.live import open_live_state

    Fence.objects.create(
        name="停放区", kind="parking", geometry=_square(*INSIDE), min_lon=0, min_lat=0, max_lon=200, max_lat=90,
        source_datum="GCJ-02", district=env.dongcheng,
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'live.db'}"
    from govcenter.bikeshare.services.fences import active_fence_index

    with open_live_state(url, fences=active_fence_index()) as live:
        bikes = [(INSIDE, "a1"), (INSIDE, "a2"), (OUTSIDE, "a3"), (OUTSIDE, "a4")]
        live.update({
            "operator": [env.op_a.code] * 4, "device_id": [d for _p, d in bikes], "vehicle_id": [d for _p, d in bikes],
            "timestamp_ms": [int(at(DAY, 9).timestamp() * 1000)] * 4, "lon": [p[0] for p, _d in bikes],
            "lat": [p[1] for p, _d in bikes], "vehicle_state": ["available"] * 4,
        })  # fmt: skip
    measured = svc._measure_in_fence(
        [env.op_a.code], dt.date(2026, 10, 1), dt.date(2026, 10, 31), env.lake, url
    )
    m = measured[env.op_a.code]
    assert m.value == 50.0 and m.inputs["source"] == "live" and m.inputs["parked"] == 4
    assert "实时" in m.inputs["note"]


def test_future_month_and_bad_month_are_refused(env):
    with pytest.raises(ServiceError) as caught:
        svc.assessment_compute_month(env.center_user, year=2099, month=1)
    assert caught.value.error_code == "future_month"
    r = client_for(env.center_user).post("/api/v1/bikeshare/assessment/months/2026-13/compute")
    assert_error(r, 400, "bad_month")


# -- publication and revisions -------------------------------------------------------------


def test_published_results_are_immutable_and_recomputing_makes_a_revision(month_data):
    o = month_data
    c = client_for(o.center_user)
    r = c.post("/api/v1/bikeshare/assessment/months/2026-10/compute")
    assert r.status_code == 200, r.content
    draft = next(x for x in r.json() if x["operator_code"] == o.op_a.code)
    # Recomputing a draft updates it in place.
    r = c.post("/api/v1/bikeshare/assessment/months/2026-10/compute")
    assert next(x for x in r.json() if x["operator_code"] == o.op_a.code)["id"] == draft["id"]
    r = c.post(f"/api/v1/bikeshare/assessment/results/{draft['id']}/publish")
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert_error(
        c.post(f"/api/v1/bikeshare/assessment/results/{draft['id']}/publish"), 409, "already_published"
    )
    frozen = MonthlyAssessment.objects.get(pk=draft["id"])

    ScanCheck.objects.filter(operator=o.op_a, result="damaged").update(result="compliant")
    r = c.post("/api/v1/bikeshare/assessment/months/2026-10/compute")
    again = next(x for x in r.json() if x["operator_code"] == o.op_a.code)
    assert again["id"] != draft["id"] and again["revision"] == 2 and again["status"] == "draft"
    assert next(i for i in again["indicators"] if i["code"] == "scan_compliance")["value"] == 100.0
    kept = MonthlyAssessment.objects.get(pk=draft["id"])
    kept.total = 1.0
    with pytest.raises(ValueError, match="immutable"):
        kept.save()
    kept.refresh_from_db()
    assert (kept.status, kept.total, kept.indicators, kept.revision) == (
        "published", frozen.total, frozen.indicators, 1)  # fmt: skip
    # An older revision can no longer be published once a newer one exists.
    old_b = MonthlyAssessment.objects.get(operator=o.op_b, month=dt.date(2026, 10, 1))
    svc.assessment_publish(o.center_user, old_b)
    svc.assessment_compute_month(o.center_user, year=2026, month=10)
    with pytest.raises(ServiceError):
        svc.assessment_publish(o.center_user, MonthlyAssessment.objects.get(pk=old_b.pk))


# -- scope ---------------------------------------------------------------------------------


def test_operators_see_only_their_own_published_results(month_data):
    o = month_data
    rows = svc.assessment_compute_month(o.center_user, year=2026, month=10)
    a = next(r for r in rows if r.operator_id == o.op_a.pk)
    b = next(r for r in rows if r.operator_id == o.op_b.pk)
    url = "/api/v1/bikeshare/assessment/months/2026-10"
    assert client_for(o.user_a).get(url).json() == []  # drafts are the Center's
    assert {x["operator_code"] for x in client_for(o.center_user).get(url).json()} == {
        o.op_a.code,
        o.op_b.code,
    }
    svc.assessment_publish(o.center_user, a)
    svc.assessment_publish(o.center_user, b)
    assert [x["operator_code"] for x in client_for(o.user_a).get(url).json()] == [o.op_a.code]
    assert [x["operator_code"] for x in client_for(o.user_b).get(url).json()] == [o.op_b.code]
    assert client_for(o.user_b).get(f"/api/v1/bikeshare/assessment/results/{a.pk}").status_code == 404
    assert client_for(o.user_a).get(f"/api/v1/bikeshare/assessment/results/{a.pk}").status_code == 200
    assert (
        client_for(o.user_a).post(f"/api/v1/bikeshare/assessment/results/{a.pk}/publish").status_code == 403
    )
    assert client_for(o.manager_dc).get(url).status_code == 403  # no assessment permission
    # Pages follow the same scope.
    assert client_for(o.user_b).get(f"/bikeshare/assessment/result/{a.pk}/").status_code == 404
    page = client_for(o.user_a).get("/bikeshare/assessment/?month=2026-10").content.decode()
    assert o.op_a.name_zh in page and o.op_b.name_zh not in page


# -- quarters ------------------------------------------------------------------------------


def _month_rows(o, months, operator=None):
    """Assessments with given totals: [(year, month, total, status)]."""
    operator = operator or o.op_a
    out = []
    for year, month, total, status in months:
        first = dt.date(year, month, 1)
        out.append(MonthlyAssessment.objects.create(
            operator=operator, month=first, revision=1, indicator_set=svc.indicator_set_for(first), status=status,
            total=total, indicators=[], computed_at=at(first, 12)))  # fmt: skip
    return out


def test_quarter_grade_and_recommendation(env):
    o = env
    _month_rows(o, [(2026, 7, 95.0, "published"), (2026, 8, 85.0, "published"), (2026, 9, 92.0, "published")])
    _month_rows(o, [(2026, 7, 55.0, "published"), (2026, 8, 58.0, "draft")], operator=o.op_b)
    start = at(dt.date(2026, 1, 1), 0)
    FleetQuota.objects.create(operator=o.op_a, district=o.dongcheng, quota=105, valid_from=start)
    FleetQuota.objects.create(operator=o.op_a, district=o.xicheng, quota=10, valid_from=start)
    FleetQuota.objects.create(operator=o.op_b, district=o.dongcheng, quota=333, valid_from=start)
    grades = svc.quarter_grades(2026, 3)
    a, b = grades
    assert (a["operator_code"], a["mean_total"], a["grade"]) == (o.op_a.code, 90.67, "A")
    assert a["recommendations"] == [
        {"quota_id": a["recommendations"][0]["quota_id"], "district": "110101", "district_name": "东城区",
         "current_quota": 105, "recommended_quota": 116, "change_pct": 10.0},  # 115.5 rounds half up
        {"quota_id": a["recommendations"][1]["quota_id"], "district": "110102", "district_name": "西城区",
         "current_quota": 10, "recommended_quota": 11, "change_pct": 10.0},
    ]  # fmt: skip
    assert (b["mean_total"], b["grade"], b["provisional"]) == (56.5, "D", True)
    assert b["recommendations"][0]["recommended_quota"] == 266  # 333 × 0.8 = 266.4
    assert not a["provisional"]


def test_adopting_a_recommendation_writes_quota_history(env):
    o = env
    _month_rows(o, [(2026, 7, 95.0, "published"), (2026, 8, 85.0, "published"), (2026, 9, 92.0, "published")])
    _month_rows(o, [(2026, 7, 55.0, "draft")], operator=o.op_b)
    start = at(dt.date(2026, 1, 1), 0)
    old = FleetQuota.objects.create(operator=o.op_a, district=o.dongcheng, quota=105, valid_from=start)
    c = client_for(o.center_user)
    r = c.post("/api/v1/bikeshare/assessment/quarters/2026-Q3/compute")
    assert r.status_code == 200, r.content
    grades = {g["operator_code"]: g for g in r.json()}
    assert grades[o.op_a.code]["grade"] == "A" and grades[o.op_b.code]["provisional"]
    # Operators see their own final grade only.
    assert [
        g["operator_code"]
        for g in client_for(o.user_a).get("/api/v1/bikeshare/assessment/quarters/2026-Q3").json()
    ] == [o.op_a.code]  # noqa: E501
    assert client_for(o.user_b).get("/api/v1/bikeshare/assessment/quarters/2026-Q3").json() == []
    assert (
        client_for(o.user_a)
        .post(f"/api/v1/bikeshare/assessment/grades/{grades[o.op_a.code]['id']}/adopt")
        .status_code
        == 403
    )  # noqa: E501
    # A provisional grade cannot be adopted.
    assert_error(c.post(f"/api/v1/bikeshare/assessment/grades/{grades[o.op_b.code]['id']}/adopt"), 409,
                 "grade_provisional")  # fmt: skip

    r = c.post(f"/api/v1/bikeshare/assessment/grades/{grades[o.op_a.code]['id']}/adopt")
    assert r.status_code == 200, r.content
    assert r.json()["adopted_at"]
    history = list(FleetQuota.objects.filter(operator=o.op_a, district=o.dongcheng).order_by("valid_from"))
    assert [q.quota for q in history] == [105, 116]
    old.refresh_from_db()
    assert old.valid_to == history[1].valid_from and history[1].valid_to is None
    assert "2026Q3" in history[1].reason and history[1].set_by == o.center_user
    assert AuditEntry.objects.filter(action="bikeshare.quota.set").count() == 1
    assert AuditEntry.objects.filter(action="bikeshare.assessment.adopt").count() == 1
    assert_error(c.post(f"/api/v1/bikeshare/assessment/grades/{grades[o.op_a.code]['id']}/adopt"), 409,
                 "already_adopted")  # fmt: skip
    # Recomputing keeps the adopted grade as it was.
    svc.quarter_grade_compute(o.center_user, year=2026, quarter=3)
    assert QuarterlyGrade.objects.get(operator=o.op_a, year=2026, quarter=3).adopted_at is not None


def test_adoption_refuses_a_stale_recommendation(env):
    o = env
    _month_rows(o, [(2026, 7, 70.0, "published"), (2026, 8, 70.0, "published"), (2026, 9, 70.0, "published")])
    FleetQuota.objects.create(
        operator=o.op_a, district=o.dongcheng, quota=100, valid_from=at(dt.date(2026, 1, 1), 0)
    )
    grade = svc.quarter_grade_compute(o.center_user, year=2026, quarter=3)[0]
    assert grade.grade == "C" and grade.recommendations[0]["recommended_quota"] == 90
    from govcenter.bikeshare.services.quotas import quota_set

    quota_set(o.center_user, operator=o.op_a, district=o.dongcheng, quota=120)
    with pytest.raises(ServiceError) as caught:
        svc.quarter_grade_adopt(o.center_user, grade)
    assert caught.value.error_code == "quota_changed"
    assert FleetQuota.objects.filter(operator=o.op_a, valid_to__isnull=True).get().quota == 120


# -- complaints, CLI, pages, demo ----------------------------------------------------------


def test_complaint_tally_api_is_audited_and_validated(env):
    c = client_for(env.center_user)
    url = "/api/v1/bikeshare/assessment/complaints"
    body = {"operator": env.op_a.pk, "month": "2026-10", "count": 4, "source": "12345"}
    assert c.post(url, body, content_type="application/json").status_code == 200
    assert c.post(url, {**body, "count": 5}, content_type="application/json").json()["count"] == 5
    assert AuditEntry.objects.filter(action="bikeshare.assessment.complaints").count() == 2
    assert_error(c.post(url, {**body, "month": "2026/10"}, content_type="application/json"), 400, "bad_month")
    assert (
        c.post(url, {**body, "operator": env.center.pk}, content_type="application/json").status_code == 404
    )
    assert client_for(env.user_a).post(url, body, content_type="application/json").status_code == 403


@pytest.mark.parametrize("args", [["--month", "2026-13"], ["--month", "oct"], ["--quarter", "2026-Q5"], []])
def test_cli_refuses_bad_periods(env, args):
    from govcenter.core.management.base import UsageError

    with pytest.raises(UsageError) as caught:
        call_command("bikeshare", "assess", *args)
    assert caught.value.returncode == 2


def test_cli_computes_a_month_and_a_quarter(month_data, capsys):
    call_command("bikeshare", "assess", "--month", "2026-10")
    assert MonthlyAssessment.objects.filter(month=dt.date(2026, 10, 1)).count() == 2
    entry = AuditEntry.objects.filter(action="bikeshare.assessment.compute").latest("seq")
    assert entry.channel == "cli"
    call_command("bikeshare", "assess", "--quarter", "2026-Q4")
    assert QuarterlyGrade.objects.filter(year=2026, quarter=4).count() == 2


def test_pages(month_data):
    o = month_data
    rows = svc.assessment_compute_month(o.center_user, year=2026, month=10)
    a = next(r for r in rows if r.operator_id == o.op_a.pk)
    c = client_for(o.center_user)
    page = c.get("/bikeshare/assessment/?month=2026-10")
    assert page.status_code == 200
    text = page.content.decode()
    assert o.op_a.name_zh in text and "bikeshare-assessment-data" in text
    detail = c.get(f"/bikeshare/assessment/result/{a.pk}/").content.decode()
    assert 'data-indicator="in_fence_rate"' in detail and "trip_ends" in detail and "12345" in detail
    r = c.post(f"/bikeshare/assessment/result/{a.pk}/publish/")
    assert r.status_code == 302
    assert MonthlyAssessment.objects.get(pk=a.pk).status == "published"
    assert c.get("/bikeshare/assessment/quarter/?quarter=2026-Q4").status_code == 200
    assert c.get("/bikeshare/assessment/sets/").status_code == 200
    assert c.get("/bikeshare/assessment/?month=bad").status_code == 200  # shows the error, default month
    # Without ?month the page opens on the newest month with results (here 2026-10, not "last month").
    default = c.get("/bikeshare/assessment/").content.decode()
    assert "2026-10" in default and o.op_a.name_zh in default


def test_demo_loader_computes_the_demo_month_once(env):
    first = svc.load_demo_assessment()
    assert first["assessments"] == 2
    assert svc.load_demo_assessment()["assessments"] == 0


def test_openapi_schema_describes_the_assessment_api():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    paths = schema["paths"]
    assert "/api/v1/bikeshare/assessment/months/{month}/compute" in paths
    assert "/api/v1/bikeshare/assessment/grades/{id}/adopt" in paths
    result = schema["components"]["schemas"]["MonthlyAssessment"]["properties"]
    assert {"total", "indicators", "status", "revision"} <= set(result)


def test_in_fence_rate_on_a_synthetic_day_matches_an_independent_count(env):
    """The vectorised lake path against a plain shapely count over the trip files."""
    import pyarrow.parquet as pq
    import shapely

    from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
    from tests.factories import UnitFactory

    codes = list(UNIT_CODES.values())
    for code in codes:
        UnitFactory(code=code, kind="operator")
    load_day(DAY, scale=0.0005, seed=20261101, lake_root=env.lake, register=False)
    centre = (116.40, 39.91)
    Fence.objects.create(
        name="中心区", kind="parking", geometry=_square(*centre, d=0.05), min_lon=centre[0] - 0.05,
        min_lat=centre[1] - 0.05, max_lon=centre[0] + 0.05, max_lat=centre[1] + 0.05, source_datum="GCJ-02",
        district=env.dongcheng,
    )  # fmt: skip
    polygon = shapely.geometry.shape(_square(*centre, d=0.05))
    expected: dict[str, list[int]] = {c: [0, 0] for c in codes}
    for f in sorted((env.lake / "trips").glob("date=*/operator=*/*.parquet")):
        for r in pq.ParquetFile(f).read().to_pylist():
            expected[r["operator"]][0] += 1
            expected[r["operator"]][1] += polygon.intersects(shapely.Point(r["end_lon"], r["end_lat"]))
    assert any(0 < inside < total for total, inside in expected.values())  # the fence splits the trips
    measured = svc._measure_in_fence(codes, dt.date(2026, 10, 1), dt.date(2026, 10, 31), env.lake, None)
    for code in codes:
        total, inside = expected[code]
        assert total > 0
        assert (
            measured[code].inputs["trip_ends"] == total and measured[code].inputs["inside_fences"] == inside
        )
        assert measured[code].value == round(100 * inside / total, 4)


def test_quarter_page_compute_and_adopt(env):
    o = env
    _month_rows(o, [(2026, 7, 82.0, "published"), (2026, 8, 84.0, "published"), (2026, 9, 80.0, "published")])
    FleetQuota.objects.create(
        operator=o.op_a, district=None, quota=1000, valid_from=at(dt.date(2026, 1, 1), 0)
    )
    c = client_for(o.center_user)
    assert c.post("/bikeshare/assessment/quarter/compute/", {"quarter": "2026-Q3"}).status_code == 302
    grade = QuarterlyGrade.objects.get(operator=o.op_a, year=2026, quarter=3)
    assert grade.grade == "B" and grade.recommendations[0]["district"] is None
    page = c.get("/bikeshare/assessment/quarter/?quarter=2026-Q3").content.decode()
    assert f"/bikeshare/assessment/grade/{grade.pk}/adopt/" in page
    # Operators see the grade but no adopt button, and cannot adopt.
    op_page = client_for(o.user_a).get("/bikeshare/assessment/quarter/?quarter=2026-Q3").content.decode()
    assert o.op_a.name_zh in op_page and "/adopt/" not in op_page
    assert client_for(o.user_a).post(f"/bikeshare/assessment/grade/{grade.pk}/adopt/").status_code == 403
    assert c.post(f"/bikeshare/assessment/grade/{grade.pk}/adopt/").status_code == 302
    grade.refresh_from_db()
    assert grade.adopted_at is not None
    # Grade B changes nothing (0 %): no new quota row, the adoption itself is audited.
    assert FleetQuota.objects.filter(operator=o.op_a).count() == 1
    assert AuditEntry.objects.filter(action="bikeshare.assessment.adopt").count() == 1
