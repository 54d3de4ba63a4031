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

**Closed months are packed** (:func:`pack_closed_months`, after every run): a year of daily
partitions is ~6,200 files per data set, and DuckDB opens every listed file's footer per
statement — the file count, not the rows, was most of a year's query time. Once a month is
over, its partitions are concatenated into one file (``_packs/YYYY-MM-<uuid>.parquet``, with
``date`` and ``district`` as columns, sorted by them); the manifest keeps each partition's
entry (``pack``: the month, ``origin``: the daily file it came from) and the pack's list of
keys. A later correction in a packed month rewrites that partition as a daily file as usual;
the pack then *overrides* it — readers (:func:`reader_sql`) read the pack minus its overridden
keys plus the daily files — until enough of the month is overridden (``REPACK_SHARE``) to
pack it again. One row is never read twice, and the swap is the same atomic manifest swap.

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
from dataclasses import dataclass, field
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
PACKS = "_packs"
# A packed month is packed again once this share of its partitions were rewritten since.
REPACK_SHARE = 0.25
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
        ("refunds", pa.int64()),  # refunds asked for this order, any status (version 3)
        ("refund_fen", pa.int64()),  # of which succeeded, their amount
        # Residential permit cover (version 4): the permit of the order's first 0-fen ``permit``
        # quote line (Biller.bill) and the seconds all its permit lines cover (0: none).
        ("permit_id", pa.int64()),
        ("permit_s", pa.int64()),
        # Its live e-receipt (version 5): the amount of the order's live receipt item, 0 when it
        # has none — a receipt issued or voided re-exports its orders (_orders_changed).
        ("receipted_fen", pa.int64()),
    ]
)


class LakeSyncError(ValueError):
    """A bad request to the exporter (unknown data set)."""


def parking_root(root: Path | str | None = None) -> Path:
    return Path(root) if root is not None else lake_root() / "parking"


def _orders_rows(day: dt.date, district_ids: set[int]) -> dict[int, list[dict]]:
    """The OLTP order rows started on Beijing ``day`` in ``district_ids``, by district id."""
    from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum

    from govcenter.parking.models import Order, PaymentItem
    from govcenter.parking.models.payments import PaymentStatus
    from govcenter.parking.models.receipts import ReceiptItem
    from govcenter.parking.models.refunds import Refund, RefundStatus

    lo = dt.datetime.combine(day, dt.time(), TZ)
    hi = lo + dt.timedelta(days=1)
    out: dict[int, list[dict]] = defaultdict(list)
    # The payment that paid the order: a succeeded payment bumps the order's updated_at
    # (services.payments marks the order paid), so these columns follow it.
    paying = PaymentItem.objects.filter(order=OuterRef("pk"), intent__status=PaymentStatus.PAID).order_by(
        "intent__paid_at", "intent_id"
    )
    # Its refunds (a refund bumps only its own updated_at: _orders_changed re-exports the order).
    refunds = Refund.objects.filter(order=OuterRef("pk")).order_by().values("order")
    # Its live receipt item (at most one per order: a constraint); a receipt bumps only itself.
    receipted = ReceiptItem.objects.filter(order=OuterRef("pk"), live=True).values("amount_fen")[:1]
    qs = (
        Order.objects.filter(district_id__in=sorted(district_ids), started_at__gte=lo, started_at__lt=hi)
        .annotate(
            _paid_at=Subquery(paying.values("intent__paid_at")[:1]),
            _channel=Subquery(paying.values("intent__provider")[:1]),
            _refunds=Subquery(refunds.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
            _refund_fen=Subquery(
                refunds.annotate(n=Sum("amount_fen", filter=Q(status=RefundStatus.SUCCEEDED))).values("n"),
                output_field=IntegerField(),
            ),
            _receipted_fen=Subquery(receipted, output_field=IntegerField()),
        )
        .order_by("id")
        .values_list(
            "id", "district_id", "managing_unit_id", "segment__road_id", "segment_id", "space_id", "segment__area_class", "state",
            "vehicle_class", "started_at", "ended_at", "amount_due_fen", "amount_paid_fen",
            "amount_adjustment_fen", "updated_at", "_paid_at", "_channel", "_refunds", "_refund_fen",
            "quote_lines", "_receipted_fen",
        )
    )  # fmt: skip
    for r in qs.iterator(chunk_size=5000):
        out[r[1]].append(r)
    return out


def _permit_cover(lines) -> tuple[int | None, int]:
    """(permit id, covered seconds) of an order's quote lines: its ``permit`` lines (0 fen)."""
    permit_id, seconds = None, 0
    for line in lines or ():
        if line.get("period") != "permit":
            continue
        if permit_id is None:
            permit_id = line.get("permit_id")
        start, end = dt.datetime.fromisoformat(line["from"]), dt.datetime.fromisoformat(line["to"])
        seconds += int((end - start).total_seconds())
    return permit_id, seconds


def _orders_table(rows: list, district_code: str) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(21)]
    cover = [_permit_cover(lines) for lines in cols[19]]
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
        pa.array([n or 0 for n in cols[17]], pa.int64()),
        pa.array([n or 0 for n in cols[18]], pa.int64()),
        pa.array([c[0] for c in cover], pa.int64()),
        pa.array([c[1] for c in cover], pa.int64()),
        pa.array([n or 0 for n in cols[20]], pa.int64()),
    ]
    return pa.Table.from_arrays(arrays, schema=ORDERS_SCHEMA)


