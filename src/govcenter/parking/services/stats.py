"""Daily statistics (统计): ``stats_compute`` fills DailyDistrictStat and DailySegmentStat.

Everything about orders is aggregated in the database (SQLite and PostgreSQL alike): one
grouped query for the money and counts of the orders started that day, one for the 24
hourly occupied space-seconds of the stays overlapping the day (each stay clipped to the
hour with ``GREATEST``/``LEAST``), one for the available space-seconds from the space
versions, one each for hourly starts and device events. Python only loops over segments
and over device offline periods (few), never over orders.

Definitions (local day, Asia/Shanghai; void orders never count):

* ``orders``: orders started that day; ``amount_due_fen`` = due + adjustment of those,
  ``amount_paid_fen`` = paid of those (a cohort: the payment rate of a day moves while its
  arrears are paid later; recompute to refresh); ``arrears_*`` = those now in arrears and
  what they still owe;
* ``sessions`` / ``dwell_seconds``: the orders started that day that have ended, and their
  total duration (average duration = dwell / sessions);
* ``available_seconds``: active space versions × time inside the day; ``occupied_seconds``:
  stays clipped to the day (an open stay runs to now); ``unknown_seconds``: space-time when
  every device watching the space (its sensors, else the segment's cameras) was offline;
* ``complaints``: complaints and appeals registered that day; ``new_arrears_*``: orders that
  turned into arrears that day (ArrearsRecord) and what they owed; ``penalty_cases``: cases
  opened that day — each only when the complaints/arrears modules provide those models.

Stays are looked up from ``GOVCENTER_PARKING_STATS_MAX_STAY_DAYS`` before the day (the
``started_at`` index bounds the scan); a longer stay is left out of the occupancy.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, DateTimeField, DurationField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, ExtractHour, Greatest, Least
from django.utils import timezone

from govcenter.core import audit
from govcenter.core.models import District

from ..models import Device, DeviceEvent, DeviceOfflinePeriod, Order, OrderState, Segment, Space, SpaceVersion
from ..models.orders import PAYABLE_FEN
from ..models.stats import DailyDistrictStat, DailySegmentStat

TZ = ZoneInfo("Asia/Shanghai")
HOURS = 24
HOURLY_KEYS = ("orders", "sessions", "dwell", "occupied", "unknown", "available", "events")
_ZERO = dt.timedelta(0)
_FLOWS = ("complaints", "new_arrears_orders", "new_arrears_fen", "penalty_cases")
_SUMMED = (
    "orders",
    "sessions",
    "amount_due_fen",
    "amount_paid_fen",
    "arrears_orders",
    "arrears_fen",
    "available_seconds",
    "occupied_seconds",
    "unknown_seconds",
    "dwell_seconds",
)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local (Asia/Shanghai) day as aware datetimes."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=TZ)
    return start, start + dt.timedelta(days=1)


def _windows(day: dt.date, cap: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The 24 local hours of ``day``, each cut at ``cap`` (now, for today): empty ones have lo == hi."""
    start, _end = day_bounds(day)
    out = []
    for h in range(HOURS):
        lo, hi = start + dt.timedelta(hours=h), start + dt.timedelta(hours=h + 1)
        out.append((min(lo, cap), min(hi, cap)))
    return out


def _overlap_sum(start: str, end, lo: dt.datetime, hi: dt.datetime) -> Sum:
    """SUM over rows of the length of [start, end) ∩ [lo, hi) as a duration (0 when disjoint)."""
    lo_v, hi_v = Value(lo, output_field=DateTimeField()), Value(hi, output_field=DateTimeField())
    clipped = Least(end, hi_v, output_field=DateTimeField()) - Greatest(
        F(start), lo_v, output_field=DateTimeField()
    )
    return Sum(
        Case(
            When(Q(**{f"{start}__lt": hi}) & Q(_end__gt=lo), then=clipped),
            default=Value(_ZERO),
            output_field=DurationField(),
        )
    )


