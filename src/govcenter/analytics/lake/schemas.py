"""The lake's data sets: their Arrow schemas, schema versions, partition time column and keys.

Every Parquet file carries ``govcenter.dataset`` and ``govcenter.schema_version`` in its
key-value metadata, so a file found on its own says what it is and which schema wrote it.
Bump a data set's version whenever its schema changes; files with a newer version than the
running code are refused (they were written by code this one does not know).

Coordinates are GCJ-02 (the Center's canonical datum); ``source_datum`` keeps the datum the
operator sent, so a position can be traced back to what was received.

:func:`conform` is the one gate every table passes before it is written: it turns records
(mappings) or an Arrow table into a table of exactly the data set's schema, or raises a
``ValueError`` naming the column at fault (missing, unknown, wrong type, null where not
allowed, naive timestamp, unknown datum, coordinate out of range).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from govcenter.core.geo import Datum

META_DATASET = b"govcenter.dataset"
META_SCHEMA_VERSION = b"govcenter.schema_version"
META_WRITTEN_AT = b"govcenter.written_at"  # ISO-8601 UTC; orders files for "last write wins"
META_COMPACTED = b"govcenter.compacted"  # "1" on files written by compaction
META_SOURCES = b"govcenter.sources"  # telemetry_hourly: JSON list of the raw files it summarises

TIMESTAMP = pa.timestamp("ms", tz="UTC")
LAKE_TZ = "Asia/Shanghai"  # partition dates are Beijing calendar dates


def _f(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


@dataclass(frozen=True)
class DatasetSpec:
    """What the lake needs to know about one data set.

    ``time_column`` gives the partition date (in Asia/Shanghai); ``key`` identifies a record
    within an (date, operator) partition and is what compaction de-duplicates on; ``sort`` is
    the order of compacted files. ``mergeable`` data sets hold partial aggregates: compaction
    combines rows with the same key instead of keeping the last one.
    """

    name: str
    version: int
    schema: pa.Schema
    time_column: str
    key: tuple[str, ...]
    sort: tuple[str, ...]
    mergeable: bool = False

    @property
    def arrow_schema(self) -> pa.Schema:
        """The schema with the ``govcenter.*`` metadata that goes into every file."""
        return self.schema.with_metadata(
            {META_DATASET: self.name.encode(), META_SCHEMA_VERSION: str(self.version).encode()}
        )


TELEMETRY = DatasetSpec(
    name="telemetry",
    version=1,
    schema=pa.schema(
        [
            _f("operator", pa.string()),
            _f("device_id", pa.string()),
            _f("vehicle_id", pa.string()),
            _f("timestamp", TIMESTAMP),
            _f("lon", pa.float64()),
            _f("lat", pa.float64()),
            _f("source_datum", pa.string()),
            _f("battery_pct", pa.float64(), nullable=True),
            _f("trip_id", pa.string(), nullable=True),
        ]
    ),
    time_column="timestamp",
    key=("device_id", "timestamp"),
    sort=("device_id", "timestamp"),
)

TRIPS = DatasetSpec(
    name="trips",
    version=1,
    schema=pa.schema(
        [
            _f("operator", pa.string()),
            _f("trip_id", pa.string()),
            _f("device_id", pa.string()),
            _f("vehicle_id", pa.string()),
            _f("start_time", TIMESTAMP),
            _f("end_time", TIMESTAMP),
            _f("start_lon", pa.float64()),
            _f("start_lat", pa.float64()),
            _f("end_lon", pa.float64()),
            _f("end_lat", pa.float64()),
            _f("source_datum", pa.string()),
            _f("distance_m", pa.float64()),
            _f("duration_s", pa.int64()),
        ]
    ),
    time_column="start_time",  # a trip stays in its start date's partition, so re-deliveries meet
    key=("trip_id",),
    sort=("device_id", "start_time", "trip_id"),
)

EVENTS = DatasetSpec(
    name="events",
    version=1,
    schema=pa.schema(
        [
            _f("operator", pa.string()),
            _f("event_id", pa.string()),
            _f("device_id", pa.string()),
            _f("vehicle_id", pa.string()),
            _f("timestamp", TIMESTAMP),
            _f("event_types", pa.list_(pa.string())),
            _f("vehicle_state", pa.string()),
            _f("lon", pa.float64(), nullable=True),
            _f("lat", pa.float64(), nullable=True),
            _f("source_datum", pa.string(), nullable=True),
        ]
    ),
    time_column="timestamp",
    key=("event_id",),
    sort=("device_id", "timestamp", "event_id"),
)

# The downsampled telemetry kept after raw telemetry expires (retention.slim): one row per
# operator, device and UTC hour. ``battery_count`` is the number of points that reported a
# battery level, so partial rows (late data summarised separately) combine exactly.
TELEMETRY_HOURLY = DatasetSpec(
    name="telemetry_hourly",
    version=1,
    schema=pa.schema(
        [
            _f("operator", pa.string()),
            _f("device_id", pa.string()),
            _f("hour", TIMESTAMP),
            _f("point_count", pa.int64()),
            _f("first_timestamp", TIMESTAMP),
            _f("first_lon", pa.float64()),
            _f("first_lat", pa.float64()),
            _f("last_timestamp", TIMESTAMP),
            _f("last_lon", pa.float64()),
            _f("last_lat", pa.float64()),
            _f("battery_count", pa.int64()),
            _f("battery_pct_mean", pa.float64(), nullable=True),
        ]
    ),
    time_column="hour",
    key=("device_id", "hour"),
    sort=("device_id", "hour"),
    mergeable=True,
)

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (TELEMETRY, TRIPS, EVENTS, TELEMETRY_HOURLY)}

_DATUMS = sorted(d.value for d in Datum)
_COORDINATES = {"lon": 180.0, "lat": 90.0}


def get_spec(dataset: str | DatasetSpec) -> DatasetSpec:
    """The spec of a data set by name (ValueError for an unknown one)."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown lake data set {dataset!r}: use one of {sorted(DATASETS)}") from None


