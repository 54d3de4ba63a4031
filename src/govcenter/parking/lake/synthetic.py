"""A year of synthetic parking facts written straight into the lake (issue 7, the bench's data).

The issue asks for the statistics over a year of Beijing data: 90,000 spaces × ~4 orders a day
≈ 130 million orders, with their payments, refunds, arrears, reminders, penalties, complaints,
permits, receipts and SMS. Loading that through the ORM demo generator and PostgreSQL is not
feasible here (the scale demo prices ~135,000 orders in minutes), and the statistics never
read PostgreSQL anyway: they read the lake. So this module writes the lake's files directly:

* **Network.** The real one of a loaded scale demo (``govcenter parking demo``, ``--days 1``
  is enough): every space's id, segment, road, district, managing unit and area class are
  read from the OLTP base data (:func:`network_from_db`), so names, scope, the spaces counts
  and the drill levels of the pages work over the synthetic facts.
* **Facts.** Day by day, vectorised with numpy (``default_rng((seed, day))``: deterministic by
  seed, each day independent of the others): stays per space Poisson around
  ``orders_per_space`` (central 一类 spaces turn over more — the demo's ``CLASS_TURNOVER``),
  start times from the demo's hourly profile, log-normal durations (median 45 min) and a share
  of overnight stays; fees from a simplified Beijing tariff (:func:`_fees`: 15 free minutes,
  per 15 minutes by area class in the day, per 2 hours at night, large vehicles double);
  ``PAID_SHARE`` paid a log-normal delay after leaving through a channel mix, the rest billed
  or — past the arrears due days — arrears. Stays of one space may overlap here (the demo
  forbids it); nothing in the statistics depends on it.
* **Layout** exactly as ``parking/lake/sync.py`` writes it: the data set's Arrow schema (from
  ``sync.DATASETS``; a data set this checkout does not define is skipped),
  ``<root>/<dataset>/date=…/district=<code>/part-<uuid>.parquet`` (zstd), ONE file per
  partition, and ``_manifest.json`` with the partitions, rows, watermark and schema version.
  Files are renamed into place but not fsync'd (generated data; rerun to repair).
  A fact is partitioned by its own time column (a payment by its ``created_at``, possibly the
  day after its order's): days are buffered until no later day can add to them.
* **One function per data set** (:data:`GENERATORS`): ``f(day) -> {column: array}`` over the
  day's orders, with its own random stream (``Day.rng_for``); adding a data set is one
  function and one entry. A column of the data set's schema that a generator does not give
  is written null and reported (``missing_columns``).

Memory is about one day of facts (~360,000 orders at full scale) plus the rows dated later
than the day being generated (arrears 30 days on, reminders up to 75 days on), which go to a
spill file per date past ``SPILL_ROWS``; it does not grow with ``days``. Ids are
``day_number × 10,000,000 + k`` (orders; the other data sets derive theirs), so they never
collide within a run. A data set that already has files at ``root`` is refused unless
``replace``; ``lake-sync`` would replace synthetic files with the OLTP rows (a ``--full``
run drops them), so the bench writes them to a root of their own.

Cost: every data set is one file per (date, district) — ~6,200 files a year — and on this
machine a Parquet file costs 10–40 ms to write whatever its size, so at small scale the
time is the file count, at full scale the rows.

CLI: ``govcenter parking lake-demo [--days 365] [--end YYYY-MM-DD] [--orders-per-space 4]
[--seed 0] [--root DIR] [--dataset NAME …] [--replace]`` (the network: the loaded scale demo's).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..profile import (
    CLASS_TURNOVER,
    DURATION_MAX_MIN,
    DURATION_MEDIAN_MIN,
    DURATION_SIGMA,
    HOURLY,
    LARGE_SHARE,
    NIGHT_SHARE,
)
from .sync import DATASETS, MANIFEST, TZ, pack_dataset, parking_root

COMPRESSION = "zstd"
SPILL_ROWS = 3_000_000  # a data set's rows buffered for later dates before they go to a spill file
DAY_ID = 10_000_000  # ids of day d are d × DAY_ID + k
VOID_SHARE = 0.002
PAID_SHARE = 0.82
ADJUST_SHARE = 0.0005  # a fee adjustment after a complaint
REFUND_SHARE = 0.001  # of paid orders
CHANNELS = (("wechat", 0.55), ("alipay", 0.38), ("unionpay", 0.05), ("cash", 0.02))
# Simplified Beijing road-parking tariff: fen per started 15 minutes in the day (first hour,
# after) by area class; at night (21:00–07:00 start) 100 fen per started 2 hours.
DAY_RATE = {1: (250, 375), 2: (150, 225), 3: (50, 75)}
NIGHT_RATE, FREE_S = 100, 15 * 60
ARREARS_DUE_DAYS, BACKPAY_DAYS = 30, 45  # defaults of the settings of the same names
ARREARS_REMINDER_DAYS, BACKPAY_REMINDER_DAYS = (1, 7, 20, 29), (1, 15, 30, 44)
PENALTY_FINE_FEN = 20000
# Later data sets (arrears …): shares of the orders that produce them.
COMPLAINT_SHARE = 0.0005
RECEIPT_SHARE = 0.08  # of paid orders
PERMITS_PER_DAY_PER_1000_SPACES = 0.08


@dataclass
class Network:
    """Per space: its ids and class (numpy arrays of the same length), and the district codes."""

    space_id: np.ndarray
    segment_id: np.ndarray
    road_id: np.ndarray
    district_id: np.ndarray
    managing_unit_id: np.ndarray
    area_class: np.ndarray
    codes: dict[int, str]  # district id → code

    def __len__(self) -> int:
        return len(self.space_id)


def network_from_db() -> Network:
    """The spaces (not retired) of the OLTP base data with their segment's road, district, unit, class."""
    from govcenter.core.models import District

    from ..models import Space

    rows = list(
        Space.objects.exclude(status=Space.Status.RETIRED)
        .order_by("id")
        .values_list("id", "segment_id", "segment__road_id", "segment__district_id",
                     "segment__managing_unit_id", "segment__area_class")
    )  # fmt: skip
    if not rows:
        raise ValueError("no spaces: load the scale demo first (govcenter parking demo --spaces N --days 1)")
    cols = [np.array(c, dtype=np.int64) for c in zip(*rows, strict=True)]
    codes = dict(District.objects.values_list("id", "code"))
    return Network(*cols, codes=codes)


