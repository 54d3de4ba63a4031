"""The data-quality monitor per operator (数据质量监测): one Beijing day of the lake, measured.

:func:`daily_quality` answers, per operator, from DuckDB SQL over the lake
(``analytics.lake.query``) plus the ingest refusal counters (``OperatorRejection``):

* **telemetry points / devices reporting** — distinct ``(device_id, timestamp)`` keys in the
  day, and the devices they come from.
* **ride-interval violations** (the 2-minute rule) — consecutive points of the same trip more
  than 120 s apart.
* **parked-interval violations** (the 4-hour rule) — a device point that is not followed by a
  point of the same trip (the bike is parked, or its trip ended) and after which the device
  reports nothing for more than 4 hours (or, so far, never).
* **trips with no end** — trip ids that telemetry of the day names but for which no trip
  record arrived (MDS trips are pushed once they end), counted only once the trip's last point
  is :data:`TRIP_RECORD_GRACE_S` old; **trips without telemetry** — trip records of the day no
  point refers to; **end before start** — trip records with ``end_time`` ≤ ``start_time``
  (ingest refuses those, so any in the lake came by another path).
* **duplicates** — keys (telemetry ``(device_id, timestamp)``, trips ``trip_id``, events
  ``event_id``) held more than once in the day's partitions.
* **positions outside Beijing** — lake positions (telemetry, trip starts and ends, events) in
  no district polygon (``core.districts``, vectorised on the distinct positions). Ingest
  refuses such records, so this is normally zero; the refusals themselves are in the
  ``rejections`` counters (reason ``outside_beijing``).
* **lateness** — how long after its time a record reached the lake (p50/p95, on-time share).
* **rejections** — the ingest refusal counters of the operator, per reason.
* **score** — 0–100, see :data:`WEIGHTS`.

Interval rules at the day's edges. An interval is attributed to the day in which its
*deadline* falls (the earlier point's time + 120 s or + 4 h), so a gap across midnight is
counted exactly once, on the day the rule was broken: the query reads the last 4 hours of the
previous day (for gaps that began there) and the first 4 hours of the next day (for ride gaps
that end after midnight; a ride gap that starts before midnight and lasts beyond 04:00 the
next day is missed — a trip silent for over four hours). A deadline still in the future
(``now``) is not judged yet: for today's date the figures grow as the day goes. A parked silence is counted once, on the day
its deadline passed, however long it lasts afterwards. Devices that sent nothing at all in
the window are not seen by the lake (the registry would be needed for those).

Duplicates and compaction. Writers append and compaction keeps one row per key, so a
duplicate is measurable only until its partition is compacted. The count is therefore of
the duplicates *present now*; when any of the day's files is a compacted one,
``duplicates_complete`` is false and the figure is a lower bound. Run the monitor before
the nightly compaction (or have compaction record the rows it dropped) to see them all.

Lateness approximation. Lake rows carry no receive time. Each file's footer holds
``govcenter.written_at`` (when the consumer wrote it), so lateness = written_at − record time
(telemetry/events: ``timestamp``; trips: ``end_time``, as a trip is reported after it ends).
That is receive time + stream and micro-batch delay, so an upper bound of the operator's
lateness. Compacted files carry the newest written_at of their inputs, which says nothing
about single rows: they are left out (``rows_measured`` tells how many rows were measured).

Rejection counters are cumulative since ``first_at`` (the model keeps no per-day series), so
they are shown beside the day's figures but do not enter the day's score.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from govcenter.analytics.lake.files import check_date, data_files, file_info, partitions
from govcenter.analytics.lake.query import duckdb_connection
from govcenter.analytics.lake.schemas import get_spec

BEIJING = ZoneInfo("Asia/Shanghai")
RIDE_LIMIT_S = 120  # a point at least every 2 minutes while ridden
PARKED_LIMIT_S = 4 * 3600  # a point at least every 4 hours while parked
TRIP_RECORD_GRACE_S = 3600  # a trip's record may arrive up to an hour after its last point
ON_TIME_S = {"telemetry": 300, "events": 300, "trips": 3600}  # lateness still "on time"
KEYS = {"telemetry": ("device_id", "timestamp"), "trips": ("trip_id",), "events": ("event_id",)}
LATENESS_TIME = {"telemetry": "timestamp", "events": "timestamp", "trips": "end_time"}

# Score weights (sum 100). Each component is a share in [0, 1] (1 = no defect); components
# with nothing to measure (no intervals, no rows measured …) are left out and the remaining
# weights rescaled, so the score is 100 × Σ wᵢ·cᵢ / Σ wᵢ over the measurable ones.
WEIGHTS: dict[str, int] = {
    "ride_intervals": 25,  # 1 − ride violations / ride intervals
    "parked_intervals": 20,  # 1 − parked violations / parked intervals
    "trips": 20,  # 1 − (no end + no telemetry + end ≤ start) / (trip records + trips with no end)
    "timeliness": 15,  # rows on time / rows measured
    "duplicates": 10,  # 1 − duplicate rows / rows
    "positions": 10,  # 1 − positions outside Beijing / positions checked
}


def _day_bounds(day: dt.date) -> tuple[int, int]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=BEIJING)
    return int(start.timestamp() * 1000), int((start + dt.timedelta(days=1)).timestamp() * 1000)


def _operator_filter(operator) -> list[str] | None:
    if operator is None:
        return None
    if isinstance(operator, str):
        return [operator]
    return sorted(set(operator))


def _empty_row(code: str) -> dict:
    return {
        "operator": code,
        "telemetry_points": 0,
        "devices_reporting": 0,
        "ride_intervals": 0,
        "ride_violations": 0,
        "parked_intervals": 0,
        "parked_violations": 0,
        "trips": 0,
        "trips_without_end": 0,
        "trips_without_telemetry": 0,
        "trips_end_before_start": 0,
        "duplicates": {ds: {"rows": 0, "keys": 0, "extra_rows": 0} for ds in KEYS},
        "duplicates_complete": True,
        "positions_checked": 0,
        "positions_outside": 0,
        "lateness": {ds: {"rows_measured": 0, "p50_s": None, "p95_s": None, "on_time": 0} for ds in KEYS},
        "rejections": {},
        "rejections_since": None,
    }


# -- telemetry intervals and trips -----------------------------------------------------------

_INTERVALS_SQL = """
WITH p AS (
    SELECT operator, device_id, epoch_ms(timestamp) AS t, max(trip_id) AS trip_id
    FROM telemetry
    WHERE date BETWEEN $d_prev AND $d_next
      AND timestamp >= to_timestamp($lo / 1000.0) AND timestamp < to_timestamp($hi / 1000.0)
      AND ($all OR list_contains($ops, operator))
    GROUP BY operator, device_id, t
), n AS (
    SELECT *,
        lead(t) OVER (PARTITION BY operator, device_id ORDER BY t) AS next_t,
        lead(trip_id) OVER (PARTITION BY operator, device_id ORDER BY t) AS next_trip,
        CASE WHEN trip_id IS NOT NULL
             -- a trip is one device's: partitioning by the device too keeps the windows small
             THEN lead(t) OVER (PARTITION BY operator, device_id, trip_id ORDER BY t) END AS next_trip_t
    FROM p
), j AS (
    SELECT *,
        t + $ride_ms AS ride_deadline,
        t + $parked_ms AS parked_deadline,
        (trip_id IS NOT NULL AND next_trip IS NOT DISTINCT FROM trip_id) AS rides_on
    FROM n
)
SELECT operator,
    count(*) FILTER (WHERE t >= $start AND t < $end) AS points,
    count(DISTINCT device_id) FILTER (WHERE t >= $start AND t < $end) AS devices,
    count(*) FILTER (WHERE next_trip_t IS NOT NULL
                     AND ride_deadline >= $start AND ride_deadline < $judge) AS ride_intervals,
    count(*) FILTER (WHERE next_trip_t IS NOT NULL AND next_trip_t - t > $ride_ms
                     AND ride_deadline >= $start AND ride_deadline < $judge) AS ride_violations,
    count(*) FILTER (WHERE NOT rides_on
                     AND parked_deadline >= $start AND parked_deadline < $judge) AS parked_intervals,
    count(*) FILTER (WHERE NOT rides_on AND (next_t IS NULL OR next_t - t > $parked_ms)
                     AND parked_deadline >= $start AND parked_deadline < $judge) AS parked_violations
