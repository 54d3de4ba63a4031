"""Central log audit: the handler batches and never recurses nor blocks; the ingest API is all
or nothing; the search unites application logs and (for auditors only) the kernel audit chain;
the export is capped and audited; retention below 180 days is refused; prune deletes in batches."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from govcenter.core import audit
from govcenter.core.context import acting_as
from govcenter.core.models import AuditEntry
from govcenter.ops.logaudit import services
from govcenter.ops.logaudit.handler import DatabaseLogHandler
from govcenter.ops.models import LogRecord
from tests.factories import RoleFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")
NOW = timezone.now()


def record(**fields) -> LogRecord:
    values = {"ts": NOW - dt.timedelta(hours=1), "level": "WARNING", "logger": "govcenter.parking", "message": "m",
              "source_host": "app1", "source_app": "govcenter", **fields}  # fmt: skip
    return LogRecord.objects.create(**values)


@pytest.fixture
def people(db):
    readers = RoleFactory(scope_kind="all", perms=["ops.view_logrecord", "ops.export_logrecord"])
    auditors = RoleFactory(scope_kind="all", perms=["ops.view_logrecord", "ops.export_logrecord", "core.view_audit"])
    shippers = RoleFactory(scope_kind="own_unit", perms=["ops.ingest_logrecord"])
    return {
        "secadmin": UserFactory(username="sec", role_set=[readers]),
        "auditor": UserFactory(username="aud", role_set=[auditors]),
        "shipper": UserFactory(username="shipper", role_set=[shippers]),
        "nobody": UserFactory(username="nobody"),
    }


# --------------------------------------------------------------------------------------------
# The handler
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_handler_batches_records_with_their_context():
    handler = DatabaseLogHandler(logging.WARNING, start_thread=False, batch_size=2)
    log = logging.getLogger("govcenter.test.collected")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.info("below the level")
        log.warning("payment %s failed", "P-1", extra={"action": "payment.fail", "object_type": "parking.payment",
                                                      "object_id": "17", "request_id": "req-1", "user_id": 5})  # fmt: skip
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("crashed")
        log.error("third")
        assert LogRecord.objects.count() == 0  # nothing written inline: the caller never waits
        assert handler.queue.qsize() == 3
        handler.flush()
    finally:
        log.removeHandler(handler)
    rows = list(LogRecord.objects.order_by("pk"))
    assert [r.message for r in rows] == ["payment P-1 failed", "crashed", "third"]
    assert (rows[0].action, rows[0].object_id, rows[0].request_id, rows[0].user_id) == ("payment.fail", "17", "req-1", 5)
    assert "ValueError: boom" in rows[1].extra["exc"] and rows[1].level == "ERROR"
    assert handler.written == 3 and handler.dropped == 0


@pytest.mark.django_db
def test_the_handler_never_recurses_and_drops_when_full():
    handler = DatabaseLogHandler(logging.DEBUG, start_thread=False, capacity=2)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("django.db.backends").debug("SELECT 1")  # the database layer is never collected
        logging.getLogger("govcenter.x").warning("one")
        handler.flush()  # bulk_create logs SQL at DEBUG while writing: must not come back in
        assert [r.message for r in LogRecord.objects.all()] == ["one"] and handler.queue.qsize() == 0
        for i in range(5):
            logging.getLogger("govcenter.x").warning("flood %d", i)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert handler.queue.qsize() == 2 and handler.dropped == 3


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_writes_with_its_own_connection():
    import threading

    handler = DatabaseLogHandler(logging.WARNING, interval=0.05)
    for i in range(3):
        handler.emit(logging.LogRecord("govcenter.x", logging.ERROR, __file__, 1, "from a request %d", (i,), None))
    done = threading.Event()
    for _ in range(400):  # wait for the condition (up to ~20 s on a busy machine), no timing asserted
        if handler.written >= 3 or done.wait(0.05):
            break
    handler.close()
    assert sorted(LogRecord.objects.values_list("message", flat=True)) == [f"from a request {i}" for i in range(3)]
    assert handler._thread is not None and handler._thread.name == "govcenter-log-collector"


@pytest.mark.django_db
def test_the_handler_drops_a_batch_the_database_refuses(capsys):
    handler = DatabaseLogHandler(logging.WARNING, start_thread=False)
    handler.emit(logging.LogRecord("govcenter.x", logging.WARNING, __file__, 1, "fine", None, None))
    handler.emit(logging.LogRecord("govcenter.x", logging.WARNING, __file__, 1, "x" * 10, None, None))
    handler.queue.queue[1]["user_id"] = "not a number"  # a value the database refuses
    handler.flush()
    assert handler.dropped == 2 and handler.written == 0 and "dropped 2 records" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Ingest
# --------------------------------------------------------------------------------------------


def line(**fields) -> dict:
    return {"ts": "2026-11-27T02:00:00Z", "level": "ERROR", "logger": "nginx", "message": "upstream timed out",
            "host": "web2", "app": "nginx", "username": "zhang", "action": "http.502", **fields}  # fmt: skip


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_ingest_stores_a_valid_batch_and_audits_it(people):
    from govcenter.core.tokens import api_token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + api_token_create(user=people["shipper"], name="web2 shipper"))
    response = client.post("/api/v1/ops/logs", {"records": [line(), line(level="WARNING")]},
                                           format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json() == {"stored": 2}
    assert set(LogRecord.objects.values_list("source_host", flat=True)) == {"web2"}
    entry = AuditEntry.objects.get(action="ops.logs.ingest")
    assert entry.changes["after"]["count"] == 2 and entry.username == "shipper"


def test_ingest_is_all_or_nothing_with_errors_by_index(people):
    client = api(people["shipper"])
    bad = client.post("/api/v1/ops/logs", {"records": [line(), line(level="LOUD"), line(ts="2026-11-27T10:00:00")]},
                      format="json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
    errors = bad.json()["details"]["records"]
    assert set(errors) == {"1", "2"} and "level" in errors["1"] and "UTC offset" in errors["2"]["ts"][0]
    future = client.post("/api/v1/ops/logs", {"records": [line(ts="2099-01-01T00:00:00Z")]}, format="json")
    assert future.status_code == 400
    assert client.post("/api/v1/ops/logs", {"records": []}, format="json").status_code == 400
    assert client.post("/api/v1/ops/logs", {"records": [line()] * 1001}, format="json").status_code == 400
    assert not LogRecord.objects.exists()
    refused = api(people["auditor"]).post("/api/v1/ops/logs", {"records": [line()]}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert APIClient().post("/api/v1/ops/logs", {"records": [line()]}, format="json").status_code in (401, 403)


# --------------------------------------------------------------------------------------------
# Search and export
# --------------------------------------------------------------------------------------------


def search_params(**extra) -> dict:
    start, end = timezone.localtime(NOW - dt.timedelta(days=1)), timezone.localtime(NOW + dt.timedelta(hours=1))
    return {"start": start.strftime("%Y-%m-%dT%H:%M"), "end": end.strftime("%Y-%m-%dT%H:%M"), **extra}


def test_the_search_filters_and_unites_the_audit_chain_for_auditors_only(people, client):
    record(message="slow query on orders", username="wang", user_id=7, action="order.close",
           object_type="parking.order", object_id="42")  # fmt: skip
    record(message="disk 91%", level="ERROR", logger="govcenter.ops")
    record(message="too old", ts=NOW - dt.timedelta(days=3))
    with acting_as(people["auditor"]):
        audit.record(action="order.close", object_type="parking.order", object_id="42", object_repr="订单 42")
    client.force_login(people["auditor"])
    fixtures_audited = AuditEntry.objects.exclude(action="order.close").count()  # the users and roles made above
    page = client.get("/ops/logs/", search_params())
    assert page.status_code == 200 and page.context["total_count"] == 3 + fixtures_audited
    # Newest first: the audit entries are from just now, the log records from an hour ago.
    assert [kind for kind, _cells in page.context["rows"]] == ["audit"] * (1 + fixtures_audited) + ["log", "log"]
    by_object = client.get("/ops/logs/", search_params(object_type="parking.order", object_id="42"))
    assert sorted(k for k, _ in by_object.context["rows"]) == ["audit", "log"]
    assert client.get("/ops/logs/", search_params(user="wang")).context["total_count"] == 1
    assert client.get("/ops/logs/", search_params(user="7")).context["total_count"] == 1
    assert client.get("/ops/logs/", search_params(level="ERROR")).context["rows"][0][1][3] == "disk 91%"
    assert client.get("/ops/logs/", search_params(level="AUDIT")).context["total_count"] == 1 + fixtures_audited
    assert client.get("/ops/logs/", search_params(text="SLOW")).context["total_count"] == 1
    assert client.get("/ops/logs/", search_params(action="order.close")).context["total_count"] == 2
    # The security administrator sees the application logs, never the audit chain (三权分立).
    client.force_login(people["secadmin"])
    mine = client.get("/ops/logs/", search_params(action="order.close"))
    assert [k for k, _ in mine.context["rows"]] == ["log"]
    client.force_login(people["nobody"])
    assert client.get("/ops/logs/", search_params()).status_code == 403


def test_the_time_range_is_required_and_bounded(people, client):
    client.force_login(people["auditor"])
    assert client.get("/ops/logs/").status_code == 200  # the last 24 hours by default
    assert client.get("/ops/logs/", {"start": "2026-11-01T00:00"}).status_code == 400
    too_long = client.get("/ops/logs/", {"start": "2026-09-01T00:00", "end": "2026-11-01T00:00"})
    assert too_long.status_code == 400 and "31" in too_long.content.decode()
    backwards = client.get("/ops/logs/", {"start": "2026-11-02T00:00", "end": "2026-11-01T00:00"})
    assert backwards.status_code == 400


def test_the_export_is_exactly_the_search_audited_and_capped(people, client, settings):
    for i in range(3):
        record(message=f"=cmd|{i}", username="wang")
    record(message="other", username="li")
    client.force_login(people["secadmin"])
    xlsx = client.get("/ops/logs/export/", search_params(user="wang", format="xlsx"))
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][0] == "时间" and len(values) == 4
    assert {row[3] for row in values[1:]} == {"'=cmd|0", "'=cmd|1", "'=cmd|2"}  # no formula injection
    csv_response = client.get("/ops/logs/export/", search_params(format="csv"))
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert len(rows) == 5 and rows[0][3] == "消息"
    exports = AuditEntry.objects.filter(action="ops.logs.export").order_by("seq")
    assert [(e.changes["after"]["format"], e.changes["after"]["rows"]) for e in exports] == [("xlsx", 3), ("csv", 4)]
    assert exports[0].changes["after"]["filters"]["user"] == "wang" and exports[0].username == "sec"
    settings.GOVCENTER_OPS_LOG_EXPORT_MAX_ROWS = 3
    too_big = client.get("/ops/logs/export/", search_params(format="csv"))
    assert too_big.status_code == 400 and "超过导出上限3条" in too_big.content.decode()
    assert AuditEntry.objects.filter(action="ops.logs.export").count() == 2
    readers_only = RoleFactory(scope_kind="all", perms=["ops.view_logrecord"])
    client.force_login(UserFactory(username="viewer", role_set=[readers_only]))
    assert client.get("/ops/logs/export/", search_params(format="csv")).status_code == 403


# --------------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------------


def test_a_retention_below_180_days_is_refused(db, settings):
    settings.GOVCENTER_OPS_LOG_RETENTION_DAYS = 90
    errors = [e for e in run_checks(tags=["ops"]) if e.id == "ops.E801"]
    assert errors and "180" in errors[0].msg
    with pytest.raises(CommandError) as refused:
        call_command("ops", "logs", "prune")
    assert refused.value.returncode == 2
    settings.GOVCENTER_OPS_LOG_RETENTION_DAYS = 180
    assert not [e for e in run_checks(tags=["ops"]) if e.id == "ops.E801"]


def test_settings_refuse_a_short_retention_at_startup():
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='govcenter.test_settings'; import govcenter.settings"
    env = {"GOVCENTER_OPS_LOG_RETENTION_DAYS": "179", "PATH": "/usr/bin:/bin", **_pythonpath()}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "at least 180 days" in result.stderr


def _pythonpath() -> dict:
    import os

    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_prune_deletes_older_records_in_batches_and_audits(db, capsys):
    for days in (200, 190, 181):
        record(ts=NOW - dt.timedelta(days=days))
    kept = record(ts=NOW - dt.timedelta(days=179))
    assert services.logs_prune(batch_size=2) == 3
    assert list(LogRecord.objects.values_list("pk", flat=True)) == [kept.pk]
    call_command("ops", "logs", "prune")
    assert '"deleted": 0' in capsys.readouterr().out
    entries = AuditEntry.objects.filter(action="ops.logs.prune").order_by("seq")
    assert [e.changes["after"]["deleted"] for e in entries] == [3, 0]


def test_the_daily_prune_task(db):
    from govcenter.ops.logaudit.tasks import logs_prune_daily

    record(ts=NOW - dt.timedelta(days=400))
    assert logs_prune_daily.call_local() == 1 and not LogRecord.objects.exists()
