"""The figures of the monthly supervision report (月度监管报告), gathered once as plain data.

:func:`gather` reads one calendar month and returns a JSON-able dict that both renderers
(:mod:`.docx`, :mod:`.xlsx`) lay out; nothing is computed twice, so the Word and the Excel
file always agree. Sources:

* rides — :mod:`govcenter.bikeshare.analyses` on DuckDB over the lake (by day and district
  of the start point, by hour; the previous month for month-on-month changes, compared by
  rides per day with data as :func:`~govcenter.bikeshare.analyses.monthly_rides` does);
* fleet vs quota — :func:`govcenter.bikeshare.selectors.quotas.quota_usage` at the month's end;
* data quality — :func:`govcenter.bikeshare.quality.daily_quality` for every day of the month
  the lake holds, averaged per operator (the cumulative refusal counters are left out: they
  are not monthly figures);
* scan checks — :func:`govcenter.bikeshare.services.scanchecks.scancheck_stats`;
* rail-station accumulation — :func:`~govcenter.bikeshare.analyses.station_flows`;
* work orders and assessment — the contracts of ``services.workorders`` and
  ``services.assessment``, imported lazily: a missing module or no rows gives ``None`` and
  the report says 本月无数据.

The report is a city-wide Center document: the caller must have the full data scope (the
CLI acts as :data:`SYSTEM`). Deterministic: the same lake and database give the same dict.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.scope import FULL_SCOPE, scope_for

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
STATION_TOP = 10
ACCUMULATION_THRESHOLD = 10  # net inflow of a peak hour above which a station "accumulates"
SCAN_DIMENSIONS = ("operator", "district", "result")


class _System:
    """The CLI's actor: the whole city, every permission (the audit names the system)."""

    pk = None
    username = ""
    unit = None
    is_authenticated = True
    is_active = True
    is_superuser = True
    _govcenter_scope = FULL_SCOPE

    def has_perm(self, perm: str) -> bool:
        return True


SYSTEM = _System()


