"""Assessment of bike-share operators (考核): measure, score, publish, grade, recommend quotas.

Measures (one value per operator and month, each with the raw inputs that produced it):

* ``data_quality`` — mean of the daily data-quality scores (``bikeshare.quality``) over the
  days of the month that had data (0–100).
* ``in_fence_rate`` — percent of the month's trip ends (lake ``trips``) inside a parking or
  rail-station fence in force on the month's last day (``services.fences.active_fence_index``,
  looked up vectorised on the distinct end positions). An operator with no trips in the lake
  falls back to the live picture (parked bikes inside fences / parked bikes), said so in
  the inputs.
* ``over_quota`` — the operator's bikes above its quotas as a percent of those quotas, at
  the end of the month (now for the current month; registered fleet, ``selectors.quotas``).
* ``work_order_response`` — percent of work orders answered on time
  (``services.workorders.response_stats_all``; missing until that module exists).
* ``scan_compliance`` — percent of the operator's scan checks in the month found compliant;
  ``unregistered_share`` — percent of those checks on unregistered bikes.
* ``complaints`` — staff-entered complaints (:class:`ComplaintTally`) per 10,000 registered
  bikes.

Scoring: each indicator of the month's :class:`IndicatorSet` gives points 0–100 (linear
between ``floor`` and ``target``); an indicator without a value is *missing*: its weight is
redistributed over the others in proportion to their weights, and it is marked. The total is
Σ points × effective weight / 100.

Lifecycle: computing a month writes a draft revision per operator (recomputing a draft
updates it; after publication it creates the next revision); publishing freezes a revision.
Quarter grades average the three monthly totals (the newest published revision of each
month, else the newest draft — the grade is then *provisional*) and recommend next quarter's
quota per district; adopting it calls :func:`services.quotas.quota_set`. Every write is
audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models import FleetQuota, Vehicle
from ..models.assessment import (
    AssessmentStatus,
    ComplaintTally,
    IndicatorSet,
    MonthlyAssessment,
    QuarterlyGrade,
)
from ..models.scanchecks import ScanCheck, ScanResult

logger = logging.getLogger(__name__)

VIEW_PERMISSION = "bikeshare.view_monthlyassessment"
COMPUTE_PERMISSION = "bikeshare.add_monthlyassessment"
PUBLISH_PERMISSION = "bikeshare.change_monthlyassessment"
SET_VIEW_PERMISSION = "bikeshare.view_indicatorset"
SET_EDIT_PERMISSIONS = ("bikeshare.add_indicatorset", "bikeshare.change_indicatorset")
GRADE_VIEW_PERMISSION = "bikeshare.view_quarterlygrade"
GRADE_COMPUTE_PERMISSION = "bikeshare.add_quarterlygrade"
ADOPT_PERMISSIONS = ("bikeshare.change_quarterlygrade", "bikeshare.add_fleetquota")
COMPLAINT_PERMISSION = "bikeshare.add_complainttally"

MEASURES = (
    "data_quality",
    "in_fence_rate",
    "over_quota",
    "work_order_response",
    "scan_compliance",
    "unregistered_share",
    "complaints",
)
METHODS = ("linear",)
GRADES = ("A", "B", "C", "D")
MAX_COMPLAINTS = 1_000_000

DEFAULT_INDICATORS = [
    {"code": "data_quality", "name": "数据质量", "weight": 25, "method": "linear", "floor": 60, "target": 95},
    {"code": "in_fence_rate", "name": "入栏率", "weight": 25, "method": "linear", "floor": 50, "target": 90},
    {"code": "over_quota", "name": "超额投放", "weight": 15, "method": "linear", "floor": 20, "target": 0},
    {"code": "work_order_response", "name": "工单响应", "weight": 15, "method": "linear", "floor": 60,
     "target": 95},
    {"code": "scan_compliance", "name": "扫码核查合规", "weight": 10, "method": "linear", "floor": 70,
     "target": 98},
    {"code": "complaints", "name": "投诉", "weight": 10, "method": "linear", "floor": 10, "target": 0},
]  # fmt: skip
DEFAULT_THRESHOLDS = {"A": 90, "B": 80, "C": 60}
DEFAULT_ADJUSTMENTS = {"A": 10, "B": 0, "C": -10, "D": -20}
AUDIT_FIELDS = ["id", "operator_id", "month", "revision", "indicator_set_id", "status", "total"]
GRADE_FIELDS = ["id", "operator_id", "year", "quarter", "mean_total", "grade", "provisional"]


def _require(actor, *permissions: str) -> None:
    if actor is None:
        return  # system jobs (CLI, seeds, demo) act without a user
    if not getattr(actor, "is_authenticated", False) or not actor.has_perms(permissions):
        raise PermissionDenied(_("没有考核操作权限。"))


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


# -- periods -------------------------------------------------------------------------------

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def parse_month(text) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month); ServiceError (400, ``bad_month``) otherwise."""
    m = _MONTH_RE.match(str(text or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise ServiceError(_("月份格式应为 YYYY-MM。"), code="bad_month", details={"month": [str(text)[:20]]})
    return int(m.group(1)), int(m.group(2))


def parse_quarter(text) -> tuple[int, int]:
    """``YYYY-Qn`` → (year, quarter); ServiceError (400, ``bad_quarter``) otherwise."""
    m = _QUARTER_RE.match(str(text or "").strip())
    if not m or int(m.group(1)) < 2000:
        raise ServiceError(
            _("季度格式应为 YYYY-Qn。"), code="bad_quarter", details={"quarter": [str(text)[:20]]}
        )
    return int(m.group(1)), int(m.group(2))


def month_first(year: int, month: int) -> dt.date:
    if not (isinstance(year, int) and isinstance(month, int) and 1 <= month <= 12 and 2000 <= year <= 9998):
        raise ServiceError(
            _("月份格式应为 YYYY-MM。"), code="bad_month", details={"month": [f"{year}-{month}"]}
        )
    return dt.date(year, month, 1)


def _next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    """(first day, last day, start, end) of a Beijing month; ``[start, end)`` zone-aware."""
    first = month_first(year, month)
    following = _next_month(first)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(following, dt.time.min), tz)
    return first, following - dt.timedelta(days=1), start, end


def quarter_months(year: int, quarter: int) -> list[tuple[int, int]]:
    if not (isinstance(quarter, int) and 1 <= quarter <= 4):
        raise ServiceError(
            _("季度格式应为 YYYY-Qn。"), code="bad_quarter", details={"quarter": [str(quarter)]}
        )
    return [(year, 3 * quarter - 2 + i) for i in range(3)]


# -- indicator sets ------------------------------------------------------------------------


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def validate_indicator_set(indicators, grade_thresholds, quota_adjustments) -> tuple[list, dict, dict]:
    """Check and normalise a set's definition; ServiceError (400) with details per problem."""
    problems: dict[str, list[str]] = {}
    if not isinstance(indicators, list) or not indicators:
        raise ServiceError(_("指标不能为空。"), code="bad_indicators", details={"indicators": ["required"]})
    clean = []
    seen: set[str] = set()
    for i, item in enumerate(indicators):
        key = f"indicators[{i}]"
        if not isinstance(item, dict):
            problems[key] = ["not an object"]
            continue
        code, name = str(item.get("code") or ""), str(item.get("name") or "").strip()
        weight, floor, target = (_number(item.get(k)) for k in ("weight", "floor", "target"))
        method = item.get("method", "linear")
        errs = []
        if code not in MEASURES:
            errs.append(f"code: one of {', '.join(MEASURES)}")
        elif code in seen:
            errs.append("code: duplicate")
        seen.add(code)
        if not name or len(name) > 50:
            errs.append("name: 1–50 characters")
        if weight is None or weight <= 0:
            errs.append("weight: a positive number")
        if method not in METHODS:
            errs.append(f"method: one of {', '.join(METHODS)}")
        if floor is None or target is None or floor == target:
            errs.append("floor/target: two different numbers")
        if errs:
            problems[key] = errs
            continue
        clean.append({"code": code, "name": name, "weight": weight, "method": method,
                      "floor": floor, "target": target})  # fmt: skip
    if not problems and abs(sum(c["weight"] for c in clean) - 100) > 1e-6:
        problems["weights"] = [f"sum is {sum(c['weight'] for c in clean):g}, must be 100"]
    thresholds = {}
    if not isinstance(grade_thresholds, dict):
        problems["grade_thresholds"] = ["an object {A, B, C}"]
    else:
        for g in GRADES[:3]:
            v = _number(grade_thresholds.get(g))
            if v is None or not 0 <= v <= 100:
                problems.setdefault("grade_thresholds", []).append(f"{g}: a number 0–100")
            thresholds[g] = v
        if "grade_thresholds" not in problems and not thresholds["A"] > thresholds["B"] > thresholds["C"]:
            problems["grade_thresholds"] = ["A > B > C"]
    adjustments = {}
    if not isinstance(quota_adjustments, dict):
        problems["quota_adjustments"] = ["an object {A, B, C, D}"]
    else:
        for g in GRADES:
            v = _number(quota_adjustments.get(g))
            if v is None or not -100 <= v <= 100:
                problems.setdefault("quota_adjustments", []).append(f"{g}: a percent −100–100")
            adjustments[g] = v
    if problems:
        message = _("指标权重之和须为 100。") if set(problems) == {"weights"} else _("指标体系不正确。")
        raise ServiceError(message, code="bad_indicator_set", details=problems)
    return clean, thresholds, adjustments


SET_FIELDS = ["id", "version", "name", "effective_from", "indicators", "grade_thresholds",
              "quota_adjustments", "note"]  # fmt: skip


def indicator_set_create(
    actor,
    *,
    name: str,
    effective_from: dt.date,
    indicators,
    grade_thresholds=None,
    quota_adjustments=None,
    note: str = "",
) -> IndicatorSet:
    """A new version of the indicator set, in force from ``effective_from``'s month."""
    _require(actor, *SET_EDIT_PERMISSIONS)
    clean, thresholds, adjustments = validate_indicator_set(
        indicators,
        DEFAULT_THRESHOLDS if grade_thresholds is None else grade_thresholds,
        DEFAULT_ADJUSTMENTS if quota_adjustments is None else quota_adjustments,
    )
    name = str(name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError(
            _("请填写名称。"), code="bad_indicator_set", details={"name": ["1–100 characters"]}
        )
    if not isinstance(effective_from, dt.date):
        raise ServiceError(
            _("生效月份不正确。"), code="bad_indicator_set", details={"effective_from": ["date"]}
        )
    with transaction.atomic():
        last = IndicatorSet.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        new = IndicatorSet.objects.create(
            version=last + 1,
            name=name,
            effective_from=effective_from.replace(day=1),
            indicators=clean,
            grade_thresholds=thresholds,
            quota_adjustments=adjustments,
            note=str(note or "")[:2000],
            created_by=_user(actor),
        )
        audit.record(
            action="bikeshare.assessment.set.create",
            obj=new,
            changes={"after": audit.snapshot(new, SET_FIELDS)},
        )
    return new


def indicator_set_in_use(indicator_set: IndicatorSet) -> bool:
    return indicator_set.assessments.exists() or indicator_set.grades.exists()


def indicator_set_update(actor, indicator_set: IndicatorSet, **changes) -> IndicatorSet:
    """Edit a set no assessment has used yet (a used set is history: create a new version)."""
    _require(actor, *SET_EDIT_PERMISSIONS)
    allowed = {"name", "effective_from", "indicators", "grade_thresholds", "quota_adjustments", "note"}
    unknown = set(changes) - allowed
    if unknown:
        raise ServiceError(
            _("指标体系不正确。"), code="bad_indicator_set", details={k: ["unknown"] for k in unknown}
        )
    with transaction.atomic():
        current = IndicatorSet.objects.select_for_update().get(pk=indicator_set.pk)
        if indicator_set_in_use(current):
            raise ServiceError(
                _("该指标体系已用于考核，不能修改；请新建版本。"),
                code="indicator_set_in_use",
                status=409,
                details={"version": [current.version]},
            )
        before = audit.snapshot(current, SET_FIELDS)
        clean, thresholds, adjustments = validate_indicator_set(
            changes.get("indicators", current.indicators),
            changes.get("grade_thresholds", current.grade_thresholds),
            changes.get("quota_adjustments", current.quota_adjustments),
        )
        current.indicators, current.grade_thresholds, current.quota_adjustments = (
            clean,
            thresholds,
            adjustments,
        )
        if "name" in changes:
            name = str(changes["name"] or "").strip()
            if not name or len(name) > 100:
                raise ServiceError(_("请填写名称。"), code="bad_indicator_set", details={"name": ["1–100"]})
            current.name = name
        if "effective_from" in changes:
            if not isinstance(changes["effective_from"], dt.date):
                raise ServiceError(
                    _("生效月份不正确。"), code="bad_indicator_set", details={"effective_from": ["date"]}
                )
            current.effective_from = changes["effective_from"].replace(day=1)
        if "note" in changes:
            current.note = str(changes["note"] or "")[:2000]
        current.save()
        audit.record(
            action="bikeshare.assessment.set.update",
            obj=current,
            changes=audit.diff(before, audit.snapshot(current, SET_FIELDS)),
        )
    return current


def indicator_set_for(first: dt.date) -> IndicatorSet:
    """The set in force for the month starting ``first`` (409 ``no_indicator_set`` if none)."""
    found = (
        IndicatorSet.objects.filter(effective_from__lte=first).order_by("-effective_from", "-version").first()
    )
    if found is None:
        raise ServiceError(
            _("没有适用于该月的考核指标体系。"),
            code="no_indicator_set",
            status=409,
            details={"month": [first.strftime("%Y-%m")]},
        )
    return found


def seed_default_indicator_set() -> dict[str, int]:
    """``govcenter seed``: the default indicator set (version 1, from 2020-01), once."""
    if IndicatorSet.objects.exists():
        return {"created": 0, "unchanged": 1}
    indicator_set_create(
        None,
        name="互联网租赁自行车运营企业考核指标（默认）",
        effective_from=dt.date(2020, 1, 1),
        indicators=DEFAULT_INDICATORS,
        grade_thresholds=DEFAULT_THRESHOLDS,
        quota_adjustments=DEFAULT_ADJUSTMENTS,
        note="seed",
    )
    return {"created": 1, "unchanged": 0}


# -- scoring -------------------------------------------------------------------------------


@dataclass
class Measure:
    """One operator's value of one measure in one month, with what it was computed from."""

    value: float | None
    inputs: dict = field(default_factory=dict)


def indicator_points(definition: dict, value: float) -> float:
    """0–100: linear from ``floor`` (0 points) to ``target`` (100), clipped; either direction."""
    floor, target = float(definition["floor"]), float(definition["target"])
    share = (float(value) - floor) / (target - floor)
    return round(100.0 * min(1.0, max(0.0, share)), 2)


def score_indicators(definitions: list[dict], measures: dict[str, Measure]) -> tuple[float, list[dict]]:
    """The total and one row per indicator; missing indicators' weight is redistributed."""
    present = [
        d
        for d in definitions
        if measures.get(d["code"]) is not None and measures[d["code"]].value is not None
    ]
    present_weight = sum(float(d["weight"]) for d in present)
    rows, total = [], 0.0
    for d in definitions:
        m = measures.get(d["code"]) or Measure(None, {"note": "not measured"})
        missing = m.value is None or present_weight <= 0
        row = {
            "code": d["code"],
            "name": d["name"],
            "weight": float(d["weight"]),
            "method": d.get("method", "linear"),
            "floor": float(d["floor"]),
            "target": float(d["target"]),
            "value": None if m.value is None else round(float(m.value), 4),
            "missing": missing,
            "inputs": m.inputs,
        }
        if missing:
            row.update(points=None, effective_weight=0.0, weighted=0.0)
        else:
            points = indicator_points(d, m.value)
            effective = float(d["weight"]) * 100.0 / present_weight
            weighted = points * effective / 100.0
            total += weighted
            row.update(points=points, effective_weight=round(effective, 4), weighted=round(weighted, 4))
        rows.append(row)
    return round(total, 2), rows


def grade_for(mean_total: float, thresholds: dict) -> str:
    for g in GRADES[:3]:
        if mean_total >= float(thresholds[g]):
            return g
    return "D"


# -- measuring -----------------------------------------------------------------------------


def _measure_data_quality(codes: list[str], first, last, root, now) -> dict[str, Measure]:
    from ..quality import daily_quality

    daily: dict[str, dict[str, float]] = {c: {} for c in codes}
    checked, errors = 0, []
    day = first
    today = timezone.localdate(now)
    while day <= min(last, today):
        checked += 1
        try:
            result = daily_quality(root, day, operator=codes, now=now)
        except Exception as exc:  # noqa: BLE001 - one unreadable day must not lose the month
            logger.warning("assessment: data quality of %s failed", day, exc_info=True)
            errors.append(f"{day}: {type(exc).__name__}")
        else:
            for row in result["operators"]:
                if row["operator"] in daily and row["score"] is not None:
                    daily[row["operator"]][day.isoformat()] = float(row["score"])
        day += dt.timedelta(days=1)
    out = {}
    for code in codes:
        scores = daily[code]
        inputs = {"source": "lake · bikeshare.quality.daily_quality", "days_checked": checked,
                  "days_with_data": len(scores), "daily_scores": scores}  # fmt: skip
        if errors:
            inputs["errors"] = errors[:10]
        out[code] = Measure(round(sum(scores.values()) / len(scores), 2) if scores else None, inputs)
    return out


def _live_in_fence(live_url: str, code: str) -> Measure:
    from ..live import PARKED_STATES, open_live_state

    try:
        with open_live_state(live_url) as live:
            inside = sum(live.count_by_district(code, states=PARKED_STATES, fenced=True).values())
            parked = sum(live.count_by_district(code, states=PARKED_STATES).values())
    except Exception as exc:  # noqa: BLE001 - the live store being down means "no data"
        logger.warning("assessment: live state unavailable", exc_info=True)
        return Measure(
            None, {"source": "live", "note": "湖中本月无行程，实时数据不可用", "error": type(exc).__name__}
        )
    inputs = {"source": "live", "note": "湖中本月无行程，采用实时停放车辆快照",
              "snapshot_at": timezone.now().isoformat(), "parked": parked, "inside": inside}  # fmt: skip
    return Measure(round(100.0 * inside / parked, 4) if parked else None, inputs)


def _measure_in_fence(codes: list[str], first, last, root, live_url) -> dict[str, Measure]:
    import numpy as np

    from govcenter.analytics.lake.query import duckdb_connection

    from .fences import active_fence_index

    index = active_fence_index(last)
    if not len(index):
        return {
            c: Measure(None, {"note": "没有生效的停放围栏", "fence_day": last.isoformat()}) for c in codes
        }
    con = duckdb_connection(root)
    try:
        found = con.execute(
            "SELECT operator, end_lon, end_lat, count(*) AS n FROM trips "
            "WHERE date BETWEEN $first AND $last AND list_contains($ops, operator) "
            "AND end_lon IS NOT NULL AND end_lat IS NOT NULL GROUP BY ALL",
            {"first": first, "last": last, "ops": codes},
        ).fetchnumpy()
    finally:
        con.close()
    ends: dict[str, tuple[int, int]] = {}
    if len(found["n"]):
        inside = index.lookup(np.asarray(found["end_lon"], float),
                              np.asarray(found["end_lat"], float)) >= 0  # fmt: skip
        n = np.asarray(found["n"], dtype=np.int64)
        keys, inverse = np.unique(
            np.asarray(found["operator"], dtype=object).astype(str), return_inverse=True
        )
        totals = np.bincount(inverse, weights=n)
        inside_n = np.bincount(inverse, weights=n * inside)
        ends = {str(k): (int(t), int(i)) for k, t, i in zip(keys, totals, inside_n, strict=True)}
    out = {}
    for code in codes:
        total, inside_count = ends.get(code, (0, 0))
        if total:
            out[code] = Measure(
                round(100.0 * inside_count / total, 4),
                {"source": "lake · trips (end positions)", "trip_ends": total, "inside_fences": inside_count,
                 "fences": len(index), "fence_day": last.isoformat(), "fence_kinds": ["parking", "rail_station"]},
            )  # fmt: skip
        elif live_url:
            out[code] = _live_in_fence(live_url, code)
        else:
            out[code] = Measure(None, {"source": "lake · trips", "trip_ends": 0, "note": "本月无行程数据"})
    return out


def _measure_over_quota(units: list[Unit], at: dt.datetime) -> dict[str, Measure]:
    from ..selectors.quotas import quota_usage

    rows = quota_usage(at)
    out = {}
    for unit in units:
        mine = [r for r in rows if r.operator_id == unit.pk]
        if not mine:
            out[unit.code] = Measure(None, {"note": "未设置投放总量", "at": at.isoformat()})
            continue
        quota = sum(r.quota for r in mine)
        excess = sum(max(r.excess, 0) for r in mine)
        over = [r for r in mine if r.excess > 0]
        inputs = {
            "source": "selectors.quotas.quota_usage (registered fleet)",
            "at": at.isoformat(),
            "quota_total": quota,
            "excess_total": excess,
            "quotas": len(mine),
            "quotas_over": len(over),
            "share_over": round(len(over) / len(mine), 4),
            "rows": [{"district": r.district_code, "district_name": r.district_name, "quota": r.quota,
                      "registered": r.registered, "excess": r.excess} for r in mine],
        }  # fmt: skip
        value = 100.0 * excess / quota if quota else (0.0 if not excess else 100.0)
        out[unit.code] = Measure(round(value, 4), inputs)
    return out


def _measure_work_orders(codes: list[str], first, last) -> dict[str, Measure]:
    try:
        from .workorders import response_stats_all
    except ImportError:
        return {c: Measure(None, {"note": "工单模块尚未提供数据"}) for c in codes}
    try:
        stats = response_stats_all(first, last) or {}
    except Exception as exc:  # noqa: BLE001 - another module's failure is "no data" here
        logger.warning("assessment: work-order stats failed", exc_info=True)
        return {c: Measure(None, {"note": "工单统计失败", "error": type(exc).__name__}) for c in codes}
    out = {}
    for code in codes:
        row = dict(stats.get(code) or {})
        rate = row.get("rate_on_time")
        inputs = {"source": "services.workorders.response_stats_all", **row}
        if rate is None:
            out[code] = Measure(None, {**inputs, "note": "本月无工单"})
        else:
            rate = float(rate)
            out[code] = Measure(round(rate * 100, 4), inputs)  # a share 0–1
    return out


def _measure_scans(units: list[Unit], start, end) -> tuple[dict[str, Measure], dict[str, Measure]]:
    rows = {
        r["operator_id"]: r
        for r in ScanCheck.objects.filter(operator__in=units, checked_at__gte=start, checked_at__lt=end)
        .values("operator_id")
        .annotate(
            total=Count("id"),
            compliant=Count("id", filter=Q(result=ScanResult.COMPLIANT)),
            unregistered=Count("id", filter=Q(vehicle__isnull=True)),
        )
        .order_by()
    }
    compliance, unregistered = {}, {}
    for unit in units:
        r = rows.get(unit.pk)
        if not r or not r["total"]:
            note = {"source": "scan checks", "checks": 0, "note": "本月无扫码核查"}
            compliance[unit.code] = Measure(None, note)
            unregistered[unit.code] = Measure(None, note)
            continue
        inputs = {"source": "scan checks", "checks": r["total"], "compliant": r["compliant"],
                  "unregistered": r["unregistered"],
                  "unregistered_share": round(r["unregistered"] / r["total"], 4)}  # fmt: skip
        compliance[unit.code] = Measure(round(100.0 * r["compliant"] / r["total"], 4), inputs)
        unregistered[unit.code] = Measure(round(100.0 * r["unregistered"] / r["total"], 4), inputs)
    return compliance, unregistered


def _fleet(units: list[Unit], at: dt.datetime) -> dict[int, int]:
    return dict(
        Vehicle.objects.filter(operator__in=units, registered_at__lte=at)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=at))
        .values("operator_id")
        .annotate(n=Count("id"))
        .values_list("operator_id", "n")
    )


