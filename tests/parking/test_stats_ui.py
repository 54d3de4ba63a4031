"""The statistics dashboard: KPIs, chart data, scope, Excel export, permissions."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client
from openpyxl import load_workbook

from govcenter.core.audit import AuditEntry
from govcenter.parking.models.stats import DailyDistrictStat
from govcenter.parking.services.stats import stats_compute
from tests.helpers.scope import assert_requires_login
from tests.parking.stats_helpers import DAY, build_day, expected

pytestmark = pytest.mark.django_db
URL = "/parking/stats/"


@pytest.fixture
def day(org):
    n = build_day(org)
    stats_compute(date=DAY)
    return n


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _chart_data(html: str) -> dict:
    match = re.search(r'<script id="stats-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def _kpi(html: str, key: str) -> str:
    match = re.search(rf'data-stat="{key}".*?shell-stat-value">([^<]*)<', html, re.S)
    assert match, key
    return match.group(1).strip()


def test_leader_sees_all_districts_and_the_sums(org, day):
    html = client_for(org.leader).get(URL, {"date": DAY.isoformat()}).content.decode()
    assert 'data-district="110101"' in html and 'data-district="110102"' in html
    want = [expected(day, d) for d in (org.dongcheng, org.xicheng)]
    assert _kpi(html, "orders") == str(sum(w["orders"] for w in want))
    paid = sum(w["amount_paid_fen"] for w in want) / 100
    assert float(_kpi(html, "paid")) == pytest.approx(paid)
    data = _chart_data(html)
    assert len(data["trend"]["dates"]) == 30 and data["trend"]["dates"][-1] == DAY.isoformat()
    assert data["trend"]["orders"][-1] == sum(w["orders"] for w in want)
    assert data["trend"]["orders"][:-1] == [0] * 29
    assert set(data["districts"]["names"]) == {"东城区", "西城区"}
    assert "echarts.min.js" in html and "/parking/stats/charts.js" in html


def test_district_manager_sees_only_their_district(org, day):
    client = client_for(org.manager_dc)
    html = client.get(URL, {"date": DAY.isoformat()}).content.decode()
    assert 'data-district="110101"' in html and 'data-district="110102"' not in html
    assert "西城区" not in html  # not in the table, the charts nor the district choice
    assert _kpi(html, "orders") == str(expected(day, org.dongcheng)["orders"])
    assert _chart_data(html)["districts"]["names"] == ["东城区"]
    # Asking for 西城 explicitly is refused by the form and shows nothing of 西城.
    other = client.get(URL, {"date": DAY.isoformat(), "district": org.xicheng.pk}).content.decode()
    assert 'data-district="110102"' not in other and "西城区" not in other
    export = client.get("/parking/stats/export.xlsx", {"date": DAY.isoformat(), "district": org.xicheng.pk})
    assert "西城区" not in _cells(export.content)


def _cells(content: bytes) -> str:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        str(v)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    )


def test_export_is_the_table_and_is_audited(org, day):
    before = AuditEntry.objects.filter(action="parking.stats.export").count()
    response = client_for(org.leader).get("/parking/stats/export.xlsx", {"date": DAY.isoformat()})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    table = list(workbook.worksheets[0].iter_rows(values_only=True))
    header, rows = table[0], table[1:]
    assert "订单数" in header or "Orders" in header
    by_name = {r[1]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_name) == {"东城区", "西城区"}
    dc = DailyDistrictStat.objects.get(date=DAY, district=org.dongcheng)
    assert by_name["东城区"][header[2]] == dc.orders and by_name["东城区"][header[5]] == dc.amount_paid_fen
    trend = list(workbook.worksheets[1].iter_rows(values_only=True))
    assert len(trend) == 31 and trend[-1][0] == DAY.isoformat()
    assert AuditEntry.objects.filter(action="parking.stats.export").count() == before + 1


def test_chart_script_is_served_and_permissions(org, day):
    response = client_for(org.leader).get("/parking/stats/charts.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert b"echarts.init" in response.content
    assert client_for(org.plain_dc).get(URL).status_code == 403
    assert client_for(org.plain_dc).get("/parking/stats/export.xlsx").status_code == 403
    assert_requires_login(Client(), URL)


def test_empty_day_and_bad_date(org, day):
    client = client_for(org.leader)
    html = client.get(URL, {"date": "2020-01-01"}).content.decode()
    assert "data-stats-table" in html and 'data-district="110101"' not in html
    assert (
        client.get(URL, {"date": "not-a-date"}).status_code == 200
    )  # falls back to yesterday, shows the error
