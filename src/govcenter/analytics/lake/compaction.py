"""Compaction: merge each partition's small files into one, sorted, without duplicate keys.

For every (date, operator) partition of a data set the files are read in write order
(footer ``govcenter.written_at``, then the time-ordered file name), concatenated, reduced
to one row per key — the row written last wins, so a corrected re-delivery replaces the
original — sorted by the data set's sort columns (device_id, time) and written as one new
file. ``telemetry_hourly`` holds partial aggregates instead: rows with the same key are
combined (counts summed, first/last position by time, battery mean weighted by count).

Crash safety: the merged file is written atomically first, then the old files are removed.
A crash in between leaves the merged file next to (some of) its inputs, so readers see
duplicate rows until the next compaction, which merges them away again: the merged file
carries the newest ``written_at`` of its inputs, so any row still in an input equals the
merged one. For ``telemetry_hourly``, where duplicates cannot be told from partial
aggregates by content, each file lists the raw files it summarises (``govcenter.sources``);
a file whose sources are all covered by another file is a leftover and is discarded.

Files written while a compaction runs are not touched (only the files it read are removed),
and a lock per data set keeps two compactions (or a compaction and :func:`slim`) apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .files import (
    FileInfo,
    Partition,
    data_files,
    dataset_lock,
    file_info,
    partitions,
    prune_empty,
    read_part,
    remove_files,
    remove_stale_temps,
    write_part,
)
from .query import sql_on_tables
from .schemas import DatasetSpec, conform, get_spec


@dataclass
class PartitionReport:
    """Before/after figures of one partition; ``skipped`` when it was already compact."""

    date: str
    operator: str
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int
    bytes_before: int
    bytes_after: int
    skipped: bool = False


@dataclass
class CompactionReport:
    dataset: str
    partitions: list[PartitionReport] = field(default_factory=list)

    def _total(self, name: str) -> int:
        return sum(getattr(p, name) for p in self.partitions)

    files_before = property(lambda self: self._total("files_before"))
    files_after = property(lambda self: self._total("files_after"))
    rows_before = property(lambda self: self._total("rows_before"))
    rows_after = property(lambda self: self._total("rows_after"))
    bytes_before = property(lambda self: self._total("bytes_before"))
    bytes_after = property(lambda self: self._total("bytes_after"))

    def as_dict(self) -> dict:
        totals = {
            k: getattr(self, k)
            for k in (
                "files_before",
                "files_after",
                "rows_before",
                "rows_after",
                "bytes_before",
                "bytes_after",
            )
        }
        return {"dataset": self.dataset, **totals, "partitions": [asdict(p) for p in self.partitions]}


def dedupe_last(spec: DatasetSpec, table: pa.Table) -> pa.Table:
    """One row per ``spec.key``, the last in ``table``'s order winning; sorted by ``spec.sort``."""
    n = table.num_rows
    if n > 1:
        t = table.append_column("__order", pa.array(np.arange(n, dtype=np.int64)))
        t = t.sort_by([(k, "ascending") for k in spec.key] + [("__order", "ascending")])
        differs = None
        for k in spec.key:
            column = t.column(k)
            d = pc.not_equal(column.slice(0, n - 1), column.slice(1))
            differs = d if differs is None else pc.or_(differs, d)
        last_of_key = pa.concat_arrays([differs.combine_chunks(), pa.array([True])])
        table = t.filter(last_of_key).drop_columns(["__order"])
    return table.sort_by([(c, "ascending") for c in spec.sort])


def merge_hourly(spec: DatasetSpec, table: pa.Table) -> pa.Table:
    """Combine partial ``telemetry_hourly`` rows of the same (operator, device, hour) exactly."""
    result = sql_on_tables(
        """
        SELECT operator, device_id, hour,
               sum(point_count)::BIGINT AS point_count,
               min(first_timestamp) AS first_timestamp,
               arg_min(first_lon, first_timestamp) AS first_lon,
               arg_min(first_lat, first_timestamp) AS first_lat,
               max(last_timestamp) AS last_timestamp,
               arg_max(last_lon, last_timestamp) AS last_lon,
               arg_max(last_lat, last_timestamp) AS last_lat,
               sum(battery_count)::BIGINT AS battery_count,
               sum(battery_pct_mean * battery_count) / nullif(sum(battery_count), 0) AS battery_pct_mean
        FROM parts
        GROUP BY operator, device_id, hour
        ORDER BY device_id, hour
        """,
        parts=table,
    )
    return conform(spec, result)


def _drop_superseded(infos: list[FileInfo]) -> list[FileInfo]:
    """Files whose listed sources are all covered by another file are crash leftovers: drop them."""
    kept: list[FileInfo] = []
    for info in sorted(infos, key=lambda i: (-len(i.sources), not i.compacted, i.order)):
        if info.sources and any(info.sources <= k.sources for k in kept):
            continue
        kept.append(info)
    return sorted(kept, key=lambda i: i.order)


def compact_partition(root: Path, spec: DatasetSpec, part: Partition) -> PartitionReport:
    """Compact one partition (the caller holds the data set's lock)."""
    remove_stale_temps(part.path)
    infos = sorted((file_info(p, spec) for p in data_files(part.path)), key=lambda i: i.order)
    rows = sum(i.rows for i in infos)
    size = sum(i.size for i in infos)
    unchanged = PartitionReport(
        part.date, part.operator, len(infos), len(infos), rows, rows, size, size, True
    )
    if not infos:
        prune_empty(part.path)
        return unchanged
    if len(infos) == 1 and (infos[0].compacted or spec.mergeable):
        return unchanged
    live = _drop_superseded(infos) if spec.mergeable else infos
    merged = pa.concat_tables([read_part(i.path, spec) for i in live])
    result = merge_hourly(spec, merged) if spec.mergeable else dedupe_last(spec, merged)
    sources = sorted(set().union(*(i.sources for i in live))) if spec.mergeable else None
    new_files = []
    if result.num_rows:
        new_files.append(
            write_part(
                root,
                spec,
                part.date,
                part.operator,
                result,
                written_at=max(i.written_at for i in infos),
                compacted=True,
                sources=sources,
            )
        )
    remove_files([i.path for i in infos])
    return PartitionReport(
        part.date,
        part.operator,
        files_before=len(infos),
        files_after=len(new_files),
        rows_before=rows,
        rows_after=result.num_rows,
        bytes_before=size,
        bytes_after=sum(p.stat().st_size for p in new_files),
    )


def compact(root: Path | str, dataset: str, date: str | dt.date | None = None) -> CompactionReport:
    """Compact every partition of ``dataset`` (or only those of one Beijing ``date``)."""
    spec = get_spec(dataset)
    root = Path(root)
    report = CompactionReport(spec.name)
    with dataset_lock(root, spec.name):
        for part in partitions(root, spec.name, date):
            report.partitions.append(compact_partition(root, spec, part))
    return report
