"""The consumer of the ingest streams: micro-batches → the lake (and the live state).

``consume(kind, …)`` reads ``bikeshare-<kind>`` (the prefix is a setting; published by ``services/ingest.py``) with
:func:`govcenter.analytics.stream.run_batches`: each micro-batch is decoded, written to the
lake data set of its kind (``events`` / ``telemetry`` / ``trips``) and — for telemetry and
events, when a live state is given — applied to the live state; only then is it acked.

Idempotent, as at-least-once delivery requires: a redelivered batch is simply written again.
The lake appends and drops duplicate keys (``event_id`` / ``trip_id`` / ``(device_id,
timestamp)``) on compaction; the live state keeps the newest report per bike. A batch whose
messages cannot be decoded raises (nothing acked), so a poison message stops the consumer
loudly instead of being dropped silently.

Messages come in two versions (``services/ingest.py``): 1, JSON rows (events, trips, and
everything published before version 2); 2, an Arrow IPC record batch in the stream schema
(telemetry from the API), which :func:`decode_table` takes as it is — no JSON, no dicts. The
first byte tells them apart (``{`` or ``0xFF``); a batch may mix both, rows keep their order.

Fences change while a consumer runs (a staffer's import, revision or retirement; validity
dates at midnight). A consumer that opened the live store itself keeps its fence index current
with a :class:`FenceWatcher`: at most every :data:`FENCE_CHECK_SECONDS` it compares the index's
key (Beijing day, fence generation — one shared-cache read) and, when it changed, swaps the new
index in and re-assigns the stored bikes (``LiveState.reassign_fences``), which also repairs
the bikes it wrote with the old index in between. At start it re-assigns only when the store
was last re-assigned against another index (``LiveState.ensure_fences``), so the once-a-minute
``consume --once`` runs do not re-read the fleet each time.

Telemetry carries no MDS ``vehicle_state``: a point during a trip (``trip_id`` set) is
``on_trip`` in the live state, any other point ``available``; events carry their own state
(events without a location do not touch the live state).
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from govcenter.analytics.lake import LakeWriter
from govcenter.analytics.lake.schemas import get_spec
from govcenter.analytics.stream import Message, open_stream, run_batches
from govcenter.core import fastjson

from .services.ingest import COLUMNAR_VERSION, KINDS, MESSAGE_VERSION, stream_name

logger = logging.getLogger(__name__)

GROUP = "lake"  # one consumer group: lake and live state are written by the same handler
FENCE_CHECK_SECONDS = 5.0  # how often a consumer asks whether the fences in force changed
LAKE_DATASETS = {"events": "events", "telemetry": "telemetry", "trips": "trips"}
LIVE_KINDS = frozenset({"events", "telemetry"})


def _decode_json(kind: str, message: Message) -> list:
    try:
        payload = fastjson.loads(message.data)
    except ValueError as exc:
        raise ValueError(f"message {message.id} of bikeshare-{kind} is not JSON") from exc
    if not isinstance(payload, dict) or payload.get("v") != MESSAGE_VERSION or payload.get("kind") != kind:
        raise ValueError(
            f"message {message.id} of bikeshare-{kind} is not a version-{MESSAGE_VERSION} {kind} batch"
        )
    return payload["rows"]


def _decode_ipc(kind: str, message: Message) -> pa.Table:
    """A version-2 message: one Arrow IPC stream in the stream schema of ``kind``, tagged v=2."""
    what = f"message {message.id} of bikeshare-{kind} is not a version-{COLUMNAR_VERSION} {kind} batch"
    try:
        table = pa.ipc.open_stream(pa.py_buffer(message.data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError) as exc:
        raise ValueError(what) from exc
    meta = table.schema.metadata or {}
    if meta.get(b"v") != str(COLUMNAR_VERSION).encode() or meta.get(b"kind") != kind.encode():
        raise ValueError(what)
    table = table.replace_schema_metadata(None)
    if not table.schema.equals(_stream_schema(LAKE_DATASETS[kind])):
        raise ValueError(f"{what} (columns {table.schema.names})")
    return table


def decode_table(kind: str, messages: list[Message]) -> pa.Table:
    """The rows of ``messages`` as one Arrow table of the lake data set of ``kind`` (see
    :func:`rows_table`), in message order. Version-1 messages (JSON rows, ``{`` first) and
    version-2 ones (Arrow IPC) may be mixed; ValueError for a message that is neither."""
    parts: list[pa.Table] = []
    rows: list = []
    for message in messages:
        if bytes(message.data[:1]) == b"{":
            rows.extend(_decode_json(kind, message))
            continue
        if rows:
            parts.append(_stream_table(kind, rows))
            rows = []
        parts.append(_decode_ipc(kind, message))
    if rows or not parts:
        parts.append(_stream_table(kind, rows))
    table = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
    return _to_lake(kind, table)


def decode(kind: str, messages: list[Message]) -> list[dict]:
    """The rows of ``messages`` as dicts (timestamps in ms), either version (ValueError for a
    message that is not ours)."""
    rows: list = []
    for message in messages:
        if bytes(message.data[:1]) == b"{":
            rows.extend(_decode_json(kind, message))
        else:
            rows.extend(_decode_ipc(kind, message).to_pylist())
    return rows


@functools.cache
def _stream_schema(dataset: str) -> pa.Schema:
    """The lake schema of ``dataset`` as the stream carries it: timestamps as int64 milliseconds."""
    spec = get_spec(dataset)
    return pa.schema(
        [
            pa.field(f.name, pa.int64(), f.nullable) if pa.types.is_timestamp(f.type) else f
            for f in spec.schema
        ]
    )


def _stream_table(kind: str, rows: list) -> pa.Table:
    """Stream rows → an Arrow table in the stream schema (timestamps int64 ms), checked."""
    schema = _stream_schema(LAKE_DATASETS[kind])
    if not all(type(r) is dict for r in rows):
        raise ValueError(f"bikeshare-{kind}: a row is not an object")
    unknown = {k for r in rows for k in r}.difference(schema.names)
    if unknown:
        raise ValueError(f"bikeshare-{kind}: rows have unknown columns {sorted(unknown)}")
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise ValueError(f"bikeshare-{kind}: wrong type in a row ({exc})") from exc


def _to_lake(kind: str, raw: pa.Table) -> pa.Table:
    """A stream-schema table → the lake schema (ms timestamps cast to UTC timestamps)."""
    spec = get_spec(LAKE_DATASETS[kind])
    columns = [
        raw.column(f.name).cast(f.type) if pa.types.is_timestamp(f.type) else raw.column(f.name)
        for f in spec.schema
    ]
    return pa.Table.from_arrays(columns, schema=spec.schema)


def rows_table(kind: str, rows: list[dict]) -> pa.Table:
    """Stream rows → an Arrow table of the lake data set of ``kind`` (one columnar pass, in C).

    Timestamps travel as Unix milliseconds and become UTC timestamps by a cast; the lake's
    :func:`~govcenter.analytics.lake.schemas.conform` then checks the table as it checks any.
    ValueError for a row that is not an object, a member no lake column has, or a wrong type.
    """
    return _to_lake(kind, _stream_table(kind, rows))


def live_columns(kind: str, table: pa.Table) -> dict:
    """The live-state batch (columns) of the telemetry or event rows that have a position."""
    table = table.filter(pc.and_(pc.is_valid(table.column("lon")), pc.is_valid(table.column("lat"))))
    if kind == "telemetry":
        state = pc.if_else(pc.is_valid(table.column("trip_id")), "on_trip", "available")
    else:
        state = table.column("vehicle_state")
    return {
        "operator": table.column("operator").to_pylist(),
        "device_id": table.column("device_id").to_pylist(),
        "vehicle_id": table.column("vehicle_id").to_pylist(),
        "timestamp_ms": table.column("timestamp").cast(pa.int64()).to_numpy(),
        "lon": table.column("lon").to_numpy(),
        "lat": table.column("lat").to_numpy(),
        "vehicle_state": state.to_pylist(),
    }


class FenceWatcher:
    """Keeps a live store's fence index the one in force (see the module docstring).

    ``key()`` gives the index's cache key and ``index(key)`` the index
    (default: ``services.fences.active_index_key`` / ``active_fence_index``); ``clock`` is
    monotonic seconds. Construction swaps in the current index (re-assigning if the store was
    last re-assigned against another one); :meth:`check` is called before every batch.
    """

    def __init__(
        self,
        live,
        *,
        every_s: float = FENCE_CHECK_SECONDS,
        key: Callable[[], object] | None = None,
        index: Callable[[object], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if key is None or index is None:
            from .services.fences import active_fence_index, active_index_key

            key = key or active_index_key
            index = index or (lambda k: active_fence_index(k[0]))
        self.live = live
        self.every_s = every_s
        self._key, self._index, self._clock = key, index, clock
        self.key = key()
        changed = live.ensure_fences(index(self.key))
        if changed:
            logger.info("bikeshare live: %d bikes re-placed in fences at start", changed)
        self._next = clock() + every_s

    def check(self) -> int | None:
        """Swap in a new index if the fences in force changed; returns how many bikes changed
        fence (None: not checked yet or nothing changed)."""
        from .live import fence_fingerprint

        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self.every_s
        key = self._key()
        if key == self.key:
            return None
        index = self._index(key)
        self.key = key
        if fence_fingerprint(index) == fence_fingerprint(self.live.fences):
            self.live.fences = index  # a new generation with the same fences: nothing moved
            return None
        changed = self.live.reassign_fences(index)
        logger.info("bikeshare live: fences changed (%s); %d bikes re-placed", key, changed)
        return changed


def make_handler(
    kind: str, writer: LakeWriter, live=None, fences: FenceWatcher | None = None
) -> Callable[[list[Message]], None]:
    """The micro-batch handler: lake first, then live state; raises on any failure (no ack).

    ``fences``: checked before each batch is applied to the live state (cheap between checks).
    """

    def handle(messages: list[Message]) -> None:
        table = decode_table(kind, messages)
        if not table.num_rows:
            return
        writer.write(LAKE_DATASETS[kind], table)
        if live is not None and kind in LIVE_KINDS:
            if fences is not None:
                fences.check()
            batch = live_columns(kind, table)
            if batch["device_id"]:
                live.update(batch)  # positions are already GCJ-02
        logger.info("bikeshare consume %s: %d messages, %d rows", kind, len(messages), table.num_rows)

    return handle


def _batching(max_records: int | None, min_records: int | None, linger_ms: int | None) -> dict:
    """``run_batches``' batch size and linger, each from the argument or its setting."""
    from django.conf import settings

    def pick(value, name: str) -> int:
        return int(getattr(settings, f"GOVCENTER_BIKESHARE_CONSUMER_{name}") if value is None else value)

    batching = {
        "max_records": pick(max_records, "MAX_MESSAGES"),
        "min_records": pick(min_records, "MIN_MESSAGES"),
        "linger_ms": pick(linger_ms, "LINGER_MS"),
    }
    if batching["max_records"] < 1 or batching["min_records"] < 1 or batching["linger_ms"] < 0:
        raise ValueError(f"consumer batching {batching}: messages must be positive, linger_ms not negative")
    return batching


def consume(
    kind: str,
    *,
    stream_url: str | None = None,
    lake_root: Path | str,
    live=None,
    max_records: int | None = None,
    block_ms: int = 1000,
    stop: Callable[[], bool] | None = None,
    consumer: str | None = None,
    watch_fences: bool | None = None,
    fence_check_s: float = FENCE_CHECK_SECONDS,
    min_records: int | None = None,
    linger_ms: int | None = None,
) -> int:
    """Consume ``bikeshare-<kind>`` into the lake under ``lake_root`` (and ``live``, a
    ``LiveState`` or its URL, for telemetry and events) until ``stop()`` is true — or, with
    ``stop=None``, until the stream is drained. ``max_records`` counts stream messages (each holds
    up to ``GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS`` rows); a batch of fewer than
    ``min_records`` waits up to ``linger_ms`` for more (``run_batches``). The three default to
    the settings ``GOVCENTER_BIKESHARE_CONSUMER_MAX_MESSAGES`` / ``_MIN_MESSAGES`` /
    ``_LINGER_MS``, except that a drain (``stop=None``) does not linger unless told to.
    Returns the messages handled.

    ``watch_fences`` (default: when ``live`` is a URL, i.e. the store is ours): keep the
    store's fence index the one in force with a :class:`FenceWatcher` checking every
    ``fence_check_s`` seconds."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {KINDS}")
    if stop is None and linger_ms is None:
        linger_ms = 0  # draining takes what is there now: nobody to wait for
    batching = _batching(max_records, min_records, linger_ms)
    owned = None
    if isinstance(live, str):
        from .live import open_live_state  # lazily: the live store is optional here

        # The fence index is set by the watcher below: a bike's fence is found at update.
        live = owned = open_live_state(live)
    if watch_fences is None:
        watch_fences = owned is not None
    writer = LakeWriter(lake_root)
    try:
        # The parking and rail-station fences in force today, kept current while we run.
        watched = live is not None and watch_fences and kind in LIVE_KINDS
        fences = FenceWatcher(live, every_s=fence_check_s) if watched else None
        with open_stream(stream_name(kind), stream_url) as stream:
            return run_batches(
                stream,
                GROUP,
                consumer or re.sub(r"[^A-Za-z0-9_-]", "-", f"{socket.gethostname()[:40]}-{kind}"),
                make_handler(kind, writer, live, fences),
                block_ms=block_ms,
                stop=stop,
                **batching,
            )
    finally:
        if owned is not None:
            owned.close()
