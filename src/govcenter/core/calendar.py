"""China's working calendar: statutory holidays and 调休 make-up workdays.

Where a day's status comes from, first match wins:

1. a :class:`~govcenter.core.models.CalendarDay` row (seeded from the ``chinesecalendar``
   package with ``source=package``, or entered by an administrator with ``source=admin``);
2. for a year that has **no** CalendarDay rows at all, the ``chinesecalendar`` package
   itself when it covers that year — so a fresh, unseeded database already answers
   2025-10-11 (a 调休 Saturday) as a workday;
3. otherwise Monday–Friday are workdays, Saturday and Sunday are not.

The override table is read once per process and cached; edits anywhere invalidate it
(post_save/post_delete bump a version in the shared Django cache, which every process
checks at most once per :data:`VERSION_CHECK_SECONDS`, and the editing process drops its
copy at once). Dates are ``datetime.date``; a ``datetime`` is taken as its Asia/Shanghai
local date.

Counting rule for :func:`add_workdays`: the date N working days after ``d``, ``d`` itself
not counted (``add_workdays(Friday, 1)`` is the next working Monday); ``n = 0`` returns
``d``; negative ``n`` counts backwards. :func:`workdays_between` counts working days in the
half-open interval ``(a, b]`` (backwards: minus those in ``[b, a)``), so
``workdays_between(d, add_workdays(d, n)) == n``.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import itertools
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import Holiday
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext as _

from . import audit
from .models import CalendarDay

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
VERSION_CHECK_SECONDS = 1.0
_VERSION_KEY = "govcenter:calendar:version"

# The package's English holiday names → the Chinese names used in the table and UI.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    Holiday.new_years_day.value: "元旦",
    Holiday.spring_festival.value: "春节",
    Holiday.tomb_sweeping_day.value: "清明",
    Holiday.labour_day.value: "劳动节",
    Holiday.dragon_boat_festival.value: "端午",
    Holiday.mid_autumn_festival.value: "中秋",
    Holiday.national_day.value: "国庆",
    Holiday.anti_fascist_70th_day.value: "抗战胜利70周年纪念日",
}

WORKDAY_KINDS = {CalendarDay.Kind.ADJUSTED_WORKDAY, CalendarDay.Kind.WORKDAY}


def kind_is_workday(kind: str) -> bool:
    """Whether a CalendarDay kind is a working day (holiday / rest day are not)."""
    return kind in WORKDAY_KINDS


def as_local_date(value: dt.date | dt.datetime) -> dt.date:
    """A date as is; a datetime as its Asia/Shanghai date (naive datetimes are taken as local)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI)
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


# ---------------------------------------------------------------------------------------
# The package
# ---------------------------------------------------------------------------------------


