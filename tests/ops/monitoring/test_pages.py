"""How the monitoring pages present a probe's measured value; the worker tick and the raw-result prune."""

import pytest


def test_a_measured_value_reads_with_its_unit():
    from govcenter.ops.templatetags.ops_monitoring import probe_value

    assert probe_value(None, "disk") == "—"
    assert probe_value(42.04, "disk") == "可用 42.0%"
    assert probe_value(20.9, "tls") == "剩 20 天"
    assert probe_value(51.357, "freshness") == "51 秒前" and probe_value(900, "freshness") == "15 分钟前"
    assert probe_value(200, "http") == "200" and probe_value(0.125, "db") == "0.12"


@pytest.mark.django_db
def test_the_worker_tick_probes_only_due_targets_and_the_prune_keeps_the_rollups(settings):
    import datetime as dt

    from django.utils import timezone

    from govcenter.core.models import AuditEntry
    from govcenter.ops.models import MonitorTarget, ProbeHourly, ProbeResult
    from govcenter.ops.monitoring import services as svc
    from govcenter.ops.monitoring import tasks
    from govcenter.ops.monitoring.probes import Outcome
    from tests.factories import UnitFactory

    unit = UnitFactory()
    fresh = svc.target_save(actor=svc.SYSTEM, name="fresh", kind="disk", unit=unit, interval_s=300, config={"path": "/"})
    stale = svc.target_save(actor=svc.SYSTEM, name="stale", kind="disk", unit=unit, interval_s=60, config={"path": "/"})
    svc.target_save(actor=svc.SYSTEM, name="never", kind="disk", unit=unit, interval_s=60, config={"path": "/"})
    now = timezone.now()
    MonitorTarget.objects.filter(pk=fresh.pk).update(last_run_at=now - dt.timedelta(seconds=100))
    MonitorTarget.objects.filter(pk=stale.pk).update(last_run_at=now - dt.timedelta(seconds=61))
    assert sorted(tasks.due_target_names(now)) == ["never", "stale"]
    settings.GOVCENTER_OPS_MONITOR_IN_WORKER = False
    assert tasks.monitor_tick.call_local() == 0 and not ProbeResult.objects.exists()
    settings.GOVCENTER_OPS_MONITOR_IN_WORKER = True
    assert tasks.monitor_tick.call_local() == 2
    assert set(ProbeResult.objects.values_list("target__name", flat=True)) == {"stale", "never"}

    old = now - dt.timedelta(days=40)
    svc.record_results([(fresh.pk, old, Outcome(ok=True, latency_ms=1, value=50.0))])
    hourly_before = ProbeHourly.objects.count()
    assert tasks.probe_results_prune(now=now, days=35) == 1
    assert ProbeResult.objects.count() == 2 and ProbeHourly.objects.count() == hourly_before
    assert AuditEntry.objects.filter(action="ops.monitoring.prune").count() == 1
    assert tasks.probe_results_prune(now=now, days=35) == 0  # nothing left to prune: no entry
