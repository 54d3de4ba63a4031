"""The pure tariff engine: amounts worked by hand, bad input, and Hypothesis properties.

Prices of the Beijing standard in fen: 一类 250 / 375 / 100, 二类 150 / 225 / 100,
三类 50 / 75 / 100 (day first hour per 15 min / day later per 15 min / night per 2 h).
No database: the engine is pure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from bench.bench_parking_tariff import naive_quote
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govcenter.parking.tariff import Line, Rules, beijing_standard, quote, zero_line

SH = ZoneInfo("Asia/Shanghai")
C1, C2, C3 = beijing_standard(1), beijing_standard(2), beijing_standard(3)


def at(text: str) -> dt.datetime:
    """'2025-03-04 08:00' as Asia/Shanghai (a working Tuesday unless said otherwise)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def amount(rules, start, end, vehicle="small", **kw) -> int:
    return quote(rules, vehicle=vehicle, start=at(start), end=at(end), **kw).amount_fen


# --------------------------------------------------------------------------------------------
# Worked by hand
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "start", "end", "vehicle", "expected", "why"),
    [
        (C1, "2025-03-04 08:00", "2025-03-04 09:30", "small", 1750, "4×250 + 2×375"),
        (C1, "2025-03-04 08:00", "2025-03-04 09:30", "large", 3500, "(4×250 + 2×375) × 2"),
        (C1, "2025-03-04 20:00", "2025-03-04 23:00", "small", 1100, "day 4×250 + night 2 h = 1×100"),
        (
            C1,
            "2025-03-04 06:10",
            "2025-03-04 07:40",
            "small",
            850,
            "night 50 min → 1×100; day 40 min → 3×250",
        ),
        (
            C1,
            "2025-03-04 22:00",
            "2025-03-05 08:01",
            "small",
            1875,
            "night 9 h → 5×100; day 61 min → 4×250 + 1×375",
        ),
        (
            C1,
            "2025-03-04 20:30",
            "2025-03-05 07:30",
            "small",
            1500,
            "day 2×250; night 5×100; day 2×250 (first hour shared)",
        ),
        (
            C1,
            "2025-03-04 20:30",
            "2025-03-05 07:45",
            "small",
            1875,
            "as above + 1×375 once the first hour is used",
        ),
        (
            C1,
            "2025-03-03 08:00",
            "2025-03-05 08:00",
            "small",
            42500,
            "52 units (4×250+48×375) + 5×100 + 56×375 + 5×100 + 4×375",
        ),
        (C1, "2025-03-04 10:00", "2025-03-04 10:01", "small", 250, "1 minute → 1 unit"),
        (C1, "2025-03-04 10:00", "2025-03-04 10:15", "small", 250, "exactly 1 unit"),
        (C1, "2025-03-04 10:00", "2025-03-04 10:16", "small", 500, "15 min + 1 → 2 units"),
        (C2, "2025-03-04 10:00", "2025-03-04 11:16", "small", 1050, "76 min → 6 units: 4×150 + 2×225"),
        (C3, "2025-03-04 23:00", "2025-03-05 05:00", "small", 300, "night 6 h → 3×100"),
        (C3, "2025-03-04 23:00", "2025-03-05 05:00", "large", 600, "3×100 × 2"),
        (C3, "2025-03-04 07:00", "2025-03-04 21:00", "small", 4100, "4×50 + 52×75"),
        (C3, "2025-03-04 21:00", "2025-03-04 21:00:01", "small", 100, "one second of night → 1 unit"),
    ],
)
def test_worked_by_hand(rules, start, end, vehicle, expected, why):
    result = quote(rules, vehicle=vehicle, start=at(start), end=at(end))
    assert result.amount_fen == expected, why
    assert sum(line.amount_fen for line in result.lines) == expected


