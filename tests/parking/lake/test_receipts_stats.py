"""票据数据统计 from the lake against the ORM; receipts reconcile exactly with the payments."""

from __future__ import annotations

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
    for name in ("orders", "payments", "receipts"):
        sync_dataset(name)
    days = sorted(
        timezone.localtime(at).date()
        for at in PaymentItem.objects.filter(intent__status="paid").values_list("intent__paid_at", flat=True)
    )
    org.start, org.end = days[0], max(days[-1], timezone.localdate())
    return org


def test_totals_equal_the_orm_and_receipts_reconcile_with_payments(world):
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
    # 票据与缴费核对: payments received in the window per district against the live receipts.
    [table] = result.extra
    rows = {r["district_id"]: r for r in table["rows"]}
    paid = defaultdict(int)
    districts = {}
    for item in PaymentItem.objects.filter(intent__status="paid").select_related("intent", "order"):
        if world.start <= timezone.localtime(item.intent.paid_at).date() <= world.end:
            paid[item.order_id] += item.amount_fen
            districts[item.order_id] = item.order.district_id
    live = dict(ReceiptItem.objects.filter(live=True).values_list("order_id", "amount_fen"))
    expected = defaultdict(lambda: defaultdict(int))
    for order_id, fen in paid.items():
        e = expected[districts[order_id]]
        e["paid_orders"] += 1
        e["paid_fen"] += fen
        e["receipted_fen"] += live.get(order_id, 0)
        e["unreceipted_orders"] += order_id not in live
        e["unreceipted_fen"] += 0 if order_id in live else fen
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


def test_the_cube_answers_the_measures_and_the_reconciliation_still_reads_the_payments(world):
    """Receipts' measures read one data set (a cube); its reconciliation section joins payments raw."""
    q = StatQuery(world.start, world.end, levels=STAT.levels)
    raw = compute(STAT, world.leader, q, cube=False)
    assert cubes.cubeable(STAT) and cubes.refresh(STAT)["dates"] >= 1
    cubed = compute(STAT, world.leader, q)
    assert cubed.source == "cube"
    assert (cubed.total, cubed.rows, cubed.breakdowns, cubed.extra) == (
        raw.total,
        raw.rows,
        raw.breakdowns,
        raw.extra,
    )
    assert daily(STAT, world.leader, q) == daily(STAT, world.leader, q, cube=False)
    assert sum(d["receipts"] for d in daily(STAT, world.leader, q).values()) == raw.total["receipts"] > 0
    brief = compute(STAT, world.leader, q, detail=False)  # the comparison and district pages
    assert (brief.total, brief.rows, brief.breakdowns, brief.extra) == (raw.total, raw.rows, {}, [])