def _seconds(value) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    return int(value) // 1_000_000  # a backend that returns microseconds


def _hourly_overlap(qs, group: str, start: str, end_field: str, windows) -> dict[int, list[int]]:
    """``{group_id: [24 seconds]}``: the rows' [start, end) clipped to each hour, summed per group."""
    cap = Value(windows[-1][1], output_field=DateTimeField())
    qs = qs.annotate(_end=Coalesce(F(end_field), cap, output_field=DateTimeField()))
    aggregates = {
        f"h{i}": _overlap_sum(start, F("_end"), lo, hi) for i, (lo, hi) in enumerate(windows) if hi > lo
    }
    out: dict[int, list[int]] = {}
    if not aggregates:
        return out
    for row in qs.order_by().values(group).annotate(**aggregates):
        out[row[group]] = [_seconds(row.get(f"h{i}")) for i in range(HOURS)]
    return out


def _intervals_intersection(lists: list[list[tuple]]) -> list[tuple]:
    """Intersection of several unions of intervals (each list sorted, non-overlapping)."""
    result = lists[0]
    for other in lists[1:]:
        merged, i, j = [], 0, 0
        while i < len(result) and j < len(other):
            lo, hi = max(result[i][0], other[j][0]), min(result[i][1], other[j][1])
            if lo < hi:
                merged.append((lo, hi))
            if result[i][1] < other[j][1]:
                i += 1
            else:
                j += 1
        result = merged
    return result


def _union(intervals: list[tuple]) -> list[tuple]:
    out: list[list] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [tuple(x) for x in out]


def _unknown_hourly(segment_ids: list[int], windows) -> dict[int, list[int]]:
    """``{segment_id: [24 unknown space-seconds]}`` from the device offline periods.

    A space is unknown while every device watching it is offline: its sensors when it has
    some, else the segment's cameras (a space with no device at all is known: patrol PDAs).
    """
    lo, hi = windows[0][0], windows[-1][1]
    out: dict[int, list[int]] = {}
    if hi <= lo:
        return out
    devices = list(
        Device.objects.filter(Q(segment_id__in=segment_ids) | Q(space__segment_id__in=segment_ids))
        .exclude(kind="pda")
        .exclude(status=Device.Status.RETIRED)
        .values_list("pk", "segment_id", "space_id")
    )
    periods: dict[int, list[tuple]] = defaultdict(list)
    for device_id, started, ended in (
        DeviceOfflinePeriod.objects.filter(device_id__in=[d[0] for d in devices], started_at__lt=hi)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=lo))
        .values_list("device_id", "started_at", "ended_at")
    ):
        periods[device_id].append((max(started, lo), min(ended or hi, hi)))
    if not periods:
        return out
    sensors: dict[int, list[int]] = defaultdict(list)
    cameras: dict[int, list[int]] = defaultdict(list)
    for pk, segment_id, space_id in devices:
        if space_id:
            sensors[space_id].append(pk)
        else:
            cameras[segment_id].append(pk)
    spaces = Space.objects.filter(segment_id__in=segment_ids).exclude(status=Space.Status.RETIRED)
    for space_id, segment_id in spaces.values_list("pk", "segment_id"):
        watchers = sensors.get(space_id) or cameras.get(segment_id)
        if not watchers or any(w not in periods for w in watchers):
            continue
        down = _intervals_intersection([_union(periods[w]) for w in watchers])
        if not down:
            continue
        hours = out.setdefault(segment_id, [0] * HOURS)
        for i, (wlo, whi) in enumerate(windows):
            for dlo, dhi in down:
                a, b = max(wlo, dlo), min(whi, dhi)
                if b > a:
                    hours[i] += int((b - a).total_seconds())
    return out


