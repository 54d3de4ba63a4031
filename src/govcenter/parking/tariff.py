"""The tariff engine: pure functions over frozen rules (no ORM, no settings, no I/O).

:class:`Rules` is built once per plan (:meth:`Rules.from_plan`, or directly in tests and
benchmarks); :func:`quote` prices one stay. The service layer chooses the plan and supplies
the holidays; this module only computes.

Semantics (the default Beijing rules; every number is a field of the plan)
---------------------------------------------------------------------------

* **Local time.** A stay is priced on Asia/Shanghai wall-clock time. Asia/Shanghai has kept
  UTC+08:00 without daylight saving since 1991, so the engine converts with that fixed
  offset (stays before 1992 are priced as if UTC+08:00 applied). Inputs must be
  timezone-aware ``datetime`` values (any zone); a naive one is a :class:`ValueError`.
  The engine works in whole seconds: fractions of a second are dropped from both ends.
* **Periods.** The stay is split at ``day_start`` (07:00) and ``day_end`` (21:00). A *day
  segment* is a contiguous part of the stay inside one day period; a *night segment* is a
  contiguous part inside one night period (21:00 → 07:00, crossing midnight).
* **Day units.** Each day segment is counted in ``day_unit`` (15-minute) units, a partial
  unit rounded up. The first ``first_units`` (4) day units of the *whole stay*, counted
  across its day segments in time order, take ``day_first_fen``; every later day unit takes
  ``day_later_fen``. A segment that straddles that boundary gives two lines
  (``首小时`` and ``首小时后``).
* **Night units.** Each night segment is counted in ``night_unit`` (2-hour) units, a
  partial unit rounded up, at ``night_unit_fen``.
* **Vehicle multiplier** (percent, ``small`` 100, ``large`` 200) is applied per line:
  ``amount = units × unit price × multiplier / 100``, rounded half up to the fen, integer
  arithmetic only. The stay's amount is the sum of its lines.
* **Grace.** A stay no longer than ``grace`` is free (amount 0, no lines, ``note``
  ``免费时长内``). A longer stay is charged in full from its start: the grace is *not*
  deducted (the usual Beijing practice).
* **Holidays** (a set of local dates, supplied by the caller: the services pass the
  statutory holidays of China's calendar — 法定节假日, not ordinary weekends, not 调休
  make-up workdays — see ``selectors.tariffs.holidays_between``) change only day segments
  on those dates: ``same`` (no change), ``free_day`` (the segment is listed at 0 fen and uses
  none of the first-hour units), ``night_rate`` (the segment is counted on its own in night
  units at the night price, also outside the first-hour count; it is not merged with the
  neighbouring night segments).
* **Daily cap** (optional) limits the amount per local calendar day. Each line belongs to
  the calendar day on which its segment *starts* (so a 21:00–07:00 night belongs to the
  evening's date). The cap is scaled by the vehicle multiplier (half up) and, when a day's
  lines exceed it, one negative ``cap`` line (note ``每日封顶``) brings that day down to it.
* **Zero-length stays** cost 0. An end before the start is a :class:`ValueError`.

Cost: one quote is O(number of segments) = O(days of the stay); there is no per-minute loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "BEIJING_STANDARD",
    "HOLIDAY_RULES",
    "Line",
    "Quote",
    "Rules",
    "beijing_standard",
    "quote",
    "round_half_up_pct",
    "zero_line",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_OFFSET = 8 * 3600  # Asia/Shanghai since 1991: UTC+08:00, no DST
_DAY = 86_400
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_FIXED_TZ = dt.timezone(dt.timedelta(hours=8))

HOLIDAY_RULES = ("same", "free_day", "night_rate")

NOTE_FIRST = "首小时"
NOTE_LATER = "首小时后"
NOTE_NIGHT = "夜间"
NOTE_HOLIDAY_FREE = "节假日白天免费"
NOTE_HOLIDAY_NIGHT = "节假日白天按夜间标准"
NOTE_CAP = "每日封顶"
NOTE_GRACE = "免费时长内"


def round_half_up_pct(value: int, pct: int) -> int:
    """``value × pct / 100`` rounded half up to an integer (``value`` ≥ 0, ``pct`` > 0)."""
    return (value * pct + 50) // 100


class Line(NamedTuple):
    """One itemised line. ``start_ts``/``end_ts`` are UTC epoch seconds (see :attr:`start`)."""

    period: str  # "day" | "night" | "cap"
    start_ts: int
    end_ts: int
    units: int
    unit_fen: int
    multiplier_pct: int
    amount_fen: int
    note: str

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start_ts, SHANGHAI)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.end_ts, SHANGHAI)

    def as_dict(self) -> dict:
        """JSON-ready: times as ISO 8601 with +08:00."""
        return {
            "period": self.period,
            "from": dt.datetime.fromtimestamp(self.start_ts, _FIXED_TZ).isoformat(),
            "to": dt.datetime.fromtimestamp(self.end_ts, _FIXED_TZ).isoformat(),
            "units": self.units,
            "unit_fen": self.unit_fen,
            "multiplier_pct": self.multiplier_pct,
            "amount_fen": self.amount_fen,
            "note": self.note,
        }


def zero_line(period: str, start: dt.datetime, end: dt.datetime, *, note: str, **extra) -> dict:
    """The JSON quote line (as :meth:`Line.as_dict`) of a part of a stay that is not billed —
    ``closed``, ``permit`` …: 0 fen, ``units`` are the minutes (rounded up); ``extra`` keys
    (e.g. ``permit_id``) are appended."""
    return {
        "period": period,
        "from": start.astimezone(_FIXED_TZ).isoformat(),
        "to": end.astimezone(_FIXED_TZ).isoformat(),
        "units": -(-int((end - start).total_seconds()) // 60),
        "unit_fen": 0,
        "multiplier_pct": 100,
        "amount_fen": 0,
        "note": note,
        **extra,
    }


class Quote(NamedTuple):
    amount_fen: int
    lines: list[Line]
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "amount_fen": self.amount_fen,
            "lines": [line.as_dict() for line in self.lines],
            "note": self.note,
        }


def _seconds(value: dt.time | int) -> int:
    if isinstance(value, int):
        return value
    return value.hour * 3600 + value.minute * 60 + value.second


@dataclass(frozen=True, slots=True)
class Rules:
    """One plan's rules with everything a quote needs precomputed (seconds, not minutes).

    Build with :meth:`from_plan` or directly: ``Rules(day_first_fen=250, day_later_fen=375,
    night_unit_fen=100)`` is the 一类 standard.
    """

    day_first_fen: int
    day_later_fen: int
    night_unit_fen: int
    day_start: int = 7 * 3600  # seconds after local midnight
    day_end: int = 21 * 3600
    day_unit: int = 15 * 60  # seconds
    first_units: int = 4
    night_unit: int = 2 * 3600
    grace: int = 0  # seconds
    daily_cap_fen: int | None = None
    holiday_rule: str = "same"
    multipliers: Mapping[str, int] = field(default_factory=lambda: {"small": 100, "large": 200})
    code: str = ""
    version: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "day_start", _seconds(self.day_start))
        set_(self, "day_end", _seconds(self.day_end))
        set_(self, "multipliers", MappingProxyType(dict(self.multipliers)))
        if not 0 <= self.day_start < self.day_end <= _DAY:
            raise ValueError("day period must satisfy 00:00 <= day_start < day_end <= 24:00")
        if self.day_unit <= 0 or self.night_unit <= 0:
            raise ValueError("unit lengths must be positive")
        if min(self.day_first_fen, self.day_later_fen, self.night_unit_fen, self.first_units, self.grace) < 0:
            raise ValueError("prices, first_units and grace must not be negative")
        if self.daily_cap_fen is not None and self.daily_cap_fen < 0:
            raise ValueError("daily cap must not be negative")
        if self.holiday_rule not in HOLIDAY_RULES:
            raise ValueError(f"holiday_rule must be one of {', '.join(HOLIDAY_RULES)}")
        for key, pct in self.multipliers.items():
            if not isinstance(pct, int) or isinstance(pct, bool) or pct <= 0:
                raise ValueError(f"multiplier of {key!r} must be a positive integer percentage")

    @classmethod
    def from_plan(cls, plan) -> Rules:
        """Rules of a ``TariffPlan`` (duck-typed: any object with the plan's fields)."""
        return cls(
            day_first_fen=plan.day_first_unit_fen,
            day_later_fen=plan.day_later_unit_fen,
            night_unit_fen=plan.night_unit_fen,
            day_start=_as_time(plan.day_start),
            day_end=_as_time(plan.day_end),
            day_unit=plan.day_unit_minutes * 60,
            first_units=plan.first_period_units,
            night_unit=plan.night_unit_minutes * 60,
            grace=plan.grace_minutes * 60,
            daily_cap_fen=plan.daily_cap_fen,
            holiday_rule=plan.holiday_rule,
            multipliers=plan.vehicle_multipliers or {"small": 100, "large": 200},
            code=plan.code,
            version=plan.version,
        )


def _as_time(value) -> dt.time:
    # A freshly built (unsaved) model may still hold the field default as "HH:MM".
    return dt.time.fromisoformat(value) if isinstance(value, str) else value


BEIJING_STANDARD: dict[int, dict[str, int]] = {
    # area class → fen per unit (first hour per 15 min, after per 15 min, night per 2 h)
    1: {"day_first_fen": 250, "day_later_fen": 375, "night_unit_fen": 100},
    2: {"day_first_fen": 150, "day_later_fen": 225, "night_unit_fen": 100},
    3: {"day_first_fen": 50, "day_later_fen": 75, "night_unit_fen": 100},
}


def beijing_standard(area_class: int) -> Rules:
    """The Beijing road-parking standard of one area class as Rules (grace 0, no cap)."""
    return Rules(**BEIJING_STANDARD[area_class], code=f"bj-road-class-{area_class}", version=1)


def _epoch_seconds(value: dt.datetime, name: str) -> int:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} is a naive datetime; give a timezone-aware time such as 2025-01-01T08:00+08:00"
        )
    return (value - _EPOCH) // _SECOND


