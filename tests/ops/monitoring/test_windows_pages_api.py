"""Maintenance windows: an overlap on the same target is refused by the service (409 naming
the other window), the page (409, the form again), the API (409 ``{"code","message","details"}``)
and the command line (exit 2, one line); windows on other targets may overlap. The pages and
the API show only the caller's scope; leaders view, engineers manage."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.ops.models import AlertRule, MaintenanceWindow, MonitorTarget
from govcenter.ops.monitoring import services as svc
from govcenter.ops.monitoring.probes import Outcome

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def targets(team):
    make = lambda name: svc.target_save(actor=team["engineer"], name=name, kind="tcp", unit=team["unit"],  # noqa: E731
                                        config={"host": "127.0.0.1", "port": 9})  # fmt: skip
    return make("db-1"), make("db-2")


def window(team, targets, start, end, name="升级"):
    return svc.window_create(actor=team["engineer"], name=name, unit=team["unit"], targets=targets,
                             starts_at=at(start), ends_at=at(end))  # fmt: skip


def test_overlap_on_the_same_target_is_refused_by_the_service(team, targets):
    a, b = targets
    window(team, [a], "2026-12-01T22:00", "2026-12-02T02:00", name="数据库升级")
    with pytest.raises(ServiceError) as err:
        window(team, [a, b], "2026-12-02T01:00", "2026-12-02T03:00")
    assert err.value.status_code == 409 and err.value.error_code == "overlap"
    assert "数据库升级" in str(err.value.detail) and err.value.details["targets"] == ["db-1"]
    window(team, [b], "2026-12-02T01:00", "2026-12-02T03:00", name="另一个对象")  # another target: fine
    window(team, [a], "2026-12-02T02:00", "2026-12-02T03:00", name="紧接着")  # touching, not overlapping
    with pytest.raises(ServiceError) as err:  # a window on all targets overlaps any of them
        window(team, [], "2026-12-02T02:30", "2026-12-02T02:40", name="全部")
    assert err.value.status_code == 409
    with pytest.raises(ServiceError) as err:
        window(team, [a], "2026-12-03T02:00", "2026-12-03T01:00")
    assert err.value.status_code == 400 and "ends_at" in err.value.details
    assert MaintenanceWindow.objects.count() == 3
    assert AuditEntry.objects.filter(action="ops.monitor.window.create").count() == 3


def test_overlap_on_the_page(team, targets):
    a, _b = targets
    window(team, [a], "2026-12-01T22:00", "2026-12-02T02:00", name="数据库升级")
    client = Client()
    client.force_login(team["engineer"])
    form = {"name": "重叠", "unit": team["unit"].pk, "targets": [a.pk], "starts_at": "2026-12-02T01:00",
            "ends_at": "2026-12-02T03:00", "with_collection": "on"}  # fmt: skip
    response = client.post("/ops/monitoring/windows/new/", form)
    assert response.status_code == 409 and "数据库升级" in response.content.decode()
    response = client.post("/ops/monitoring/windows/new/", {**form, "starts_at": "2026-12-02T02:00"})
    assert response.status_code == 302
    assert MaintenanceWindow.objects.count() == 2


def test_overlap_on_the_api(team, targets):
    a, _b = targets
    window(team, [a], "2026-12-01T22:00", "2026-12-02T02:00", name="数据库升级")
    api = APIClient()
    api.force_authenticate(team["engineer"])
    body = {"name": "重叠", "unit": team["unit"].pk, "targets": [a.pk], "starts_at": "2026-12-02T01:00:00+08:00",
            "ends_at": "2026-12-02T03:00:00+08:00"}  # fmt: skip
    response = api.post("/api/v1/ops/monitoring/windows/", body, format="json")
    assert response.status_code == 409, response.json()
    assert set(response.json()) == {"code", "message", "details"} and response.json()["code"] == "overlap"
    ok = api.post("/api/v1/ops/monitoring/windows/", {**body, "starts_at": "2026-12-02T02:00:00+08:00"}, format="json")
    assert ok.status_code == 201 and ok.json()["targets"] == [a.pk]


def test_overlap_on_the_command_line_exits_2(team, targets):
    call_command("ops", "maintenance", "--name", "数据库升级", "--unit", "OM-A", "--targets", "db-1",
                 "--start", "2026-12-01T22:00", "--end", "2026-12-02T02:00", "--no-collection")  # fmt: skip
    assert MaintenanceWindow.objects.get().with_collection is False
    with pytest.raises(CommandError, match="数据库升级") as err:
        call_command("ops", "maintenance", "--name", "重叠", "--unit", "OM-A", "--targets", "db-1,db-2",
                     "--start", "2026-12-02T01:00", "--end", "2026-12-02T03:00")  # fmt: skip
    assert err.value.returncode == 2
    for args, message in ((["--targets", "nope"], "no target named nope"), (["--unit", "ZZ"], "no unit"),
                          (["--start", "soon"], "ISO 8601")):  # fmt: skip
        base = {"--name": "x", "--unit": "OM-A", "--start": "2026-12-05T01:00", "--end": "2026-12-05T02:00"}
        base.update(dict(zip(args[::2], args[1::2], strict=True)))
        with pytest.raises(CommandError, match=message) as err:
            call_command("ops", "maintenance", *[x for kv in base.items() for x in kv])
        assert err.value.returncode == 2
    assert MaintenanceWindow.objects.count() == 1


def test_the_page_shows_the_callers_scope(team, targets):
    svc.target_save(actor=team["stranger"], name="theirs", kind="tcp", unit=team["other_unit"],
                    config={"host": "127.0.0.1", "port": 9})  # fmt: skip
    a, _b = targets
    svc.record_results([(a.pk, at("2026-11-27T10:00"), Outcome(ok=True, latency_ms=3))])
    engineer, leader = Client(), Client()
    engineer.force_login(team["engineer"])
    leader.force_login(team["leader"])
    page = engineer.get("/ops/monitoring/").content.decode()
    assert 'data-target="db-1"' in page and 'data-target="theirs"' not in page
    assert "新建监控对象" in page
    leader_page = leader.get("/ops/monitoring/").content.decode()
    assert 'data-target="theirs"' in leader_page and "新建监控对象" not in leader_page
    assert leader.get("/ops/monitoring/targets/new/").status_code == 403
    theirs = MonitorTarget.objects.get(name="theirs")
    assert engineer.get(f"/ops/monitoring/targets/{theirs.pk}/").status_code == 404
    assert engineer.get(f"/ops/monitoring/targets/{a.pk}/").status_code == 200
    nobody = Client()
    nobody.force_login(team["nobody"])
    assert nobody.get("/ops/monitoring/").status_code == 403


def test_targets_and_rules_through_the_forms(team):
    client = Client()
    client.force_login(team["engineer"])
    form = {"name": "门户", "kind": "http", "unit": team["unit"].pk, "config": '{"url": "ftp://x"}',
            "interval_s": 60, "timeout_s": 5, "enabled": "on"}  # fmt: skip
    bad = client.post("/ops/monitoring/targets/new/", form)
    assert bad.status_code == 400 and not MonitorTarget.objects.exists()
    good = client.post("/ops/monitoring/targets/new/", {**form, "config": '{"url": "https://portal.example/healthz"}'})
    assert good.status_code == 302
    target = MonitorTarget.objects.get()
    assert target.config == {"url": "https://portal.example/healthz"}
    edit = client.post(f"/ops/monitoring/targets/{target.pk}/edit/", {**form, "config": json.dumps(target.config),
                                                                     "interval_s": 30})  # fmt: skip
    assert edit.status_code == 302 and MonitorTarget.objects.get().interval_s == 30
    rule = {"name": "门户不可达", "unit": team["unit"].pk, "target": target.pk, "condition": "down", "severity": "S2",
            "fire_after": 3, "resolve_after": 2, "holdoff_s": 600, "enabled": "on"}  # fmt: skip
    assert client.post("/ops/monitoring/rules/new/", {**rule, "kind": "http"}).status_code == 400
    assert client.post("/ops/monitoring/rules/new/", rule).status_code == 302
    assert AlertRule.objects.get().severity == "S2"
    assert AuditEntry.objects.filter(action__startswith="ops.monitor.").count() == 3


def test_targets_results_and_uptime_on_the_api(team, targets):
    a, _b = targets
    api = APIClient()
    api.force_authenticate(team["engineer"])
    created = api.post("/api/v1/ops/monitoring/targets/", {"name": "redis", "kind": "redis", "unit": team["unit"].pk,
                                                            "config": {"url": "redis://127.0.0.1:6379/3"}}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    bad = api.post("/api/v1/ops/monitoring/targets/", {"name": "x", "kind": "tcp", "unit": team["unit"].pk,
                                                        "config": {"host": "h"}}, format="json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
    from django.utils import timezone

    now = timezone.now()
    svc.record_results([(a.pk, now - dt.timedelta(minutes=m), Outcome(ok=m % 4 != 0, latency_ms=5)) for m in range(1, 9)])
    results = api.get(f"/api/v1/ops/monitoring/targets/{a.pk}/results/?limit=5").json()
    assert len(results) == 5 and results[0]["started_at"] > results[1]["started_at"]
    uptime = api.get(f"/api/v1/ops/monitoring/targets/{a.pk}/uptime/?days=1").json()
    assert uptime["ok"] == 6 and uptime["total"] == 8 and uptime["percent"] == 75.0
    assert api.get(f"/api/v1/ops/monitoring/targets/{a.pk}/uptime/?days=0").status_code == 400
    stranger = APIClient()
    stranger.force_authenticate(team["stranger"])
    assert stranger.get(f"/api/v1/ops/monitoring/targets/{a.pk}/").status_code == 404
    assert stranger.get("/api/v1/ops/monitoring/targets/").json()["results"] == []
    leader = APIClient()
    leader.force_authenticate(team["leader"])
    assert len(leader.get("/api/v1/ops/monitoring/targets/").json()["results"]) == 3
    assert leader.post("/api/v1/ops/monitoring/targets/", {}, format="json").status_code == 403
