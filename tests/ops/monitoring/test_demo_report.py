"""The monitoring demo (small: once, on the page; a quarter of history in bulk) and the
report section computed from the recorded data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from govcenter.core.models import User
from govcenter.ops.models import AlertEvent, MonitorTarget, ProbeHourly, ProbeResult
from govcenter.ops.monitoring import demo, report
from govcenter.ops.monitoring import services as svc
from govcenter.ops.monitoring.probes import Outcome


@pytest.mark.django_db
def test_demo_small_and_history_and_the_report(settings):
    settings.DEBUG = True
    call_command("demo")
    assert demo.load_small_demo() == {}  # loaded once
    assert MonitorTarget.objects.filter(name__startswith=demo.DEMO_MARK).count() == 8
    assert ProbeResult.objects.count() == 8 * 12
    client = Client()
    client.force_login(User.objects.get(username="omengineer"))
    page = client.get("/ops/monitoring/").content.decode()
    assert page.count('data-target="（演示）') == 8 and "数据库小版本升级" in page
    leader = Client()
    leader.force_login(User.objects.get(username="leader"))
    assert leader.get("/ops/monitoring/").status_code == 200
    # the quarter of history (a week here), in bulk, and the report computed from it
    now = timezone.now()
    counts = demo.load_demo(days=7, now=now)
    assert counts["monitor_targets"] == 20 and counts["probe_results"] == 20 * 7 * 288
    assert demo.load_demo(days=7, now=now) == {}
    history = MonitorTarget.objects.filter(name__startswith=demo.HISTORY_MARK)
    failed = ProbeResult.objects.filter(target__in=history, ok=False).count()
    assert 0 < failed < counts["probe_results"] * 0.2
    hourly = ProbeHourly.objects.filter(target__in=history)
    assert sum(hourly.values_list("total", flat=True)) == counts["probe_results"]
    assert sum(hourly.values_list("ok", flat=True)) == counts["probe_results"] - failed
    section = report.section(timezone.localdate() - dt.timedelta(days=30), timezone.localdate())
    assert section["key"] == "monitoring" and len(section["tables"][0]["rows"]) == 28  # 20 history + 8 small
    assert section["figures"]["failed_probes"] == failed
    assert section["figures"]["alerts_fired"] == AlertEvent.objects.filter(kind="fired").count() > 0
    assert section["figures"]["maintenance_windows"] in (0, 1)  # next Sunday's window is in the period or not
    assert all(len(row) == 5 for row in section["tables"][0]["rows"])


def test_report_arithmetic_with_maintenance(team):
    target = svc.target_save(actor=team["engineer"], name="api", kind="tcp", unit=team["unit"],
                             config={"host": "127.0.0.1", "port": 9})  # fmt: skip
    day = dt.date(2026, 11, 10)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
    svc.window_create(actor=team["engineer"], name="窗口", unit=team["unit"], targets=[target],
                      starts_at=start + dt.timedelta(hours=1), ends_at=start + dt.timedelta(hours=2))  # fmt: skip
    batch = [(target.pk, start + dt.timedelta(minutes=10 * i), Outcome(ok=i % 6 != 5 and not 6 <= i < 12))
             for i in range(18)]  # fmt: skip
    svc.record_results(batch)
    section = report.section(day, day)
    # 18 results, 6 inside the window (not counted); of the 12 left, i=5 and i=17 failed
    assert section["figures"]["probes"] == 12 and section["figures"]["failed_probes"] == 2
    assert section["tables"][0]["rows"] == [["api", "TCP 端口", 12, 2, "83.333%"]]
    assert section["figures"]["maintenance_windows"] == 1
    assert report.section(day + dt.timedelta(days=1), day + dt.timedelta(days=1))["figures"]["probes"] == 0