FROM j
GROUP BY operator
"""

_TRIPS_SQL = """
WITH pts AS (
    SELECT operator, trip_id, min(epoch_ms(timestamp)) AS first_t, max(epoch_ms(timestamp)) AS last_t
    FROM telemetry
    WHERE date BETWEEN $d_prev AND $d_next AND trip_id IS NOT NULL
      AND timestamp >= to_timestamp($lo / 1000.0) AND timestamp < to_timestamp($hi / 1000.0)
      AND ($all OR list_contains($ops, operator))
    GROUP BY operator, trip_id
), recs AS (
    SELECT DISTINCT operator, trip_id FROM trips
    WHERE date BETWEEN $d_prev AND $d_next AND ($all OR list_contains($ops, operator))
), today AS (
    SELECT operator, trip_id, bool_or(end_time <= start_time) AS backwards
    FROM trips WHERE date = $day AND ($all OR list_contains($ops, operator))
    GROUP BY operator, trip_id
), no_end AS (
    SELECT operator, count(*) AS n FROM pts ANTI JOIN recs USING (operator, trip_id)
    WHERE first_t >= $start AND first_t < $end AND last_t <= $now - $grace_ms
    GROUP BY operator
), no_points AS (
    SELECT operator, count(*) AS n FROM today ANTI JOIN pts USING (operator, trip_id)
    GROUP BY operator
), summary AS (
    SELECT operator, count(*) AS n, count(*) FILTER (WHERE backwards) AS backwards
    FROM today GROUP BY operator
)
SELECT operator, coalesce(s.n, 0), coalesce(s.backwards, 0), coalesce(e.n, 0), coalesce(p.n, 0)
FROM summary s FULL JOIN no_end e USING (operator) FULL JOIN no_points p USING (operator)
"""

_POSITIONS_SQL = """
SELECT operator, lon, lat, count(*) AS n FROM (
    SELECT operator, lon, lat FROM telemetry WHERE date = $day AND ($all OR list_contains($ops, operator))
    UNION ALL
    SELECT operator, start_lon, start_lat FROM trips WHERE date = $day AND ($all OR list_contains($ops, operator))
    UNION ALL
    SELECT operator, end_lon, end_lat FROM trips WHERE date = $day AND ($all OR list_contains($ops, operator))
    UNION ALL
    SELECT operator, lon, lat FROM events
    WHERE date = $day AND lon IS NOT NULL AND ($all OR list_contains($ops, operator))
) GROUP BY ALL
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _day_files(root: Path, dataset: str, day: str, ops: list[str] | None) -> list:
    """FileInfo of every complete file of the day's partitions (optionally some operators)."""
    spec = get_spec(dataset)
    infos = []
    for part in partitions(root, dataset, day):
        if ops is None or part.operator in ops:
            infos.extend(file_info(p, spec) for p in data_files(part.path))
    return infos


