"""The monitor's Huey tasks.

* ``ops.monitor_tick`` (every minute, when ``GOVCENTER_OPS_MONITOR_IN_WORKER`` is on — the
  default with DEBUG, so ``make run`` watches its demo targets without another process):
  probes the enabled targets whose interval has passed since their last run. A deployment runs
  the drift-free ``govcenter ops monitor`` under its supervisor instead and turns this off —
  both at once would probe twice.
* ``ops.probe_results_prune`` (daily): raw results older than
  ``GOVCENTER_OPS_PROBE_RETENTION_DAYS`` are deleted in batches; the hourly rollups that
  uptime and the reports read are kept.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core import audit
from govcenter.core.context import acting_as

logger = logging.getLogger(__name__)

PRUNE_BATCH = 5_000


def due_target_names(now: dt.datetime | None = None) -> list[str]:
    """Enabled targets never probed, or probed at least one interval ago."""
    from ..models import MonitorTarget

    now = now or timezone.now()
    due = []
    for name, last, interval in MonitorTarget.objects.filter(enabled=True).values_list(
        "name", "last_run_at", "interval_s"
    ):
        if last is None or last + dt.timedelta(seconds=interval) <= now + dt.timedelta(seconds=1):
            due.append(name)
    return due


@db_periodic_task(crontab(minute="*"), name="ops.monitor_tick")
def monitor_tick() -> int:
    if not settings.GOVCENTER_OPS_MONITOR_IN_WORKER:
        return 0
    from .scheduler import run_once

    names = due_target_names()
    if not names:
        return 0
    with acting_as(None, channel="task"):
        runs, _summary = run_once(names, workers=8)
    return len(runs)


def probe_results_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete raw probe results older than the retention, in batches; returns how many."""
    from ..models import ProbeResult

    days = settings.GOVCENTER_OPS_PROBE_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(ProbeResult.objects.filter(started_at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            break
        deleted += ProbeResult.objects.filter(pk__in=ids).delete()[0]
    if deleted:
        audit.record(action="ops.monitoring.prune", object_type="ops.proberesult", object_repr=f"< {cutoff:%Y-%m-%d}",
                     changes={"deleted": deleted, "before": cutoff.isoformat(), "days": days})  # fmt: skip
    return deleted


@db_periodic_task(crontab(hour="19", minute="40"), name="ops.probe_results_prune")  # 03:40 Beijing
def probe_results_prune_daily() -> int:
    with acting_as(None, channel="task"):
        deleted = probe_results_prune()
    logger.info("probe results pruned", extra={"deleted": deleted})
    return deleted
