"""The analyses API and pages (/api/v1/bikeshare/analyses/…, /bikeshare/analyses/…) over a small
synthetic lake: the API's numbers equal the analyses run directly on the same lake, through
the caller's scope (operator staff get only their operator's numbers, district staff their
district's), bad parameters are 400 {"code","message","details"}, an empty lake is an empty
state, and the pages render (200/403/302) for the demo roles."""

from __future__ import annotations

import datetime as dt
import json
import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from govcenter.analytics.engine import connect
from govcenter.bikeshare import analyses as an
from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.bikeshare.selectors.analyses import plain_rows
from govcenter.core.districts import load_districts
from govcenter.core.models import District, Role
from govcenter.core.roles import ensure_builtin_roles
from tests.factories import RoleFactory, UnitFactory, UserFactory

from .conftest import assert_error

pytestmark = pytest.mark.django_db

BEIJING = ZoneInfo("Asia/Shanghai")
DAYS = (dt.date(2026, 10, 30), dt.date(2026, 11, 2))
API = "/api/v1/bikeshare/analyses/"
MEITUAN = UNIT_CODES["meituan"]
HELLO = UNIT_CODES["hellobike"]
DONGCHENG = "110101"
_BUILT: dict[str, object] = {}


@pytest.fixture
def lake(db, tmp_path_factory):
    """Two synthetic days (built once per session; the operator units only for the load)."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("analyses-pages") / "lake"
        with transaction.atomic():
            for code in UNIT_CODES.values():
                UnitFactory(code=code, kind="operator")
            for day in DAYS:
                load_day(day, scale=0.001, seed=5, lake_root=root, register=False)
            transaction.set_rollback(True)
        _BUILT["root"] = root
    return _BUILT["root"]


@pytest.fixture
def world(lake, settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = lake
    settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{tmp_path / 'live.db'}"
    cache.clear()
    load_districts()
    ensure_builtin_roles()
    units = {
        code: UnitFactory(code=code, kind="operator", name_zh=f"{code}单车") for code in UNIT_CODES.values()
    }
    dongcheng = District.objects.get(code=DONGCHENG)
    center_role = RoleFactory(scope_kind="all", perms=["bikeshare.view_vehicle"])
    district_role = RoleFactory(scope_kind="districts", perms=["bikeshare.view_vehicle"])
    operator_role = RoleFactory(scope_kind="operator", perms=["bikeshare.view_vehicle"])
    center_unit = UnitFactory(kind="center")
    district_unit = UnitFactory(kind="district_unit", district=dongcheng)
    roles = {r.code: r for r in Role.objects.all()}
    demo = {
        code: UserFactory(
            unit=units[MEITUAN] if code == "operator_staff" else district_unit
            if code in ("district_manager", "field_inspector") else center_unit,
            role_set=[roles[code]],
        )
        for code in ("data_staff", "center_leader", "district_manager", "field_inspector", "operator_staff")
    }  # fmt: skip
    return SimpleNamespace(
        lake=lake,
        units=units,
        center=UserFactory(unit=center_unit, role_set=[center_role]),
        manager=UserFactory(unit=district_unit, role_set=[district_role]),
        meituan=UserFactory(unit=units[MEITUAN], role_set=[operator_role]),
        hello=UserFactory(unit=units[HELLO], role_set=[operator_role]),
        nobody=UserFactory(unit=center_unit),
        demo=demo,
    )


@pytest.fixture
def con(lake):
    backend = connect("duckdb", lake)
    yield backend
    backend.disconnect()


def get(user, url, **params):
    client = Client()
    client.force_login(user)
    return client.get(url, params)


def ok(user, url, **params) -> dict:
    response = get(user, url, **params)
    assert response.status_code == 200, response.content[:400]
    return response.json()


def direct(expr) -> list[dict]:
    return plain_rows(an.run(expr))


PERIOD = {"first": DAYS[0].isoformat(), "last": DAYS[1].isoformat()}


def start_end(day: dt.date, hours: int = 24) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=BEIJING)
    return start, start + dt.timedelta(hours=hours)


# -- numbers equal the analyses run directly --------------------------------------------------


def test_rides_match_the_analyses(world, con):
    body = ok(world.center, API + "rides/day", **PERIOD)
    assert body["rows"] == direct(an.rides_by_day(con, *DAYS)) and body["rows"]
    body = ok(world.center, API + "rides/hour", **PERIOD, by_district="1")
    assert body["rows"] == direct(an.rides_by_hour(con, *DAYS, by_district=True))
    body = ok(world.center, API + "rides/month", **PERIOD)
    assert body["rows"] == direct(an.monthly_rides(con, *DAYS))
    assert {(r["year"], r["month"]) for r in body["rows"]} == {(2026, 10), (2026, 11)}
    body = ok(world.center, API + "rides/peaks", **PERIOD)
    assert body["rows"] == direct(an.peak_hours(an.rides_by_hour(con, *DAYS)))
    weekly = ok(world.center, API + "rides/week", **PERIOD)["rows"]
    daily = direct(an.rides_by_day(con, *DAYS))
    for op in {r["operator"] for r in daily}:
        assert sum(r["rides"] for r in weekly if r["operator"] == op) == sum(
            r["rides"] for r in daily if r["operator"] == op
        )
    assert {r["week"] for r in weekly} == {"2026-W44", "2026-W45"}


def test_heatmap_trajectory_operations_stations_match(world, con):
    start, end = start_end(DAYS[1])
    body = ok(world.center, API + "heatmap", start=start.isoformat(), end=end.isoformat(), resolution=8)
    want = direct(an.heatmap(con, start, end, resolution=8))
    assert [{k: r[k] for k in ("cell", "points", "vehicles")} for r in body["rows"]] == want and want
    assert len(body["rows"][0]["boundary"]) == 7  # a closed hexagon

    naive = {"start": "2026-11-02T00:00:00", "end": "2026-11-03T00:00:00"}  # Beijing time
    assert ok(world.center, API + "heatmap", **naive, resolution=8)["rows"] == body["rows"]

    device = want and direct(an.trajectory(con, start, end, device_id=_a_device(con, start, end)))
    track = ok(world.center, API + "trajectory", start=start.isoformat(), end=end.isoformat(),
               device_id=device[0]["device_id"])["rows"]  # fmt: skip
    assert track == device and len(track) > 1

    ops = ok(world.center, API + "operations", **PERIOD)
    assert ops["rows"] == direct(an.operator_daily(con, *DAYS)) and ops["rows"]
    moves = direct(an.rebalancing(con, *DAYS))

    def rounded(rows):  # a float sum's last digit depends on the order of the addends
        return [(r["operator"], r["date"], r["moves"], r["bikes_moved"], round(r["moved_km"], 6)) for r in rows]

    assert rounded(ops["rebalancing"]) == rounded(moves)
    for total in ops["totals"]:
        assert total["moves"] == sum(m["moves"] for m in moves if m["operator"] == total["operator"])
    idle = ok(world.center, API + "idle", as_of=DAYS[1].isoformat(), days=1)
    vehicles = direct(an.idle_vehicles(con, DAYS[1], 1))
    assert idle["counts"] == direct(an.idle_counts(an.idle_vehicles(con, DAYS[1], 1)))
    assert idle["rows"] == vehicles[:500]

    stations = ok(world.center, API + "stations", **PERIOD, threshold=0)
    s, e = DAYS[0], DAYS[1] + dt.timedelta(days=1)
    flows = an.station_flows(con, *(dt.datetime.combine(d, dt.time.min, tzinfo=BEIJING) for d in (s, e)))
    assert stations["flows"] == direct(flows) and stations["flows"]
    assert stations["imbalance"] == direct(an.station_imbalance(flows))
    assert stations["alerts"] == direct(an.accumulation_alerts(flows, threshold=0))


def _a_device(con, start, end) -> str:
    points = con.table("telemetry")
    counts = an.run(points.group_by("device_id").aggregate(n=points.count()).order_by([points.count().desc(),
                                                                                       "device_id"]).limit(1))  # fmt: skip
    return counts["device_id"][0].as_py()


# -- scope ------------------------------------------------------------------------------------


def test_operator_staff_see_only_their_operator(world, con):
    everyone = ok(world.center, API + "rides/day", **PERIOD)["rows"]
    assert {r["operator"] for r in everyone} >= {MEITUAN, HELLO}
    mine = ok(world.meituan, API + "rides/day", **PERIOD)["rows"]
    assert mine == [r for r in everyone if r["operator"] == MEITUAN] and mine
    theirs = ok(world.hello, API + "rides/day", **PERIOD)["rows"]
    assert theirs == [r for r in everyone if r["operator"] == HELLO] and theirs

    ops = ok(world.meituan, API + "operations", **PERIOD)["rows"]
    assert {r["operator"] for r in ops} == {MEITUAN}
    assert ops == [r for r in direct(an.operator_daily(con, *DAYS)) if r["operator"] == MEITUAN]

    start, end = start_end(DAYS[1])
    heat = ok(world.meituan, API + "heatmap", start=start.isoformat(), end=end.isoformat(), resolution=7)
    only = direct(an.heatmap(con, start, end, resolution=7, operator=MEITUAN))
    assert [{k: r[k] for k in ("cell", "points", "vehicles")} for r in heat["rows"]] == only
    total = sum(r["points"] for r in direct(an.heatmap(con, start, end, resolution=7)))
    assert sum(r["points"] for r in heat["rows"]) < total

    # Another operator's bike has no trajectory for them.
    other = [r for r in direct(an.trajectory(con, start, end, device_id=_a_device(con, start, end)))]
    device = other[0]["device_id"]
    owner = other[0]["operator"]
    outsider = world.hello if owner == MEITUAN else world.meituan
    assert ok(outsider, API + "trajectory", start=start.isoformat(), end=end.isoformat(),
              device_id=device)["rows"] == []  # fmt: skip

    # Station flows count only their own trips.
    mine = ok(world.meituan, API + "stations", **PERIOD, threshold=0)["flows"]
    alls = ok(world.center, API + "stations", **PERIOD, threshold=0)["flows"]
    assert sum(r["arrivals"] + r["departures"] for r in mine) < sum(
        r["arrivals"] + r["departures"] for r in alls
    )


def test_district_staff_see_only_their_district(world, con):
    rows = ok(world.manager, API + "rides/day", **PERIOD)
    assert rows["by_district"] is True
    want = [r for r in direct(an.rides_by_day(con, *DAYS, by_district=True)) if r["district"] == DONGCHENG]
    assert rows["rows"] == want and want
    assert ok(world.manager, API + "operations", **PERIOD) | {"first": None, "last": None} == {
        "first": None, "last": None, "rows": [], "totals": [], "operator_level": False}  # fmt: skip
    start, end = start_end(DAYS[1])
    heat = ok(world.manager, API + "heatmap", start=start.isoformat(), end=end.isoformat(), resolution=8)
    assert heat["rows"]
    codes = an.district_codes(*zip(*[_centre(r["cell"]) for r in heat["rows"]], strict=True))
    assert set(codes.tolist()) == {DONGCHENG}


def _centre(cell):
    import h3

    lat, lon = h3.cell_to_latlng(cell)
    return lon, lat


def test_no_permission_and_no_login(world):
    assert get(world.nobody, API + "rides/day").status_code == 403
    assert Client().get(API + "rides/day").status_code in (401, 403)


# -- bad parameters ---------------------------------------------------------------------------


def test_bad_parameters_are_400(world):
    u = world.center
    assert_error(get(u, API + "rides/day", first="2026-13-01", last="2026-11-02"), 400, "bad_date")
    assert_error(get(u, API + "rides/day", first="2026-11-03", last="2026-11-02"), 400, "bad_period")
    assert_error(get(u, API + "rides/hour", first="2026-01-01", last="2026-11-02"), 400, "period_too_long")
    assert_error(get(u, API + "rides/minute", **PERIOD), 400, "bad_kind")
    window = {"start": "2026-11-02T00:00:00+08:00", "end": "2026-11-02T06:00:00+08:00"}
    assert_error(get(u, API + "heatmap", **window, resolution=15), 400, "bad_resolution")
    assert_error(get(u, API + "heatmap", **window, resolution="x"), 400, "bad_resolution")
    assert_error(get(u, API + "heatmap", **window, points="nowhere"), 400, "bad_points")
    assert_error(get(u, API + "heatmap", start="2026-11-01", end="2026-11-30"), 400, "window_too_long")
    assert_error(get(u, API + "heatmap", start="2026-11-02", end="2026-11-01"), 400, "bad_window")
    assert_error(get(u, API + "heatmap", start="yesterday", end="2026-11-01"), 400, "bad_datetime")
    assert_error(get(u, API + "trajectory", **window), 400, "bad_vehicle")
    assert_error(get(u, API + "idle", days=0), 400, "bad_days")
    assert_error(get(u, API + "stations", **PERIOD, threshold=-1), 400, "bad_threshold")


def test_empty_lake_is_an_empty_state(world, settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = tmp_path / "no-lake"
    cache.clear()
    assert ok(world.center, API + "rides/day", **PERIOD)["rows"] == []
    assert ok(world.center, API + "heatmap", start="2026-11-02", end="2026-11-03")["rows"] == []
    for url in ("rides", "operations", "stations"):
        response = get(world.center, f"/bikeshare/analyses/{url}/", **PERIOD)
        assert response.status_code == 200 and "data-empty" in response.content.decode(), url
    response = get(world.center, "/bikeshare/analyses/map/", start="2026-11-02", end="2026-11-03")
    assert response.status_code == 200 and "data-empty" in response.content.decode()


# -- pages ------------------------------------------------------------------------------------


PAGES = ("rides", "map", "operations", "stations")


def test_pages_show_the_numbers(world, con):
    html = get(world.center, "/bikeshare/analyses/rides/", **PERIOD).content.decode()
    total = sum(r["rides"] for r in direct(an.rides_by_day(con, *DAYS)))
    stat = html.split('data-stat="total"', 1)[1]
    assert re.search(r'shell-stat-value">(\d+)<', stat).group(1) == str(total) and total > 0
    assert "订单与趋势" in html and "bikeshare/js/analyses.js" in html
    assert "<script>" not in html.replace("<script src", "")  # CSP: no inline script
    mine = get(world.meituan, "/bikeshare/analyses/operations/", **PERIOD).content.decode()
    assert f'data-operator="{MEITUAN}"' in mine and f'data-operator="{HELLO}"' not in mine
    html = get(world.center, "/bikeshare/analyses/map/", start="2026-11-02", end="2026-11-03",
               vehicle_id="nope").content.decode()  # fmt: skip
    assert "bikeshare-analyses-map-data" in html and "data-track-empty" in html
    html = get(world.manager, "/bikeshare/analyses/operations/", **PERIOD).content.decode()
    assert "data-operator-level" in html


def test_pages_show_bad_parameters(world):
    response = get(world.center, "/bikeshare/analyses/rides/", first="2026-11-05", last="2026-11-01")
    assert response.status_code == 200 and "data-error" in response.content.decode()
    response = get(world.center, "/bikeshare/analyses/map/", start="2026-11-01", end="2026-11-30")
    assert "data-error" in response.content.decode() and "168" in response.content.decode()


def test_pages_for_each_demo_role(world):
    for role, user in world.demo.items():
        for name in PAGES:
            response = get(user, f"/bikeshare/analyses/{name}/", **PERIOD)
            assert response.status_code == 200, (role, name)
    for name in PAGES:
        assert get(world.nobody, f"/bikeshare/analyses/{name}/").status_code == 403
        response = Client().get(f"/bikeshare/analyses/{name}/")
        assert response.status_code == 302 and "/login" in response["Location"]


def test_map_page_draws_the_heatmap_and_a_trajectory(world, con):
    start, end = start_end(DAYS[1])
    device = _a_device(con, start, end)
    track = direct(an.trajectory(con, start, end, device_id=device))
    vehicle = track[0]["vehicle_id"]
    html = get(world.center, "/bikeshare/analyses/map/", start="2026-11-02T00:00", end="2026-11-03T00:00",
               resolution=7, vehicle_id=vehicle).content.decode()  # fmt: skip
    raw = html.split('id="bikeshare-analyses-map-data" type="application/json">', 1)[1].split("</script>", 1)[
        0
    ]
    data = json.loads(raw)
    cells = direct(an.heatmap(con, start, end, resolution=7))
    assert [(c["cell"], c["value"]) for c in data["cells"]] == [(r["cell"], r["points"]) for r in cells]
    want = direct(an.trajectory(con, start, end, vehicle_id=vehicle))
    assert [(p["lon"], p["lat"]) for p in data["track"]] == [(r["lon"], r["lat"]) for r in want] and want
    assert 'id="bikeshare-track-slider"' in html and 'id="bikeshare-track-play"' in html
