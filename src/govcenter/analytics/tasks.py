"""Periodic jobs of the analytics layer (Huey, discovered from every app's ``tasks`` module)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core.context import acting_as

log = logging.getLogger(__name__)


# 02:50 Asia/Shanghai (Huey's crontab is UTC), after the day's last micro-batches are in.
@db_periodic_task(crontab(hour="18", minute="50"), name="analytics.lake_nightly")
def lake_nightly_task() -> dict:
    """Every night: compact the lake's small files, then downsample raw telemetry past its retention."""
    from .maintenance import lake_nightly

    with acting_as(None, channel="task"):
        result = lake_nightly()
    log.info(
        "lake nightly: %s → %s bytes",
        result["slim"]["bytes_before"],
        result["slim"]["bytes_after"],
    )
    return {"slim": {k: result["slim"][k] for k in ("cutoff", "bytes_before", "bytes_after")}}
