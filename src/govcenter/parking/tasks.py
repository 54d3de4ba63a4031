"""Periodic jobs of the parking app (Huey, discovered from every app's ``tasks`` module)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from govcenter.core.context import acting_as

from .services.monitoring import devices_mark_offline


@db_periodic_task(crontab(minute="*"), name="parking.devices_mark_offline")
def devices_mark_offline_every_minute() -> int:
    """Every minute: devices silent for GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES go offline."""
    with acting_as(None, channel="task"):
        return devices_mark_offline()


from .services.occupations import occupations_tick_task  # noqa: E402, F401  (every minute: start/end occupations)


# 01:30 Asia/Shanghai (Huey's crontab is UTC).
@db_periodic_task(crontab(hour="17", minute="30"), name="parking.stats_compute_yesterday")
def stats_compute_yesterday() -> int:
    """Daily at 01:30: the statistics of yesterday (services/stats.py; an idempotent upsert)."""
    import datetime as _dt

    from django.utils import timezone as _tz

    from .services.stats import stats_compute

    with acting_as(None, channel="task"):
        return len(stats_compute(date=_tz.localdate() - _dt.timedelta(days=1)))


# Huey evaluates crontabs in UTC (its default utc=True): 18:30 UTC is 02:30 Asia/Shanghai.
@db_periodic_task(crontab(hour="18", minute="30"), name="parking.reconcile_yesterday")
def reconcile_yesterday() -> int:
    """Every day at 02:30 Beijing time: reconcile yesterday's provider statement with the ledger."""
    from .services.reconciliation import reconcile, yesterday

    with acting_as(None, channel="task"):
        return reconcile(date=yesterday()).pk


@db_periodic_task(
    crontab(hour="16", minute="10"), name="parking.permits_daily"
)  # 00:10 Asia/Shanghai (UTC crontab)
def permits_daily_task() -> dict:
    """Every day at 00:10 Beijing time: expire residential permits past their end, send expiry reminders."""
    from .services.permits import permits_daily

    with acting_as(None, channel="task"):
        return permits_daily()


# 09:00 Asia/Shanghai (Huey's crontab is UTC).
@db_periodic_task(crontab(hour="1", minute="0"), name="parking.arrears_sweep")
def arrears_sweep_daily() -> dict:
    """Every day at 09:00 Beijing time: arrears, reminders, penalty cases (services/arrears.py)."""
    from .services.arrears import arrears_sweep

    with acting_as(None, channel="task"):
        return arrears_sweep()


@db_task(name="parking.sandbox_notify_deliver")
def sandbox_notify_deliver(out_trade_no: str, attempt: int = 1) -> dict:
    """The sandbox provider delivers a paid trade's signed notification to our callback entry;
    it schedules its own next attempt with backoff on failure (payments/sandbox.py)."""
    from .payments.sandbox import notify_deliver

    with acting_as(None, channel="task"):
        return notify_deliver(out_trade_no=out_trade_no, attempt=attempt)


# Every 3 minutes: changed parking facts into the lake (parking/lake/sync.py; idempotent).
@db_periodic_task(crontab(minute="*/3"), name="parking.lake_sync")
def lake_sync_periodic() -> list[dict]:
    """Every 3 minutes: the incremental lake export of every parking data set, then the cubes."""
    from .lake.sync import sync_all
    from .stats2.cubes import refresh_all

    results = [r.as_dict() for r in sync_all()]
    return results + refresh_all()


# Statistic 10 (the query builder): background Excel exports and the scheduled ones.
@db_task(name="parking.stats_query_export")
def stats_query_export(job_id: int) -> str:
    """A queued background export of a query (services/stats_query.py); the job records the outcome."""
    from .services.stats_query import export_run

    with acting_as(None, channel="task"):
        return export_run(job_id).status


@db_periodic_task(crontab(minute="*/10"), name="parking.stats_query_schedules")
def stats_query_schedules() -> list[int]:
    """Every 10 minutes: run the scheduled query exports that are due (each once)."""
    from .services.stats_query import schedules_run_due

    with acting_as(None, channel="task"):
        return schedules_run_due()


from .reports.tasks import (  # noqa: E402, F401  (weekly/monthly parking reports)
    report_generate,
    reports_monthly,
    reports_weekly,
)