def _orders_changed(since: dt.datetime | None):
    """(id, started_at, district_id, updated_at) of the orders changed after ``since`` (all if None).

    An order whose refund or receipt changed counts as changed (with the refund's or the
    receipt's ``updated_at``): its row carries its refunds and its live receipt. Inside the
    overlap such an order is re-exported on each run (its lake row keeps the order's own
    stamp), which costs a partition rewrite for five minutes.
    """
    import itertools

    from govcenter.parking.models import Order
    from govcenter.parking.models.receipts import ReceiptItem
    from govcenter.parking.models.refunds import Refund

    qs = Order.objects.all()
    if since is None:
        return (
            qs.order_by()
            .values_list("id", "started_at", "district_id", "updated_at")
            .iterator(chunk_size=20000)
        )
    refunded = Refund.objects.filter(updated_at__gt=since, order__isnull=False).values_list(
        "order_id", "order__started_at", "order__district_id", "updated_at"
    )
    # A receipt issued or voided (红冲) changes its orders' live receipt (items never change).
    receipted = ReceiptItem.objects.filter(receipt__updated_at__gt=since).values_list(
        "order_id", "order__started_at", "order__district_id", "receipt__updated_at"
    )
    return itertools.chain(
        qs.filter(updated_at__gt=since)
        .order_by()
        .values_list("id", "started_at", "district_id", "updated_at")
        .iterator(chunk_size=20000),
        *(other.order_by().iterator(chunk_size=20000) for other in (refunded, receipted)),
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
    # The column of the change stamp ``changed`` yields (the overlap's exact-version check).
    stamp_col: str = "updated_at"


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
    also_changed=None,
    stamp: str | None = None,
    version: int = 1,
) -> Dataset:
    """A data set whose rows are one model's rows, columns given as (name, ORM path, Arrow type).

    ``time`` is the ORM path of the partition time, ``district`` of the district id; the change
    key is the column ``updated_at`` (its path is that column's). A ``district_code`` column
    is added from the partition. A column may carry a fourth item, a function of the value read
    (a derived column). ``annotate(queryset)`` may add annotations the paths name (a district
    or a count from another table); a row whose district is null is in no partition (a changed
    one is still removed from where the lake holds it). A column whose
    path is None is filled by ``extra(ids) -> {id: {column: value}}`` (a list column, say).
    ``also_changed(queryset, since, stamp)`` yields more (id, time, district id, stamp) rows to
    re-export: those whose annotated columns follow another table's change (the order's
    payment, say); ``stamp`` then names the column (an annotation) whose value is the row's
    latest change of any of them — the change key of the overlap check.
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
        import itertools

        stamp_path = next(p for n, p, *_r in columns if n == stamp) if stamp else updated
        qs = queryset()
        if since is not None:
            qs = qs.filter(**{f"{updated}__gt": since})
        own = qs.order_by().values_list("id", time, district, stamp_path).iterator(chunk_size=20000)
        if since is None or also_changed is None:
            return own
        return itertools.chain(own, also_changed(queryset(), since, stamp_path))

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

    return Dataset(name, schema, changed, rows, table, key, version, stamp or "updated_at")


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


def _first_paid(order_ref: str):
    """The time of the first succeeded payment of the order ``order_ref`` names — the orders
    data set's ``paid_at`` (a succeeded payment bumps the order's ``updated_at``)."""
    from django.db.models import OuterRef, Subquery

    from govcenter.parking.models import PaymentItem
    from govcenter.parking.models.payments import PaymentStatus

    paying = PaymentItem.objects.filter(order=OuterRef(order_ref), intent__status=PaymentStatus.PAID)
    return Subquery(paying.order_by("intent__paid_at", "intent_id").values("intent__paid_at")[:1])


def _changed_by_order(time: str, *, arrears: bool = False):
    """also_changed of a data set whose rows carry their order's payment (and, with ``arrears``,
    its arrears record's settlement): the rows whose order (record) changed after ``since``."""

    def also(qs, since, stamp):
        import itertools

        paths = ["order__updated_at", *(["order__arrears_record__updated_at"] if arrears else [])]
        return itertools.chain.from_iterable(
            qs.filter(**{f"{path}__gt": since})
            .order_by()
            .values_list("id", time, "district_id", stamp)
            .iterator(chunk_size=20000)
            for path in paths
        )

    return also


def _changed_at(*paths):
    """The latest of the row's own and its order's (record's) change times — the rows' change key."""
    from django.db.models import DateTimeField
    from django.db.models.functions import Coalesce, Greatest

    own, *others = paths
    # Greatest is NULL on SQLite when any argument is: a missing record counts as the row's own time.
    return Greatest(own, *(Coalesce(p, own, output_field=DateTimeField()) for p in others))


# Arrears: one row per arrears record (an order turned arrears), on the day it turned, in its
# district; ``paid_at`` is its order's first succeeded payment (version 2: the statistics read
# it here instead of joining the orders of every date).
ARREARS = _simple(
    "arrears",
    "parking.ArrearsRecord",
    "arrears_id",
    time="created_at",
    district="district_id",
    annotate=lambda qs: qs.annotate(
        _paid_at=_first_paid("order_id"), _changed_at=_changed_at("updated_at", "order__updated_at")
    ),
    also_changed=_changed_by_order("created_at"),
    stamp="changed_at",
    version=2,
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
        ("paid_at", "_paid_at", TS),
        ("decided_at", "decided_at", TS),
        ("created_at", "created_at", TS),
        ("updated_at", "updated_at", TS_US),
        ("changed_at", "_changed_at", TS_US),  # the latest of its own and its order's change
    ],
)


