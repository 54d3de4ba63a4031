"""Reads of device monitoring: per-district availability and occupancy with unknown spaces.

Availability over a period = 1 − (offline device-seconds inside the period) / (devices ×
period seconds), from the recorded :class:`DeviceOfflinePeriod` rows (an open period runs
to the end of the window). Occupancy of a segment at an instant counts a space as
*unknown* — never free — when every device watching it (its sensor, or the segment's
cameras when it has no sensor) was offline then.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone

from govcenter.core.models import District

from ..models import Device, DeviceOfflinePeriod, Order, OrderState, Segment, Space


def _offline_at(device_ids: list[int], at: dt.datetime) -> set[int]:
    return set(
        DeviceOfflinePeriod.objects.filter(device_id__in=device_ids, started_at__lte=at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .values_list("device_id", flat=True)
    )


def device_availability(*, user, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Per district in the caller's scope: devices, online now, online share and availability % in [start, end)."""
    if end <= start:
        raise ValueError("end must be after start")
    devices = Device.objects.restrict(user).exclude(status=Device.Status.RETIRED)
    rows = {
        d["pk"]: {**d, "devices": 0, "online": 0, "offline_seconds": 0.0}
        for d in District.objects.restrict(user).order_by("sort_order", "code").values("pk", "code", "name_zh")
    }
    for row in devices.order_by().values("district").annotate(
        n=Count("pk"), online=Count("pk", filter=Q(status=Device.Status.ONLINE))
    ):
        if row["district"] in rows:
            rows[row["district"]].update(devices=row["n"], online=row["online"])
    periods = (
        DeviceOfflinePeriod.objects.restrict(user)
        .filter(device__in=devices, started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
        .values_list("device__district", "started_at", "ended_at")
    )
    for district_id, started, ended in periods:
        lo, hi = max(started, start), min(ended or end, end)
        if district_id in rows and hi > lo:
            rows[district_id]["offline_seconds"] += (hi - lo).total_seconds()
    seconds = (end - start).total_seconds()
    for row in rows.values():
        n = row["devices"]
        row["online_share"] = round(row["online"] / n, 4) if n else None
        row["availability_pct"] = round(100 * (1 - row["offline_seconds"] / (n * seconds)), 2) if n else None
    return list(rows.values())


def segment_occupancy(*, segment: Segment, at: dt.datetime | None = None) -> dict:
    """``{"spaces", "known", "unknown", "occupied", "free", "occupancy"}`` of ``segment`` at ``at``.

    ``occupancy`` = occupied / known (None when nothing is known). The caller fetched the
    segment through the scope.
    """
    at = at or timezone.now()
    spaces = list(
        Space.objects.filter(segment=segment, created_at__lte=at).exclude(status=Space.Status.RETIRED).values_list("pk", flat=True)
    )
    devices = list(
        Device.objects.filter(Q(space_id__in=spaces) | Q(segment=segment, space__isnull=True))
        .exclude(status=Device.Status.RETIRED)
        .values_list("pk", "space_id")
    )
    offline = _offline_at([pk for pk, _space in devices], at)
    sensors: dict[int, list[int]] = {}
    cameras: list[int] = []
    for pk, space_id in devices:
        (sensors.setdefault(space_id, []) if space_id else cameras).append(pk)
    cameras_up = any(pk not in offline for pk in cameras)
    unknown = set()
    for space_id in spaces:
        watchers = sensors.get(space_id)
        if watchers:
            if all(pk in offline for pk in watchers) and not cameras_up:
                unknown.add(space_id)
        elif cameras and not cameras_up:
            unknown.add(space_id)
    known = [pk for pk in spaces if pk not in unknown]
    occupied = (
        Order.objects.filter(space_id__in=known, started_at__lte=at)
        .exclude(state=OrderState.VOID)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .values("space_id")
        .distinct()
        .count()
    )
    return {
        "spaces": len(spaces),
        "known": len(known),
        "unknown": len(unknown),
        "occupied": occupied,
        "free": len(known) - occupied,
        "occupancy": round(occupied / len(known), 4) if known else None,
    }


def device_status_rows(*, user, district: District | None = None):
    """Devices of the caller's scope for the status page, with their open offline period."""
    qs = (
        Device.objects.restrict(user)
        .exclude(status=Device.Status.RETIRED)
        .select_related("district", "segment", "space", "space__segment")
        .defer("secret_enc")
        .order_by("district__sort_order", "status", "serial")
    )
    if district is not None:
        qs = qs.filter(district=district)
    return qs
