"""The statistics' daily cubes: the orders cube gives the raw numbers; closed months compact to one file."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govcenter.core.models import District
from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, PaymentItem
from govcenter.parking.stats2 import cubes
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.orders import CUBE, as_dict, order_stats

from .worlds import synced_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(generated, lake):
    """The orders world with at least one open order: the demo's are the night stays still
    running at load time, and after ~13:00 Beijing there are none — the latest billed stay
    (no payment) is made one, still parked."""
    if not Order.objects.filter(ended_at__isnull=True).exclude(state="void").exists():
        paid = PaymentItem.objects.values("order_id")
        order = Order.objects.filter(state="billed").exclude(pk__in=paid).order_by("-started_at").first()
        Order.objects.filter(pk=order.pk).update(
            ended_at=None, state="open", amount_due_fen=0, updated_at=timezone.now()
        )
    return synced_org()


def both(user, q, now=None) -> tuple[dict, dict, str]:
    cubed = order_stats(user, q, now=now)
    return as_dict(cubed), as_dict(order_stats(user, q, now=now, cube=False)), cubed.source


def test_the_orders_cube_gives_the_raw_numbers_at_every_level_scope_and_window(world):
    q = StatQuery(world.start, world.end)
    assert order_stats(world.leader, q).source == "raw"  # no cube yet
    built = cubes.refresh(CUBE)
    assert built["dates"] >= 2 and cubes.refresh(CUBE)["dates"] == 0
    # Open orders (their time runs to "now") and orders crossing midnight are both in the data.
    assert Order.objects.filter(ended_at__isnull=True).exclude(state="void").exists()
    crossing = [
        o
        for o in Order.objects.exclude(ended_at=None)
        if timezone.localtime(o.started_at).date() < timezone.localtime(o.ended_at).date()
    ]
    assert crossing
    cubed, raw, source = both(world.leader, q)
    assert source == "cube" and cubed == raw
    assert sum(h["occupied_seconds"] for h in cubed["by_hour"]) > 0
    assert sum(b["orders"] for b in cubed["duration"]) == cubed["total"]["completed"]
    # The first day alone: occupancy of orders running past midnight is clipped by the window's end.
    first = StatQuery(world.start, world.start)
    cubed, raw, source = both(world.leader, first)
    assert source == "cube" and cubed == raw
    # "now" inside the window caps the open orders alike.
    now = dt.datetime.combine(world.end, dt.time(12), timezone.get_default_timezone())
    cubed, raw, _ = both(world.leader, q, now=now)
    assert cubed == raw
    # Drill levels: a district (cube), a road (raw below a district for the hours), a scoped manager.
    district = District.objects.get(pk=max(cubed["rows"], key=lambda r: r["orders"])["id"])
    dq = StatQuery(world.start, world.end, district=district)
    cubed, raw, source = both(world.leader, dq)
    assert source == "cube" and cubed == raw
    from govcenter.parking.models import Road

    road = Road.objects.get(pk=max(cubed["rows"], key=lambda r: r["orders"])["id"])
    cubed, raw, _ = both(world.leader, StatQuery(world.start, world.end, district=district, road=road))
    assert cubed == raw and cubed["total"]["orders"] > 0
    cubed, raw, _ = both(world.manager_dc, q)
    assert (
        cubed == raw and cubed["total"]["orders"] < as_dict(order_stats(world.leader, q))["total"]["orders"]
    )


def test_an_order_that_ends_re_exports_its_date_and_the_cube_follows(world):
    cubes.refresh(CUBE)
    q = StatQuery(world.start, world.end)
    before = as_dict(order_stats(world.leader, q))
    order = Order.objects.filter(ended_at__isnull=True).exclude(state="void").order_by("started_at").first()
    ended = order.started_at + dt.timedelta(minutes=95)
    Order.objects.filter(pk=order.pk).update(ended_at=ended, updated_at=timezone.now())
    sync_dataset("orders")
    assert order_stats(world.leader, q).source == "raw"  # that date's cube is behind: raw, never wrong
    assert cubes.refresh(CUBE)["dates"] == 1
    after = order_stats(world.leader, q)
    assert after.source == "cube" and as_dict(after) == as_dict(order_stats(world.leader, q, cube=False))
    assert after.total["completed"] == before["total"]["completed"] + 1


def test_closed_months_compact_to_one_file_per_part_and_give_the_same_numbers(world):
    stat = STATISTICS["payments"]
    q = StatQuery(world.start, world.end)
    raw = compute(stat, world.leader, q, cube=False)
    raw_orders = as_dict(order_stats(world.leader, q, cube=False))
    months = {world.start.strftime("%Y-%m"), world.end.strftime("%Y-%m")}
    # While the data's month is the current one, only daily files.
    assert cubes.refresh(stat, today=world.end)["months"] == 0
    # A later "today": the data's months are closed and compact.
    later = world.end + dt.timedelta(days=40)
    assert cubes.refresh(stat, today=later)["months"] == len(months)
    assert cubes.refresh(CUBE, today=later)["months"] == len(months)
    files = cubes.usable(stat, q.start, q.end)
    assert files and all(not f["daily"] and len(f["monthly"]) == len(months) for f in files.values())
    cubed = compute(stat, world.leader, q)
    assert cubed.source == "cube" and (cubed.total, cubed.rows, cubed.breakdowns) == (
        raw.total,
        raw.rows,
        raw.breakdowns,
    )
    one_day = StatQuery(world.end, world.end)  # part of a month: the month file filtered by date
    assert (
        compute(stat, world.leader, one_day).total == compute(stat, world.leader, one_day, cube=False).total
    )
    assert as_dict(order_stats(world.leader, q)) == raw_orders
    assert cubes.refresh(stat, today=later)["months"] == 0  # nothing changed
    # A late correction in a closed month: the daily files of that month until the month is rewritten.
    order = Order.objects.filter(state__in=["billed", "arrears"], amount_due_fen__gt=100).first()
    Order.objects.filter(pk=order.pk).update(amount_adjustment_fen=-70, updated_at=timezone.now())
    sync_dataset("orders")
    result = cubes.refresh(stat, today=later)
    assert result["dates"] == 1 and result["months"] == 1
    after = compute(stat, world.leader, q)
    assert after.source == "cube" and after.total == compute(stat, world.leader, q, cube=False).total
    assert after.total["adjustment_fen"] != raw.total["adjustment_fen"]


def test_the_comparison_pages_day_lines_and_brief_runs_read_the_cubes_with_the_raw_numbers(world):
    """Statistics 12 and 14 read per-date measures and the total + rows only: from the cubes too."""
    from govcenter.parking.stats2.framework import daily
    from govcenter.parking.stats2.sources import sources

    q = StatQuery(world.start, world.end)
    srcs = sources()
    raw_orders = srcs["orders"].daily(world.leader, q)  # no cube yet: the raw facts
    raw_payments = daily(STATISTICS["payments"], world.leader, q, cube=False)
    cubes.refresh(CUBE)
    cubes.refresh(STATISTICS["payments"])
    assert (
        srcs["orders"].daily(world.leader, q) == raw_orders and len(raw_orders) == (q.end - q.start).days + 1
    )
    assert srcs["payments"].daily(world.leader, q) == raw_payments
    assert sum(d["orders"] for d in raw_orders.values()) == order_stats(world.leader, q).total["orders"]
    district = District.objects.get(
        pk=max(order_stats(world.leader, q).rows, key=lambda r: r["orders"])["id"]
    )
    dq = StatQuery(world.start, world.end, district=district)
    full = compute(STATISTICS["payments"], world.manager_dc, dq)
    assert srcs["payments"].run(world.manager_dc, dq) == (full.total, full.rows)
