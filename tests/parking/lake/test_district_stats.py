"""各区数据专题统计 (statistic 14): ranks are a sort of the city rows; a district manager gets
rank positions without other districts' values; Center staff the full ranking; export; bad input."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.test import Client
from openpyxl import load_workbook

from govcenter.core.audit import AuditEntry
from govcenter.core.models import District
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.district import district_report, rank_of
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.orders import order_stats

from .test_compare_stats import fortnight_fixture, orm_orders  # noqa: F401  (the 14-day fixture)

pytestmark = pytest.mark.django_db


def city_rows(user, slug, start, end) -> dict[int, dict]:
    if slug == "orders":
        rows = order_stats(user, StatQuery(start, end)).rows
    else:
        stat = STATISTICS[slug]
        rows = compute(stat, user, StatQuery(start, end, levels=stat.levels)).rows
    return {r["id"]: r for r in rows}


def expected_rank(rows: dict[int, dict], pk: int, key: str, additive: bool) -> int | None:
    """An independent rank: sort every district's value (0 when it has no rows), highest first."""
    values = [
        (rows[d][key] if d in rows else (0 if additive else None))
        for d in District.objects.values_list("pk", flat=True)
    ]
    mine = rows[pk][key] if pk in rows else (0 if additive else None)
    if mine is None:
        return None
    ordered = sorted((v for v in values if v is not None), reverse=True)
    return ordered.index(mine) + 1


def busiest(rows: dict[int, dict]) -> int:
    return max(rows.values(), key=lambda r: r["orders"])["id"]


def test_ranks_equal_a_sort_of_the_city_rows(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=6)
    orders_rows = city_rows(fortnight.leader, "orders", start, end)
    pk = busiest(orders_rows)
    report = district_report(fortnight.leader, District.objects.get(pk=pk), start, end)
    assert report.full
    slugs = [s.source.slug for s in report.statistics]
    assert slugs[0] == "orders" and set(STATISTICS) <= set(slugs)
    count = District.objects.count()
    for s in report.statistics:
        rows = city_rows(fortnight.leader, s.source.slug, start, end)
        assert s.count == count
        for k in s.source.kpis:
            m = s.source.measure(k)
            # A district with no rows of a statistic (no penalty case in the window …) has its zeros.
            expected = rows[pk][k] if pk in rows else (0 if m.additive else None)
            assert s.values[k] == expected, (s.source.slug, k)
            assert s.ranks[k] == expected_rank(rows, pk, k, m.additive), (s.source.slug, k)
        # The full table: every district, ranked by the first KPI.
        first = s.source.kpis[0]
        ranks = [r["ranks"][first] for r in s.ranking]  # unranked (no value) last
        assert ranks == sorted(ranks, key=lambda v: (v is None, v or 0))
        assert len(s.ranking) == count
    assert report.statistics[0].ranks["orders"] == 1
    assert report.statistics[0].values["orders"] == len(orm_orders(start, end, pk))


def test_a_district_manager_sees_the_rank_without_other_districts_values(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=6)
    dongcheng = fortnight.dongcheng.pk
    rows = city_rows(fortnight.leader, "orders", start, end)
    client = Client()
    client.force_login(fortnight.manager_dc)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    body = client.get(f"/api/v1/parking/stats/district/{dongcheng}", params).json()
    assert body["full_ranking"] is False and body["district"]["code"] == "110101"
    orders = next(s for s in body["statistics"] if s["statistic"] == "orders")
    assert orders["ranking"] is None and orders["count"] == District.objects.count()
    kpi = {k["key"]: k for k in orders["kpis"]}
    assert kpi["orders"]["value"] == len(orm_orders(start, end, dongcheng))
    assert kpi["orders"]["rank"] == expected_rank(rows, dongcheng, "orders", True)
    # Their own numbers equal their own (scoped) computation; nothing of another district is in the answer.
    own = order_stats(fortnight.manager_dc, StatQuery(start, end)).total
    assert kpi["orders"]["value"] == own["orders"]
    text = json.dumps(body, ensure_ascii=False)
    for other in District.objects.exclude(pk=dongcheng):
        assert other.name_zh not in text and f'"{other.code}"' not in text
    for s in body["statistics"]:
        assert s["ranking"] is None and set(s) == {
            "statistic",
            "title",
            "link",
            "count",
            "kpis",
            "values",
            "ranking",
        }
    # The page: the rank badge and the note, no ranking table.
    page = client.get(f"/parking/stats/district/{dongcheng}/", params).content.decode()
    rank = kpi["orders"]["rank"]
    assert f'data-rank="{rank}/{District.objects.count()}"' in page and "data-rank-note" in page
    assert 'data-table="ranking-orders"' not in page
    for other in District.objects.exclude(pk=dongcheng).exclude(name_zh=""):
        assert other.name_zh not in page
    # Another district is not theirs: 404 on the page, 400 on the API; the index is their district.
    xicheng = fortnight.xicheng.pk
    assert client.get(f"/parking/stats/district/{xicheng}/").status_code == 404
    bad = client.get(f"/api/v1/parking/stats/district/{xicheng}")
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_district"
    index = client.get("/parking/stats/district/")
    assert index.status_code == 302 and index["Location"].endswith(f"/stats/district/{dongcheng}/")


def test_center_staff_see_the_full_ranking_and_export_it(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=6)
    client = Client()
    client.force_login(fortnight.leader)
    assert client.get("/parking/stats/district/").status_code == 200
    pk = busiest(city_rows(fortnight.leader, "orders", start, end))
    params = {"start": start.isoformat(), "end": end.isoformat()}
    page = client.get(f"/parking/stats/district/{pk}/", params).content.decode()
    assert 'data-table="ranking-orders"' in page and "data-rank-note" not in page
    for slug in ("orders", *STATISTICS):
        assert f'data-statistic="{slug}"' in page
    assert f"district={pk}" in page  # each statistic's link is pre-filtered
    response = client.get(f"/parking/stats/district/{pk}/export.xlsx", params)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    first = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    orders_row = next(r for r in first if str(r[0]).startswith("订单情况统计") and "订单数" in str(r[0]))
    assert orders_row[1] == len(orm_orders(start, end, pk)) and orders_row[2].startswith("1 / ")
    assert len(book.worksheets) == 1 + len([s for s in ("orders", *STATISTICS)])
    assert AuditEntry.objects.filter(action="parking.stats.district.export", object_id=str(pk)).exists()


def test_bad_input(fortnight):
    client = Client()
    client.force_login(fortnight.leader)
    pk = fortnight.dongcheng.pk
    for params, code in (
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"end": "2026-02-30"}, "invalid_date"),
        ({"end": "0001-01-02"}, "invalid_window"),
    ):
        response = client.get(f"/api/v1/parking/stats/district/{pk}", params)
        assert response.status_code == 400 and response.json()["code"] == code
        page = client.get(f"/parking/stats/district/{pk}/", params)
        assert page.status_code == 400 and f'data-error="{code}"' in page.content.decode()
    assert client.get("/api/v1/parking/stats/district/999999").json()["code"] == "unknown_district"


def test_rank_of_is_a_competition_rank():
    assert [rank_of(v, [5, 3, 3, 1, None]) for v in (5, 3, 1, None)] == [1, 2, 4, None]
