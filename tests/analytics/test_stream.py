"""The Stream port over its three adapters (spool, Redis Streams, NATS JetStream): round trip,
redelivery of unacked messages, the spool's torn tail and publisher lock, bad URLs, and a
consumer SIGKILLed mid-batch whose successor leaves every record in the sink exactly once."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

import pytest

from govcenter.analytics.stream import open_stream, run_batches
from govcenter.analytics.stream.spool import SpoolStream

from .stream_helpers import GROUP, open_sink, read_until, records

HELPER = Path(__file__).with_name("stream_helpers.py")
VISIBILITY = "visibility_ms=1000"  # short, so redelivery after a "death" comes quickly


@pytest.fixture(
    params=[
        "spool",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("nats", marks=pytest.mark.nats),
    ]
)
def stream_url(request, tmp_path) -> str:
    if request.param == "spool":
        return f"spool://{tmp_path / 'spool'}"
    base = request.getfixturevalue(f"{request.param}_url")
    return f"{base}{'&' if '?' in base else '?'}{VISIBILITY}"


@pytest.fixture
def stream_name(stream_url):
    """A fresh stream name per test; the stream is deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:16]}"
    yield name
    stream = open_stream(name, stream_url)
    stream.destroy()
    stream.close()


def test_publish_read_ack_round_trip(stream_url, stream_name):
    published = records(5)
    with open_stream(stream_name, stream_url) as stream:
        stream.publish(published[:2])
        stream.publish(published[2:])
        got = read_until(stream, "g", "c1", 5)
        assert [m.data for m in got] == published
        assert len({m.id for m in got}) == 5
        stream.ack("g", [m.id for m in got])
        assert stream.read("g", "c1", max_records=10, block_ms=200) == []
    # Acked is acked for good: a new instance (a restarted consumer) gets nothing.
    with open_stream(stream_name, stream_url) as stream:
        assert stream.read("g", "c1", max_records=10, block_ms=200) == []
        # Another group has its own position and sees everything.
        assert [m.data for m in read_until(stream, "other", "c1", 5)] == published


def test_unacked_messages_are_redelivered_to_the_group(stream_url, stream_name):
    published = records(3)
    first = open_stream(stream_name, stream_url)
    first.publish(published)
    got = read_until(first, "g", "a", 3)
    assert len(got) == 3
    first.ack("g", [got[0].id])
    first.close()  # consumer "a" is gone without acking the rest
    with open_stream(stream_name, stream_url) as second:
        again = read_until(second, "g", "b", 2)
        assert sorted(m.data for m in again) == published[1:]
        second.ack("g", [m.id for m in again])
        assert second.read("g", "b", max_records=10, block_ms=200) == []


def test_run_batches_acks_only_after_the_handler_returned(stream_url, stream_name):
    published = records(4)
    with open_stream(stream_name, stream_url) as stream:
        stream.publish(published)

        def failing(messages):
            raise RuntimeError("sink down")

        with pytest.raises(RuntimeError):
            run_batches(stream, "g", "c1", failing, max_records=10, block_ms=200)
    seen = []
    with open_stream(stream_name, stream_url) as stream:
        deadline_reads = 300  # bound, not a timing assertion: redelivery after the visibility timeout

        def stop():
            nonlocal deadline_reads
            deadline_reads -= 1
            return len(seen) >= 4 or deadline_reads < 0

        handled = run_batches(
            stream, "g", "c1", lambda ms: seen.extend(m.data for m in ms), block_ms=200, stop=stop
        )
        assert sorted(seen) == published
        assert handled == 4
        assert stream.read("g", "c1", max_records=10, block_ms=200) == []


def test_run_batches_lingers_for_more_messages_and_handles_them_as_one_batch(stream_url, stream_name):
    """A batch short of ``min_records`` waits (up to ``linger_ms``) for the messages a producer
    publishes meanwhile, and the handler gets them together, in order."""
    published = records(3)
    batches = []
    with open_stream(stream_name, stream_url) as stream:
        stream.publish(published[:1])

        def later():
            with open_stream(stream_name, stream_url) as producer:
                time.sleep(0.2)
                producer.publish(published[1:2])
                time.sleep(0.2)
                producer.publish(published[2:])

        thread = threading.Thread(target=later)
        thread.start()
        try:
            handled = run_batches(
                stream, "g", "c1", lambda ms: batches.append([m.data for m in ms]),
                max_records=10, block_ms=200, min_records=3, linger_ms=30_000,
            )  # fmt: skip
        finally:
            thread.join()
        assert batches == [published]  # one batch, not three, and nothing left behind
        assert handled == 3
        assert stream.read("g", "c1", max_records=10, block_ms=200) == []