# Reminders: one row per reminder log (one order, one stage, one day), on the day sent.
def _reminder_settled(qs):
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from govcenter.parking.models.arrears import ArrearsRecord

    record = ArrearsRecord.objects.filter(order=OuterRef("order_id")).values("settled_at")[:1]
    return qs.annotate(
        _settled_at=Coalesce(_first_paid("order_id"), Subquery(record)),
        _changed_at=_changed_at("updated_at", "order__updated_at", "order__arrears_record__updated_at"),
    )


# ``settled_at`` (version 2): when the reminded order was settled — its first succeeded
# payment, else its arrears record's ``settled_at`` (the statistics' definition, read here
# instead of joining the orders and arrears of every date).
REMINDERS = _simple(
    "reminders",
    "parking.ReminderLog",
    "reminder_id",
    time="sent_at",
    district="district_id",
    annotate=_reminder_settled,
    also_changed=_changed_by_order("sent_at", arrears=True),
    stamp="changed_at",
    version=2,
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
        ("settled_at", "_settled_at", TS),
        ("updated_at", "updated_at", TS_US),
        ("changed_at", "_changed_at", TS_US),  # the latest of its own, its order's and record's change
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


def _receipt_items(ids: list[int]) -> dict[int, dict]:
    """The orders of each receipt and their amounts (items never change after issue; a void
    bumps the receipt's updated_at and its status says the items are no longer live)."""
    from govcenter.parking.models.receipts import ReceiptItem

    out: dict[int, dict] = {pk: {"order_ids": [], "item_fen": []} for pk in ids}
    for start in range(0, len(ids), 5000):
        items = (
            ReceiptItem.objects.filter(receipt_id__in=ids[start : start + 5000])
            .order_by("receipt_id", "order_id")
            .values_list("receipt_id", "order_id", "amount_fen")
        )
        for receipt_id, order_id, amount in items:
            out[receipt_id]["order_ids"].append(order_id)
            out[receipt_id]["item_fen"].append(amount)
    return out


# Receipts: one row per receipt, on the day issued, in its district; ``item_count`` > 1 is a
# merged receipt (合并开票: several paid orders of one district on one receipt). No payer plate.
RECEIPTS = _simple(
    "receipts",
    "parking.Receipt",
    "receipt_id",
    time="issued_at",
    district="district_id",
    annotate=_receipt_annotate,
    extra=_receipt_items,
    version=2,  # 2: order_ids, item_fen
    columns=[
        ("series_id", "series_id", pa.int64()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "payee_unit_id", pa.int64()),
        ("total_fen", "total_fen", pa.int64()),
        ("status", "status", pa.string()),
        ("item_count", "n_items", pa.int64()),
        ("issued_at", "issued_at", TS),
        ("voided_at", "voided_at", TS),
        ("order_ids", None, pa.list_(pa.int64())),  # the receipt's orders (version 2)
        ("item_fen", None, pa.list_(pa.int64())),  # their amounts, in the same order
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


def _sms_reminded(qs):
    """Version 2: what a reminder SMS led to, carried on its row (statistic 13 then reads one
    data set): its reminder logs (``reminded_orders``, ``reminded_fen``) and the first time one
    of their orders was settled after its reminder (``paid_after_at``; settled as in the
    reminders data set: the order's first payment, else its arrears record's ``settled_at``);
    ``changed_at``: the latest change of the message, of those orders and of their records."""
    from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from govcenter.parking.models.arrears import ArrearsRecord, ReminderLog

    logs = ReminderLog.objects.filter(sms_message=OuterRef("pk")).order_by()
    record = ArrearsRecord.objects.filter(order=OuterRef("order_id")).values("settled_at")[:1]
    settled = (
        logs.annotate(_s=Coalesce(_first_paid("order_id"), Subquery(record)))
        .filter(_s__gt=F("sent_at"))
        .order_by("_s")
        .values("_s")[:1]
    )

    def latest(path):
        return Subquery(logs.exclude(**{f"{path}__isnull": True}).order_by(F(path).desc()).values(path)[:1])

    per_message = logs.values("sms_message")
    return _sms_annotate(qs).annotate(
        _reminded_orders=Coalesce(
            Subquery(per_message.annotate(c=Count("id")).values("c")), 0, output_field=IntegerField()
        ),
        _reminded_fen=Coalesce(
            Subquery(per_message.annotate(f=Sum("amount_fen")).values("f")), 0, output_field=IntegerField()
        ),
        _paid_after_at=Subquery(settled),
        _changed_at=_changed_at(
            "updated_at", latest("order__updated_at"), latest("order__arrears_record__updated_at")
        ),
    )


def _sms_changed_by_order(qs, since, stamp):
    """The reminder SMS one of whose orders (or their arrears records) changed after ``since``."""
    from django.db.models import Q

    from govcenter.parking.models.arrears import ReminderLog

    touched = ReminderLog.objects.filter(
        Q(order__updated_at__gt=since) | Q(order__arrears_record__updated_at__gt=since),
        sms_message__isnull=False,
    ).values("sms_message_id")
    return (
        qs.filter(pk__in=touched)
        .order_by()
        .values_list("id", "created_at", "district_ref", stamp)
        .iterator(chunk_size=20000)
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
    annotate=_sms_reminded,
    also_changed=_sms_changed_by_order,
    stamp="changed_at",
    version=2,
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
        ("reminded_orders", "_reminded_orders", pa.int64()),
        ("reminded_fen", "_reminded_fen", pa.int64()),
        ("paid_after_at", "_paid_after_at", TS),
        ("updated_at", "updated_at", TS_US),
        ("changed_at", "_changed_at", TS_US),  # the latest of its own, its orders' and records' change
    ],
)

DATASETS: dict[str, Dataset] = {
    "orders": Dataset(
        "orders", ORDERS_SCHEMA, _orders_changed, _orders_rows, _orders_table, "order_id", version=5
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


# ---------------------------------------------------------------- data monitoring (statistic 6)
# Added by the stats-monitor work (parking/stats2/monitoring.py): parking anomalies, and the
# per-device daily health aggregate computed from the device events (which are big: the lake
# keeps one row per device per Beijing day, never the event rows).

# Anomalies: one row per ParkingAnomaly, on the Beijing day of its event time, in its
# district; road/segment are those of the event (the space's, or the device's segment for an
# unknown space); change key ``ParkingAnomaly.updated_at`` (migration 0019_stats_monitor).
ANOMALIES = _simple(
    "anomalies",
    "parking.ParkingAnomaly",
    "anomaly_id",
    time="event_time",
    district="district_id",
    columns=[
        ("kind", "kind", pa.string()),
        ("status", "status", pa.string()),
        ("district_id", "district_id", pa.int64()),
        ("managing_unit_id", "managing_unit_id", pa.int64()),
        ("road_id", "event__segment__road_id", pa.int64()),
        ("segment_id", "event__segment_id", pa.int64()),
        ("space_id", "space_id", pa.int64()),
        ("device_id", "event__device_id", pa.int64()),
        ("device_kind", "event__device__kind", pa.string()),
        ("order_id", "order_id", pa.int64()),
        ("event_time", "event_time", TS),
        ("created_at", "created_at", TS),
        ("resolved_at", "resolved_at", TS),
        ("updated_at", "updated_at", TS_US),
    ],
)

# Device days: one row per device per Beijing day (see _device_days_rows).
# Gap buckets (seconds, upper bound exclusive): the silences between a device's events.
GAP_BUCKETS = (("lt10m", 600), ("10m_1h", 3600), ("1h_4h", 4 * 3600), ("4h_12h", 12 * 3600), ("ge12h", None))
# Plate-recognition confidence buckets (0–1, upper bound exclusive).
CONFIDENCE_BUCKETS = (("lt60", 0.6), ("60_80", 0.8), ("80_90", 0.9), ("90_95", 0.95), ("ge95", None))
DEVICE_DAYS_SCHEMA = pa.schema(
    [
        ("device_day_id", pa.int64()),  # device_id * 100000 + days since 1970-01-01
        ("district_code", pa.string()),
        ("device_id", pa.int64()),
        ("device_kind", pa.string()),
        ("device_status", pa.string()),  # the device's status when the row was computed
        ("district_id", pa.int64()),
        ("managing_unit_id", pa.int64()),
        ("road_id", pa.int64()),
        ("segment_id", pa.int64()),
        ("events", pa.int64()),  # stored events (accepted + anomaly) with event_time that day
        ("reports", pa.int64()),  # of which scheduled_report
        ("park_events", pa.int64()),  # of which park_start / park_end
        ("park_anomalies", pa.int64()),  # park events whose outcome was an anomaly
        ("observed_s", pa.int64()),  # seconds of the day up to computed_at
        ("offline_s", pa.int64()),  # of those, inside the device's offline periods
        ("online_s", pa.int64()),  # observed_s - offline_s
        ("longest_gap_s", pa.int64()),
        *[(f"gaps_{k}", pa.int64()) for k, _hi in GAP_BUCKETS],
        ("plate_reads", pa.int64()),  # events carrying a plate confidence
        ("confidence_milli", pa.int64()),  # sum of round(confidence × 1000) over them
        *[(f"conf_{k}", pa.int64()) for k, _hi in CONFIDENCE_BUCKETS],
        ("computed_at", TS),
        ("updated_at", TS_US),
    ]
)
_EPOCH_DAY = dt.date(1970, 1, 1)


def device_day_id(device_id: int, day: dt.date) -> int:
    return device_id * 100000 + (day - _EPOCH_DAY).days


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(day, dt.time(), TZ)
    return lo, lo + dt.timedelta(days=1)


def _devices_of_day(day: dt.date, *, district_ids=None, device_ids=None) -> list[tuple]:
    """The devices with a row on ``day``: those bound (``DeviceBinding``) during the day, and any
    other that sent events that day.

    (id, kind, status, district_id, managing_unit_id, road_id, segment_id); the road and segment
    are those of the day's binding (the latest one that day), else the device's current ones.
    """
    from django.db.models import Exists, OuterRef, Q

    from govcenter.parking.models import Device, DeviceEvent
    from govcenter.parking.models.devices import DeviceBinding

    lo, hi = _day_bounds(day)
    qs = Device.objects.all()
    if district_ids is not None:
        qs = qs.filter(district_id__in=sorted(district_ids))
    if device_ids is not None:
        qs = qs.filter(pk__in=sorted(device_ids))
    bindings = DeviceBinding.objects.filter(valid_from__lt=hi).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=lo)
    )
    active = DeviceEvent.objects.filter(device_id=OuterRef("pk"), event_time__gte=lo, event_time__lt=hi)
    qs = qs.filter(Exists(bindings.filter(device_id=OuterRef("pk"))) | Exists(active))
    devices = list(
        qs.order_by("id").values_list(
            "id", "kind", "status", "district_id", "managing_unit_id", "segment__road_id", "segment_id"
        )
    )
    ids = [d[0] for d in devices]
    place: dict[int, tuple] = {}
    for chunk in range(0, len(ids), 5000):
        for dev, road, segment in (
            bindings.filter(device_id__in=ids[chunk : chunk + 5000])
            .order_by("device_id", "valid_from")
            .values_list("device_id", "segment__road_id", "segment_id")
        ):
            place[dev] = (road, segment)  # the latest of the day wins
    return [(*d[:5], *place.get(d[0], d[5:])) for d in devices]


def _device_day_stamps(day: dt.date, device_ids, now: dt.datetime) -> dict[int, dt.datetime | None]:
    """The change stamp of each device's row of ``day`` (its ``updated_at``).

    The newest of: the receipt of its events that day, the updates of its offline periods
    that start or end that day, and the day's end once the day is over (the row computed
    after midnight is the day's final one).
    """
    from django.db.models import Max, Q

    from govcenter.parking.models import DeviceEvent, DeviceOfflinePeriod

    lo, hi = _day_bounds(day)
    ids = sorted(device_ids)
    out: dict[int, dt.datetime | None] = dict.fromkeys(ids, hi if now >= hi else None)
    for chunk in range(0, len(ids), 5000):
        part = ids[chunk : chunk + 5000]
        for dev, u in (
            DeviceEvent.objects.filter(device_id__in=part, event_time__gte=lo, event_time__lt=hi)
            .order_by()
            .values_list("device_id")
            .annotate(u=Max("received_at"))
        ):
            if u is not None and (out[dev] is None or u > out[dev]):
                out[dev] = u
        for dev, u in (
            DeviceOfflinePeriod.objects.filter(device_id__in=part)
            .filter(Q(started_at__gte=lo, started_at__lt=hi) | Q(ended_at__gte=lo, ended_at__lt=hi))
            .order_by()
            .values_list("device_id")
            .annotate(u=Max("updated_at"))
        ):
            if u is not None and (out[dev] is None or u > out[dev]):
                out[dev] = u
    return out


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), TZ)


