"""A logging handler that collects this process's log records into ``LogRecord``.

Three promises:

* **Never blocks.** ``emit`` formats the record into a plain dict and ``put_nowait``s it on a
  bounded queue; when the queue is full the record is dropped and counted (``dropped``, and the
  Prometheus counter ``govcenter_ops_log_dropped_total``). A background thread (its own database
  connection, so never inside the caller's transaction) writes batches with ``bulk_create``.
* **Never recurses.** Records emitted while this handler is writing (in the writing thread) are
  ignored, and so are the loggers of the database layer and of this package; a failed write is
  reported on stderr at most once a minute, never through ``logging``.
* **Drops, not fails, when the database is away.** A batch that cannot be written is dropped and
  counted; the application goes on.

Configured in ``settings/ops.py`` when ``GOVCENTER_OPS_LOG_COLLECT`` is on (level
``GOVCENTER_OPS_LOG_COLLECT_LEVEL``, WARNING by default).
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import socket
import sys
import threading
import time

IGNORED_LOGGERS = ("django.db.backends", "govcenter.ops.logaudit")
_local = threading.local()

try:
    from prometheus_client import Counter

    DROPPED = Counter("govcenter_ops_log_dropped", "Log records the central log handler dropped")
except Exception:  # noqa: BLE001  (a second registration in the same process, or no client)
    DROPPED = None


class DatabaseLogHandler(logging.Handler):
    def __init__(self, level=logging.WARNING, *, capacity: int = 10_000, batch_size: int = 500,
                 interval: float = 2.0, start_thread: bool = True, app: str = "govcenter"):  # fmt: skip
        super().__init__(level)
        self.queue: queue.Queue[dict] = queue.Queue(maxsize=capacity)
        self.batch_size = batch_size
        self.interval = interval
        self.start_thread = start_thread
        self.host = socket.gethostname()[:100]
        self.app = app
        self.dropped = 0
        self.written = 0
        self.last_error = ""
        self._last_report = 0.0
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---------------------------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_local, "writing", False) or record.name.startswith(IGNORED_LOGGERS):
            return
        try:
            item = self._item(record)
        except Exception:  # noqa: BLE001  (a broken %-format must not break the caller)
            self._drop(1)
            return
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self._drop(1)
            return
        if self.start_thread and self._thread is None:
            self._start()
        if self.queue.qsize() >= self.batch_size:
            self._wake.set()

    def _item(self, record: logging.LogRecord) -> dict:
        extra = {}
        if record.exc_info:
            extra["exc"] = logging.Formatter().formatException(record.exc_info)[-8000:]
        for key in ("status_code", "path", "method"):
            if hasattr(record, key):
                extra[key] = str(getattr(record, key))[:300]
        user_id = getattr(record, "user_id", None)
        return {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC),
            "level": record.levelname if record.levelname in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
            else "WARNING",
            "logger": record.name[:100],
            "message": record.getMessage()[:20_000],
            "request_id": str(getattr(record, "request_id", "") or "")[:64],
            "user_id": user_id if isinstance(user_id, int) else None,
            "username": str(getattr(record, "username", "") or "")[:150],
            "action": str(getattr(record, "action", "") or "")[:40],
            "object_type": str(getattr(record, "object_type", "") or "")[:60],
            "object_id": str(getattr(record, "object_id", "") or "")[:64],
            "source_host": self.host,
            "source_app": self.app,
            "extra": extra,
        }  # fmt: skip

    def _drop(self, n: int) -> None:
        self.dropped += n
        if DROPPED is not None:
            DROPPED.inc(n)

    # ---------------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._write_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="govcenter-log-collector", daemon=True)
                self._thread.start()
                atexit.register(self.close)

    def _run(self) -> None:
        from django.db import connections

        while not self._closed:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            finally:
                connections.close_all()  # this thread's connections only

    def _drain(self) -> list[dict]:
        batch = []
        while len(batch) < self.batch_size:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def flush(self) -> None:
        """Write everything queued (in batches). Safe to call from any thread; ignores records
        emitted while it writes."""
        from django.apps import apps

        if not apps.ready:
            return  # settings and logging come up before the models: keep the queue
        with self._write_lock:
            _local.writing = True
            try:
                while batch := self._drain():
                    self._write(batch)
            finally:
                _local.writing = False

    def _write(self, batch: list[dict]) -> None:
        from govcenter.ops.models import LogRecord

        try:
            LogRecord.objects.bulk_create([LogRecord(**item) for item in batch])
            self.written += len(batch)
        except Exception as exc:  # noqa: BLE001  (database away, locked, a value it refuses)
            self._drop(len(batch))
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            now = time.monotonic()
            if now - self._last_report > 60:
                self._last_report = now
                sys.stderr.write(f"govcenter log collector: dropped {len(batch)} records ({self.last_error})\n")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wake.set()
            try:
                self.flush()
            except Exception:  # noqa: BLE001, S110  (interpreter shutdown: nowhere left to report)
                pass
        super().close()
