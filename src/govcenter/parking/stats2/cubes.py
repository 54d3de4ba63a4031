"""Pre-aggregated daily cubes of the statistics: the same numbers, from far fewer rows.

A statistic is *cubeable* when its measures read one lake data set (its view is its first
data set; its sections may read others, from the raw facts), its window is the partition
``date``, and every SQL measure is a count or a sum with no window token (so sums of the
cube's sums are the measure). For such a statistic the cube holds, per Beijing date:

* ``rows`` — its SQL measures (with the statistic's ``base`` condition applied) grouped by
  date and the place and filter columns (district, unit, road, segment, area class, vehicle
  class — those its data set has): answers the total and every drill level;
* one ``b_<breakdown>`` part per breakdown, grouped by date, district, unit, area class,
  vehicle class and the breakdown's group: answers the breakdown when the query names no
  road or segment (below a district the raw facts are read — a district's year is small).

**Freshness.** A cube date is built from the data set's partitions of that date; the cube's
manifest keeps, per date, a fingerprint of the source files it was built from (the data set
manifest's file names — a rewritten partition has a new name). :func:`refresh` rebuilds the
dates whose fingerprint changed (after every lake sync: the Huey task and ``lake-sync``);
:func:`usable` answers whether every date of a window is current, and
:func:`.framework.compute` reads the cube only then — otherwise the raw facts. A cube can be
behind, never wrong.

**Rollups.** A statistic whose measures look at ``{as_of}`` (the arrears settled *by the
window's end*, a case's stage then) cannot keep its measures' values: they change with the
window. It declares a :class:`.framework.Rollup` instead, and its cube has one part, ``view``:
the view's rows of each date grouped by the place columns, the rollup's columns and its time
stamps, with ``n`` rows and the summed columns — the measures then run over it as over the
raw view. Its view may read several data sets if every row comes from the partition of its
own date (a union, not a join across dates); the fingerprint of a date covers all of them.

A time stamp is kept to its Beijing day (:func:`stamp_key`: the first microsecond of the day;
a stamp at midnight exactly, and every stamp on or after the midnight of the day the rollup
was built — its ``cut`` — as it is). That is exact for ``stamp < t`` and ``stamp <= t`` when
``t`` is a midnight (the end of a window in the past), and when ``t`` is at or after the cut
(the stamps kept to their day are all before it): :func:`usable` declines a rollup whose cut
is later than a ``{as_of}`` that is not a midnight. A date whose rollup kept stamps at their
instant is built again on a later day (:func:`refresh`), so rows become few again once the
day is over.

A statistic may add parts its measures and breakdowns cannot express (``cube_parts``: a
:class:`CubePart` is one SELECT over its view that outputs ``date`` first — e.g. the orders
statistic's occupied seconds per hour slot).

**Closed months.** A year is 365 daily files per part; DuckDB opens every file's footer per
statement. So once every date of a month before the current one is current, :func:`refresh`
concatenates the month's daily files into one file per part (``months`` in the manifest, with
the month's fingerprint = its dates' fingerprints); :func:`usable` reads a month's file while
its fingerprint holds, the daily files otherwise (a late correction in a closed month: the
daily files until the same refresh writes the month again). A month file keeps ``date`` as a
column, so a window that covers part of a month still filters by date.

Layout: ``<lake>/parking/_cubes/<slug>/<part>/date=YYYY-MM-DD/part-<uuid>.parquet``,
``<lake>/parking/_cubes/<slug>/<part>/months/<YYYY-MM>-<uuid>.parquet`` and
``<lake>/parking/_cubes/<slug>/_manifest.json`` (swapped atomically, superseded files deleted
after the sync's grace period, like the data sets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.utils import timezone

from govcenter.analytics.lake.files import dataset_lock, replace_file

from ..lake.sync import GRACE_S, _write_manifest, parking_root, read_manifest, shared_manifest
from .framework import Rollup
from .lake import connection

CUBE_DIR = "_cubes"
# The columns a cube keeps (those of them the data set has), in this order.
PLACE_COLUMNS = ("district_id", "managing_unit_id", "road_id", "segment_id", "area_class", "vehicle_class")
BREAKDOWN_COLUMNS = ("district_id", "managing_unit_id", "area_class", "vehicle_class")
BATCH_DAYS = 31


@dataclass(frozen=True)
class CubePart:
    """A part of a statistic's cube given as SQL: ``sql`` selects ``date`` first, then its group
    columns and sums, from the statistic's view; ``{where}`` stands for the rows' condition (the
    statistic's base and the dates being built)."""

    key: str
    sql: str


def cubes_root(root=None) -> Path:
    return parking_root(root) / CUBE_DIR


def cubeable(stat) -> bool:
    if stat.rollup is not None:
        return stat.date_col == "date"
    # Its measures read its first data set alone (the others, if any, only its sections).
    if stat.view != stat.datasets[0] or stat.date_col != "date":
        return False
    for m in stat.measures:
        if m.sql is not None and (m.unit not in ("count", "fen") or "{" in m.sql):
            return False
    return all("{" not in b.sql and "{" not in (b.where or "") for b in stat.breakdowns)


def _extra_parts(stat) -> tuple:
    return getattr(stat, "cube_parts", ()) or ()


def _sql_measures(stat) -> list:
    return [m for m in stat.measures if m.sql is not None]


def definition_digest(stat) -> str:
    """Changes when the statistic's cube-relevant definition changes (the cube is then rebuilt)."""
    parts = [stat.view, stat.base or ""]
    parts += [f"{m.key}={m.sql}" for m in _sql_measures(stat)]
    parts += [f"{b.key}={b.sql}:{b.where}:{','.join(b.measures)}" for b in stat.breakdowns]
    parts += [f"{p.key}={p.sql}" for p in _extra_parts(stat)]
    if stat.rollup is not None:
        parts.append(repr(stat.rollup))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _fingerprints(root, datasets: tuple[str, ...]) -> dict[str, str]:
    """Per date of the data sets: a digest of their partitions' live file names (shared with
    the manifests' other readers: not to be changed)."""
    if len(datasets) == 1:
        shared = shared_manifest(root, datasets[0])
        if "fingerprints" not in shared.memo:
            shared.memo["fingerprints"] = _digests(_day_files(shared, ""))
        return shared.memo["fingerprints"]
    files: dict[str, list[str]] = defaultdict(list)
    for dataset in datasets:
        for day, names in _day_files(shared_manifest(root, dataset), f"{dataset}:").items():
            files[day] += names
    return _digests(files)


def _day_files(shared, prefix: str) -> dict[str, list[str]]:
    files: dict[str, list[str]] = defaultdict(list)
    for key, entry in shared.manifest["partitions"].items():
        # A packed partition keeps the name of the daily file it came from: packing is no change.
        files[key.split("/", 1)[0]].append(prefix + (entry.get("origin") or entry["file"]))
    return files


def _digests(files: dict[str, list[str]]) -> dict[str, str]:
    return {day: hashlib.sha256("\n".join(sorted(f)).encode()).hexdigest()[:16] for day, f in files.items()}


def _columns(con, view: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}  # noqa: S608


def _parts(stat, present: set[str]) -> dict:
    """part → (group columns, measure keys, breakdown group SQL or None, breakdown condition or None),
    a :class:`CubePart`, or (for a rollup) ``"view"`` → (place columns, the :class:`.framework.Rollup`)."""
    if stat.rollup is not None:
        return {"view": ([c for c in PLACE_COLUMNS if c in present], stat.rollup)}
    keys = [m.key for m in _sql_measures(stat)]
    parts = {"rows": ([c for c in PLACE_COLUMNS if c in present], keys, None, None)}
    for b in stat.breakdowns:
        needed = [k for k in b.measures if stat.measure(k).sql is not None]
        if any(stat.measure(k).sql is None for k in b.measures):
            needed = keys
        parts[f"b_{b.key}"] = ([c for c in BREAKDOWN_COLUMNS if c in present], needed, b.sql, b.where)
    for extra in _extra_parts(stat):
        parts[extra.key] = extra
    return parts


def _cube_manifest(root, slug: str) -> dict:
    manifest = read_manifest(cubes_root(root), slug)
    manifest.setdefault("dates", {})
    manifest.setdefault("months", {})
    manifest.setdefault("superseded", [])
    return manifest


def refresh(stat, *, root=None, today: dt.date | None = None) -> dict:
    """Rebuild the cube dates of ``stat`` whose source partitions changed; drop vanished dates;
    write the closed months (before ``today``'s, Beijing) whose dates changed."""
    if not cubeable(stat):
        return {"statistic": stat.slug, "cubeable": False}
    base = cubes_root(root)
    base.mkdir(parents=True, exist_ok=True)
    result = {"statistic": stat.slug, "dates": 0, "rows": 0, "removed": 0}
    with dataset_lock(base, stat.slug):
        manifest = _cube_manifest(root, stat.slug)
        superseded: list[str] = []
        digest = definition_digest(stat)
        if manifest.get("definition") != digest:  # another definition: nothing is reused
            for entry in [*manifest["dates"].values(), *manifest["months"].values()]:
                superseded += list(entry["files"].values())
            manifest["dates"], manifest["months"] = {}, {}
        source = _fingerprints(root, _sources(stat))
        today = today or timezone.localdate()
        stale = sorted(
            d
            for d, fp in source.items()
            if manifest["dates"].get(d, {}).get("source") != fp
            # A rollup that kept stamps at their instant: to their day now that the day is over.
            or manifest["dates"][d].get("exact")
            and manifest["dates"][d]["cut"] < today.isoformat()
        )
        for day in sorted(set(manifest["dates"]) - set(source)):
            superseded += list(manifest["dates"].pop(day)["files"].values())
        con = connection(root)
        try:
            parts = _parts(stat, _columns(con, stat.view))
            for i in range(0, len(stale), BATCH_DAYS):
                days = stale[i : i + BATCH_DAYS]
                built = _build(con, stat, parts, days, base / stat.slug, today)
                for day in days:
                    old = manifest["dates"].get(day)
                    if old:
                        superseded += list(old["files"].values())
                    manifest["dates"][day] = {"source": source[day], "files": built[day]}
                    if stat.rollup is not None:
                        manifest["dates"][day] |= {"cut": today.isoformat(), "exact": day in built["_exact"]}
                result["dates"] += len(days)
                result["rows"] += sum(n for _f, n in built.pop("_rows", {}).items())
        finally:
            con.close()
        result["months"], dropped = _compact(manifest, base / stat.slug, today)
        superseded += dropped
        stamp = time.time()
        keep = []
        for entry in manifest["superseded"]:
            if stamp - entry["at"] > GRACE_S:
                try:
                    (base / stat.slug / entry["file"]).unlink()
                    result["removed"] += 1
                except FileNotFoundError:
                    pass
            else:
                keep.append(entry)
        manifest["superseded"] = keep + [{"file": f, "at": stamp} for f in superseded]
        manifest["definition"] = digest
        _write_manifest(base, stat.slug, manifest)
    return result


def _sources(stat) -> tuple[str, ...]:
    return stat.datasets if stat.rollup is not None else stat.datasets[:1]


def _month_fingerprint(manifest: dict, month: str) -> str:
    # A rollup date built again on a later day (its cut) has fewer rows: the month is written again.
    pairs = sorted(
        (d, e["source"] + (f"@{e['cut']}" if "cut" in e else ""))
        for d, e in manifest["dates"].items()
        if d.startswith(month)
    )
    return hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]


