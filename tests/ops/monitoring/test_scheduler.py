"""The scheduler: drift-free next runs (previous scheduled + interval, missed slots skipped),
stable jitter inside the interval, concurrent probes, ``--once`` recording results and
skipping targets in a window without collection; the Prometheus gauges."""

from __future__ import annotations

import datetime as dt
import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from govcenter.ops.models import Incident, MonitorTarget, ProbeResult
from govcenter.ops.monitoring import scheduler as sch
from govcenter.ops.monitoring import services as svc
from govcenter.ops.monitoring.probes import Outcome

from .conftest import closed_port


def test_next_slot_keeps_the_grid():
    assert sch.next_slot(100.0, 30.0, now=101.5) == 130.0  # ran late: the next run is still on the grid
    assert sch.next_slot(100.0, 30.0, now=129.9) == 130.0
    assert sch.next_slot(100.0, 30.0, now=175.0) == 190.0  # fell behind: missed slots skipped, still on the grid
    assert sch.next_slot(100.0, 30.0, now=130.0) == 160.0


def test_jitter_is_stable_and_inside_the_interval():
    offsets = [sch.jitter(i, 30.0) for i in range(1000)]
    assert all(0 <= o < 30 for o in offsets) and offsets == [sch.jitter(i, 30.0) for i in range(1000)]
    assert len({int(o) for o in offsets}) == 30  # spread over the whole interval


class FakeClock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_due_moves_each_job_on_its_own_grid_without_drift():
    clock = FakeClock(1000.0)
    scheduler = sch.Scheduler(workers=2, clock=clock, probe=lambda kind, config, timeout: Outcome(ok=True))
    try:
        scheduler.sync([sch.Job(id=i, kind="tcp", config={}, interval_s=30.0, timeout_s=1.0) for i in range(20)])
        firsts = {j.id: j.next_run for j in scheduler.jobs.values()}
        assert all(1000 <= t < 1030 for t in firsts.values())
        seen: dict[int, list[float]] = {i: [] for i in range(20)}
        for step in range(0, 200):  # 100 s in half-second ticks, each tick "late" by a random-ish amount
            clock.t = 1000.0 + step * 0.5 + (step % 3) * 0.2
            for job, scheduled in scheduler.due():
                seen[job.id].append(scheduled)
        for job_id, times in seen.items():
            assert times == [firsts[job_id] + 30.0 * k for k in range(len(times))]  # exactly on the grid
            assert len(times) in (3, 4)
        # re-sync with the same interval keeps the grid; a new interval restarts it
        before = scheduler.jobs[3].next_run
        scheduler.sync([sch.Job(id=3, kind="tcp", config={}, interval_s=30.0, timeout_s=1.0)])
        assert scheduler.jobs[3].next_run == before and list(scheduler.jobs) == [3]
        runs = scheduler.run_due([(scheduler.jobs[3], 1.0)])
        assert runs[0].outcome.ok and runs[0].scheduled == 1.0
    finally:
        scheduler.close()


def test_the_loop_runs_jobs_concurrently_on_time(tcp_listener):
    scheduler = sch.Scheduler(workers=8)
    runs: list = []
    lock = threading.Lock()

    def sink(run):
        with lock:
            runs.append(run)

    try:
        scheduler.sync([sch.Job(id=i, kind="tcp", config={"host": "127.0.0.1", "port": tcp_listener},
                                interval_s=5.0, timeout_s=1.0) for i in range(10)])  # fmt: skip
        firsts = {j.id: j.next_run for j in scheduler.jobs.values()}
        stop = threading.Event()
        scheduler.loop(sink, stop=stop, until=max(firsts.values()) + 0.5)
    finally:
        scheduler.close()
    assert sorted(r.job.id for r in runs) == list(range(10))
    assert all(r.outcome.ok and r.scheduled == firsts[r.job.id] and r.started >= r.scheduled for r in runs)


def test_once_records_skips_quiet_windows_and_opens_incidents(team, tcp_listener):
    up = svc.target_save(actor=team["engineer"], name="up", kind="tcp", unit=team["unit"],
                         config={"host": "127.0.0.1", "port": tcp_listener})  # fmt: skip
    down = svc.target_save(actor=team["engineer"], name="down", kind="tcp", unit=team["unit"],
                           config={"host": "127.0.0.1", "port": closed_port()}, timeout_s=1)  # fmt: skip
    quiet = svc.target_save(actor=team["engineer"], name="quiet", kind="tcp", unit=team["unit"],
                            config={"host": "127.0.0.1", "port": closed_port()}, timeout_s=1)  # fmt: skip
    now = timezone.now()
    svc.window_create(actor=team["engineer"], name="停机维护", unit=team["unit"], targets=[quiet], with_collection=False,
                      starts_at=now - dt.timedelta(minutes=5), ends_at=now + dt.timedelta(hours=1))  # fmt: skip
    svc.rule_save(actor=team["engineer"], name="端口不通", unit=team["unit"], kind="tcp", fire_after=1, severity="S3")
    out = StringIO()
    call_command("ops", "monitor", "--once", stdout=out)
    body = json.loads(out.getvalue())
    assert sorted((r["target"], r["ok"]) for r in body["results"]) == sorted([(up.pk, True), (down.pk, False)])
    assert body["fired"] == 1 and len(body["incidents"]) == 1
    assert not ProbeResult.objects.filter(target=quiet).exists()
    incident = Incident.objects.get()
    assert incident.title == "down: 端口不通" and incident.source == "alert"
    assert MonitorTarget.objects.get(pk=up.pk).last_ok is True
    call_command("ops", "monitor", "--once", "--targets", "down", stdout=StringIO())
    assert Incident.objects.count() == 1 and ProbeResult.objects.filter(target=down).count() == 2


def test_the_monitor_command_refuses_bad_input(team):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no target named ghost") as err:
        call_command("ops", "monitor", "--once", "--targets", "ghost")
    assert err.value.returncode == 2
    with pytest.raises(CommandError, match="--workers"):
        call_command("ops", "monitor", "--once", "--workers", "0")


def test_prometheus_gauges(team, client, tcp_listener):
    from prometheus_client import REGISTRY, generate_latest

    target = svc.target_save(actor=team["engineer"], name="pg-main", kind="tcp", unit=team["unit"],
                             config={"host": "127.0.0.1", "port": tcp_listener})  # fmt: skip
    svc.record_results([(target.pk, timezone.now(), Outcome(ok=False, latency_ms=1500, message="timeout"))])
    text = generate_latest(REGISTRY).decode()
    assert 'govcenter_probe_up{kind="tcp",target="pg-main",unit="OM-A"} 0.0' in text
    assert 'govcenter_probe_latency_seconds{kind="tcp",target="pg-main",unit="OM-A"} 1.5' in text
    assert "govcenter_alerts_firing 0.0" in text


@pytest.mark.django_db(transaction=True)
def test_run_forever_writes_results_in_batches(tcp_listener):
    from tests.factories import UnitFactory

    unit = UnitFactory(code="OM-RF")
    target = svc.target_save(actor=svc.SYSTEM, name="loop", kind="tcp", unit=unit, interval_s=5,
                             config={"host": "127.0.0.1", "port": tcp_listener})  # fmt: skip
    first = sch.jitter(target.pk, 5.0)
    import time

    written = sch.run_forever(workers=2, flush_s=0.5, until=time.time() + first + 5.5)
    rows = list(ProbeResult.objects.filter(target=target).order_by("started_at"))
    assert written == len(rows) >= 1 and all(r.ok for r in rows)
    assert MonitorTarget.objects.get(pk=target.pk).last_ok is True
