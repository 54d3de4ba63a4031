"""重大活动节假日数据统计 (statistic 12): windows, the two computations against the ORM and the
statistic's own function, holidays from the calendar, custom events (CRUD + audit), bad input."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from govcenter.core.audit import AuditEntry
from govcenter.core.districts import load_districts
from govcenter.parking.models import Order
from govcenter.parking.models.statevents import StatEvent
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.compare import compare, holiday_periods, resolve_baseline, resolve_period
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.orders import order_stats

from .worlds import synced_org

pytestmark = pytest.mark.django_db
DAYS = 14


@pytest.fixture(name="fortnight")
def fortnight_fixture(db, settings, lake):
    """100 spaces, 14 days of orders (fixed seed), synced to the lake; the org's people."""
    settings.DEBUG = True
    load_districts()
    tariff_seed_beijing_standard()
    call_command(
        "parking",
        "demo",
        "--spaces",
        "100",
        "--days",
        str(DAYS),
        "--seed",
        "5",
        "--orders-per-space",
        "1.5",
        "--event-days",
        "0",
        "--quiet",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    org = synced_org()
    org.first, org.last = org.start, org.end
    return org


def orm_orders(start, end, district=None):
    return [
        o
        for o in Order.objects.exclude(state="void")
        if start <= timezone.localtime(o.started_at).date() <= end
        and (district is None or o.district_id == district)
    ]


def by_key(cmp):
    return {m["key"]: m for m in cmp.measures}


def test_period_vs_previous_period_equals_two_computations_and_the_orm(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=6)
    cmp = compare(fortnight.leader, {"start": start.isoformat(), "end": end.isoformat()})
    assert cmp.source.slug == "orders" and cmp.baseline.kind == "previous" and cmp.basis == "total"
    assert (cmp.baseline.start, cmp.baseline.end) == (
        start - dt.timedelta(days=7),
        start - dt.timedelta(days=1),
    )
    measures = by_key(cmp)
    period_orm = orm_orders(start, end)
    baseline_orm = orm_orders(cmp.baseline.start, cmp.baseline.end)
    assert measures["orders"]["period"] == len(period_orm) > 0
    assert measures["orders"]["baseline"] == len(baseline_orm) > 0
    assert measures["paid_fen"]["period"] == sum(o.amount_paid_fen for o in period_orm)
    assert measures["due_fen"]["baseline"] == sum(o.amount_due_fen for o in baseline_orm)
    # The same numbers as two separate runs of the orders statistic's own function.
    p = order_stats(fortnight.leader, StatQuery(start, end)).total
    b = order_stats(fortnight.leader, StatQuery(cmp.baseline.start, cmp.baseline.end)).total
    for key in ("orders", "completed", "paid_fen", "turnover", "average_minutes"):
        assert (measures[key]["period"], measures[key]["baseline"]) == (p[key], b[key]), key
    change = p["orders"] - b["orders"]
    assert measures["orders"]["change"] == change
    assert measures["orders"]["change_pct"] == round(change / b["orders"], 4)
    # Day 1..7 of each window; the days sum to the totals.
    assert len(cmp.daily) == 7
    assert sum(d["period"]["orders"] for d in cmp.daily) == p["orders"]
    assert sum(d["baseline"]["paid_fen"] for d in cmp.daily) == b["paid_fen"]
    assert cmp.daily[0]["period_date"] == start.isoformat()
    # Per-district rows: each district's numbers, summing to the totals.
    assert cmp.level == "district"
    assert sum(r["measures"]["orders"]["period"] for r in cmp.rows) == p["orders"]
    assert sum(r["measures"]["orders"]["baseline"] for r in cmp.rows) == b["orders"]
    for r in cmp.rows:
        assert r["measures"]["orders"]["period"] == len(orm_orders(start, end, r["id"]))


def test_a_registered_statistic_is_compared_with_its_own_compute(fortnight):
    stat = STATISTICS["payments"]
    end = fortnight.last
    start = end - dt.timedelta(days=3)
    params = {"statistic": "payments", "start": start.isoformat(), "end": end.isoformat()}
    cmp = compare(fortnight.leader, params)
    p = compute(stat, fortnight.leader, StatQuery(start, end, levels=stat.levels)).total
    b = compute(
        stat, fortnight.leader, StatQuery(cmp.baseline.start, cmp.baseline.end, levels=stat.levels)
    ).total
    for m in cmp.measures:
        assert (m["period"], m["baseline"]) == (p[m["key"]], b[m["key"]]), m["key"]
    assert sum(d["period"]["paid_fen"] for d in cmp.daily) == p["paid_fen"]
    # Every registered statistic is offered (generic over the registry).
    client = Client()
    client.force_login(fortnight.leader)
    body = client.get("/api/v1/parking/stats/compare", params).json()
    assert body["statistic"] == "payments" and body["measures"] == cmp.as_dict()["measures"]
    page = client.get("/parking/stats/compare/", params).content.decode()
    for slug in ("orders", *STATISTICS):
        assert f'value="{slug}"' in page


def test_windows_of_different_lengths_compare_daily_averages(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=5)
    bstart, bend = fortnight.first, fortnight.first + dt.timedelta(days=2)
    cmp = compare(
        fortnight.leader,
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "baseline": "custom",
            "baseline_start": bstart.isoformat(),
            "baseline_end": bend.isoformat(),
        },
    )
    assert cmp.basis == "daily_average" and (cmp.period.days, cmp.baseline.days) == (6, 3)
    m = by_key(cmp)
    assert m["orders"]["period"] == round(len(orm_orders(start, end)) / 6, 2)
    assert m["orders"]["baseline"] == round(len(orm_orders(bstart, bend)) / 3, 2)
    assert m["orders"]["daily_average"] and not m["turnover"]["daily_average"]
    # Rates are compared as they are.
    assert m["turnover"]["period"] == order_stats(fortnight.leader, StatQuery(start, end)).total["turnover"]
    assert len(cmp.daily) == 6 and cmp.daily[5]["baseline"] is None
    client = Client()
    client.force_login(fortnight.leader)
    page = client.get(
        "/parking/stats/compare/",
        {"start": start, "end": end, "baseline": "custom", "baseline_start": bstart, "baseline_end": bend},
    )
    assert page.status_code == 200 and 'data-basis="daily_average"' in page.content.decode()


