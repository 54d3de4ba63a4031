"""The incremental lake exporter (parking/lake/sync.py) against the ORM on generated data."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import duckdb
import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from govcenter.parking.lake.sync import (
    DATASETS,
    LakeSyncError,
    lake_status,
    live_files,
    live_sql,
    read_manifest,
    sync_dataset,
)
from govcenter.parking.models import Order

pytestmark = pytest.mark.django_db

TZ = dt.timezone(dt.timedelta(hours=8))
FACTS = ["arrears", "reminders", "penalties", "complaints", "permits", "receipts", "sms"]


def lake_rows(lake) -> dict[int, tuple]:
    """order_id → (state, paid, adjustment, vehicle_class, district, date) of the live files; asserts no duplicate."""
    con = duckdb.connect()
    rows = con.execute(
        "SELECT order_id, state, amount_paid_fen, amount_adjustment_fen, vehicle_class, district, "
        f"strftime(date, '%Y-%m-%d') FROM ({live_sql(lake, 'orders')})"
    ).fetchall()
    out = {r[0]: r[1:] for r in rows}
    assert len(out) == len(rows), "an order is in the lake twice"
    return out


def orm_rows() -> dict[int, tuple]:
    out = {}
    for o in Order.objects.select_related("district"):
        day = timezone.localtime(o.started_at).date().isoformat()
        out[o.pk] = (
            o.state, o.amount_paid_fen, o.amount_adjustment_fen, o.vehicle_class, o.district.code, day,
        )  # fmt: skip
    return out


def test_first_run_exports_every_order_partitioned_by_day_and_district(generated, lake):
    result = sync_dataset("orders")
    truth = orm_rows()
    assert result.changed == len(truth) > 200
    assert lake_rows(lake) == truth
    manifest = read_manifest(lake, "orders")
    expected_parts = {f"{day}/{code}" for (_s, _p, _a, _v, code, day) in truth.values()}
    assert set(manifest["partitions"]) == expected_parts
    assert manifest["rows"] == len(truth)
    # One live file per partition, in its Hive directory.
    for key, part in manifest["partitions"].items():
        day, code = key.split("/")
        assert part["file"].startswith(f"date={day}/district={code}/")
    newest = max(Order.objects.values_list("updated_at", flat=True))
    assert dt.datetime.fromisoformat(manifest["watermark"]) == newest


def test_rerun_is_idempotent_and_touches_nothing(generated, lake):
    sync_dataset("orders")
    before = read_manifest(lake, "orders")
    again = sync_dataset("orders", now=timezone.now() + dt.timedelta(hours=1))
    after = read_manifest(lake, "orders")
    # The rows inside the 5-minute overlap are re-read but the lake already holds their
    # exact version (same updated_at): nothing is rewritten.
    assert again.changed == 0 and again.partitions == 0 and again.rows_written == 0
    assert after["partitions"] == before["partitions"] and after["watermark"] == before["watermark"]
    assert lake_rows(lake) == orm_rows()


def test_incremental_new_and_changed_orders_and_late_correction(generated, lake):
    sync_dataset("orders")
    count_before = len(lake_rows(lake))
    parts_before = read_manifest(lake, "orders")["partitions"]

    # A late correction: an old unpaid order lowered by a fee adjustment, one changed in place
    # (vehicle class fixed), both long after the first export — the watermark must move past them.
    later = timezone.now() + dt.timedelta(minutes=30)
    target = (
        Order.objects.filter(state__in=["billed", "arrears"], amount_due_fen__gt=100).order_by("id").first()
    )
    other = Order.objects.exclude(pk=target.pk).filter(vehicle_class="small").order_by("-id").first()
    Order.objects.filter(pk=target.pk).update(amount_adjustment_fen=-100, updated_at=later)
    Order.objects.filter(pk=other.pk).update(vehicle_class="large", updated_at=later)

    result = sync_dataset("orders")
    rows = lake_rows(lake)
    assert len(rows) == count_before  # count unchanged …
    assert rows[target.pk][2] == -100 and rows[other.pk][3] == "large"  # … values changed
    assert rows == orm_rows()
    assert result.changed >= 2
    touched = {k for k, v in read_manifest(lake, "orders")["partitions"].items() if parts_before.get(k) != v}
    day = lambda o: timezone.localtime(o.started_at).date().isoformat()  # noqa: E731
    assert {f"{day(target)}/{target.district.code}", f"{day(other)}/{other.district.code}"} <= touched
    # Only the affected partitions (plus those of rows inside the 5-minute overlap) were rewritten.
    assert len(touched) < len(parts_before)
    assert dt.datetime.fromisoformat(read_manifest(lake, "orders")["watermark"]) == later


def test_a_correction_that_moves_an_order_empties_its_old_partition(generated, lake):
    sync_dataset("orders")
    # The only order of its (day, district) partition moves a day earlier: its old partition
    # must no longer list it (nor exist, if it was the only one).
    by_part = Order.objects.values("district_id").annotate(n=Count("id")).order_by("n").first()
    order = Order.objects.filter(district_id=by_part["district_id"]).order_by("started_at").first()
    new_start = order.started_at - dt.timedelta(days=1)
    fields = {"started_at": new_start, "updated_at": timezone.now() + dt.timedelta(minutes=30)}
    if order.ended_at is not None:
        fields["ended_at"] = order.ended_at - dt.timedelta(days=1)
    Order.objects.filter(pk=order.pk).update(**fields)
    sync_dataset("orders")
    rows = lake_rows(lake)
    assert rows[order.pk][5] == timezone.localtime(new_start).date().isoformat()
    assert rows == orm_rows()


def test_full_rebuild_equals_incremental_and_old_files_go_after_the_grace(generated, lake, monkeypatch):
    sync_dataset("orders")
    first_files = set(live_files(lake, "orders"))
    result = sync_dataset("orders", full=True)
    assert lake_rows(lake) == orm_rows()
    assert result.partitions == len(first_files)
    # Superseded files stay for readers of the old manifest, then go.
    assert all(f.exists() for f in first_files)
    import govcenter.parking.lake.sync as sync

    monkeypatch.setattr(sync, "GRACE_S", -1.0)
    removed = sync_dataset("orders").removed_files
    assert removed == len(first_files) and not any(f.exists() for f in first_files)
    on_disk = set(lake.glob("orders/date=*/district=*/*.parquet"))
    assert on_disk == set(live_files(lake, "orders"))


def test_status_and_cli(generated, lake):
    assert lake_status()[0]["watermark"] is None
    out = StringIO()
    call_command("parking", "lake-sync", "--dataset", "orders", stdout=out)
    [printed] = json.loads(out.getvalue())
    assert printed["dataset"] == "orders" and printed["rows_written"] == Order.objects.count()
    status = lake_status()[0]
    assert [s["dataset"] for s in lake_status()] == list(DATASETS)
    assert list(DATASETS)[: 3 + len(FACTS)] == ["orders", "payments", "refunds", *FACTS]  # then the others
    assert status["rows"] == Order.objects.count() and status["last_run"] and status["lag_seconds"] >= 0
    out = StringIO()
    call_command("parking", "lake-status", stdout=out)
    assert json.loads(out.getvalue())[0]["rows"] == Order.objects.count()
    out = StringIO()
    call_command("parking", "lake-sync", stdout=out)  # every data set
    assert [r["dataset"] for r in json.loads(out.getvalue())] == list(DATASETS)
    out = StringIO()
    call_command("parking", "lake-sync", "--dataset", "sms", "--dataset", "permits", stdout=out)
    assert [r["dataset"] for r in json.loads(out.getvalue())] == ["sms", "permits"]


def test_unknown_dataset(db, lake):
    with pytest.raises(LakeSyncError):
        sync_dataset("nope")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--dataset 'nope'"):
        call_command("parking", "lake-sync", "--dataset", "nope", stdout=StringIO())


def _lake(lake, dataset: str, columns: str) -> dict:
    files = [str(f) for f in live_files(lake, dataset)]
    if not files:
        return {}
    rows = duckdb.connect().execute(f"SELECT {columns} FROM read_parquet(?)", [files]).fetchall()
    assert len({r[0] for r in rows}) == len(rows)
    return {r[0]: r[1:] for r in rows}


def test_payments_and_refunds_follow_their_tables(generated, lake):
    from govcenter.parking.models import PaymentItem
    from govcenter.parking.models.refunds import Refund

    sync_dataset("payments")
    sync_dataset("refunds")
    truth = {
        i.pk: (i.order_id, i.amount_fen, i.intent.status, i.order.district.code)
        for i in PaymentItem.objects.select_related("intent", "order__district")
    }
    assert len(truth) > 100
    assert _lake(lake, "payments", "item_id, order_id, amount_fen, status, district_code") == truth
    assert _lake(lake, "refunds", "refund_id") == {}

    # A refund is requested for a paid order: the refunds data set gets it; then it succeeds
    # (a late change of the same row): replaced, not duplicated.
    item = PaymentItem.objects.select_related("intent", "order").filter(intent__status="paid").first()
    refund = Refund.objects.create(
        refund_no="RFTEST1", intent=item.intent, order=item.order, district_id=item.order.district_id,
        amount_fen=100, reason_category="other", reason="测试", status="requested",
    )  # fmt: skip
    sync_dataset("refunds")
    assert _lake(lake, "refunds", "refund_id, status, amount_fen") == {refund.pk: ("requested", 100)}
    Refund.objects.filter(pk=refund.pk).update(
        status="succeeded", succeeded_at=timezone.now(), updated_at=timezone.now() + dt.timedelta(minutes=10)
    )
    sync_dataset("refunds")
    assert _lake(lake, "refunds", "refund_id, status") == {refund.pk: ("succeeded",)}

    # A payment corrected later (its paid time fixed by reconciliation) is rewritten in place.
    fixed = item.intent.paid_at - dt.timedelta(minutes=7)
    type(item.intent).objects.filter(pk=item.intent_id).update(
        paid_at=fixed, updated_at=timezone.now() + dt.timedelta(minutes=10)
    )
    result = sync_dataset("payments")
    assert result.changed == item.intent.items.count()
    lake_payments = _lake(lake, "payments", "item_id, epoch_ms(paid_at)")
    assert lake_payments[item.pk] == (int(fixed.timestamp() * 1000),) and len(lake_payments) == len(truth)
