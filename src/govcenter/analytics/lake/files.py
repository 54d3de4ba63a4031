"""File-level mechanics of the lake: layout, atomic Parquet writes, reading with checks, locks.

Layout (Hive-style, readable by DuckDB, Spark, Trino and pyarrow datasets)::

    <root>/<dataset>/date=YYYY-MM-DD/operator=<code>/part-<uuid>.parquet

``date`` is the Beijing calendar date of the record's time column. File names carry a
time-ordered UUID (version 7 layout) so a listing shows files in write order.

A file appears under its final name only once it is complete: it is written to a hidden
temporary name that does not end in ``.parquet`` (``.part-<uuid>.tmp``), fsync'd, renamed
and the directory fsync'd. Readers glob ``*.parquet`` and so never see a half-written file;
a crash leaves at most a stray ``.tmp`` file, which :func:`remove_stale_temps` clears.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .schemas import (
    META_COMPACTED,
    META_DATASET,
    META_SCHEMA_VERSION,
    META_SOURCES,
    META_WRITTEN_AT,
    DatasetSpec,
    conform,
)

COMPRESSION = "zstd"
TEMP_SUFFIX = ".tmp"
_OPERATOR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_operator(code: str) -> str:
    """An operator code that is safe as a path segment and a Hive partition value."""
    if not isinstance(code, str) or not _OPERATOR_RE.match(code):
        raise ValueError(f"operator code {code!r} must be 1–64 letters, digits, '_' or '-'")
    return code


def check_date(value: str | dt.date) -> str:
    """``YYYY-MM-DD`` from a date or a string (ValueError otherwise)."""
    if isinstance(value, dt.datetime):
        raise ValueError("give a partition date, not a datetime")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_RE.match(value):
        dt.date.fromisoformat(value)
        return value
    raise ValueError(f"partition date {value!r} must be YYYY-MM-DD")


def partition_dir(root: Path, dataset: str, date: str, operator: str) -> Path:
    return Path(root) / dataset / f"date={date}" / f"operator={check_operator(operator)}"


@dataclass(frozen=True)
class Partition:
    dataset: str
    date: str
    operator: str
    path: Path


def partitions(root: Path, dataset: str, date: str | dt.date | None = None) -> list[Partition]:
    """The (date, operator) partition directories of a data set, sorted; optionally one date only."""
    base = Path(root) / dataset
    wanted = check_date(date) if date is not None else None
    found = []
    for date_dir in sorted(base.glob("date=*")):
        day = date_dir.name.removeprefix("date=")
        if not date_dir.is_dir() or not _DATE_RE.match(day) or (wanted and day != wanted):
            continue
        for op_dir in sorted(date_dir.glob("operator=*")):
            if op_dir.is_dir():
                found.append(Partition(dataset, day, op_dir.name.removeprefix("operator="), op_dir))
    return found


def data_files(directory: Path) -> list[Path]:
    """The complete data files of one partition (never temporaries), in name (= write) order."""
    return sorted(p for p in Path(directory).glob("*.parquet") if not p.name.startswith((".", "_")))


def dataset_bytes(root: Path, dataset: str) -> int:
    """Bytes of the complete data files of a data set."""
    return sum(p.stat().st_size for part in partitions(root, dataset) for p in data_files(part.path))


def _uuid7() -> uuid.UUID:
    """A version-7 UUID: 48-bit Unix milliseconds then randomness, so names sort by write time."""
    ms = time.time_ns() // 1_000_000
    value = (ms & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return uuid.UUID(int=value)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(directory: Path) -> None:
    """Create a directory chain and fsync each new entry's parent, so the path survives a crash."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        _fsync_dir(d.parent)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _write_durably(fh, table: pa.Table) -> None:
    """The Parquet file of ``table`` into the open temporary ``fh``, on disk before it is renamed."""
    pq.write_table(table, fh, compression=COMPRESSION)
    fh.flush()
    os.fsync(fh.fileno())


