"""Deadlines of cases on China's working calendar and their warning colours (ADR 0006).

Built on :mod:`govcenter.core.calendar` (statutory holidays and 调休 make-up workdays, the
administrators' override table first):

* :func:`due_after` — the due date ``workdays`` working days after a start (the start not
  counted), or ``months`` calendar months after it; a month-based date that falls on a day off
  moves to the next working day, as the Civil Code (art. 203) counts a period whose last day is
  a holiday;
* :func:`check_deadline` — refuses a deadline set by hand on a day off, naming the next working
  day (:class:`DeadlineError`);
* :func:`warning` — ``none`` / ``blue`` (near: at most ``GOVCENTER_DEADLINE_NEAR_WORKDAYS``
  working days left) / ``yellow`` (behind schedule: the share of working time used exceeds the
  reported progress by more than ``GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT`` points, or the caller
  says a planned milestone slipped) / ``red`` (overdue: the deadline day has passed). The most
  severe colour wins. A deadline day itself is still on time (due by the end of that day).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from enum import StrEnum

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .calendar import add_workdays, as_local_date, is_workday, next_workday, workdays_between


class Level(StrEnum):
    NONE = "none"
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return str(LEVEL_LABELS[self])


LEVEL_LABELS = {
    Level.NONE: _("正常"),
    Level.BLUE: _("临期"),
    Level.YELLOW: _("滞后"),
    Level.RED: _("逾期"),
}
SEVERITY = {Level.NONE: 0, Level.BLUE: 1, Level.YELLOW: 2, Level.RED: 3}


class DeadlineError(ValueError):
    """A deadline that cannot be used; ``suggestion`` is the working day to use instead."""

    def __init__(self, message: str, *, suggestion: dt.date | None = None):
        super().__init__(message)
        self.suggestion = suggestion


def today() -> dt.date:
    return as_local_date(timezone.now())


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (1-31 → 2-28)."""
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError("months must be an integer")
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError("date out of range")
    return dt.date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def due_after(start: dt.date | dt.datetime, *, workdays: int | None = None, months: int | None = None) -> dt.date:
    """The due date ``workdays`` working days or ``months`` months after ``start`` (give one)."""
    if (workdays is None) == (months is None):
        raise TypeError("give exactly one of workdays and months")
    day = as_local_date(start)
    if workdays is not None:
        if workdays < 1:
            raise ValueError("workdays must be at least 1")
        return add_workdays(day, workdays)
    if months < 1:
        raise ValueError("months must be at least 1")
    due = add_months(day, months)
    return due if is_workday(due) else next_workday(due)


def check_deadline(day: dt.date | dt.datetime) -> dt.date:
    """``day`` if it is a working day; DeadlineError naming the next working day otherwise."""
    local = as_local_date(day)
    if is_workday(local):
        return local
    suggestion = next_workday(local)
    raise DeadlineError(
        str(_("期限 {day} 不是工作日，请改为 {next}（下一个工作日）。")).format(day=local, next=suggestion),
        suggestion=suggestion,
    )


def workdays_left(deadline: dt.date, *, on: dt.date | None = None) -> int:
    """Working days from ``on`` (default today) to ``deadline``: negative once it has passed."""
    return workdays_between(on or today(), deadline)


def used_pct(started: dt.date, deadline: dt.date, *, on: dt.date | None = None) -> float:
    """Share (0–100) of the working days from ``started`` to ``deadline`` used by ``on``."""
    total = workdays_between(started, deadline)
    if total <= 0:
        return 100.0
    used = workdays_between(started, on or today())
    return min(100.0, max(0.0, 100.0 * used / total))


def warning(
    deadline: dt.date | None,
    *,
    on: dt.date | None = None,
    started: dt.date | None = None,
    progress_pct: float | None = None,
    behind: bool = False,
) -> Level:
    """The colour of ``deadline`` on ``on`` (default today); see the module docstring.

    ``started`` and ``progress_pct`` (0–100) give "behind schedule"; ``behind=True`` says so
    outright (a milestone slipped). No deadline: ``none``.
    """
    if deadline is None:
        return Level.NONE
    on = as_local_date(on) if on is not None else today()
    deadline = as_local_date(deadline)
    if on > deadline:
        return Level.RED
    if progress_pct is not None and not 0 <= progress_pct <= 100:
        raise ValueError("progress_pct must be 0–100")
    if behind or (
        started is not None
        and progress_pct is not None
        and used_pct(as_local_date(started), deadline, on=on) - progress_pct > settings.GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT
    ):
        return Level.YELLOW
    if workdays_between(on, deadline) <= settings.GOVCENTER_DEADLINE_NEAR_WORKDAYS:
        return Level.BLUE
    return Level.NONE
