"""订单情况统计 from the lake: the ORM truth, drill-down sums, scope, bad input, API, page, Excel."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from govcenter.core.audit import AuditEntry
from govcenter.core.models import District
from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, Road, Segment
from govcenter.parking.stats2.orders import DURATION_BUCKETS, MEASURES, OrderQuery, order_stats, parse_query
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db
ADDITIVE = list(MEASURES)  # every stored measure is a sum or a count


@pytest.fixture
def world(generated, lake):
    org = build_org()
    sync_dataset("orders")
    days = sorted({timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True)})
    org.start, org.end = days[0], days[-1]
    return org


def truth(orders) -> dict:
    """The measures of ``orders`` computed in Python from the ORM rows."""
    live = [o for o in orders if o.state != "void"]
    done = [o for o in live if o.ended_at is not None]
    day = [o for o in live if 7 <= timezone.localtime(o.started_at).hour < 21]
    return {
        "orders": len(live),
        "completed": len(done),
        "dwell_seconds": sum(int((o.ended_at - o.started_at).total_seconds()) for o in done),
        "due_fen": sum(o.amount_due_fen for o in live),
        "paid_fen": sum(o.amount_paid_fen for o in live),
        "adjustment_fen": sum(o.amount_adjustment_fen for o in live),
        "day_orders": len(day),
        "night_orders": len(live) - len(day),
    }


def in_window(start, end, **filters):
    return [
        o for o in Order.objects.filter(**filters) if start <= timezone.localtime(o.started_at).date() <= end
    ]


def test_city_totals_equal_the_orm_and_every_drill_level_sums_to_its_parent(world):
    user = world.leader
    stats = order_stats(user, OrderQuery(world.start, world.end))
    expected = truth(in_window(world.start, world.end))
    assert expected["orders"] > 200
    assert {k: stats.total[k] for k in ADDITIVE} == expected
    # city → districts
    assert stats.query.level == "district" and len(stats.rows) > 3
    for k in ADDITIVE:
        assert sum(r[k] for r in stats.rows) == stats.total[k]
    assert sum(r["spaces"] for r in stats.rows) == stats.total["spaces"] == 100
    # the busiest district → its roads → the busiest road's segments
    top = max(stats.rows, key=lambda r: r["orders"])
    district = District.objects.get(pk=top["id"])
    d_stats = order_stats(user, OrderQuery(world.start, world.end, district=district))
    assert {k: d_stats.total[k] for k in ADDITIVE} == {k: top[k] for k in ADDITIVE}
    assert {k: d_stats.total[k] for k in ADDITIVE} == truth(
        in_window(world.start, world.end, district=district)
    )
    assert d_stats.query.level == "road" and d_stats.rows
    for k in ADDITIVE:
        assert sum(r[k] for r in d_stats.rows) == d_stats.total[k]
    road_row = max(d_stats.rows, key=lambda r: r["orders"])
    road = Road.objects.get(pk=road_row["id"])
    r_stats = order_stats(user, OrderQuery(world.start, world.end, district=district, road=road))
    assert r_stats.query.level == "segment"
    for k in ADDITIVE:
        assert sum(r[k] for r in r_stats.rows) == r_stats.total[k] == road_row[k]
    segment = Segment.objects.get(pk=r_stats.rows[0]["id"])
    s_stats = order_stats(
        user, OrderQuery(world.start, world.end, district=district, road=road, segment=segment)
    )
    assert s_stats.query.level is None and s_stats.rows == []
    assert (
        s_stats.total["orders"]
        == r_stats.rows[0]["orders"]
        == len([o for o in in_window(world.start, world.end, segment=segment) if o.state != "void"])
    )


def test_durations_hours_and_occupancy_against_the_orm(world):
    now = timezone.now()
    q = OrderQuery(world.start, world.start)  # one day: stays past midnight are clipped
    stats = order_stats(world.leader, q, now=now)
    live = [o for o in in_window(q.start, q.end) if o.state != "void"]
    buckets = Counter()
    for o in live:
        if o.ended_at is None:
            continue
        minutes = (o.ended_at - o.started_at).total_seconds() / 60
        i = next(i for i, (_l, lo, hi) in enumerate(DURATION_BUCKETS) if hi is None or minutes < hi)
        buckets[i] += 1
    assert [b["orders"] for b in stats.duration] == [buckets[i] for i in range(len(DURATION_BUCKETS))]
    assert [h["orders"] for h in stats.by_hour] == [
        sum(1 for o in live if timezone.localtime(o.started_at).hour == h) for h in range(24)
    ]
    window_end = dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time(), timezone.get_current_timezone())
    occupied = Counter()
    for o in live:
        s, e = o.started_at, min(o.ended_at or now, window_end)
        cursor = timezone.localtime(s).replace(minute=0, second=0, microsecond=0)
        while cursor < e:
            nxt = cursor + dt.timedelta(hours=1)
            occupied[cursor.hour] += (min(e, nxt) - max(s, cursor)).total_seconds()
            cursor = nxt
    got = [h["occupied_seconds"] for h in stats.by_hour]
    assert got == [pytest.approx(occupied[h], abs=1) for h in range(24)]
    assert sum(got) > 0
    capacity = stats.total["spaces"] * 3600
    assert [h["occupancy"] for h in stats.by_hour] == [round(occupied_s / capacity, 4) for occupied_s in got]


def test_district_staff_see_only_their_district(world):
    dc = world.manager_dc
    stats = order_stats(dc, parse_query(dc, {"start": world.start, "end": world.end}))
    assert [r["code"] for r in stats.rows] == ["110101"]
    assert {k: stats.total[k] for k in ADDITIVE} == truth(
        in_window(world.start, world.end, district=world.dongcheng)
    )
    from govcenter.core.api.errors import ServiceError

    with pytest.raises(ServiceError) as err:
        parse_query(dc, {"district": world.xicheng.pk})
    assert err.value.error_code == "unknown_district"
    other_segment = Segment.objects.filter(district=world.xicheng).first()
    with pytest.raises(ServiceError) as err:
        parse_query(dc, {"segment": other_segment.pk})
    assert err.value.error_code == "unknown_segment"
    # The API answers the same.
    client = Client()
    client.force_login(dc)
    body = client.get("/api/v1/parking/stats/orders", {"district": world.xicheng.pk}).json()
    assert body["code"] == "unknown_district"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"start": "2025-01-01", "end": "2026-03-09"}, "invalid_window"),
        ({"start": "yesterday"}, "invalid_date"),
        ({"district": "999999"}, "unknown_district"),
        ({"district": "abc"}, "unknown_district"),
        ({"road": "999999"}, "unknown_road"),
        ({"segment": "999999"}, "unknown_segment"),
        ({"area_class": "7"}, "invalid_area_class"),
    ],
)
def test_bad_input_is_a_clear_400(world, params, code):
    client = Client()
    client.force_login(world.leader)
    response = client.get("/api/v1/parking/stats/orders", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["message"] and isinstance(body["details"], dict)
    page = client.get("/parking/stats/orders/", params)
    assert page.status_code == 400 and f'data-error="{code}"' in page.content.decode()


def test_api_page_and_excel_show_the_same_numbers(world):
    client = Client()
    client.force_login(world.leader)
    params = {"start": world.start.isoformat(), "end": world.end.isoformat(), "area_class": "1"}
    api = client.get("/api/v1/parking/stats/orders", params)
    assert api.status_code == 200
    body = api.json()
    service = order_stats(world.leader, parse_query(world.leader, params))
    assert body["total"]["orders"] == service.total["orders"] > 0
    assert [r["orders"] for r in body["rows"]] == [r["orders"] for r in service.rows]
    orders_class_1 = [
        o for o in in_window(world.start, world.end, segment__area_class=1) if o.state != "void"
    ]
    assert body["total"]["orders"] == len(orders_class_1)

    page = client.get("/parking/stats/orders/", params)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="orders-stats-data"' in html and "echarts.min.js" in html
    for row in body["rows"]:
        assert f'data-code="{row["code"]}"' in html and f"district={row['id']}" in html
    # Every filter of the issue is on the page, the vehicle class among them.
    assert (
        'name="area_class"' in html
        and 'name="vehicle_class"' in html
        and 'href="/parking/stats/orders/export.xlsx?' in html
    )
    large = client.get("/parking/stats/orders/", {**params, "vehicle_class": "large"})
    assert large.status_code == 200 and '<option value="large" selected>' in large.content.decode()

    export = client.get("/parking/stats/orders/export.xlsx", params)
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    header, data_rows, total = values[2], values[3:-1], values[-1]
    assert header[0] == "所属区" and total[0] == "合计"
    assert [r[1] for r in data_rows] == [r["code"] for r in body["rows"]]
    assert [r[2] for r in data_rows] == [r["orders"] for r in body["rows"]]
    assert total[2] == body["total"]["orders"]
    assert AuditEntry.objects.filter(action="parking.stats.orders.export").count() == 1


def test_a_late_correction_reaches_the_statistic_after_the_next_sync(world):
    q = OrderQuery(world.start, world.end)
    before = order_stats(world.leader, q).total
    order = Order.objects.filter(state__in=["billed", "arrears"], amount_due_fen__gt=100).first()
    Order.objects.filter(pk=order.pk).update(
        amount_adjustment_fen=-50, updated_at=timezone.now() + dt.timedelta(minutes=10)
    )
    assert order_stats(world.leader, q).total == before  # the lake has not seen it yet
    sync_dataset("orders")
    after = order_stats(world.leader, q).total
    assert after["orders"] == before["orders"]
    assert after["adjustment_fen"] == before["adjustment_fen"] - 50 - order.amount_adjustment_fen


def test_the_page_needs_the_statistics_permission(world):
    client = Client()
    client.force_login(world.plain_dc)
    assert client.get("/parking/stats/orders/").status_code == 403
    assert client.get("/api/v1/parking/stats/orders").status_code == 403


def test_lake_status_api_and_page_line(world):
    client = Client()
    client.force_login(world.leader)
    status = client.get("/api/v1/parking/lake/status").json()[0]
    assert status["dataset"] == "orders" and status["rows"] == Order.objects.count()
    assert status["watermark"] and status["last_run"]
    html = client.get("/parking/stats/orders/").content.decode()
    line = html.split("data-lake-status>", 1)[1].split("</p>", 1)[0]
    assert status["watermark"] in line and f"共 {status['rows']} 条" in line