# ---------------------------------------------------------------- one day's orders


@dataclass
class Day:
    """What the generators of one day share: the day, its orders (columns), its random generator."""

    number: int  # days since 1970-01-01 (ids)
    date: dt.date
    now: dt.datetime
    seed: int
    net: Network
    orders: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    done: dict = field(default_factory=dict)  # generator name → its columns (sms reads reminders')

    def rng_for(self, name: str) -> np.random.Generator:
        """Each generator its own stream: a data set's rows do not depend on which others are written."""
        return np.random.default_rng((self.seed, self.number, list(GENERATORS).index(name)))

    def columns(self, name: str) -> dict:
        if name not in self.done:
            if name != "orders" and not self.orders:
                self.columns("orders")
            self.done[name] = GENERATORS[name](self)
        return self.done[name]


def _setting(name: str, default):
    from django.conf import settings

    value = (
        getattr(settings, "GOVCENTER_" + name.removeprefix("GOVCENTER_"), None)
        if settings.configured
        else None
    )
    return default if value is None else value


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _ts(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds → TIMESTAMP(ms, UTC) (null where ``mask`` is False)."""
    arr = pa.array(
        np.asarray(seconds, dtype=np.int64) * 1000, pa.int64(), mask=None if mask is None else ~mask
    )
    return arr.cast(pa.timestamp("ms", tz="UTC"))


def _fees(
    duration_s: np.ndarray, start_hour: np.ndarray, area_class: np.ndarray, large: np.ndarray
) -> np.ndarray:
    """Fen due (see DAY_RATE): 15 free minutes; first hour / later hours per started 15 minutes by class in the day, 100 fen per started 2 h at night."""
    quarters = np.ceil(duration_s / 900.0)
    first = np.minimum(quarters, 4)
    later = np.maximum(quarters - 4, 0)
    r1 = np.select([area_class == 1, area_class == 2], [DAY_RATE[1][0], DAY_RATE[2][0]], DAY_RATE[3][0])
    r2 = np.select([area_class == 1, area_class == 2], [DAY_RATE[1][1], DAY_RATE[2][1]], DAY_RATE[3][1])
    day_fee = first * r1 + later * r2
    night = (start_hour >= 21) | (start_hour < 7)
    night_fee = np.ceil(duration_s / 7200.0) * NIGHT_RATE
    fee = np.where(night, night_fee, day_fee) * np.where(large, 2, 1)
    return np.where(duration_s <= FREE_S, 0, fee).astype(np.int64)


def gen_orders(day: Day) -> dict:
    """The day's stays (one row per order, void included as the OLTP table has them)."""
    rng, net = day.rng_for("orders"), day.net
    per_space = day.extra["orders_per_space"]
    weight = np.vectorize(CLASS_TURNOVER.get, otypes=[float])(net.area_class)
    lam = per_space * weight / weight.mean()
    counts = rng.poisson(lam)
    space = np.repeat(np.arange(len(net)), counts)
    n = len(space)
    day_start = _epoch(dt.datetime.combine(day.date, dt.time(), TZ))
    night = rng.random(n) < NIGHT_SHARE
    hour = rng.choice(24, n, p=HOURLY / HOURLY.sum())
    hour = np.where(night, rng.integers(18, 23, n), hour)
    start = day_start + hour * 3600 + rng.integers(0, 3600, n)
    minutes = np.clip(rng.lognormal(math.log(DURATION_MEDIAN_MIN), DURATION_SIGMA, n), 2, DURATION_MAX_MIN)
    minutes = np.where(night, rng.uniform(8 * 60, 13 * 60, n), minutes)
    duration = (minutes * 60).astype(np.int64)
    end = start + duration
    now_s = _epoch(day.now)
    ended = end <= now_s
    area = net.area_class[space]
    large = rng.random(n) < LARGE_SHARE
    due = np.where(ended, _fees(duration, (hour % 24), area, large), 0)
    pay_delay = (np.clip(rng.lognormal(math.log(8), 1.0, n), 1, 24 * 60) * 60).astype(np.int64)
    paid_at = end + pay_delay
    paid = ended & (due > 0) & (rng.random(n) < PAID_SHARE) & (paid_at < now_s)
    due_days = _setting("GOVCENTER_PARKING_ARREARS_DUE_DAYS", ARREARS_DUE_DAYS)
    overdue = end <= now_s - due_days * 86400
    void = rng.random(n) < VOID_SHARE
    state = np.where(
        ~ended,
        "open",
        np.where(due == 0, "paid", np.where(paid, "paid", np.where(overdue, "arrears", "billed"))),
    ).astype(object)
    state[void] = "void"
    paid &= ~void
    channel_keys = np.array([c for c, _p in CHANNELS], dtype=object)
    channel = channel_keys[rng.choice(len(CHANNELS), n, p=[p for _c, p in CHANNELS])]
    adjust = np.where(ended & (due > 0) & (rng.random(n) < ADJUST_SHARE), -(due // 2), 0)
    updated = np.where(
        paid, paid_at, np.where(state == "arrears", end + due_days * 86400, np.minimum(end, now_s))
    )
    ids = day.number * DAY_ID + np.arange(1, n + 1, dtype=np.int64)
    o = {
        "order_id": ids,
        "space": space,
        "district_id": net.district_id[space],
        "managing_unit_id": net.managing_unit_id[space],
        "road_id": net.road_id[space],
        "segment_id": net.segment_id[space],
        "space_id": net.space_id[space],
        "area_class": area.astype(np.int16),
        "state": state,
        "vehicle_class": np.where(large, "large", "small").astype(object),
        "started_at": start,
        "ended_at": end,
        "ended": ended,
        "duration_s": duration,
        "amount_due_fen": due,
        "amount_paid_fen": np.where(paid, due, 0),
        "amount_adjustment_fen": adjust,
        "updated_at": updated,
        "paid": paid,
        "paid_at": paid_at,
        "pay_channel": channel,
    }
    day.orders = o
    return {
        "order_id": ids,
        "district_id": o["district_id"],
        "managing_unit_id": o["managing_unit_id"],
        "road_id": o["road_id"],
        "segment_id": o["segment_id"],
        "space_id": o["space_id"],
        "area_class": o["area_class"],
        "state": state,
        "vehicle_class": o["vehicle_class"],
        "started_at": _ts(start),
        "ended_at": _ts(end, ended),
        "duration_s": pa.array(duration, pa.int64(), mask=~ended),
        "amount_due_fen": due,
        "amount_paid_fen": o["amount_paid_fen"],
        "amount_adjustment_fen": adjust,
        "updated_at": _ts(updated).cast(pa.timestamp("us", tz="UTC")),
        "paid_at": _ts(paid_at, paid),
        "pay_channel": pa.array(channel, pa.string(), mask=~paid),
        # The order rows' refund and permit-cover columns (schema version 4) stay empty here:
        # the synthetic refunds are a data set of their own (0.1 %, their own random stream)
        # and synthetic stays are not billed by a permit — timing, not these measures, is the point.
        "refunds": np.zeros(len(ids), dtype=np.int64),
        "refund_fen": np.zeros(len(ids), dtype=np.int64),
        "permit_id": pa.nulls(len(ids), pa.int64()),
        "permit_s": np.zeros(len(ids), dtype=np.int64),
        "receipted_fen": _receipted(day),  # schema version 5: each order's live receipt item
        "_time": start,
    }


def gen_payments(day: Day) -> dict:
    """One payment item per paid order (one order per payment, as the demo pays), created a minute before paid."""
    o = day.orders
    k = np.flatnonzero(o["paid"])
    paid_at = o["paid_at"][k]
    created = paid_at - 60
    return {
        "item_id": o["order_id"][k],
        "intent_id": o["order_id"][k],
        "order_id": o["order_id"][k],
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "segment_id": o["segment_id"][k],
        "amount_fen": o["amount_due_fen"][k],
        "status": np.full(len(k), "paid", dtype=object),
        "provider": o["pay_channel"][k],
        "created_at": _ts(created),
        "paid_at": _ts(paid_at),
        "updated_at": _ts(paid_at).cast(pa.timestamp("us", tz="UTC")),
        "_time": created,
    }


def gen_refunds(day: Day) -> dict:
    """REFUND_SHARE of the paid orders: requested 1–72 h after paying; most succeed."""
    o, rng = day.orders, day.rng_for("refunds")
    k = np.flatnonzero(o["paid"] & (rng.random(len(o["paid"])) < REFUND_SHARE))
    m = len(k)
    requested = o["paid_at"][k] + rng.integers(3600, 72 * 3600, m)
    decided = requested + rng.integers(600, 86400, m)
    roll = rng.random(m)
    status = np.where(roll < 0.85, "succeeded", np.where(roll < 0.95, "rejected", "requested")).astype(object)
    reasons = np.array(["duplicate", "fee_adjusted", "paid_after_close", "other"], dtype=object)
    now_s = _epoch(day.now)
    done = (status != "requested") & (decided < now_s)
    status[(status != "requested") & ~done] = "requested"
    ok = done & (status == "succeeded")
    keep = requested < now_s  # nothing from the future
    if not keep.all():
        k, requested, decided, status, done, ok = (a[keep] for a in (k, requested, decided, status, done, ok))
        m = len(k)
    return {
        "refund_id": o["order_id"][k],
        "intent_id": o["order_id"][k],
        "order_id": o["order_id"][k],
        "district_id": o["district_id"][k],
        "amount_fen": o["amount_due_fen"][k],
        "reason_category": reasons[rng.choice(4, m, p=[0.5, 0.3, 0.1, 0.1])]
        if m
        else np.array([], dtype=object),
        "status": status,
        "requested_at": _ts(requested),
        "decided_at": _ts(decided, done),
        "succeeded_at": _ts(decided + 60, ok),
        "updated_at": _ts(np.where(done, decided, requested)).cast(pa.timestamp("us", tz="UTC")),
        "_time": requested,
    }


def _us(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return _ts(seconds, mask).cast(pa.timestamp("us", tz="UTC"))


def _pick(rng, values: tuple, probs: tuple, n: int) -> np.ndarray:
    return (
        np.array(values, dtype=object)[rng.choice(len(values), n, p=probs)]
        if n
        else np.array([], dtype=object)
    )


def _times_of(day: Day) -> tuple[int, int, int]:
    due = int(_setting("GOVCENTER_PARKING_ARREARS_DUE_DAYS", ARREARS_DUE_DAYS)) * 86400
    backpay = int(_setting("GOVCENTER_PARKING_BACKPAY_DAYS", BACKPAY_DAYS)) * 86400
    return due, backpay, _epoch(day.now)


def gen_arrears(day: Day) -> dict:
    """An arrears record per order in arrears, created when it fell due (as the arrears sweep writes it)."""
    o = day.orders
    due, backpay, now_s = _times_of(day)
    k = np.flatnonzero(o["state"] == "arrears")
    left = o["ended_at"][k]
    created = left + due
    window_end = created + backpay
    decided = window_end < now_s
    return {
        "arrears_id": o["order_id"][k],
        "order_id": o["order_id"][k],
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "amount_fen": o["amount_due_fen"][k],
        "left_at": _ts(left),
        "due_at": _ts(created),
        "window_ends_at": _ts(window_end),
        "outcome": np.where(decided, "penalised", "pending").astype(object),
        "settled_at": _ts(created, np.zeros(len(k), bool)),
        "paid_at": _ts(created, np.zeros(len(k), bool)),  # the order is unpaid here
        "decided_at": _ts(window_end, decided),
        "created_at": _ts(created),
        "updated_at": _us(np.where(decided, window_end, created)),
        "changed_at": _us(np.where(decided, window_end, created)),  # the order does not change here
        "_time": created,
    }


def gen_reminders(day: Day) -> dict:
    """Reminders of the unpaid orders: the arrears stage on the configured days after leaving,
    the back-payment stage on the days after falling due; most reach a phone, some have none."""
    o, rng = day.orders, day.rng_for("reminders")
    due, _backpay, now_s = _times_of(day)
    unpaid = np.isin(o["state"], ("billed", "arrears")) & (o["amount_due_fen"] > 0)
    parts = []
    for stage, offsets, base in (
        ("arrears", _setting("GOVCENTER_PARKING_ARREARS_REMINDER_DAYS", ARREARS_REMINDER_DAYS), 0),
        ("backpay", _setting("GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS", BACKPAY_REMINDER_DAYS), due),
    ):
        for j, offset in enumerate(offsets):
            sent = o["ended_at"] + base + int(offset) * 86400 + 9 * 3600  # the sweep's morning run, roughly
            k = np.flatnonzero(unpaid & (sent < now_s) & ((stage == "arrears") | (o["state"] == "arrears")))
            parts.append((stage, j + (4 if stage == "backpay" else 0), int(offset), k, sent[k]))
    k = np.concatenate([p[3] for p in parts])
    m = len(k)
    outcome = _pick(rng, ("sent", "no_contact", "failed"), (0.72, 0.25, 0.03), m)
    with_sms = outcome != "no_contact"
    rid = np.concatenate([o["order_id"][p[3]] * 10 + p[1] for p in parts])
    sent_at = np.concatenate([p[4] for p in parts])
    cols = {
        "reminder_id": rid,
        "order_id": o["order_id"][k],
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "stage": np.concatenate([np.full(len(p[3]), p[0], dtype=object) for p in parts]),
        "day_offset": np.concatenate([np.full(len(p[3]), p[2], dtype=np.int64) for p in parts]),
        "amount_fen": o["amount_due_fen"][k],
        "outcome": outcome,
        "sms_message_id": pa.array(rid * 2, pa.int64(), mask=~with_sms),
        "sent_at": _ts(sent_at),
        "settled_at": _ts(sent_at, np.zeros(m, bool)),  # reminded orders stay unpaid here
        "updated_at": _us(sent_at),
        "changed_at": _us(sent_at),
        "_time": sent_at,
    }
    day.extra["reminder_sms"] = (rid * 2, with_sms, outcome, k, sent_at, cols["stage"])
    return cols


def gen_penalties(day: Day) -> dict:
    """A penalty case per order still unpaid when its back-payment window ended (one order a
    case here; the service groups a plate's orders), notified, then paid, closed or appealed."""
    o, rng = day.orders, day.rng_for("penalties")
    due, backpay, now_s = _times_of(day)
    window_end = o["ended_at"] + due + backpay
    k = np.flatnonzero((o["state"] == "arrears") & (window_end + 3600 < now_s))
    m = len(k)
    created = window_end[k] + 3600
    notified = created + rng.integers(600, 86400, m)
    state = _pick(rng, ("notified", "paid", "closed", "appealed"), (0.55, 0.3, 0.08, 0.07), m)
    later = notified + rng.integers(86400, 20 * 86400, m)
    state = np.where((state != "notified") & (later >= now_s), "notified", state).astype(object)
    appealed = (state == "appealed") | ((state == "closed") & (rng.random(m) < 0.3))
    notice = _pick(rng, ("sent", "no_contact", "failed"), (0.75, 0.22, 0.03), m)
    with_sms = notice != "no_contact"
    amount = o["amount_due_fen"][k]
    fine = int(_setting("GOVCENTER_PARKING_PENALTY_FINE_FEN", PENALTY_FINE_FEN))
    cid = o["order_id"][k]
    day.extra["penalty_sms"] = (cid * 2 + 1, with_sms, notice, k, notified)
    return {
        "case_id": cid,
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "state": state,
        "amount_fen": amount,
        "unpaid_fen": np.where(state == "paid", 0, amount),
        "fine_fen": np.full(m, fine, dtype=np.int64),
        "order_count": np.ones(m, dtype=np.int64),
        "notice_outcome": notice,
        "sms_message_id": pa.array(cid * 2 + 1, pa.int64(), mask=~with_sms),
        "window_ended_at": _ts(window_end[k]),
        "created_at": _ts(created),
        "notified_at": _ts(notified),
        "paid_at": _ts(later, state == "paid"),
        "closed_at": _ts(later, state == "closed"),
        "appealed_at": _ts(notified + 3 * 86400, appealed),
        "appealed": appealed,
        "updated_at": _us(np.where(state == "notified", notified, later)),
        "_time": created,
    }


def gen_complaints(day: Day) -> dict:
    """COMPLAINT_SHARE of the ended orders: complaints and appeals, received 1–48 h after leaving,
    replied within the 15-day deadline mostly, some upheld with a fee adjustment, rated."""
    o, rng = day.orders, day.rng_for("complaints")
    now_s = _epoch(day.now)
    received = o["ended_at"] + rng.integers(3600, 48 * 3600, len(o["ended_at"]))
    k = np.flatnonzero(o["ended"] & (rng.random(len(o["ended"])) < COMPLAINT_SHARE) & (received < now_s))
    m = len(k)
    received = received[k]
    accepted = received + rng.integers(600, 86400, m)
    replied = accepted + (rng.gamma(2.0, 2.5, m) * 86400).astype(np.int64)
    closed = replied + rng.integers(3600, 3 * 86400, m)
    status = np.where(
        closed < now_s,
        "closed",
        np.where(replied < now_s, "replied", np.where(accepted < now_s, "accepted", "received")),
    ).astype(object)
    outcome = _pick(rng, ("upheld", "partly_upheld", "not_upheld"), (0.3, 0.2, 0.5), m)
    has_outcome = np.isin(status, ("replied", "closed"))
    upheld = has_outcome & (outcome != "not_upheld")
    deadline_day = (received + 8 * 3600) // 86400 + 21  # 15 working days ≈ 21 calendar days
    rated = (status == "closed") & (rng.random(m) < 0.6)
    adjustment = np.where(upheld, -(o["amount_due_fen"][k] // 2), 0)
    return {
        "complaint_id": o["order_id"][k],
        "kind": _pick(rng, ("complaint", "appeal"), (0.45, 0.55), m),
        "channel": _pick(
            rng, ("app", "hotline", "mailbox", "staff", "other"), (0.5, 0.3, 0.1, 0.07, 0.03), m
        ),
        "category": _pick(
            rng,
            (
                "wrong_plate",
                "wrong_times",
                "not_parked",
                "tariff_dispute",
                "device_fault",
                "attitude",
                "other",
            ),
            (0.25, 0.25, 0.1, 0.2, 0.1, 0.05, 0.05),
            m,
        ),
        "order_id": o["order_id"][k],
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "status": status,
        "outcome": pa.array(outcome, pa.string(), mask=~has_outcome),
        "received_at": _ts(received),
        "accepted_at": _ts(accepted, accepted < now_s),
        "replied_at": _ts(replied, replied < now_s),
        "closed_at": _ts(closed, closed < now_s),
        "deadline": pa.array(deadline_day.astype(np.int32), pa.int32()).cast(pa.date32()),
        "due_at": _ts((deadline_day + 1) * 86400 - 8 * 3600),
        "satisfaction": pa.array(
            rng.choice(5, m, p=(0.05, 0.05, 0.15, 0.35, 0.4)) + 1, pa.int64(), mask=~rated
        ),
        "rated_at": _ts(closed + 86400, rated),
        "adjustment_fen": adjustment,
        "adjustments": upheld.astype(np.int64),
        "updated_at": _us(
            np.minimum(
                np.maximum.reduce(
                    [
                        received,
                        np.where(accepted < now_s, accepted, 0),
                        np.where(replied < now_s, replied, 0),
                        np.where(closed < now_s, closed, 0),
                    ]
                ),
                now_s,
            )
        ),
        "_time": received,
    }


def gen_permits(day: Day) -> dict:
    """Residential permit applications of the day (PERMITS_PER_DAY_PER_1000_SPACES), on a space of an 二/三类 segment."""
    rng, net = day.rng_for("permits"), day.net
    now_s = _epoch(day.now)
    m = int(rng.poisson(len(net) / 1000 * PERMITS_PER_DAY_PER_1000_SPACES))
    residential = np.flatnonzero(net.area_class >= 2)
    space = rng.choice(residential if len(residential) else np.arange(len(net)), m)
    day_start = _epoch(dt.datetime.combine(day.date, dt.time(), TZ))
    submitted = day_start + rng.integers(8 * 3600, 20 * 3600, m)
    reviewed = submitted + rng.integers(3600, 5 * 86400, m)
    months = rng.choice((1, 3, 6, 12), m, p=(0.2, 0.3, 0.2, 0.3))
    valid_from = (reviewed + 8 * 3600) // 86400 + 1
    valid_to = valid_from + months * 30
    today = (now_s + 8 * 3600) // 86400
    status = _pick(rng, ("active", "rejected", "revoked"), (0.9, 0.08, 0.02), m)
    status = np.where(
        reviewed >= now_s, "submitted", np.where((status == "active") & (valid_to < today), "expired", status)
    )
    revoked = status == "revoked"
    renewal = rng.random(m) < 0.3
    pid = day.number * DAY_ID + 9_000_000 + np.arange(m, dtype=np.int64)
    fee = np.where(net.area_class[space] == 2, 15000, 5000).astype(np.int64)
    seg = net.segment_id[space]
    dates = pa.array(valid_from.astype(np.int32), pa.int32()).cast(pa.date32())
    return {
        "permit_id": pid,
        "district_id": net.district_id[space],
        "managing_unit_id": pa.nulls(m, pa.int64()),
        "status": status.astype(object),
        "segment_ids": pa.array([[int(x)] for x in seg], pa.list_(pa.int64())),
        "segment_count": np.ones(m, dtype=np.int64),
        "months": months.astype(np.int64),
        "monthly_fee_fen": fee,
        "valid_from": dates,
        "valid_to": pa.array(valid_to.astype(np.int32), pa.int32()).cast(pa.date32()),
        "renewal_of_id": pa.array(pid - 1, pa.int64(), mask=~renewal),
        "is_renewal": renewal,
        "submitted_at": _ts(submitted),
        "reviewed_at": _ts(reviewed, reviewed < now_s),
        "revoked_at": _ts(reviewed + 60 * 86400, revoked & (reviewed + 60 * 86400 < now_s)),
        "updated_at": _us(np.minimum(reviewed, now_s)),
        "_time": submitted,
    }


def _receipt_draws(day: Day) -> dict:
    """RECEIPT_SHARE of the paid orders get a receipt within 3 days of paying; some merged, a few
    voided — drawn once per day (the orders' ``receipted_fen`` and the receipts rows agree)."""
    if "receipts" not in day.extra:
        o, rng = day.orders, day.rng_for("receipts")
        now_s = _epoch(day.now)
        issued = o["paid_at"] + rng.integers(60, 3 * 86400, len(o["paid_at"]))
        k = np.flatnonzero(o["paid"] & (rng.random(len(o["paid"])) < RECEIPT_SHARE) & (issued < now_s))
        m = len(k)
        items = rng.choice((1, 2, 3), m, p=(0.85, 0.1, 0.05)).astype(np.int64)
        voided = rng.random(m) < 0.01
        day.extra["receipts"] = {"k": k, "issued": issued[k], "items": items, "voided": voided}
    return day.extra["receipts"]


def _receipted(day: Day) -> np.ndarray:
    """Per order of the day: the amount of its live receipt item (0: none)."""
    r, paid = _receipt_draws(day), day.orders["amount_paid_fen"]
    out = np.zeros(len(paid), dtype=np.int64)
    live = ~r["voided"]
    # A merged receipt's items are the paid order and the orders numbered after it (see gen_receipts).
    for extra in range(3):
        take = live & (r["items"] > extra) & (r["k"] + extra < len(paid))
        out[r["k"][take] + extra] = paid[r["k"][take]]
    return out


def gen_receipts(day: Day) -> dict:
    """The receipts :func:`_receipt_draws` drew."""
    o, r = day.orders, _receipt_draws(day)
    k, items, voided, issued = r["k"], r["items"], r["voided"], r["issued"]
    now_s = _epoch(day.now)
    return {
        "receipt_id": o["order_id"][k],
        "series_id": o["district_id"][k],
        "district_id": o["district_id"][k],
        "managing_unit_id": o["managing_unit_id"][k],
        "total_fen": o["amount_paid_fen"][k] * items,
        "status": np.where(voided, "voided", "issued").astype(object),
        "item_count": items,
        # The receipt's orders (receipts schema version 2): the paid order and, for a merged
        # receipt, the orders numbered after it, each at the paid order's amount (synthetic).
        "order_ids": pa.array(
            [list(range(int(i), int(i) + int(n))) for i, n in zip(o["order_id"][k], items, strict=True)],
            pa.list_(pa.int64()),
        ),
        "item_fen": pa.array(
            [[int(a)] * int(n) for a, n in zip(o["amount_paid_fen"][k], items, strict=True)],
            pa.list_(pa.int64()),
        ),
        "issued_at": _ts(issued),
        "voided_at": _ts(issued + 86400, voided & (issued + 86400 < now_s)),
        "updated_at": _us(issued),
        "_time": issued,
    }


def gen_sms(day: Day) -> dict:
    """The SMS of the day's reminders and penalty notices that had a phone (delivered mostly)."""
    o = day.orders
    day.columns("reminders"), day.columns("penalties")
    rng = day.rng_for("sms")
    r_id, r_has, r_outcome, r_k, r_at, r_stage = day.extra["reminder_sms"]
    p_id, p_has, p_outcome, p_k, p_at = day.extra["penalty_sms"]
    ids = np.concatenate([r_id[r_has], p_id[p_has]])
    failed = np.concatenate([r_outcome[r_has] == "failed", p_outcome[p_has] == "failed"])
    created = np.concatenate([r_at[r_has], p_at[p_has]])
    nr, npn = int(r_has.sum()), int(p_has.sum())
    ks = np.concatenate([r_k[r_has], p_k[p_has]])
    m = len(ids)
    delivered = ~failed & (rng.random(m) < 0.94)
    template = np.concatenate(
        [
            np.where(r_stage[r_has] == "arrears", "arrears_reminder", "backpay_reminder"),
            np.full(npn, "penalty_notice"),
        ]
    ).astype(object)
    return {
        "sms_id": ids,
        "template": template,
        "category": np.concatenate(
            [np.full(nr, "reminder", dtype=object), np.full(npn, "penalty", dtype=object)]
        ),
        "status": np.where(failed, "failed", np.where(delivered, "delivered", "sent")).astype(object),
        "district_id": o["district_id"][ks],
        "managing_unit_id": o["managing_unit_id"][ks],
        "source": np.concatenate(
            [np.full(nr, "reminder", dtype=object), np.full(npn, "penalty", dtype=object)]
        ),
        "source_id": np.concatenate([r_id[r_has] // 2, p_id[p_has] // 2]),
        "order_id": pa.array(
            o["order_id"][ks], pa.int64(), mask=np.r_[np.zeros(nr, bool), np.ones(npn, bool)]
        ),
        "created_at": _ts(created),
        "sent_at": _ts(created + 5, ~failed),
        "delivered_at": _ts(created + 35, delivered),
        # One reminder per message here; reminded orders stay unpaid (gen_reminders).
        "reminded_orders": np.r_[np.ones(nr, np.int64), np.zeros(npn, np.int64)],
        "reminded_fen": np.r_[o["amount_due_fen"][r_k[r_has]], np.zeros(npn, np.int64)].astype(np.int64),
        "paid_after_at": _ts(created, np.zeros(m, bool)),
        "updated_at": _us(created + np.where(delivered, 35, 5)),
        "changed_at": _us(created + np.where(delivered, 35, 5)),
        "_time": created,
    }


GENERATORS: dict[str, Callable[[Day], dict]] = {
    "orders": gen_orders,
    "payments": gen_payments,
    "refunds": gen_refunds,
    "arrears": gen_arrears,
    "reminders": gen_reminders,
    "penalties": gen_penalties,
    "complaints": gen_complaints,
    "permits": gen_permits,
    "receipts": gen_receipts,
    "sms": gen_sms,
}


# ---------------------------------------------------------------- writing


def _table(columns: dict, schema: pa.Schema) -> tuple[pa.Table, np.ndarray, list[str]]:
    """The data set's table (schema order and types; absent columns null), the partition times and the absent names."""
    n = len(columns["_time"])
    arrays, missing = [], []
    for f in schema:
        if f.name == "district_code":
            arrays.append(pa.nulls(n, pa.string()))  # filled per partition
            continue
        value = columns.get(f.name)
        if value is None:
            missing.append(f.name)
            arrays.append(pa.nulls(n, f.type))
            continue
        arr = value if isinstance(value, pa.Array) else pa.array(value)
        arrays.append(arr.cast(f.type) if arr.type != f.type else arr)
    return pa.Table.from_arrays(arrays, schema=schema), np.asarray(columns["_time"], dtype=np.int64), missing


class _Writer:
    """One data set's partitions and manifest; rows buffered by Beijing date until flushed."""

    def __init__(self, root: Path, name: str, codes: dict[int, str]):
        self.root, self.name, self.codes = root, name, codes
        self.schema = DATASETS[name].schema
        self.buffer: dict[dt.date, list[pa.Table]] = defaultdict(list)
        self.partitions: dict[str, dict] = {}
        self.watermark: int = 0
        self.rows = 0
        self.bytes = 0
        self.missing: list[str] = []
        self.buffered = 0
        self.spill = root / name / ".synthetic-spill"
        self.spilled: dict[dt.date, list[Path]] = defaultdict(list)
        (root / name).mkdir(parents=True, exist_ok=True)

    def add(self, columns: dict) -> None:
        table, times, missing = _table(columns, self.schema)
        self.missing = missing
        if not table.num_rows:
            return
        if "updated_at" in self.schema.names:
            top = pc.max(table.column("updated_at")).as_py()
            if top is not None:
                self.watermark = max(self.watermark, int(top.timestamp() * 1_000_000))
        tz_offset = 8 * 3600  # Asia/Shanghai has no DST
        days = (times + tz_offset) // 86400
        for d in np.unique(days):
            pick = np.flatnonzero(days == d)
            self.buffer[dt.date(1970, 1, 1) + dt.timedelta(days=int(d))].append(table.take(pick))
        self.buffered += table.num_rows
        if self.buffered > SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        """Move the buffered rows to one file per date under the data set's spill directory (memory bound)."""
        self.spill.mkdir(exist_ok=True)
        for day, tables in self.buffer.items():
            path = self.spill / f"{day.isoformat()}-{uuid.uuid4().hex}.parquet"
            pq.write_table(pa.concat_tables(tables), path, compression="lz4")
            self.spilled[day].append(path)
        self.buffer.clear()
        self.buffered = 0

    def flush(self, before: dt.date | None = None) -> None:
        """Write every buffered date earlier than ``before`` (all if None)."""
        for day in sorted(d for d in set(self.buffer) | set(self.spilled) if before is None or d < before):
            tables = [pq.read_table(p) for p in self.spilled.pop(day, [])] + self.buffer.pop(day, [])
            table = pa.concat_tables(tables)
            self.buffered -= sum(t.num_rows for t in tables)
            district = table.column("district_id").to_numpy()
            order = np.argsort(district, kind="stable")
            table, district = table.take(order), district[order]
            cuts = np.flatnonzero(np.diff(district)) + 1
            code_index = table.schema.get_field_index("district_code")
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(district)], strict=True):
                code = self.codes[int(district[lo])]
                part = table.slice(lo, hi - lo)
                part = part.set_column(
                    code_index, "district_code", pa.array([code] * part.num_rows, pa.string())
                )
                rel = f"date={day.isoformat()}/district={code}/part-{uuid.uuid4().hex}.parquet"
                path = self.root / self.name / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                temp = path.with_name(f".{path.name}.tmp")
                pq.write_table(part, temp, compression=COMPRESSION)
                os.replace(temp, path)
                self.partitions[f"{day.isoformat()}/{code}"] = {"file": rel, "rows": part.num_rows}
                self.rows += part.num_rows
                self.bytes += path.stat().st_size
        self.buffered = max(self.buffered, 0)
        if before is None:
            shutil.rmtree(self.spill, ignore_errors=True)

    def manifest(self, now: dt.datetime) -> dict:
        wm = dt.datetime.fromtimestamp(self.watermark / 1_000_000, dt.UTC) if self.watermark else None
        return {
            "dataset": self.name,
            "watermark": wm.isoformat() if wm else None,
            "partitions": self.partitions,
            "superseded": [],
            "last_run": now.isoformat(),
            "last_result": {"synthetic": True, "rows_written": self.rows, "partitions": len(self.partitions)},
            "rows": self.rows,
            "schema_version": DATASETS[self.name].version,
            "synthetic": True,
        }

    def write_manifest(self, now: dt.datetime) -> None:
        path = self.root / self.name / MANIFEST
        temp = path.with_name(f".{MANIFEST}.{uuid.uuid4().hex}.tmp")
        temp.write_text(json.dumps(self.manifest(now), ensure_ascii=False, sort_keys=True))
        os.replace(temp, path)


class SyntheticLakeExistsError(ValueError):
    """The target already holds a data set's files and ``replace`` was not asked for."""


def generate_year(
    net: Network,
    *,
    root: Path | str | None = None,
    days: int = 365,
    end: dt.date | None = None,
    orders_per_space: float = 4.0,
    seed: int = 0,
    datasets: list[str] | None = None,
    replace: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write ``days`` days ending on ``end`` (default yesterday, Beijing) of synthetic facts for
    every data set of :data:`GENERATORS` that ``sync.DATASETS`` defines; returns per data set
    rows, partitions, bytes and packs (closed months, :func:`.sync.pack_dataset`), plus
    ``seconds``, ``pack_seconds`` and ``skipped`` (generators without a data set)."""
    root = parking_root(root)
    now = now or dt.datetime.now(dt.UTC)
    end = end or (now.astimezone(TZ).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=days - 1)
    names = [n for n in (datasets or GENERATORS) if n in GENERATORS]
    skipped = [n for n in names if n not in DATASETS]
    names = [n for n in names if n in DATASETS]
    if "orders" not in names:
        names.insert(0, "orders")  # every other data set hangs off the day's orders
    for name in names:
        target = root / name
        if target.exists() and any(target.iterdir()):
            if not replace:
                raise SyntheticLakeExistsError(f"{target} is not empty: give replace=True (--replace)")
            shutil.rmtree(target)
    writers = {n: _Writer(root, n, net.codes) for n in names}
    started = time.perf_counter()
    epoch = dt.date(1970, 1, 1)
    for i in range(days):
        date = start + dt.timedelta(days=i)
        number = (date - epoch).days
        day = Day(
            number,
            date,
            now,
            seed,
            net,
            extra={"orders_per_space": orders_per_space},
        )
        for name in names:
            writers[name].add(day.columns(name))
        for w in writers.values():
            w.flush(before=date)  # later days cannot add to an earlier date
        if progress and (i % 10 == 9 or i == days - 1):
            progress(
                f"day {i + 1}/{days} {date} orders {writers['orders'].rows:,} {time.perf_counter() - started:.0f} s"
            )
    out: dict = {}
    for name, w in writers.items():
        w.flush()
        w.write_manifest(now)
        out[name] = {
            "rows": w.rows,
            "partitions": len(w.partitions),
            "bytes": w.bytes,
            "missing_columns": w.missing,
        }
    out["seconds"] = round(time.perf_counter() - started, 1)
    # Closed months packed into one file each, as the sync keeps them (nobody reads yet: no grace).
    packing = time.perf_counter()
    for name in writers:
        out[name]["packs"] = pack_dataset(name, root=root, today=now.astimezone(TZ).date(), grace=0)
    out["pack_seconds"] = round(time.perf_counter() - packing, 1)
    out["skipped"] = skipped
    out["window"] = [start.isoformat(), end.isoformat()]
    return out
