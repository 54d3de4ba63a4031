"""票据数据统计 from the lake against the ORM; receipts reconcile exactly with the paid orders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, PaymentItem
from govcenter.parking.models.receipts import Receipt, ReceiptItem
from govcenter.parking.services import receipts as services
from govcenter.parking.stats2 import cubes
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute, daily
from govcenter.parking.stats2.receipts import RECONCILE_CUBE
from tests.factories import UserFactory
from tests.helpers.org import build_org

from .statcheck import assert_reconciles, assert_surfaces_agree

pytestmark = pytest.mark.django_db
STAT = STATISTICS["receipts"]


def _issue(orders, merge=False):
    # The demo's payments are pay-by-plate (no account, one order each): issue as the service
    # does for them, over exactly these paid orders.
    ids = [o.pk for o in orders]
    return services._issue_guarded(Order.objects.filter(pk__in=ids), None, ids, merge).receipts


@pytest.fixture
def world(generated, lake):
    """Receipts through the service: a merged one, single ones, and one voided (红冲)."""
    org = build_org()
    paid = list(Order.objects.filter(state="paid", amount_paid_fen__gt=0).order_by("id"))
    by_district = defaultdict(list)
    for o in paid:
        by_district[o.district_id].append(o)
    group = next(g for g in by_district.values() if len(g) >= 3)
    org.merged = _issue(group[:2], merge=True)[0]
    singles = _issue([group[2], *[g[0] for g in by_district.values() if g is not group][:5]])
    org.voided = services.receipt_void(
        actor=UserFactory(is_superuser=True), receipt=singles[0], reason="开票信息有误"
    )
    for name in ("orders", "receipts"):
        sync_dataset(name)
    days = sorted(
        timezone.localtime(at).date()
        for at in PaymentItem.objects.filter(intent__status="paid").values_list("intent__paid_at", flat=True)
    )
    org.start, org.end = days[0], max(days[-1], timezone.localdate())
    return org


def _expected_reconciliation(start, end) -> dict:
    """Per district, from the ORM: the orders first paid in [start, end] and their live receipts."""
    first: dict[int, tuple] = {}
    for item in PaymentItem.objects.filter(intent__status="paid").select_related("intent", "order"):
        at = item.intent.paid_at
        if item.order_id not in first or at < first[item.order_id][0]:
            first[item.order_id] = (at, item.order)
    live = dict(ReceiptItem.objects.filter(live=True).values_list("order_id", "amount_fen"))
    expected = defaultdict(lambda: defaultdict(int))
    for order_id, (at, order) in first.items():
        if not start <= timezone.localtime(at).date() <= end:
            continue
        e = expected[order.district_id]
        e.setdefault("_orders", {})[order_id] = order.amount_paid_fen
        e["paid_orders"] += 1
        e["paid_fen"] += order.amount_paid_fen
        e["receipted_fen"] += live.get(order_id, 0)
        e["unreceipted_orders"] += order_id not in live
        e["unreceipted_fen"] += 0 if order_id in live else order.amount_paid_fen
    return expected


def test_totals_equal_the_orm_and_receipts_reconcile_with_paid_orders(world):
    result = compute(STAT, world.leader, StatQuery(world.start, world.end, levels=STAT.levels))
    total = result.total
    receipts = list(Receipt.objects.prefetch_related("items"))
    assert total["receipts"] == len(receipts) == 7
    assert total["merged"] == sum(1 for r in receipts if len(r.items.all()) > 1) == 1
    assert total["receipted_orders"] == ReceiptItem.objects.count() == 8
    assert total["voided"] == 1 and total["voided_fen"] == world.voided.total_fen
    assert total["issued_fen"] == sum(r.total_fen for r in receipts)
    assert total["live_fen"] == sum(r.total_fen for r in receipts if r.status == "issued")
    series = {g["label"]: g["receipts"] for g in result.breakdowns["series"]}
    assert series[world.merged.series.prefix] == Receipt.objects.filter(series=world.merged.series).count()
    # 票据与缴费核对: the orders paid in the window (first payment) per district against their live receipts.
    [table] = result.extra
    rows = {r["district_id"]: r for r in table["rows"]}
    expected = _expected_reconciliation(world.start, world.end)
    paid = {o: fen for e in expected.values() for o, fen in e.pop("_orders").items()}
    live = dict(ReceiptItem.objects.filter(live=True).values_list("order_id", "amount_fen"))
    assert set(rows) - {None} == set(expected)
    for district_id, e in expected.items():
        row = rows[district_id]
        for key, value in e.items():
            assert row[key] == value, (district_id, key)
        # Exact: what was paid and not receipted is the whole difference.
        assert row["difference_fen"] == row["paid_fen"] - row["receipted_fen"] == row["unreceipted_fen"]
    grand = rows[None]
    assert grand["receipted_fen"] == sum(live.get(o, 0) for o in paid) == total["live_fen"] > 0
    assert grand["paid_fen"] == sum(paid.values()) and grand["difference_fen"] == grand["unreceipted_fen"]
    assert grand["unreceipted_orders"] == len(paid) - 7  # 8 receipted orders, one receipt voided
    city = assert_reconciles(STAT, world.leader, world.start, world.end)
    assert city["receipts"] == 7


def test_scope_bad_input_and_surfaces_agree(world):
    dc = compute(STAT, world.manager_dc, StatQuery(world.start, world.end, levels=STAT.levels))
    assert {r["code"] for r in dc.rows} <= {"110101"}
    assert dc.total["receipts"] == Receipt.objects.filter(district__code="110101").count()
    assert {r["district_id"] for r in dc.extra[0]["rows"]} <= {world.manager_dc.unit.district_id, None}
    client = Client()
    client.force_login(world.leader)
    for params, code in (
        ({"area_class": "1"}, "unsupported_filter"),
        ({"district": "x"}, "unknown_district"),
    ):
        response = client.get("/api/v1/parking/stats/receipts", params)
        assert response.status_code == 400 and response.json()["code"] == code
    body = assert_surfaces_agree(
        world.leader, STAT, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert body["total"]["receipts"] == 7 and body["extra"][0]["key"] == "reconcile"


def _section(result) -> tuple[str, dict]:
    [table] = result.extra
    return table["source"], {
        r["district_id"]: {k: v for k, v in r.items() if k != "district"} for r in table["rows"]
    }


def test_the_cubes_answer_the_measures_and_the_reconciliation(world):
    """Receipts' measures read one data set (a cube); its reconciliation a rollup of the paid orders."""
    q = StatQuery(world.start, world.end, levels=STAT.levels)
    raw = compute(STAT, world.leader, q, cube=False)
    assert cubes.cubeable(STAT) and cubes.refresh(STAT)["dates"] >= 1
    assert _section(compute(STAT, world.leader, q))[0] == "raw"  # its rollup is not built yet
    assert cubes.refresh(RECONCILE_CUBE)["dates"] >= 1
    cubed = compute(STAT, world.leader, q)
    assert cubed.source == "cube" and _section(cubed)[0] == "cube" and _section(raw)[0] == "raw"
    assert (cubed.total, cubed.rows, cubed.breakdowns) == (raw.total, raw.rows, raw.breakdowns)
    assert _section(cubed)[1] == _section(raw)[1]
    assert daily(STAT, world.leader, q) == daily(STAT, world.leader, q, cube=False)
    assert sum(d["receipts"] for d in daily(STAT, world.leader, q).values()) == raw.total["receipts"] > 0
    brief = compute(STAT, world.leader, q, detail=False)  # the comparison and district pages
    assert (brief.total, brief.rows, brief.breakdowns, brief.extra) == (raw.total, raw.rows, {}, [])
    # Day by day: each order is on its paying day once, so the days add up to the window, and
    # each day is the ORM's.
    days, summed = 0, defaultdict(int)
    day = world.start
    while day <= world.end:
        one = compute(STAT, world.leader, StatQuery(day, day, levels=STAT.levels))
        source, rows = _section(one)
        assert source == "cube"
        expected = _expected_reconciliation(day, day)
        for district_id, e in expected.items():
            assert {k: rows[district_id][k] for k in e if k != "_orders"} == {
                k: v for k, v in e.items() if k != "_orders"
            }
        for key, value in rows[None].items():
            if key != "district_id":
                summed[key] += value
        days += 1
        day += dt.timedelta(days=1)
    whole = _section(cubed)[1][None]
    assert days >= 1 and dict(summed) == {k: v for k, v in whole.items() if k != "district_id"}