def test_lines_of_a_stay_crossing_midnight():
    result = quote(C1, vehicle="small", start=at("2025-03-04 22:00"), end=at("2025-03-05 08:01"))
    assert [
        (line.period, line.units, line.unit_fen, line.amount_fen, line.note) for line in result.lines
    ] == [
        ("night", 5, 100, 500, "夜间"),
        ("day", 4, 250, 1000, "首小时"),
        ("day", 1, 375, 375, "首小时后"),
    ]
    assert [(line.start, line.end) for line in result.lines] == [
        (at("2025-03-04 22:00"), at("2025-03-05 07:00")),
        (at("2025-03-05 07:00"), at("2025-03-05 08:00")),
        (at("2025-03-05 08:00"), at("2025-03-05 08:01")),
    ]
    assert result.lines[0].as_dict() == {
        "period": "night",
        "from": "2025-03-04T22:00:00+08:00",
        "to": "2025-03-05T07:00:00+08:00",
        "units": 5,
        "unit_fen": 100,
        "multiplier_pct": 100,
        "amount_fen": 500,
        "note": "夜间",
    }


def test_a_short_first_segment_ends_its_first_hour_line_at_the_segment_end():
    result = quote(C1, vehicle="small", start=at("2025-03-04 06:10"), end=at("2025-03-04 07:40"))
    day = result.lines[1]
    assert (day.start, day.end, day.units) == (at("2025-03-04 07:00"), at("2025-03-04 07:40"), 3)


def test_any_time_zone_is_converted_to_beijing_time():
    utc = dt.UTC
    start = dt.datetime(2025, 3, 4, 0, 0, tzinfo=utc)  # 08:00 in Beijing
    assert quote(C1, vehicle="small", start=start, end=start + dt.timedelta(minutes=90)).amount_fen == 1750


def test_multiplier_rounds_half_up_per_line():
    rules = dataclasses.replace(C3, multipliers={"small": 100, "large": 150})
    result = quote(rules, vehicle="large", start=at("2025-03-04 08:00"), end=at("2025-03-04 09:15"))
    # first hour 4×50 = 200 → 300; one later unit 75 × 1.5 = 112.5 → 113
    assert [line.amount_fen for line in result.lines] == [300, 113]
    assert result.amount_fen == 413
    odd = dataclasses.replace(C3, multipliers={"small": 101})
    assert amount(odd, "2025-03-04 08:00", "2025-03-04 08:15") == 51  # 50.5 → 51


def test_grace_frees_short_stays_and_is_not_deducted_from_longer_ones():
    rules = dataclasses.replace(C1, grace=10 * 60)
    free = quote(rules, vehicle="small", start=at("2025-03-04 08:00"), end=at("2025-03-04 08:10"))
    assert (free.amount_fen, free.lines, free.note) == (0, [], "免费时长内")
    assert amount(rules, "2025-03-04 08:00", "2025-03-04 08:11") == 250  # charged from 08:00
    assert amount(rules, "2025-03-04 08:00", "2025-03-04 09:30") == 1750


def test_daily_cap_per_calendar_day_scaled_by_the_multiplier():
    rules = dataclasses.replace(C1, daily_cap_fen=5000)
    # 08:00–20:00 = 4×250 + 44×375 = 17500 → capped at 5000 with one negative line
    result = quote(rules, vehicle="small", start=at("2025-03-04 08:00"), end=at("2025-03-04 20:00"))
    assert result.amount_fen == 5000
    assert result.lines[-1].period == "cap" and result.lines[-1].amount_fen == -12500
    assert amount(rules, "2025-03-04 08:00", "2025-03-04 20:00", vehicle="large") == 10000
    # Day 1: 19000 day + 500 night (the night belongs to the evening it starts) → 5000;
    # day 2: 07:00–12:00 = 20×375 = 7500 → 5000.
    assert amount(rules, "2025-03-04 08:00", "2025-03-05 12:00") == 10000
    # Under the cap: nothing changes.
    assert amount(rules, "2025-03-04 08:00", "2025-03-04 09:30") == 1750


