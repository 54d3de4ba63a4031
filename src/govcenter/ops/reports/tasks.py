"""Scheduled reports: on the 1st of every month the previous month's report, and on the 1st of
January, April, July and October the previous quarter's (01:30 Beijing time = 17:30 UTC the
day before — huey's crontab runs in UTC here, so the job checks the Beijing date itself)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ..models import Report, ReportKind
from .services import SYSTEM, previous_month, previous_quarter, report_generate


def due_reports(today: dt.date) -> list[tuple[str, str]]:
    """The (kind, label) reports due on the Beijing date ``today``."""
    if today.day != 1:
        return []
    due = [(ReportKind.MONTH, previous_month(today))]
    if today.month in (1, 4, 7, 10):
        due.append((ReportKind.QUARTER, previous_quarter(today)))
    return due


def generate_due(now: dt.datetime | None = None) -> list[Report]:
    """Generate the reports due today that do not exist yet (a re-run does not repeat them)."""
    now = now or timezone.now()
    made = []
    for kind, label in due_reports(timezone.localtime(now).date()):
        if not Report.objects.filter(kind=kind, label=label, generated_by__isnull=True).exists():
            made.append(report_generate(actor=SYSTEM, kind=kind, label=label, now=now))
    return made


@db_periodic_task(crontab(hour="17", minute="30"), name="ops.reports_scheduled")
def reports_scheduled() -> int:
    return len(generate_due())
