"""A DuckDB connection over the parking data sets of the lake (only the files the manifests list)."""

from __future__ import annotations

import os
import threading

import duckdb
import pyarrow as pa

from ..lake.sync import DATASETS, live_sql

LAKE_TZ = "Asia/Shanghai"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None
_DATABASE_LOCK = threading.Lock()


def _session() -> duckdb.DuckDBPyConnection:
    """A new session of the process's in-memory DuckDB database (about half a millisecond; a
    database of its own costs ~17 ms, which a page of nine statistics paid nine times). The
    sessions share the database's memory limit and threads; each has its own settings and
    temporary views, dropped when it closes. A forked process (a worker) opens its own."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None or _DATABASE[0] != os.getpid():
            _DATABASE = (os.getpid(), duckdb.connect())
        return _DATABASE[1].cursor()


def connection(root=None, *, datasets=None) -> duckdb.DuckDBPyConnection:
    """Views ``orders`` … (each data set's columns plus ``date`` and ``district`` from the path).

    The session time zone is Asia/Shanghai: ``hour(started_at)`` is the Beijing hour.
    ``datasets``: only those views (``()``: none, for a query the cubes answer alone; None:
    all) — binding a view over a year of daily partitions (~6,000 files) costs a noticeable
    part of a second per data set. Every view and table made on it must be TEMP (the session's
    own: the database is shared); close it when done.
    """
    con = _session()
    con.execute(f"SET TimeZone = {_quote(LAKE_TZ)}")
    for name, dataset in DATASETS.items():
        if datasets is not None and name not in datasets:
            continue
        select = live_sql(root, name)  # daily files and packed months (lake/sync.py)
        if select:
            con.execute(f"CREATE TEMP VIEW {name} AS {select}")  # noqa: S608
        else:
            empty = dataset.schema.empty_table()
            empty = empty.append_column("date", pa.array([], pa.date32()))
            empty = empty.append_column("district", pa.array([], pa.string()))
            con.register(f"_empty_{name}", empty)  # registered objects are the session's own
            con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM _empty_{name}")  # noqa: S608
    return con