def _flows_by_district(
    module: str, model_name: str, when: tuple[str, ...], district_ids, start, end, amount: str | None = None
) -> dict[int, tuple[int, int]]:
    """``{district: (count, sum of amount)}`` of another area's rows dated in [start, end).

    Read at compute time and only when that module provides the model (with ``district``
    and one of the ``when`` fields, the first present wins), so statistics never depend on
    a module being installed.
    """
    import importlib

    model = getattr(importlib.import_module(f"govcenter.parking.models.{module}"), model_name, None)
    if model is None:
        return {}
    names = {f.name for f in model._meta.get_fields()}
    field = next((f for f in when if f in names), None)
    if field is None or "district" not in names or (amount and amount not in names):
        return {}
    rows = (
        model.objects.filter(district_id__in=district_ids, **{f"{field}__gte": start, f"{field}__lt": end})
        .order_by()
        .values("district")
        .annotate(n=Count("pk"), total=Coalesce(Sum(amount), 0) if amount else Value(0))
    )
    return {r["district"]: (r["n"], int(r["total"])) for r in rows}


def _segment_rows(day: dt.date, segments: list[Segment], now: dt.datetime) -> list[DailySegmentStat]:
    start, end = day_bounds(day)
    cap = min(end, max(start, now))
    windows = _windows(day, cap)
    ids = [s.pk for s in segments]
    live = Order.objects.filter(segment_id__in=ids).exclude(state=OrderState.VOID)

    started = live.filter(started_at__gte=start, started_at__lt=end)
    ended_q = Q(ended_at__isnull=False)
    money = {
        r["segment"]: r
        for r in started.order_by()
        .values("segment")
        .annotate(
            # Names unlike the columns: F("amount_due_fen") must still mean the column.
            m_orders=Count("pk"),
            m_sessions=Count("pk", filter=ended_q),
            m_due=Coalesce(Sum(F("amount_due_fen") + F("amount_adjustment_fen")), 0),
            m_paid=Coalesce(Sum("amount_paid_fen"), 0),
            m_arrears=Count("pk", filter=Q(state=OrderState.ARREARS)),
            m_arrears_fen=Coalesce(Sum(PAYABLE_FEN, filter=Q(state=OrderState.ARREARS)), 0),
            dwell=Sum(F("ended_at") - F("started_at"), filter=ended_q, output_field=DurationField()),
        )
    }
    by_hour: dict[int, dict[str, list[int]]] = defaultdict(
        lambda: {k: [0] * HOURS for k in ("orders", "sessions", "dwell")}
    )
    for r in (
        started.annotate(hour=ExtractHour("started_at", tzinfo=TZ))
        .order_by()
        .values("segment", "hour")
        .annotate(
            n=Count("pk"),
            done=Count("pk", filter=ended_q),
            dwell=Sum(F("ended_at") - F("started_at"), filter=ended_q, output_field=DurationField()),
        )
    ):
        hours = by_hour[r["segment"]]
        hours["orders"][r["hour"]] = r["n"]
        hours["sessions"][r["hour"]] = r["done"]
        hours["dwell"][r["hour"]] = _seconds(r["dwell"])
    max_stay = dt.timedelta(days=settings.GOVCENTER_PARKING_STATS_MAX_STAY_DAYS)
    stays = live.filter(started_at__gte=start - max_stay, started_at__lt=cap).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )
    occupied = _hourly_overlap(stays, "segment", "started_at", "ended_at", windows)
    versions = (
        SpaceVersion.objects.filter(space__segment_id__in=ids, status=Space.Status.ACTIVE, valid_from__lt=cap)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
        .annotate(segment=F("space__segment_id"))
    )
    available = _hourly_overlap(versions, "segment", "valid_from", "valid_to", windows)
    events: dict[int, list[int]] = defaultdict(lambda: [0] * HOURS)
    for r in (
        DeviceEvent.objects.filter(segment_id__in=ids, event_time__gte=start, event_time__lt=end)
        .annotate(hour=ExtractHour("event_time", tzinfo=TZ))
        .order_by()
        .values("segment", "hour")
        .annotate(n=Count("pk"))
    ):
        events[r["segment"]][r["hour"]] = r["n"]
    unknown = _unknown_hourly(ids, windows)

    rows = []
    zero = [0] * HOURS
    for segment in segments:
        m = money.get(segment.pk, {})
        hourly = {
            "orders": by_hour[segment.pk]["orders"] if segment.pk in by_hour else zero,
            "sessions": by_hour[segment.pk]["sessions"] if segment.pk in by_hour else zero,
            "dwell": by_hour[segment.pk]["dwell"] if segment.pk in by_hour else zero,
            "occupied": occupied.get(segment.pk, zero),
            "unknown": unknown.get(segment.pk, zero),
            "available": available.get(segment.pk, zero),
            "events": events[segment.pk] if segment.pk in events else zero,
        }
        # Unknown cannot exceed what was available (a device may watch a closed space).
        hourly["unknown"] = [min(u, a) for u, a in zip(hourly["unknown"], hourly["available"], strict=True)]
        if not any(any(v) for v in hourly.values()) and not m:
            continue
        rows.append(
            DailySegmentStat(
                date=day,
                segment=segment,
                district_id=segment.district_id,
                orders=m.get("m_orders", 0),
                sessions=m.get("m_sessions", 0),
                amount_due_fen=m.get("m_due", 0),
                amount_paid_fen=m.get("m_paid", 0),
                arrears_orders=m.get("m_arrears", 0),
                arrears_fen=m.get("m_arrears_fen", 0),
                dwell_seconds=_seconds(m.get("dwell")),
                available_seconds=sum(hourly["available"]),
                occupied_seconds=sum(hourly["occupied"]),
                unknown_seconds=sum(hourly["unknown"]),
                events=sum(hourly["events"]),
                hourly=hourly,
            )
        )
    return rows


