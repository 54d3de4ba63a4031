"""Rollups (汇总): per-partition summaries of trips that answer a month of analyses in a second.

A month of Beijing trips is about 95 million rows. Analyses 1 (rides by hour, day, week,
month) and 7 (rail-station flows) group every one of them — and look up the district or
station of every point — on each request. Their answers are sums of per-day, per-operator
parts, so each trips partition ``(date, operator)`` gets its parts computed once:

* ``rides_hourly`` — :func:`~govcenter.bikeshare.analyses.rides_by_hour` of the partition
  *by district*: operator, district, date, hour, rides (a few hundred rows);
* ``station_hourly`` — :func:`~govcenter.bikeshare.analyses.station_flows` of the
  partition's trips over every rail-station area: station_id, station, date, hour, arrivals,
  departures (arrivals keep their own date and hour, which may be later days).

They are computed by the same Ibis analyses (so they mean exactly what the raw analyses
mean), on DuckDB, and stored beside the data sets under
``<lake>/rollups/<name>/date=YYYY-MM-DD/operator=<code>/rollup.parquet`` (written atomically;
derived data: deleting the directory loses nothing).

**Never stale.** Each rollup file records the *fingerprint* of the trips files it was
computed from (their names and sizes; a write adds a file, compaction replaces them) and,
for stations, of the station areas. A query lists the partitions it needs, takes the rollup
of each partition whose fingerprint still matches, and runs the raw analysis over exactly
the other partitions' files (``query.duckdb_connection(only=…)``) — then adds the two. So
the answer is always the raw analysis's answer; rollups only make it fast. Today's
partitions are being written and are always scanned; :func:`refresh` (hourly, Huey; ``govcenter
bikeshare rollups``; the demo) builds the missing and outdated ones of the days before.

Station flows of a partition are computed over arrivals up to :data:`ARRIVAL_DAYS` days
after its date: a station query spans at most ``MAX_STATION_DAYS`` (31) days and reads the
partitions from the day before its first day, so no arrival a query can count is left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from govcenter.analytics.lake.files import check_date, check_operator, data_files, partitions, replace_file
from govcenter.analytics.lake.query import duckdb_connection

from . import analyses as an

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
ROLLUP_DIR = "rollups"
FILE_NAME = "rollup.parquet"
VERSION = 1
ARRIVAL_DAYS = 32  # > the longest station query (31 days) + the day before it
META_NAME = b"govcenter.rollup"
META_VERSION = b"govcenter.rollup_version"
META_SOURCES = b"govcenter.rollup_sources"  # fingerprint of the trips files summarised
META_STATIONS = b"govcenter.rollup_stations"  # fingerprint of the station areas (station_hourly)
META_BUILT_AT = b"govcenter.rollup_built_at"

RIDES = "rides_hourly"
STATIONS = "station_hourly"
NAMES = (RIDES, STATIONS)

RIDES_SCHEMA = pa.schema(
    [
        ("operator", pa.string()),
        ("district", pa.string()),
        ("date", pa.date32()),
        ("hour", pa.int32()),
        ("rides", pa.int64()),
    ]
)
STATIONS_SCHEMA = pa.schema(
    [
        ("station_id", pa.string()),
        ("station", pa.string()),
        ("date", pa.date32()),
        ("hour", pa.int32()),
        ("arrivals", pa.int64()),
        ("departures", pa.int64()),
    ]
)
SCHEMAS = {RIDES: RIDES_SCHEMA, STATIONS: STATIONS_SCHEMA}


# -- fingerprints and files -----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One trips partition as listed now: its files and their fingerprint."""

    date: str
    operator: str
    files: tuple[Path, ...]
    fingerprint: str


def _fingerprint(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}\0{f.stat().st_size}\n".encode())
    return digest.hexdigest()


def stations_fingerprint(areas: pa.Table) -> str:
    """The station areas' identity: ids, names, centres and radii (what the flows depend on)."""
    digest = hashlib.sha256()
    for row in areas.select(["station_id", "station", "lon", "lat", "radius_m"]).to_pylist():
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def sources(
    root: Path, first: dt.date, last: dt.date, operators: Iterable[str] | None = None
) -> list[Source]:
    """The trips partitions with files dated ``first``…``last`` (of ``operators``), fingerprinted."""
    wanted = None if operators is None else set(operators)
    found = []
    for part in partitions(root, "trips"):
        day = dt.date.fromisoformat(part.date)
        if not first <= day <= last or (wanted is not None and part.operator not in wanted):
            continue
        files = tuple(data_files(part.path))
        if files:
            try:
                found.append(Source(part.date, part.operator, files, _fingerprint(files)))
            except FileNotFoundError:  # compaction replaced a file while we listed: scan it
                found.append(Source(part.date, part.operator, files, ""))
    return found


def rollup_path(root: Path, name: str, date: str, operator: str) -> Path:
    if name not in SCHEMAS:
        raise ValueError(f"unknown rollup {name!r}: use one of {list(SCHEMAS)}")
    return (
        Path(root) / ROLLUP_DIR / name / f"date={check_date(date)}" / f"operator={check_operator(operator)}"
    ) / FILE_NAME