def test_last_year_baselines_align_by_weekday_or_by_date(db):
    period, _h, _e = resolve_period(None, {"start": "2026-10-01", "end": "2026-10-07"})
    weekday = resolve_baseline({"baseline": "last_year_weekday"}, period, None)
    assert (weekday.start, weekday.end) == (dt.date(2025, 10, 2), dt.date(2025, 10, 8))
    assert weekday.start.weekday() == period.start.weekday()
    by_date = resolve_baseline({"baseline": "last_year_date"}, period, None)
    assert (by_date.start, by_date.end) == (dt.date(2025, 10, 1), dt.date(2025, 10, 7))
    leap, _h, _e = resolve_period(None, {"start": "2028-02-29", "end": "2028-03-01"})
    assert resolve_baseline({"baseline": "last_year_date"}, leap, None).start == dt.date(2027, 2, 28)


def test_holidays_of_2026_come_from_the_calendar(db):
    from govcenter.core.calendar import seed_calendar

    for source in ("package", "table"):
        if source == "table":
            seed_calendar(years=[2025, 2026, 2027])
        found = {p.key: p for p in holiday_periods(2026)}
        national = found["national_day"]
        assert national.name == "国庆"
        assert (national.start, national.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 7))
        assert (
            dt.date(2026, 9, 20) in national.makeup_workdays
            and dt.date(2026, 10, 10) in national.makeup_workdays
        )
        spring = found["spring_festival"]
        assert (spring.name, spring.start, spring.end) == ("春节", dt.date(2026, 2, 15), dt.date(2026, 2, 23))
        assert {p.name for p in found.values()} >= {"元旦", "春节", "清明", "劳动节", "端午", "中秋", "国庆"}
    # The same holiday last year has its own dates (the Spring Festival moves).
    period, holiday, _e = resolve_period(None, {"holiday": "spring_festival", "year": "2026"})
    baseline = resolve_baseline({}, period, holiday)
    assert baseline.kind == "last_year_holiday"
    last = next(p for p in holiday_periods(2025) if p.key == "spring_festival")
    assert (baseline.start, baseline.end) == (last.start, last.end) != (period.start, period.end)
    assert last.start.year == 2025 and last.start.month in (1, 2)


def test_a_holiday_period_compares_with_the_same_holiday_last_year(fortnight):
    client = Client()
    client.force_login(fortnight.leader)
    body = client.get("/api/v1/parking/stats/compare", {"holiday": "national_day", "year": "2026"}).json()
    assert body["period"]["start"] == "2026-10-01" and body["period"]["end"] == "2026-10-07"
    assert body["baseline"]["kind"] == "last_year_holiday" and body["baseline"]["start"].startswith("2025-")
    assert body["holiday"]["name"] == "国庆"
    holidays = client.get("/api/v1/parking/stats/holidays", {"year": 2026}).json()["holidays"]
    assert any(h["key"] == "national_day" and h["start"] == "2026-10-01" for h in holidays)
    page = client.get("/parking/stats/compare/", {"year": 2026}).content.decode()
    assert 'data-holiday="national_day"' in page


