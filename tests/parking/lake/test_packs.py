"""Closed months packed into one file per data set (lake/sync.py): same rows, fewer files, corrections still land."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govcenter.parking.lake.sync import live_files, pack_dataset, read_manifest, sync_dataset
from govcenter.parking.models import Order
from govcenter.parking.stats2 import cubes
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.orders import CUBE, as_dict, order_stats
from tests.helpers.org import build_org

from .test_sync import lake_rows, orm_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def later(generated, lake):
    """A "today" 40 days after the data: its months are closed."""
    last = max(timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True))
    return last + dt.timedelta(days=40)


def correct(order, **fields):
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() + dt.timedelta(minutes=30), **fields)


def test_a_closed_month_is_one_file_with_the_same_rows_and_statistics(generated, lake, later):
    org = build_org()
    sync_dataset("orders")
    days = sorted({timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True)})
    q = StatQuery(days[0], days[-1])
    before = as_dict(order_stats(org.leader, q, cube=False))
    daily = set(live_files(lake, "orders"))
    months = {d.strftime("%Y-%m") for d in days}
    assert len(daily) > len(months)
    assert sync_dataset("orders").packed == 0  # the current month is never packed
    result = sync_dataset("orders", today=later)
    assert result.packed == len(months) and result.changed == 0
    manifest = read_manifest(lake, "orders")
    assert set(manifest["packs"]) == months
    assert all(e["pack"] in months and e["origin"] for e in manifest["partitions"].values())
    assert len(live_files(lake, "orders")) == len(months)
    assert lake_rows(lake) == orm_rows()
    assert as_dict(order_stats(org.leader, q, cube=False)) == before
    # The daily files go after the grace, as any superseded file.
    assert all(f.exists() for f in daily)
    assert pack_dataset("orders", today=later) == 0  # nothing new to pack
    # Packing is no change for the cubes: a cube built before stays current.
    cubes.refresh(CUBE, today=later)


def test_a_late_correction_in_a_packed_month_overrides_its_partition_then_the_month_repacks(
    generated, lake, later
):
    sync_dataset("orders", today=later)
    cubes.refresh(CUBE, today=later)
    keys = read_manifest(lake, "orders")["partitions"]
    target = (
        Order.objects.filter(state__in=["billed", "arrears"], amount_due_fen__gt=100).order_by("id").first()
    )
    correct(target, amount_adjustment_fen=-100)
    result = sync_dataset("orders", today=later)
    assert result.packed == 0  # one partition of many: read from its own file until the month repacks
    manifest = read_manifest(lake, "orders")
    key = f"{timezone.localtime(target.started_at).date()}/{target.district.code}"
    assert "file" in manifest["partitions"][key] and "pack" not in manifest["partitions"][key]
    rows = lake_rows(lake)  # asserts no order is read twice (the pack's copy is overridden)
    assert rows == orm_rows() and rows[target.pk][2] == -100
    # The cube sees the rewritten date as changed, and only that one.
    assert cubes.refresh(CUBE, today=later)["dates"] == 1
    # A correction that moves an order out of a packed partition: the old one no longer has it.
    moved = Order.objects.exclude(pk=target.pk).exclude(ended_at=None).order_by("-id").first()
    correct(
        moved,
        started_at=moved.started_at - dt.timedelta(days=1),
        ended_at=moved.ended_at - dt.timedelta(days=1),
    )
    sync_dataset("orders", today=later)
    assert lake_rows(lake) == orm_rows()
    # Corrections across a quarter of the month's partitions: the month is packed again.
    month = key[:7]
    month_keys = [k for k in keys if k.startswith(month)]
    for k in month_keys[: len(month_keys) // 3 + 1]:
        day, code = k.split("/")
        o = Order.objects.filter(district__code=code).order_by("id")
        o = next(x for x in o if timezone.localtime(x.started_at).date().isoformat() == day)
        correct(o, amount_adjustment_fen=-1)
    result = sync_dataset("orders", today=later)
    assert result.packed >= 1
    manifest = read_manifest(lake, "orders")
    assert all(e.get("pack") == month for k, e in manifest["partitions"].items() if k.startswith(month))
    assert lake_rows(lake) == orm_rows()


def test_a_full_rebuild_over_packs_reads_each_row_once(generated, lake, later):
    sync_dataset("orders", today=later)
    result = sync_dataset("orders", full=True, today=later)
    assert result.packed >= 1  # every partition rewritten: the months packed again
    assert lake_rows(lake) == orm_rows()
    manifest = read_manifest(lake, "orders")
    assert len(manifest["packs"]) == result.packed
