"""Work logs (own only; edit on the day or with a reason, audited; the unit sees all of its
logs), changes (approved before executed), training (feedback, monthly completeness), the
pages and the read API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.ops.models import TrainingSession, WorkLog
from govcenter.ops.records import services as rec

from .conftest import at


def log(user, day, **kw):
    data = {"date": day, "category": "inspection", "start_time": dt.time(9), "end_time": dt.time(10),
            "summary": "日常巡检"} | kw  # fmt: skip
    return rec.worklog_create(actor=user, **data)


def test_a_log_is_edited_freely_on_its_day_and_later_only_with_a_reason(team):
    eng, today = team["engineer"], timezone.localdate()
    fresh = log(eng, today)
    rec.worklog_update(actor=eng, log=fresh, summary="巡检：数据库")
    assert WorkLog.objects.get(pk=fresh.pk).summary == "巡检：数据库"
    old = log(eng, today - dt.timedelta(days=3))
    with pytest.raises(ServiceError, match="须填写原因"):
        rec.worklog_update(actor=eng, log=old, summary="补记")
    assert WorkLog.objects.get(pk=old.pk).summary == "日常巡检"
    rec.worklog_update(actor=eng, log=old, summary="补记", reason="漏记了备份核查")
    entry = AuditEntry.objects.filter(action="ops.worklog.update", object_id=str(old.pk)).get()
    assert entry.reason == "漏记了备份核查" and entry.changes["after"]["summary"] == "补记"


def test_only_the_engineer_edits_their_log(team):
    mine = log(team["engineer"], timezone.localdate())
    with pytest.raises(PermissionDenied):
        rec.worklog_update(actor=team["colleague"], log=mine, summary="改别人的", reason="x")


@pytest.mark.parametrize(("kw", "field"), [({"end_time": dt.time(8)}, "end_time"), ({"category": "x"}, "category"),
                                           ({"summary": " "}, "summary")])  # fmt: skip
def test_a_bad_log_is_refused(team, kw, field):
    with pytest.raises(ServiceError) as exc:
        log(team["engineer"], timezone.localdate(), **kw)
    assert field in exc.value.details and not WorkLog.objects.exists()


def test_future_dates_and_foreign_changes_are_refused(team):
    with pytest.raises(ServiceError):
        log(team["engineer"], timezone.localdate() + dt.timedelta(days=1))
    foreign = rec.change_create(actor=team["stranger"], title="调整", kind="change", unit=team["other_unit"],
                                planned_start=at("2026-10-01T22:00"), planned_end=at("2026-10-01T23:00"))  # fmt: skip
    with pytest.raises(ServiceError, match="数据范围"):
        log(team["engineer"], timezone.localdate(), change=foreign)


def test_the_unit_sees_its_logs_and_not_another_units(team, client):
    log(team["engineer"], timezone.localdate(), summary="甲的日志")
    log(team["colleague"], timezone.localdate(), summary="乙的日志")
    log(team["stranger"], timezone.localdate(), summary="外单位日志")
    client.force_login(team["colleague"])
    page = client.get("/ops/worklogs/").content.decode()
    assert "甲的日志" in page and "乙的日志" in page and "外单位日志" not in page
    assert 'id="calendar"' in page
    api = client.get("/api/v1/ops/worklogs/").json()
    assert sorted(r["summary"] for r in api["results"]) == ["乙的日志", "甲的日志"]
    client.force_login(team["leader"])
    assert "外单位日志" in client.get("/ops/worklogs/").content.decode()


def test_the_log_form_writes_the_callers_own_log(team, client):
    client.force_login(team["engineer"])
    today = timezone.localdate().isoformat()
    response = client.post("/ops/worklogs/new/", {"date": today, "category": "backup", "start_time": "10:00",
                                                  "end_time": "09:00", "summary": "备份"})  # fmt: skip
    assert response.status_code == 400
    response = client.post("/ops/worklogs/new/", {"date": today, "category": "backup", "start_time": "10:00",
                                                  "end_time": "11:00", "summary": "备份核查"})  # fmt: skip
    assert response.status_code == 302 and WorkLog.objects.get().engineer == team["engineer"]


def test_a_change_is_approved_before_it_is_executed(team):
    change = rec.change_create(actor=team["engineer"], title="版本发布", kind="release", unit=team["unit"],
                               version="v3.1.0", planned_start=at("2026-10-01T22:00"),
                               planned_end=at("2026-10-01T23:00"))  # fmt: skip
    with pytest.raises(ServiceError, match="未经批准"):
        rec.change_execute(actor=team["engineer"], change=change, executed_at=at("2026-10-01T22:05"), result="success")
    with pytest.raises(PermissionDenied):
        rec.change_approve(actor=team["engineer"], change=change)
    rec.change_approve(actor=team["leader"], change=change)
    done = rec.change_execute(actor=team["engineer"], change=change, executed_at=at("2026-10-01T22:05"),
                              result="rolled_back")  # fmt: skip
    assert done.result == "rolled_back" and done.approved_by == team["leader"]
    assert change.number.startswith("BG-2026-")


def test_training_feedback_and_monthly_completeness(team, client):
    eng = team["engineer"]
    session = rec.training_create(actor=eng, unit=team["unit"], date=dt.date(2026, 9, 15), topic="备份恢复",
                                  trainer="孙维", duration_minutes=90, attendees=[eng, team["colleague"]])  # fmt: skip
    rec.training_feedback(actor=team["colleague"], session=session, user=team["colleague"], attended=True, score=4,
                          comment="实用")  # fmt: skip
    with pytest.raises(ServiceError):
        rec.training_feedback(actor=eng, session=session, user=eng, attended=True, score=6)
    with pytest.raises(ServiceError, match="参训人"):
        rec.training_feedback(actor=eng, session=session, user=team["stranger"], attended=True)
    rec.training_create(actor=eng, unit=team["unit"], date=dt.date(2026, 11, 3), topic="等保要求", trainer="李安平",
                        duration_minutes=60)  # fmt: skip
    months = rec.training_completeness(TrainingSession.objects.all(), dt.date(2026, 9, 1), dt.date(2026, 11, 30))
    assert [(m["label"], m["sessions"], m["missing"]) for m in months] == [
        ("2026-09", 1, False), ("2026-10", 0, True), ("2026-11", 1, False)]  # fmt: skip
    client.force_login(eng)
    detail = client.get(f"/ops/trainings/{session.pk}/").content.decode()
    assert "实用" in detail
    api = client.get(f"/api/v1/ops/trainings/{session.pk}/").json()
    assert {a["username"]: a["score"] for a in api["attendances"]} == {"om-a": None, "om-a2": 4}
    client.force_login(team["stranger"])
    assert client.get(f"/ops/trainings/{session.pk}/").status_code == 404


def test_the_pages_answer(team, client):
    client.force_login(team["leader"])
    for url in ("/ops/worklogs/", "/ops/changes/", "/ops/trainings/", "/ops/ledger/", "/ops/reports/"):
        assert client.get(url).status_code == 200, url
    client.force_login(team["auditor"])
    assert client.get("/ops/worklogs/").status_code == 403


def test_a_log_links_an_incident_of_the_unit(team, client):
    from govcenter.ops import incidents as inc

    incident = inc.incident_open(actor=team["engineer"], title="接口故障", severity="S3", unit=team["unit"],
                                 reported_at=timezone.now() - dt.timedelta(hours=1))  # fmt: skip
    client.force_login(team["engineer"])
    today = timezone.localdate().isoformat()
    response = client.post("/ops/worklogs/new/", {"date": today, "category": "fault", "start_time": "10:00",
                                                  "end_time": "11:00", "summary": "处理接口故障",
                                                  "incident": incident.pk})  # fmt: skip
    assert response.status_code == 302 and WorkLog.objects.get().incident == incident
    page = client.get("/ops/worklogs/").content.decode()
    assert f'href="/ops/incidents/{incident.pk}/"' in page
    client.force_login(team["stranger"])  # another unit's incident is not offered
    response = client.post("/ops/worklogs/new/", {"date": today, "category": "fault", "start_time": "10:00",
                                                  "end_time": "11:00", "summary": "x", "incident": incident.pk})  # fmt: skip
    assert response.status_code == 400 and WorkLog.objects.count() == 1


def test_a_training_with_its_material(team, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from govcenter.core.attachments import attachments_of

    client.force_login(team["engineer"])
    material = SimpleUploadedFile("讲义.txt", "备份与恢复演练步骤".encode(), content_type="text/plain")
    response = client.post("/ops/trainings/new/", {"unit": team["unit"].pk, "date": "2026-11-10", "topic": "备份恢复",
                                                   "trainer": "孙维", "duration_minutes": "60",
                                                   "attendees": [team["colleague"].pk], "material": material})  # fmt: skip
    assert response.status_code == 302
    session = TrainingSession.objects.get()
    assert [a.name for a in attachments_of(session)] == ["讲义.txt"]
    assert "讲义.txt" in client.get(f"/ops/trainings/{session.pk}/").content.decode()
    bad = SimpleUploadedFile("x.exe", b"MZ\x00\x00binary", content_type="application/octet-stream")
    response = client.post("/ops/trainings/new/", {"unit": team["unit"].pk, "date": "2026-11-11", "topic": "x",
                                                   "trainer": "y", "duration_minutes": "60", "material": bad})  # fmt: skip
    assert response.status_code == 400 and TrainingSession.objects.count() == 1  # nothing half-written
