"""Tariff quotes per second, in-process: the pure engine against a minute-by-minute reference.

Both price the same fixed mix of stays (seeded RNG) under the 一类 Beijing standard:

* baseline ``naive minute-by-minute reference``: :func:`naive_quote` walks the stay one
  minute at a time, classifies each minute, groups runs and prices them. It is written to be
  obviously right, not fast, and the test suite uses it as an oracle on random stays
  (tests/parking/test_tariff_engine.py);
* ours: :func:`govcenter.parking.tariff.quote` (O(segments), no per-minute loop), best of 3.

The mix: 70 % short stays (5 min – 3 h), 20 % 3 – 12 h, 10 % 12 h – 3 days, starting at any
minute of 2025, small and large vehicles 4:1. Target ≥ 50,000 quotes/s on this machine.

Run alone with ``python bench/bench_parking_tariff.py`` (needs ``src`` on the path).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from zoneinfo import ZoneInfo

try:  # imported as bench.bench_parking_tariff by bench/run.py and the tests
    from bench.common import record
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import record  # type: ignore[no-redef]

from govcenter.parking.tariff import Rules, beijing_standard, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET = "≥ 50,000 quotes/s"
STAYS = 20_000
NAIVE_STAYS = 1_000


def naive_quote(
    rules: Rules, *, vehicle: str, start: dt.datetime, end: dt.datetime, holidays=frozenset()
) -> int:
    """The amount in fen, by walking the stay minute by minute (whole-minute stays only).

    Independent of the engine's segment arithmetic: each minute is labelled ``day``,
    ``night``, ``free`` (a holiday's day under ``free_day``) or ``hday`` (a holiday's day
    under ``night_rate``) from its Asia/Shanghai wall-clock time; runs of equal labels are
    segments. Then the rules of the module docstring of ``govcenter.parking.tariff``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime")
    if end < start:
        raise ValueError("end before start")
    mult = rules.multipliers[vehicle]
    minutes = int((end - start).total_seconds() // 60)
    if minutes == 0 or minutes * 60 <= rules.grace:
        return 0
    runs: list[list] = []  # [label, minutes, local date of the run's first minute]
    local = start.astimezone(SHANGHAI)
    for i in range(minutes):
        moment = local + dt.timedelta(minutes=i)
        second_of_day = moment.hour * 3600 + moment.minute * 60
        label = "day" if rules.day_start <= second_of_day < rules.day_end else "night"
        if label == "day" and moment.date() in holidays:
            label = {"same": "day", "free_day": "free", "night_rate": "hday"}[rules.holiday_rule]
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1, moment.date()])
    per_day: dict[dt.date, int] = {}
    first_left = rules.first_units
    for label, run_minutes, day in runs:
        seconds = run_minutes * 60
        amounts = []
        if label == "day":
            units = -(-seconds // rules.day_unit)
            first = min(units, first_left)
            first_left -= first
            if first:
                amounts.append(first * rules.day_first_fen)
            if units - first:
                amounts.append((units - first) * rules.day_later_fen)
        elif label in ("night", "hday"):
            amounts.append(-(-seconds // rules.night_unit) * rules.night_unit_fen)
        for value in amounts:
            per_day[day] = per_day.get(day, 0) + (value * mult + 50) // 100
    if rules.daily_cap_fen is not None:
        cap = (rules.daily_cap_fen * mult + 50) // 100
        return sum(min(v, cap) for v in per_day.values())
    return sum(per_day.values())


def stay_mix(n: int, seed: int = 20250301) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """``n`` stays (vehicle, start, end) in whole minutes, reproducible."""
    rng = random.Random(seed)
    year_start = dt.datetime(2025, 1, 1, tzinfo=SHANGHAI)
    stays = []
    for _ in range(n):
        start = year_start + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        kind = rng.random()
        if kind < 0.7:
            minutes = rng.randint(5, 180)
        elif kind < 0.9:
            minutes = rng.randint(180, 720)
        else:
            minutes = rng.randint(720, 3 * 24 * 60)
        vehicle = "large" if rng.random() < 0.2 else "small"
        stays.append((vehicle, start, start + dt.timedelta(minutes=minutes)))
    return stays


def _rate(fn, stays, rules, repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        begin = time.perf_counter()
        for vehicle, start, end in stays:
            fn(rules, vehicle=vehicle, start=start, end=end)
        best = max(best, len(stays) / (time.perf_counter() - begin))
    return best


def run() -> list[dict]:
    rules = beijing_standard(1)
    stays = stay_mix(STAYS)
    # The two must agree before their speeds mean anything.
    for vehicle, start, end in stays[:200]:
        ours = quote(rules, vehicle=vehicle, start=start, end=end).amount_fen
        assert ours == naive_quote(rules, vehicle=vehicle, start=start, end=end), (vehicle, start, end)
    baseline = _rate(naive_quote, stays[:NAIVE_STAYS], rules, repeats=1)
    ours = _rate(quote, stays, rules)
    return [
        record(
            name="parking.tariff_quote",
            value=ours,
            unit="quotes/s",
            baseline_name="naive minute-by-minute reference",
            baseline_value=baseline,
            target=TARGET,
        )
    ]


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item, ensure_ascii=False))