def package_years() -> range:
    """The years the installed ``chinesecalendar`` covers."""
    years = [d.year for d in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def package_status(day: dt.date) -> bool | None:
    """The package's answer for ``day``: True/False, or None when its year is not covered."""
    if day.year not in package_years():
        return None
    if day in chinese_calendar.holidays:
        return False
    if day in chinese_calendar.workdays:
        return True
    return day.weekday() < 5


@dataclass(frozen=True)
class PackageDay:
    date: dt.date
    is_workday: bool
    kind: str
    name: str


def package_days(years=None) -> list[PackageDay]:
    """The package's holidays and 调休 workdays, optionally only for ``years``."""
    wanted = set(years) if years is not None else None
    days = []
    for day, english in chinese_calendar.holidays.items():
        if wanted is None or day.year in wanted:
            days.append(
                PackageDay(day, False, CalendarDay.Kind.HOLIDAY, HOLIDAY_NAMES_ZH.get(english, english))
            )
    for day, english in chinese_calendar.workdays.items():
        if wanted is None or day.year in wanted:
            name = HOLIDAY_NAMES_ZH.get(english, english)
            days.append(PackageDay(day, True, CalendarDay.Kind.ADJUSTED_WORKDAY, f"{name}调休"))
    return sorted(days, key=lambda d: d.date)


# ---------------------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------------------


@transaction.atomic
def seed_calendar(*, years=None) -> dict[str, int]:
    """Copy the package's holidays and 调休 workdays into CalendarDay (source=package).

    Never overwrites an administrator's row; package rows whose data changed (a newer
    package) are updated. Idempotent. Returns ``{"created", "updated", "unchanged",
    "kept_admin"}`` counts; a change is audited as one ``calendar.seed`` entry.
    """
    days = package_days(years)
    existing = {row.date: row for row in CalendarDay.objects.filter(date__in=[d.date for d in days])}
    counts = {"created": 0, "updated": 0, "unchanged": 0, "kept_admin": 0}
    to_create, to_update = [], []
    for day in days:
        row = existing.get(day.date)
        if row is None:
            to_create.append(
                CalendarDay(
                    date=day.date,
                    is_workday=day.is_workday,
                    kind=day.kind,
                    name=day.name,
                    source=CalendarDay.Source.PACKAGE,
                )
            )
        elif row.source == CalendarDay.Source.ADMIN:
            counts["kept_admin"] += 1
        elif (row.is_workday, row.kind, row.name) != (day.is_workday, day.kind, day.name):
            row.is_workday, row.kind, row.name = day.is_workday, day.kind, day.name
            to_update.append(row)
        else:
            counts["unchanged"] += 1
    if to_create:
        CalendarDay.objects.bulk_create(to_create)
    if to_update:
        CalendarDay.objects.bulk_update(to_update, ["is_workday", "kind", "name", "updated_at"])
    counts["created"], counts["updated"] = len(to_create), len(to_update)
    if to_create or to_update:
        audit.record(
            action="calendar.seed",
            object_type="core.calendarday",
            changes={
                "created": counts["created"],
                "updated": counts["updated"],
                "years": sorted({d.date.year for d in to_create + to_update}),
                "package": f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip(),
            },
        )
        # Bulk writes send no signals: drop our copy now, tell the others on commit.
        _drop_local_copy()
        transaction.on_commit(invalidate_cache)
    return counts


@transaction.atomic
def calendar_day_save(*, date: dt.date, kind: str, name: str = "", user=None) -> CalendarDay:
    """Create or replace the override for ``date`` as an administrator's row (audited)."""
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise TypeError("date must be a datetime.date")
    row = CalendarDay.objects.select_for_update().filter(date=date).first()
    before = audit.snapshot(row, ["date", "is_workday", "kind", "name", "source"]) if row else {}
    if row is None:
        row = CalendarDay(date=date)
    row.kind = kind
    row.is_workday = kind_is_workday(kind)
    row.name = name.strip()
    row.source = CalendarDay.Source.ADMIN
    row.updated_by = user if getattr(user, "pk", None) else None
    row.full_clean()
    row.save()
    after = audit.snapshot(row, ["date", "is_workday", "kind", "name", "source"])
    audit.record(
        action="calendar.update" if before else "calendar.create",
        obj=row,
        changes=audit.diff(before, after) if before else {"before": {}, "after": after},
    )
    return row


@transaction.atomic
def calendar_day_delete(*, day: CalendarDay) -> None:
    """Remove an override (the day then follows the package/weekday rules; audited)."""
    before = audit.snapshot(day, ["date", "is_workday", "kind", "name", "source"])
    pk = day.pk
    day.delete()
    audit.record(
        action="calendar.delete",
        object_type="core.calendarday",
        object_id=pk,
        object_repr=str(before["date"]),
        changes={"before": before, "after": {}},
    )


# ---------------------------------------------------------------------------------------
# The per-process cache
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    version: str
    overrides: dict[dt.date, bool]
    years: frozenset[int]  # years with any row (these never fall back to the package)
    holiday_years: frozenset[int]  # years with at least one holiday row
    holidays: frozenset[dt.date] = frozenset()  # rows of kind "holiday" (statutory holidays)
    # The days whose status differs from the weekday rule (ordinals, sorted) and the running
    # sum of those differences (+1 a weekend workday, -1 a weekday off): counting and stepping
    # over any span is then arithmetic plus a bisect (see :func:`_workdays_upto`).
    exception_ordinals: tuple[int, ...] = ()
    exception_sums: tuple[int, ...] = ()
    statutory: tuple[dt.date, ...] = ()  # every statutory holiday (table and package), sorted


def _exceptions(
    overrides: dict[dt.date, bool], years: frozenset[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The table's and (for years without rows) the package's days that break the weekday rule."""
    deltas: dict[int, int] = {}
    for day, workday in overrides.items():
        if workday != (day.weekday() < 5):
            deltas[day.toordinal()] = 1 if workday else -1
    for day in chinese_calendar.workdays:
        if day.year not in years and day.weekday() >= 5 and day not in chinese_calendar.holidays:
            deltas[day.toordinal()] = 1
    for day in chinese_calendar.holidays:  # a holiday wins over a workday entry (package_status)
        if day.year not in years and day.weekday() < 5:
            deltas[day.toordinal()] = -1
    ordinals = tuple(sorted(deltas))
    return ordinals, tuple(itertools.accumulate(deltas[o] for o in ordinals))


_lock = threading.Lock()
_table: _Table | None = None
_checked_at = 0.0


def _shared_version() -> str:
    from django.core.cache import cache

    version = cache.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(_VERSION_KEY) or ""
    return version


def invalidate_cache() -> None:
    """Drop this process's copy and tell every other process to reload."""
    global _table
    from django.core.cache import cache

    cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    _table = None


def _load() -> _Table:
    global _table, _checked_at
    table = _table
    now = time.monotonic()
    if table is not None and now - _checked_at < VERSION_CHECK_SECONDS:
        return table
    version = _shared_version()
    if table is not None and table.version == version:
        _checked_at = now
        return table
    with _lock:
        rows = list(CalendarDay.objects.values_list("date", "is_workday", "kind"))
        if transaction.get_connection().in_atomic_block:
            # Rows read inside a transaction may yet be rolled back (no hook tells us): a
            # private version makes the next check, at most a second away, reload.
            version = f"uncommitted-{uuid.uuid4().hex}"
        overrides = {d: w for d, w, _k in rows}
        years = frozenset(d.year for d, _w, _k in rows)
        ordinals, sums = _exceptions(overrides, years)
        table = _Table(
            version=version,
            overrides=overrides,
            years=years,
            holiday_years=frozenset(d.year for d, _w, k in rows if k == CalendarDay.Kind.HOLIDAY),
            holidays=frozenset(d for d, _w, k in rows if k == CalendarDay.Kind.HOLIDAY),
            exception_ordinals=ordinals,
            exception_sums=sums,
        )
        table = dataclasses.replace(table, statutory=_statutory_days(table))
        _table, _checked_at = table, now
    return table


def _drop_local_copy() -> None:
    global _table
    _table = None


def _on_change(sender, **kwargs) -> None:
    _drop_local_copy()  # this process sees its own edit at once, even inside the transaction
    transaction.on_commit(invalidate_cache)


post_save.connect(_on_change, sender=CalendarDay, dispatch_uid="calendar-cache-save")
post_delete.connect(_on_change, sender=CalendarDay, dispatch_uid="calendar-cache-delete")


# ---------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------


def _status(day: dt.date, table: _Table) -> bool:
    found = table.overrides.get(day)
    if found is not None:
        return found
    if day.year not in table.years:
        package = package_status(day)
        if package is not None:
            return package
    return day.weekday() < 5


def is_workday(day: dt.date | dt.datetime) -> bool:
    """Whether ``day`` is a working day in mainland China (see the module docstring)."""
    return _status(as_local_date(day), _load())


def _workdays_upto(ordinal: int, table: _Table) -> int:
    """Working days from 0001-01-01 (a Monday, ordinal 1) to the day ``ordinal``, both included."""
    weeks, rest = divmod(ordinal, 7)
    position = bisect.bisect_right(table.exception_ordinals, ordinal)
    return weeks * 5 + min(rest, 5) + (table.exception_sums[position - 1] if position else 0)


_FIRST, _LAST = dt.date.min.toordinal(), dt.date.max.toordinal()


def add_workdays(day: dt.date | dt.datetime, n: int) -> dt.date:
    """The date ``n`` working days after ``day`` (``day`` not counted; negative ``n`` goes back)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("n must be an integer")
    start = as_local_date(day)
    if n == 0:
        return start
    table = _load()
    origin = start.toordinal()
    if n > 0:
        # The first day x after ``day`` with n working days in (day, x]: a bisection.
        wanted = _workdays_upto(origin, table) + n
        low, high = origin + 1, _LAST
        if _workdays_upto(high, table) < wanted:
            raise ValueError("date out of range")
        while low < high:
            middle = (low + high) // 2
            if _workdays_upto(middle, table) >= wanted:
                high = middle
            else:
                low = middle + 1
    else:
        # The last day x before ``day`` with -n working days in [x, day).
        wanted = _workdays_upto(origin - 1, table) + n
        low, high = _FIRST, origin - 1
        if high < low or _workdays_upto(low - 1, table) > wanted:
            raise ValueError("date out of range")
        while low < high:
            middle = (low + high + 1) // 2
            if _workdays_upto(middle - 1, table) <= wanted:
                low = middle
            else:
                high = middle - 1
    return dt.date.fromordinal(low)


def next_workday(day: dt.date | dt.datetime) -> dt.date:
    """The first working day strictly after ``day`` (= ``add_workdays(day, 1)``)."""
    return add_workdays(day, 1)


def workdays_between(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> int:
    """Working days passed going from ``start`` to ``end``: ``start`` not counted, ``end`` counted.

    Forwards that is the days in ``(start, end]``; backwards (``end`` before ``start``) minus
    the days in ``[end, start)``, so ``workdays_between(d, add_workdays(d, n)) == n`` for any n.
    """
    a, b = as_local_date(start).toordinal(), as_local_date(end).toordinal()
    table = _load()
    if b >= a:
        return _workdays_upto(b, table) - _workdays_upto(a, table)
    return -(_workdays_upto(a - 1, table) - _workdays_upto(b - 1, table))


def _statutory(day: dt.date, table: _Table) -> bool:
    if day in table.overrides:
        return day in table.holidays
    if day.year not in table.years and day.year in _package_year_range():
        return day in chinese_calendar.holidays
    return False


@functools.cache
def _package_year_range() -> range:
    return package_years()  # the installed package does not change while the process runs


def is_statutory_holiday(day: dt.date | dt.datetime) -> bool:
    """Whether ``day`` is a statutory holiday (法定节假日, e.g. 春节, 国庆).

    Unlike :func:`is_workday`, an ordinary Saturday or Sunday is *not* a statutory holiday;
    the weekend days inside a holiday break are (the State Council's notice lists them, and
    so do the package and the table). A 调休 make-up workday is not. Sources as for
    :func:`is_workday`: a table row decides (only kind ``holiday`` counts; ``rest_day`` does
    not); a year with no rows falls back to the package; otherwise no day is a holiday.
    """
    return _statutory(as_local_date(day), _load())


def statutory_holidays_between(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime
) -> frozenset[dt.date]:
    """The statutory holidays among the local dates from ``start`` to ``end``, both included
    (what a tariff plan's holiday rule applies to; weekends are not included)."""
    first, last = as_local_date(start), as_local_date(end)
    days = _load().statutory
    return frozenset(days[bisect.bisect_left(days, first) : bisect.bisect_right(days, last)])


def _statutory_days(table: _Table) -> tuple[dt.date, ...]:
    """The days :func:`_statutory` answers True for, sorted (a few hundred: the table's holiday
    rows and, for the package's years without rows, the package's holidays)."""
    package_years = _package_year_range()
    candidates = set(table.holidays) | {
        d for d in chinese_calendar.holidays if d.year in package_years and d.year not in table.years
    }
    return tuple(sorted(d for d in candidates if _statutory(d, table)))


def last_covered_year() -> int | None:
    """The last year with statutory holidays in the table (None when the table has none)."""
    years = _load().holiday_years
    return max(years) if years else None


def calendar_warnings(today: dt.date | dt.datetime | None = None) -> list[str]:
    """Problems an administrator must fix: this year's calendar missing; from 1 December,
    next year's calendar missing (no holiday rows for it in the table)."""
    from django.utils import timezone

    today = as_local_date(today or timezone.now())
    table = _load()
    covered = package_years()
    warnings = []
    for year, due in ((today.year, True), (today.year + 1, today >= dt.date(today.year, 12, 1))):
        if not due or year in table.holiday_years:
            continue
        if year in covered:
            hint = _("已安装的 chinesecalendar 包含该年数据，请运行 govcenter calendar seed")
        else:
            hint = _("请在“工作日历”中录入国务院办公厅公布的放假安排")
        warnings.append(_("%(year)s 年的法定节假日尚未录入工作日历：%(hint)s") % {"year": year, "hint": hint})
    return warnings


def overrides_in_month(year: int, month: int) -> list[CalendarDay]:
    """The table's rows of one month, in date order (for the admin view)."""
    return list(
        CalendarDay.objects.filter(Q(date__year=year) & Q(date__month=month))
        .select_related("updated_by")
        .order_by("date")
    )


# ---------------------------------------------------------------------------------------
# The daily check
# ---------------------------------------------------------------------------------------

from huey import crontab  # noqa: E402  (task wiring kept beside the rule it checks)
from huey.contrib.djhuey import db_periodic_task  # noqa: E402


def check_calendar(today: dt.date | None = None) -> list[str]:
    """Log each calendar warning at WARNING (the daily task's body; returns the warnings)."""
    found = calendar_warnings(today)
    for message in found:
        logger.warning("working calendar incomplete: %s", message, extra={"event": "calendar.missing_year"})
    return found


# Daily at 00:30 UTC (08:30 in Beijing; Huey's crontab runs on UTC by default).
@db_periodic_task(crontab(hour="0", minute="30"), name="core.calendar_check")
def calendar_check_task() -> list[str]:
    return check_calendar()
