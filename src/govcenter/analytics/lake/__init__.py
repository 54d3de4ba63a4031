"""The Parquet lake: Hive-partitioned (Beijing date, operator), zstd, schema-versioned files.

- :mod:`.schemas` — the data sets (telemetry, trips, events, telemetry_hourly) and validation;
- :mod:`.writer` — :class:`LakeWriter`, atomic append of one file per partition;
- :mod:`.compaction` — :func:`compact`, small files → one sorted file without duplicate keys;
- :mod:`.retention` — :func:`slim` (系统瘦身), raw telemetry → hourly aggregates after N days;
- :mod:`.query` — :func:`duckdb_connection`, views for analyses;
- :mod:`.config` — the lake root and retention from Django settings (the rest needs no Django).
"""

from .compaction import CompactionReport, compact
from .query import duckdb_connection
from .retention import SlimReport, slim
from .schemas import DATASETS, SCHEMA_VERSIONS, conform
from .writer import LakeWriter

__all__ = [
    "DATASETS",
    "SCHEMA_VERSIONS",
    "CompactionReport",
    "LakeWriter",
    "SlimReport",
    "compact",
    "conform",
    "duckdb_connection",
    "slim",
]
