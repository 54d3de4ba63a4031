"""The 备份 page and API: om_engineer backs up and drills (audited, through the task queue —
immediate in tests), center_leader and auditor look, others get 403; the report section and
the demo loaders."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from govcenter.core.models import AuditEntry
from govcenter.ops.backups import demo, report, services
from govcenter.ops.models import Backup, RestoreDrill
from tests.factories import RoleFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # a backup reads committed data only


@pytest.fixture
def people(transactional_db, backup_env):
    unit = UnitFactory(code="OM-BK")
    run = RoleFactory(scope_kind="all", perms=["ops.view_backup", "ops.view_restoredrill", "ops.run_backup"])
    view = RoleFactory(scope_kind="all", perms=["ops.view_backup", "ops.view_restoredrill"])
    other = RoleFactory(scope_kind="all", perms=["ops.view_incident"])
    return {
        "engineer": UserFactory(username="bk-eng", unit=unit, role_set=[run]),
        "leader": UserFactory(username="bk-leader", unit=unit, role_set=[view]),
        "stranger": UserFactory(username="bk-other", unit=unit, role_set=[other]),
    }


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_engineer_backs_up_and_drills_from_the_page_leader_only_looks(people):
    eng = client_for(people["engineer"])
    page = eng.get("/ops/backups/")
    assert page.status_code == 200 and 'data-action="backup-run"' in page.content.decode()
    made = eng.post("/ops/backups/run/", {"kind": "database"})
    assert made.status_code == 302
    backup = Backup.objects.get()
    assert backup.state == "ok" and backup.kind == "database"
    assert AuditEntry.objects.filter(action="ops.backup.request", username="bk-eng").exists()
    assert AuditEntry.objects.filter(action="ops.backup.create", username="bk-eng").exists()
    eng.post(f"/ops/backups/{backup.pk}/drill/")
    drill = RestoreDrill.objects.get()
    assert drill.result == "passed", drill.error
    assert AuditEntry.objects.filter(action="ops.backup.drill_request", username="bk-eng").exists()
    detail = eng.get(f"/ops/backups/drills/{drill.pk}/").content.decode()
    assert 'data-table="core_unit" data-match="1"' in detail

    leader = client_for(people["leader"])
    listing = leader.get("/ops/backups/").content.decode()
    assert f'data-backup="{backup.pk}"' in listing and 'data-action="backup-run"' not in listing
    assert leader.post("/ops/backups/run/", {"kind": "database"}).status_code == 403
    assert leader.post(f"/ops/backups/{backup.pk}/drill/").status_code == 403
    assert Backup.objects.count() == 1 and RestoreDrill.objects.count() == 1
    assert client_for(people["stranger"]).get("/ops/backups/").status_code == 403
    assert Client().get("/ops/backups/").status_code == 302


def test_api_is_read_only_and_needs_view_backup(people):
    services.backup_create(kind="database")
    leader = client_for(people["leader"])
    body = leader.get("/api/v1/ops/backups/").json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    assert rows[0]["state"] == "ok" and rows[0]["table_count"] > 10 and "key" not in rows[0]
    assert leader.post("/api/v1/ops/backups/", {}, content_type="application/json").status_code in (403, 405)
    assert Backup.objects.count() == 1  # read-only
    assert leader.get("/api/v1/ops/backup-drills/").status_code == 200
    refused = client_for(people["stranger"]).get("/api/v1/ops/backups/")
    assert refused.status_code == 403 and {"code", "message", "details"} <= set(refused.json())


def test_a_drill_of_a_historical_record_is_refused_on_the_page(people):
    demo.load_demo(days=14)
    eng = client_for(people["engineer"])
    historical = Backup.objects.filter(historical=True, state="ok").first()
    eng.post(f"/ops/backups/{historical.pk}/drill/")
    assert not RestoreDrill.objects.filter(historical=False).exists()


def test_retention_prunes_files_and_rows_keeping_daily_weekly_monthly(people, settings,
                                                                     django_capture_on_commit_callbacks):  # fmt: skip
    settings.GOVCENTER_OPS_BACKUP_KEEP_DAILY, settings.GOVCENTER_OPS_BACKUP_KEEP_WEEKLY = 3, 2
    settings.GOVCENTER_OPS_BACKUP_KEEP_MONTHLY = 2
    tz = timezone.get_current_timezone()
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=tz)  # a Friday
    real = services.backup_create(kind="database", now=now - dt.timedelta(days=40))  # Oct 18 (Sun): Oct's newest?
    made = {}
    for days in (0, 1, 2, 5, 9, 12, 13, 20, 33):
        when = now - dt.timedelta(days=days, hours=10)
        made[days] = Backup.objects.create(kind="database", engine="sqlite", state="ok", started_at=when,
                                           finished_at=when, path=f"fake/{days}.gcbk")  # fmt: skip
    failed = Backup.objects.create(kind="database", engine="sqlite", state="failed", started_at=now - dt.timedelta(days=1),
                                   finished_at=now, error="x")  # fmt: skip
    real_file = services.backup_dir() / real.path
    assert real_file.exists()
    with django_capture_on_commit_callbacks(execute=True):
        deleted = set(services.backups_prune(now=now))
    # Kept: days 0, 1, 2 (daily window of 3 days); the week of Nov 16–22 (newest: day 5, Nov 22);
    # this week (day 0); November's newest (day 0); October's newest (day 33, Oct 25).
    survivors = set(Backup.objects.values_list("pk", flat=True))
    assert survivors == {made[0].pk, made[1].pk, made[2].pk, made[5].pk, made[33].pk, failed.pk}
    assert deleted == {made[9].pk, made[12].pk, made[13].pk, made[20].pk, real.pk}
    assert not real_file.exists()  # the file went with its row
    assert AuditEntry.objects.filter(action="ops.backup.prune").count() == len(deleted)
    assert Backup.objects.get(pk=made[33].pk).expires_at == dt.datetime(2026, 12, 1, tzinfo=tz)
    out = io.StringIO()
    call_command("ops", "backups", "prune", stdout=out)  # as of the real now: the Oct/Nov keepers stay
    listing = io.StringIO()
    call_command("ops", "backups", "list", stdout=listing)
    assert out.getvalue().startswith("pruned ") and len(listing.getvalue().splitlines()) == Backup.objects.count()


def test_report_section_counts_the_period(people):
    demo.load_demo(days=30, now=timezone.now())
    backup = services.backup_create(kind="database")
    services.restore_drill(backup=backup)
    today = timezone.localdate()
    result = report.section(today - dt.timedelta(days=30), today)
    recorded = Backup.objects.filter(started_at__date__gte=today - dt.timedelta(days=30))
    assert result["key"] == "backups" and result["figures"]["backups_made"] == recorded.filter(state="ok").count()
    assert result["figures"]["backups_failed"] == recorded.filter(state="failed").count()
    assert result["figures"]["drills_passed"] == RestoreDrill.objects.filter(result="passed").count() >= 1
    assert result["figures"]["last_verified_restore"].startswith(today.isoformat())
    assert any("历史演示记录" in s for s in result["summary"])
    empty = report.section(dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert empty["figures"]["backups_made"] == 0 and empty["figures"]["last_verified_restore"] == "无"


def test_demo_loaders_are_honest_and_idempotent(people):
    first = demo.load_demo(days=90)
    assert first == demo.load_demo(days=90)
    assert Backup.objects.count() == first["backups"] and not Backup.objects.filter(historical=False).exists()
    assert RestoreDrill.objects.filter(result="failed").count() == 1
    assert all(not b.path for b in Backup.objects.all())  # metadata only: no pretend files
    assert demo.load_small_demo() == {}  # an in-memory test database is not a demo file: nothing heavy


def test_built_in_roles_get_the_backup_permissions():
    from govcenter.core.roles import CONTRIBUTED_PERMISSIONS

    assert "ops.run_backup" in CONTRIBUTED_PERMISSIONS["om_engineer"]
    leader = CONTRIBUTED_PERMISSIONS["center_leader"]
    assert "ops.view_backup" in leader and "ops.run_backup" not in leader
    # 三权分立: the auditor reads the audit log and the central log audit, nothing else.
    assert not {p for p in CONTRIBUTED_PERMISSIONS["auditor"] if "backup" in p or "drill" in p}