def _compact(manifest: dict, directory: Path, today: dt.date) -> tuple[int, list[str]]:
    """Write one file per part of every closed month whose dates changed; (months written, files superseded)."""
    current = today.strftime("%Y-%m")
    months = sorted({d[:7] for d in manifest["dates"]} | set(manifest["months"]))
    written, superseded = 0, []
    for month in months:
        old = manifest["months"].get(month)
        days = sorted(d for d in manifest["dates"] if d.startswith(month))
        if not days or month >= current:
            if old:
                superseded += list(manifest["months"].pop(month)["files"].values())
            continue
        fingerprint = _month_fingerprint(manifest, month)
        if old and old["source"] == fingerprint:
            continue
        files = {}
        for part in manifest["dates"][days[0]]["files"]:
            pieces = []
            for day in days:
                table = pq.read_table(directory / manifest["dates"][day]["files"][part])
                column = pa.array([dt.date.fromisoformat(day)] * table.num_rows, pa.date32())
                pieces.append(table.add_column(0, "date", column))
            rel = f"{part}/months/{month}-{uuid.uuid4().hex}.parquet"
            replace_file(directory / rel, pa.concat_tables(pieces, promote_options="permissive"))
            files[part] = rel
        if old:
            superseded += list(old["files"].values())
        manifest["months"][month] = {"source": fingerprint, "files": files}
        written += 1
    return written, superseded