def _measure_complaints(units: list[Unit], first, at) -> dict[str, Measure]:
    tallies = {t.operator_id: t for t in ComplaintTally.objects.filter(operator__in=units, month=first)}
    fleet = _fleet(units, at)
    out = {}
    for unit in units:
        t, bikes = tallies.get(unit.pk), fleet.get(unit.pk, 0)
        if t is None:
            out[unit.code] = Measure(None, {"note": "未录入本月投诉件数", "fleet": bikes})
        elif not bikes:
            out[unit.code] = Measure(None, {"complaints": t.count, "fleet": 0, "note": "无登记车辆"})
        else:
            out[unit.code] = Measure(
                round(t.count * 10_000 / bikes, 4),
                {"source": f"manual · {t.source}", "complaints": t.count, "fleet": bikes, "per": 10_000,
                 "entered_at": t.entered_at.isoformat()},
            )  # fmt: skip
    return out


def measure_month(units: list[Unit], year: int, month: int, *, lake_root=None, live_url=None, now=None):
    """Every measure of every operator in ``units`` for the month: ``{code: {measure: Measure}}``."""
    from govcenter.analytics.lake.config import lake_root as configured_root

    first, last, start, end = month_bounds(year, month)
    now = now or timezone.now()
    at = min(end - dt.timedelta(microseconds=1), now)
    root = lake_root or configured_root()
    codes = [u.code for u in units]
    found: dict[str, dict[str, Measure]] = {c: {} for c in codes}
    compliance, unregistered = _measure_scans(units, start, end)
    for name, per in (
        ("data_quality", _measure_data_quality(codes, first, last, root, now)),
        ("in_fence_rate", _measure_in_fence(codes, first, last, root, live_url)),
        ("over_quota", _measure_over_quota(units, at)),
        ("work_order_response", _measure_work_orders(codes, first, last)),
        ("scan_compliance", compliance),
        ("unregistered_share", unregistered),
        ("complaints", _measure_complaints(units, first, at)),
    ):
        for code, m in per.items():
            found[code][name] = m
    return found