def test_custom_events_crud_audit_and_scope(fortnight):
    # District managers (and the data staff) write; leaders read.
    staff = fortnight.manager_dc
    client = Client()
    client.force_login(staff)
    start, end = fortnight.last - dt.timedelta(days=2), fortnight.last
    city = client.post(
        "/api/v1/parking/stats/events",
        {"name": "全市活动", "start": start.isoformat(), "end": end.isoformat()},
        content_type="application/json",
    )
    assert city.status_code == 400 and city.json()["code"] == "unknown_district"
    created = client.post(
        "/api/v1/parking/stats/events",
        {
            "name": "东城庙会",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "district": fortnight.dongcheng.pk,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert AuditEntry.objects.filter(action="parking.statevent.create", object_id=str(pk)).exists()
    inverted = client.put(
        f"/api/v1/parking/stats/events/{pk}",
        {
            "name": "东城庙会",
            "start": end.isoformat(),
            "end": start.isoformat(),
            "district": fortnight.dongcheng.pk,
        },
        content_type="application/json",
    )
    assert inverted.status_code == 400 and inverted.json()["code"] == "invalid_window"
    updated = client.put(
        f"/api/v1/parking/stats/events/{pk}",
        {
            "name": "东城春节庙会",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "district": fortnight.dongcheng.pk,
        },
        content_type="application/json",
    )
    assert updated.status_code == 200 and updated.json()["name"] == "东城春节庙会"
    entry = AuditEntry.objects.filter(action="parking.statevent.update", object_id=str(pk)).get()
    assert entry.changes["after"]["name"] == "东城春节庙会"
    # The event as the period: its district becomes the filter.
    cmp = compare(staff, {"event": pk})
    assert cmp.period.kind == "event" and cmp.query.district == fortnight.dongcheng
    assert by_key(cmp)["orders"]["period"] == len(orm_orders(start, end, fortnight.dongcheng.pk))
    # Another district's manager neither sees nor changes it.
    other = Client()
    other.force_login(fortnight.manager_xc)
    assert other.get(f"/api/v1/parking/stats/events/{pk}").status_code == 404
    assert other.delete(f"/api/v1/parking/stats/events/{pk}").status_code == 404
    assert pk not in [e["id"] for e in other.get("/api/v1/parking/stats/events").json()]
    bad = other.get("/api/v1/parking/stats/compare", {"event": pk})
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_event"
    # The page lists it; delete (audited).
    assert "东城春节庙会" in client.get("/parking/stats/events/").content.decode()
    assert client.delete(f"/api/v1/parking/stats/events/{pk}").status_code == 204
    assert not StatEvent.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.filter(action="parking.statevent.delete", object_id=str(pk)).exists()
    # The CRUD page: create, edit, delete through forms.
    response = client.post(
        "/parking/stats/events/",
        {
            "name": "页面活动",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "district": fortnight.dongcheng.pk,
        },
    )
    assert response.status_code == 302
    event = StatEvent.objects.get(name="页面活动")
    assert event.created_by == staff
    response = client.post(
        f"/parking/stats/events/{event.pk}/",
        {
            "name": "页面活动2",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "district": fortnight.dongcheng.pk,
        },
    )
    assert response.status_code == 302 and StatEvent.objects.get(pk=event.pk).name == "页面活动2"
    assert client.post(f"/parking/stats/events/{event.pk}/delete/").status_code == 302
    assert not StatEvent.objects.filter(pk=event.pk).exists()
    # A leader reads but does not write.
    leader = Client()
    leader.force_login(fortnight.leader)
    assert leader.get("/api/v1/parking/stats/events").status_code == 200
    denied = leader.post(
        "/api/v1/parking/stats/events",
        {"name": "x", "start": start.isoformat(), "end": end.isoformat()},
        content_type="application/json",
    )
    assert denied.status_code == 403


def test_bad_input_is_400(fortnight):
    client = Client()
    client.force_login(fortnight.leader)
    last = fortnight.last
    for params, code in (
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"start": "2026-13-01"}, "invalid_date"),
        ({"statistic": "nope"}, "unknown_statistic"),
        ({"holiday": "christmas", "year": "2026"}, "unknown_holiday"),
        ({"holiday": "national_day", "year": "abc"}, "unknown_holiday"),
        ({"baseline": "someday"}, "invalid_baseline"),
        ({"baseline": "custom"}, "invalid_baseline"),
        ({"baseline": "last_year_holiday"}, "invalid_baseline"),
        (
            {
                "start": (last - dt.timedelta(days=3)).isoformat(),
                "end": last.isoformat(),
                "baseline": "custom",
                "baseline_start": (last - dt.timedelta(days=5)).isoformat(),
                "baseline_end": (last - dt.timedelta(days=3)).isoformat(),
            },
            "invalid_baseline",
        ),
        ({"event": "99999"}, "unknown_event"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "invalid_window"),
        ({"end": "9999-12-31"}, "invalid_window"),
        (
            {"baseline": "custom", "baseline_start": "0001-01-01", "baseline_end": "0001-01-02"},
            "invalid_baseline",
        ),
        ({"district": "999999"}, "unknown_district"),
    ):
        response = client.get("/api/v1/parking/stats/compare", params)
        assert response.status_code == 400 and response.json()["code"] == code, (params, response.content)
        page = client.get("/parking/stats/compare/", params)
        assert page.status_code == 400 and f'data-error="{code}"' in page.content.decode(), params


def test_a_district_manager_compares_only_their_district(fortnight):
    end = fortnight.last
    start = end - dt.timedelta(days=6)
    cmp = compare(fortnight.manager_dc, {"start": start.isoformat(), "end": end.isoformat()})
    assert [r["code"] for r in cmp.rows] in ([], ["110101"])
    dongcheng = fortnight.dongcheng.pk
    assert by_key(cmp)["orders"]["period"] == len(orm_orders(start, end, dongcheng))