def parse_month(value) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month); ServiceError ``bad_month`` otherwise (no future months)."""
    text = str(value or "").strip()
    match = MONTH_RE.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ServiceError(
            _("月份格式不正确，应为 YYYY-MM。"), code="bad_month", details={"month": [text[:20]]}
        )
    year, month = int(match.group(1)), int(match.group(2))
    today = dt.datetime.now(BEIJING).date()
    if (year, month) > (today.year, today.month):
        raise ServiceError(_("不能生成未来月份的报告。"), code="bad_month", details={"month": [text]})
    return year, month


def month_days(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round(now / before - 1.0, 4)


def require_center(actor) -> None:
    """The report covers the whole city: only callers with the full data scope may build it."""
    if actor is SYSTEM:
        return
    if actor is None or not actor.is_authenticated or not scope_for(actor).all:
        raise PermissionDenied(_("月度报告为全市报告，仅限中心人员生成和查看。"))


# -- names ---------------------------------------------------------------------------------


def _operator_names(codes) -> dict[str, str]:
    from govcenter.core.models import Unit, UnitKind

    names = dict(
        Unit.objects.filter(kind=UnitKind.OPERATOR, code__in=list(codes)).values_list("code", "name_zh")
    )
    return {code: names.get(code, code) for code in sorted(codes)}


def _district_names() -> dict[str, str]:
    from govcenter.core.districts import DISTRICTS
    from govcenter.core.models import District

    names = {d.code: d.name_zh for d in DISTRICTS}
    names.update(dict(District.objects.values_list("code", "name_zh")))
    return names


# -- sections ------------------------------------------------------------------------------


def _lake_days(root: Path, first: dt.date, last: dt.date) -> list[dt.date]:
    from govcenter.analytics.lake.files import partitions

    days = set()
    for dataset in ("trips", "telemetry"):
        for part in partitions(root, dataset):
            day = dt.date.fromisoformat(part.date)
            if first <= day <= last:
                days.add(day)
    return sorted(days)


def _rides(root: Path, first: dt.date, last: dt.date, prev: tuple[dt.date, dt.date]) -> dict:
    import ibis

    from .. import analyses as an
    from ..rollups import rides_hourly

    # The hourly rides by district (rollups where current, else the raw analysis): the same
    # rows as ``an.rides_by_hour(by_district=True)``; days and hours are sums of them.
    month_hourly, _how = rides_hourly(root, first, last)
    daily = an.run(an.daily_from_hourly(ibis.memtable(month_hourly))).to_pylist()
    hourly = month_hourly.to_pylist()
    before = an.run(an.daily_from_hourly(ibis.memtable(rides_hourly(root, *prev)[0]))).to_pylist()

    per_day: dict[tuple[str, str], int] = defaultdict(int)
    per_district: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    op_days: dict[str, set] = defaultdict(set)
    for row in daily:
        day = row["date"].isoformat()
        per_day[(row["operator"], day)] += row["rides"]
        per_district[row["district"]][row["operator"]] += row["rides"]
        op_days[row["operator"]].add(day)
    per_hour: dict[tuple[str, int], int] = defaultdict(int)
    for row in hourly:
        per_hour[(row["operator"], int(row["hour"]))] += row["rides"]
    prev_rides: dict[str, int] = defaultdict(int)
    prev_days: dict[str, set] = defaultdict(set)
    for row in before:
        prev_rides[row["operator"]] += row["rides"]
        prev_days[row["operator"]].add(row["date"])

    from .. import analyses

    operators = sorted({op for op, _d in per_day} | set(prev_rides))
    by_operator = []
    for op in operators:
        rides = sum(n for (o, _d), n in per_day.items() if o == op)
        days = len(op_days[op])
        hours = {h: per_hour.get((op, h), 0) for h in range(24)}
        peak = min(hours, key=lambda h: (-hours[h], h)) if rides else None
        rpd = round(rides / days, 2) if days else None
        prev_rpd = round(prev_rides[op] / len(prev_days[op]), 2) if prev_days[op] else None
        by_operator.append(
            {
                "operator": op,
                "rides": rides,
                "days": days,
                "rides_per_day": rpd,
                "prev_rides": prev_rides[op],
                "prev_rides_per_day": prev_rpd,
                "mom_change": _change(rpd, prev_rpd),
                "peak_hour": peak,
                "peak_rides": hours[peak] if peak is not None else 0,
                "morning_share": round(sum(hours[h] for h in analyses.MORNING_PEAK) / rides, 4)
                if rides
                else None,
                "evening_share": round(sum(hours[h] for h in analyses.EVENING_PEAK) / rides, 4)
                if rides
                else None,
            }
        )
    all_days = sorted({d for _o, d in per_day})
    total = sum(per_day.values())
    prev_total = sum(prev_rides.values())
    prev_all_days = len({d for days in prev_days.values() for d in days})
    rpd = round(total / len(all_days), 2) if all_days else None
    prev_rpd = round(prev_total / prev_all_days, 2) if prev_all_days else None
    return {
        "total": total,
        "days": len(all_days),
        "rides_per_day": rpd,
        "prev_total": prev_total,
        "prev_days": prev_all_days,
        "prev_rides_per_day": prev_rpd,
        "mom_change": _change(rpd, prev_rpd),
        "dates": all_days,
        "by_operator": by_operator,
        "daily": {op: {d: per_day.get((op, d), 0) for d in all_days} for op in operators},
        "hourly": {op: [per_hour.get((op, h), 0) for h in range(24)] for op in operators},
        "districts": {
            code: dict(sorted(ops.items()))
            for code, ops in sorted(per_district.items(), key=lambda kv: kv[0])
        },
    }


def _quotas(actor, last: dt.date, names: dict[str, str]) -> list[dict]:
    from ..selectors.quotas import quota_usage

    user = None if actor is SYSTEM else actor
    rows = []
    for u in quota_usage(last, user=user):
        rows.append(
            {
                "operator": u.operator_code,
                "operator_name": u.operator_name,
                "district": u.district_code or "",
                "district_name": u.district_name
                or (names.get(u.district_code, "") if u.district_code else _("全市")),
                "quota": u.quota,
                "registered": u.registered,
                "excess": u.excess,
                "over": u.excess > 0,
                "usage": round(u.registered / u.quota, 4) if u.quota else None,
            }
        )
    return rows


def _fleet(last: dt.date) -> dict[str, int]:
    """Registered bikes per operator code at the end of ``last`` (registered, not retired)."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from ..models import Vehicle

    moment = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min), BEIJING)
    rows = (
        Vehicle.objects.filter(registered_at__lt=moment)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gte=moment))
        .values("operator__code")
        .annotate(n=Count("id"))
        .order_by("operator__code")
    )
    return {r["operator__code"]: r["n"] for r in rows}