# -- monthly assessments -------------------------------------------------------------------


def _operators(operators=None) -> list[Unit]:
    qs = Unit.objects.filter(kind=UnitKind.OPERATOR, is_active=True).order_by("code")
    if operators is not None:
        codes = [o.code if isinstance(o, Unit) else str(o) for o in operators]
        qs = Unit.objects.filter(kind=UnitKind.OPERATOR, code__in=codes).order_by("code")
        if qs.count() != len(set(codes)):
            known = set(qs.values_list("code", flat=True))
            raise ServiceError(
                _("运营企业不存在。"), code="bad_operator", details={"operator": sorted(set(codes) - known)}
            )
    return list(qs)


def assessment_compute_month(
    actor, *, year: int, month: int, operators=None, lake_root=None, live_url=None, now=None
) -> list[MonthlyAssessment]:
    """Compute (or recompute) the month's draft assessment of every active operator.

    A draft is updated in place; when the newest revision is published, a new draft revision
    is created (the published one stays as it was). Measuring reads the lake first, outside
    the transaction; the writes and their audit entries are one transaction.
    """
    _require(actor, COMPUTE_PERMISSION)
    first, _last, _start, _end = month_bounds(year, month)
    now = now or timezone.now()
    if first > timezone.localdate(now):
        raise ServiceError(
            _("不能考核尚未开始的月份。"), code="future_month", details={"month": [f"{first:%Y-%m}"]}
        )
    indicator_set = indicator_set_for(first)
    units = _operators(operators)
    if live_url is None:
        from django.conf import settings

        live_url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", "") or None
    measures = measure_month(units, year, month, lake_root=lake_root, live_url=live_url, now=now)
    results = []
    with transaction.atomic():
        for unit in units:
            Unit.objects.select_for_update().filter(pk=unit.pk).first()  # one writer per operator
            total, rows = score_indicators(indicator_set.indicators, measures[unit.code])
            latest = (
                MonthlyAssessment.objects.select_for_update()
                .filter(operator=unit, month=first)
                .order_by("-revision")
                .first()
            )
            before = audit.snapshot(latest, AUDIT_FIELDS) if latest else {}
            if latest is not None and latest.status == AssessmentStatus.DRAFT:
                row = latest
            else:
                row = MonthlyAssessment(
                    operator=unit, month=first, revision=(latest.revision + 1) if latest else 1
                )
                before = {}
            row.indicator_set = indicator_set
            row.total, row.indicators, row.status = total, rows, AssessmentStatus.DRAFT
            row.computed_at, row.computed_by = now, _user(actor)
            row.save()
            audit.record(
                action="bikeshare.assessment.compute",
                obj=row,
                changes={"before": before, "after": audit.snapshot(row, AUDIT_FIELDS)},
            )
            results.append(row)
    return results