def _device_days_changed(since):
    """(device_day_id, noon of the day, the device's district, stamp) of the device days changed after ``since``.

    Candidates: the device days of events received after ``since`` (``received_at``; a BRIN
    index on PostgreSQL, migration 0019_stats_monitor), of offline periods updated after it
    (start and end day), and every device's day that ended after ``since`` (the final row).
    Their stamps are recomputed exactly as the rows carry them, so the sync's "already
    exported" check recognises a row the lake holds. A full run (``since`` None) yields one
    entry per (district, day) from the first event on, stamped with the newest change.
    """
    from django.db.models import Max, Min
    from django.db.models.functions import TruncDate

    from govcenter.parking.models import Device, DeviceEvent, DeviceOfflinePeriod

    now = timezone.now()
    today = timezone.localtime(now, TZ).date()
    district_of = dict(Device.objects.values_list("id", "district_id"))
    if since is None:
        agg = DeviceEvent.objects.aggregate(first=Min("event_time"), last=Max("received_at"))
        periods = DeviceOfflinePeriod.objects.aggregate(first=Min("started_at"), last=Max("updated_at"))
        firsts = [t for t in (agg["first"], periods["first"]) if t is not None]
        if not firsts or not district_of:
            return
        first = min(timezone.localtime(t, TZ).date() for t in firsts)
        stamps = [t for t in (agg["last"], periods["last"]) if t is not None]
        if today > first:
            stamps.append(_day_bounds(today)[0])
        stamp = max(stamps)
        districts = sorted(set(district_of.values()))
        day = first
        while day <= today:
            for district_id in districts:
                yield (0, _noon(day), district_id, stamp)
            day += dt.timedelta(days=1)
        return
    candidates: dict[dt.date, set[int]] = defaultdict(set)
    for dev, day in (
        DeviceEvent.objects.filter(received_at__gt=since)
        .annotate(day=TruncDate("event_time", tzinfo=TZ))
        .order_by()
        .values_list("device_id", "day")
        .distinct()
    ):
        candidates[day].add(dev)
    for dev, started, ended in DeviceOfflinePeriod.objects.filter(updated_at__gt=since).values_list(
        "device_id", "started_at", "ended_at"
    ):
        for t in (started, ended):
            if t is not None:
                candidates[timezone.localtime(t, TZ).date()].add(dev)
    # Days that ended after ``since``: every device's final row of that day.
    day = timezone.localtime(since, TZ).date()
    while day < today:
        if _day_bounds(day)[1] > since:
            candidates[day] |= {d for d, *_rest in _devices_of_day(day)}
        day += dt.timedelta(days=1)
    for day, devs in sorted(candidates.items()):
        if day > today:
            continue
        stamps = _device_day_stamps(day, devs, now)
        for dev in sorted(devs):
            if dev in district_of and stamps.get(dev) is not None:
                yield (device_day_id(dev, day), _noon(day), district_of[dev], stamps[dev])