def stamp_key(column: str, cut: dt.datetime) -> str:
    """SQL of a rollup's stamp: the first microsecond of its Beijing day, or itself when at a
    midnight or on or after ``cut`` (see the module's text)."""
    day = f"date_trunc('day', {column})"  # the session's time zone is Beijing (.lake)
    return (
        f"CASE WHEN {column} < TIMESTAMPTZ '{cut.isoformat()}' AND {column} <> {day} "
        f"THEN {day} + INTERVAL 1 MICROSECOND ELSE {column} END"
    )


def _rollup_sql(stat, place: list[str], rollup: Rollup, where: str, cut: dt.datetime) -> str:
    cols = ["date", *place, *rollup.columns, *(f"{stamp_key(s, cut)} AS {s}" for s in rollup.stamps)]
    sums = ["count(*) AS n", *(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in rollup.sums)]
    # Only names of the statistic's definition and of this module reach the text.
    return f"SELECT {', '.join(cols)}, {', '.join(sums)} FROM {stat.view} WHERE {where} GROUP BY ALL"  # noqa: S608


def _build(con, stat, parts, days: list[str], directory: Path, today: dt.date) -> dict:
    """Compute every part of ``days`` in one query per part; one file per (part, date).

    ``_exact``: the dates whose rollup kept a stamp at its instant (on or after ``today``'s midnight).
    """
    built: dict = defaultdict(dict)
    built["_exact"] = set()
    dates = [dt.date.fromisoformat(d) for d in days]
    placeholders = ", ".join("?" * len(dates))
    where = f"({stat.base}) AND date IN ({placeholders})" if stat.base else f"date IN ({placeholders})"
    cut = dt.datetime.combine(today, dt.time(), timezone.get_default_timezone())
    for part, spec in parts.items():
        if isinstance(spec, CubePart):
            text = spec.sql.format(where=where)
        elif isinstance(spec[-1], Rollup):
            text = _rollup_sql(stat, spec[0], spec[-1], where, cut)
        else:
            group, keys, gsql, gwhere = spec
            cols = ", ".join(["date", *group, *([f"{gsql} AS g"] if gsql else [])])
            only = f" AND ({gwhere})" if gwhere else ""
            select = ", ".join(f"{stat.measure(k).sql} AS {k}" for k in keys)
            text = f"SELECT {cols}, {select} FROM {stat.view} WHERE {where}{only} GROUP BY ALL"  # noqa: S608
        # Only SQL of the statistic's definition and column names of this module reach the text.
        table = con.sql(text, params=dates).to_arrow_table()
        for day, date in zip(days, dates, strict=True):
            piece = table.filter(pc.equal(table["date"], pa.scalar(date, pa.date32()))).drop_columns(["date"])
            rel = f"{part}/date={day}/part-{uuid.uuid4().hex}.parquet"
            replace_file(directory / rel, piece)
            if stat.rollup is not None and _any_after(piece, stat.rollup.stamps, cut):
                built["_exact"].add(day)
            built[day][part] = rel
            built["_rows"][rel] = piece.num_rows
    return built