def test_a_receipt_issued_or_voided_moves_the_reconciliation(world):
    """Issuing re-exports the order (its live receipt); until the rollup is rebuilt the raw orders answer."""
    for stat in (STAT, RECONCILE_CUBE):
        cubes.refresh(stat)
    q = StatQuery(world.start, world.end, levels=STAT.levels)
    before = _section(compute(STAT, world.leader, q))
    assert before[0] == "cube"
    receipted = set(ReceiptItem.objects.filter(live=True).values_list("order_id", flat=True))
    order = next(
        o
        for o in Order.objects.filter(state="paid", amount_paid_fen__gt=0).order_by("id")
        if o.pk not in receipted and o.district_id in before[1]
    )
    [receipt] = _issue([order])
    sync_dataset("orders"), sync_dataset("receipts")
    source, rows = _section(compute(STAT, world.leader, q))
    assert source == "raw"  # the order's partition changed: the rollup of that date is stale
    row, old = rows[order.district_id], before[1][order.district_id]
    assert row["receipted_fen"] == old["receipted_fen"] + order.amount_paid_fen
    assert row["unreceipted_orders"] == old["unreceipted_orders"] - 1
    assert row["paid_fen"] == old["paid_fen"] and row["difference_fen"] == row["unreceipted_fen"]
    assert cubes.refresh(RECONCILE_CUBE)["dates"] == 1
    assert _section(compute(STAT, world.leader, q)) == ("cube", rows)
    services.receipt_void(actor=UserFactory(is_superuser=True), receipt=receipt, reason="重复开具")
    sync_dataset("orders"), sync_dataset("receipts")
    cubes.refresh(RECONCILE_CUBE)
    assert _section(compute(STAT, world.leader, q)) == before
