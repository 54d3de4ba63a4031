"""The ``Stream`` port: an append-only log of opaque records read by consumer groups.

Guarantees every adapter gives (and the tests in ``tests/analytics/test_stream.py`` check):

* ``publish`` returns only once the records are durable in the backend (spool: fsync'd;
  Redis: accepted by the server, durable as far as its persistence settings go; NATS: the
  JetStream PubAck arrived). A publish that raises may still have stored some records.
* Delivery is **at least once**: a message is handed out again until it is acknowledged.
  Messages read but never acked by a consumer that died are redelivered to the group —
  after the visibility timeout (Redis, NATS) or when the group is reopened (spool).
* Hence consumers must write idempotently (key the sink on a record id carried *in* the
  payload) and ack only after their writes are durable; ``run_batches`` does the latter.
* Order is the publish order within one stream as far as the backend keeps it; redelivered
  messages may arrive after newer ones.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

# One rule for all adapters: the name becomes a directory, a Redis key and a JetStream stream
# and subject token, and neither may contain dots, wildcards, slashes or spaces.
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_VISIBILITY_MS = 30_000


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid stream/group/consumer name, else raise ValueError."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(f"invalid {kind} name {value!r}: use 1-64 of A-Z a-z 0-9 _ -")
    return value


@dataclass(frozen=True)
class Message:
    """One delivered record: ``id`` is what ``ack`` takes; ``data`` is the published bytes."""

    id: str
    data: bytes


class Stream(ABC):
    """A named, durable stream. Instances are not thread-safe; use one per thread/process."""

    name: str

    @abstractmethod
    def publish(self, records: list[bytes]) -> None:
        """Append ``records`` (in order); durable when this returns."""

    @abstractmethod
    def read(self, group: str, consumer: str, *, max_records: int, block_ms: int) -> list[Message]:
        """Return up to ``max_records`` messages for ``consumer`` of ``group``, waiting up to
        ``block_ms`` milliseconds when none is ready (``[]`` on timeout). The group is created
        on first use and starts at the beginning of the stream."""

    @abstractmethod
    def ack(self, group: str, ids: list[str]) -> None:
        """Mark messages as processed by ``group``; they will not be delivered to it again.
        Ids this group never had delivered are ignored."""

    @abstractmethod
    def destroy(self) -> None:
        """Delete the stream and all its groups (tests, decommissioning)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections, locks and threads. Unacked messages stay pending."""

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