def _castable(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether ``actual`` may be cast to ``expected`` without changing what the values mean."""
    if actual == expected:
        return True
    if pa.types.is_timestamp(expected):
        # Any unit, but it must be zone-aware: a naive timestamp's meaning is a guess.
        return pa.types.is_timestamp(actual) and actual.tz is not None
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual) or pa.types.is_integer(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_string(expected):
        return (
            pa.types.is_string(actual) or pa.types.is_large_string(actual) or pa.types.is_string_view(actual)
        )
    if pa.types.is_list(expected):
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)) and _castable(
            actual.value_type, expected.value_type
        )
    return False


def _column_from_records(spec: DatasetSpec, field: pa.Field, records: list[Mapping]) -> pa.Array:
    values = [r.get(field.name) for r in records]
    if pa.types.is_timestamp(field.type):
        for i, value in enumerate(values):
            if value is None:
                continue
            if not isinstance(value, dt.datetime):
                raise ValueError(f"{spec.name}.{field.name} (record {i}): expected a datetime, got {value!r}")
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(
                    f"{spec.name}.{field.name} (record {i}): naive datetime {value!r}; give a time zone"
                )
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        raise ValueError(f"{spec.name}.{field.name}: wrong type ({exc})") from exc


def _from_records(spec: DatasetSpec, data: Iterable) -> pa.Table:
    records = list(data)
    names = set(spec.schema.names)
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"{spec.name}: record {i} is a {type(record).__name__}, not a mapping")
        unknown = set(record) - names
        if unknown:
            raise ValueError(f"{spec.name}: record {i} has unknown columns {sorted(unknown)}")
        missing = [f.name for f in spec.schema if not f.nullable and f.name not in record]
        if missing:
            raise ValueError(f"{spec.name}: record {i} is missing columns {missing}")
    arrays = [_column_from_records(spec, field, records) for field in spec.schema]
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def _from_table(spec: DatasetSpec, table: pa.Table) -> pa.Table:
    names = table.schema.names
    unknown = sorted(set(names) - set(spec.schema.names))
    missing = [n for n in spec.schema.names if n not in names]
    if unknown or missing:
        raise ValueError(
            f"{spec.name}: schema mismatch: missing columns {missing}, unknown columns {unknown}"
        )
    columns = []
    for field in spec.schema:
        column = table.column(field.name)
        if not _castable(column.type, field.type):
            raise ValueError(
                f"{spec.name}.{field.name}: wrong type {column.type} (expected {field.type}"
                f"{', zone-aware' if pa.types.is_timestamp(field.type) else ''})"
            )
        try:
            columns.append(column.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"{spec.name}.{field.name}: cannot convert to {field.type} ({exc})") from exc
    return pa.Table.from_arrays(columns, schema=spec.schema)


def _check_values(spec: DatasetSpec, table: pa.Table) -> None:
    for field in spec.schema:
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            raise ValueError(
                f"{spec.name}.{field.name}: {column.null_count} null value(s) in a required column"
            )
        if field.name == "operator" or field.name.endswith("_id"):
            if column.null_count < len(column) and pc.any(pc.equal(column, "")).as_py():
                raise ValueError(f"{spec.name}.{field.name}: empty string")
        if field.name == "source_datum":
            bad = pc.and_(pc.invert(pc.is_in(column, value_set=pa.array(_DATUMS))), pc.is_valid(column))
            if pc.any(bad).as_py():
                first = column.filter(bad)[0].as_py()
                raise ValueError(f"{spec.name}.source_datum: unknown datum {first!r}; use one of {_DATUMS}")
        limit = _COORDINATES.get(field.name.rsplit("_", 1)[-1])
        if limit is not None and pa.types.is_floating(field.type):
            out = pc.fill_null(pc.or_(pc.greater(pc.abs(column), limit), pc.is_nan(column)), False)
            if pc.any(out).as_py():
                raise ValueError(f"{spec.name}.{field.name}: value outside ±{limit:g}° or NaN")
    lon_field = spec.schema.field("lon") if "lon" in spec.schema.names else None
    if lon_field is not None and lon_field.nullable:
        # An optional position is all or nothing, and says which datum it came in.
        lon_valid, lat_valid = pc.is_valid(table.column("lon")), pc.is_valid(table.column("lat"))
        if not pc.all(pc.equal(lon_valid, lat_valid)).as_py():
            raise ValueError(f"{spec.name}: lon and lat must be given together (or both left empty)")
        if pc.any(pc.and_(lon_valid, pc.is_null(table.column("source_datum")))).as_py():
            raise ValueError(f"{spec.name}.source_datum: required where a position is given")


def conform(dataset: str | DatasetSpec, data) -> pa.Table:
    """Records, a RecordBatch or a Table → a Table of exactly the data set's schema (with metadata).

    ValueError for anything that does not fit; nothing is silently dropped or guessed.
    """
    spec = get_spec(dataset)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    table = _from_table(spec, data) if isinstance(data, pa.Table) else _from_records(spec, data)
    _check_values(spec, table)
    return table.replace_schema_metadata(spec.arrow_schema.metadata)


def partition_dates(spec: DatasetSpec, table: pa.Table) -> pa.Array:
    """The Beijing calendar date (``YYYY-MM-DD``) of each row, from the spec's time column."""
    local = table.column(spec.time_column).cast(pa.timestamp("ms", tz=LAKE_TZ))
    return pc.strftime(local, format="%Y-%m-%d")


# The schema version of each data set, as written to ``govcenter.schema_version``.
SCHEMA_VERSIONS: dict[str, int] = {name: spec.version for name, spec in DATASETS.items()}
