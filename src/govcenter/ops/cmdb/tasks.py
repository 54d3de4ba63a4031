"""The CMDB's periodic job (Huey): licence and certificate expiry alerts, daily.

Imported from ``OpsConfig.ready()`` (the ops app's ``tasks`` module is shared by several parts)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core.context import acting_as

log = logging.getLogger(__name__)


# 08:05 Beijing (Huey's crontab is UTC): before the working day starts.
@db_periodic_task(crontab(hour="0", minute="5"), name="ops.cmdb_expiry_alerts")
def cmdb_expiry_alerts_daily() -> dict:
    from .expiry import raise_alerts

    with acting_as(None, channel="task"):
        result = raise_alerts()
    if result["opened"]:
        log.info("cmdb expiry: opened incidents %s", ", ".join(result["opened"]))
    return result
