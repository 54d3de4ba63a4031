"""``Stream`` on NATS JetStream: one JetStream stream per name, a durable pull consumer per group.

* The JetStream stream ``<name>`` (file storage, limits retention) captures subject
  ``govcenter.stream.<name>``; it is created on first use.
* ``publish`` waits for the JetStream PubAck of every record: when it returns, the server
  has stored them (file storage; fsync follows the server's ``sync_interval``).
* Each group is a durable pull consumer (``ack_policy=explicit``, ``deliver_policy=all``) with
  ``ack_wait`` = the visibility timeout: a message not acked within it — for instance because
  its consumer died — is delivered again to whoever fetches from the group. The ``consumer``
  argument is only a label here: all fetchers of a durable share its messages.
* ``ack`` waits for the server's confirmation (double ack). Only messages this instance
  delivered can be acked (the ack goes to their reply subject); other ids are ignored.
  A message id is the stream sequence number.

nats-py is asyncio-only: the adapter owns a private event loop on a daemon thread with one
persistent connection, and each call submits a coroutine to it and waits for the result.

URL: ``nats://host:port?visibility_ms=30000`` (``visibility_ms`` is removed before connecting).
"""

from __future__ import annotations

import asyncio
import threading

import nats
from nats.js import api
from nats.js.errors import NotFoundError

from .base import Message, Stream, check_name

SUBJECT_PREFIX = "govcenter.stream."
CALL_TIMEOUT = 60.0  # upper bound for one call to the loop thread (server gone, etc.)


class NatsStream(Stream):
    def __init__(self, url: str, name: str, *, visibility_ms: int):
        self.name = check_name("stream", name)
        self.subject = SUBJECT_PREFIX + name
        self.visibility_ms = visibility_ms
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"nats-stream-{name}", daemon=True
        )
        self._thread.start()
        self._subs: dict[str, object] = {}  # group -> PullSubscription
        self._delivered: dict[str, dict[str, object]] = {}  # group -> id -> nats Msg
        try:
            self._nc, self._js = self._call(self._connect(url))
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro, timeout: float = CALL_TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self, url: str):
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3, allow_reconnect=True)
        js = nc.jetstream()
        try:
            await js.stream_info(self.name)
        except NotFoundError:
            await js.add_stream(name=self.name, subjects=[self.subject], storage=api.StorageType.FILE)
        return nc, js

    def publish(self, records: list[bytes]) -> None:
        if records:
            self._call(self._publish([bytes(r) for r in records]))

    async def _publish(self, records: list[bytes]) -> None:
        for record in records:
            await self._js.publish(self.subject, record, stream=self.name)

    async def _subscription(self, group: str):
        sub = self._subs.get(group)
        if sub is None:
            config = api.ConsumerConfig(
                durable_name=group,
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL,
                ack_wait=self.visibility_ms / 1000,
            )
            sub = await self._js.pull_subscribe(self.subject, durable=group, stream=self.name, config=config)
            self._subs[group] = sub
            self._delivered[group] = {}
        return sub

    async def _fetch(self, group: str, max_records: int, block_ms: int) -> list[Message]:
        sub = await self._subscription(group)
        try:
            msgs = await sub.fetch(batch=max_records, timeout=max(block_ms, 50) / 1000)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        out = []
        for msg in msgs:
            message_id = str(msg.metadata.sequence.stream)
            self._delivered[group][message_id] = msg
            out.append(Message(message_id, msg.data))
        return out

    def read(self, group: str, consumer: str, *, max_records: int, block_ms: int) -> list[Message]:
        check_name("group", group)
        check_name("consumer", consumer)
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        return self._call(self._fetch(group, max_records, block_ms))

    async def _ack(self, group: str, ids: list[str]) -> None:
        delivered = self._delivered.get(group, {})
        for message_id in ids:
            msg = delivered.pop(message_id, None)
            if msg is not None:
                await msg.ack_sync(timeout=5)

    def ack(self, group: str, ids: list[str]) -> None:
        if ids:
            self._call(self._ack(group, list(ids)))

    async def _destroy(self) -> None:
        try:
            await self._js.delete_stream(self.name)
        except NotFoundError:
            pass

    def destroy(self) -> None:
        self._call(self._destroy())
        self.close()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._loop.is_running():
            try:
                self._call(self._nc.close(), timeout=10)
            except Exception:  # noqa: BLE001,S110 - closing a broken connection is best effort
                pass
        self._subs.clear()
        self._delivered.clear()
        self._stop_loop()