def write_part(
    root: Path,
    spec: DatasetSpec,
    date: str,
    operator: str,
    table: pa.Table,
    *,
    written_at: str | None = None,
    compacted: bool = False,
    sources: list[str] | None = None,
) -> Path:
    """Write ``table`` as a new file of one partition, atomically; return its final path."""
    directory = partition_dir(root, spec.name, check_date(date), operator)
    _makedirs(directory)
    metadata = dict(spec.arrow_schema.metadata)
    metadata[META_WRITTEN_AT] = (written_at or now_iso()).encode()
    if compacted:
        metadata[META_COMPACTED] = b"1"
    if sources is not None:
        metadata[META_SOURCES] = json.dumps(sorted(sources)).encode()
    table = table.replace_schema_metadata(metadata)
    part_id = _uuid7()
    final = directory / f"part-{part_id}.parquet"
    temp = directory / f".part-{part_id}{TEMP_SUFFIX}"
    try:
        for attempt in range(3):
            try:
                fh = open(temp, "xb")  # closed by the ``with`` below
                break
            except FileNotFoundError:
                # Retention or compaction pruned the (then empty) partition directory between
                # our mkdir and open: create it again.
                if attempt == 2:
                    raise
                _makedirs(directory)
        with fh:
            _write_durably(fh, table)
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_dir(directory)
    return final


def replace_file(path: Path, table: pa.Table) -> Path:
    """Write ``table`` to ``path`` atomically, replacing what is there (derived files: rollups).

    The data is written to a hidden temporary beside it, fsync'd and renamed over ``path``, so a
    reader sees either the old file or the new one, never a part of one.
    """
    path = Path(path)
    _makedirs(path.parent)
    temp = path.parent / f".{path.name}.{_uuid7()}{TEMP_SUFFIX}"
    try:
        with open(temp, "xb") as fh:
            _write_durably(fh, table)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_dir(path.parent)
    return path


@dataclass(frozen=True)
class FileInfo:
    """What a file's footer says: enough to order, skip or supersede it without reading the data."""

    path: Path
    rows: int
    size: int
    written_at: str
    compacted: bool
    sources: frozenset[str]

    @property
    def order(self) -> tuple[str, str]:
        return (self.written_at, self.path.name)


def file_info(path: Path, spec: DatasetSpec) -> FileInfo:
    """Read a file's footer and check it belongs to ``spec`` with a schema version we can read."""
    meta = pq.ParquetFile(path)
    kv = meta.schema_arrow.metadata or {}
    dataset = kv.get(META_DATASET, b"").decode()
    if dataset != spec.name:
        raise ValueError(f"{path}: file of data set {dataset!r} in {spec.name!r}")
    try:
        version = int(kv.get(META_SCHEMA_VERSION, b""))
    except ValueError:
        raise ValueError(f"{path}: no readable {META_SCHEMA_VERSION.decode()} in the metadata") from None
    if version > spec.version:
        raise ValueError(f"{path}: schema version {version} is newer than this code's {spec.version}")
    sources = json.loads(kv[META_SOURCES]) if META_SOURCES in kv else []
    return FileInfo(
        path=path,
        rows=meta.metadata.num_rows,
        size=path.stat().st_size,
        written_at=kv.get(META_WRITTEN_AT, b"").decode(),
        compacted=kv.get(META_COMPACTED) == b"1",
        sources=frozenset(sources),
    )


def read_part(path: Path, spec: DatasetSpec) -> pa.Table:
    """One data file as a table of the current schema (checked by :func:`conform`)."""
    return conform(spec, pq.ParquetFile(path).read())


def remove_files(paths: list[Path]) -> None:
    """Unlink files, fsync their directories, and drop partition directories left empty."""
    directories = {p.parent for p in paths}
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    for d in directories:
        if d.exists():
            _fsync_dir(d)
        prune_empty(d)


def prune_empty(directory: Path) -> None:
    """Remove an empty ``operator=`` directory and then its ``date=`` parent if that is empty too."""
    for d in (directory, directory.parent):
        if not d.name.startswith(("operator=", "date=")):
            return
        try:
            d.rmdir()
        except OSError:
            return  # not empty (or gone): stop
        _fsync_dir(d.parent)


def remove_stale_temps(directory: Path, older_than_s: float = 3600.0) -> int:
    """Delete ``.tmp`` leftovers of crashed writers (only old ones: a live writer may own a new one)."""
    cutoff = time.time() - older_than_s
    removed = 0
    for p in Path(directory).glob(f".part-*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def dataset_lock(root: Path, dataset: str) -> Iterator[None]:
    """An exclusive lock for rewriting a data set (compaction, retention); writers never take it.

    Two compactions of the same data set would otherwise both merge the same files and leave
    two compacted copies. The lock is ``flock`` on ``<root>/<dataset>/.lock``, released by the
    kernel if the process dies.
    """
    directory = Path(root) / dataset
    _makedirs(directory)
    with open(directory / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