def _written_ms(info) -> int | None:
    try:
        return int(dt.datetime.fromisoformat(info.written_at).timestamp() * 1000)
    except ValueError:
        return None


def _files_by_operator(con, root: Path, day: str, ops, rows: dict) -> None:
    """Duplicates (all of the day's files) and lateness (the non-compacted ones) per data set."""
    for dataset, key in KEYS.items():
        infos = _day_files(root, dataset, day, ops)
        if not infos:
            continue
        for info in infos:
            if info.compacted:
                code = info.path.parent.name.removeprefix("operator=")
                rows.setdefault(code, _empty_row(code))["duplicates_complete"] = False
        files = "[" + ", ".join(_quote(str(i.path)) for i in infos) + "]"
        source = f"read_parquet({files}, filename = true, union_by_name = true)"
        key_sql = ", ".join(key)
        dup = con.execute(
            f"SELECT operator, sum(c)::BIGINT, count(*) FILTER (WHERE c > 1), sum(c - 1)::BIGINT "  # noqa: S608
            f"FROM (SELECT operator, {key_sql}, count(*) AS c FROM {source} GROUP BY ALL) GROUP BY operator"
        ).fetchall()
        for code, n, keys, extra in dup:
            rows.setdefault(code, _empty_row(code))["duplicates"][dataset] = {
                "rows": int(n), "keys": int(keys), "extra_rows": int(extra)
            }  # fmt: skip
        meta = [
            (str(i.path), _written_ms(i)) for i in infos if not i.compacted and _written_ms(i) is not None
        ]
        if not meta:
            continue
        con.register(
            "_written",
            pa.table(
                {"filename": [m[0] for m in meta], "written_ms": pa.array([m[1] for m in meta], pa.int64())}
            ),
        )
        late = con.execute(
            f"SELECT operator, count(*), quantile_cont(late, 0.5), quantile_cont(late, 0.95), "  # noqa: S608
            f"count(*) FILTER (WHERE late <= {int(ON_TIME_S[dataset])}) "
            f"FROM (SELECT r.operator, (w.written_ms - epoch_ms(r.{LATENESS_TIME[dataset]})) / 1000.0 AS late "
            f"FROM {source} r JOIN _written w USING (filename)) GROUP BY operator"
        ).fetchall()
        con.unregister("_written")
        for code, n, p50, p95, on_time in late:
            rows.setdefault(code, _empty_row(code))["lateness"][dataset] = {
                "rows_measured": int(n), "p50_s": round(float(p50), 1), "p95_s": round(float(p95), 1),
                "on_time": int(on_time),
            }  # fmt: skip