def _metadata(path: Path) -> dict[bytes, bytes] | None:
    try:
        return pq.read_schema(path).metadata or {}
    except (FileNotFoundError, pa.ArrowInvalid, OSError):
        return None


def _current(meta: dict[bytes, bytes] | None, name: str, source: Source, stations_fp: str | None) -> bool:
    if meta is None or not source.fingerprint:
        return False
    if meta.get(META_NAME) != name.encode() or meta.get(META_VERSION) != str(VERSION).encode():
        return False
    if meta.get(META_SOURCES) != source.fingerprint.encode():
        return False
    return stations_fp is None or meta.get(META_STATIONS) == stations_fp.encode()


def _split(root: Path, name: str, found: list[Source], stations_fp: str | None = None):
    """The rollup files that are current for ``found``, and the sources that are not."""
    fresh: list[Path] = []
    stale: list[Source] = []
    for source in found:
        path = rollup_path(root, name, source.date, source.operator)
        if _current(_metadata(path), name, source, stations_fp):
            fresh.append(path)
        else:
            stale.append(source)
    return fresh, stale


def _read(paths: list[Path], schema: pa.Schema) -> pa.Table:
    if not paths:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(p, schema=schema) for p in paths])


def _backend(root: Path, stale: list[Source]):
    """An Ibis DuckDB backend whose ``trips`` holds exactly the files of ``stale``."""
    con = duckdb_connection(root, only={"trips": [f for s in stale for f in s.files]})
    return ibis.duckdb.from_connection(con)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)


# -- the two summaries ----------------------------------------------------------------------


def rides_hourly(root: Path, first: dt.date, last: dt.date, *, operators=None) -> tuple[pa.Table, dict]:
    """Rides per operator, district, Beijing date and hour, ``first``…``last``.

    Exactly :func:`analyses.rides_by_hour` ``(by_district=True)`` over the trips of
    ``operators`` (all: None). Returns the table and what answered: ``{"rollups": n,
    "scanned": n}`` partitions.
    """
    found = sources(root, first, last, operators)
    fresh, stale = _split(root, RIDES, found)
    parts = [_read(fresh, RIDES_SCHEMA)]
    if stale:
        con = _backend(root, stale)
        try:
            parts.append(_conform(an.run(an.rides_by_hour(con, first, last, by_district=True)), RIDES_SCHEMA))
        finally:
            con.disconnect()
    table = pa.concat_tables(parts).sort_by(
        [("operator", "ascending"), ("district", "ascending"), ("date", "ascending"), ("hour", "ascending")]
    )
    return table, {"rollups": len(fresh), "scanned": len(stale)}


def station_hourly(
    root: Path, start: dt.datetime, end: dt.datetime, areas: pa.Table, *, operators=None
) -> tuple[pa.Table, dict]:
    """Arrivals and departures per station area and Beijing hour in ``[start, end)``.

    Exactly :func:`analyses.station_flows` over the trips of ``operators`` for the stations of
    ``areas`` (a subset of the rail-station areas, or others: then nothing comes from rollups,
    which hold the seeded set). Columns as there: station_id, station, date, hour, arrivals,
    departures, net.
    """
    s, e, first, last = an._window(start, end)  # noqa: SLF001 - the analyses' own window check
    if (end - start) > dt.timedelta(days=ARRIVAL_DAYS - 1):
        raise ValueError(f"a station window may span at most {ARRIVAL_DAYS - 1} days")
    found = sources(root, first - dt.timedelta(days=1), last, operators)
    full = an.station_areas()
    # Rollups hold whole hours of the seeded station areas: usable for whole-hour windows over
    # (a subset of) those areas, as they are now.
    usable = (
        s % an.HOUR_S == 0
        and e % an.HOUR_S == 0
        and set(areas["station_id"].to_pylist()) <= set(full["station_id"].to_pylist())
        and stations_fingerprint(full.filter(pc.is_in(full["station_id"], areas["station_id"])))
        == stations_fingerprint(areas)
    )
    if usable:
        fresh, stale = _split(root, STATIONS, found, stations_fingerprint(full))
    else:
        fresh, stale = [], found
    rows = _read(fresh, STATIONS_SCHEMA)
    if rows.num_rows:
        keep = pc.is_in(rows["station_id"], areas["station_id"])
        rows = rows.filter(keep)
        # The rollups hold each partition's every arrival; keep those inside the window.
        local_s = pc.add(
            pc.multiply(pc.cast(pc.cast(rows["date"], pa.int32()), pa.int64()), an.DAY_S),
            pc.multiply(pc.cast(rows["hour"], pa.int64()), an.HOUR_S),
        )
        epoch = pc.subtract(local_s, an.BEIJING_OFFSET_S)
        rows = rows.filter(pc.and_(pc.greater_equal(epoch, s), pc.less(epoch, e)))
    parts = [rows]
    if stale:
        con = _backend(root, stale)
        try:
            flows = an.run(an.station_flows(con, start, end, stations=areas))
        finally:
            con.disconnect()
        parts.append(_conform(flows, STATIONS_SCHEMA))
    both = pa.concat_tables(parts)
    summed = (
        both.group_by(["station_id", "station", "date", "hour"])
        .aggregate([("arrivals", "sum"), ("departures", "sum")])
        .rename_columns(["station_id", "station", "date", "hour", "arrivals", "departures"])
    )
    summed = summed.append_column("net", pc.subtract(summed["arrivals"], summed["departures"]))
    summed = summed.sort_by([("station_id", "ascending"), ("date", "ascending"), ("hour", "ascending")])
    return summed, {"rollups": len(fresh), "scanned": len(stale)}


