"""Permit coverage of a stay (pure): night windows across midnight, multi-day stays, validity edges."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from govcenter.parking.services.permits import covered_intervals, period_end, uncovered_intervals

SH = ZoneInfo("Asia/Shanghai")
NIGHT = {"hours_start": dt.time(19), "hours_end": dt.time(7)}
ALL_2026 = {"valid_from": dt.date(2026, 1, 1), "valid_to": dt.date(2026, 12, 31)}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH)


def test_a_night_stay_is_wholly_covered():
    assert covered_intervals(at(1, 20), at(2, 6), **NIGHT, **ALL_2026) == [(at(1, 20), at(2, 6))]


def test_evening_arrival_before_the_window_splits_at_19():
    parts = covered_intervals(at(1, 18), at(2, 8, 30), **NIGHT, **ALL_2026)
    assert parts == [(at(1, 19), at(2, 7))]
    assert uncovered_intervals(at(1, 18), at(2, 8, 30), parts) == [
        (at(1, 18), at(1, 19)),
        (at(2, 7), at(2, 8, 30)),
    ]


def test_early_morning_stay_belongs_to_the_previous_evening_window():
    assert covered_intervals(at(2, 5), at(2, 9), **NIGHT, **ALL_2026) == [(at(2, 5), at(2, 7))]


def test_a_daytime_stay_is_not_covered():
    assert covered_intervals(at(2, 8), at(2, 18), **NIGHT, **ALL_2026) == []


def test_a_three_day_stay_has_one_part_per_night():
    parts = covered_intervals(at(1, 12), at(4, 12), **NIGHT, **ALL_2026)
    assert parts == [(at(1, 19), at(2, 7)), (at(2, 19), at(3, 7)), (at(3, 19), at(4, 7))]
    gaps = uncovered_intervals(at(1, 12), at(4, 12), parts)
    assert gaps == [
        (at(1, 12), at(1, 19)),
        (at(2, 7), at(2, 19)),
        (at(3, 7), at(3, 19)),
        (at(4, 7), at(4, 12)),
    ]


def test_a_day_window_not_crossing_midnight():
    parts = covered_intervals(at(1, 6), at(2, 10), hours_start=dt.time(8), hours_end=dt.time(18), **ALL_2026)
    assert parts == [(at(1, 8), at(1, 18)), (at(2, 8), at(2, 10))]


def test_equal_start_and_end_is_all_day_and_merges_across_days():
    parts = covered_intervals(at(1, 6), at(3, 10), hours_start=dt.time(0), hours_end=dt.time(0), **ALL_2026)
    assert parts == [(at(1, 6), at(3, 10))]


def test_validity_clips_at_local_midnight_of_both_ends():
    valid = {"valid_from": dt.date(2026, 3, 1), "valid_to": dt.date(2026, 3, 31)}
    # The night of Feb 28 → Mar 1: only the part after 00:00 Mar 1 is in the validity.
    assert covered_intervals(at(28, 20, month=2), at(1, 6), **NIGHT, **valid) == [(at(1, 0), at(1, 6))]
    # The night of Mar 31 → Apr 1: only until 24:00 Mar 31.
    assert covered_intervals(at(31, 20), at(1, 6, month=4), **NIGHT, **valid) == [
        (at(31, 20), at(1, 0, month=4))
    ]


def test_utc_inputs_are_read_in_beijing_time():
    start = at(1, 20).astimezone(dt.UTC)
    end = at(2, 6).astimezone(dt.UTC)
    assert covered_intervals(start, end, **NIGHT, **ALL_2026) == [(at(1, 20), at(2, 6))]


def test_period_end_is_the_last_day_of_the_last_month():
    assert period_end(dt.date(2026, 11, 15), 1) == dt.date(2026, 11, 30)
    assert period_end(dt.date(2026, 11, 1), 3) == dt.date(2027, 1, 31)
    assert period_end(dt.date(2028, 2, 1), 1) == dt.date(2028, 2, 29)


_times = st.integers(min_value=0, max_value=23).map(lambda h: dt.time(h))


@settings(max_examples=300, deadline=None)
@given(
    start_min=st.integers(min_value=0, max_value=60 * 24 * 40),
    length_min=st.integers(min_value=1, max_value=60 * 24 * 5),
    h_start=_times,
    h_end=_times,
    from_day=st.integers(min_value=0, max_value=40),
    days=st.integers(min_value=0, max_value=40),
)
def test_covered_and_uncovered_partition_the_stay(start_min, length_min, h_start, h_end, from_day, days):
    base = dt.datetime(2026, 1, 1, tzinfo=SH)
    start = base + dt.timedelta(minutes=start_min)
    end = start + dt.timedelta(minutes=length_min)
    valid_from = dt.date(2026, 1, 1) + dt.timedelta(days=from_day)
    valid_to = valid_from + dt.timedelta(days=days)
    covered = covered_intervals(
        start, end, hours_start=h_start, hours_end=h_end, valid_from=valid_from, valid_to=valid_to
    )
    gaps = uncovered_intervals(start, end, covered)
    pieces = sorted(covered + gaps)
    # Disjoint, in order, no empty piece, and together exactly [start, end).
    assert all(s < e for s, e in pieces)
    assert pieces[0][0] == start and pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    crosses = h_end <= h_start
    for s, e in covered:
        # Every covered part lies inside the validity and inside the hours.
        assert dt.datetime.combine(valid_from, dt.time(0), SH) <= s
        assert e <= dt.datetime.combine(valid_to + dt.timedelta(days=1), dt.time(0), SH)
        probe = (s + (e - s) / 2).astimezone(SH).time()
        inside = (h_start <= probe or probe < h_end) if crosses else (h_start <= probe < h_end)
        assert inside, (s, e, h_start, h_end)
    for s, e in gaps:
        # An uncovered part's middle is outside the hours or outside the validity.
        mid = (s + (e - s) / 2).astimezone(SH)
        in_validity = valid_from <= mid.date() <= valid_to
        t = mid.time()
        in_hours = (h_start <= t or t < h_end) if crosses else (h_start <= t < h_end)
        assert not (in_validity and in_hours), (s, e)
