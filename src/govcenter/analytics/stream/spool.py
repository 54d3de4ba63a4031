"""The embedded default ``Stream``: a durable spool of segment files on the local disk.

Layout under ``<root>/<name>/``::

    seg-00000000.log, seg-00000001.log, …   append-only segments
    .publish.lock                          fcntl lock serialising publishers
    groups/<group>.offset                  committed position "<segment> <byte offset>"
    groups/<group>.lock                    held by the one live consumer of the group

A record on disk is ``length (4 bytes, big endian) | CRC32 of payload (4 bytes) | payload``.

Guarantees:

* ``publish`` writes the batch and ``os.fsync``\\ s the segment before returning (and the
  directory when it creates a segment), under an exclusive ``fcntl.flock`` so several
  processes may publish to the same spool.
* A crash mid-write leaves a torn tail (short header, short payload or CRC mismatch). Readers
  stop there; the next publisher truncates it before appending, so it is never delivered.
* A group's committed position is written atomically (temp file, fsync, rename, fsync dir).
  Acks advance it over the longest prefix of acked messages.
* **One consumer per group at a time**: the consumer holds ``groups/<group>.lock``; a second
  one (another process or another ``SpoolStream``) gets ``RuntimeError``. The lock dies with
  its process, and the next consumer gets everything after the committed position again —
  that is the redelivery of unacked messages (there is no timer: reopen to redeliver).
* Segments are kept; nothing is deleted (retention is an operator task for now).
* Local disk only: ``flock`` is not reliable on network filesystems.

Finding a torn tail means reading and CRC-checking a segment, up to its 64 MB. The bytes of a
segment up to the end this process last wrote (and fsync'd) or last verified are known good for
as long as the file is the same file — segments only grow, and only a torn tail *after* valid
records is ever cut — so :data:`_VERIFIED` remembers that end process-wide (per segment path,
with the file's device and inode so a segment deleted and recreated is not trusted — unless the
new file happens to get the old inode number, which only a deletion behind the spool's back, not
``destroy``, can cause), and a publish checks only what other processes appended since. An API worker that opens a new
``SpoolStream`` per request then reads its own writes back never.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import time
import zlib
from pathlib import Path

from .base import Message, Stream, check_name

HEADER = struct.Struct(">II")  # payload length, CRC32 of payload
MAX_RECORD_BYTES = 64 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
POLL_SECONDS = 0.05

# Process-wide: segment path -> (st_dev, st_ino, end): bytes before ``end`` are valid records
# (this process wrote and fsync'd them, or scanned them). Guarded by the publish flock across
# processes and by the GIL for the dict itself; a stale entry is only ever an under-estimate.
_VERIFIED: dict[str, tuple[int, int, int]] = {}
# Bytes read to look for torn tails (evidence for tests; cheap to keep).
stats = {"tail_bytes_scanned": 0}


def _known_good(path: Path, st: os.stat_result) -> int:
    entry = _VERIFIED.get(str(path))
    if entry is None or entry[:2] != (st.st_dev, st.st_ino) or entry[2] > st.st_size:
        return 0
    return entry[2]


def _remember(path: Path, st: os.stat_result, end: int) -> None:
    _VERIFIED[str(path)] = (st.st_dev, st.st_ino, end)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _segment_path(directory: Path, number: int) -> Path:
    return directory / f"seg-{number:08d}.log"


def _segments(directory: Path) -> list[int]:
    numbers = []
    for path in directory.glob("seg-*.log"):
        try:
            numbers.append(int(path.stem[4:]))
        except ValueError:
            continue
    return sorted(numbers)


def scan(data: bytes, pos: int) -> tuple[list[tuple[int, int, bytes]], int]:
    """Parse complete, valid records in ``data`` from ``pos``: returns ``[(start, end,
    payload)]`` and the end of the last valid record (where a torn tail, if any, begins)."""
    records = []
    while pos + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        payload = data[pos + HEADER.size : end]
        if zlib.crc32(payload) != crc:
            break
        records.append((pos, end, payload))
        pos = end
    return records, pos


def _read_all(fd: int, count: int) -> bytes:
    """``count`` bytes from ``fd``'s position (fewer only at end of file)."""
    chunks = []
    while count > 0:
        chunk = os.read(fd, min(count, 16 * 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


class SpoolStream(Stream):
    def __init__(self, root: str | os.PathLike, name: str, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES):
        self.name = check_name("stream", name)
        self.directory = Path(root) / name
        self.groups_dir = self.directory / "groups"
        self.groups_dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._group_locks: dict[str, int] = {}  # group -> fd of its held lock file
        self._cursor: dict[str, tuple[int, int]] = {}  # group -> next read position
        self._pending: dict[str, dict[str, tuple[tuple[int, int], bool]]] = {}  # id -> (end, acked)

    # -- publishing ---------------------------------------------------------------------
    def publish(self, records: list[bytes]) -> None:
        if not records:
            return
        blob = bytearray()
        for record in records:
            record = bytes(record)
            if len(record) > MAX_RECORD_BYTES:
                raise ValueError(f"record of {len(record)} bytes exceeds {MAX_RECORD_BYTES}")
            blob += HEADER.pack(len(record), zlib.crc32(record)) + record
        lock_fd = os.open(self.directory / ".publish.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            numbers = _segments(self.directory)
            number = numbers[-1] if numbers else 0
            path = _segment_path(self.directory, number)
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if created:
                    _fsync_dir(self.directory)
                st = os.fstat(fd)
                size = st.st_size
                if size:
                    # Cut a torn tail left by a publisher that crashed mid-write. Bytes before
                    # the end this process last wrote or verified are known good (module
                    # doc), so only the rest needs checking.
                    known = _known_good(path, st)
                    if known < size:
                        os.lseek(fd, known, os.SEEK_SET)
                        data = _read_all(fd, size - known)
                        stats["tail_bytes_scanned"] += len(data)
                        _, valid_end = scan(data, 0)
                        valid_end += known
                        if valid_end != size:
                            os.ftruncate(fd, valid_end)
                            size = valid_end
                        _remember(path, st, size)
                if size and size + len(blob) > self.segment_bytes:
                    os.fsync(fd)
                    os.close(fd)
                    number += 1
                    path = _segment_path(self.directory, number)
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                    _fsync_dir(self.directory)
                    st = os.fstat(fd)
                    size = 0
                os.lseek(fd, size, os.SEEK_SET)
                view = memoryview(blob)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
                _remember(path, st, size + len(blob))
            finally:
                os.close(fd)
        finally:
            os.close(lock_fd)  # releases the flock

    # -- consuming ----------------------------------------------------------------------
    def _offset_path(self, group: str) -> Path:
        return self.groups_dir / f"{group}.offset"

    def _open_group(self, group: str) -> None:
        if group in self._group_locks:
            return
        fd = os.open(self.groups_dir / f"{group}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"spool stream {self.name!r}: group {group!r} already has a live consumer "
                "(the spool allows one consumer per group)"
            ) from None
        self._group_locks[group] = fd
        try:
            segment, offset = self._offset_path(group).read_text().split()
            self._cursor[group] = (int(segment), int(offset))
        except FileNotFoundError:
            numbers = _segments(self.directory)
            self._cursor[group] = (numbers[0] if numbers else 0, 0)
        self._pending[group] = {}

    def _scan_from(self, segment: int, offset: int) -> list[tuple[int, int, bytes]]:
        try:
            with open(_segment_path(self.directory, segment), "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return []
        return [(offset + start, offset + end, payload) for start, end, payload in scan(data, 0)[0]]

    def _read_available(self, group: str, max_records: int) -> list[Message]:
        segment, offset = self._cursor[group]
        out: list[Message] = []
        while len(out) < max_records:
            records = self._scan_from(segment, offset)
            if not records:
                # End of valid data here. Move on only if a later segment exists AND this one
                # still has nothing more after we saw it (a publisher finishes and truncates a
                # segment before it creates the next one, so a re-scan is then final).
                later = [n for n in _segments(self.directory) if n > segment]
                if not later:
                    break
                if self._scan_from(segment, offset):
                    continue
                segment, offset = later[0], 0
                continue
            for start, end, payload in records[: max_records - len(out)]:
                message_id = f"{segment:08d}-{start:012d}"
                out.append(Message(message_id, payload))
                self._pending[group][message_id] = ((segment, end), False)
                offset = end
        self._cursor[group] = (segment, offset)
        return out

    def read(self, group: str, consumer: str, *, max_records: int, block_ms: int) -> list[Message]:
        check_name("group", group)
        check_name("consumer", consumer)
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._open_group(group)
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            messages = self._read_available(group, max_records)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(POLL_SECONDS)

    def ack(self, group: str, ids: list[str]) -> None:
        pending = self._pending.get(group)
        if not pending:
            return
        for message_id in ids:
            if message_id in pending:
                pending[message_id] = (pending[message_id][0], True)
        committed = None
        # Delivery order is position order, and dicts keep insertion order.
        for message_id in list(pending):
            end, acked = pending[message_id]
            if not acked:
                break
            committed = end
            del pending[message_id]
        if committed is not None:
            self._commit(group, committed)

    def _commit(self, group: str, position: tuple[int, int]) -> None:
        target = self._offset_path(group)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, f"{position[0]} {position[1]}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _fsync_dir(self.groups_dir)

    def close(self) -> None:
        for fd in self._group_locks.values():
            os.close(fd)
        self._group_locks.clear()
        self._cursor.clear()
        self._pending.clear()

    def destroy(self) -> None:
        self.close()
        prefix = str(self.directory) + os.sep
        for key in [k for k in _VERIFIED if k.startswith(prefix)]:
            del _VERIFIED[key]
        shutil.rmtree(self.directory, ignore_errors=True)