def _quality(root: Path, days: list[dt.date], now: dt.datetime) -> list[dict]:
    from ..quality import daily_quality

    acc: dict[str, dict] = {}
    for day in days:
        result = daily_quality(root, day, now=now, rejections=False)
        for row in result["operators"]:
            a = acc.setdefault(
                row["operator"],
                {"scores": [], "telemetry_points": 0, "ride_violations": 0, "parked_violations": 0,
                 "trips": 0, "trips_without_end": 0, "trips_without_telemetry": 0, "positions_outside": 0},
            )  # fmt: skip
            if row["score"] is not None:
                a["scores"].append(row["score"])
            for key in ("telemetry_points", "ride_violations", "parked_violations", "trips",
                        "trips_without_end", "trips_without_telemetry", "positions_outside"):  # fmt: skip
                a[key] += int(row.get(key) or 0)
    out = []
    for code in sorted(acc):
        a = acc[code]
        scores = a.pop("scores")
        out.append(
            {
                "operator": code,
                "days": len(scores),
                "avg_score": round(sum(scores) / len(scores), 1) if scores else None,
                "min_score": min(scores) if scores else None,
                **a,
            }
        )
    return out


def _scanchecks(actor, first: dt.date, last: dt.date) -> dict:
    from ..services.scanchecks import scancheck_stats

    out: dict = {}
    for dim in SCAN_DIMENSIONS:
        rows = scancheck_stats(actor, period=(first, last), group_by=dim)
        out[dim] = [
            {"key": "" if r["key"] is None else str(r["key"]), "label": r["label"], "total": r["total"],
             "unregistered": r["unregistered"], "unregistered_share": r["unregistered_share"]}
            for r in rows
        ]  # fmt: skip
    total = sum(r["total"] for r in out["operator"])
    unregistered = sum(r["unregistered"] for r in out["operator"])
    out["total"] = total
    out["unregistered"] = unregistered
    out["unregistered_share"] = round(unregistered / total, 4) if total else None
    return out


def _stations(root: Path, first: dt.date, last: dt.date) -> list[dict]:
    import ibis

    from .. import analyses as an
    from ..rollups import station_hourly

    start = dt.datetime.combine(first, dt.time(0), tzinfo=BEIJING)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=BEIJING)
    flows = ibis.memtable(station_hourly(root, start, end, an.station_areas())[0])
    daily = an.run(an.station_imbalance(flows)).to_pylist()
    alerts = an.run(an.accumulation_alerts(flows, threshold=ACCUMULATION_THRESHOLD)).to_pylist()
    acc: dict[str, dict] = {}
    for row in daily:
        a = acc.setdefault(row["station_id"], {"station_id": row["station_id"], "station": row["station"],
                                                "arrivals": 0, "departures": 0, "net": 0, "morning_net": 0,
                                                "evening_net": 0, "alert_hours": 0})  # fmt: skip
        for key in ("arrivals", "departures", "net", "morning_net", "evening_net"):
            a[key] += int(row[key])
    for row in alerts:
        if row["station_id"] in acc:
            acc[row["station_id"]]["alert_hours"] += 1
    ranked = sorted((a for a in acc.values() if a["net"] > 0), key=lambda a: (-a["net"], a["station_id"]))
    return ranked[:STATION_TOP]


