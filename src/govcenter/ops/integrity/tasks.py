"""The periodic integrity check (every GOVCENTER_OPS_INTEGRITY_INTERVAL minutes; 0: off)."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core.api.errors import ServiceError
from govcenter.core.context import acting_as

logger = logging.getLogger(__name__)


def _schedule(minutes: int):
    if minutes <= 0:
        return lambda dt: False
    if minutes < 60:
        return crontab(minute=f"*/{minutes}")
    return crontab(minute="0", hour=f"*/{max(1, minutes // 60)}")


@db_periodic_task(_schedule(settings.GOVCENTER_OPS_INTEGRITY_INTERVAL))
def integrity_check_periodic() -> str:
    from .services import integrity_check

    with acting_as(None, channel="task"):
        try:
            check = integrity_check(restore=True, trigger="task")
        except ServiceError as exc:  # no baseline yet, or a run already in progress
            logger.warning("integrity check skipped: %s", exc.detail)
            return "skipped"
    if check.status != "ok":
        logger.error("integrity check #%s: %s, %d findings", check.pk, check.status, len(check.mismatches))
    return check.status
