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

Telemetry carries no MDS ``vehicle_state``: a point during a trip (``trip_id`` set) is
``on_trip`` in the live state, any other point ``available``; events carry their own state
(events without a location do not touch the live state).
"""

from __future__ import annotations

import functools
import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from govcenter.analytics.lake import LakeWriter
from govcenter.analytics.lake.schemas import get_spec
from govcenter.analytics.stream import Message, open_stream, run_batches
from govcenter.core import fastjson

from .services.ingest import KINDS, MESSAGE_VERSION, stream_name

logger = logging.getLogger(__name__)

GROUP = "lake"  # one consumer group: lake and live state are written by the same handler
LAKE_DATASETS = {"events": "events", "telemetry": "telemetry", "trips": "trips"}
LIVE_KINDS = frozenset({"events", "telemetry"})


def decode(kind: str, messages: list[Message]) -> list[dict]:
    """The rows of ``messages`` (ValueError for a message that is not ours)."""
    rows: list[dict] = []
    for message in messages:
        try:
            payload = fastjson.loads(message.data)
        except ValueError as exc:
            raise ValueError(f"message {message.id} of bikeshare-{kind} is not JSON") from exc
        if (
            not isinstance(payload, dict)
            or payload.get("v") != MESSAGE_VERSION
            or payload.get("kind") != kind
        ):
            raise ValueError(
                f"message {message.id} of bikeshare-{kind} is not a version-{MESSAGE_VERSION} {kind} batch"
            )
        rows.extend(payload["rows"])
    return rows


@functools.cache
def _stream_schema(dataset: str) -> pa.Schema:
    """The lake schema of ``dataset`` as the stream carries it: timestamps as int64 milliseconds."""
    spec = get_spec(dataset)
    return pa.schema(
        [pa.field(f.name, pa.int64(), f.nullable) if pa.types.is_timestamp(f.type) else f for f in spec.schema]
    )


def rows_table(kind: str, rows: list[dict]) -> pa.Table:
    """Stream rows → an Arrow table of the lake data set of ``kind`` (one columnar pass, in C).

    Timestamps travel as Unix milliseconds and become UTC timestamps by a cast; the lake's
    :func:`~govcenter.analytics.lake.schemas.conform` then checks the table as it checks any.
    ValueError for a row that is not an object, a member no lake column has, or a wrong type.
    """
    dataset = LAKE_DATASETS[kind]
    schema = _stream_schema(dataset)
    if not all(type(r) is dict for r in rows):
        raise ValueError(f"bikeshare-{kind}: a row is not an object")
    unknown = {k for r in rows for k in r}.difference(schema.names)
    if unknown:
        raise ValueError(f"bikeshare-{kind}: rows have unknown columns {sorted(unknown)}")
    try:
        raw = pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise ValueError(f"bikeshare-{kind}: wrong type in a row ({exc})") from exc
    spec = get_spec(dataset)
    columns = [
        raw.column(f.name).cast(f.type) if pa.types.is_timestamp(f.type) else raw.column(f.name)
        for f in spec.schema
    ]
    return pa.Table.from_arrays(columns, schema=spec.schema)


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


def make_handler(kind: str, writer: LakeWriter, live=None) -> Callable[[list[Message]], None]:
    """The micro-batch handler: lake first, then live state; raises on any failure (no ack)."""

    def handle(messages: list[Message]) -> None:
        rows = decode(kind, messages)
        if not rows:
            return
        table = rows_table(kind, rows)
        writer.write(LAKE_DATASETS[kind], table)
        if live is not None and kind in LIVE_KINDS:
            batch = live_columns(kind, table)
            if batch["device_id"]:
                live.update(batch)  # positions are already GCJ-02
        logger.info("bikeshare consume %s: %d messages, %d rows", kind, len(messages), len(rows))

    return handle


def consume(
    kind: str,
    *,
    stream_url: str | None = None,
    lake_root: Path | str,
    live=None,
    max_records: int = 50,
    block_ms: int = 1000,
    stop: Callable[[], bool] | None = None,
    consumer: str | None = None,
) -> int:
    """Consume ``bikeshare-<kind>`` into the lake under ``lake_root`` (and ``live``, a
    ``LiveState`` or its URL, for telemetry and events) until ``stop()`` is true — or, with
    ``stop=None``, until the stream is drained. ``max_records`` counts stream messages (each holds
    up to ``GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS`` rows). Returns the messages handled."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {KINDS}")
    owned = None
    if isinstance(live, str):
        from .live import open_live_state  # lazily: the live store is optional here
        from .services.fences import active_fence_index

        # The parking and rail-station fences in force today: a bike's fence is found at update.
        live = owned = open_live_state(live, fences=active_fence_index())
    writer = LakeWriter(lake_root)
    try:
        with open_stream(stream_name(kind), stream_url) as stream:
            return run_batches(
                stream,
                GROUP,
                consumer or re.sub(r"[^A-Za-z0-9_-]", "-", f"{socket.gethostname()[:40]}-{kind}"),
                make_handler(kind, writer, live),
                max_records=max_records,
                block_ms=block_ms,
                stop=stop,
            )
    finally:
        if owned is not None:
            owned.close()
