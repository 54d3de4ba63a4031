"""重大活动节假日数据统计 (statistic 12): any period of any statistic against a baseline period.

The period is a date window (``start``..``end``), a statutory holiday of the working calendar
(``holiday=<key>&year=<YYYY>``) or a custom event (``event=<id>``, :class:`StatEvent`). The
baseline (``baseline=``):

* ``previous`` (default) — the same number of days immediately before the period;
* ``last_year_weekday`` — the same days last year aligned by weekday (the period − 364 days:
  a Saturday is compared with a Saturday);
* ``last_year_date`` — the same dates last year (29 February → 28 February);
* ``last_year_holiday`` — the same holiday last year (its own dates from the calendar: the
  Spring Festival moves; the periods may differ in length);
* ``custom`` — ``baseline_start``..``baseline_end``.

Both windows are computed with the statistic's own function (orders: :mod:`.orders`; every
registered statistic: :func:`.framework.compute`) — see :mod:`.sources`; the per-day series
with the statistic's own measure SQL grouped by date. Per measure: period value, baseline
value, change and change %. When the two windows differ in length, additive measures (counts,
fen) are compared as **daily averages** (``basis = "daily_average"``) and the page says so;
rates and means are compared as they are.

Holidays (:func:`holiday_periods`): from ``govcenter.core.calendar``'s sources — the
CalendarDay table for a year that has rows, else the ``chinesecalendar`` package — each
holiday's days off (its name's first to last day within one run of consecutive days off,
weekends of the break included; a run across New Year belongs to the year it ends in) with
its 调休 make-up workdays.

Bad input is 400: ``invalid_window`` / ``invalid_date`` (the period or a custom baseline),
``unknown_statistic``, ``unknown_holiday``, ``unknown_event``, ``invalid_baseline`` (an
unknown kind, a missing custom window, no such holiday last year, or a baseline that
overlaps the period), and the statistic's own filter errors (``unknown_district`` …).
Scoped: each window is the caller's statistic, so a district manager compares their district.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from chinese_calendar.constants import Holiday
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import HOLIDAY_NAMES_ZH, package_days
from govcenter.core.models import CalendarDay

from .common import bad, check_window, district_choices, level_label, parse_date, parse_query
from .events import visible_events
from .framework import display
from .pages import header, link
from .sources import ORDERS_PERMISSION, Source, check_years, source_for, visible_sources

BASELINES = ("previous", "last_year_weekday", "last_year_date", "last_year_holiday", "custom")
BASELINE_LABELS = {
    "previous": gettext_lazy("上一周期"),
    "last_year_weekday": gettext_lazy("去年同期（按星期对齐）"),
    "last_year_date": gettext_lazy("去年同期（按日期对齐）"),
    "last_year_holiday": gettext_lazy("去年同一节日"),
    "custom": gettext_lazy("自定义基准期"),
}
# The holiday keys of the API and URLs (the package's English names, snake case) → Chinese names.
HOLIDAY_KEYS = {
    Holiday.new_years_day.value: "new_years_day",
    Holiday.spring_festival.value: "spring_festival",
    Holiday.tomb_sweeping_day.value: "tomb_sweeping_day",
    Holiday.labour_day.value: "labour_day",
    Holiday.dragon_boat_festival.value: "dragon_boat_festival",
    Holiday.mid_autumn_festival.value: "mid_autumn_festival",
    Holiday.national_day.value: "national_day",
    Holiday.anti_fascist_70th_day.value: "anti_fascist_70th_day",
}
KEY_BY_NAME = {HOLIDAY_NAMES_ZH[english]: key for english, key in HOLIDAY_KEYS.items()}
MAKEUP_REACH = dt.timedelta(days=21)  # a 调休 workday belongs to a break of its name this close


def _baseline_label(kind: str) -> str:
    return str(BASELINE_LABELS[kind])


# ---- the holiday calendar ------------------------------------------------------------------


@dataclass(frozen=True)
class HolidayPeriod:
    key: str
    name: str
    year: int
    start: dt.date
    end: dt.date
    makeup_workdays: tuple[dt.date, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "year": self.year,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "makeup_workdays": [d.isoformat() for d in self.makeup_workdays],
        }


def _calendar_days(years: set[int]) -> list[tuple[dt.date, str, str]]:
    """(date, kind, Chinese name) of the holidays and 调休 workdays of ``years``.

    The calendar's own rule: a year with CalendarDay rows is the table's; a year without, the
    package's (``govcenter.core.calendar``).
    """
    rows = list(
        CalendarDay.objects.filter(date__year__in=sorted(years))
        .filter(kind__in=[CalendarDay.Kind.HOLIDAY, CalendarDay.Kind.ADJUSTED_WORKDAY])
        .values_list("date", "kind", "name")
    )
    table_years = set(
        CalendarDay.objects.filter(date__year__in=sorted(years)).values_list("date__year", flat=True)
    )
    found = [(d, k, n) for d, k, n in rows]
    for day in package_days(sorted(years - table_years)):
        found.append((day.date, day.kind, day.name))
    return sorted(found)


def holiday_periods(year: int) -> list[HolidayPeriod]:
    """The statutory holidays of ``year`` with their dates off and 调休 make-up workdays."""
    days = _calendar_days({year - 1, year, year + 1})
    off = [(d, name) for d, kind, name in days if kind == CalendarDay.Kind.HOLIDAY]
    makeup = [(d, name) for d, kind, name in days if kind == CalendarDay.Kind.ADJUSTED_WORKDAY]
    runs: list[list[tuple[dt.date, str]]] = []
    for day, name in off:
        if runs and day - runs[-1][-1][0] == dt.timedelta(days=1):
            runs[-1].append((day, name))
        else:
            runs.append([(day, name)])
    periods = []
    for run in runs:
        by_name: dict[str, list[dt.date]] = {}
        for day, name in run:
            by_name.setdefault(name or _("节假日"), []).append(day)
        for name, dates in by_name.items():
            start, end = min(dates), max(dates)
            if end.year != year:
                continue
            extra = tuple(
                d
                for d, n in makeup
                if n.removesuffix("调休") == name and start - MAKEUP_REACH <= d <= end + MAKEUP_REACH
            )
            periods.append(HolidayPeriod(KEY_BY_NAME.get(name, name), name, year, start, end, extra))
    return sorted(periods, key=lambda p: p.start)


def holiday_period(key: str, year: int) -> HolidayPeriod:
    """The holiday ``key`` of ``year``; 400 ``unknown_holiday`` when the calendar has none."""
    found = next((p for p in holiday_periods(year) if p.key == key), None)
    if found is None:
        raise ServiceError(
            _("该年份的工作日历中没有此节日。"),
            code="unknown_holiday",
            details={"holiday": [str(key)], "year": [str(year)]},
        )
    return found


def _year(raw, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        year = int(raw)
    except (TypeError, ValueError):
        year = 0
    if not 1900 <= year <= 2200:
        raise bad("unknown_holiday", _("年份无效。"), "year", raw)
    return year


# ---- the windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date
    kind: str  # dates | holiday | event | a baseline kind
    label: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "kind": self.kind,
            "label": self.label,
        }


def _last_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def resolve_period(user, params) -> tuple[Window, HolidayPeriod | None, object | None]:
    """The period of ``params``: an event, a holiday of a year, or the dates (default: last 7 days)."""
    if params.get("event") not in (None, ""):
        try:
            pk = int(params.get("event"))
        except (TypeError, ValueError):
            pk = 0
        event = visible_events(user).filter(pk=pk).select_related("district").first()
        if event is None:
            raise bad("unknown_event", _("未知的活动或不在数据范围内。"), "event", params.get("event"))
        return Window(event.start, event.end, "event", event.name), None, event
    if params.get("holiday") not in (None, ""):
        year = _year(params.get("year"), timezone.localdate().year)
        holiday = holiday_period(str(params.get("holiday")), year)
        label = f"{holiday.year} {holiday.name}"
        return Window(holiday.start, holiday.end, "holiday", label), holiday, None
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    end = parse_date("end", params.get("end"), yesterday)
    check_years(end, end)
    start = parse_date("start", params.get("start"), end - dt.timedelta(days=6))
    check_window(start, end)
    check_years(start, end)
    return Window(start, end, "dates", f"{start.isoformat()} — {end.isoformat()}"), None, None


def _invalid_baseline(message: str, **details) -> ServiceError:
    return ServiceError(message, code="invalid_baseline", details={k: [str(v)] for k, v in details.items()})


def resolve_baseline(params, period: Window, holiday: HolidayPeriod | None) -> Window:
    """The baseline window of ``params`` for ``period`` (see the module docstring)."""
    kind = params.get("baseline") or ("last_year_holiday" if holiday is not None else "previous")
    if kind not in BASELINES:
        raise _invalid_baseline(_("未知的基准期类型。"), baseline=kind)
    if kind == "previous":
        end = period.start - dt.timedelta(days=1)
        start = end - dt.timedelta(days=period.days - 1)
    elif kind == "last_year_weekday":
        start, end = period.start - dt.timedelta(days=364), period.end - dt.timedelta(days=364)
    elif kind == "last_year_date":
        start, end = _last_year(period.start), _last_year(period.end)
    elif kind == "last_year_holiday":
        if holiday is None:
            raise _invalid_baseline(_("“去年同一节日”只能用于节日时段。"), baseline=kind)
        found = next((p for p in holiday_periods(holiday.year - 1) if p.key == holiday.key), None)
        if found is None:
            raise _invalid_baseline(_("上一年的工作日历中没有此节日。"), baseline=kind, year=holiday.year - 1)
        start, end = found.start, found.end
        label = f"{found.year} {found.name}"
        window = Window(start, end, kind, label)
        _check_baseline(period, window)
        return window
    else:
        if params.get("baseline_start") in (None, "") or params.get("baseline_end") in (None, ""):
            raise _invalid_baseline(_("自定义基准期需要开始和结束日期。"), baseline=kind)
        start = parse_date("baseline_start", params.get("baseline_start"), None)
        end = parse_date("baseline_end", params.get("baseline_end"), None)
    window = Window(start, end, kind, f"{start.isoformat()} — {end.isoformat()}")
    _check_baseline(period, window)
    return window


def _check_baseline(period: Window, baseline: Window) -> None:
    check_years(baseline.start, baseline.end, "invalid_baseline")
    try:
        check_window(baseline.start, baseline.end)
    except ServiceError as exc:
        raise _invalid_baseline(
            str(exc.detail), baseline_start=baseline.start.isoformat(), baseline_end=baseline.end.isoformat()
        ) from None
    if baseline.start <= period.end and period.start <= baseline.end:
        raise _invalid_baseline(
            _("基准期与对比期重叠。"),
            baseline_start=baseline.start.isoformat(),
            baseline_end=baseline.end.isoformat(),
        )


# ---- the comparison ------------------------------------------------------------------------


def _scaled(value, days: int, per_day: bool):
    if value is None:
        return None
    return round(value / days, 2) if per_day else value


def change_of(period, baseline) -> tuple:
    """(change, change %) — None when a side is missing; change % None when the baseline is 0."""
    if period is None or baseline is None:
        return None, None
    change = round(period - baseline, 4)
    pct = round(change / baseline, 4) if baseline else None
    return change, pct


def _compare_values(source: Source, key: str, p_row: dict, b_row: dict, pdays: int, bdays: int, basis: str):
    m = source.measure(key)
    per_day = basis == "daily_average" and m.additive
    pv, bv = _scaled(p_row.get(key), pdays, per_day), _scaled(b_row.get(key), bdays, per_day)
    change, pct = change_of(pv, bv)
    return {"period": pv, "baseline": bv, "change": change, "change_pct": pct, "daily_average": per_day}


@dataclass
class Comparison:
    source: Source
    query: object  # the period's StatQuery
    period: Window
    baseline: Window
    basis: str
    measures: list[dict]
    daily: list[dict]
    level: str | None
    rows: list[dict]
    holiday: HolidayPeriod | None = None
    event: object | None = None

    def as_dict(self) -> dict:
        filters = self.query.filters()
        return {
            "statistic": self.source.slug,
            "title": str(self.source.title),
            "filters": {k: v for k, v in filters.items() if k not in ("start", "end")},
            "period": self.period.as_dict(),
            "baseline": self.baseline.as_dict(),
            "basis": self.basis,
            "holiday": self.holiday.as_dict() if self.holiday else None,
            "event": self.event.pk if self.event is not None else None,
            "measures": self.measures,
            "daily": self.daily,
            "level": self.level,
            "rows": self.rows,
        }


def compare(user, params) -> Comparison:
    """The comparison of ``params`` for ``user`` (see the module docstring)."""
    source = source_for(user, params.get("statistic"))
    period, holiday, event = resolve_period(user, params)
    baseline = resolve_baseline(params, period, holiday)
    filters = {k: params.get(k) for k in ("district", "road", "segment", "area_class", "vehicle_class")}
    if event is not None and event.district_id and filters["district"] in (None, ""):
        filters["district"] = event.district_id
    q = parse_query(
        user,
        {**filters, "start": period.start.isoformat(), "end": period.end.isoformat()},
        filters=source.filters,
        levels=source.levels,
    )
    qb = dataclasses.replace(q, start=baseline.start, end=baseline.end)
    p_total, p_rows = source.run(user, q)
    b_total, b_rows = source.run(user, qb)
    basis = "total" if period.days == baseline.days else "daily_average"
    measures = [
        {
            "key": m.key,
            "label": str(m.label),
            "unit": m.unit,
            **_compare_values(source, m.key, p_total, b_total, period.days, baseline.days, basis),
        }
        for m in source.measures
    ]
    p_daily, b_daily = source.daily(user, q), source.daily(user, qb)
    daily = []
    for i in range(max(period.days, baseline.days)):
        pd = period.start + dt.timedelta(days=i) if i < period.days else None
        bd = baseline.start + dt.timedelta(days=i) if i < baseline.days else None
        daily.append(
            {
                "day": i + 1,
                "period_date": pd.isoformat() if pd else None,
                "baseline_date": bd.isoformat() if bd else None,
                "period": _day_values(source, p_daily, pd),
                "baseline": _day_values(source, b_daily, bd),
            }
        )
    b_by_id = {r["id"]: r for r in b_rows}
    p_by_id = {r["id"]: r for r in p_rows}
    rows = []
    for pk in sorted(set(p_by_id) | set(b_by_id), key=lambda k: (k is None, k)):
        # A place with no rows in one window had none of the additive measures there.
        empty = {m.key: 0 for m in source.measures if m.additive}
        p_row, b_row = p_by_id.get(pk) or empty, b_by_id.get(pk) or empty
        named = p_by_id.get(pk) or b_by_id.get(pk)
        rows.append(
            {
                "id": pk,
                "code": named.get("code", ""),
                "name": named.get("name", ""),
                "measures": {
                    k: _compare_values(source, k, p_row, b_row, period.days, baseline.days, basis)
                    for k in source.kpis
                },
            }
        )
    return Comparison(source, q, period, baseline, basis, measures, daily, q.level, rows, holiday, event)


def _day_values(source: Source, by_date: dict, day: dt.date | None) -> dict | None:
    if day is None:
        return None
    found = by_date.get(day)
    if found is None:
        return {m.key: (0 if m.additive else None) for m in source.measures}
    return {m.key: found.get(m.key) for m in source.measures}


# ---- the page ------------------------------------------------------------------------------


def _pct(value):
    return None if value is None else round(value * 100, 2)


def page_tables(cmp: Comparison) -> list[dict]:
    """The page's tables: every measure (period, baseline, change, change %), then the rows."""
    source = cmp.source
    suffix = _("（日均）")
    measures = {
        "key": "measures",
        "title": _("指标对比"),
        "first": _("指标"),
        "columns": [
            ("period", _("对比期"), ""),
            ("baseline", _("基准期"), ""),
            ("change", _("变化"), ""),
            ("change_pct", _("变化率（%）"), ""),
        ],
        "rows": [
            {
                "name": header(source.measure(m["key"])) + (suffix if m["daily_average"] else ""),
                "code": m["key"],
                "href": "",
                "values": [
                    display(m["period"], m["unit"]),
                    display(m["baseline"], m["unit"]),
                    display(m["change"], m["unit"]),
                    _pct(m["change_pct"]),
                ],
            }
            for m in cmp.measures
        ],
        "total": None,
    }
    columns = []
    for k in source.kpis:
        label = header(source.measure(k))
        columns += [
            (f"{k}.period", f"{label} {_('对比期')}", ""),
            (f"{k}.baseline", f"{label} {_('基准期')}", ""),
            (f"{k}.change_pct", f"{label} {_('变化率（%）')}", ""),
        ]
    rows = {
        "key": "rows",
        "title": _("按%(level)s对比") % {"level": level_label(cmp.level)},
        "first": level_label(cmp.level),
        "columns": columns,
        "rows": [
            {
                "name": r["name"],
                "code": r["code"],
                "href": "",
                "values": [
                    v
                    for k in source.kpis
                    for v in (
                        display(r["measures"][k]["period"], source.measure(k).unit),
                        display(r["measures"][k]["baseline"], source.measure(k).unit),
                        _pct(r["measures"][k]["change_pct"]),
                    )
                ],
            }
            for r in cmp.rows
        ],
        "total": None,
    }
    return [measures, rows] if cmp.level else [measures]


