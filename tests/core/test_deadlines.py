"""Deadlines on China's working calendar (core/deadlines.py): due dates across the 2026 Spring
Festival and National Day with their 调休 make-up workdays, hand-set deadlines on days off, and
the warning colours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govcenter.core import calendar as workcal
from govcenter.core import deadlines
from govcenter.core.deadlines import Level

D = dt.date


@pytest.fixture(autouse=True)
def seeded(db):
    workcal.invalidate_cache()
    workcal.seed_calendar()
    yield
    workcal.invalidate_cache()


def test_workdays_across_the_spring_festival_count_the_make_up_saturdays():
    # 2026-02-13 Fri; 02-14 Sat is a 调休 workday; 02-15…23 off; 02-28 Sat works again.
    assert deadlines.due_after(D(2026, 2, 13), workdays=1) == D(2026, 2, 14)
    assert deadlines.due_after(D(2026, 2, 13), workdays=2) == D(2026, 2, 24)
    assert deadlines.due_after(D(2026, 2, 24), workdays=3) == D(2026, 2, 27)
    assert deadlines.due_after(D(2026, 2, 24), workdays=4) == D(2026, 2, 28)  # the make-up Saturday
    assert deadlines.due_after(D(2026, 2, 24), workdays=5) == D(2026, 3, 2)


def test_workdays_across_national_day_and_mid_autumn():
    # 09-20 Sun works; 09-25…27 Mid-autumn; 10-01…07 National Day; 10-10 Sat works.
    assert deadlines.due_after(D(2026, 9, 19), workdays=1) == D(2026, 9, 20)
    assert deadlines.due_after(D(2026, 9, 24), workdays=1) == D(2026, 9, 28)
    assert deadlines.due_after(D(2026, 9, 30), workdays=1) == D(2026, 10, 8)
    assert deadlines.due_after(D(2026, 9, 30), workdays=3) == D(2026, 10, 10)


def test_month_deadlines_on_a_day_off_move_to_the_next_working_day():
    # "reply due 3 months after assignment": 07-01 + 3 months = 10-01, National Day → 10-08.
    assert deadlines.due_after(D(2026, 7, 1), months=3) == D(2026, 10, 8)
    assert deadlines.due_after(D(2026, 7, 9), months=3) == D(2026, 10, 9)
    assert deadlines.due_after(D(2025, 11, 30), months=3) == D(2026, 2, 28)  # clamped; a make-up Saturday
    assert deadlines.due_after(D(2026, 3, 31), months=2) == D(2026, 6, 1)  # clamped to Sunday 05-31
    assert deadlines.add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    with pytest.raises(TypeError):
        deadlines.due_after(D(2026, 7, 1), workdays=3, months=1)
    with pytest.raises(ValueError):
        deadlines.due_after(D(2026, 7, 1), workdays=0)


@given(st.dates(min_value=D(2025, 1, 1), max_value=D(2026, 12, 31)), st.integers(1, 40))
def test_a_workday_deadline_is_always_a_working_day_n_working_days_on(start, n):
    due = deadlines.due_after(start, workdays=n)
    assert workcal.is_workday(due)
    assert workcal.workdays_between(start, due) == n
    assert deadlines.check_deadline(due) == due


def test_a_hand_set_deadline_on_a_day_off_is_refused_naming_the_next_working_day():
    with pytest.raises(deadlines.DeadlineError) as info:
        deadlines.check_deadline(D(2026, 10, 3))
    assert info.value.suggestion == D(2026, 10, 8)
    assert "2026-10-08" in str(info.value)
    assert deadlines.check_deadline(D(2026, 10, 10)) == D(2026, 10, 10)  # a make-up Saturday works
    with pytest.raises(deadlines.DeadlineError):
        deadlines.check_deadline(D(2026, 10, 11))  # an ordinary Sunday


def test_colours(settings):
    settings.GOVCENTER_DEADLINE_NEAR_WORKDAYS = 3
    settings.GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT = 20
    due = D(2026, 10, 13)  # Tue; working days before it: 10-08, 10-09, 10-10 (Sat), 10-12
    assert deadlines.warning(due, on=D(2026, 9, 28)) is Level.NONE
    assert deadlines.workdays_left(due, on=D(2026, 9, 30)) == 5  # 10-08, 09, 10 (Sat), 12, 13
    assert deadlines.warning(due, on=D(2026, 10, 8)) is Level.NONE  # 4 left
    assert deadlines.warning(due, on=D(2026, 10, 9)) is Level.BLUE  # 3 left
    assert deadlines.warning(due, on=due) is Level.BLUE  # due by the end of the day
    assert deadlines.warning(due, on=D(2026, 10, 14)) is Level.RED
    assert deadlines.warning(None, on=due) is Level.NONE
    # Behind schedule: started 09-14, 10 of 17 working days used (59 %), progress 30 % → yellow.
    started = D(2026, 9, 14)
    assert round(deadlines.used_pct(started, due, on=D(2026, 9, 28))) == 59
    assert deadlines.warning(due, on=D(2026, 9, 28), started=started, progress_pct=30) is Level.YELLOW
    assert deadlines.warning(due, on=D(2026, 9, 28), started=started, progress_pct=40) is Level.NONE
    assert deadlines.warning(due, on=D(2026, 9, 28), behind=True) is Level.YELLOW
    assert deadlines.warning(due, on=D(2026, 10, 14), behind=True) is Level.RED  # the worst wins
    with pytest.raises(ValueError):
        deadlines.warning(due, on=D(2026, 9, 28), started=started, progress_pct=130)
    assert [lv.label for lv in Level] == ["正常", "临期", "滞后", "逾期"]
