"""Helpers for tests/analytics/test_stream.py, and the consumer script its crash test runs
(``python stream_helpers.py <url> <stream> <sink.sqlite> <consumer> <total> <kill_after>``).

The consumer writes every record into a SQLite sink keyed on the record id (idempotent) and
logs each delivery; with ``kill_after`` > 0 it SIGKILLs itself right after writing that many
records — mid-batch, before the batch is acked.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time

from govcenter.analytics.stream import Message, Stream, open_stream, run_batches

GROUP = "sink"
IDLE_S = 10


def records(n: int, start: int = 0) -> list[bytes]:
    return [json.dumps({"id": f"r{i:05d}", "v": i}).encode() for i in range(start, start + n)]


def read_until(
    stream: Stream, group: str, consumer: str, count: int, *, limit_s: float = 60
) -> list[Message]:
    """Read (without acking) until ``count`` messages arrived or ``limit_s`` passed (a bound
    for a broken adapter, not an assertion on timing)."""
    got: list[Message] = []
    deadline = time.monotonic() + limit_s
    while len(got) < count and time.monotonic() < deadline:
        got += stream.read(group, consumer, max_records=count - len(got), block_ms=200)
    return got


def open_sink(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=30)  # autocommit: every row durable
    db.execute("CREATE TABLE IF NOT EXISTS sink (id TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS deliveries (n INTEGER PRIMARY KEY, consumer TEXT, id TEXT)")
    return db


def consume(url: str, name: str, sink: str, consumer: str, total: int, kill_after: int) -> None:
    stream = open_stream(name, url)
    db = open_sink(sink)
    written = 0
    last_message = time.monotonic()

    def handler(messages: list[Message]) -> None:
        nonlocal written, last_message
        last_message = time.monotonic()
        for message in messages:
            record = json.loads(message.data)
            db.execute("INSERT INTO deliveries (consumer, id) VALUES (?, ?)", (consumer, record["id"]))
            db.execute("INSERT OR IGNORE INTO sink (id, v) VALUES (?, ?)", (record["id"], record["v"]))
            written += 1
            if written == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    def done() -> bool:
        # Finished when the sink is full; give up after IDLE_S without any message (well past
        # the tests' 1 s visibility timeout) so a losing adapter fails the test, not hangs it.
        if time.monotonic() - last_message > IDLE_S:
            return True
        return db.execute("SELECT count(*) FROM sink").fetchone()[0] >= total

    run_batches(stream, GROUP, consumer, handler, max_records=10, block_ms=200, stop=done)
    stream.close()


if __name__ == "__main__":
    url, name, sink, consumer, total, kill_after = sys.argv[1:7]
    consume(url, name, sink, consumer, int(total), int(kill_after))