def _bucket(value, buckets) -> int:
    for i, (_k, hi) in enumerate(buckets):
        if hi is None or value < hi:
            return i
    return len(buckets) - 1


def _device_days_rows(day: dt.date, district_ids: set[int]) -> dict[int, list]:
    """The device-day rows of Beijing ``day`` for the devices of ``district_ids``, by district id.

    Per device, from its events with ``event_time`` that day (one indexed query per 5,000
    devices, ordered by device and time) and its offline periods overlapping the day:
    counts, gaps (day start → first event → … → last event → the end of the observed part of
    the day, i.e. ``min(day end, computed_at)``), offline seconds (periods clipped to the
    observed part), confidence histogram.
    """
    from django.db.models import Q

    from govcenter.parking.models import DeviceEvent, DeviceOfflinePeriod
    from govcenter.parking.models.events import EventType, Outcome

    now = timezone.now()
    lo, hi = _day_bounds(day)
    out: dict[int, list] = defaultdict(list)
    if lo >= now:
        return out
    end = min(hi, now)
    observed = int((end - lo).total_seconds())
    devices = _devices_of_day(day, district_ids=district_ids)
    ids = [d[0] for d in devices]
    events: dict[int, list] = defaultdict(list)
    offline: dict[int, list] = defaultdict(list)
    stamps = _device_day_stamps(day, ids, now)
    for chunk in range(0, len(ids), 5000):
        part = ids[chunk : chunk + 5000]
        for r in (
            DeviceEvent.objects.filter(device_id__in=part, event_time__gte=lo, event_time__lt=hi)
            .order_by("device_id", "event_time")
            .values_list("device_id", "event_time", "event_type", "outcome", "plate_confidence")
            .iterator(chunk_size=5000)
        ):
            events[r[0]].append(r[1:])
        for dev, s, e in (
            DeviceOfflinePeriod.objects.filter(device_id__in=part, started_at__lt=end)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=lo))
            .values_list("device_id", "started_at", "ended_at")
        ):
            offline[dev].append((max(s, lo), min(e or end, end)))
    park = {EventType.PARK_START.value, EventType.PARK_END.value}
    for dev, kind, status, district_id, unit_id, road_id, segment_id in devices:
        evs = events.get(dev, [])
        times = [lo] + [t for t, *_r in evs if t <= end] + [end]
        gaps = [0] * len(GAP_BUCKETS)
        longest = 0
        for a, b in zip(times, times[1:], strict=False):
            g = int((b - a).total_seconds())
            longest = max(longest, g)
            gaps[_bucket(g, GAP_BUCKETS)] += 1
        spans = sorted(p for p in offline.get(dev, []) if p[1] > p[0])
        off, cursor = 0, lo
        for s, e in spans:  # the union of the (clipped) periods
            s = max(s, cursor)
            if e > s:
                off += int((e - s).total_seconds())
                cursor = e
        off = min(off, observed)
        conf = [0] * len(CONFIDENCE_BUCKETS)
        reads = milli = 0
        for _t, _type, _outcome, c in evs:
            if c is not None:
                reads += 1
                milli += round(c * 1000)
                conf[_bucket(c, CONFIDENCE_BUCKETS)] += 1
        row = (
            device_day_id(dev, day), dev, kind, status, district_id, unit_id, road_id, segment_id,
            len(evs),
            sum(1 for _t, typ, _o, _c in evs if typ == EventType.SCHEDULED_REPORT),
            sum(1 for _t, typ, _o, _c in evs if typ in park),
            sum(1 for _t, typ, o, _c in evs if typ in park and o == Outcome.ANOMALY),
            observed, off, observed - off, longest, *gaps, reads, milli, *conf, now, stamps.get(dev) or now,
        )  # fmt: skip
        out[district_id].append(row)
    return out


