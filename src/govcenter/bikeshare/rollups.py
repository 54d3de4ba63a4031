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

**Never stale, and incremental.** Each rollup file records which trips files it summarises
(name and size of each: files are immutable once written; a write adds one, compaction
replaces them). A query lists the partitions it needs and, per partition, uses the rollup if
every file it covers is still there and scans the files it does not cover (a file written
since, or all of them when a covered file was compacted away) with the raw analysis over
exactly those files (``query.duckdb_connection(only=…)``) — then adds the two, the counts
being additive. So the answer is always the raw analysis's answer; rollups only make it fast.
:func:`refresh` (every 5 minutes for the last three days and hourly for all, Huey;
``govcenter bikeshare rollups``; the demo) adds the files written since to each rollup, or
builds it anew when it no longer applies — today included, so a query scans minutes of trips.

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


# -- coverage and files ----------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One trips partition as listed now: its files and, per file, (name, size)."""

    date: str
    operator: str
    files: tuple[Path, ...]
    entries: tuple[tuple[str, int], ...]


def stations_fingerprint(areas: pa.Table) -> str:
    """The station areas' identity: ids, names, centres and radii (what the flows depend on)."""
    digest = hashlib.sha256()
    for row in areas.select(["station_id", "station", "lon", "lat", "radius_m"]).to_pylist():
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def sources(
    root: Path, first: dt.date, last: dt.date, operators: Iterable[str] | None = None
) -> list[Source]:
    """The trips partitions with files dated ``first``…``last`` (of ``operators``), as listed now."""
    wanted = None if operators is None else set(operators)
    found = []
    for part in partitions(root, "trips"):
        day = dt.date.fromisoformat(part.date)
        if not first <= day <= last or (wanted is not None and part.operator not in wanted):
            continue
        files, entries = [], []
        for f in data_files(part.path):
            try:
                entries.append((f.name, f.stat().st_size))
            except FileNotFoundError:  # compaction removed it while we listed: it is gone
                continue
            files.append(f)
        if files:
            found.append(Source(part.date, part.operator, tuple(files), tuple(entries)))
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


def _covered(path: Path, name: str, source: Source, stations_fp: str | None) -> frozenset | None:
    """The source files the rollup at ``path`` summarises, if it can be used for ``source`` now:
    of this rollup and version (and station areas), and every file it covers still there, unchanged.
    None: missing, foreign or outdated (a covered file was compacted away)."""
    meta = _metadata(path)
    if meta is None:
        return None
    if meta.get(META_NAME) != name.encode() or meta.get(META_VERSION) != str(VERSION).encode():
        return None
    if stations_fp is not None and meta.get(META_STATIONS) != stations_fp.encode():
        return None
    try:
        covered = frozenset((str(n), int(z)) for n, z in json.loads(meta.get(META_SOURCES, b"null")))
    except (TypeError, ValueError):
        return None
    return covered if covered <= set(source.entries) else None


@dataclass
class Plan:
    """How a query is answered: the usable rollup files, and the trips files to scan raw."""

    rollups: list[Path] = field(default_factory=list)
    scan: list[Path] = field(default_factory=list)
    partitions_scanned: int = 0

    def how(self) -> dict[str, int]:
        return {
            "rollups": len(self.rollups),
            "scanned": self.partitions_scanned,
            "files_scanned": len(self.scan),
        }


def _plan(root: Path, name: str, found: list[Source], stations_fp: str | None = None) -> Plan:
    plan = Plan()
    for source in found:
        path = rollup_path(root, name, source.date, source.operator)
        covered = _covered(path, name, source, stations_fp)
        if covered is not None:
            plan.rollups.append(path)
        left = [
            f
            for f, e in zip(source.files, source.entries, strict=True)
            if covered is None or e not in covered
        ]
        plan.scan += left
        plan.partitions_scanned += bool(left)
    return plan


def _read(paths: list[Path], schema: pa.Schema) -> pa.Table:
    if not paths:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(p, schema=schema) for p in paths])


def _backend(root: Path, files: list[Path]):
    """An Ibis DuckDB backend whose ``trips`` holds exactly ``files``."""
    return ibis.duckdb.from_connection(duckdb_connection(root, only={"trips": files}))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)


SUM_KEYS = {
    RIDES: ["operator", "district", "date", "hour"],
    STATIONS: ["station_id", "station", "date", "hour"],
}


def _summed(name: str, parts: list[pa.Table]) -> pa.Table:
    """Rows of the same key added up (partial rollups and scans are additive counts)."""
    schema = SCHEMAS[name]
    keys = SUM_KEYS[name]
    values = [f.name for f in schema if f.name not in keys]
    both = pa.concat_tables([_conform(p, schema) for p in parts])
    summed = both.group_by(keys).aggregate([(v, "sum") for v in values]).rename_columns([*keys, *values])
    return _conform(summed, schema).sort_by([(k, "ascending") for k in keys])


# -- the two summaries ----------------------------------------------------------------------


