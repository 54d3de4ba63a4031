"""The consumer's columnar path and the fast JSON of the ingest door.

``rows_table`` turns stream rows into the lake's Arrow table in one pass; it must give the
same table the per-record path gives (``conform`` of rows with datetimes) and refuse what
that path refused. ``loads_json`` is orjson with the standard library behind it, so every
body parses exactly as ``json.loads`` (without NaN/Infinity) would.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from govcenter.analytics.lake.schemas import conform
from govcenter.bikeshare.api.ingest import loads_json
from govcenter.bikeshare.consumer import live_columns, rows_table
from govcenter.bikeshare.services.ingest import encode_messages


def _telemetry(i: int, *, trip: bool) -> dict:
    return {
        "operator": "meituan",
        "device_id": str(uuid.UUID(int=i)),
        "vehicle_id": f"V{i:06d}",
        "timestamp": 1_764_000_000_000 + 997 * i,
        "lon": 116.3 + i / 1e4,
        "lat": 39.9 - i / 1e4,
        "source_datum": "GCJ-02",
        "battery_pct": None if i % 3 == 0 else float(i % 100),
        "trip_id": str(uuid.UUID(int=10**6 + i)) if trip else None,
    }


def _with_datetimes(row: dict, names) -> dict:
    return {**row, **{n: dt.datetime.fromtimestamp(row[n] / 1000, tz=dt.UTC) for n in names}}


def test_telemetry_rows_make_the_same_table_as_the_per_record_path():
    rows = [_telemetry(i, trip=i % 2 == 0) for i in range(50)]
    expected = conform("telemetry", [_with_datetimes(r, ("timestamp",)) for r in rows])
    assert conform("telemetry", rows_table("telemetry", rows)).equals(expected)


def test_trips_rows_make_the_same_table_as_the_per_record_path():
    rows = [
        {
            "operator": "hellobike", "trip_id": str(uuid.UUID(int=i)), "device_id": str(uuid.UUID(int=500 + i)),
            "vehicle_id": f"H{i}", "start_time": 1_764_000_000_000 + i * 60_000,
            "end_time": 1_764_000_000_000 + i * 60_000 + 600_000, "start_lon": 116.4, "start_lat": 39.9,
            "end_lon": 116.41, "end_lat": 39.91, "source_datum": "GCJ-02", "distance_m": 1200.0 + i,
            "duration_s": 600,
        }
        for i in range(20)
    ]  # fmt: skip
    from govcenter.analytics.lake.schemas import TRIPS

    rows = [{k: v for k, v in r.items() if k in TRIPS.schema.names} for r in rows]
    expected = conform("trips", [_with_datetimes(r, ("start_time", "end_time")) for r in rows])
    assert conform("trips", rows_table("trips", rows)).equals(expected)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(colour="red"), "unknown columns ['colour']"),
        (lambda r: r.update(timestamp="yesterday"), "wrong type"),
        (lambda r: r.update(lon="116.3"), "wrong type"),
    ],
)
def test_a_row_that_does_not_fit_is_refused_not_guessed(mutate, message):
    rows = [_telemetry(i, trip=False) for i in range(3)]
    mutate(rows[1])
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rows_table("telemetry", rows)


def test_a_missing_required_value_is_refused_by_the_lake_checks():
    rows = [_telemetry(i, trip=False) for i in range(3)]
    del rows[2]["device_id"]
    with pytest.raises(ValueError, match="null value"):
        conform("telemetry", rows_table("telemetry", rows))


def test_live_columns_take_the_state_from_the_trip_and_skip_rows_without_a_position():
    rows = [_telemetry(i, trip=i == 1) for i in range(3)]
    table = rows_table("telemetry", rows)
    cols = live_columns("telemetry", table)
    assert cols["vehicle_state"] == ["available", "on_trip", "available"]
    assert cols["timestamp_ms"].tolist() == [r["timestamp"] for r in rows]
    assert cols["device_id"] == [r["device_id"] for r in rows]

    events = rows_table(
        "events",
        [
            {"operator": "qingju", "event_id": str(uuid.UUID(int=1)), "device_id": "d1", "vehicle_id": "Q1",
             "timestamp": 1_764_000_000_000, "event_types": ["trip_end"], "vehicle_state": "available",
             "lon": 116.3, "lat": 39.9, "source_datum": "GCJ-02"},
            {"operator": "qingju", "event_id": str(uuid.UUID(int=2)), "device_id": "d2", "vehicle_id": "Q2",
             "timestamp": 1_764_000_000_500, "event_types": ["maintenance_start"], "vehicle_state": "non_operational",
             "lon": None, "lat": None, "source_datum": None},
        ],
    )  # fmt: skip
    cols = live_columns("events", events)
    assert cols["device_id"] == ["d1"] and cols["vehicle_state"] == ["available"]


@pytest.mark.parametrize(
    "body",
    [
        b'[{"timestamp": 1764000000000, "location": {"lng": 116.1234567, "lat": 39.9}}]',
        b'[{"timestamp": 123456789012345678901234567890}]',  # beyond 64 bits: the stdlib's turn
        '[{"vehicle_id": "京A·12345", "note": "\\ud800"}]'.encode(),  # a lone surrogate escape
        b'{"telemetry": [{"a": 1.0e-7, "b": -0.0, "c": 1e308}]}',
    ],
)
def test_loads_json_equals_the_standard_library(body):
    assert loads_json(body) == json.loads(body)


@pytest.mark.parametrize("body", [b"[NaN]", b'[{"x": Infinity}]', b"[1,", b"\xff"])
def test_loads_json_refuses_what_the_door_refused(body):
    with pytest.raises(ValueError):
        loads_json(body)


def test_encoded_messages_are_the_standard_librarys_compact_json():
    rows = [_telemetry(i, trip=True) | {"vehicle_id": f"京B{i}"} for i in range(7)]
    messages = encode_messages("telemetry", rows, 3)
    assert len(messages) == 3
    for i, message in enumerate(messages):
        expected = {"v": 1, "kind": "telemetry", "rows": rows[3 * i : 3 * i + 3]}
        assert message == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()


# -- version-2 messages: Arrow IPC columns --------------------------------------------------
def _v2(rows: list[dict], per_message: int) -> list[bytes]:
    import pyarrow as pa

    from govcenter.bikeshare.services.ingest import encode_table_messages, stream_schema

    table = pa.Table.from_pylist(rows, schema=stream_schema("telemetry"))
    return encode_table_messages("telemetry", table, per_message)


def _messages(blobs: list[bytes]):
    from govcenter.analytics.stream import Message

    return [Message(f"m{i}", blob) for i, blob in enumerate(blobs)]


def test_columnar_messages_decode_to_the_table_the_json_rows_give():
    from govcenter.bikeshare.consumer import decode, decode_table

    rows = [_telemetry(i, trip=i % 2 == 0) for i in range(11)]
    blobs = _v2(rows, 4)
    assert len(blobs) == 3 and all(b[:1] == b"\xff" for b in blobs)
    assert decode_table("telemetry", _messages(blobs)).equals(rows_table("telemetry", rows))
    assert decode("telemetry", _messages(blobs)) == rows


def test_version_1_and_version_2_messages_mix_in_one_batch_in_order():
    from govcenter.bikeshare.consumer import decode_table

    rows = [_telemetry(i, trip=i % 3 == 0) for i in range(12)]
    blobs = (
        encode_messages("telemetry", rows[:3], 3)
        + _v2(rows[3:8], 2)
        + encode_messages("telemetry", rows[8:], 2)
    )
    assert decode_table("telemetry", _messages(blobs)).equals(rows_table("telemetry", rows))


def test_columnar_messages_stay_small():
    rows = [_telemetry(i, trip=True) for i in range(500)]
    (blob,) = _v2(rows, 500)
    assert len(blob) < 200_000  # far below NATS's 1 MB default max payload


@pytest.mark.parametrize("which", ["garbage", "other-kind", "no-version", "other-columns"])
def test_a_message_that_is_neither_version_is_refused_loudly(which):
    import pyarrow as pa

    from govcenter.bikeshare.consumer import decode_table

    rows = [_telemetry(i, trip=False) for i in range(3)]
    if which == "garbage":
        blob = b"\xff\xff\xff\xff garbage"
    else:
        table = pa.Table.from_pylist(rows)  # inferred types: not the stream schema
        if which != "other-columns":
            from govcenter.bikeshare.services.ingest import stream_schema

            table = pa.Table.from_pylist(rows, schema=stream_schema("telemetry"))
        meta = {"other-kind": {"v": "2", "kind": "events"}, "no-version": {"kind": "telemetry"}}.get(
            which, {"v": "2", "kind": "telemetry"}
        )
        table = table.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        blob = sink.getvalue().to_pybytes()
    with pytest.raises(ValueError, match="is not a version-2 telemetry batch"):
        decode_table("telemetry", _messages(encode_messages("telemetry", rows, 3) + [blob]))


def test_a_running_consumer_writes_messages_that_trickle_in_as_one_lake_batch(tmp_path, settings):
    """The linger (GOVCENTER_BIKESHARE_CONSUMER_*): three messages published 0.15 s apart reach
    the lake in one write (one file), not three; a drain afterwards finds nothing left."""
    import threading
    import time

    import pyarrow.dataset as ds

    from govcenter.analytics.stream import open_stream
    from govcenter.bikeshare.consumer import consume
    from govcenter.bikeshare.services.ingest import stream_name

    settings.GOVCENTER_BIKESHARE_CONSUMER_MIN_MESSAGES = 3
    settings.GOVCENTER_BIKESHARE_CONSUMER_LINGER_MS = 30_000
    url, lake = f"spool://{tmp_path / 'spool'}", tmp_path / "lake"
    rows = [_telemetry(i, trip=False) for i in range(9)]
    published = threading.Event()

    def produce():
        with open_stream(stream_name("telemetry"), url) as stream:
            for blob in encode_messages("telemetry", rows, 3):
                stream.publish([blob])
                time.sleep(0.15)
        published.set()

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        # Stops once all is published and written (however late the consumer got going).
        written = lambda: published.is_set() and any(lake.rglob("*.parquet"))  # noqa: E731
        handled = consume("telemetry", stream_url=url, lake_root=lake, block_ms=50, stop=written)
    finally:
        thread.join()
    assert handled == 3
    files = sorted((lake / "telemetry").rglob("*.parquet"))
    assert len(files) == 1
    assert sorted(ds.dataset(files).to_table().column("device_id").to_pylist()) == sorted(r["device_id"] for r in rows)
    assert consume("telemetry", stream_url=url, lake_root=lake, block_ms=50) == 0


def test_consumer_batching_refuses_nonsense(tmp_path):
    from govcenter.bikeshare.consumer import consume

    with pytest.raises(ValueError, match="batching"):
        consume("telemetry", stream_url=f"spool://{tmp_path}", lake_root=tmp_path / "lake", min_records=0)