def test_run_batches_handles_a_short_batch_when_the_linger_runs_out(stream_url, stream_name):
    published = records(2)
    batches = []
    with open_stream(stream_name, stream_url) as stream:
        stream.publish(published)
        handled = run_batches(
            stream, "g", "c1", lambda ms: batches.append([m.data for m in ms]),
            max_records=10, block_ms=200, min_records=5, linger_ms=300,
        )  # fmt: skip
        assert batches == [published]
        assert handled == 2
        with pytest.raises(ValueError):
            run_batches(stream, "g", "c1", batches.append, max_records=10, min_records=0)


def test_consumer_killed_mid_batch_then_successor_leaves_every_record_once(stream_url, stream_name, tmp_path):
    total, kill_after = 40, 15  # batches of 10: the second batch dies after 5 rows written
    published = records(total)
    with open_stream(stream_name, stream_url) as stream:
        stream.publish(published)
    sink = str(tmp_path / "sink.sqlite")

    def run(consumer: str, kill: int) -> subprocess.CompletedProcess:
        command = [
            sys.executable,
            str(HELPER),
            stream_url,
            stream_name,
            sink,
            consumer,
            str(total),
            str(kill),
        ]
        return subprocess.run(command, capture_output=True, timeout=180, check=False)  # noqa: S603

    died = run("c1", kill_after)
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    db = open_sink(sink)
    assert db.execute("SELECT count(*) FROM sink").fetchone()[0] == kill_after

    finished = run("c2", 0)
    assert finished.returncode == 0, finished.stderr.decode()
    rows = db.execute("SELECT id, v FROM sink ORDER BY id").fetchall()
    assert rows == [(json.loads(r)["id"], json.loads(r)["v"]) for r in published]
    # The rows c1 wrote in its unacked batch were delivered again (at-least-once at work) ...
    c1_ids = [r[0] for r in db.execute("SELECT id FROM deliveries WHERE consumer='c1' ORDER BY n")]
    c2_ids = {r[0] for r in db.execute("SELECT id FROM deliveries WHERE consumer='c2'")}
    assert set(c1_ids[10:]) <= c2_ids
    # ... and nothing is left pending for the group.
    with open_stream(stream_name, stream_url) as stream:
        assert stream.read(GROUP, "check", max_records=100, block_ms=300) == []
    db.close()


# -- spool specifics --------------------------------------------------------------------------
def _only_segment(stream: SpoolStream) -> Path:
    (segment,) = sorted(stream.directory.glob("seg-*.log"))
    return segment


@pytest.mark.parametrize(
    "tail",
    [
        struct.pack(">II", 100, 0) + b"0123456789",  # crash mid-payload
        b"\x00\x00",  # crash mid-header
        struct.pack(">II", 3, zlib.crc32(b"abc") ^ 1) + b"abc",  # complete length, bad CRC
    ],
    ids=["short-payload", "short-header", "bad-crc"],
)
def test_spool_torn_tail_is_ignored_and_cut_by_the_next_publisher(tmp_path, tail):
    url = f"spool://{tmp_path}"
    with open_stream("s", url) as stream:
        stream.publish([b"one", b"two"])
        segment = _only_segment(stream)
        with open(segment, "ab") as f:
            f.write(tail)
        got = stream.read("g", "c", max_records=10, block_ms=0)
        assert [m.data for m in got] == [b"one", b"two"]
        assert stream.read("g", "c", max_records=10, block_ms=0) == []
        stream.publish([b"three"])
        assert [m.data for m in stream.read("g", "c", max_records=10, block_ms=0)] == [b"three"]
    with open_stream("s", url) as stream:
        assert [m.data for m in stream.read("fresh", "c", max_records=10, block_ms=0)] == [
            b"one",
            b"two",
            b"three",
        ]


