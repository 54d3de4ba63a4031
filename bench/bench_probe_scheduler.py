"""Probe scheduler benchmark: 1,000 targets every 30 s on this machine — the CPU share of the
scheduler process and its schedule drift.

The targets are cheap TCP probes against a local listener started by the bench in a separate
process (so its CPU is not counted). ``govcenter.ops.monitoring.scheduler.Scheduler`` runs
them for three cycles (thread pool, drift-free grid, jittered first run); no database —
the scheduler core is measured, not the result writes.

Baseline, measured in the same run over the same targets and the same jittered first runs:
a naive single-threaded loop that sleeps until the earliest due target, probes it, and sets
its next run to *finished + interval* (two cycles). Drift is measured for both against the
ideal grid (first run + k × interval): actual start − scheduled start, p50 / p95 / max. CPU
share = process CPU time / wall time over the run (1.0 = one core busy).

``--quick`` (or ``GOVCENTER_BENCH_QUICK=1``): interval 10 s instead of 30 s (about 50 s in
all instead of about 2.5 min). Run alone with ``python bench/bench_probe_scheduler.py``.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

try:  # imported as bench.bench_probe_scheduler by bench/run.py
    from bench.common import record
except ImportError:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from common import record  # type: ignore[no-redef]

TARGETS = 1000
CYCLES = 3
BASELINE_CYCLES = 2

LISTENER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4096)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.close()
"""


def _quick() -> bool:
    return "--quick" in sys.argv or os.environ.get("GOVCENTER_BENCH_QUICK") == "1"


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95, ordered[-1]


def _jobs(port: int, interval: float):
    from govcenter.ops.monitoring.scheduler import Job

    return [Job(id=i, kind="tcp", config={"host": "127.0.0.1", "port": port}, interval_s=interval, timeout_s=2.0)
            for i in range(1, TARGETS + 1)]  # fmt: skip


def measure_scheduler(port: int, interval: float) -> dict:
    from govcenter.ops.monitoring.scheduler import Scheduler

    scheduler = Scheduler(workers=32)
    runs, lock = [], threading.Lock()

    def sink(run):
        with lock:
            runs.append(run)

    start = time.time()
    scheduler.sync(_jobs(port, interval), start=start)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        scheduler.loop(sink, stop=threading.Event(), until=start + CYCLES * interval)
    finally:
        scheduler.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    drift = [(r.started - r.scheduled) * 1000 for r in runs]
    return {"cpu_share": cpu / wall, "drift": _percentiles(drift), "runs": len(runs),
            "failed": sum(1 for r in runs if not r.outcome.ok)}  # fmt: skip


def measure_naive(port: int, interval: float) -> dict:
    from govcenter.ops.monitoring.probes import run_probe
    from govcenter.ops.monitoring.scheduler import jitter

    jobs = _jobs(port, interval)
    start = time.time()
    first = {j.id: start + jitter(j.id, interval) for j in jobs}
    next_run = dict(first)
    done = {j.id: 0 for j in jobs}
    drift, failed = [], 0
    until = start + BASELINE_CYCLES * interval
    cpu0, wall0 = time.process_time(), time.perf_counter()
    by_id = {j.id: j for j in jobs}
    while True:
        job_id = min(next_run, key=next_run.get)
        due = next_run[job_id]
        if due >= until:
            break
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        began = time.time()
        ideal = first[job_id] + done[job_id] * interval
        drift.append((began - ideal) * 1000)
        job = by_id[job_id]
        failed += not run_probe(job.kind, job.config, job.timeout_s).ok
        done[job_id] += 1
        next_run[job_id] = time.time() + interval  # the naive rule: finished + interval
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_share": cpu / wall, "drift": _percentiles(drift), "runs": len(drift), "failed": failed}


def measure() -> list[dict]:
    interval = 10.0 if _quick() else 30.0
    listener = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(listener.stdout.readline())
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        ours = measure_scheduler(port, interval)
        naive = measure_naive(port, interval)
    finally:
        listener.terminate()
        listener.wait(timeout=10)
    print(f"probe scheduler: {TARGETS} targets every {interval:g} s — scheduler {ours['runs']} runs "
          f"({ours['failed']} failed), CPU {ours['cpu_share'] * 100:.1f}% of a core, drift p50/p95/max "
          f"{ours['drift'][0]:.1f}/{ours['drift'][1]:.1f}/{ours['drift'][2]:.1f} ms; naive loop {naive['runs']} runs "
          f"({naive['failed']} failed), CPU {naive['cpu_share'] * 100:.1f}%, drift p50/p95/max "
          f"{naive['drift'][0]:.1f}/{naive['drift'][1]:.1f}/{naive['drift'][2]:.1f} ms")  # fmt: skip
    label = f"{TARGETS} targets / {interval:g} s"
    return [
        record(name=f"probe scheduler CPU share ({label})", value=ours["cpu_share"] * 100, unit="% of a core",
               baseline_name="naive sequential loop", baseline_value=naive["cpu_share"] * 100,
               target="< 10% of one core"),  # fmt: skip
        record(name=f"probe scheduler drift p95 ({label})", value=ours["drift"][1], unit="ms",
               baseline_name="naive loop (finished + interval)", baseline_value=naive["drift"][1],
               target="p95 < 100 ms"),  # fmt: skip
        record(name=f"probe scheduler drift max ({label})", value=ours["drift"][2], unit="ms",
               baseline_name="naive loop (finished + interval)", baseline_value=naive["drift"][2],
               target="max < 1,000 ms"),  # fmt: skip
    ]


def run() -> list[dict]:
    return measure()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.settings")
    os.environ.setdefault("GOVCENTER_DEBUG", "true")
    import django

    django.setup()
    from common import main  # type: ignore[no-redef]

    main(measure)
