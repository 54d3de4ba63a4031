"""stats_compute does a fixed number of queries whatever the number of orders (SQL aggregation)."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from govcenter.parking.models import Order
from govcenter.parking.services.stats import stats_compute
from tests.parking.stats_helpers import DAY, at, build_day

pytestmark = pytest.mark.django_db


def _clone_orders(template: Order, n: int, spaces) -> None:
    rows = []
    versions = {s.pk: s.versions.first() for s in spaces}
    for i in range(n):
        space = spaces[i % len(spaces)]
        start = at(0) + dt.timedelta(seconds=(i * 37) % 80_000)
        rows.append(
            Order(
                district_id=template.district_id,
                managing_unit_id=template.managing_unit_id,
                segment_id=space.segment_id,
                space_id=space.pk,
                space_version=versions[space.pk],
                started_at=start,
                ended_at=start + dt.timedelta(minutes=1 + i % 300),
                state="paid",
                amount_due_fen=100 + i % 900,
                amount_paid_fen=100 + i % 900,
            )
        )
    Order.objects.bulk_create(rows, batch_size=5000)


def test_query_count_does_not_grow_with_orders(org):
    n = build_day(org)
    with CaptureQueriesContext(connection) as few:
        stats_compute(date=DAY)
    _clone_orders(n.orders[0], 300, n.dc_spaces)
    with CaptureQueriesContext(connection) as many:
        stats_compute(date=DAY)
    assert len(many) == len(few)


@pytest.mark.postgres
def test_a_day_of_many_orders_on_postgresql(org):
    """GOVCENTER_STATS_BENCH_ORDERS (default 20000) orders in one day: computed in seconds."""
    n = build_day(org)
    count = int(os.environ.get("GOVCENTER_STATS_BENCH_ORDERS", "20000"))
    _clone_orders(n.orders[0], count, n.dc_spaces)
    t0 = time.perf_counter()
    (dc, *_rest) = [r for r in stats_compute(date=DAY) if r.district_id == org.dongcheng.pk]
    elapsed = time.perf_counter() - t0
    print(f"stats_compute over {count} orders: {elapsed:.2f}s")
    assert dc.orders >= count
    assert elapsed < 60
