"""Lake upkeep: `govcenter lake status|compact|slim`, the nightly task, and their audit entries."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from govcenter.analytics.lake import LakeWriter, duckdb_connection
from govcenter.analytics.tasks import lake_nightly_task
from govcenter.core.models import AuditEntry

from .test_lake import BEIJING, _telemetry_days, parquet_files, point, rows

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def lake(settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = str(tmp_path / "lake")
    settings.GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS = 2
    writer = LakeWriter(tmp_path / "lake")
    points = _telemetry_days(writer, TODAY, days=4, per_hour=5)  # one file per partition
    extra = [  # a second file in each partition
        point(
            operator,
            "d9",
            dt.datetime.combine(TODAY - dt.timedelta(days=back), dt.time(12, minute), tzinfo=BEIJING),
        )
        for back in range(4)
        for operator in ("meituan", "hellobike")
        for minute in range(0, 60, 10)
    ]
    writer.write("telemetry", extra)
    return tmp_path / "lake", points + extra


def _run(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("lake", *args, stdout=out)
    return json.loads(out.getvalue())


def test_status_counts_partitions_files_and_dates(lake):
    root, _ = lake
    status = _run("status")
    telemetry = status["datasets"]["telemetry"]
    assert telemetry["partitions"] == 4 * 2  # days × operators
    assert telemetry["files"] == len(parquet_files(root, "telemetry")) == 16
    assert (telemetry["first_date"], telemetry["last_date"]) == ("2026-11-23", "2026-11-26")
    assert status["datasets"]["trips"] == {
        "partitions": 0,
        "files": 0,
        "bytes": 0,
        "first_date": None,
        "last_date": None,
    }


def test_compact_merges_each_partition_keeps_every_row_and_is_audited(lake):
    root, points = lake
    report = _run("compact", "--dataset", "telemetry", "--date", "2026-11-25")
    telemetry = report["datasets"]["telemetry"]
    assert (telemetry["files_before"], telemetry["files_after"]) == (4, 2)
    assert len(parquet_files(root, "telemetry")) == 16 - 2  # the other dates are untouched
    con = duckdb_connection(root)
    assert rows(con, "SELECT count(*) FROM telemetry") == [(len(points),)]
    entry = AuditEntry.objects.filter(action="lake.compact").get()
    assert entry.channel == "cli" and entry.object_id == "telemetry"
    assert entry.changes["datasets"]["telemetry"]["files_after"] == 2

    again = _run("compact", "--dataset", "telemetry", "--date", "2026-11-25")  # nothing to merge
    assert again["datasets"]["telemetry"]["files_before"] == 2
    assert AuditEntry.objects.filter(action="lake.compact").count() == 1


def test_slim_uses_the_setting_and_reports_bytes(lake):
    root, points = lake
    report = _run("slim", "--today", TODAY.isoformat())
    assert report["raw_telemetry_days"] == 2 and report["cutoff"] == "2026-11-25"
    assert report["bytes_after"] < report["bytes_before"]
    con = duckdb_connection(root)
    old = [p for p in points if p["timestamp"].astimezone(BEIJING).date() < dt.date(2026, 11, 25)]
    assert rows(con, "SELECT sum(point_count) FROM telemetry_hourly")[0][0] == len(old)
    entry = AuditEntry.objects.get(action="lake.slim")
    assert entry.changes["partitions"] == 4 and entry.changes["bytes_after"] == report["bytes_after"]


def test_the_nightly_task_compacts_then_slims_as_the_task_channel(lake, monkeypatch):
    root, points = lake
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: TODAY)
    result = lake_nightly_task.call_local()
    assert result["slim"]["cutoff"] == "2026-11-25"
    assert len(parquet_files(root, "telemetry")) == 2 * 2  # the kept dates, one file per partition
    assert {e.channel for e in AuditEntry.objects.filter(action__startswith="lake.")} == {"task"}
    con = duckdb_connection(root)
    kept = rows(con, "SELECT count(*) FROM telemetry")[0][0]
    assert kept + rows(con, "SELECT sum(point_count) FROM telemetry_hourly")[0][0] == len(points)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compact", "--date", "26/11/2026"], "--date '26/11/2026': use a date like"),
        (["compact", "--dataset", "nope"], "unknown lake data set 'nope'"),
        (["slim", "--days", "0"], "--days 0: keep at least 1 day"),
    ],
)
def test_bad_input_exits_2_with_one_line(lake, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as caught:
        call_command("lake", *args)
    assert caught.value.returncode == 2 and message in str(caught.value) and "\n" not in str(caught.value)
