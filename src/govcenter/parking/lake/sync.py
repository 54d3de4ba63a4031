"""Incremental export of parking facts from the OLTP tables into the lake (issue 7, data path).

Layout: ``<lake>/parking/<dataset>/date=YYYY-MM-DD/district=<code>/part-<uuid>.parquet`` — the
date is the Beijing calendar date of the fact's time column (an order's ``started_at``), the
district its district's code. Each partition has exactly ONE live file; which one is said by
``<lake>/parking/<dataset>/_manifest.json``, which also keeps the watermark, row counts and
the last run. Readers (``parking.stats2``) read only the files the manifest lists.

One run (``sync_dataset``), under the data set's flock:

1. rows with ``updated_at > watermark − OVERLAP`` are read (the overlap catches rows whose
   transaction committed after a later one was already seen; re-reading is harmless);
2. the affected partitions are those the changed rows belong to now, plus those the lake
   holds them in (a correction that moves a row — a corrected start time — empties its old
   partition);
3. each affected partition is rebuilt whole from the OLTP rows of that (date, district) and
   written as a new file (temporary + fsync + rename);
4. the manifest is swapped atomically (temporary + fsync + rename): a reader sees the old
   set of files or the new one, never a half partition and never a row twice;
5. files superseded more than ``GRACE_S`` ago are deleted (a query that read the previous
   manifest may still be reading them).

A re-run with nothing new changes nothing but ``last_run``; ``--full`` rebuilds every
partition. Late corrections (plate fixes, fee adjustments, refunds that move the state) bump
``Order.updated_at`` and so rewrite their partition: the count stays, the values change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from django.utils import timezone

from govcenter.analytics.lake.config import lake_root
from govcenter.analytics.lake.files import dataset_lock, replace_file

TZ = ZoneInfo("Asia/Shanghai")
OVERLAP = dt.timedelta(minutes=5)
GRACE_S = 600.0
MANIFEST = "_manifest.json"
TS = pa.timestamp("ms", tz="UTC")
TS_US = pa.timestamp("us", tz="UTC")  # change stamps keep the database's microseconds

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("district_id", pa.int64()),
        ("district_code", pa.string()),
        ("managing_unit_id", pa.int64()),
        ("road_id", pa.int64()),
        ("segment_id", pa.int64()),
        ("space_id", pa.int64()),
        ("area_class", pa.int16()),
        ("state", pa.string()),
        ("vehicle_class", pa.string()),
        ("started_at", TS),
        ("ended_at", TS),
        ("duration_s", pa.int64()),
        ("amount_due_fen", pa.int64()),
        ("amount_paid_fen", pa.int64()),
        ("amount_adjustment_fen", pa.int64()),
        ("updated_at", TS_US),
        ("paid_at", TS),  # the first payment that paid the order (version 2)
        ("pay_channel", pa.string()),  # its provider
    ]
)


class LakeSyncError(ValueError):
    """A bad request to the exporter (unknown data set)."""


def parking_root(root: Path | str | None = None) -> Path:
    return Path(root) if root is not None else lake_root() / "parking"


def _orders_rows(day: dt.date, district_ids: set[int]) -> dict[int, list[dict]]:
    """The OLTP order rows started on Beijing ``day`` in ``district_ids``, by district id."""
    from django.db.models import OuterRef, Subquery

    from govcenter.parking.models import Order, PaymentItem
    from govcenter.parking.models.payments import PaymentStatus

    lo = dt.datetime.combine(day, dt.time(), TZ)
    hi = lo + dt.timedelta(days=1)
    out: dict[int, list[dict]] = defaultdict(list)
    # The payment that paid the order: a succeeded payment bumps the order's updated_at
    # (services.payments marks the order paid), so these columns follow it.
    paying = PaymentItem.objects.filter(order=OuterRef("pk"), intent__status=PaymentStatus.PAID).order_by(
        "intent__paid_at", "intent_id"
    )
    qs = (
        Order.objects.filter(district_id__in=sorted(district_ids), started_at__gte=lo, started_at__lt=hi)
        .annotate(
            _paid_at=Subquery(paying.values("intent__paid_at")[:1]),
            _channel=Subquery(paying.values("intent__provider")[:1]),
        )
        .order_by("id")
        .values_list(
            "id", "district_id", "managing_unit_id", "segment__road_id", "segment_id", "space_id", "segment__area_class", "state",
            "vehicle_class", "started_at", "ended_at", "amount_due_fen", "amount_paid_fen",
            "amount_adjustment_fen", "updated_at", "_paid_at", "_channel",
        )
    )  # fmt: skip
    for r in qs.iterator(chunk_size=5000):
        out[r[1]].append(r)
    return out


def _orders_table(rows: list, district_code: str) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(17)]
    started, ended = cols[9], cols[10]
    duration = [
        int((e - s).total_seconds()) if e is not None else None for s, e in zip(started, ended, strict=True)
    ]
    arrays = [
        pa.array(cols[0], pa.int64()),
        pa.array(cols[1], pa.int64()),
        pa.array([district_code] * len(rows), pa.string()),
        pa.array(cols[2], pa.int64()),
        pa.array(cols[3], pa.int64()),
        pa.array(cols[4], pa.int64()),
        pa.array(cols[5], pa.int64()),
        pa.array(cols[6], pa.int16()),
        pa.array(cols[7], pa.string()),
        pa.array(cols[8], pa.string()),
        pa.array(started, TS),
        pa.array(ended, TS),
        pa.array(duration, pa.int64()),
        pa.array(cols[11], pa.int64()),
        pa.array(cols[12], pa.int64()),
        pa.array(cols[13], pa.int64()),
        pa.array(cols[14], TS_US),
        pa.array(cols[15], TS),
        pa.array(cols[16], pa.string()),
    ]
    return pa.Table.from_arrays(arrays, schema=ORDERS_SCHEMA)


def _orders_changed(since: dt.datetime | None):
    """(id, started_at, district_id, updated_at) of the orders changed after ``since`` (all if None)."""
    from govcenter.parking.models import Order

    qs = Order.objects.all()
    if since is not None:
        qs = qs.filter(updated_at__gt=since)
    return (
        qs.order_by().values_list("id", "started_at", "district_id", "updated_at").iterator(chunk_size=20000)
    )


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: pa.Schema
    changed: object  # (since) -> iterable of (id, time, district_id or None, updated_at)
    rows: object  # (day, district_ids) -> {district_id: rows}
    table: object  # (rows, district_code) -> pa.Table
    key: str
    version: int = 1  # bump when the schema changes: the next run rebuilds every partition


def _simple(
    name: str,
    model_path: str,
    key: str,
    *,
    time: str,
    district: str,
    columns: list,
    annotate=None,
    extra=None,
) -> Dataset:
    """A data set whose rows are one model's rows, columns given as (name, ORM path, Arrow type).

    ``time`` is the ORM path of the partition time, ``district`` of the district id; the change
    key is the column ``updated_at`` (its path is that column's). A ``district_code`` column
    is added from the partition. A column may carry a fourth item, a function of the value read
    (a derived column). ``annotate(queryset)`` may add annotations the paths name (a district
    or a count from another table); a row whose district is null is in no partition (a changed
    one is still removed from where the lake holds it). A column whose
    path is None is filled by ``extra(ids) -> {id: {column: value}}`` (a list column, say).
    """
    paths = [path for _n, path, *_r in columns if path is not None]
    updated = next(path for n, path, *_r in columns if n == "updated_at")
    schema = pa.schema(
        [(key, pa.int64()), ("district_code", pa.string()), *[(n, t) for n, _p, t, *_r in columns]]
    )
    district_index = paths.index(district)

    def queryset():
        from django.apps import apps

        qs = apps.get_model(model_path).objects.all()
        return annotate(qs) if annotate is not None else qs

    def changed(since):
        qs = queryset()
        if since is not None:
            qs = qs.filter(**{f"{updated}__gt": since})
        return qs.order_by().values_list("id", time, district, updated).iterator(chunk_size=20000)

    def rows(day, district_ids):
        lo = dt.datetime.combine(day, dt.time(), TZ)
        hi = lo + dt.timedelta(days=1)
        qs = (
            queryset()
            .filter(**{f"{district}__in": sorted(district_ids), f"{time}__gte": lo, f"{time}__lt": hi})
            .order_by("id")
        )
        out: dict[int, list] = defaultdict(list)
        for r in qs.values_list("id", *paths).iterator(chunk_size=5000):
            out[r[1 + district_index]].append(r)
        return out

    def table(rows, district_code):
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(len(paths) + 1)]
        more = extra([int(i) for i in cols[0]]) if extra is not None else {}
        arrays = [pa.array(cols[0], pa.int64()), pa.array([district_code] * len(rows), pa.string())]
        i = 1
        for n, path, t, *convert in columns:
            if path is None:
                values = [more.get(pk, {}).get(n) for pk in cols[0]]
            else:
                values, i = cols[i], i + 1
            if convert:
                values = [convert[0](v) for v in values]
            arrays.append(pa.array(values, t))
        return pa.Table.from_arrays(arrays, schema=schema)

    return Dataset(name, schema, changed, rows, table, key)


# Payments: one row per payment item (an order's share of a payment), in the district of its
# order and the day the payment was created; its change key is the payment's updated_at.
PAYMENTS = _simple(
    "payments",
    "parking.PaymentItem",
    "item_id",
    time="intent__created_at",
    district="order__district_id",
    columns=[
        ("intent_id", "intent_id", pa.int64()),
        ("order_id", "order_id", pa.int64()),
        ("district_id", "order__district_id", pa.int64()),
        ("managing_unit_id", "order__managing_unit_id", pa.int64()),
        ("segment_id", "order__segment_id", pa.int64()),
        ("amount_fen", "amount_fen", pa.int64()),
        ("status", "intent__status", pa.string()),
        ("provider", "intent__provider", pa.string()),
        ("created_at", "intent__created_at", TS),
        ("paid_at", "intent__paid_at", TS),
        ("updated_at", "intent__updated_at", TS_US),
    ],
)

# Refunds: one row per refund, on the day it was requested, in its district.
REFUNDS = _simple(
    "refunds",
    "parking.Refund",
    "refund_id",
    time="requested_at",
    district="district_id",
    columns=[
        ("intent_id", "intent_id", pa.int64()),
        ("order_id", "order_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("amount_fen", "amount_fen", pa.int64()),
        ("reason_category", "reason_category", pa.string()),
        ("status", "status", pa.string()),
        ("requested_at", "requested_at", TS),
        ("decided_at", "decided_at", TS),
        ("succeeded_at", "succeeded_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)

# Arrears: one row per arrears record (an order turned arrears), on the day it turned, in its district.
ARREARS = _simple(
    "arrears",
    "parking.ArrearsRecord",
    "arrears_id",
    time="created_at",
    district="district_id",
    columns=[
        ("order_id", "order_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "managing_unit_id", pa.int64()),
        ("amount_fen", "amount_fen", pa.int64()),
        ("left_at", "left_at", TS),
        ("due_at", "due_at", TS),
        ("window_ends_at", "window_ends_at", TS),
        ("outcome", "outcome", pa.string()),
        ("settled_at", "settled_at", TS),
        ("decided_at", "decided_at", TS),
        ("created_at", "created_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)

# Reminders: one row per reminder log (one order, one stage, one day), on the day sent.
REMINDERS = _simple(
    "reminders",
    "parking.ReminderLog",
    "reminder_id",
    time="sent_at",
    district="district_id",
    columns=[
        ("order_id", "order_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "managing_unit_id", pa.int64()),
        ("stage", "stage", pa.string()),
        ("day_offset", "day_offset", pa.int64()),
        ("amount_fen", "amount_fen", pa.int64()),
        ("outcome", "outcome", pa.string()),
        ("sms_message_id", "sms_message_id", pa.int64()),
        ("sent_at", "sent_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)

# Penalty cases: one row per case, on the day it was opened. An appeal's outcome is the state
# the case left ``appealed`` for (``appealed_at`` set and state ``paid`` or ``closed``).
PENALTIES = _simple(
    "penalties",
    "parking.PenaltyCase",
    "case_id",
    time="created_at",
    district="district_id",
    columns=[
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "managing_unit_id", pa.int64()),
        ("state", "state", pa.string()),
        ("amount_fen", "amount_fen", pa.int64()),
        ("unpaid_fen", "unpaid_fen", pa.int64()),
        ("fine_fen", "fine_fen", pa.int64()),
        ("order_count", "order_count", pa.int64()),
        ("notice_outcome", "notice_outcome", pa.string()),
        ("sms_message_id", "sms_message_id", pa.int64()),
        ("window_ended_at", "window_ended_at", TS),
        ("created_at", "created_at", TS),
        ("notified_at", "notified_at", TS),
        ("paid_at", "paid_at", TS),
        ("closed_at", "closed_at", TS),
        ("appealed_at", "appealed_at", TS),
        ("appealed", "appealed_at", pa.bool_(), lambda v: v is not None),
        ("updated_at", "updated_at", TS_US),
    ],
)


def _complaint_annotate(qs):
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from govcenter.parking.models.complaints import FeeAdjustment

    per = FeeAdjustment.objects.filter(complaint=OuterRef("pk")).order_by().values("complaint")
    return qs.annotate(
        adj_fen=Coalesce(
            Subquery(per.annotate(s=Sum("amount_fen")).values("s")[:1]), 0, output_field=IntegerField()
        ),
        adj_count=Coalesce(
            Subquery(per.annotate(c=Count("pk")).values("c")[:1]), 0, output_field=IntegerField()
        ),
    )


def _end_of_day(day):
    """The first instant after Beijing ``day`` (a reply before it is in time)."""
    return None if day is None else dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)


# Complaints and appeals: one row per complaint, on the day received, in the district it is
# routed to. ``deadline`` is the reply deadline (a Beijing date, working days after receipt);
# ``due_at`` the first instant after it: replied in time ⇔ ``replied_at < due_at``. The fee
# adjustments made for it are summed (``fee_adjust`` bumps the complaint's updated_at).
COMPLAINTS = _simple(
    "complaints",
    "parking.Complaint",
    "complaint_id",
    time="received_at",
    district="district_id",
    annotate=_complaint_annotate,
    columns=[
        ("kind", "kind", pa.string()),
        ("channel", "channel", pa.string()),
        ("category", "category", pa.string()),
        ("order_id", "order_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "handling_unit_id", pa.int64()),
        ("status", "status", pa.string()),
        ("outcome", "outcome", pa.string()),
        ("received_at", "received_at", TS),
        ("accepted_at", "accepted_at", TS),
        ("replied_at", "replied_at", TS),
        ("closed_at", "closed_at", TS),
        ("deadline", "deadline", pa.date32()),
        ("due_at", "deadline", TS, _end_of_day),
        ("satisfaction", "satisfaction", pa.int64()),
        ("rated_at", "rated_at", TS),
        ("adjustment_fen", "adj_fen", pa.int64()),
        ("adjustments", "adj_count", pa.int64()),
        ("updated_at", "updated_at", TS_US),
    ],
)


def _permit_segments(ids: list[int]) -> dict[int, dict]:
    from govcenter.parking.models.permits import ResidentialPermit

    through = ResidentialPermit.segments.through
    out: dict[int, dict] = defaultdict(lambda: {"segment_ids": [], "segment_count": 0})
    for start in range(0, len(ids), 5000):
        pairs = (
            through.objects.filter(residentialpermit_id__in=ids[start : start + 5000])
            .order_by("residentialpermit_id", "segment_id")
            .values_list("residentialpermit_id", "segment_id")
        )
        for permit_id, segment_id in pairs:
            out[permit_id]["segment_ids"].append(segment_id)
            out[permit_id]["segment_count"] += 1
    return {pk: out[pk] if pk in out else {"segment_ids": [], "segment_count": 0} for pk in ids}


# Residential permits: one row per permit, on the day applied for; its segments as a list.
# No personal data (name, phone, ID number, plate, address) leaves the OLTP table.
PERMITS = _simple(
    "permits",
    "parking.ResidentialPermit",
    "permit_id",
    time="submitted_at",
    district="district_id",
    extra=_permit_segments,
    columns=[
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", None, pa.int64()),  # permits are scoped by district only: null
        ("status", "status", pa.string()),
        ("segment_ids", None, pa.list_(pa.int64())),
        ("segment_count", None, pa.int64()),
        ("months", "months", pa.int64()),
        ("monthly_fee_fen", "monthly_fee_fen", pa.int64()),
        ("valid_from", "valid_from", pa.date32()),
        ("valid_to", "valid_to", pa.date32()),
        ("renewal_of_id", "renewal_of_id", pa.int64()),
        ("is_renewal", "renewal_of_id", pa.bool_(), lambda v: v is not None),
        ("submitted_at", "submitted_at", TS),
        ("reviewed_at", "reviewed_at", TS),
        ("revoked_at", "revoked_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)


def _receipt_annotate(qs):
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from govcenter.parking.models.receipts import ReceiptItem

    per = ReceiptItem.objects.filter(receipt=OuterRef("pk")).order_by().values("receipt")
    return qs.annotate(
        n_items=Coalesce(
            Subquery(per.annotate(c=Count("pk")).values("c")[:1]), 0, output_field=IntegerField()
        )
    )


# Receipts: one row per receipt, on the day issued, in its district; ``item_count`` > 1 is a
# merged receipt (合并开票: several paid orders of one district on one receipt). No payer plate.
RECEIPTS = _simple(
    "receipts",
    "parking.Receipt",
    "receipt_id",
    time="issued_at",
    district="district_id",
    annotate=_receipt_annotate,
    columns=[
        ("series_id", "series_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "payee_unit_id", pa.int64()),
        ("total_fen", "total_fen", pa.int64()),
        ("status", "status", pa.string()),
        ("item_count", "n_items", pa.int64()),
        ("issued_at", "issued_at", TS),
        ("voided_at", "voided_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)


def _sms_annotate(qs):
    from django.db.models import Case, CharField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce

    from govcenter.parking.models.arrears import PenaltyCase, ReminderLog

    rem = ReminderLog.objects.filter(sms_message=OuterRef("pk")).order_by("id")
    pen = PenaltyCase.objects.filter(sms_message=OuterRef("pk")).order_by("id")
    return qs.annotate(
        reminder_ref=Subquery(rem.values("id")[:1]),
        penalty_ref=Subquery(pen.values("id")[:1]),
    ).annotate(
        district_ref=Coalesce(
            Subquery(rem.values("district_id")[:1]), Subquery(pen.values("district_id")[:1])
        ),
        unit_ref=Coalesce(
            Subquery(rem.values("managing_unit_id")[:1]), Subquery(pen.values("managing_unit_id")[:1])
        ),
        source=Case(
            When(reminder_ref__isnull=False, then=Value("reminder")),
            When(penalty_ref__isnull=False, then=Value("penalty")),
            default=None,
            output_field=CharField(),
        ),
        source_ref=Coalesce("reminder_ref", "penalty_ref"),
        order_ref=Subquery(rem.values("order_id")[:1]),
    )


# Parking SMS: one row per outbox message a reminder or a penalty case links to (other
# messages are left out), on the day created, in the district of the linked reminder (the
# first, when one message covers several orders) or case. No phone number, no body.
SMS = _simple(
    "sms",
    "core.SmsMessage",
    "sms_id",
    time="created_at",
    district="district_ref",
    annotate=_sms_annotate,
    columns=[
        ("template", "template", pa.string()),
        ("category", "category", pa.string()),
        ("status", "status", pa.string()),
        ("district_id", "district_ref", pa.int64()),
        ("managing_unit_id", "unit_ref", pa.int64()),
        ("source", "source", pa.string()),
        ("source_id", "source_ref", pa.int64()),
        ("order_id", "order_ref", pa.int64()),
        ("created_at", "created_at", TS),
        ("sent_at", "sent_at", TS),
        ("delivered_at", "delivered_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)

DATASETS: dict[str, Dataset] = {
    "orders": Dataset(
        "orders", ORDERS_SCHEMA, _orders_changed, _orders_rows, _orders_table, "order_id", version=2
    ),
    "payments": PAYMENTS,
    "refunds": REFUNDS,
    "arrears": ARREARS,
    "reminders": REMINDERS,
    "penalties": PENALTIES,
    "complaints": COMPLAINTS,
    "permits": PERMITS,
    "receipts": RECEIPTS,
    "sms": SMS,
}


# ---------------------------------------------------------------- manifest


def manifest_path(root: Path, dataset: str) -> Path:
    return root / dataset / MANIFEST


def read_manifest(root: Path | str | None, dataset: str) -> dict:
    path = manifest_path(parking_root(root), dataset)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"dataset": dataset, "watermark": None, "partitions": {}, "superseded": [], "last_run": None}


def _write_manifest(root: Path, dataset: str, manifest: dict) -> None:
    path = manifest_path(root, dataset)
    temp = path.with_name(f".{MANIFEST}.{uuid.uuid4().hex}.tmp")
    with open(temp, "x") as fh:
        json.dump(manifest, fh, ensure_ascii=False, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def live_files(root: Path | str | None, dataset: str) -> list[Path]:
    """The files a reader should read: exactly the manifest's, one per partition."""
    base = parking_root(root) / dataset
    return [base / p["file"] for p in read_manifest(root, dataset)["partitions"].values()]


# ---------------------------------------------------------------- sync


@dataclass
class SyncResult:
    dataset: str
    changed: int = 0
    partitions: int = 0
    rows_written: int = 0
    removed_files: int = 0
    watermark: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _holding(root: Path, dataset: Dataset, manifest: dict, ids: list[int]) -> set[tuple[str, str]]:
    """The (date, district code) partitions whose live file holds any of ``ids``."""
    if not ids or not manifest["partitions"]:
        return set()
    files = [str(root / dataset.name / p["file"]) for p in manifest["partitions"].values()]
    con = duckdb.connect()
    try:
        con.register("_ids", pa.table({"id": pa.array(ids, pa.int64())}))
        listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        sql = (
            f"SELECT DISTINCT strftime(date, '%Y-%m-%d'), district FROM read_parquet({listed}, "  # noqa: S608
            f"hive_partitioning = true, hive_types = {{'date': 'DATE', 'district': 'VARCHAR'}}) "
            f"JOIN _ids ON {dataset.key} = _ids.id"
        )
        return {(d, c) for d, c in con.execute(sql).fetchall()}
    finally:
        con.close()


def _already_exported(root: Path, dataset: Dataset, manifest: dict, pairs: list[tuple]) -> set[int]:
    """The ids among (id, updated_at) ``pairs`` whose exact version the live files already hold."""
    if not pairs or not manifest["partitions"]:
        return set()
    files = [str(root / dataset.name / p["file"]) for p in manifest["partitions"].values()]
    con = duckdb.connect()
    try:
        con.register(
            "_seen",
            pa.table(
                {
                    "id": pa.array([p[0] for p in pairs], pa.int64()),
                    "u": pa.array([p[1] for p in pairs], TS_US),
                }
            ),
        )
        listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        sql = (
            f"SELECT {dataset.key} FROM read_parquet({listed}) JOIN _seen "  # noqa: S608
            f"ON {dataset.key} = _seen.id AND updated_at = _seen.u"
        )
        return {r[0] for r in con.execute(sql).fetchall()}
    finally:
        con.close()


def sync_dataset(name: str, *, root: Path | str | None = None, full: bool = False, now=None) -> SyncResult:
    """Bring one data set of the lake up to date with the OLTP tables (see the module docstring)."""
    from govcenter.core.models import District

    if name not in DATASETS:
        raise LakeSyncError(f"unknown data set {name!r} (known: {', '.join(sorted(DATASETS))})")
    dataset = DATASETS[name]
    root = parking_root(root)
    now = now or timezone.now()
    result = SyncResult(name)
    with dataset_lock(root, name):
        manifest = read_manifest(root, name)
        if manifest.get("schema_version", dataset.version) != dataset.version:
            full = True  # files of another schema: rebuild them all
        old_wm = manifest.get("watermark")
        since = None if full or not old_wm else dt.datetime.fromisoformat(old_wm) - OVERLAP
        codes = dict(District.objects.values_list("id", "code"))
        ids_by_code = {c: i for i, c in codes.items()}
        affected: set[tuple[str, str]] = set()
        ids: list[int] = []
        new_wm = dt.datetime.fromisoformat(old_wm) if old_wm and not full else None
        old_wm_at = new_wm
        changed = list(dataset.changed(since))
        # Rows inside the overlap (at or before the old watermark) count only when the lake
        # does not already hold that exact version: a re-run with nothing new rewrites nothing.
        if old_wm_at is not None:
            boundary = [(pk, updated) for pk, _at, _d, updated in changed if updated <= old_wm_at]
            seen = _already_exported(root, dataset, manifest, boundary)
            changed = [row for row in changed if row[0] not in seen]
        for pk, at, district_id, updated in changed:
            ids.append(pk)
            if district_id is not None:  # None: the row left the data set (an unlinked SMS)
                affected.add((timezone.localtime(at, TZ).date().isoformat(), codes[district_id]))
            if new_wm is None or updated > new_wm:
                new_wm = updated
        result.changed = len(ids)
        if full:
            affected |= set(_split(k) for k in manifest["partitions"])
        else:
            affected |= _holding(root, dataset, manifest, ids)
        by_day: dict[str, set[str]] = defaultdict(set)
        for day, code in affected:
            by_day[day].add(code)
        superseded = []
        for day, day_codes in sorted(by_day.items()):
            rows = dataset.rows(
                dt.date.fromisoformat(day), {ids_by_code[c] for c in day_codes if c in ids_by_code}
            )
            for code in sorted(day_codes):
                key = f"{day}/{code}"
                old = manifest["partitions"].pop(key, None)
                if old:
                    superseded.append(old["file"])
                part_rows = rows.get(ids_by_code.get(code), [])
                if not part_rows:
                    continue  # the partition is empty now: dropped from the manifest
                table = dataset.table(part_rows, code)
                rel = f"date={day}/district={code}/part-{uuid.uuid4().hex}.parquet"
                replace_file(root / name / rel, table)
                manifest["partitions"][key] = {"file": rel, "rows": table.num_rows}
                result.partitions += 1
                result.rows_written += table.num_rows
        stamp = time.time()
        keep = []
        for entry in manifest.get("superseded", []):
            if stamp - entry["at"] > GRACE_S:
                path = root / name / entry["file"]
                try:
                    path.unlink()
                    result.removed_files += 1
                except FileNotFoundError:
                    pass
                for d in (path.parent, path.parent.parent):
                    try:
                        d.rmdir()
                    except OSError:
                        break
            else:
                keep.append(entry)
        manifest["superseded"] = keep + [{"file": f, "at": stamp} for f in superseded]
        manifest["schema_version"] = dataset.version
        manifest["watermark"] = new_wm.isoformat() if new_wm else old_wm
        manifest["rows"] = sum(p["rows"] for p in manifest["partitions"].values())
        manifest["last_run"] = now.isoformat()
        manifest["last_result"] = {k: v for k, v in result.as_dict().items() if k != "watermark"}
        _write_manifest(root, name, manifest)
        result.watermark = manifest["watermark"]
    return result


def _split(key: str) -> tuple[str, str]:
    day, code = key.split("/", 1)
    return day, code


def sync_all(*, root=None, full: bool = False, datasets=None) -> list[SyncResult]:
    return [sync_dataset(n, root=root, full=full) for n in (datasets or DATASETS)]


def lake_status(*, root=None, now=None) -> list[dict]:
    """Per data set: watermark, lag (seconds behind now), rows, partitions, last run — the monitoring view."""
    now = now or timezone.now()
    out = []
    for name in DATASETS:
        m = read_manifest(root, name)
        wm = m.get("watermark")
        lag = (now - dt.datetime.fromisoformat(wm)).total_seconds() if wm else None
        out.append(
            {
                "dataset": name,
                "watermark": wm,
                "lag_seconds": None if lag is None else max(0, int(lag)),
                "rows": m.get("rows", 0),
                "partitions": len(m.get("partitions", {})),
                "last_run": m.get("last_run"),
                "last_result": m.get("last_result"),
            }
        )
    return out
