"""The bike-share overview page (/bikeshare/): a synthetic day in the live picture and the lake →
the page's numbers equal the live store's, through the caller's data scope (the Center sees
all, a district manager their district, operator staff their operator); the data-quality
section appears with the permission and says so when the lake has no data; 302/403; no
inline script. Each test runs on the SQLite and the Redis live store."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.bikeshare.live import PARKED_STATES, open_live_state
from govcenter.bikeshare.models import FleetQuota
from govcenter.bikeshare.quality import daily_quality
from govcenter.bikeshare.views.overview import STALE_AFTER_S
from govcenter.core.districts import load_districts
from govcenter.core.models import District
from tests.factories import RoleFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/bikeshare/"
DONGCHENG = "110101"
MEITUAN = "OP-MEITUAN"
HELLO = "OP-HELLO"
EVERY = 10**9  # "no limit" for LiveState.stale (the SQLite adapter refuses limit=None: LIMIT NULL)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def live_url(request, tmp_path):
    """An empty live store of each adapter (Redis under a fresh prefix, cleared afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    url = f"{request.getfixturevalue('redis_url')}?prefix=test:bikeshare:overview:{uuid.uuid4().hex}"
    yield url
    with open_live_state(url) as live:
        live.clear()


@pytest.fixture
def world(settings, tmp_path, live_url):
    load_districts()
    units = {
        code: UnitFactory(code=code, kind="operator", name_zh=f"{code}单车", name_en=code.title())
        for code in UNIT_CODES.values()
    }
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    settings.GOVCENTER_BIKESHARE_LIVE_URL = live_url
    cache.clear()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    load_day(yesterday, scale=0.0005, seed=11, lake_root=tmp_path / "lake", register=False,
             live_url=settings.GOVCENTER_BIKESHARE_LIVE_URL)  # fmt: skip
    now_ms = int(time.time() * 1000)
    with open_live_state(settings.GOVCENTER_BIKESHARE_LIVE_URL) as live:
        # Fresh bikes in 东城: one riding (not parked), one of an operator that is no unit.
        live.update(
            {
                "operator": [HELLO, "OP-GHOST"],
                "device_id": ["test-riding", "test-ghost"],
                "vehicle_id": ["HB-RIDING", "GH-1"],
                "timestamp_ms": [now_ms, now_ms],
                "lon": [116.4167, 116.4100],
                "lat": [39.9286, 39.9200],
                "vehicle_state": ["on_trip", "available"],
            }
        )
        assert live.get("test-riding").district == DONGCHENG
    dongcheng = District.objects.get(code=DONGCHENG)
    center_role = RoleFactory(
        scope_kind="all", perms=["bikeshare.view_vehicle", "bikeshare.view_operatorrejection"]
    )
    district_role = RoleFactory(scope_kind="districts", perms=["bikeshare.view_vehicle"])
    operator_role = RoleFactory(
        scope_kind="operator", perms=["bikeshare.view_vehicle", "bikeshare.view_operatorrejection"]
    )
    center_unit = UnitFactory(kind="center")
    FleetQuota.objects.create(
        operator=units[MEITUAN], district=None, quota=1, valid_from=timezone.now() - dt.timedelta(days=1)
    )
    return SimpleNamespace(
        url=settings.GOVCENTER_BIKESHARE_LIVE_URL,
        lake=tmp_path / "lake",
        day=yesterday,
        center=UserFactory(unit=center_unit, role_set=[center_role]),
        manager=UserFactory(
            unit=UnitFactory(kind="district_unit", district=dongcheng), role_set=[district_role]
        ),
        meituan=UserFactory(unit=units[MEITUAN], role_set=[operator_role]),
        nobody=UserFactory(unit=center_unit),
    )


def page(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200, response.content[:300]
    assert response["Cache-Control"] == "no-store"
    return response.content.decode()


def section(html: str, marker: str, end: str = "</table>") -> str:
    start = html.index(marker)
    return html[start : html.index(end, start)]


def counts_table(html: str) -> SimpleNamespace:
    """The district × operator table as numbers: columns, rows {code: cells}, totals."""
    table = section(html, "data-counts-table")
    columns = re.findall(r'<th class="text-end" data-operator="([^"]+)">', table)
    rows = {}
    for code, body in re.findall(r'<tr data-district="([^"]*)">(.*?)</tr>', table, re.S):
        rows[code] = [int(n) for n in re.findall(r'<td class="text-end"(?: data-total)?>(\d+)</td>', body)]
    foot = re.search(r"<tr data-totals>(.*?)</tr>", table, re.S).group(1)
    totals = [int(n) for n in re.findall(r'<th class="text-end"(?: data-total)?>(\d+)</th>', foot)]
    return SimpleNamespace(columns=columns, rows=rows, totals=totals)


def kpi(html: str, key: str) -> str:
    start = html.index(f'data-stat="{key}"')
    return re.search(r'shell-stat-value">([^<]*)<', html[start:]).group(1).strip()


def devices(html: str, name: str) -> list[str]:
    return re.findall(r'<tr data-device="([^"]+)">', section(html, f'data-section="{name}"'))


def test_center_sees_every_count_of_the_live_store(world):
    before_ms = int(time.time() * 1000)
    html = page(world.center)
    after_ms = int(time.time() * 1000)
    table = counts_table(html)
    with open_live_state(world.url) as live:
        codes = sorted(UNIT_CODES.values())
        assert table.columns == [*codes, "__other__"]
        by_district = live.count_by_district()
        for district, cells in table.rows.items():
            assert cells[-1] == by_district.get(district, 0), district
            for code, n in zip(table.columns[:-1], cells, strict=False):
                assert n == live.count_by_district(operator=code).get(district, 0), (district, code)
        assert set(by_district) <= set(table.rows)
        assert table.totals == [*(live.total(c) for c in codes), live.total("OP-GHOST"), live.total()]
        assert int(kpi(html, "total")) == live.total() > 300
        outside = sum(live.count_by_district(states=PARKED_STATES, fenced=False).values())
        assert int(kpi(html, "outside")) == outside == live.total() - 1  # all but the riding bike
        listed = devices(html, "outside")
        assert listed == [b.device_id for b in live.parked_outside_fences(limit=50)]
        stale = int(kpi(html, "stale"))
        low = len(live.stale(STALE_AFTER_S, before_ms, limit=EVERY))
        high = len(live.stale(STALE_AFTER_S, after_ms, limit=EVERY))
        assert low <= stale <= high and stale > 0
        assert "test-riding" not in devices(html, "stale")
        assert len(devices(html, "stale")) == min(stale, 50)
    quota = section(html, 'data-section="over-quota"')
    excess = re.findall(r"<td class=\"text-end text-danger\" data-excess>(\d+)</td>", quota)
    assert excess == [str(max(live_total_of(world, MEITUAN), 0) - 1)]


def live_total_of(world, code: str) -> int:
    with open_live_state(world.url) as live:
        return live.total(code)


def test_center_sees_yesterdays_quality_per_operator(world):
    html = page(world.center)
    quality = section(html, 'data-section="quality"')
    assert world.day.isoformat() in quality
    rows = dict(re.findall(r'<tr data-operator="([^"]+)">(.*?)</tr>', quality, re.S))
    expected = {
        r["operator"]: r
        for r in daily_quality(world.lake, world.day, now=timezone.now())["operators"]
        if r["telemetry_points"] or r["trips"]
    }
    assert set(rows) == set(expected) == set(UNIT_CODES.values())
    for code, body in rows.items():
        cells = re.findall(r'<td class="text-end"(?: data-score)?>([^<]*)</td>', body)
        score = float(cells[0])
        assert 0 <= score <= 100
        assert [int(c) for c in cells[1:3]] == [
            expected[code]["telemetry_points"],
            expected[code]["devices_reporting"],
        ]


def test_quality_says_so_when_the_lake_has_no_data(world, settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = tmp_path / "empty-lake"
    (tmp_path / "empty-lake").mkdir()
    html = page(world.center)
    start = html.index('data-section="quality"')
    assert "数据湖中没有该日数据" in html[start : start + 600]
    assert "data-score" not in html[start:]


def test_district_manager_sees_only_their_district(world):
    html = page(world.manager)
    table = counts_table(html)
    assert set(table.rows) == {DONGCHENG}
    with open_live_state(world.url) as live:
        assert table.columns == [*sorted(UNIT_CODES.values()), "__other__"]
        for code, n in zip(table.columns[:-1], table.rows[DONGCHENG], strict=False):
            assert n == live.count_by_district(operator=code).get(DONGCHENG, 0), code
        assert table.rows[DONGCHENG][-2] == 1  # the bike of the operator that is no unit
        assert table.rows[DONGCHENG][-1] == live.count_by_district()[DONGCHENG] == table.totals[-1]
        assert int(kpi(html, "total")) == live.count_by_district()[DONGCHENG] < live.total()
        outside = live.count_by_district(states=PARKED_STATES, fenced=False)[DONGCHENG]
        assert int(kpi(html, "outside")) == outside
        listed = devices(html, "outside")
        assert listed and all(live.get(d).district == DONGCHENG for d in listed)
        assert len(listed) == min(outside, 50)
        stale = devices(html, "stale")
        assert stale and all(live.get(d).district == DONGCHENG for d in stale)
        assert int(kpi(html, "stale")) < len(live.stale(STALE_AFTER_S, limit=EVERY))
    assert 'data-section="quality"' not in html  # no view_operatorrejection
    assert "data-excess" not in html  # the city-wide quota is no district's


def test_operator_staff_see_only_their_operator(world):
    before_ms = int(time.time() * 1000)
    html = page(world.meituan)
    after_ms = int(time.time() * 1000)
    table = counts_table(html)
    assert table.columns == [MEITUAN]
    with open_live_state(world.url) as live:
        mine = live.count_by_district(operator=MEITUAN)
        assert {d: cells[0] for d, cells in table.rows.items() if cells[0]} == mine
        assert table.totals == [live.total(MEITUAN), live.total(MEITUAN)]
        assert int(kpi(html, "total")) == live.total(MEITUAN) < live.total()
        outside = devices(html, "outside") + devices(html, "stale")
        assert outside and all(live.get(d).operator == MEITUAN for d in outside)
        low, high = (
            len(live.stale(STALE_AFTER_S, ms, operator=MEITUAN, limit=EVERY)) for ms in (before_ms, after_ms)
        )
        assert low <= int(kpi(html, "stale")) <= high
        quota = section(html, 'data-section="over-quota"')
        assert re.findall(r"data-excess>(\d+)<", quota) == [str(live.total(MEITUAN) - 1)]
    quality = section(html, 'data-section="quality"')
    assert re.findall(r'<tr data-operator="([^"]+)">', quality) == [MEITUAN]
    assert "OP-HELLO" not in html and "OP-GHOST" not in html


def test_anonymous_is_sent_to_login_and_no_permission_is_403(world):
    response = Client().get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
    client = Client()
    client.force_login(world.nobody)
    assert client.get(URL).status_code == 403


def test_no_inline_script_or_style(world):
    html = page(world.center)
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html):
        assert 'type="application/json"' in tag, tag  # data only (json_script), never code
    assert "bikeshare/js/overview.js" in html and "vendor/echarts/echarts.min.js" in html
    assert "<style" not in html and not re.search(r"\sstyle=", html) and not re.search(r"\son[a-z]+=", html)
