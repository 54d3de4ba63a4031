"""数据湖同步监控 — the data-monitoring page of the lake itself (``/parking/stats/lake/``).

Every lake data set (``parking/lake/sync.py`` ``DATASETS``) with its manifest's state
(:func:`..lake.sync.lake_status`: watermark, lag, rows, partitions, last run and its result)
and whether the OLTP side has changes the lake has not taken yet: the data set's own change
query (``Dataset.changed``) from the watermark on, of which only the first row is fetched —
an indexed range on the change key (``updated_at``), cheap whatever the table size;
``device_days`` asks small tables instead (:func:`_device_days_newest`). A data set is **stale** when its lag is over
``STALE_AFTER`` and such a newer change exists (a large lag on an idle system is not stale).

The sync button (POST, CSRF-protected) runs the incremental export of one data set, or of all,
in the request (under the data set's flock, so it never interleaves with the Huey run of
``parking.lake_sync``); it needs the statistics permission *and* a city-wide data scope (the
lake is shared by all districts), and is audited as ``parking.lake.sync``.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from govcenter.core import audit
from govcenter.core.scope import scope_for

from ..lake.sync import DATASETS, lake_status, sync_dataset

PERMISSION = "parking.view_dailydistrictstat"
STALE_AFTER = dt.timedelta(minutes=5)


def _device_days_newest(since, now):
    """The newest change behind ``device_days`` after ``since``, from small tables only.

    Its exporter's change query groups the events received since the watermark — fine for a
    sync, too much for a page, and a never-synced data set would make it look at every day.
    Instead: the devices' newest heartbeat (every ingested batch sets ``last_heartbeat_at``
    to its receipt time; the device table is small), the offline periods' ``updated_at``
    (indexed), and a Beijing midnight passed since (the day's final rows).
    """
    from django.db.models import Max

    from ..lake.sync import TZ
    from ..models import Device, DeviceOfflinePeriod

    stamps = [
        Device.objects.aggregate(m=Max("last_heartbeat_at"))["m"],
        DeviceOfflinePeriod.objects.aggregate(m=Max("updated_at"))["m"],
    ]
    midnight = dt.datetime.combine(timezone.localtime(now, TZ).date(), dt.time(), TZ)
    if stamps[0] is not None:
        stamps.append(midnight)
    newer = [t for t in stamps if t is not None and (since is None or t > since)]
    return max(newer) if newer else None


def _newer_change(name: str, watermark: str | None, now):
    """The stamp of an OLTP change after ``watermark`` (None: nothing newer): the first row
    of the data set's own change query (an indexed range on its change key)."""
    since = dt.datetime.fromisoformat(watermark) if watermark else None
    if name == "device_days":
        return _device_days_newest(since, now)
    for _pk, _at, _district, updated in DATASETS[name].changed(since):
        return updated
    return None


def lake_rows(*, root=None, now=None) -> list[dict]:
    """:func:`lake_status` of every data set plus ``newer_change`` and ``stale``."""
    now = now or timezone.now()
    rows = []
    for status in lake_status(root=root, now=now):
        newer = _newer_change(status["dataset"], status["watermark"], now)
        lag = status["lag_seconds"]
        status["newer_change"] = newer.isoformat() if newer else None
        status["stale"] = newer is not None and (lag is None or lag > STALE_AFTER.total_seconds())
        rows.append(status)
    return rows


def _check(user, *, sync: bool = False) -> None:
    if not user.has_perm(PERMISSION):
        raise PermissionDenied
    if sync and not scope_for(user).all:
        raise PermissionDenied


@login_required
@require_GET
def lake_page(request):
    _check(request.user)
    return render(
        request,
        "parking/stats2/lake.html",
        {
            "rows": lake_rows(),
            "stale_after_minutes": int(STALE_AFTER.total_seconds() // 60),
            "can_sync": scope_for(request.user).all,
        },
    )


@login_required
@require_POST
def lake_sync(request):
    _check(request.user, sync=True)
    name = request.POST.get("dataset", "")
    names = list(DATASETS) if name == "all" else [name]
    if any(n not in DATASETS for n in names):
        messages.error(request, _("未知的数据集：%(name)s") % {"name": name})
        return redirect("parking:stats_lake")
    results = [sync_dataset(n).as_dict() for n in names]
    audit.record(
        action="parking.lake.sync",
        object_type="parking.lake",
        object_id=name,
        object_repr=", ".join(names),
        changes={"results": results},
    )
    messages.success(
        request,
        _("已同步 %(names)s：变更 %(changed)d 条，重写分区 %(partitions)d 个。")
        % {
            "names": ", ".join(names),
            "changed": sum(r["changed"] for r in results),
            "partitions": sum(r["partitions"] for r in results),
        },
    )
    return redirect("parking:stats_lake")


urlpatterns: list = [
    path("stats/lake/", lake_page, name="stats_lake"),
    path("stats/lake/sync/", lake_sync, name="stats_lake_sync"),
]