def _device_days_table(rows: list, district_code: str) -> pa.Table:
    n = len(DEVICE_DAYS_SCHEMA) - 1  # district_code comes from the partition
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(n)]
    fields = [f for f in DEVICE_DAYS_SCHEMA if f.name != "district_code"]
    arrays = [pa.array(cols[0], pa.int64()), pa.array([district_code] * len(rows), pa.string())]
    arrays += [pa.array(cols[i], f.type) for i, f in enumerate(fields) if i > 0]
    return pa.Table.from_arrays(arrays, schema=DEVICE_DAYS_SCHEMA)


DEVICE_DAYS = Dataset(
    "device_days",
    DEVICE_DAYS_SCHEMA,
    _device_days_changed,
    _device_days_rows,
    _device_days_table,
    "device_day_id",
)
DATASETS["anomalies"] = ANOMALIES
DATASETS["device_days"] = DEVICE_DAYS


# ---------------------------------------------------------------- manifest


def manifest_path(root: Path, dataset: str) -> Path:
    return root / dataset / MANIFEST


def read_manifest(root: Path | str | None, dataset: str) -> dict:
    path = manifest_path(parking_root(root), dataset)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"dataset": dataset, "watermark": None, "partitions": {}, "superseded": [], "last_run": None}


@dataclass(frozen=True)
class SharedManifest:
    """A manifest as readers see it: parsed once per version of its file, shared, never changed.

    ``text``: the file's bytes (the version: another text is another manifest); ``memo``: what
    readers derive from this version (its reader SQL, its fingerprints) — a new version starts empty.
    """

    text: bytes | None
    manifest: dict
    memo: dict = field(default_factory=dict)