def assessment_publish(actor, assessment: MonthlyAssessment) -> MonthlyAssessment:
    """Publish a draft revision (the newest one); a published revision never changes."""
    _require(actor, PUBLISH_PERMISSION)
    with transaction.atomic():
        row = MonthlyAssessment.objects.select_for_update().get(pk=assessment.pk)
        if row.status == AssessmentStatus.PUBLISHED:
            raise ServiceError(_("该考核结果已发布，不能修改。"), code="already_published", status=409)
        newest = MonthlyAssessment.objects.filter(operator_id=row.operator_id, month=row.month).aggregate(
            r=Max("revision")
        )["r"]
        if row.revision != newest:
            raise ServiceError(_("只能发布最新的修订版本。"), code="stale_revision", status=409)
        before = audit.snapshot(row, AUDIT_FIELDS)
        row.status, row.published_at, row.published_by = (
            AssessmentStatus.PUBLISHED,
            timezone.now(),
            _user(actor),
        )
        row.save(update_fields=["status", "published_at", "published_by"])
        audit.record(
            action="bikeshare.assessment.publish",
            obj=row,
            changes=audit.diff(before, audit.snapshot(row, AUDIT_FIELDS)),
        )
    return row


def _latest(rows) -> dict[int, MonthlyAssessment]:
    latest: dict[int, MonthlyAssessment] = {}
    for row in rows:
        if row.operator_id not in latest or row.revision > latest[row.operator_id].revision:
            latest[row.operator_id] = row
    return latest


