"""Daily retention of the application log records (04:20 Beijing time)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core.context import acting_as


@db_periodic_task(crontab(hour="20", minute="20"))  # 04:20 Asia/Shanghai (Huey's crontab is UTC)
def logs_prune_daily() -> int:
    from .services import logs_prune

    with acting_as(None, channel="task"):
        return logs_prune()