def test_spool_rolls_segments_and_reads_across_them(tmp_path):
    stream = SpoolStream(tmp_path, "s", segment_bytes=64)
    published = [bytes([65 + i]) * 20 for i in range(10)]
    for record in published:
        stream.publish([record])
    assert len(list(stream.directory.glob("seg-*.log"))) > 3
    got = stream.read("g", "c", max_records=4, block_ms=0)
    stream.ack("g", [m.id for m in got])
    stream.close()
    stream = SpoolStream(tmp_path, "s", segment_bytes=64)
    rest = stream.read("g", "c", max_records=100, block_ms=0)
    assert [m.data for m in got + rest] == published
    stream.close()


def test_spool_allows_one_consumer_per_group(tmp_path):
    url = f"spool://{tmp_path}"
    with open_stream("s", url) as one, open_stream("s", url) as two:
        one.publish([b"x"])
        assert len(one.read("g", "a", max_records=1, block_ms=0)) == 1
        with pytest.raises(RuntimeError, match="one consumer per group"):
            two.read("g", "b", max_records=1, block_ms=0)
        assert len(two.read("h", "b", max_records=1, block_ms=0)) == 1


def test_spool_concurrent_publisher_processes_interleave_whole_records(tmp_path):
    url = f"spool://{tmp_path}"
    script = (
        "import sys\n"
        "from govcenter.analytics.stream import open_stream\n"
        "s = open_stream('s', sys.argv[1])\n"
        "for i in range(100):\n"
        "    s.publish([f'{sys.argv[2]}-{i}-'.encode() * 50, f'{sys.argv[2]}-{i}b'.encode()])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, url, tag])  # noqa: S603
        for tag in ("p", "q")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with open_stream("s", url) as stream:
        got = [m.data for m in stream.read("g", "c", max_records=1000, block_ms=0)]
    assert len(got) == 400
    for tag in ("p", "q"):
        mine = [d for d in got if d.startswith(f"{tag}-".encode())]
        expected = []
        for i in range(100):
            expected += [f"{tag}-{i}-".encode() * 50, f"{tag}-{i}b".encode()]
        assert mine == expected  # each publisher's records whole and in its order


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x",
        "spool://relative/dir",
        "spool://",
        "redis://",
        "redis://127.0.0.1:6379/15?visibility_ms=soon",
        "nats://127.0.0.1:4222?visibility_ms=0",
        "no-scheme",
        "",
    ],
)
def test_bad_url_is_a_clear_value_error(url):
    with pytest.raises(ValueError, match="stream URL"):
        open_stream("s", url)


@pytest.mark.parametrize("name", ["a.b", "a b", "", "x" * 65, "a/b", "*"])
def test_bad_stream_name_is_a_value_error(tmp_path, name):
    with pytest.raises(ValueError, match="invalid stream name"):
        open_stream(name, f"spool://{tmp_path}")


def test_spool_publishers_of_one_process_do_not_rescan_what_it_wrote(tmp_path):
    """A new SpoolStream per publish (as an API request opens one) reads none of the segment
    back: the end this process wrote is known good process-wide. Bytes another process appended
    are still checked, and a torn tail after them is still cut."""
    from govcenter.analytics.stream import spool

    SpoolStream(tmp_path, "s").publish([b"x" * 1000])
    before = spool.stats["tail_bytes_scanned"]
    for i in range(5):
        SpoolStream(tmp_path, "s").publish([f"r{i}".encode() * 100])
    assert spool.stats["tail_bytes_scanned"] == before
    segment = _only_segment(SpoolStream(tmp_path, "s"))
    # "Another process" appends a valid record and a torn tail: only those bytes are read.
    appended = struct.pack(">II", 3, zlib.crc32(b"abc")) + b"abc" + b"\x00\x00"
    with open(segment, "ab") as f:
        f.write(appended)
    SpoolStream(tmp_path, "s").publish([b"last"])
    assert spool.stats["tail_bytes_scanned"] == before + len(appended)
    with SpoolStream(tmp_path, "s") as stream:
        got = [m.data for m in stream.read("g", "c", max_records=100, block_ms=0)]
    assert got == [b"x" * 1000, *[f"r{i}".encode() * 100 for i in range(5)], b"abc", b"last"]