def visible_assessments(user):
    """Assessments the caller may see: Center (scope all) every revision, others only
    published revisions of their own operator."""
    qs = MonthlyAssessment.objects.restrict(user).select_related("operator", "indicator_set")
    if not scope_for(user).all:
        qs = qs.filter(status=AssessmentStatus.PUBLISHED)
    return qs


def month_results(user, year: int, month: int) -> list[MonthlyAssessment]:
    """The newest visible revision per operator for the month, by total descending."""
    first = month_first(year, month)
    rows = _latest(visible_assessments(user).filter(month=first)).values()
    return sorted(rows, key=lambda r: (-r.total, r.operator.code))


def _as_dict(row: MonthlyAssessment) -> dict:
    return {
        "id": row.pk,
        "operator_code": row.operator.code,
        "operator_name": row.operator.name_zh,
        "month": row.month.strftime("%Y-%m"),
        "revision": row.revision,
        "indicator_set_version": row.indicator_set.version,
        "total": float(row.total),
        "status": row.status,
        "computed_at": row.computed_at,
        "published_at": row.published_at,
        "indicators": [
            {
                k: ind.get(k)
                for k in (
                    "code",
                    "name",
                    "weight",
                    "effective_weight",
                    "floor",
                    "target",
                    "value",
                    "points",
                    "weighted",
                    "inputs",
                    "missing",
                )
            }
            for ind in row.indicators
        ],  # fmt: skip
    }


