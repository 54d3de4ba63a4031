"""缴费情况统计 from the lake against the ORM; reconciliation; surfaces; bad input."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, PaymentItem
from govcenter.parking.models.refunds import Refund, RefundReason
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.orders import OrderQuery, order_stats
from tests.factories import UserFactory

from .statcheck import assert_reconciles, assert_surfaces_agree

pytestmark = pytest.mark.django_db
STAT = STATISTICS["payments"]


@pytest.fixture
def world(orders_world):
    return orders_world


def cohort(start, end):
    return [
        o
        for o in Order.objects.exclude(state="void")
        if start <= timezone.localtime(o.started_at).date() <= end
    ]


def test_totals_equal_the_orm_and_the_orders_statistic(world):
    result = compute(STAT, world.leader, StatQuery(world.start, world.end))
    orders = cohort(world.start, world.end)
    paid_ids = set(PaymentItem.objects.filter(intent__status="paid").values_list("order_id", flat=True))
    assert result.total["orders"] == len(orders) > 100
    assert result.total["due_fen"] == sum(o.amount_due_fen for o in orders)
    assert result.total["paid_fen"] == sum(o.amount_paid_fen for o in orders)
    assert (
        result.total["paid_orders"] == sum(1 for o in orders if o.amount_due_fen > 0 and o.pk in paid_ids) > 0
    )
    assert result.total["payment_rate"] == round(result.total["paid_fen"] / result.total["due_fen"], 4)
    same = order_stats(world.leader, OrderQuery(world.start, world.end)).total
    assert (same["due_fen"], same["paid_fen"]) == (result.total["due_fen"], result.total["paid_fen"])
    channels = {g["key"]: g for g in result.breakdowns["channel"]}
    assert channels["sandbox"]["paid_orders"] == result.total["paid_orders"]
    assert sum(g["billed_orders"] for g in result.breakdowns["time_to_pay"]) == result.total["billed_orders"]


def test_rows_and_breakdowns_sum_to_every_total(world):
    total = assert_reconciles(STAT, world.leader, world.start, world.end)
    assert total["orders"] > 0


def test_a_refund_shows_after_the_next_sync(world):
    from govcenter.parking.services.refunds import refund_request

    item = (
        PaymentItem.objects.filter(intent__status="paid", amount_fen__gt=100).select_related("order").first()
    )
    assert item is not None
    day = timezone.localtime(item.order.started_at).date()
    q = StatQuery(day, day)
    before = compute(STAT, world.leader, q).total
    refund_request(
        actor=UserFactory(is_superuser=True),
        intent=item.intent,
        amount_fen=100,
        reason="多收",
        reason_category=RefundReason.OTHER,
        order=item.order,
    )
    sync_dataset("orders")  # the refund re-exports its order
    after = compute(STAT, world.leader, q).total
    assert after["refunds"] == before["refunds"] + 1
    assert after["orders"] == before["orders"] and after["paid_fen"] == before["paid_fen"]
    assert Refund.objects.count() >= 1


def test_district_staff_see_their_district_and_unsupported_filters_are_400(world):
    dc = world.manager_dc
    result = compute(STAT, dc, StatQuery(world.start, world.end))
    assert [r["code"] for r in result.rows] == ["110101"]
    client = Client()
    client.force_login(world.leader)
    for params, code in (
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"district": "999999"}, "unknown_district"),
        ({"vehicle_class": "bus"}, "invalid_vehicle_class"),
    ):
        response = client.get("/api/v1/parking/stats/payments", params)
        assert response.status_code == 400 and response.json()["code"] == code
        page = client.get("/parking/stats/payments/", params)
        assert page.status_code == 400 and f'data-error="{code}"' in page.content.decode()


def test_api_page_and_excel_agree(world):
    body = assert_surfaces_agree(
        world.leader, STAT, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert body["total"]["orders"] > 0 and set(body["breakdowns"]) == {"channel", "time_to_pay", "by_day"}


def test_the_daily_cube_gives_the_raw_numbers_and_follows_changes(world):
    from govcenter.parking.stats2 import cubes

    q = StatQuery(world.start, world.end)
    raw = compute(STAT, world.leader, q, cube=False)
    assert raw.source == "raw"
    assert compute(STAT, world.leader, q).source == "raw"  # no cube yet: the raw facts
    built = cubes.refresh(STAT)
    assert built["dates"] == len({timezone.localtime(o.started_at).date() for o in Order.objects.all()})
    assert cubes.refresh(STAT)["dates"] == 0  # nothing changed: nothing rebuilt
    cubed = compute(STAT, world.leader, q)
    assert cubed.source == "cube"
    assert (cubed.total, cubed.rows, cubed.breakdowns) == (raw.total, raw.rows, raw.breakdowns)
    # Scope and drill levels read the cube too.
    dc = world.manager_dc
    assert compute(STAT, dc, q).total == compute(STAT, dc, q, cube=False).total
    district = compute(STAT, world.leader, q).rows[0]
    from govcenter.core.models import District

    dq = StatQuery(world.start, world.end, district=District.objects.get(pk=district["id"]))
    one = compute(STAT, world.leader, dq)
    assert one.source == "cube" and (one.total, one.rows) == (
        compute(STAT, world.leader, dq, cube=False).total,
        compute(STAT, world.leader, dq, cube=False).rows,
    )
    # A change re-exports a partition: the cube is stale for that date (raw until refreshed), then current.
    order = Order.objects.filter(state__in=["billed", "arrears"], amount_due_fen__gt=100).first()
    Order.objects.filter(pk=order.pk).update(amount_adjustment_fen=-70, updated_at=timezone.now())
    sync_dataset("orders")
    assert compute(STAT, world.leader, q).source == "raw"
    assert cubes.refresh(STAT)["dates"] == 1
    after = compute(STAT, world.leader, q)
    assert after.source == "cube" and after.total == compute(STAT, world.leader, q, cube=False).total
    assert after.total["adjustment_fen"] == raw.total["adjustment_fen"] - 70 - order.amount_adjustment_fen
