"""The on-demand job (``parking.report_generate``: a report the page or the API queued) and the
schedule: the weekly report every Monday 06:00 (the previous ISO week) and the monthly
report on the 1st at 06:00 (the previous month), Beijing time — the city's and each district
unit's version. Huey's crontab runs in UTC here: 06:00 Beijing is 22:00 UTC the day before, so
the jobs fire then and check the Beijing date themselves. Idempotent (see
:func:`.services.generate_due`)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from govcenter.core.context import acting_as

from ..models.reports import ParkingReportKind
from .services import generate_due, parkingreport_run


def due_kinds(today: dt.date) -> list[str]:
    """The report kinds due on the Beijing date ``today``."""
    due = []
    if today.isoweekday() == 1:
        due.append(ParkingReportKind.WEEKLY)
    if today.day == 1:
        due.append(ParkingReportKind.MONTHLY)
    return due


def run_due(kind: str, now: dt.datetime | None = None) -> int:
    """Generate ``kind``'s reports if due on the Beijing date of ``now`` (a re-run makes nothing new)."""
    now = now or timezone.now()
    if kind not in due_kinds(timezone.localtime(now).date()):
        return 0
    with acting_as(None, channel="task"):
        return len(generate_due(kind, now))


@db_periodic_task(crontab(day_of_week="0", hour="22", minute="0"), name="parking.reports_weekly")
def reports_weekly() -> int:
    """Monday 06:00 Beijing (Sunday 22:00 UTC): last week's reports."""
    return run_due(ParkingReportKind.WEEKLY)


@db_periodic_task(crontab(hour="22", minute="0"), name="parking.reports_monthly")
def reports_monthly() -> int:
    """The 1st 06:00 Beijing (22:00 UTC the day before): last month's reports."""
    return run_due(ParkingReportKind.MONTHLY)


@db_task(name="parking.report_generate")
def report_generate(report_id: int) -> str:
    """A report queued on demand (services.parkingreport_request), generated as the user who asked."""
    from ..models.reports import ParkingReport

    report = ParkingReport.objects.select_related("requested_by").filter(pk=report_id).first()
    if report is None:  # deleted meanwhile
        return "missing"
    with acting_as(report.requested_by, channel="task"):
        return parkingreport_run(report_id).status