def test_holiday_free_day_and_night_rate():
    holiday = frozenset({dt.date(2025, 10, 1)})
    free = dataclasses.replace(C1, holiday_rule="free_day")
    result = quote(
        free, vehicle="small", start=at("2025-10-01 08:00"), end=at("2025-10-01 09:30"), holidays=holiday
    )
    assert result.amount_fen == 0 and result.lines[0].note == "节假日白天免费"
    # A free holiday evening uses none of the first hour: day 20–21 free, night 5×100,
    # then 07:00–08:00 on the workday after at the first-hour price 4×250.
    assert (
        amount(free, "2025-10-01 20:00", "2025-10-02 08:00", holidays=frozenset({dt.date(2025, 10, 1)}))
        == 1500
    )
    night = dataclasses.replace(C1, holiday_rule="night_rate")
    assert (
        amount(night, "2025-10-01 08:00", "2025-10-01 09:30", holidays=holiday) == 100
    )  # 90 min → 1 night unit
    # Holidays only matter when the plan has a holiday rule.
    assert amount(C1, "2025-10-01 08:00", "2025-10-01 09:30", holidays=holiday) == 1750


def test_zero_length_stay_is_free():
    result = quote(C1, vehicle="large", start=at("2025-03-04 08:00"), end=at("2025-03-04 08:00"))
    assert (result.amount_fen, result.lines) == (0, [])


@pytest.mark.parametrize(
    ("start", "end", "vehicle", "message"),
    [
        (dt.datetime(2025, 3, 4, 8), at("2025-03-04 09:00"), "small", "start is a naive datetime"),
        (at("2025-03-04 08:00"), dt.datetime(2025, 3, 4, 9), "small", "end is a naive datetime"),
        (at("2025-03-04 09:00"), at("2025-03-04 08:00"), "small", "end is before start"),
        (at("2025-03-04 08:00"), at("2025-03-04 09:00"), "bus", "unknown vehicle class 'bus'"),
        (dt.date(2025, 3, 4), at("2025-03-04 09:00"), "small", "start must be a datetime"),
    ],
)
def test_bad_input_is_a_clear_value_error(start, end, vehicle, message):
    with pytest.raises(ValueError, match=message):
        quote(C1, vehicle=vehicle, start=start, end=end)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"day_start": dt.time(21), "day_end": dt.time(7)},
        {"day_unit": 0},
        {"holiday_rule": "sometimes"},
        {"multipliers": {"small": 0}},
        {"daily_cap_fen": -1},
    ],
)
def test_rules_refuse_impossible_values(kwargs):
    with pytest.raises(ValueError):
        Rules(day_first_fen=250, day_later_fen=375, night_unit_fen=100, **kwargs)


def test_rules_from_a_plan_like_object():
    plan = type(
        "Plan",
        (),
        dict(
            day_first_unit_fen=150,
            day_later_unit_fen=225,
            night_unit_fen=100,
            day_start=dt.time(7),
            day_end="21:00",
            day_unit_minutes=15,
            first_period_units=4,
            night_unit_minutes=120,
            grace_minutes=5,
            daily_cap_fen=None,
            holiday_rule="same",
            vehicle_multipliers={"small": 100, "large": 200},
            code="x",
            version=3,
        ),
    )()
    rules = Rules.from_plan(plan)
    assert (rules.day_start, rules.day_end, rules.grace, rules.version) == (7 * 3600, 21 * 3600, 300, 3)
    assert dataclasses.replace(C2, grace=300, code="x", version=3) == rules


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

BASE = dt.datetime(2024, 1, 1, tzinfo=SH)
MINUTES_2Y = 2 * 366 * 24 * 60

minute_starts = st.integers(0, MINUTES_2Y).map(lambda m: BASE + dt.timedelta(minutes=m))
second_starts = st.integers(0, MINUTES_2Y * 60).map(lambda s: BASE + dt.timedelta(seconds=s))
vehicles = st.sampled_from(["small", "large"])


