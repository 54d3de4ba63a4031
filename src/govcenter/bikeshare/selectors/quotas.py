"""Over-quota detection: registered (and, optionally, live) bikes against fleet quotas.

For each quota in force at a moment, per operator and district (city-wide quotas count
every district):

* ``registered`` — the operator's registered vehicles (``Vehicle``) registered by then and
  not retired by then, in that district (by the vehicle's registered district);
* ``live`` — with a live store, the operator's bikes the live picture places in that
  district (``LiveState.count_by_operator_district()``: every operator in one query, read
  once per call — or the caller's ``live_counts`` of it, so a page that shows the counts
  too does not count twice), else None;
* ``excess`` — the larger of the two minus the quota.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from ..models import FleetQuota, Vehicle


@dataclass(frozen=True)
class QuotaUsage:
    quota_id: int
    operator_id: int
    operator_code: str
    operator_name: str
    district_id: int | None
    district_code: str | None  # None: city-wide
    district_name: str | None
    quota: int
    registered: int
    live: int | None
    excess: int

    def as_dict(self) -> dict:
        return asdict(self)


def _moment(at: date | datetime | None) -> datetime:
    """A date means its last moment (local time): the quota and fleet as the day ended."""
    if at is None:
        return timezone.now()
    if isinstance(at, datetime):
        return at
    return timezone.make_aware(datetime.combine(at + timedelta(days=1), time.min)) - timedelta(microseconds=1)


def quota_usage(
    at: date | datetime | None = None,
    *,
    live=None,
    user=None,
    live_counts: Mapping[tuple[str, str], int] | None = None,
) -> list[QuotaUsage]:
    """Every quota in force at ``at`` (now; a date: its end) with its usage, sorted by operator, district.

    ``user``: limit to the quotas in the caller's data scope. ``live_counts``: the live bikes
    per (operator code, district code) as ``live.count_by_operator_district()`` gave them
    (instead of ``live``).
    """
    moment = _moment(at)
    quotas = FleetQuota.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=moment), valid_from__lte=moment
    ).select_related("operator", "district")
    if user is not None:
        quotas = quotas.restrict(user)
    quotas = list(quotas)
    operators = {q.operator_id for q in quotas}
    fleet = (
        Vehicle.objects.filter(operator_id__in=operators, registered_at__lte=moment)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=moment))
        .values("operator_id", "district_id")
        .annotate(n=Count("id"))
    )
    registered: dict[tuple[int, int | None], int] = {}
    for row in fleet:
        registered[(row["operator_id"], row["district_id"])] = row["n"]
    by_operator: dict[str, dict[str, int]] | None = None
    if live_counts is None and live is not None and quotas:
        live_counts = live.count_by_operator_district()
    if live_counts is not None:
        by_operator = defaultdict(dict)
        for (code, district), n in live_counts.items():
            by_operator[code][district] = n
    rows = []
    for q in quotas:
        if q.district_id is None:
            n_registered = sum(n for (op, _d), n in registered.items() if op == q.operator_id)
        else:
            n_registered = registered.get((q.operator_id, q.district_id), 0)
        n_live = None
        if by_operator is not None:
            by_district = by_operator.get(q.operator.code, {})
            n_live = (
                sum(by_district.values()) if q.district_id is None else by_district.get(q.district.code, 0)
            )
        seen = max(n_registered, n_live or 0)
        rows.append(
            QuotaUsage(
                quota_id=q.pk,
                operator_id=q.operator_id,
                operator_code=q.operator.code,
                operator_name=q.operator.name_zh,
                district_id=q.district_id,
                district_code=q.district.code if q.district_id else None,
                district_name=q.district.name_zh if q.district_id else None,
                quota=q.quota,
                registered=n_registered,
                live=n_live,
                excess=seen - q.quota,
            )
        )
    rows.sort(key=lambda r: (r.operator_code, r.district_code or ""))
    return rows


def over_quota(
    at: date | datetime | None = None,
    *,
    live=None,
    user=None,
    live_counts: Mapping[tuple[str, str], int] | None = None,
) -> list[QuotaUsage]:
    """The quotas exceeded at ``at`` (registered or live bikes above the quota)."""
    return [r for r in quota_usage(at, live=live, user=user, live_counts=live_counts) if r.excess > 0]