def page_charts(cmp: Comparison) -> list[dict]:
    """One line chart per KPI: the period's day 1..N against the baseline's day 1..M."""
    out = []
    for k in cmp.source.kpis:
        unit = cmp.source.measure(k).unit
        out.append(
            {
                "id": f"daily-{k}",
                "title": header(cmp.source.measure(k)),
                "type": "line",
                "shared": True,
                "categories": [_("第 %(n)d 天") % {"n": d["day"]} for d in cmp.daily],
                "series": [
                    {
                        "name": f"{_('对比期')} {cmp.period.label}",
                        "data": [display(d["period"][k], unit) if d["period"] else None for d in cmp.daily],
                    },
                    {
                        "name": f"{_('基准期')} {cmp.baseline.label}",
                        "data": [
                            display(d["baseline"][k], unit) if d["baseline"] else None for d in cmp.daily
                        ],
                    },
                ],
            }
        )
    return out


def _page_choices(request) -> dict:
    params = request.GET
    try:
        year = _year(params.get("year"), timezone.localdate().year)
    except ServiceError:
        year = timezone.localdate().year
    keep = {k: params.get(k, "") for k in ("statistic", "district")}
    holidays = [
        {
            **p.as_dict(),
            "href": link(keep, holiday=p.key, year=p.year, baseline="last_year_holiday"),
        }
        for p in holiday_periods(year)
    ]
    events = [
        {"event": e, "href": link(keep, event=e.pk)}
        for e in visible_events(request.user).select_related("district")[:30]
    ]
    return {
        "statistics": list(visible_sources(request.user).values()),
        "baselines": [(k, _baseline_label(k)) for k in BASELINES],
        "districts": district_choices(request.user),
        "year": year,
        "years": (year - 1, year + 1),
        "year_links": [(y, link(keep, year=y)) for y in (year - 1, year + 1)],
        "holidays": holidays,
        "events": events,
        "params": params,
    }


@login_required
@permission_required(ORDERS_PERMISSION, raise_exception=True)
@require_GET
def compare_page(request):
    """Statistic 12: the period vs the baseline — KPI table, per-day charts, per-district table."""
    ctx = _page_choices(request)
    try:
        cmp = compare(request.user, request.GET)
    except ServiceError as exc:
        ctx.update(error=exc.detail, error_code=exc.error_code, error_details=exc.details)
        return render(request, "parking/stats2/compare.html", ctx, status=400)
    ctx.update(
        cmp=cmp,
        data=cmp.as_dict(),
        tables=page_tables(cmp),
        charts=page_charts(cmp),
        baseline_label=_baseline_label(cmp.baseline.kind),
    )
    return render(request, "parking/stats2/compare.html", ctx)


urlpatterns = [path("stats/compare/", compare_page, name="stats_compare")]