def stats_compute(
    *, date: dt.date, districts=None, now: dt.datetime | None = None
) -> list[DailyDistrictStat]:
    """Compute (or recompute: an upsert) the statistics of ``date`` for ``districts`` (default all).

    Returns the district rows. Idempotent: running it twice leaves the same rows; segment
    rows of a segment without any activity that day are removed.
    """
    now = now or timezone.now()
    district_qs = District.objects.all()
    if districts is not None:
        district_qs = district_qs.filter(pk__in=[getattr(d, "pk", d) for d in districts])
    district_ids = list(district_qs.values_list("pk", flat=True))
    segments = list(Segment.objects.filter(district_id__in=district_ids).only("pk", "district_id"))
    segment_rows = _segment_rows(date, segments, now)
    start, end = day_bounds(date)
    # Complaints and appeals registered that day; arrears and penalty cases opened that day.
    complaints = _flows_by_district(
        "complaints", "Complaint", ("received_at", "created_at"), district_ids, start, end
    )
    arrears = _flows_by_district(
        "arrears", "ArrearsRecord", ("created_at",), district_ids, start, end, "amount_fen"
    )
    penalties = _flows_by_district("arrears", "PenaltyCase", ("created_at",), district_ids, start, end)

    totals: dict[int, dict[str, int]] = {pk: dict.fromkeys(_SUMMED, 0) for pk in district_ids}
    for row in segment_rows:
        for name in _SUMMED:
            totals[row.district_id][name] += getattr(row, name)
    district_rows = [
        DailyDistrictStat(
            date=date,
            district_id=pk,
            complaints=complaints.get(pk, (0, 0))[0],
            new_arrears_orders=arrears.get(pk, (0, 0))[0],
            new_arrears_fen=arrears.get(pk, (0, 0))[1],
            penalty_cases=penalties.get(pk, (0, 0))[0],
            **values,
        )
        for pk, values in totals.items()
    ]
    fields = [*_SUMMED, "computed_at"]
    with transaction.atomic():
        DailySegmentStat.objects.filter(date=date, district_id__in=district_ids).exclude(
            segment_id__in=[r.segment_id for r in segment_rows]
        ).delete()
        DailySegmentStat.objects.bulk_create(
            segment_rows,
            update_conflicts=True,
            unique_fields=["date", "segment"],
            update_fields=[*fields, "district", "events", "hourly"],
            batch_size=500,
        )
        DailyDistrictStat.objects.bulk_create(
            district_rows,
            update_conflicts=True,
            unique_fields=["date", "district"],
            update_fields=[*fields, *_FLOWS],
        )
        audit.record(
            action="parking.stats.compute",
            object_type="parking.dailydistrictstat",
            object_id=date.isoformat(),
            object_repr=f"{date.isoformat()} ({len(district_rows)} districts)",
            changes={
                "date": date.isoformat(),
                "districts": len(district_rows),
                "segments": len(segment_rows),
                "orders": sum(r.orders for r in district_rows),
            },
        )
    return list(
        DailyDistrictStat.objects.filter(date=date, district_id__in=district_ids).select_related("district")
    )