def assessment_as_dict(row: MonthlyAssessment) -> dict:
    """The JSON-able picture of one revision (API, pages, reports)."""
    return _as_dict(row)


def month_scores(year: int, month: int) -> list[dict]:
    """Contract for the monthly report: the newest revision per operator (published or
    draft), by total descending, with every indicator's value, points and inputs."""
    first = month_first(year, month)
    rows = _latest(MonthlyAssessment.objects.filter(month=first).select_related("operator", "indicator_set"))
    out = [_as_dict(r) for r in rows.values()]
    out.sort(key=lambda r: (-r["total"], r["operator_code"]))
    return out


# -- quarters ------------------------------------------------------------------------------


def _round_bikes(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def recommendations(operator: Unit, change_pct: float, at: dt.datetime | None = None) -> list[dict]:
    """Next quarter's quota per current quota of ``operator``: current × (1 + pct/100), whole bikes."""
    at = at or timezone.now()
    quotas = (
        FleetQuota.objects.filter(operator=operator, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .select_related("district")
        .order_by("district__code")
    )
    pct = Decimal(str(change_pct))
    return [
        {
            "quota_id": q.pk,
            "district": q.district.code if q.district_id else None,
            "district_name": q.district.name_zh if q.district_id else _("全市"),
            "current_quota": q.quota,
            "recommended_quota": max(0, _round_bikes(Decimal(q.quota) * (100 + pct) / 100)),
            "change_pct": float(pct),
        }
        for q in quotas
    ]


def _quarter_rows(year: int, quarter: int, operators: list[Unit] | None = None) -> list[dict]:
    months = [month_first(y, m) for y, m in quarter_months(year, quarter)]
    qs = MonthlyAssessment.objects.filter(month__in=months).select_related("operator", "indicator_set")
    if operators is not None:
        qs = qs.filter(operator__in=operators)
    by_operator: dict[int, dict[dt.date, list[MonthlyAssessment]]] = {}
    for row in qs:
        by_operator.setdefault(row.operator_id, {}).setdefault(row.month, []).append(row)
    indicator_set = indicator_set_for(months[-1])
    out = []
    for revisions in by_operator.values():
        used, provisional = [], False
        for first in months:
            rows = revisions.get(first, [])
            published = [r for r in rows if r.status == AssessmentStatus.PUBLISHED]
            pick = max(published or rows, key=lambda r: r.revision) if rows else None
            if pick is None or pick.status != AssessmentStatus.PUBLISHED:
                provisional = True
            if pick is not None:
                used.append(pick)
        operator = used[0].operator
        mean = round(sum(r.total for r in used) / len(used), 2)
        grade = grade_for(mean, indicator_set.grade_thresholds)
        pct = float(indicator_set.quota_adjustments.get(grade, 0))
        out.append(
            {
                "operator": operator,
                "operator_code": operator.code,
                "operator_name": operator.name_zh,
                "year": year,
                "quarter": quarter,
                "mean_total": mean,
                "grade": grade,
                "change_pct": pct,
                "provisional": provisional,
                "indicator_set": indicator_set,
                "months": [
                    {
                        "month": r.month.strftime("%Y-%m"),
                        "assessment": r.pk,
                        "revision": r.revision,
                        "status": r.status,
                        "total": r.total,
                    }
                    for r in used
                ],  # fmt: skip
                "recommendations": recommendations(operator, pct),
            }
        )
    out.sort(key=lambda r: (-r["mean_total"], r["operator_code"]))
    return out


def quarter_grades(year: int, quarter: int) -> list[dict]:
    """Contract for the monthly report: per operator the quarter's mean monthly total, its
    grade and the quota recommendations (computed now, nothing written)."""
    return [
        {k: v for k, v in row.items() if k not in ("operator", "indicator_set")}
        for row in _quarter_rows(year, quarter)
    ]


def quarter_grade_compute(actor, *, year: int, quarter: int) -> list[QuarterlyGrade]:
    """Store the quarter's grades (an adopted grade is kept as adopted, not recomputed)."""
    _require(actor, GRADE_COMPUTE_PERMISSION)
    rows = _quarter_rows(year, quarter)
    now = timezone.now()
    stored = []
    with transaction.atomic():
        for r in rows:
            grade = (
                QuarterlyGrade.objects.select_for_update()
                .filter(operator=r["operator"], year=year, quarter=quarter)
                .first()
            )
            if grade is not None and grade.adopted_at is not None:
                stored.append(grade)
                continue
            before = audit.snapshot(grade, GRADE_FIELDS) if grade else {}
            grade = grade or QuarterlyGrade(operator=r["operator"], year=year, quarter=quarter)
            grade.indicator_set = r["indicator_set"]
            grade.mean_total, grade.grade, grade.provisional = r["mean_total"], r["grade"], r["provisional"]
            grade.months, grade.recommendations, grade.computed_at = r["months"], r["recommendations"], now
            grade.save()
            audit.record(
                action="bikeshare.assessment.grade",
                obj=grade,
                changes={"before": before, "after": audit.snapshot(grade, GRADE_FIELDS)},
            )
            stored.append(grade)
    return stored


def visible_grades(user):
    """Quarter grades in the caller's scope; outside the Center only final (not provisional) ones."""
    qs = QuarterlyGrade.objects.restrict(user).select_related("operator", "indicator_set")
    if not scope_for(user).all:
        qs = qs.filter(provisional=False)
    return qs


def _quarter_start(year: int, quarter: int) -> dt.datetime:
    first = dt.date(year + quarter // 4, (quarter % 4) * 3 + 1, 1)
    return timezone.make_aware(dt.datetime.combine(first, dt.time.min), timezone.get_current_timezone())


def quarter_grade_adopt(actor, grade: QuarterlyGrade) -> QuarterlyGrade:
    """Set the recommended quotas (``quota_set``: the quota history records each one) from the
    next quarter's start (now, if that has passed). Refused when already adopted (409), when
    the grade is provisional (409) or when a quota changed since the recommendation (409)."""
    from .quotas import quota_set

    _require(actor, *ADOPT_PERMISSIONS)
    with transaction.atomic():
        row = QuarterlyGrade.objects.select_for_update().select_related("operator").get(pk=grade.pk)
        if row.adopted_at is not None:
            raise ServiceError(_("该建议已采纳。"), code="already_adopted", status=409)
        if row.provisional:
            raise ServiceError(
                _("季度考核尚未全部发布，不能采纳建议。"), code="grade_provisional", status=409
            )
        now = timezone.now()
        start = max(_quarter_start(row.year, row.quarter), now)
        changed = []
        for rec in row.recommendations:
            current = FleetQuota.objects.filter(pk=rec["quota_id"], valid_to__isnull=True).first()
            if current is None or current.quota != rec["current_quota"]:
                raise ServiceError(
                    _("投放总量已变更，请重新计算季度等级。"),
                    code="quota_changed",
                    status=409,
                    details={"quota": [rec["quota_id"]]},
                )
            if rec["recommended_quota"] == current.quota:
                continue
            quota_set(
                actor,
                operator=row.operator,
                district=current.district,
                quota=rec["recommended_quota"],
                reason=f"{row.year}Q{row.quarter} 考核等级 {row.grade}（{rec['change_pct']:+g}%）",
                valid_from=start,
            )
            changed.append(rec["quota_id"])
        row.adopted_at, row.adopted_by = now, _user(actor)
        row.save(update_fields=["adopted_at", "adopted_by"])
        audit.record(
            action="bikeshare.assessment.adopt",
            obj=row,
            changes={"after": {"adopted_at": now, "quotas_changed": changed, "valid_from": start}},
        )
    return row


# -- complaints ----------------------------------------------------------------------------


def complaint_tally_set(
    actor, *, operator: Unit, year: int, month: int, count: int, source: str
) -> ComplaintTally:
    """Record (or correct) the complaints counted for ``operator`` in a month, with its source."""
    _require(actor, COMPLAINT_PERMISSION)
    first = month_first(year, month)
    if operator.kind != UnitKind.OPERATOR:
        raise ServiceError(_("运营企业不存在。"), code="bad_operator", details={"operator": [operator.pk]})
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COMPLAINTS:
        raise ServiceError(_("投诉件数须为非负整数。"), code="bad_count", details={"count": [str(count)]})
    source = str(source or "").strip()
    if not source or len(source) > 200:
        raise ServiceError(_("请填写数据来源。"), code="bad_source", details={"source": ["1–200 characters"]})
    with transaction.atomic():
        row = ComplaintTally.objects.select_for_update().filter(operator=operator, month=first).first()
        before = audit.snapshot(row, ["count", "source"]) if row else {}
        row = row or ComplaintTally(operator=operator, month=first)
        row.count, row.source, row.entered_by = count, source, _user(actor)
        row.save()
        audit.record(
            action="bikeshare.assessment.complaints",
            obj=row,
            changes={
                "before": before,
                "after": audit.snapshot(row, ["id", "operator_id", "month", "count", "source"]),
            },
        )
    return row


# -- the demo ------------------------------------------------------------------------------


def load_demo_assessment() -> dict[str, int]:
    """``govcenter demo``: the default set and a draft of the demo day's month, once."""
    seeded = seed_default_indicator_set()
    day = timezone.localdate() - dt.timedelta(days=1)
    if MonthlyAssessment.objects.filter(month=day.replace(day=1)).exists():
        return {"indicator sets": seeded["created"], "assessments": 0}
    rows = assessment_compute_month(None, year=day.year, month=day.month)
    return {"indicator sets": seeded["created"], "assessments": len(rows)}
