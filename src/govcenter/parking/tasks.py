"""Periodic jobs of the parking app (Huey, discovered from every app's ``tasks`` module)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from govcenter.core.context import acting_as

from .services.monitoring import devices_mark_offline


@db_periodic_task(crontab(minute="*"), name="parking.devices_mark_offline")
def devices_mark_offline_every_minute() -> int:
    """Every minute: devices silent for GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES go offline."""
    with acting_as(None, channel="task"):
        return devices_mark_offline()

from .services.occupations import occupations_tick_task  # noqa: E402, F401  (every minute: start/end occupations)