def _positions(con, params: dict, rows: dict, index) -> None:
    """Positions in no district polygon, looked up once per distinct (operator, lon, lat)."""
    found = con.execute(_POSITIONS_SQL, params).fetchnumpy()
    if not len(found["n"]):
        return
    outside = index.lookup(np.asarray(found["lon"], float), np.asarray(found["lat"], float)) < 0
    counts = np.asarray(found["n"], dtype=np.int64)
    codes = np.asarray(found["operator"], dtype=object)
    for code in sorted(set(codes.tolist())):
        mine = codes == code
        row = rows.setdefault(code, _empty_row(code))
        row["positions_checked"] = int(counts[mine].sum())
        row["positions_outside"] = int(counts[mine & outside].sum())


def _rejections(rows: dict, ops: list[str] | None) -> None:
    from django.db.models import Min, Sum

    from .models import OperatorRejection

    qs = OperatorRejection.objects.exclude(operator=None)
    if ops is not None:
        qs = qs.filter(operator__code__in=ops)
    for code, reason, n, since in (
        qs.values("operator__code", "reason")
        .annotate(n=Sum("count"), since=Min("first_at"))
        .values_list("operator__code", "reason", "n", "since")
    ):
        row = rows.setdefault(code, _empty_row(code))
        row["rejections"][reason] = int(n)
        if row["rejections_since"] is None or since < row["rejections_since"]:
            row["rejections_since"] = since


# -- score -----------------------------------------------------------------------------------


def components(row: dict) -> dict[str, float]:
    """The measurable score components of one operator row (share of good, 0–1)."""
    result: dict[str, float] = {}

    def share(name: str, bad: int, total: int) -> None:
        if total > 0:
            result[name] = max(0.0, 1.0 - bad / total)

    share("ride_intervals", row["ride_violations"], row["ride_intervals"])
    share("parked_intervals", row["parked_violations"], row["parked_intervals"])
    share(
        "trips",
        row["trips_without_end"] + row["trips_without_telemetry"] + row["trips_end_before_start"],
        row["trips"] + row["trips_without_end"],
    )
    measured = sum(v["rows_measured"] for v in row["lateness"].values())
    late = measured - sum(v["on_time"] for v in row["lateness"].values())
    share("timeliness", late, measured)
    share(
        "duplicates",
        sum(v["extra_rows"] for v in row["duplicates"].values()),
        sum(v["rows"] for v in row["duplicates"].values()),
    )
    share("positions", row["positions_outside"], row["positions_checked"])
    return result