def rides_hourly(root: Path, first: dt.date, last: dt.date, *, operators=None) -> tuple[pa.Table, dict]:
    """Rides per operator, district, Beijing date and hour, ``first``…``last``.

    Exactly :func:`analyses.rides_by_hour` ``(by_district=True)`` over the trips of
    ``operators`` (all: None). Returns the table and what answered (:meth:`Plan.how`).
    """
    plan = _plan(root, RIDES, sources(root, first, last, operators))
    parts = [_read(plan.rollups, RIDES_SCHEMA)]
    if plan.scan:
        con = _backend(root, plan.scan)
        try:
            parts.append(an.run(an.rides_by_hour(con, first, last, by_district=True)))
        finally:
            con.disconnect()
    return _summed(RIDES, parts), plan.how()


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
        plan = _plan(root, STATIONS, found, stations_fingerprint(full))
    else:
        plan = Plan(scan=[f for src in found for f in src.files], partitions_scanned=len(found))
    rows = _read(plan.rollups, STATIONS_SCHEMA)
    if rows.num_rows:
        rows = rows.filter(pc.is_in(rows["station_id"], areas["station_id"]))
        # The rollups hold each partition's every arrival; keep those inside the window.
        local_s = pc.add(
            pc.multiply(pc.cast(pc.cast(rows["date"], pa.int32()), pa.int64()), an.DAY_S),
            pc.multiply(pc.cast(rows["hour"], pa.int64()), an.HOUR_S),
        )
        epoch = pc.subtract(local_s, an.BEIJING_OFFSET_S)
        rows = rows.filter(pc.and_(pc.greater_equal(epoch, s), pc.less(epoch, e)))
    parts = [rows]
    if plan.scan:
        con = _backend(root, plan.scan)
        try:
            parts.append(an.run(an.station_flows(con, start, end, stations=areas)))
        finally:
            con.disconnect()
    summed = _summed(STATIONS, parts)
    summed = summed.append_column("net", pc.subtract(summed["arrivals"], summed["departures"]))
    return summed, plan.how()


# -- building -------------------------------------------------------------------------------


def _write(root: Path, name: str, source: Source, table: pa.Table, covered, stations_fp: str | None) -> Path:
    meta = {
        META_NAME: name.encode(),
        META_VERSION: str(VERSION).encode(),
        META_SOURCES: json.dumps(sorted([n, z] for n, z in covered)).encode(),
        META_BUILT_AT: dt.datetime.now(dt.UTC).isoformat().encode(),
    }
    if stations_fp is not None:
        meta[META_STATIONS] = stations_fp.encode()
    table = _conform(table, SCHEMAS[name]).replace_schema_metadata(meta)
    return replace_file(rollup_path(root, name, source.date, source.operator), table)


def _compute(root: Path, name: str, day: dt.date, files: list[Path], areas: pa.Table) -> pa.Table:
    con = _backend(root, files)
    try:
        if name == RIDES:
            return an.run(an.rides_by_hour(con, day, day, by_district=True))
        start = dt.datetime.combine(day, dt.time.min, tzinfo=BEIJING)
        return an.run(an.station_flows(con, start, start + dt.timedelta(days=ARRIVAL_DAYS), stations=areas))
    finally:
        con.disconnect()


def build(root: Path, source: Source, *, areas: pa.Table | None = None, rebuild: bool = False) -> list[str]:
    """Bring both rollups of one partition up to ``source`` (as listed); the names it wrote.

    Incremental: a rollup that still applies (every file it covers is there) gets the files it
    does not cover yet added to it — the counts are additive — so a day being written is
    summarised a few minutes at a time; otherwise (or with ``rebuild``) it is computed anew.
    """
    areas = areas if areas is not None else an.station_areas()
    stations_fp = stations_fingerprint(areas)
    day = dt.date.fromisoformat(source.date)
    written = []
    for name in NAMES:
        fp = stations_fp if name == STATIONS else None
        path = rollup_path(root, name, source.date, source.operator)
        covered = None if rebuild else _covered(path, name, source, fp)
        new = [
            f
            for f, e in zip(source.files, source.entries, strict=True)
            if covered is None or e not in covered
        ]
        if covered is not None and not new:
            continue
        parts = [_read([path], SCHEMAS[name])] if covered else []
        parts.append(_compute(root, name, day, new, areas))
        _write(root, name, source, _summed(name, parts), (covered or frozenset()) | set(source.entries), fp)
        written.append(name)
    return written


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
    rebuild: bool = False,
) -> RefreshReport:
    """Bring the rollups of the trips partitions ``first``…``last`` up to date (all: None).

    Missing and outdated rollups are built, current ones get the files written since added
    (today's too: the day is summarised as it is written); ``rebuild``: build every one anew.
    Rollups whose trips partition is gone are removed.
    """
    started = time.perf_counter()
    root = Path(root)
    first = first or dt.date(1970, 1, 1)
    last = last or dt.date(9999, 12, 31)
    report = RefreshReport()
    areas = an.station_areas()
    found = sources(root, first, last) if first <= last else []
    report.checked = len(found)
    for source in found:
        if build(root, source, areas=areas, rebuild=rebuild):
            report.built.append((source.date, source.operator))
    alive = {(s.date, s.operator) for s in sources(root, first, last)} if first <= last else set()
    report.removed = _remove_orphans(root, alive, first, last)
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
