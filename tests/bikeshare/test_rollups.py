"""Rollups answer exactly what the raw analyses answer — current, partly stale, or missing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from govcenter.analytics.engine import connect
from govcenter.analytics.lake.compaction import compact
from govcenter.analytics.lake.files import data_files, partitions, read_part, write_part
from govcenter.analytics.lake.schemas import TRIPS
from govcenter.bikeshare import analyses as an
from govcenter.bikeshare import rollups
from tests.bikeshare.test_analyses import DAYS, build_lake

BEIJING = ZoneInfo("Asia/Shanghai")

_BUILT: dict[str, object] = {}


@pytest.fixture
def lake(db, tmp_path_factory, tmp_path):
    """A private copy of the two-day lake (tests add files, compact and build rollups)."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("rollups") / "lake"
        build_lake(root)
        _BUILT["root"] = root
    copy = tmp_path / "lake"
    shutil.copytree(_BUILT["root"], copy)
    # The demo loader built the days' rollups; start without (derived data: nothing is lost).
    assert (copy / rollups.ROLLUP_DIR).is_dir()
    shutil.rmtree(copy / rollups.ROLLUP_DIR)
    return copy


def raw_hourly(lake, first, last, operators=None) -> pa.Table:
    con = connect("duckdb", lake)
    try:
        expr = an.rides_by_hour(con, first, last, by_district=True)
        if operators is not None:
            expr = expr.filter(expr.operator.isin(sorted(operators)))
        return an.run(expr)
    finally:
        con.disconnect()


def raw_flows(lake, start, end, areas) -> pa.Table:
    con = connect("duckdb", lake)
    try:
        return an.run(an.station_flows(con, start, end, stations=areas))
    finally:
        con.disconnect()


def keyed(table: pa.Table, keys: list[str]) -> dict:
    data = table.to_pylist()
    out = {tuple(r[k] for k in keys): tuple(v for k, v in r.items() if k not in keys) for r in data}
    assert len(out) == len(data)
    return out


RIDE_KEYS = ["operator", "district", "date", "hour"]
FLOW_KEYS = ["station_id", "date", "hour"]


def window(first: dt.date, last: dt.date):
    start = dt.datetime.combine(first, dt.time.min, tzinfo=BEIJING)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=BEIJING)


def add_trip_copy(lake, day: dt.date, operator: str, k: int = 0) -> None:
    """Append a new file to a trips partition: a copy of one of its trips under a new id."""
    part = next(p for p in partitions(lake, "trips", day) if p.operator == operator)
    table = read_part(data_files(part.path)[0], TRIPS).slice(k, 1)
    table = table.set_column(table.schema.get_field_index("trip_id"), "trip_id", pa.array(["late-trip"]))
    write_part(lake, TRIPS, day.isoformat(), operator, table)


def test_rides_hourly_missing_current_and_stale_rollups_equal_the_raw_analysis(lake):
    first, last = DAYS
    want = keyed(raw_hourly(lake, first, last), RIDE_KEYS)
    assert sum(v[0] for v in want.values()) > 1000

    got, how = rollups.rides_hourly(lake, first, last)
    assert how == {"rollups": 0, "scanned": 6, "files_scanned": 6} and keyed(got, RIDE_KEYS) == want

    report = rollups.refresh(lake)
    assert report.checked == 6 and len(report.built) == 6
    got, how = rollups.rides_hourly(lake, first, last)
    assert how == {"rollups": 6, "scanned": 0, "files_scanned": 0} and keyed(got, RIDE_KEYS) == want
    assert rollups.refresh(lake).built == []  # nothing changed: nothing rebuilt

    # A late trip lands in one partition: its rollup still applies and the new file is scanned.
    operator = partitions(lake, "trips", DAYS[1])[0].operator
    add_trip_copy(lake, DAYS[1], operator)
    want_late = keyed(raw_hourly(lake, first, last), RIDE_KEYS)
    assert sum(v[0] for v in want_late.values()) == sum(v[0] for v in want.values()) + 1
    got, how = rollups.rides_hourly(lake, first, last)
    assert how == {"rollups": 6, "scanned": 1, "files_scanned": 1} and keyed(got, RIDE_KEYS) == want_late
    late = (DAYS[1].isoformat(), operator)
    assert rollups.refresh(lake).built == [late]  # the new file added to that rollup
    path = rollups.rollup_path(lake, rollups.RIDES, *late)
    covered = json.loads(pq.read_schema(path).metadata[rollups.META_SOURCES])
    assert len(covered) == 2
    got, how = rollups.rides_hourly(lake, first, last)
    assert how == {"rollups": 6, "scanned": 0, "files_scanned": 0} and keyed(got, RIDE_KEYS) == want_late

    # Compaction replaces the partition's two files by one (dropping nothing): the rollup no
    # longer applies, the partition is scanned whole until refreshed.
    compact(lake, "trips", DAYS[1])
    assert len(data_files(partitions(lake, "trips", DAYS[1])[0].path)) == 1
    got, how = rollups.rides_hourly(lake, first, last)
    assert how == {"rollups": 5, "scanned": 1, "files_scanned": 1} and keyed(got, RIDE_KEYS) == want_late
    assert rollups.refresh(lake).built == [late]
    got, how = rollups.rides_hourly(lake, first, last)
    assert how["scanned"] == 0 and keyed(got, RIDE_KEYS) == want_late
    assert len(json.loads(pq.read_schema(path).metadata[rollups.META_SOURCES])) == 1