def score(parts: dict[str, float]) -> float | None:
    """0–100 from the components (weights :data:`WEIGHTS`); None when nothing was measurable."""
    weight = sum(WEIGHTS[k] for k in parts)
    if not weight:
        return None
    return round(100 * sum(WEIGHTS[k] * v for k, v in parts.items()) / weight, 1)


def _district_index(with_database: bool):
    if with_database:
        from govcenter.core.districts import get_index

        return get_index()
    return _file_index()


@functools.cache
def _file_index():
    from govcenter.core.districts import DistrictIndex

    return DistrictIndex.from_files()


# -- the day ---------------------------------------------------------------------------------


def daily_quality(
    lake_root,
    day: dt.date | str,
    operator: str | Iterable[str] | None = None,
    *,
    now: dt.datetime | None = None,
    rejections: bool = True,
    index=None,
) -> dict:
    """The data quality of one Beijing ``day`` per operator (lake codes = operator unit codes).

    ``operator``: one code or several (the caller's scope); None for every operator the lake
    or the refusal counters know. ``now`` (default: the current time) bounds what can be
    judged yet. ``rejections=False`` skips the database (for use without Django); ``index``
    is the district lookup (default: the process's, or the vendored files' without Django).
    Returns ``{"date", "judged_until", "weights", "operators": [row, …]}``; ValueError for a
    bad date.
    """
    day = dt.date.fromisoformat(check_date(day))
    root = Path(lake_root)
    ops = _operator_filter(operator)
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be zone-aware")
    now_ms = int(now.timestamp() * 1000)
    start, end = _day_bounds(day)
    params = {
        "day": day,
        "d_prev": day - dt.timedelta(days=1),
        "d_next": day + dt.timedelta(days=1),
        "lo": start - PARKED_LIMIT_S * 1000,
        "hi": end + PARKED_LIMIT_S * 1000,
        "start": start,
        "end": end,
        "judge": min(end, now_ms),
        "now": now_ms,
        "ride_ms": RIDE_LIMIT_S * 1000,
        "parked_ms": PARKED_LIMIT_S * 1000,
        "grace_ms": TRIP_RECORD_GRACE_S * 1000,
        "all": ops is None,
        "ops": ops or [],
    }
    rows: dict[str, dict] = {code: _empty_row(code) for code in ops or ()}
    con = duckdb_connection(root)
    try:
        interval_params = {k: params[k] for k in (
            "d_prev", "d_next", "lo", "hi", "start", "end", "judge", "ride_ms", "parked_ms", "all", "ops")}  # fmt: skip
        for code, points, devices, ri, rv, pi, pv in con.execute(_INTERVALS_SQL, interval_params).fetchall():
            row = rows.setdefault(code, _empty_row(code))
            row.update(
                telemetry_points=points, devices_reporting=devices, ride_intervals=ri,
                ride_violations=rv, parked_intervals=pi, parked_violations=pv,
            )  # fmt: skip
        trip_params = {k: params[k] for k in (
            "day", "d_prev", "d_next", "lo", "hi", "start", "end", "now", "grace_ms", "all", "ops")}  # fmt: skip
        for code, n, backwards, no_end, no_points in con.execute(_TRIPS_SQL, trip_params).fetchall():
            row = rows.setdefault(code, _empty_row(code))
            row.update(
                trips=n, trips_end_before_start=backwards, trips_without_end=no_end,
                trips_without_telemetry=no_points,
            )  # fmt: skip
        _positions(
            con, {k: params[k] for k in ("day", "all", "ops")}, rows, index or _district_index(rejections)
        )
        _files_by_operator(con, root, day.isoformat(), ops, rows)
    finally:
        con.close()
    if rejections:
        _rejections(rows, ops)
    result = []
    for code in sorted(rows):
        row = rows[code]
        parts = components(row)
        row["components"] = {k: round(v, 4) for k, v in parts.items()}
        row["score"] = score(parts)
        result.append(row)
    return {
        "date": day.isoformat(),
        "judged_until": dt.datetime.fromtimestamp(params["judge"] / 1000, tz=dt.UTC).isoformat(),
        "weights": dict(WEIGHTS),
        "operators": result,
    }


__all__ = ["WEIGHTS", "components", "daily_quality", "score"]