@st.composite
def rules_strategy(draw):
    """Any plan the service could store (whole minutes, like the model)."""
    day_start = draw(st.integers(0, 23 * 60 - 1))
    day_end = draw(st.integers(day_start + 1, 24 * 60 - 1))
    return Rules(
        day_first_fen=draw(st.integers(0, 1000)),
        day_later_fen=draw(st.integers(0, 1000)),
        night_unit_fen=draw(st.integers(0, 1000)),
        day_start=day_start * 60,
        day_end=day_end * 60,
        day_unit=draw(st.integers(1, 60)) * 60,
        first_units=draw(st.integers(0, 8)),
        night_unit=draw(st.integers(1, 240)) * 60,
        grace=draw(st.integers(0, 30)) * 60,
        daily_cap_fen=draw(st.none() | st.integers(0, 20000)),
        holiday_rule=draw(st.sampled_from(["same", "free_day", "night_rate"])),
        multipliers={"small": 100, "large": draw(st.integers(1, 300))},
    )


holiday_sets = st.frozensets(
    st.integers(0, 2 * 366).map(lambda d: dt.date(2024, 1, 1) + dt.timedelta(days=d)), max_size=200
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.one_of(st.sampled_from([C1, C2, C3]), rules_strategy()),
    start=minute_starts,
    minutes=st.integers(0, 3 * 24 * 60),
    vehicle=vehicles,
    holidays=holiday_sets,
)
def test_engine_agrees_with_the_minute_by_minute_oracle(rules, start, minutes, vehicle, holidays):
    end = start + dt.timedelta(minutes=minutes)
    ours = quote(rules, vehicle=vehicle, start=start, end=end, holidays=holidays)
    assert ours.amount_fen == naive_quote(rules, vehicle=vehicle, start=start, end=end, holidays=holidays)


@settings(max_examples=300, deadline=None)
@given(
    rules=st.one_of(st.sampled_from([C1, C2, C3]), rules_strategy()),
    start=second_starts,
    seconds=st.integers(0, 4 * 86400),
    extra=st.integers(1, 2 * 86400),
    vehicle=vehicles,
    holidays=holiday_sets,
)
def test_amount_never_decreases_when_a_stay_is_extended(rules, start, seconds, extra, vehicle, holidays):
    end = start + dt.timedelta(seconds=seconds)
    shorter = quote(rules, vehicle=vehicle, start=start, end=end, holidays=holidays)
    longer = quote(
        rules, vehicle=vehicle, start=start, end=end + dt.timedelta(seconds=extra), holidays=holidays
    )
    assert longer.amount_fen >= shorter.amount_fen


@settings(max_examples=300, deadline=None)
@given(
    rules=st.one_of(st.sampled_from([C1, C2, C3]), rules_strategy()),
    start=second_starts,
    seconds=st.integers(0, 4 * 86400),
    vehicle=vehicles,
    holidays=holiday_sets,
)
def test_amount_is_a_non_negative_int_and_the_sum_of_its_lines(rules, start, seconds, vehicle, holidays):
    result = quote(
        rules, vehicle=vehicle, start=start, end=start + dt.timedelta(seconds=seconds), holidays=holidays
    )
    assert isinstance(result.amount_fen, int) and result.amount_fen >= 0
    assert result.amount_fen == sum(line.amount_fen for line in result.lines)
    assert all(isinstance(line, Line) for line in result.lines)
    assert all(line.amount_fen >= 0 for line in result.lines if line.period != "cap")
    # Lines are in time order and never overlap (cap lines summarise a day and come last).
    timed = [line for line in result.lines if line.period != "cap"]
    assert all(a.end_ts <= b.start_ts for a, b in zip(timed, timed[1:], strict=False))


def _units(result, period: str) -> int:
    return sum(line.units for line in result.lines if line.period == period)