_SHARED: dict[Path, SharedManifest] = {}
_SHARED_MAX = 256  # files (data sets and cubes, per lake root); beyond it the memo starts again


def shared_manifest(root: Path | str | None, dataset: str) -> SharedManifest:
    """:func:`read_manifest` for readers, parsed once per version of the file: reading the bytes
    and comparing them with the last version's costs little beside parsing them (and what is
    derived from them), which a request would otherwise do once per use of each manifest."""
    path = manifest_path(parking_root(root), dataset)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return SharedManifest(None, read_manifest(root, dataset))
    hit = _SHARED.get(path)
    if hit is not None and hit.text == text:
        return hit
    shared = SharedManifest(text, json.loads(text))
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[path] = shared
    return shared


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


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(paths) -> str:
    return "[" + ", ".join(_sql_text(str(p)) for p in paths) + "]"


HIVE = "hive_partitioning = true, hive_types = {'date': 'DATE', 'district': 'VARCHAR'}"


def reader_sql(base: Path, manifest: dict) -> str | None:
    """A SELECT of a data set's live rows — its columns plus ``date`` and ``district``: the
    daily files of the manifest (partition values from the path) and its packs minus their
    overridden partitions. None when the data set has no rows yet. ``base``: the data set's folder.
    """
    daily = [base / e["file"] for e in manifest["partitions"].values() if "pack" not in e]
    selects = []
    if daily:
        selects.append(f"SELECT * FROM read_parquet({_sql_list(daily)}, {HIVE})")  # noqa: S608
    whole = []
    for month, pack in sorted(manifest.get("packs", {}).items()):
        gone = [k for k in pack["keys"] if manifest["partitions"].get(k, {}).get("pack") != month]
        if not gone:
            whole.append(base / pack["file"])
        elif len(gone) < len(pack["keys"]):
            keys = ", ".join(_sql_text(k) for k in gone)
            selects.append(
                f"SELECT * FROM read_parquet({_sql_text(str(base / pack['file']))}) "  # noqa: S608
                f"WHERE strftime(date, '%Y-%m-%d') || '/' || district NOT IN ({keys})"
            )
    if whole:
        selects.append(f"SELECT * FROM read_parquet({_sql_list(whole)})")  # noqa: S608
    return " UNION ALL BY NAME ".join(selects) if selects else None


def live_sql(root: Path | str | None, dataset: str) -> str | None:
    """:func:`reader_sql` of a data set as its manifest says now (built once per version)."""
    shared = shared_manifest(root, dataset)
    if "sql" not in shared.memo:
        shared.memo["sql"] = reader_sql(parking_root(root) / dataset, shared.manifest)
    return shared.memo["sql"]


def live_files(root: Path | str | None, dataset: str) -> list[Path]:
    """The files a reader of the data set reads now (daily files and packs)."""
    base = parking_root(root) / dataset
    manifest = read_manifest(root, dataset)
    files = [base / e["file"] for e in manifest["partitions"].values() if "pack" not in e]
    return files + [base / p["file"] for p in manifest.get("packs", {}).values()]


def pack_closed_months(root: Path, name: str, manifest: dict, today: dt.date) -> tuple[int, list[str]]:
    """Pack each month before ``today``'s that has unpacked partitions (a new month, or one
    whose pack is overridden for ``REPACK_SHARE`` of its partitions); drop packs nothing reads.

    Changes ``manifest`` in place (the caller swaps it); returns (packs written, files superseded).
    """
    base = root / name
    packs = manifest.setdefault("packs", {})
    superseded: list[str] = []
    for month, pack in list(packs.items()):
        if not any(manifest["partitions"].get(k, {}).get("pack") == month for k in pack["keys"]):
            superseded.append(packs.pop(month)["file"])
    months: dict[str, list[str]] = defaultdict(list)
    for key in manifest["partitions"]:
        months[key[:7]].append(key)
    current = today.strftime("%Y-%m")
    written = 0
    for month, keys in sorted(months.items()):
        if month >= current:
            continue
        fresh = [k for k in keys if manifest["partitions"][k].get("pack") != month]
        pack = packs.get(month)
        if not fresh or (pack and len(fresh) < REPACK_SHARE * len(keys)):
            continue
        entries = {k: manifest["partitions"][k] for k in keys}
        select = reader_sql(base, {"partitions": entries, "packs": {month: pack} if pack else {}})
        con = duckdb.connect()
        try:
            # Only file names of the manifest reach the text (quoted).
            table = con.sql(f"SELECT * FROM ({select}) ORDER BY date, district").to_arrow_table()  # noqa: S608
        finally:
            con.close()
        # The data set's own column types (DuckDB reads millisecond timestamps as microseconds).
        schema = (
            DATASETS[name]
            .schema.append(pa.field("date", pa.date32()))
            .append(pa.field("district", pa.string()))
        )
        table = table.select(schema.names).cast(schema)
        rel = f"{PACKS}/{month}-{uuid.uuid4().hex}.parquet"
        replace_file(base / rel, table)
        for key, entry in entries.items():
            if entry.get("pack") == month:
                origin = entry["origin"]
            else:
                origin = entry["file"]
                superseded.append(entry["file"])
            manifest["partitions"][key] = {"pack": month, "origin": origin, "rows": entry["rows"]}
        if pack:
            superseded.append(pack["file"])
        packs[month] = {"file": rel, "keys": sorted(keys), "rows": table.num_rows}
        written += 1
    return written, superseded