def _any_after(piece: pa.Table, stamps, cut: dt.datetime) -> bool:
    for s in stamps:
        latest = pc.max(piece[s]).as_py() if piece.num_rows else None
        if latest is not None and latest >= cut:
            return True
    return False


def usable(stat, start: dt.date, end: dt.date, *, root=None, as_of: dt.datetime | None = None) -> dict | None:
    """The cube's files of the window's dates when every one is current, else None (read raw).

    part → {"daily": [paths], "monthly": [paths]} (see :func:`attach`). ``as_of``: the window's
    ``{as_of}`` — a rollup built after it (when it is not a midnight) is not exact for it.
    """
    if not cubeable(stat):
        return None
    shared = shared_manifest(cubes_root(root), stat.slug)  # read, not changed
    manifest = shared.manifest
    if manifest.get("definition") != definition_digest(stat):
        return None
    source = _fingerprints(root, _sources(stat))
    files: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"daily": [], "monthly": []})
    base = cubes_root(root) / stat.slug
    midnight = as_of is None or timezone.localtime(as_of).time() == dt.time()
    for day, fp in source.items():
        if not start.isoformat() <= day <= end.isoformat():
            continue
        entry = manifest["dates"].get(day)
        if entry is None or entry["source"] != fp:
            return None
        if not midnight and "cut" in entry and timezone.localtime(as_of).date().isoformat() < entry["cut"]:
            return None
    months: dict[str, bool] = {}
    for day in sorted(source):
        if not start.isoformat() <= day <= end.isoformat():
            continue
        month = day[:7]
        if month not in months:
            entry = manifest["months"].get(month)
            if entry and ("month", month) not in shared.memo:
                shared.memo["month", month] = _month_fingerprint(manifest, month)
            months[month] = bool(entry) and entry["source"] == shared.memo["month", month]
            if months[month]:
                for part, rel in entry["files"].items():
                    files[part]["monthly"].append(str(base / rel))
        if not months[month]:
            for part, rel in manifest["dates"][day]["files"].items():
                files[part]["daily"].append(str(base / rel))
    return dict(files)


def attach(con, files: dict, *, prefix: str = "cube_") -> None:
    """Views ``<prefix><part>`` over the files :func:`usable` returned (daily and monthly alike)."""
    for part, listed in files.items():
        selects = []
        if listed["daily"]:
            quoted = ", ".join(_quote(f) for f in listed["daily"])
            selects.append(
                f"SELECT * FROM read_parquet([{quoted}], hive_partitioning = true, hive_types = {{'date': 'DATE'}})"  # noqa: S608
            )
        if listed["monthly"]:
            quoted = ", ".join(_quote(f) for f in listed["monthly"])
            selects.append(f"SELECT * FROM read_parquet([{quoted}], hive_partitioning = false)")  # noqa: S608
        con.execute(f"CREATE TEMP VIEW {prefix}{part} AS " + " UNION ALL BY NAME ".join(selects))  # noqa: S608


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def refresh_all(*, root=None) -> list[dict]:
    from .catalog import STATISTICS
    from .orders import CUBE as ORDERS_CUBE
    from .receipts import RECONCILE_CUBE

    stats = [ORDERS_CUBE, RECONCILE_CUBE, *STATISTICS.values()]
    return [refresh(stat, root=root) for stat in stats if cubeable(stat)]