def _boundaries(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every 07:00 and 21:00 (Beijing) strictly inside (start, end)."""
    local = start.astimezone(SH)
    day = local.date()
    found = []
    while True:
        for hour in (7, 21):
            moment = dt.datetime.combine(day, dt.time(hour), tzinfo=SH)
            if start < moment < end:
                found.append(moment)
        if dt.datetime.combine(day, dt.time(0), tzinfo=SH) > end:
            return found
        day += dt.timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(
    rules=st.sampled_from([C1, C2, C3]),
    start=second_starts,
    seconds=st.integers(1, 3 * 86400),
    data=st.data(),
)
def test_splitting_at_a_period_boundary_is_consistent(rules, start, seconds, data):
    """Split at a 07:00/21:00 boundary b: the day and night unit counts add up, the part
    before b is priced exactly like the start of the whole stay, and the whole is the shared
    first-hour allowance applied to the summed day units (not naive addition of amounts)."""
    # The stay always crosses at least one boundary (the first one after its start: at most
    # 14 h away), so no example is thrown away.
    first_boundary = _boundaries(start, start + dt.timedelta(hours=15))[0]
    end = first_boundary + dt.timedelta(seconds=seconds)
    boundaries = _boundaries(start, end)
    b = data.draw(st.sampled_from(boundaries))
    whole = quote(rules, vehicle="small", start=start, end=end)
    before = quote(rules, vehicle="small", start=start, end=b)
    after = quote(rules, vehicle="small", start=b, end=end)
    day_units = _units(before, "day") + _units(after, "day")
    night_units = _units(before, "night") + _units(after, "night")
    assert _units(whole, "day") == day_units
    assert _units(whole, "night") == night_units
    assert whole.lines[: len(before.lines)] == before.lines
    first = min(rules.first_units, day_units)
    expected = (
        first * rules.day_first_fen
        + (day_units - first) * rules.day_later_fen
        + night_units * rules.night_unit_fen
    )
    assert whole.amount_fen == expected


@settings(max_examples=200, deadline=None)
@given(rules=st.sampled_from([C1, C2, C3]), start=second_starts, days=st.integers(1, 6), vehicle=vehicles)
def test_multi_day_stays_equal_the_sum_of_their_days(rules, start, days, vehicle):
    """A stay split at every 07:00 is the sum of its parts when each later part is priced with
    the first-hour units the earlier parts left over; and every full extra day costs exactly
    56 later units + 5 night units (14 h of day, 10 h of night) once the first hour is used."""
    end = start + dt.timedelta(days=days)
    cuts = [b for b in _boundaries(start, end) if b.hour == 7]
    edges = [start, *cuts, end]
    remaining = rules.first_units
    total = 0
    for lo, hi in zip(edges, edges[1:], strict=False):
        part = quote(dataclasses.replace(rules, first_units=remaining), vehicle=vehicle, start=lo, end=hi)
        remaining = max(0, remaining - _units(part, "day"))
        total += part.amount_fen
    assert quote(rules, vehicle=vehicle, start=start, end=end).amount_fen == total

    mult = rules.multipliers[vehicle]
    full_day = (56 * rules.day_later_fen * mult + 50) // 100 + (5 * rules.night_unit_fen * mult + 50) // 100
    longer = quote(rules, vehicle=vehicle, start=start, end=end + dt.timedelta(days=1)).amount_fen
    assert longer - quote(rules, vehicle=vehicle, start=start, end=end).amount_fen == full_day


def test_zero_line_is_a_0_fen_line_in_minutes_rounded_up_with_fixed_offset():
    start = dt.datetime(2026, 3, 2, 1, 0, 30, tzinfo=dt.UTC)  # 09:00:30 in Beijing
    line = zero_line("permit", start, start + dt.timedelta(minutes=90, seconds=1), note="n", permit_id=7)
    assert line == {
        "period": "permit",
        "from": "2026-03-02T09:00:30+08:00",
        "to": "2026-03-02T10:30:31+08:00",
        "units": 91,
        "unit_fen": 0,
        "multiplier_pct": 100,
        "amount_fen": 0,
        "note": "n",
        "permit_id": 7,
    }
    assert list(line)[-1] == "permit_id"  # extra keys after the engine's own
