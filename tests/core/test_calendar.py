"""China's working calendar: seeding, lookups, counting, overrides, cache, CLI, admin UI, task."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import chinese_calendar
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from govcenter.core import calendar as workcal
from govcenter.core.models import AuditEntry, CalendarDay
from tests.factories import RoleFactory, UserFactory

D = dt.date
GOVCENTER = Path(sys.executable).with_name("govcenter")


@pytest.fixture(autouse=True)
def fresh_cache():
    workcal.invalidate_cache()
    yield
    workcal.invalidate_cache()


@pytest.fixture
def seeded(db):
    return workcal.seed_calendar()


def package_rule(day: dt.date) -> bool:
    if day in chinese_calendar.holidays:
        return False
    if day in chinese_calendar.workdays:
        return True
    return day.weekday() < 5


def every_day(year: int):
    day = D(year, 1, 1)
    while day.year == year:
        yield day
        day += dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------


def test_seed_copies_holidays_and_adjusted_workdays(db):
    counts = workcal.seed_calendar()
    total = len(chinese_calendar.holidays) + len(chinese_calendar.workdays)
    assert counts == {"created": total, "updated": 0, "unchanged": 0, "kept_admin": 0}
    national_day = CalendarDay.objects.get(date=D(2025, 10, 1))
    assert (national_day.kind, national_day.is_workday, national_day.name, national_day.source) == (
        "holiday",
        False,
        "国庆",
        "package",
    )
    makeup = CalendarDay.objects.get(date=D(2025, 9, 28))
    assert (makeup.kind, makeup.is_workday, makeup.name) == ("adjusted_workday", True, "国庆调休")
    names = set(CalendarDay.objects.filter(kind="holiday").values_list("name", flat=True))
    assert {"元旦", "春节", "清明", "劳动节", "端午", "中秋", "国庆"} <= names
    assert AuditEntry.objects.filter(action="calendar.seed").count() == 1


def test_seed_is_idempotent_and_never_overwrites_an_administrator(db):
    workcal.seed_calendar(years=[2025])
    workcal.calendar_day_save(date=D(2025, 10, 8), kind="adjusted_workday", name="应急值守")
    counts = workcal.seed_calendar(years=[2025])
    assert counts["created"] == 0 and counts["updated"] == 0 and counts["kept_admin"] == 1
    row = CalendarDay.objects.get(date=D(2025, 10, 8))
    assert (row.source, row.kind, row.is_workday, row.name) == ("admin", "adjusted_workday", True, "应急值守")
    assert workcal.is_workday(D(2025, 10, 8)) is True
    assert AuditEntry.objects.filter(action="calendar.seed").count() == 1  # no change, no entry


def test_seed_repairs_package_rows_that_drifted(db):
    workcal.seed_calendar(years=[2024])
    CalendarDay.objects.filter(date=D(2024, 10, 1)).update(is_workday=True, kind="workday")
    counts = workcal.seed_calendar(years=[2024])
    assert counts["updated"] == 1
    assert CalendarDay.objects.get(date=D(2024, 10, 1)).is_workday is False


# ---------------------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------------------


def test_known_days(seeded):
    assert workcal.is_workday(D(2025, 10, 1)) is False  # National Day
    assert workcal.is_workday(D(2025, 9, 28)) is True  # Sunday, 调休 workday
    assert workcal.is_workday(D(2025, 10, 11)) is True  # Saturday, 调休 workday
    assert workcal.is_workday(D(2025, 10, 13)) is True  # plain Monday
    assert workcal.is_workday(D(2025, 10, 12)) is False  # plain Sunday


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_whole_years_match_the_package(seeded, year):
    if year not in workcal.package_years():
        pytest.skip(f"the installed chinesecalendar does not cover {year}")
    for day in every_day(year):
        assert workcal.is_workday(day) is package_rule(day), day


def test_unseeded_database_falls_back_to_the_package(db):
    assert CalendarDay.objects.count() == 0
    assert workcal.is_workday(D(2025, 10, 11)) is True
    assert workcal.is_workday(D(2025, 10, 1)) is False
    assert workcal.last_covered_year() is None


def test_a_year_with_rows_follows_the_table_and_weekdays_only(db):
    # One admin row in 2025 means 2025 is maintained in the table: no package fallback.
    workcal.calendar_day_save(date=D(2025, 3, 3), kind="holiday", name="测试")
    assert workcal.is_workday(D(2025, 3, 3)) is False
    assert workcal.is_workday(D(2025, 10, 1)) is True  # a Wednesday, not in the table
    assert workcal.is_workday(D(2026, 1, 1)) is False  # 2026 still falls back to the package


def test_beyond_the_package_weekdays_rule(db):
    beyond = max(workcal.package_years()) + 3
    monday = D(beyond, 1, 1) + dt.timedelta(days=(7 - D(beyond, 1, 1).weekday()) % 7)
    assert workcal.is_workday(monday) is True
    assert workcal.is_workday(monday + dt.timedelta(days=5)) is False


def test_datetimes_use_the_shanghai_date(seeded):
    # 2025-09-30 16:30 UTC is 2025-10-01 00:30 in Beijing: a holiday.
    assert workcal.is_workday(dt.datetime(2025, 9, 30, 16, 30, tzinfo=dt.UTC)) is False
    assert workcal.is_workday(dt.datetime(2025, 9, 30, 15, 30, tzinfo=dt.UTC)) is True
    assert workcal.is_workday(dt.datetime(2025, 10, 1, 9, 0)) is False  # naive = local
    with pytest.raises(TypeError):
        workcal.is_workday("2025-10-01")


# ---------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------


def test_add_workdays_across_the_golden_week(seeded):
    assert workcal.add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert workcal.add_workdays(D(2025, 9, 26), 1) == D(2025, 9, 28)  # Friday → 调休 Sunday
    assert workcal.add_workdays(D(2025, 9, 26), 4) == D(2025, 10, 9)  # Sun, Mon, Tue, then Oct 9
    assert workcal.add_workdays(D(2025, 10, 3), 2) == D(2025, 10, 10)  # from inside the holiday
    assert workcal.add_workdays(D(2025, 10, 9), 0) == D(2025, 10, 9)
    assert workcal.add_workdays(D(2025, 10, 4), 0) == D(2025, 10, 4)
    assert workcal.add_workdays(D(2025, 10, 9), -1) == D(2025, 9, 30)
    assert workcal.next_workday(D(2025, 9, 30)) == D(2025, 10, 9)
    assert workcal.workdays_between(D(2025, 9, 30), D(2025, 10, 9)) == 1
    assert workcal.workdays_between(D(2025, 10, 1), D(2025, 10, 8)) == 0
    assert workcal.workdays_between(D(2025, 10, 9), D(2025, 9, 30)) == -1
    assert workcal.workdays_between(D(2025, 10, 8), D(2025, 9, 30)) == -1  # Sep 30 counted, Oct 8 not
    assert workcal.workdays_between(D(2025, 10, 9), D(2025, 10, 9)) == 0
    with pytest.raises(TypeError):
        workcal.add_workdays(D(2025, 1, 1), 1.5)
    with pytest.raises(ValueError):
        workcal.add_workdays(D(9999, 12, 30), 5)


def test_add_workdays_and_workdays_between_agree(seeded):
    @settings(max_examples=300, deadline=None)
    @given(st.dates(min_value=D(2023, 1, 1), max_value=D(2026, 11, 30)), st.integers(-40, 40))
    def check(day, n):
        result = workcal.add_workdays(day, n)
        assert workcal.workdays_between(day, result) == n
        if n:
            assert workcal.is_workday(result)
            assert (result > day) == (n > 0)
            # No working day was skipped: the previous one towards `day` is exactly n-1 away.
            assert workcal.workdays_between(day, result - dt.timedelta(days=1 if n > 0 else -1)) == n - (
                1 if n > 0 else -1
            )

    check()


# ---------------------------------------------------------------------------------------
# Overrides, the cache and its invalidation
# ---------------------------------------------------------------------------------------


def test_admin_override_beats_the_package_and_is_audited(seeded):
    admin = UserFactory()
    assert workcal.is_workday(D(2025, 10, 8)) is False
    row = workcal.calendar_day_save(date=D(2025, 10, 8), kind="adjusted_workday", name="加班", user=admin)
    assert workcal.is_workday(D(2025, 10, 8)) is True  # no wait: this process dropped its copy
    assert (row.source, row.updated_by) == ("admin", admin)
    entry = AuditEntry.objects.filter(action="calendar.update").get()
    assert (
        entry.changes["before"]["kind"] == "holiday" and entry.changes["after"]["kind"] == "adjusted_workday"
    )
    pk = row.pk
    workcal.calendar_day_delete(day=row)
    assert workcal.is_workday(D(2025, 10, 8)) is True  # a Wednesday now, the year has rows
    assert AuditEntry.objects.filter(action="calendar.delete", object_id=str(pk)).exists()


def test_lookups_are_served_from_the_process_cache(seeded, django_assert_num_queries):
    workcal.is_workday(D(2025, 1, 1))
    with django_assert_num_queries(0):
        for day in every_day(2025):
            workcal.is_workday(day)
        workcal.add_workdays(D(2025, 1, 1), 200)


def test_a_plain_model_save_invalidates_the_cache(seeded):
    assert workcal.is_workday(D(2025, 11, 3)) is True
    CalendarDay.objects.create(date=D(2025, 11, 3), is_workday=False, kind="rest_day")
    assert workcal.is_workday(D(2025, 11, 3)) is False
    CalendarDay.objects.filter(date=D(2025, 11, 3)).delete()
    assert workcal.is_workday(D(2025, 11, 3)) is True


@pytest.mark.django_db(transaction=True)
def test_other_processes_see_a_change_through_the_shared_version(monkeypatch):
    workcal.seed_calendar(years=[2025])
    monkeypatch.setattr(workcal, "VERSION_CHECK_SECONDS", 0.0)
    assert workcal.is_workday(D(2025, 11, 4)) is True
    # Another process wrote a row (no signal reaches us): the cached answer stands…
    CalendarDay.objects.bulk_create([CalendarDay(date=D(2025, 11, 4), is_workday=False, kind="rest_day")])
    assert workcal.is_workday(D(2025, 11, 4)) is True
    # …until that process bumps the shared version, as its post_save/on_commit does.
    cache.set(workcal._VERSION_KEY, "bumped-elsewhere", timeout=None)
    assert workcal.is_workday(D(2025, 11, 4)) is False


# ---------------------------------------------------------------------------------------
# Coverage warnings and the daily task
# ---------------------------------------------------------------------------------------


def test_last_covered_year_and_warnings(db):
    assert workcal.calendar_warnings(D(2025, 6, 1))  # nothing at all: this year is missing
    workcal.seed_calendar(years=[2025, 2026])
    assert workcal.last_covered_year() == 2026
    assert workcal.calendar_warnings(D(2025, 12, 5)) == []
    assert workcal.calendar_warnings(D(2026, 11, 30)) == []
    warnings = workcal.calendar_warnings(D(2026, 12, 1))
    assert len(warnings) == 1 and "2027" in warnings[0]


def test_warning_suggests_seeding_when_the_package_has_the_year(db):
    workcal.seed_calendar(years=[2025])
    (warning,) = workcal.calendar_warnings(D(2025, 12, 2))
    assert "2026" in warning and "calendar seed" in warning


def test_daily_task_logs_the_warning(db, caplog):
    workcal.seed_calendar(years=[2025])
    with caplog.at_level(logging.WARNING, logger="govcenter.core.calendar"):
        assert workcal.check_calendar(D(2025, 12, 3))
    assert any("2026" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="govcenter.core.calendar"):
        assert workcal.check_calendar(D(2025, 11, 3)) == []
    assert not caplog.records
    # Registered with Huey as a periodic task that runs the same check.
    assert workcal.calendar_check_task.call_local() == workcal.calendar_warnings()
    from huey.contrib.djhuey import HUEY

    task_class = workcal.calendar_check_task.task_class
    assert task_class in HUEY._registry._periodic_tasks
    assert task_class().validate_datetime(dt.datetime(2026, 1, 5, 0, 30))  # daily, 00:30 UTC
    assert not task_class().validate_datetime(dt.datetime(2026, 1, 5, 1, 30))


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("calendar", *args, stdout=out)
    return out.getvalue().strip()


def test_cli_queries(seeded):
    assert run("is-workday", "2025-10-01") == "false"
    assert run("is-workday", "2025-09-28") == "true"
    assert run("add-workdays", "2025-09-30", "1") == "2025-10-09"
    assert run("add-workdays", "2025-10-09", "-1") == "2025-09-30"


def test_cli_seed_and_check(db):
    assert run("seed", "--year", "2025").startswith("created ")
    assert "created 0" in run("seed", "--year", "2025")
    with pytest.raises(SystemExit) as exc:
        run("check", "--today", "2025-12-05")
    assert exc.value.code == 1
    assert run("check", "--today", "2025-06-01") == "last covered year: 2025"


@pytest.mark.parametrize(
    "args",
    [
        ("is-workday", "2025-13-01"),
        ("is-workday", "20251001"),
        ("add-workdays", "2025-10-01", "x"),
        ("add-workdays", "2025-10-01", "1.5"),
        ("add-workdays", "9999-12-30", "9"),
        ("seed", "--year", "1999"),
        ("check", "--today", "soon"),
    ],
)
def test_cli_bad_input_is_a_usage_error(db, args):
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert exc.value.returncode == 2


def test_cli_on_a_fresh_database_via_the_console_script(tmp_path):
    env = {**os.environ, "GOVCENTER_DEBUG": "1", "GOVCENTER_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("GOVCENTER_DATABASE_URL", None)

    def govcenter(*args):
        return subprocess.run([str(GOVCENTER), *args], env=env, capture_output=True, text=True, timeout=180)

    assert govcenter("migrate", "--no-input", "-v0").returncode == 0
    done = govcenter("calendar", "is-workday", "2025-10-11")  # unseeded: package fallback
    assert (done.returncode, done.stdout.strip()) == (0, "true")
    bad = govcenter("calendar", "add-workdays", "2025-10-01", "three")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "three" in bad.stderr
    missing = govcenter("calendar", "is-workday")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------
# The admin UI
# ---------------------------------------------------------------------------------------


@pytest.fixture
def calendar_admin(db):
    return UserFactory(role_set=[RoleFactory(perms=["core.manage_calendar"], scope_kind="all")])


def test_month_view_shows_the_grid(client, seeded, calendar_admin):
    client.force_login(calendar_admin)
    response = client.get(reverse("core:calendar"), {"year": 2025, "month": 10})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-date="2025-10-01" data-workday="false"' in html
    assert 'data-date="2025-10-11" data-workday="true"' in html
    assert "国庆" in html
    assert "<script>" not in html and "onclick" not in html
    assert client.get(reverse("core:calendar"), {"month": 13}).status_code == 404
    assert client.get(reverse("core:calendar_year"), {"year": 2025}).status_code == 200


def test_add_edit_delete_through_the_ui(client, seeded, calendar_admin):
    client.force_login(calendar_admin)
    url = reverse("core:calendar_day_edit")
    assert client.get(url, {"date": "2025-10-08"}).status_code == 200
    response = client.post(url, {"date": "2025-10-08", "kind": "adjusted_workday", "name": "值班"})
    assert response.status_code == 302
    row = CalendarDay.objects.get(date=D(2025, 10, 8))
    assert (row.kind, row.source, row.updated_by) == ("adjusted_workday", "admin", calendar_admin)
    assert workcal.is_workday(D(2025, 10, 8)) is True
    entry = AuditEntry.objects.filter(action="calendar.update").latest("seq")
    assert entry.user_id == calendar_admin.pk
    # A new day, then its deletion.
    client.post(url, {"date": "2027-02-10", "kind": "holiday", "name": "春节"})
    new = CalendarDay.objects.get(date=D(2027, 2, 10))
    assert AuditEntry.objects.filter(action="calendar.create", object_id=str(new.pk)).exists()
    delete_url = reverse("core:calendar_day_delete", args=[new.pk])
    assert client.get(delete_url).status_code == 200
    assert client.post(delete_url).status_code == 302
    assert not CalendarDay.objects.filter(date=D(2027, 2, 10)).exists()
    assert AuditEntry.objects.filter(action="calendar.delete", object_id=str(new.pk)).exists()


def test_invalid_form_writes_nothing(client, seeded, calendar_admin):
    client.force_login(calendar_admin)
    before = CalendarDay.objects.count()
    response = client.post(reverse("core:calendar_day_edit"), {"date": "2025-02-30", "kind": "holiday"})
    assert response.status_code == 200
    response = client.post(reverse("core:calendar_day_edit"), {"date": "2025-02-03", "kind": "party"})
    assert response.status_code == 200
    assert CalendarDay.objects.count() == before


def test_only_calendar_managers_get_in(client, seeded):
    plain = UserFactory(role_set=[RoleFactory(scope_kind="all")])
    row = CalendarDay.objects.first()
    urls = [
        reverse("core:calendar"),
        reverse("core:calendar_year"),
        reverse("core:calendar_day_edit"),
        reverse("core:calendar_day_delete", args=[row.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(plain)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[3]).status_code == 403
    assert CalendarDay.objects.filter(pk=row.pk).exists()


# ---------------------------------------------------------------------------------------
# Counting over any span: arithmetic + bisect, identical to walking day by day
# ---------------------------------------------------------------------------------------


def walk_between(a: dt.date, b: dt.date, status: dict) -> int:
    """The reference: step one day at a time (the definition in the module docstring)."""
    step = dt.timedelta(days=1 if b >= a else -1)
    count, current = 0, a
    while current != b:
        current += step
        count += status[current]
    return count if b >= a else -count


def walk_add(day: dt.date, n: int, status: dict) -> dt.date:
    step = dt.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        remaining -= status[day]
    return day


SPAN = st.dates(min_value=D(2024, 1, 1), max_value=D(2027, 12, 31))


def check_against_the_walk():
    # Each day's status asked once (is_workday is the day's definition), then walked.
    status = {day: workcal.is_workday(day) for y in range(2022, 2030) for day in every_day(y)}
    statutory = sorted(day for day in status if workcal.is_statutory_holiday(day))  # each day asked

    @settings(max_examples=150, deadline=None)
    @given(SPAN, SPAN, st.integers(-300, 300))
    def check(a, b, n):
        assert workcal.workdays_between(a, b) == walk_between(a, b, status)
        assert workcal.add_workdays(a, n) == walk_add(a, n, status)
        first, last = min(a, b), max(a, b)
        assert workcal.statutory_holidays_between(first, last) == {d for d in statutory if first <= d <= last}

    check()
    # The 调休 days themselves, as both ends: 2024 Spring Festival (Sun 2-4, Sat 2-18 worked),
    # National Day 2025 (Sun 9-28, Sat 10-11 worked), across the holiday blocks.
    ends = [D(2024, 2, 4), D(2024, 2, 9), D(2024, 2, 18), D(2025, 9, 28), D(2025, 10, 1), D(2025, 10, 11)]
    for a in ends:
        for b in ends + [D(2024, 1, 1), D(2027, 12, 31)]:
            assert workcal.workdays_between(a, b) == walk_between(a, b, status)
        for n in (-12, -7, -1, 1, 5, 7, 30):
            assert workcal.add_workdays(a, n) == walk_add(a, n, status)


def test_counting_matches_the_walk_from_the_package_alone(db):
    assert not CalendarDay.objects.exists()
    assert workcal.is_workday(D(2025, 10, 11)) and not workcal.is_workday(D(2025, 10, 1))
    check_against_the_walk()


def test_counting_matches_the_walk_with_the_table_and_admin_overrides(seeded):
    workcal.calendar_day_save(date=D(2025, 10, 8), kind="adjusted_workday", name="应急值守")  # weekday → work
    workcal.calendar_day_save(date=D(2025, 10, 11), kind="rest_day", name="改休")  # 调休 Saturday → off
    workcal.calendar_day_save(date=D(2024, 3, 2), kind="workday", name="加班")  # a Saturday → work
    workcal.calendar_day_save(date=D(2026, 5, 6), kind="holiday", name="临时休假")  # a Wednesday → off
    # 2027: beyond the package; administrator rows only (a weekday off, a Sunday worked).
    workcal.calendar_day_save(date=D(2027, 2, 10), kind="holiday", name="春节")
    workcal.calendar_day_save(date=D(2027, 2, 7), kind="adjusted_workday", name="春节调休")
    assert workcal.is_workday(D(2025, 10, 8)) and not workcal.is_workday(D(2025, 10, 11))
    check_against_the_walk()


def test_a_year_with_only_admin_rows_leaves_the_package_out(db):
    # One row for 2025 takes the whole year away from the package: its 调休 Saturday is a Saturday.
    workcal.calendar_day_save(date=D(2025, 3, 3), kind="holiday", name="测试")
    assert not workcal.is_workday(D(2025, 10, 11)) and workcal.is_workday(D(2025, 10, 1))
    check_against_the_walk()


def test_far_future_spans_are_counted_without_walking(seeded):
    # Walking this span took minutes. After 2026 there is no table row or package year: the
    # count is the weekdays (any 7 days in a row hold 5 of them).
    start, end = D(2026, 12, 31), D(9999, 12, 30)
    total = workcal.workdays_between(start, end)
    weeks, rest = divmod((end - start).days, 7)
    assert total == weeks * 5 + sum((start + dt.timedelta(days=i)).weekday() < 5 for i in range(1, rest + 1))
    assert workcal.workdays_between(end, D(2026, 12, 31)) == -total
    assert workcal.add_workdays(D(2026, 12, 31), total) == end  # 9999-12-30 is a Thursday
    assert workcal.workdays_between(D(1, 1, 1), end) > 0
    with pytest.raises(ValueError):
        workcal.add_workdays(end, 10)
    with pytest.raises(ValueError):
        workcal.add_workdays(D(1, 1, 3), -10)
