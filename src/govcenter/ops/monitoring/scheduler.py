"""The probe scheduler: every enabled target on its own drift-free grid, probes run
concurrently in a thread pool, results written in batches.

**Drift-free.** Each target's first run is jittered inside its interval (a deterministic
offset from its id, so 1,000 targets do not all start in the same second); after that the
next run is *the previous scheduled time* + interval, never "finished + interval" — a slow
probe or a busy moment does not push later runs back. A target that fell behind by more than
an interval skips the missed slots and rejoins its grid (no catch-up storm).

The scheduler core (:class:`Scheduler`) knows nothing of the database: ``due()`` names the
targets whose time has come, ``run_due()`` probes them and hands ``(target, scheduled,
started, outcome)`` records to a sink. :func:`run_forever` / :func:`run_once` plug the
database in: targets from ``MonitorTarget``, windows without collection skipped, results
through ``services.record_results`` (rollups, alerts, incidents) every ``flush_s`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import close_old_connections, connections

from .probes import Outcome, run_probe

log = logging.getLogger(__name__)


@dataclass
class Job:
    """What the scheduler needs of a target."""

    id: int
    kind: str
    config: dict
    interval_s: float
    timeout_s: float
    next_run: float = 0.0  # epoch seconds


@dataclass
class Run:
    job: Job
    scheduled: float  # the grid time it was due at (epoch seconds)
    started: float  # when the probe really began
    outcome: Outcome


def jitter(job_id: int, interval_s: float) -> float:
    """A stable offset in [0, interval) for the first run of ``job_id``."""
    return (zlib.crc32(str(job_id).encode()) % 10_000) / 10_000 * interval_s


def next_slot(scheduled: float, interval_s: float, now: float) -> float:
    """The next grid time after ``scheduled``: ``scheduled + interval``, or — when that has
    passed already (the scheduler fell behind) — the first grid time after ``now``."""
    following = scheduled + interval_s
    if following > now:
        return following
    missed = int((now - following) // interval_s) + 1
    return following + missed * interval_s


@dataclass
class Scheduler:
    workers: int = 32
    probe: Callable[[str, dict, float], Outcome] = run_probe
    clock: Callable[[], float] = time.time
    admit: Callable[[list[tuple[Job, float]]], list[tuple[Job, float]]] | None = None  # filters what is due
    jobs: dict[int, Job] = field(default_factory=dict)

    def __post_init__(self):
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="probe")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def sync(self, jobs: Iterable[Job], *, start: float | None = None) -> None:
        """Take the current set of jobs: new ones get their jittered first run after
        ``start`` (default now), changed intervals restart on the new grid, gone ones leave."""
        now = self.clock() if start is None else start
        fresh = {}
        for job in jobs:
            old = self.jobs.get(job.id)
            if old is not None and old.interval_s == job.interval_s:
                job.next_run = old.next_run
            else:
                job.next_run = now + jitter(job.id, job.interval_s)
            fresh[job.id] = job
        self.jobs = fresh

    def due(self, now: float | None = None) -> list[tuple[Job, float]]:
        """The jobs due at ``now`` with their scheduled times; each job's next run moves on
        its grid."""
        now = self.clock() if now is None else now
        out = []
        for job in self.jobs.values():
            if job.next_run <= now:
                out.append((job, job.next_run))
                job.next_run = next_slot(job.next_run, job.interval_s, now)
        return out

    def next_due(self) -> float | None:
        return min((j.next_run for j in self.jobs.values()), default=None)

    def _one(self, job: Job, scheduled: float) -> Run:
        started = self.clock()
        try:
            outcome = self.probe(job.kind, job.config, job.timeout_s)
        finally:
            if job.kind in ("db", "freshness"):  # Django connections are per thread: do not leak them
                connections.close_all()
        return Run(job=job, scheduled=scheduled, started=started, outcome=outcome)

    def submit(self, due: list[tuple[Job, float]], sink: Callable[[Run], None]) -> list:
        futures = []
        for job, scheduled in due:
            future = self.pool.submit(self._one, job, scheduled)
            future.add_done_callback(lambda f: sink(f.result()))
            futures.append(future)
        return futures

    def run_due(self, due: list[tuple[Job, float]]) -> list[Run]:
        """Probe ``due`` concurrently and wait for all of them."""
        return [f.result() for f in [self.pool.submit(self._one, job, s) for job, s in due]]

    def loop(self, sink: Callable[[Run], None], *, stop: threading.Event, until: float | None = None,
             refresh: Callable[[], None] | None = None, refresh_s: float = 30.0) -> None:  # fmt: skip
        """Run jobs as they fall due until ``stop`` is set (or ``until``, epoch seconds);
        ``refresh`` is called every ``refresh_s`` (to re-read targets)."""
        last_refresh = self.clock()
        while not stop.is_set():
            now = self.clock()
            if until is not None and now >= until:
                break
            if refresh is not None and now - last_refresh >= refresh_s:
                refresh()
                last_refresh = now
            due = self.due(now)
            if due and self.admit is not None:
                due = self.admit(due)
            if due:
                self.submit(due, sink)
            nxt = self.next_due()
            wait = 1.0 if nxt is None else max(0.0, min(nxt - self.clock(), 1.0))
            if until is not None:
                wait = min(wait, max(0.0, until - self.clock()))
            if wait:
                stop.wait(wait)


# ------------------------------------------------------------------------------------------
# With the database
# ------------------------------------------------------------------------------------------


def _aware(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def load_jobs(names: list[str] | None = None) -> list[Job]:
    from ..models import MonitorTarget

    qs = MonitorTarget.objects.filter(enabled=True)
    if names:
        qs = qs.filter(name__in=names)
    return [Job(id=t.pk, kind=t.kind, config=t.config, interval_s=float(t.interval_s), timeout_s=t.timeout_s)
            for t in qs.only("id", "kind", "config", "interval_s", "timeout_s")]  # fmt: skip


def _skip_quiet(due: list[tuple[Job, float]]) -> list[tuple[Job, float]]:
    """Leave out targets inside a maintenance window without collection."""
    from ..models import MonitorTarget
    from .services import Windows

    if not due:
        return due
    times = [s for _j, s in due]
    windows = Windows.load(_aware(min(times)), _aware(max(times)))
    if not windows.rows:
        return due
    targets = MonitorTarget.objects.only("id", "unit_id").in_bulk([j.id for j, _s in due])
    return [(j, s) for j, s in due if j.id in targets and not windows.at(targets[j.id], _aware(s))[1]]


def _write(runs: list[Run]):
    from .services import record_results

    return record_results([(r.job.id, _aware(r.started), r.outcome) for r in runs])


def run_once(names: list[str] | None = None, *, workers: int = 16) -> tuple[list[Run], object]:
    """Probe every (named) enabled target once, now; record the results. For ``--once``."""
    scheduler = Scheduler(workers=workers)
    try:
        now = time.time()
        due = _skip_quiet([(job, now) for job in load_jobs(names)])
        runs = scheduler.run_due(due)
    finally:
        scheduler.close()
    return runs, _write(runs)


def run_forever(names: list[str] | None = None, *, workers: int = 32, flush_s: float = 2.0,
                stop: threading.Event | None = None, until: float | None = None, out=None) -> int:  # fmt: skip
    """The 7×24 loop: schedule, probe, flush results every ``flush_s`` seconds. Returns the
    number of results written."""
    stop = stop or threading.Event()
    scheduler = Scheduler(workers=workers, admit=_skip_quiet)
    scheduler.sync(load_jobs(names))
    pending: list[Run] = []
    lock = threading.Lock()
    written = 0

    def sink(run: Run) -> None:
        with lock:
            pending.append(run)

    def flush() -> None:
        nonlocal written
        with lock:
            runs = pending[:]
            pending.clear()
        if runs:
            try:
                summary = _write(runs)
            except Exception:  # noqa: BLE001 (keep probing; the batch is logged and lost)
                log.exception("monitor: writing %d results failed", len(runs))
                return
            written += summary.results
            if out is not None and (summary.fired or summary.resolved):
                out.write(f"alerts fired {summary.fired}, resolved {summary.resolved}, incidents {list(summary.incidents)}\n")

    def refresh() -> None:
        scheduler.sync(load_jobs(names))

    flusher_stop = threading.Event()

    def flusher() -> None:
        while not flusher_stop.wait(flush_s):
            flush()
            close_old_connections()

    thread = threading.Thread(target=flusher, name="monitor-flush", daemon=True)
    thread.start()
    try:
        scheduler.loop(sink, stop=stop, until=until, refresh=refresh)
    finally:
        scheduler.close()
        flusher_stop.set()
        thread.join()
        flush()
    return written
