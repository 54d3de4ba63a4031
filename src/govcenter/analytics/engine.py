"""Engine selection for the lake's analyses: one Ibis expression, DuckDB or PySpark underneath.

:func:`connect` returns an Ibis backend on which the lake's data sets (``trips``,
``telemetry``, ``events``, ``telemetry_hourly``) are tables with the data set's columns plus
``date`` (DATE, the Beijing partition date), so an analysis written once as an Ibis
expression (``govcenter.bikeshare.analyses``) runs unchanged on either engine:

- ``"duckdb"`` (the embedded default) — the views of
  :func:`govcenter.analytics.lake.query.duckdb_connection` (``read_parquet`` with Hive
  partitioning; complete ``*.parquet`` files only) wrapped by Ibis;
- ``"pyspark"`` (the scale-out engine; the optional extra ``scale``) — a local SparkSession
  (``local[2]``, few shuffle partitions, UTC session time zone) reading the same Parquet
  with Hive partition discovery, ``*.parquet`` files only.

Both sessions run in UTC: stored values are UTC instants, and the analyses derive Beijing
dates and hours with fixed-offset arithmetic (Asia/Shanghai has had no daylight saving
since 1991), so nothing depends on the engine's idea of a session time zone.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
from pathlib import Path
from typing import Literal

import ibis
import pyarrow as pa

from .lake.files import data_files, partitions
from .lake.query import duckdb_connection
from .lake.schemas import DATASETS

Engine = Literal["duckdb", "pyspark"]
ENGINES: tuple[str, ...] = ("duckdb", "pyspark")

# Local mode: two cores on these machines, and test-sized data; Spark's default of 200
# shuffle partitions would make every group-by schedule 200 tiny tasks.
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.app.name": "govcenter-analytics",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "1g",
}


class EngineUnavailableError(RuntimeError):
    """The requested engine cannot run here (e.g. pyspark is not installed)."""


def pyspark_available() -> bool:
    """Whether the optional pyspark engine is importable."""
    return importlib.util.find_spec("pyspark") is not None


def connect(engine: Engine = "duckdb", lake_root: Path | str | None = None, *, spark_session=None):
    """An Ibis backend with the lake's data sets as tables.

    ``lake_root`` defaults to the configured lake (``GOVCENTER_LAKE_DIR``; needs Django
    settings). ``spark_session`` lets a caller share one SparkSession (tests use one per
    module); otherwise a local one is created or reused with :data:`SPARK_CONF`.
    ValueError for an unknown engine; :class:`EngineUnavailableError` when pyspark is
    requested but not installed (install the ``scale`` extra).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown analytics engine {engine!r}: use one of {list(ENGINES)}")
    if lake_root is None:
        from .lake.config import lake_root as configured_root

        lake_root = configured_root()
    root = Path(lake_root)
    if engine == "duckdb":
        return ibis.duckdb.from_connection(duckdb_connection(root))
    return _connect_pyspark(root, spark_session)


def spark_session():
    """The local SparkSession of :data:`SPARK_CONF` (created once per process, then reused)."""
    if not pyspark_available():
        raise EngineUnavailableError(
            "the pyspark engine needs pyspark: install the optional extra `scale` "
            "(pip install 'govcenter[scale]') and a Java 17 runtime"
        )
    from pyspark.sql import SparkSession

    # py4j logs every connection it closes at INFO, also from __del__ at interpreter exit
    # (after logging's streams are closed: "--- Logging error ---"). Warnings still show.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    builder = SparkSession.builder
    conf = dict(SPARK_CONF)
    # The local driver's heap: 1 GB suits tests and a week of trips; a month of Beijing trips
    # needs more (the machine's RAM allowing). Read from the environment like every setting.
    memory = os.environ.get("GOVCENTER_SPARK_DRIVER_MEMORY", "").strip()
    if memory:
        if not re.fullmatch(r"[1-9][0-9]*[mgMG]", memory):
            raise ValueError(f"GOVCENTER_SPARK_DRIVER_MEMORY={memory!r}: give a size like 4g or 2048m")
        conf["spark.driver.memory"] = memory
    for key, value in conf.items():
        builder = builder.config(key, value)
    # The analyses' UDFs (districts, H3) are pickled by reference to this package: Python
    # workers must import govcenter even when it runs from a source tree, not an install.
    source = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    builder = builder.config("spark.executorEnv.PYTHONPATH", path)
    # Workers run this interpreter (the virtualenv's), not whatever `python3` is on PATH;
    # pyspark reads the worker interpreter from the environment when the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _connect_pyspark(root: Path, session=None):
    session = session or spark_session()
    for name, spec in DATASETS.items():
        if any(data_files(p.path) for p in partitions(root, name)):
            frame = (
                session.read.option("basePath", str(root / name))
                .option("pathGlobFilter", "*.parquet")  # writers' temporaries end in .tmp
                .option("mergeSchema", "true")
                .parquet(str(root / name / "date=*" / "operator=*"))
            )
            # Partition discovery infers ``date`` as DATE and ``operator`` as a string; the
            # ``operator`` column every file also carries holds the same value.
            frame = frame.select(*spec.schema.names, "date")
        else:
            empty = spec.schema.empty_table().append_column("date", pa.array([], pa.date32()))
            frame = session.createDataFrame(empty.to_pandas(), schema=_spark_schema(empty.schema))
        frame.createOrReplaceTempView(name)
    # The view names are session-wide: a second connect() on the same session re-points them.
    return ibis.pyspark.connect(session)


def _spark_schema(schema: pa.Schema):
    from pyspark.sql import types as spark_types

    def convert(type_: pa.DataType):
        if pa.types.is_string(type_):
            return spark_types.StringType()
        if pa.types.is_timestamp(type_):
            return spark_types.TimestampType()
        if pa.types.is_floating(type_):
            return spark_types.DoubleType()
        if pa.types.is_integer(type_):
            return spark_types.LongType()
        if pa.types.is_date(type_):
            return spark_types.DateType()
        if pa.types.is_list(type_):
            return spark_types.ArrayType(convert(type_.value_type))
        raise TypeError(f"no Spark type for {type_}")

    return spark_types.StructType([spark_types.StructField(f.name, convert(f.type), True) for f in schema])