def test_rides_hourly_keeps_to_the_operators_and_days_asked(lake):
    rollups.refresh(lake)
    operator = partitions(lake, "trips", DAYS[0])[0].operator
    got, how = rollups.rides_hourly(lake, DAYS[1], DAYS[1], operators={operator})
    assert how == {"rollups": 1, "scanned": 0, "files_scanned": 0}
    assert keyed(got, RIDE_KEYS) == keyed(raw_hourly(lake, DAYS[1], DAYS[1], {operator}), RIDE_KEYS)
    assert set(pc.unique(got["operator"]).to_pylist()) == {operator}


def test_refresh_of_some_days_and_orphans(lake):
    report = rollups.refresh(lake, first=DAYS[0], last=DAYS[0])
    assert {d for d, _o in report.built} == {DAYS[0].isoformat()}
    assert rollups.rides_hourly(lake, *DAYS)[1] == {"rollups": 3, "scanned": 3, "files_scanned": 3}

    gone = partitions(lake, "trips", DAYS[0])[0]
    shutil.rmtree(gone.path)
    report = rollups.refresh(lake, first=DAYS[0], last=DAYS[0])
    assert report.removed == 2 and report.built == []  # both rollups of the vanished partition
    assert not rollups.rollup_path(lake, rollups.RIDES, gone.date, gone.operator).exists()
    assert rollups.rides_hourly(lake, *DAYS)[1] == {"rollups": 2, "scanned": 3, "files_scanned": 3}

    report = rollups.refresh(lake, rebuild=True)
    assert len(report.built) == 5


def test_station_flows_from_rollups_equal_the_raw_analysis(lake):
    areas = an.station_areas()
    start, end = window(DAYS[1], DAYS[1])
    want = keyed(raw_flows(lake, start, end, areas), FLOW_KEYS)
    assert sum(v[1] + v[2] for v in want.values()) > 0  # arrivals + departures happen

    rollups.refresh(lake)
    got, how = rollups.station_hourly(lake, start, end, areas)
    assert how == {"rollups": 3, "scanned": 0, "files_scanned": 0}  # DAYS[1]'s (none the day before)
    assert keyed(got, FLOW_KEYS) == want

    # A subset of the stations (a district's scope), and a window of a few hours.
    some = areas.slice(0, 7)
    got, _how = rollups.station_hourly(lake, start, end, some)
    assert keyed(got, FLOW_KEYS) == keyed(raw_flows(lake, start, end, some), FLOW_KEYS)
    morning = (start + dt.timedelta(hours=7), start + dt.timedelta(hours=10))
    got, how = rollups.station_hourly(lake, *morning, areas)
    assert how["scanned"] == 0 and keyed(got, FLOW_KEYS) == keyed(raw_flows(lake, *morning, areas), FLOW_KEYS)
    assert {r["hour"] for r in got.to_pylist()} <= {7, 8, 9}

    # Not on whole hours, or stations the rollups do not hold: the raw analysis answers.
    odd = (start + dt.timedelta(minutes=30), end)
    got, how = rollups.station_hourly(lake, *odd, areas)
    assert how["rollups"] == 0 and keyed(got, FLOW_KEYS) == keyed(raw_flows(lake, *odd, areas), FLOW_KEYS)
    moved = areas.set_column(
        areas.schema.get_field_index("radius_m"), "radius_m", pc.multiply(areas["radius_m"], 2.0)
    )
    got, how = rollups.station_hourly(lake, start, end, moved)
    assert how["rollups"] == 0 and keyed(got, FLOW_KEYS) == keyed(
        raw_flows(lake, start, end, moved), FLOW_KEYS
    )