# -- building -------------------------------------------------------------------------------


def _write(root: Path, name: str, source: Source, table: pa.Table, stations_fp: str | None) -> Path:
    meta = {
        META_NAME: name.encode(),
        META_VERSION: str(VERSION).encode(),
        META_SOURCES: source.fingerprint.encode(),
        META_BUILT_AT: dt.datetime.now(dt.UTC).isoformat().encode(),
    }
    if stations_fp is not None:
        meta[META_STATIONS] = stations_fp.encode()
    table = _conform(table, SCHEMAS[name]).replace_schema_metadata(meta)
    return replace_file(rollup_path(root, name, source.date, source.operator), table)


def build(root: Path, source: Source, *, areas: pa.Table | None = None) -> dict[str, int]:
    """Compute and store both rollups of one partition as listed in ``source``; rows written."""
    areas = areas if areas is not None else an.station_areas()
    day = dt.date.fromisoformat(source.date)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=BEIJING)
    con = _backend(root, [source])
    try:
        rides = an.run(an.rides_by_hour(con, day, day, by_district=True))
        flows = an.run(an.station_flows(con, start, start + dt.timedelta(days=ARRIVAL_DAYS), stations=areas))
    finally:
        con.disconnect()
    _write(root, RIDES, source, rides, None)
    _write(root, STATIONS, source, flows, stations_fingerprint(areas))
    return {RIDES: rides.num_rows, STATIONS: flows.num_rows}


@dataclass
class RefreshReport:
    """What :func:`refresh` did."""

    checked: int = 0
    built: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "checked": self.checked,
            "built": [f"{d}/{o}" for d, o in self.built],
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
        }


def refresh(
    root: Path | str,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    before: dt.date | None = None,
    rebuild: bool = False,
) -> RefreshReport:
    """Build the missing and outdated rollups of the trips partitions ``first``…``last``.

    ``before`` (default: today in Beijing) leaves that day and later alone: their partitions
    are still being written, and queries scan them anyway. ``rebuild``: build every one.
    Rollups whose trips partition is gone are removed.
    """
    started = time.perf_counter()
    root = Path(root)
    before = before or dt.datetime.now(BEIJING).date()
    first = first or dt.date(1970, 1, 1)
    last = min(last or dt.date.max, before - dt.timedelta(days=1))
    report = RefreshReport()
    areas = an.station_areas()
    stations_fp = stations_fingerprint(areas)
    found = sources(root, first, last) if first <= last else []
    report.checked = len(found)
    for source in found:
        current = not rebuild and all(
            _current(
                _metadata(rollup_path(root, name, source.date, source.operator)),
                name,
                source,
                stations_fp if name == STATIONS else None,
            )
            for name in NAMES
        )
        if not current and source.fingerprint:
            build(root, source, areas=areas)
            report.built.append((source.date, source.operator))
    report.removed = _remove_orphans(
        root, {(s.date, s.operator) for s in sources(root, first, last)}, first, last
    )
    report.seconds = time.perf_counter() - started
    return report


def _remove_orphans(root: Path, alive: set[tuple[str, str]], first: dt.date, last: dt.date) -> int:
    removed = 0
    for name in NAMES:
        for part in partitions(root / ROLLUP_DIR, name):
            day = dt.date.fromisoformat(part.date)
            if first <= day <= last and (part.date, part.operator) not in alive:
                path = part.path / FILE_NAME
                if path.exists():
                    path.unlink()
                    removed += 1
    return removed


def refresh_lake(**options) -> dict:
    """:func:`refresh` of the configured lake (``GOVCENTER_LAKE_DIR``), audited when it built or
    removed anything — what the hourly job and ``govcenter bikeshare rollups`` run."""
    from govcenter.analytics.lake.config import lake_root
    from govcenter.core import audit

    report = refresh(lake_root(), **options).as_dict()
    if report["built"] or report["removed"]:
        audit.record(
            action="bikeshare.rollups.refresh",
            object_type="analytics.lake",
            object_id=ROLLUP_DIR,
            object_repr=f"lake rollups: {len(report['built'])} built, {report['removed']} removed",
            changes={**report, "built": report["built"][:200]},
        )
    return report
