"""Querying the lake with DuckDB in-process (the embedded engine of the house plan).

:func:`duckdb_connection` opens a connection with one view per data set over its
Hive-partitioned files, so an analysis can say ``SELECT … FROM telemetry WHERE date = …``
and DuckDB prunes partitions by path. The views read only complete files (``*.parquet``;
writers' temporaries end in ``.tmp``). A data set with no files yet still gets a view, empty
but with the right columns, so queries do not fail on a fresh lake.

Other readers: Spark and Trino read the same layout; with pyarrow use
``pyarrow.dataset.dataset(root / "telemetry", format="parquet", partitioning="hive")``
(``pq.read_table(directory)`` infers ``operator`` as a dictionary and then clashes with the
``operator`` column every file also carries, so that each file is complete on its own).

The session time zone is Asia/Shanghai (the house convention), so ``date_trunc('day', …)``
and printed timestamps are Beijing time; stored values stay UTC instants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from .files import data_files, partitions
from .schemas import DATASETS, LAKE_TZ

_HIVE_TYPES = "{'date': 'DATE', 'operator': 'VARCHAR'}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _has_files(root: Path, dataset: str) -> bool:
    return any(data_files(p.path) for p in partitions(root, dataset))


def duckdb_connection(
    root: Path | str,
    database: str = ":memory:",
    *,
    only: Mapping[str, Sequence[Path]] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views ``telemetry``, ``trips``, ``events``, ``telemetry_hourly``.

    Each view has the data set's columns plus ``date`` (DATE, the Beijing partition date).
    Views list files when a query runs, so files added later are seen; compaction and
    retention replace files atomically, but a query already running while they delete a
    file may fail and should be retried.

    ``only`` narrows data sets to given files of theirs: ``{"trips": [files]}`` makes the
    ``trips`` view read exactly those files (Hive paths of the lake, so ``date`` still comes
    from the path); a data set named with no files is empty. The bike-share rollups use it to
    scan exactly the partitions whose summaries are missing or out of date, as they listed them.
    """
    root = Path(root)
    con = duckdb.connect(database)
    con.execute(f"SET TimeZone = {_quote(LAKE_TZ)}")
    for name, spec in DATASETS.items():
        if only is not None and name in only:
            files = [str(f) for f in only[name]]
        else:
            files = [str(root / name / "date=*" / "operator=*" / "*.parquet")] if _has_files(root, name) else []
        if files:
            # ``name`` comes from DATASETS, the paths are quoted: no outside text reaches the SQL.
            listed = "[" + ", ".join(_quote(f) for f in files) + "]"
            source = (
                f"read_parquet({listed}, hive_partitioning = true, "
                f"hive_types = {_HIVE_TYPES}, union_by_name = true)"
            )
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")  # noqa: S608
        else:
            empty = spec.schema.empty_table().append_column("date", pa.array([], pa.date32()))
            con.register(f"_empty_{name}", empty)
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _empty_{name}")  # noqa: S608
    return con


def sql_on_tables(sql: str, **tables: pa.Table) -> pa.Table:
    """Run one SQL statement over in-memory Arrow tables (UTC session) and return an Arrow table.

    Used by compaction and retention for the aggregations pyarrow has no verb for
    (``arg_min``, ``arg_max``).
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
