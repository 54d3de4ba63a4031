"""Appending batches to the lake: one new zstd Parquet file per (Beijing date, operator) partition.

A writer never rewrites or deletes: every call adds files. That makes writes cheap and
safe for concurrent consumers, at the price of many small files (merged later by
:func:`govcenter.analytics.lake.compaction.compact`) and of duplicates when a batch is
delivered twice (at-least-once streams do that). Compaction drops duplicate keys
(``event_id`` / ``trip_id`` / ``(device_id, timestamp)``), keeping the most recently written
row, so a consumer may simply write a redelivered batch again.

One ``write`` spanning several partitions is atomic per partition, not across them: after a
crash some partitions may hold the batch and others not; redelivering the batch makes it
complete, and compaction removes the doubles.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .files import check_operator, write_part
from .schemas import conform, get_spec, partition_dates


class LakeWriter:
    """Writes records of the lake's data sets under ``root``."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def write(self, dataset: str, data) -> list[Path]:
        """Validate ``data`` (records, RecordBatch or Table) and append it; return the new files.

        Raises ValueError (nothing written) if any record does not fit the data set's schema.
        """
        spec = get_spec(dataset)
        table = conform(spec, data)
        if table.num_rows == 0:
            return []
        dates = partition_dates(spec, table)
        operators = table.column("operator")
        for code in pc.unique(operators).to_pylist():
            check_operator(code)
        groups = sorted(set(zip(dates.to_pylist(), operators.to_pylist(), strict=True)))
        written = []
        for date, operator in groups:
            mask = pc.and_(pc.equal(dates, pa.scalar(date)), pc.equal(operators, pa.scalar(operator)))
            part = table.filter(mask).sort_by([(c, "ascending") for c in spec.sort])
            written.append(write_part(self.root, spec, date, operator, part))
        return written
