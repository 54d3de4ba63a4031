"""Device monitoring: a device with no heartbeat for N minutes is offline, and the period is recorded.

``devices_mark_offline`` runs every minute (tasks.py). A device is *online* while events
arrive (every accepted event is a heartbeat, see services/events.py). When its last
heartbeat is older than ``GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES`` it is set offline and
a :class:`DeviceOfflinePeriod` (reason ``no_heartbeat``) opens at the last heartbeat — the
last moment it was known to work, so occupancy from then on counts as unknown. The next
accepted event closes the period. Devices in maintenance or retired are left alone.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from govcenter.core import audit

from ..models import Device, DeviceOfflinePeriod


@transaction.atomic
def devices_mark_offline(*, now: dt.datetime | None = None) -> int:
    """Mark silent online devices offline and open their offline periods; returns how many.

    One UPDATE and one bulk INSERT whatever the number of devices; one audit entry per run
    that changed anything.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES)
    silent = list(
        Device.objects.select_for_update()
        .filter(status=Device.Status.ONLINE)
        .filter(Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True))
        .values_list("pk", "serial", "last_heartbeat_at")
    )
    if not silent:
        return 0
    ids = [pk for pk, _serial, _at in silent]
    Device.objects.filter(pk__in=ids).update(status=Device.Status.OFFLINE, updated_at=now)
    already_open = set(
        DeviceOfflinePeriod.objects.filter(device_id__in=ids, ended_at__isnull=True).values_list("device_id", flat=True)
    )
    DeviceOfflinePeriod.objects.bulk_create(
        [
            DeviceOfflinePeriod(device_id=pk, started_at=at or now, reason="no_heartbeat")
            for pk, _serial, at in silent
            if pk not in already_open
        ]
    )
    audit.record(
        action="parking.device.offline",
        object_type="parking.device",
        object_repr=f"{len(ids)} devices",
        changes={"devices": [serial for _pk, serial, _at in silent][:500], "cutoff": cutoff.isoformat()},
        reason=f"no heartbeat for {settings.GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES} minutes",
    )
    return len(ids)
