"""Retention and downsampling (系统瘦身): raw telemetry for N days, hourly aggregates and trips kept.

:func:`slim` turns every ``telemetry`` partition older than the retention window into
``telemetry_hourly`` rows — per operator, device and UTC hour: point count, first and last
position (by time), battery mean and how many points had a battery level — and then removes
the raw files. ``trips``, ``events`` and ``telemetry_hourly`` are kept. The report gives the
bytes of every data set before and after.

The window: with ``raw_telemetry_days = N`` the raw partitions of the N Beijing dates up to
and including ``today`` are kept; older ones are downsampled. Asia/Shanghai is a whole-hour
offset from UTC, so an hour's rows fall into the same partition date as their raw points.

Crash safety and idempotence: each hourly file records which raw files it summarises
(``govcenter.sources``). A raw file already listed by an hourly file is only deleted, never
summarised twice, so a crash after the hourly file was written and before the raw files
were removed is repaired by running ``slim`` again. Late telemetry arriving for a date that
was already slimmed lands in a new raw partition; the next ``slim`` summarises it into a
partial hourly file that compaction combines with the existing rows (counts add up). A late
*re-delivery* of a point already summarised cannot be recognised any more and is counted again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .compaction import compact_partition, dedupe_last
from .files import (
    data_files,
    dataset_bytes,
    dataset_lock,
    file_info,
    partition_dir,
    partitions,
    read_part,
    remove_files,
    write_part,
)
from .query import sql_on_tables
from .schemas import DATASETS, TELEMETRY, TELEMETRY_HOURLY, conform


@dataclass
class DatasetBytes:
    before: int
    after: int


@dataclass
class SlimReport:
    """What :func:`slim` did: per data set bytes, and the raw partitions it downsampled."""

    today: str
    cutoff: str  # raw partitions with a date before this were downsampled
    datasets: dict[str, DatasetBytes] = field(default_factory=dict)
    partitions_downsampled: list[tuple[str, str]] = field(default_factory=list)
    raw_rows: int = 0
    hourly_rows: int = 0
    raw_files_removed: int = 0

    @property
    def bytes_before(self) -> int:
        return sum(d.before for d in self.datasets.values())

    @property
    def bytes_after(self) -> int:
        return sum(d.after for d in self.datasets.values())

    def as_dict(self) -> dict:
        return {
            "today": self.today,
            "cutoff": self.cutoff,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "datasets": {
                k: {"bytes_before": v.before, "bytes_after": v.after} for k, v in self.datasets.items()
            },
            "partitions_downsampled": [list(p) for p in self.partitions_downsampled],
            "raw_rows": self.raw_rows,
            "hourly_rows": self.hourly_rows,
            "raw_files_removed": self.raw_files_removed,
        }


def downsample_hourly(raw: pa.Table) -> pa.Table:
    """Raw telemetry (already free of duplicate keys) → one ``telemetry_hourly`` row per device and hour."""
    result = sql_on_tables(
        """
        SELECT operator, device_id, date_trunc('hour', "timestamp") AS hour,
               count(*)::BIGINT AS point_count,
               min("timestamp") AS first_timestamp,
               arg_min(lon, "timestamp") AS first_lon,
               arg_min(lat, "timestamp") AS first_lat,
               max("timestamp") AS last_timestamp,
               arg_max(lon, "timestamp") AS last_lon,
               arg_max(lat, "timestamp") AS last_lat,
               count(battery_pct)::BIGINT AS battery_count,
               avg(battery_pct) AS battery_pct_mean
        FROM raw
        GROUP BY operator, device_id, hour
        ORDER BY device_id, hour
        """,
        raw=raw,
    )
    return conform(TELEMETRY_HOURLY, result)


def slim(root: Path | str, *, today: dt.date, raw_telemetry_days: int) -> SlimReport:
    """Downsample and remove raw telemetry older than ``raw_telemetry_days`` Beijing dates."""
    if isinstance(today, dt.datetime) or not isinstance(today, dt.date):
        raise ValueError("today must be a date (the Beijing calendar date)")
    if (
        isinstance(raw_telemetry_days, bool)
        or not isinstance(raw_telemetry_days, int)
        or raw_telemetry_days < 1
    ):
        raise ValueError(f"raw_telemetry_days must be a whole number ≥ 1, got {raw_telemetry_days!r}")
    root = Path(root)
    cutoff = (today - dt.timedelta(days=raw_telemetry_days - 1)).isoformat()
    report = SlimReport(today=today.isoformat(), cutoff=cutoff)
    before = {name: dataset_bytes(root, name) for name in DATASETS}

    with dataset_lock(root, TELEMETRY.name), dataset_lock(root, TELEMETRY_HOURLY.name):
        for part in partitions(root, TELEMETRY.name):
            if part.date >= cutoff:
                continue
            raw_files = data_files(part.path)
            if not raw_files:
                continue
            hourly_dir = partition_dir(root, TELEMETRY_HOURLY.name, part.date, part.operator)
            consumed = set()
            for p in data_files(hourly_dir):
                consumed |= file_info(p, TELEMETRY_HOURLY).sources
            infos = sorted((file_info(p, TELEMETRY) for p in raw_files), key=lambda i: i.order)
            pending = [i for i in infos if i.path.name not in consumed]
            if pending:
                raw = dedupe_last(
                    TELEMETRY, pa.concat_tables([read_part(i.path, TELEMETRY) for i in pending])
                )
                hourly = downsample_hourly(raw)
                write_part(
                    root,
                    TELEMETRY_HOURLY,
                    part.date,
                    part.operator,
                    hourly,
                    sources=[i.path.name for i in pending],
                )
                report.raw_rows += raw.num_rows
                report.hourly_rows += hourly.num_rows
                hourly_parts = [
                    p
                    for p in partitions(root, TELEMETRY_HOURLY.name, part.date)
                    if p.operator == part.operator
                ]
                for hp in hourly_parts:
                    compact_partition(root, TELEMETRY_HOURLY, hp)
            remove_files(raw_files)
            report.raw_files_removed += len(raw_files)
            report.partitions_downsampled.append((part.date, part.operator))

    for name in DATASETS:
        report.datasets[name] = DatasetBytes(before[name], dataset_bytes(root, name))
    return report
