"""The ``Stream`` port and its adapters (see ``base`` for the guarantees).

``open_stream(name, url)`` picks the adapter from the URL scheme (default: the setting
``GOVCENTER_STREAM_URL``):

* ``spool:///absolute/dir`` — embedded, fsync'd segment files (one consumer per group);
* ``redis://host:port/db[?visibility_ms=N]`` — Redis Streams consumer groups;
* ``nats://host:port[?visibility_ms=N]`` — NATS JetStream durable pull consumers.

``visibility_ms`` (default 30000) is how long a delivered, unacked message stays with its
consumer before it is redelivered to the group (Redis, NATS; the spool redelivers on reopen).

``run_batches`` is the consumer loop: read a micro-batch, hand it to the handler, ack only
after the handler returned — so a crash anywhere before the ack means redelivery, never loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import DEFAULT_VISIBILITY_MS, Message, Stream, check_name

__all__ = ["Message", "Stream", "open_stream", "run_batches"]


def _split_options(url: str) -> tuple[str, int]:
    """Remove our ``visibility_ms`` option from ``url``; return the clean URL and its value."""
    parts = urlsplit(url)
    query, visibility_ms = [], DEFAULT_VISIBILITY_MS
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "visibility_ms":
            try:
                visibility_ms = int(value)
            except ValueError:
                raise ValueError(f"stream URL {url!r}: visibility_ms must be an integer") from None
            if visibility_ms < 1:
                raise ValueError(f"stream URL {url!r}: visibility_ms must be positive")
        else:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query))), visibility_ms


def open_stream(name: str, url: str | None = None) -> Stream:
    """Open the stream ``name`` on the backend ``url`` names (default: ``GOVCENTER_STREAM_URL``).

    Raises ValueError for a bad name or an unusable URL (unknown scheme, missing path/host).
    """
    check_name("stream", name)
    if url is None:
        from django.conf import settings

        url = settings.GOVCENTER_STREAM_URL
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"stream URL {url!r}: expected spool://<dir>, redis://… or nats://…")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "spool":
        from .spool import SpoolStream

        root = url.split("://", 1)[1]
        if not root.startswith("/") or "?" in root or "#" in root:
            raise ValueError(f"stream URL {url!r}: spool needs an absolute directory, spool:///path")
        return SpoolStream(root, name)
    if scheme in ("redis", "rediss", "nats", "tls"):
        clean, visibility_ms = _split_options(url)
        if not urlsplit(clean).hostname:
            raise ValueError(f"stream URL {url!r}: missing host")
        if scheme.startswith("redis"):
            from .redis_streams import RedisStream

            return RedisStream(clean, name, visibility_ms=visibility_ms)
        from .nats_js import NatsStream

        return NatsStream(clean, name, visibility_ms=visibility_ms)
    raise ValueError(f"stream URL {url!r}: unknown scheme {scheme!r} (use spool, redis or nats)")


def run_batches(
    stream: Stream,
    group: str,
    consumer: str,
    handler: Callable[[list[Message]], None],
    *,
    max_records: int = 500,
    block_ms: int = 1000,
    stop: Callable[[], bool] | None = None,
    min_records: int = 1,
    linger_ms: int = 0,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Consume micro-batches until ``stop()`` is true (checked before every read; pass e.g.
    ``event.is_set``); with ``stop=None`` return at the first empty read (drain).

    Each batch is acked only after ``handler(messages)`` returned; if it raises, nothing is
    acked and the exception propagates (the batch will be redelivered). The handler must be
    idempotent. Returns the number of messages handled.

    ``min_records`` / ``linger_ms`` (as Kafka's ``fetch.min.bytes`` / ``fetch.max.wait.ms``):
    a batch of fewer than ``min_records`` messages waits up to ``linger_ms`` for more before it
    is handled, so a sink with a fixed cost per write (the lake: files, fsyncs) writes fewer,
    larger batches when producers trickle. Keep ``linger_ms`` well below the stream's
    visibility timeout (messages read and not yet acked are redelivered after it).
    """
    if max_records < 1 or min_records < 1 or linger_ms < 0:
        raise ValueError("max_records and min_records must be positive, linger_ms not negative")
    min_records = min(min_records, max_records)
    handled = 0
    while stop is None or not stop():
        messages = stream.read(group, consumer, max_records=max_records, block_ms=block_ms)
        if not messages:
            if stop is None:
                break
            continue
        if len(messages) < min_records and linger_ms:
            messages = list(messages)
            deadline = clock() + linger_ms / 1000.0
            while len(messages) < min_records and (left := deadline - clock()) > 0:
                more = stream.read(
                    group, consumer, max_records=max_records - len(messages), block_ms=max(1, int(left * 1000))
                )
                messages.extend(more)
        handler(messages)
        stream.ack(group, [m.id for m in messages])
        handled += len(messages)
    return handled