def _workorders(first: dt.date, last: dt.date) -> list[dict] | None:
    try:
        from ..services import workorders
    except ImportError:
        return None
    stats = workorders.response_stats_all(first, last) or {}
    rows = [{"operator": code, **row} for code, row in sorted(stats.items())]
    # Operators with no order at all in the month are left out (all zeros say nothing).
    rows = [r for r in rows if any(r.get(k) for k in ("issued", "responded", "closed", "overdue"))]
    return rows or None


def _assessment(year: int, month: int) -> list[dict] | None:
    try:
        from ..services import assessment
    except ImportError:
        return None
    rows = assessment.month_scores(year, month) or []
    try:
        from ..models.assessment import AssessmentStatus

        labels = {k: str(v) for k, v in AssessmentStatus.choices}
    except ImportError:
        labels = {}
    rows = [{**r, "status_label": labels.get(r.get("status"), str(r.get("status") or ""))} for r in rows]
    return sorted(rows, key=lambda r: str(r.get("operator_code", ""))) or None


# -- the month -------------------------------------------------------------------------------


def gather(actor, year: int, month: int, *, lake_root=None, now: dt.datetime | None = None) -> dict:
    """Every figure of the report for ``year``-``month`` (see the module docstring)."""

    require_center(actor)
    first, last = month_days(year, month)
    prev = month_days(*_previous(year, month))
    root = Path(lake_root or settings.GOVCENTER_LAKE_DIR)
    month_end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=BEIJING)
    now = min(now or dt.datetime.now(dt.UTC), month_end)
    districts = _district_names()

    days = _lake_days(root, first, last)
    prev_days = _lake_days(root, *prev)
    rides = stations = None
    if days or prev_days:
        rides = _rides(root, first, last, prev)
        stations = _stations(root, first, last) if days else []
    quality = _quality(root, days, now) if days else []
    quotas = _quotas(actor, last, districts)
    scans = _scanchecks(actor, first, last)
    workorders = _workorders(first, last)
    assessment = _assessment(year, month)

    fleet = _fleet(last)
    codes = set(fleet) | set(q["operator"] for q in quotas) | set(q["operator"] for q in quality)
    if rides:
        codes |= {r["operator"] for r in rides["by_operator"]}
    codes |= {r["operator"] for r in workorders or []}
    codes |= {str(r.get("operator_code")) for r in assessment or []}
    operators = _operator_names(codes)
    district_rows = []
    if rides:
        for code, ops in rides["districts"].items():
            district_rows.append(
                {"district": code, "name": districts.get(code, code) if code else _("北京市外"),
                 "rides": sum(ops.values()), "by_operator": ops}
            )  # fmt: skip
        district_rows.sort(key=lambda r: (-r["rides"], r["district"]))
    over = [q for q in quotas if q["over"]]
    scores = [q["avg_score"] for q in quality if q["avg_score"] is not None]
    return {
        "year": year,
        "month": month,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "operators": operators,
        "rides": rides,
        "districts": district_rows,
        "fleet": fleet,
        "quotas": quotas,
        "quality": quality,
        "scanchecks": scans,
        "stations": stations or [],
        "workorders": workorders,
        "assessment": assessment,
        "summary": {
            "rides": rides["total"] if rides else 0,
            "rides_days": rides["days"] if rides else 0,
            "rides_per_day": rides["rides_per_day"] if rides else None,
            "rides_mom_change": rides["mom_change"] if rides else None,
            "operators": len(operators),
            "registered": sum(fleet.values()),
            "over_quota": len(over),
            "quality_avg": round(sum(scores) / len(scores), 1) if scores else None,
            "scanchecks": scans["total"],
            "unregistered_share": scans["unregistered_share"],
            "accumulation_stations": sum(1 for s in stations or [] if s["alert_hours"]),
        },
    }