def test_station_rollups_carry_arrivals_past_their_own_day(lake):
    """A trip started late on one day and ended after midnight arrives on the next day: the
    first day's rollup holds that arrival, and a window of the next day finds it."""
    areas = an.station_areas()
    a, b = areas.slice(0, 1).to_pylist()[0], areas.slice(1, 1).to_pylist()[0]
    part = partitions(lake, "trips", DAYS[0])[0]
    trip = read_part(data_files(part.path)[0], TRIPS).slice(0, 1).to_pylist()[0]
    late = dt.datetime.combine(DAYS[0], dt.time(23, 50), tzinfo=BEIJING)
    trip.update(
        trip_id="night-trip",
        start_time=late,
        end_time=late + dt.timedelta(minutes=20),
        start_lon=a["lon"],
        start_lat=a["lat"],
        end_lon=b["lon"],
        end_lat=b["lat"],
        duration_s=1200,
    )
    write_part(lake, TRIPS, DAYS[0].isoformat(), part.operator, pa.Table.from_pylist([trip], TRIPS.schema))
    rollups.refresh(lake)

    next_day = DAYS[0] + dt.timedelta(days=1)
    start, end = window(next_day, next_day)
    got, how = rollups.station_hourly(lake, start, end, areas)
    assert how["rollups"] == 3 and how["scanned"] == 0  # the day before's partitions, summarised
    want = raw_flows(lake, start, end, areas)
    assert keyed(got, FLOW_KEYS) == keyed(want, FLOW_KEYS)
    assert keyed(got, FLOW_KEYS)[(b["station_id"], next_day, 0)][1] >= 1  # (station, arrivals, …)


def test_station_windows_longer_than_the_rollups_cover_are_refused(lake):
    start = dt.datetime.combine(DAYS[0], dt.time.min, tzinfo=BEIJING)
    with pytest.raises(ValueError, match="at most"):
        rollups.station_hourly(lake, start, start + dt.timedelta(days=32), an.station_areas())


def test_cli_builds_audited_and_refuses_bad_dates(lake, settings, capsys):
    import json

    from django.core.management import CommandError, call_command

    from govcenter.core.models import AuditEntry

    settings.GOVCENTER_LAKE_DIR = str(lake)
    call_command("bikeshare", "rollups", "--last", DAYS[1].isoformat())
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["checked"] == 6 and len(report["built"]) == 6
    entry = AuditEntry.objects.get(action="bikeshare.rollups.refresh")
    assert entry.channel == "cli" and entry.user_id is None
    assert rollups.rides_hourly(lake, *DAYS)[1]["scanned"] == 0

    call_command("bikeshare", "rollups")  # nothing to do: no second audit entry
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["built"] == []
    assert AuditEntry.objects.filter(action="bikeshare.rollups.refresh").count() == 1

    for args in (
        ["--first", "2026-13-01"],
        ["--last", "yesterday"],
        ["--first", "2026-11-02", "--last", "2026-11-01"],
    ):
        with pytest.raises(CommandError) as exc:
            call_command("bikeshare", "rollups", *args)
        assert exc.value.returncode == 2 and "\n" not in str(exc.value)


def test_the_hourly_task_builds_as_the_task_channel_and_never_raises(lake, settings):
    from govcenter.bikeshare.tasks import rollups_refresh_every_hour
    from govcenter.core.models import AuditEntry

    settings.GOVCENTER_LAKE_DIR = str(lake)
    result = rollups_refresh_every_hour.call_local()
    assert result["checked"] == 6 and result["built"] == 6
    assert AuditEntry.objects.get(action="bikeshare.rollups.refresh").channel == "task"
    assert rollups_refresh_every_hour.call_local()["built"] == 0

    # A broken partition (a file that is not Parquet) fails the build: reported, not raised.
    part = partitions(lake, "trips", DAYS[0])[0]
    (part.path / "part-broken.parquet").write_bytes(b"not parquet")
    assert "error" in rollups_refresh_every_hour.call_local()