# ---------------------------------------------------------------- sync


@dataclass
class SyncResult:
    dataset: str
    changed: int = 0
    partitions: int = 0
    rows_written: int = 0
    removed_files: int = 0
    packed: int = 0  # closed months packed into one file
    watermark: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _holding(root: Path, dataset: Dataset, manifest: dict, ids: list[int]) -> set[tuple[str, str]]:
    """The (date, district code) partitions whose live file holds any of ``ids``."""
    if not ids or not manifest["partitions"]:
        return set()
    select = reader_sql(root / dataset.name, manifest)
    con = duckdb.connect()
    try:
        con.register("_ids", pa.table({"id": pa.array(ids, pa.int64())}))
        sql = (
            f"SELECT DISTINCT strftime(date, '%Y-%m-%d'), district FROM ({select}) "  # noqa: S608
            f"JOIN _ids ON {dataset.key} = _ids.id"
        )
        return {(d, c) for d, c in con.execute(sql).fetchall()}
    finally:
        con.close()


def _already_exported(root: Path, dataset: Dataset, manifest: dict, pairs: list[tuple]) -> set[tuple]:
    """The (id, updated_at) ``pairs`` whose exact version the live files already hold."""
    if not pairs or not manifest["partitions"]:
        return set()
    select = reader_sql(root / dataset.name, manifest)
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
        sql = (
            f"SELECT {dataset.key}, {dataset.stamp_col} FROM ({select}) JOIN _seen "  # noqa: S608
            f"ON {dataset.key} = _seen.id AND {dataset.stamp_col} = _seen.u"
        )
        return {(r[0], r[1]) for r in con.execute(sql).fetchall()}
    finally:
        con.close()


def sync_dataset(
    name: str, *, root: Path | str | None = None, full: bool = False, now=None, today: dt.date | None = None
) -> SyncResult:
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
        # Once per (key, time, district): a row changed both itself and through another table
        # (its order) comes twice; distinct places of one key (device days' full run) stay.
        latest: dict[tuple, tuple] = {}
        for row in dataset.changed(since):
            if row[:3] not in latest or row[3] > latest[row[:3]][3]:
                latest[row[:3]] = row
        changed = list(latest.values())
        # Rows inside the overlap (at or before the old watermark) count only when the lake
        # does not already hold that exact version: a re-run with nothing new rewrites nothing.
        if old_wm_at is not None:
            boundary = [(pk, updated) for pk, _at, _d, updated in changed if updated <= old_wm_at]
            seen = _already_exported(root, dataset, manifest, boundary)
            changed = [row for row in changed if (row[0], row[3]) not in seen]
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
                if old and "pack" not in old:  # a packed partition: its pack now overrides it
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
        result.packed, packed_away = pack_closed_months(
            root, name, manifest, today or timezone.localdate(now, TZ)
        )
        superseded += packed_away
        result.removed_files = _expire(root / name, manifest, superseded)
        manifest["schema_version"] = dataset.version
        manifest["watermark"] = new_wm.isoformat() if new_wm else old_wm
        manifest["rows"] = sum(p["rows"] for p in manifest["partitions"].values())
        manifest["last_run"] = now.isoformat()
        manifest["last_result"] = {k: v for k, v in result.as_dict().items() if k != "watermark"}
        _write_manifest(root, name, manifest)
        result.watermark = manifest["watermark"]
    return result


def _expire(base: Path, manifest: dict, superseded: list[str], grace: float | None = None) -> int:
    """Delete the files superseded more than ``grace`` seconds ago (a reader of the previous
    manifest may still read the newer ones); note ``superseded`` as of now. Returns files deleted."""
    grace = GRACE_S if grace is None else grace
    stamp = time.time()
    keep, removed = [], 0
    for entry in [*manifest.get("superseded", []), *({"file": f, "at": stamp} for f in superseded)]:
        if stamp - entry["at"] >= grace:
            path = base / entry["file"]
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            for d in (path.parent, path.parent.parent):
                try:
                    d.rmdir()
                except OSError:
                    break
        else:
            keep.append(entry)
    manifest["superseded"] = keep
    return removed


def pack_dataset(name: str, *, root=None, today: dt.date | None = None, grace: float | None = None) -> int:
    """Pack the closed months of one data set now (the sync does it after every run); packs written.

    ``grace=0`` deletes the packed daily files at once (a lake nobody reads yet: the generator).
    """
    if name not in DATASETS:
        raise LakeSyncError(f"unknown data set {name!r} (known: {', '.join(sorted(DATASETS))})")
    root = parking_root(root)
    with dataset_lock(root, name):
        manifest = read_manifest(root, name)
        written, superseded = pack_closed_months(
            root, name, manifest, today or timezone.localdate(timezone.now(), TZ)
        )
        if written or superseded:
            _expire(root / name, manifest, superseded, grace)
            _write_manifest(root, name, manifest)
    return written


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