def stat_summary(row: DailyDistrictStat) -> dict:
    """A district day as plain JSON (the command's output and the dashboard's table rows)."""
    return {
        "date": row.date.isoformat(),
        "district": row.district.code if row.district_id else None,  # None: a summed row
        "district_name": row.district.name_zh if row.district_id else "",
        "orders": row.orders,
        "sessions": row.sessions,
        "amount_due_fen": row.amount_due_fen,
        "amount_paid_fen": row.amount_paid_fen,
        "payment_rate": row.payment_rate,
        "arrears_orders": row.arrears_orders,
        "arrears_fen": row.arrears_fen,
        "complaints": row.complaints,
        "new_arrears_orders": row.new_arrears_orders,
        "new_arrears_fen": row.new_arrears_fen,
        "penalty_cases": row.penalty_cases,
        "available_space_hours": row.available_space_hours,
        "occupied_space_hours": row.occupied_space_hours,
        "unknown_space_hours": row.unknown_space_hours,
        "occupancy_rate": row.occupancy_rate,
        "turnover": row.turnover,
        "average_duration_minutes": row.average_duration_minutes,
    }


# -- reads (the dashboard and its export; always through the caller's scope) -----------------


def _summed(qs) -> dict[str, int]:
    sums = qs.order_by().aggregate(**{name: Coalesce(Sum(name), 0) for name in (*_SUMMED, *_FLOWS)})
    return {k: int(v) for k, v in sums.items()}


def stats_total(rows) -> DailyDistrictStat:
    """An unsaved row holding the sums of ``rows`` (a scoped queryset), so the rates derive the same way."""
    return DailyDistrictStat(**_summed(rows))


def stats_rows(*, user, date: dt.date, district=None):
    """The caller's district rows of one day (scoped)."""
    qs = DailyDistrictStat.objects.restrict(user).filter(date=date).select_related("district")
    if district is not None:
        qs = qs.filter(district=district)
    return qs.order_by("district__sort_order", "district__code")


def stats_trend(*, user, end: dt.date, days: int = 30, district=None) -> list[DailyDistrictStat]:
    """One summed (unsaved) row per day of the ``days`` days ending with ``end``, over the caller's scope."""
    start = end - dt.timedelta(days=days - 1)
    qs = DailyDistrictStat.objects.restrict(user).filter(date__gte=start, date__lte=end)
    if district is not None:
        qs = qs.filter(district=district)
    by_day = {
        r.pop("date"): r
        for r in qs.order_by()
        .values("date")
        .annotate(**{name: Coalesce(Sum(name), 0) for name in (*_SUMMED, *_FLOWS)})
    }
    out = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        out.append(DailyDistrictStat(date=day, **by_day.get(day, {})))
    return out