def quote(
    rules: Rules,
    *,
    vehicle: str,
    start: dt.datetime,
    end: dt.datetime,
    holidays: frozenset[dt.date] | set[dt.date] = frozenset(),
) -> Quote:
    """Price the stay ``[start, end)`` under ``rules`` (see the module docstring)."""
    s = _epoch_seconds(start, "start")
    e = _epoch_seconds(end, "end")
    if e < s:
        raise ValueError("end is before start")
    try:
        mult = rules.multipliers[vehicle]
    except KeyError:
        raise ValueError(
            f"unknown vehicle class {vehicle!r}; expected one of {', '.join(rules.multipliers)}"
        ) from None
    if e == s:
        return Quote(0, [])
    if e - s <= rules.grace:
        return Quote(0, [], NOTE_GRACE)
    return _price(rules, mult, s, e, holidays if rules.holiday_rule != "same" else None)


def _price(r: Rules, mult: int, s: int, e: int, holidays) -> Quote:
    ds, de, du, nu = r.day_start, r.day_end, r.day_unit, r.night_unit
    p_first, p_later, p_night = r.day_first_fen, r.day_later_fen, r.night_unit_fen
    first_left = r.first_units
    capped = r.daily_cap_fen is not None
    per_day: dict[int, int] = {}
    day_bounds: dict[int, tuple[int, int]] = {}
    lines: list[Line] = []
    append = lines.append
    total = 0
    t = s + _OFFSET  # local wall-clock seconds
    le = e + _OFFSET
    while t < le:
        d = t // _DAY
        base = d * _DAY
        tod = t - base
        if tod < ds:
            seg_end = base + ds
            is_day = False
        elif tod < de:
            seg_end = base + de
            is_day = True
        else:
            seg_end = base + _DAY + ds
            is_day = False
        if seg_end > le:
            seg_end = le
        length = seg_end - t
        if is_day:
            n = -(-length // du)
            rule = "same"
            if holidays and dt.date.fromordinal(_EPOCH_ORDINAL + d) in holidays:
                rule = r.holiday_rule
            if rule == "same":
                k = first_left if n > first_left else n
                if k:
                    first_left -= k
                    mid = t + k * du
                    if mid > seg_end:
                        mid = seg_end
                    amount = (k * p_first * mult + 50) // 100
                    append(Line("day", t - _OFFSET, mid - _OFFSET, k, p_first, mult, amount, NOTE_FIRST))
                    total += amount
                    if capped:
                        per_day[d] = per_day.get(d, 0) + amount
                else:
                    mid = t
                if n > k:
                    amount = ((n - k) * p_later * mult + 50) // 100
                    append(
                        Line(
                            "day", mid - _OFFSET, seg_end - _OFFSET, n - k, p_later, mult, amount, NOTE_LATER
                        )
                    )
                    total += amount
                    if capped:
                        per_day[d] = per_day.get(d, 0) + amount
            elif rule == "free_day":
                append(Line("day", t - _OFFSET, seg_end - _OFFSET, n, 0, mult, 0, NOTE_HOLIDAY_FREE))
            else:  # night_rate
                n = -(-length // nu)
                amount = (n * p_night * mult + 50) // 100
                append(
                    Line("day", t - _OFFSET, seg_end - _OFFSET, n, p_night, mult, amount, NOTE_HOLIDAY_NIGHT)
                )
                total += amount
                if capped:
                    per_day[d] = per_day.get(d, 0) + amount
        else:
            n = -(-length // nu)
            amount = (n * p_night * mult + 50) // 100
            append(Line("night", t - _OFFSET, seg_end - _OFFSET, n, p_night, mult, amount, NOTE_NIGHT))
            total += amount
            if capped:
                per_day[d] = per_day.get(d, 0) + amount
        if capped:
            first_t, _last = day_bounds.get(d, (t, seg_end))
            day_bounds[d] = (first_t, seg_end)
        t = seg_end
    if capped:
        cap = (r.daily_cap_fen * mult + 50) // 100
        for d, amount in per_day.items():
            if amount > cap:
                lo, hi = day_bounds[d]
                append(Line("cap", lo - _OFFSET, hi - _OFFSET, 0, 0, mult, cap - amount, NOTE_CAP))
                total += cap - amount
    return Quote(total, lines)
