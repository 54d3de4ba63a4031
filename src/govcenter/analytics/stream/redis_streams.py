"""``Stream`` on Redis Streams: one stream key per name, Redis consumer groups per group.

* ``publish``: XADD of the whole batch in one pipeline (not a transaction: a failure may leave
  a prefix stored, which at-least-once consumers tolerate). Durable as far as the server's
  persistence goes — run Redis with ``appendonly yes`` (``appendfsync everysec`` loses up to
  a second on power loss; ``always`` loses nothing).
* ``read``: XGROUP CREATE … MKSTREAM (from the start) on first use; then, in this order,
  (1) on the first read of a consumer name in this process, its own pending entries (a
  restarted consumer with the same name gets its unacked messages back at once),
  (2) XAUTOCLAIM of entries other consumers left pending longer than the visibility timeout
  (their consumer died), (3) new entries with XREADGROUP ``>``.
* ``ack``: XACK. Entries stay in the stream (trim with XTRIM as a retention policy).

URL: ``redis://host:port/db?visibility_ms=30000`` (``visibility_ms`` is ours and removed
before the URL goes to redis-py).
"""

from __future__ import annotations

import redis

from .base import Message, Stream, check_name

KEY_PREFIX = "govcenter:stream:"


class RedisStream(Stream):
    def __init__(self, url: str, name: str, *, visibility_ms: int):
        self.name = check_name("stream", name)
        self.key = KEY_PREFIX + name
        self.visibility_ms = visibility_ms
        self.client = redis.Redis.from_url(url)
        self._groups: set[str] = set()
        self._own_pending_checked: set[tuple[str, str]] = set()

    def publish(self, records: list[bytes]) -> None:
        if not records:
            return
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            pipe.xadd(self.key, {b"d": bytes(record)})
        pipe.execute()

    def _ensure_group(self, group: str) -> None:
        if group in self._groups:
            return
        try:
            self.client.xgroup_create(self.key, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(group)

    @staticmethod
    def _messages(entries) -> list[Message]:
        out = []
        for entry_id, fields in entries:
            if not fields:  # entry deleted (trimmed) while pending
                continue
            out.append(Message(entry_id.decode(), fields[b"d"]))
        return out

    def read(self, group: str, consumer: str, *, max_records: int, block_ms: int) -> list[Message]:
        check_name("group", group)
        check_name("consumer", consumer)
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._ensure_group(group)
        if (group, consumer) not in self._own_pending_checked:
            reply = self.client.xreadgroup(group, consumer, {self.key: "0"}, count=max_records)
            own = self._messages(reply[0][1]) if reply else []
            if own:
                return own
            self._own_pending_checked.add((group, consumer))
        claimed = self.client.xautoclaim(
            self.key, group, consumer, min_idle_time=self.visibility_ms, start_id="0-0", count=max_records
        )
        messages = self._messages(claimed[1])
        if messages:
            return messages
        reply = self.client.xreadgroup(
            group, consumer, {self.key: ">"}, count=max_records, block=block_ms if block_ms > 0 else None
        )
        return self._messages(reply[0][1]) if reply else []

    def ack(self, group: str, ids: list[str]) -> None:
        if ids:
            self.client.xack(self.key, group, *ids)

    def destroy(self) -> None:
        self.client.delete(self.key)

    def close(self) -> None:
        self.client.close()
