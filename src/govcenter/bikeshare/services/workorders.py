"""Work orders to operators (派单): issue, respond, verify, sweep, generate, count.

Permissions (function; data scope on top):

* ``bikeshare.view_workorder`` — read orders in the caller's scope;
* ``bikeshare.add_workorder`` — the Center issues orders (by hand, or "generate from the
  current violations");
* ``bikeshare.change_workorder`` — the Center verifies: close (accepted), reopen (rejected,
  back to ``issued`` with a new deadline), cancel (with a reason);
* ``bikeshare.respond_workorder`` — the operator responds (note + evidence). Only orders of
  an operator the caller's scope names (``operator`` scope) or a city-wide scope: district
  staff can see but never respond for an operator.

The finite-state machine (anything else is refused with 409 ``bad_transition``)::

    issued ──respond──▶ responded ──close──▶ closed
      ▲                     │
      └──────reopen─────────┘          issued/responded ──cancel──▶ cancelled

Retries are harmless: responding again with the same note and evidence, closing a closed
order and cancelling a cancelled one return the order unchanged.

Deadlines: ``due_at = issued_at + hours`` from ``GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS``
(per kind; defaults in :data:`DEFAULT_DUE_HOURS`); a reopened order gets a fresh deadline of
the same length from the moment of reopening. :func:`sweep_overdue` (periodic) stamps
``overdue_at = due_at`` on every issued order past its deadline and records an event.

Generation (:func:`generate_from_violations`, periodic and the Center's button), each
violation with a ``dedupe_key`` so an order still open is never issued twice:

* ``outside_fence`` — the live picture's bikes parked outside every parking fence, **one
  order per operator and district** listing the vehicles (at most
  ``GOVCENTER_BIKESHARE_WORKORDER_MAX_VEHICLES`` in the evidence, the count in full). Key
  ``outside_fence:<operator>:<district>``: while that order is open, new bikes of the same
  operator in the same district join no new order — the operator clears the district;
* ``over_quota`` — every quota exceeded (``selectors.quotas.over_quota``, with the live
  picture when there is one). Key ``over_quota:<quota id>``;
* ``accumulation`` — stations whose net inflow in a peak hour today exceeds
  ``GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_THRESHOLD`` (``analyses.accumulation_alerts``
  over the lake's trips), issued to each operator with at least
  ``GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_MIN_BIKES`` bikes within the station's radius
  in the live picture. Key ``accumulation:<station>:<date>:<operator>``. Skipped without a
  lake or live store;
* ``scan_violation`` — scan checks of the last 24 hours that found a problem on a bike of a
  known operator. Key ``scan:<check id>``.

:func:`response_stats` / :func:`response_stats_all` feed the monthly assessment.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter, defaultdict
from dataclasses import asdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import Datum, to_gcj02
from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models.workorders import (
    OPEN_STATUSES,
    WorkOrder,
    WorkOrderAction,
    WorkOrderCounter,
    WorkOrderEvent,
    WorkOrderKind,
    WorkOrderSource,
    WorkOrderStatus,
)

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
VIEW_PERMISSION = "bikeshare.view_workorder"
ISSUE_PERMISSION = "bikeshare.add_workorder"
VERIFY_PERMISSION = "bikeshare.change_workorder"
RESPOND_PERMISSION = "bikeshare.respond_workorder"
NUMBER_PREFIX = "派单"
DEFAULT_DUE_HOURS = {
    WorkOrderKind.OUTSIDE_FENCE: 2,
    WorkOrderKind.ACCUMULATION: 2,
    WorkOrderKind.OVER_QUOTA: 24,
    WorkOrderKind.SCAN_VIOLATION: 24,
    WorkOrderKind.MANUAL: 24,
}
MAX_DUE_HOURS = 24 * 30
MAX_NOTE = 2000
MAX_TITLE = 200
MAX_SUBJECT = 255
MAX_EVIDENCE_ITEMS = 20
MAX_EVIDENCE_CHARS = 500
MAX_STATS_DAYS = 366
SCAN_LOOKBACK = dt.timedelta(hours=24)
AUDIT_FIELDS = ["id", "number", "operator_id", "district_id", "kind", "subject", "dedupe_key", "status",
                "issued_at", "due_at", "overdue_at", "responded_at", "closed_at", "cancelled_at",
                "reopen_count"]  # fmt: skip


def setting(name: str, default):
    return getattr(settings, name, default)


def deadline_hours(kind: str) -> float:
    """The response deadline of ``kind`` in hours (settings, else :data:`DEFAULT_DUE_HOURS`)."""
    configured = setting("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS", {}) or {}
    hours = configured.get(str(kind), DEFAULT_DUE_HOURS.get(kind, 24))
    return float(hours)


# -- helpers ---------------------------------------------------------------------------------


def _require(actor, permission: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_perm(permission):
        raise PermissionDenied(_("没有派单的操作权限。"))


def _clean_text(value, name: str, limit: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        label = {"title": _("标题"), "note": _("说明"), "reason": _("撤销原因")}.get(name, name)
        raise ServiceError(
            _("请填写%(name)s。") % {"name": label}, code="missing", details={name: ["required"]}
        )
    if len(text) > limit or any(ord(c) < 32 and c not in "\r\n\t" for c in text):
        raise ServiceError(_("内容过长或含有非法字符。"), code="too_long", details={name: [str(limit)]})
    return text


def _clean_evidence(items) -> list[str]:
    if items in (None, ""):
        return []
    if isinstance(items, str):
        items = [line for line in items.splitlines()]
    if not isinstance(items, list | tuple):
        raise ServiceError(_("证据格式不正确。"), code="bad_evidence", details={"evidence": ["list"]})
    out = []
    for item in items:
        text = str(item or "").strip()
        if not text:
            continue
        if len(text) > MAX_EVIDENCE_CHARS or any(ord(c) < 32 for c in text):
            raise ServiceError(_("证据格式不正确。"), code="bad_evidence", details={"evidence": [text[:64]]})
        out.append(text)
    if len(out) > MAX_EVIDENCE_ITEMS:
        raise ServiceError(
            _("证据条目过多。"), code="bad_evidence", details={"evidence": [str(MAX_EVIDENCE_ITEMS)]}
        )
    return out


def _operator(value) -> Unit:
    """A Unit of kind operator from a Unit, its id or its code."""
    unit = None
    if isinstance(value, Unit):
        unit = value
    elif value not in (None, ""):
        text = str(value).strip()
        unit = Unit.objects.filter(code=text).first()
        if unit is None and text.isdigit():
            unit = Unit.objects.filter(pk=int(text)).first()
    if unit is None or unit.kind != UnitKind.OPERATOR:
        raise ServiceError(_("运营企业不存在。"), code="bad_operator", details={"operator": [str(value)]})
    return unit


def _district(value) -> District | None:
    if value in (None, ""):
        return None
    if isinstance(value, District):
        return value
    text = str(value).strip()
    district = District.objects.filter(code=text).first()
    if district is None and text.isdigit() and len(text) < 6:
        district = District.objects.filter(pk=int(text)).first()
    if district is None:
        raise ServiceError(_("区不存在。"), code="bad_district", details={"district": [text]})
    return district


def _position(lon, lat, datum) -> tuple[float | None, float | None]:
    if lon in (None, "") and lat in (None, ""):
        return None, None
    try:
        lon, lat = float(lon), float(lat)
        source = Datum.parse(datum or Datum.GCJ02)
    except (TypeError, ValueError):
        raise ServiceError(
            _("位置格式不正确。"), code="bad_position", details={"position": [f"{lon},{lat}"]}
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ServiceError(_("位置格式不正确。"), code="bad_position", details={"position": [f"{lon},{lat}"]})
    glon, glat = to_gcj02(lon, lat, source)
    return round(float(glon), 7), round(float(glat), 7)


def _covers(actor, operator_id: int | None, district_id: int | None) -> bool:
    scope = scope_for(actor)
    return (
        scope.all
        or (operator_id is not None and operator_id in scope.operator_ids)
        or (district_id is not None and district_id in scope.district_ids)
    )


def next_number(at: dt.datetime) -> str:
    """The next number of ``at``'s Beijing month, e.g. ``派单-202611-0007``.

    The counter row is created once per month and incremented with one UPDATE inside the
    caller's transaction: the row lock (PostgreSQL) or the database write lock (SQLite)
    serialises concurrent issuers, so numbers are unique (not gapless: a rolled-back issue
    gives its number back only if nothing else took the next one).
    """
    period = at.astimezone(BEIJING).strftime("%Y%m")
    with transaction.atomic():
        WorkOrderCounter.objects.get_or_create(period=period)
        WorkOrderCounter.objects.filter(period=period).update(last=F("last") + 1)
        last = WorkOrderCounter.objects.values_list("last", flat=True).get(period=period)
    return f"{NUMBER_PREFIX}-{period}-{last:04d}"


def _event(order: WorkOrder, action: str, actor, from_status: str, *, at, note: str = "", data=None):
    return WorkOrderEvent.objects.create(
        order=order,
        at=at,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        action=action,
        from_status=from_status,
        to_status=order.status,
        note=note,
        data=data or {},
    )


def _issue(
    *,
    operator: Unit,
    kind: str,
    subject: str,
    title: str,
    dedupe_key: str = "",
    district: District | None = None,
    description: str = "",
    lon: float | None = None,
    lat: float | None = None,
    evidence: dict | None = None,
    actor=None,
    source: str = WorkOrderSource.SYSTEM,
    hours: float | None = None,
    now: dt.datetime | None = None,
) -> tuple[WorkOrder, bool]:
    """Issue one order unless an open one has the same ``dedupe_key``: (order, created)."""
    if dedupe_key:
        existing = WorkOrder.objects.filter(dedupe_key=dedupe_key, status__in=OPEN_STATUSES).first()
        if existing is not None:
            return existing, False
    now = now or timezone.now()
    hours = deadline_hours(kind) if hours is None else hours
    due = now + dt.timedelta(hours=hours)
    try:
        with transaction.atomic():
            order = WorkOrder(
                number=next_number(now),
                operator=operator,
                district=district,
                kind=kind,
                source=source,
                subject=subject[:MAX_SUBJECT],
                dedupe_key=dedupe_key[:255],
                title=title[:MAX_TITLE],
                description=description,
                lon=lon,
                lat=lat,
                datum=str(Datum.GCJ02),
                evidence=evidence or {},
                status=WorkOrderStatus.ISSUED,
                issued_at=now,
                issued_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
                due_at=due,
                initial_due_at=due,
            )
            order.save(force_insert=True)
            _event(order, WorkOrderAction.ISSUE, actor, "", at=now, data={"due_hours": hours})
            audit.record(
                action="bikeshare.workorder.issue",
                obj=order,
                changes={"after": audit.snapshot(order, AUDIT_FIELDS)},
            )
    except IntegrityError:
        # A concurrent issuer opened an order for the same violation first: that one stands.
        existing = (
            WorkOrder.objects.filter(dedupe_key=dedupe_key, status__in=OPEN_STATUSES).first()
            if dedupe_key
            else None
        )
        if existing is None:
            raise
        return existing, False
    return order, True


# -- reads ----------------------------------------------------------------------------------


def workorder_list(*, user):
    """Orders in the caller's scope, newest first."""
    return WorkOrder.objects.restrict(user).select_related(
        "operator", "district", "issued_by", "responded_by"
    )


def workorder_get(user, pk) -> WorkOrder:
    """One order in the caller's scope (404 ``not_found`` otherwise, also for a bad id)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        pk = None
    order = workorder_list(user=user).filter(pk=pk).first() if pk is not None else None
    if order is None:
        raise ServiceError(_("派单不存在。"), code="not_found", status=404, details={"id": [str(pk)]})
    return order


def can_respond(user, order: WorkOrder) -> bool:
    if user is None or not user.is_authenticated or not user.has_perm(RESPOND_PERMISSION):
        return False
    scope = scope_for(user)
    return scope.all or order.operator_id in scope.operator_ids


def can_verify(user, order: WorkOrder | None = None) -> bool:
    if user is None or not user.is_authenticated or not user.has_perm(VERIFY_PERMISSION):
        return False
    return order is None or _covers(user, order.operator_id, order.district_id)


def can_issue(user) -> bool:
    return user is not None and user.is_authenticated and user.has_perm(ISSUE_PERMISSION)


# -- writes ---------------------------------------------------------------------------------


def workorder_create(
    actor,
    *,
    operator,
    title,
    subject="",
    kind=WorkOrderKind.MANUAL,
    district=None,
    description="",
    lon=None,
    lat=None,
    datum=Datum.GCJ02,
    due_hours=None,
    dedupe_key="",
) -> WorkOrder:
    """A manual order by Center staff (``bikeshare.add_workorder``; operator or district in scope).

    ``kind`` defaults to ``manual``; ``due_hours`` to the kind's setting. A ``dedupe_key``
    already open is refused with 409 ``duplicate`` (its number in the details).
    """
    _require(actor, ISSUE_PERMISSION)
    op = _operator(operator)
    dist = _district(district)
    if kind not in WorkOrderKind.values:
        raise ServiceError(_("派单类型不正确。"), code="bad_kind", details={"kind": [str(kind)]})
    if not _covers(actor, op.pk, dist.pk if dist else None):
        raise PermissionDenied(_("该运营企业或区不在您的数据范围内。"))
    title = _clean_text(title, "title", MAX_TITLE, required=True)
    subject = _clean_text(subject, "subject", MAX_SUBJECT) or title
    description = _clean_text(description, "description", MAX_NOTE)
    dedupe_key = _clean_text(dedupe_key, "dedupe_key", 255)
    glon, glat = _position(lon, lat, datum)
    if due_hours not in (None, ""):
        try:
            hours = float(due_hours)
        except (TypeError, ValueError):
            hours = -1.0
        if not (math.isfinite(hours) and 0 < hours <= MAX_DUE_HOURS):
            raise ServiceError(
                _("响应时限应在 0 至 720 小时之间。"), code="bad_due", details={"due_hours": [str(due_hours)]}
            )
    else:
        hours = None
    order, created = _issue(
        operator=op,
        kind=kind,
        subject=subject,
        title=title,
        dedupe_key=dedupe_key,
        district=dist,
        description=description,
        lon=glon,
        lat=glat,
        evidence={"manual": True},
        actor=actor,
        source=WorkOrderSource.MANUAL,
        hours=hours,
    )
    if not created:
        raise ServiceError(
            _("该问题已有未办结的派单：%(number)s。") % {"number": order.number},
            code="duplicate",
            status=409,
            details={"dedupe_key": [dedupe_key], "number": [order.number]},
        )
    return order


def _locked(user, pk) -> WorkOrder:
    order = workorder_get(user, pk.pk if isinstance(pk, WorkOrder) else pk)
    return WorkOrder.objects.select_for_update().get(pk=order.pk)


def _refuse(order: WorkOrder, action: str):
    raise ServiceError(
        _("当前状态（%(status)s）不能执行该操作。") % {"status": order.get_status_display()},
        code="bad_transition",
        status=409,
        details={"status": [order.status], "action": [action]},
    )


def _transition(order: WorkOrder, actor, action: str, before: dict, *, now, note="", data=None) -> None:
    order.save()
    _event(order, action, actor, before["status"], at=now, note=note, data=data)
    audit.record(
        action=f"bikeshare.workorder.{action}",
        obj=order,
        changes=audit.diff(before, audit.snapshot(order, AUDIT_FIELDS)),
        reason=note[:500],
    )


def workorder_respond(actor, order, *, note="", evidence=None) -> WorkOrder:
    """The operator's response (``bikeshare.respond_workorder``, the order's operator in scope)."""
    _require(actor, RESPOND_PERMISSION)
    note = _clean_text(note, "note", MAX_NOTE)
    items = _clean_evidence(evidence)
    if not note and not items:
        raise ServiceError(_("请填写处置说明或证据。"), code="missing", details={"note": ["required"]})
    with transaction.atomic():
        order = _locked(actor, order)
        if not can_respond(actor, order):
            raise PermissionDenied(_("只有该运营企业可以响应派单。"))
        if order.status == WorkOrderStatus.RESPONDED and (order.response_note, order.response_evidence) == (
            note,
            items,
        ):
            return order  # a retry of the same response
        if order.status != WorkOrderStatus.ISSUED:
            _refuse(order, WorkOrderAction.RESPOND)
        now = timezone.now()
        before = audit.snapshot(order, AUDIT_FIELDS)
        order.status = WorkOrderStatus.RESPONDED
        order.responded_at = now
        order.first_responded_at = order.first_responded_at or now
        order.responded_by = actor
        order.response_note = note
        order.response_evidence = items
        _transition(
            order,
            actor,
            WorkOrderAction.RESPOND,
            before,
            now=now,
            note=note,
            data={"evidence": items, "on_time": now <= order.due_at},
        )
    return order


def workorder_close(actor, order, *, note="") -> WorkOrder:
    """The Center accepts the response (``bikeshare.change_workorder``)."""
    _require(actor, VERIFY_PERMISSION)
    note = _clean_text(note, "note", MAX_NOTE)
    with transaction.atomic():
        order = _locked(actor, order)
        if not can_verify(actor, order):
            raise PermissionDenied(_("该派单不在您的数据范围内。"))
        if order.status == WorkOrderStatus.CLOSED:
            return order
        if order.status != WorkOrderStatus.RESPONDED:
            _refuse(order, WorkOrderAction.CLOSE)
        now = timezone.now()
        before = audit.snapshot(order, AUDIT_FIELDS)
        order.status = WorkOrderStatus.CLOSED
        order.closed_at = now
        _transition(order, actor, WorkOrderAction.CLOSE, before, now=now, note=note)
    return order


def workorder_reopen(actor, order, *, note, due_hours=None) -> WorkOrder:
    """The Center rejects the response: back to issued with a fresh deadline (reason required)."""
    _require(actor, VERIFY_PERMISSION)
    note = _clean_text(note, "note", MAX_NOTE, required=True)
    with transaction.atomic():
        order = _locked(actor, order)
        if not can_verify(actor, order):
            raise PermissionDenied(_("该派单不在您的数据范围内。"))
        if order.status != WorkOrderStatus.RESPONDED:
            _refuse(order, WorkOrderAction.REOPEN)
        now = timezone.now()
        hours = deadline_hours(order.kind) if due_hours in (None, "") else float(due_hours)
        if not (math.isfinite(hours) and 0 < hours <= MAX_DUE_HOURS):
            raise ServiceError(
                _("响应时限应在 0 至 720 小时之间。"), code="bad_due", details={"due_hours": [str(due_hours)]}
            )
        before = audit.snapshot(order, AUDIT_FIELDS)
        order.status = WorkOrderStatus.ISSUED
        order.due_at = now + dt.timedelta(hours=hours)
        order.reopen_count += 1
        _transition(
            order, actor, WorkOrderAction.REOPEN, before, now=now, note=note, data={"due_hours": hours}
        )
    return order


def workorder_cancel(actor, order, *, reason) -> WorkOrder:
    """The Center withdraws an open order (reason required)."""
    _require(actor, VERIFY_PERMISSION)
    reason = _clean_text(reason, "reason", MAX_NOTE, required=True)
    with transaction.atomic():
        order = _locked(actor, order)
        if not can_verify(actor, order):
            raise PermissionDenied(_("该派单不在您的数据范围内。"))
        if order.status == WorkOrderStatus.CANCELLED:
            return order
        if order.status not in OPEN_STATUSES:
            _refuse(order, WorkOrderAction.CANCEL)
        now = timezone.now()
        before = audit.snapshot(order, AUDIT_FIELDS)
        order.status = WorkOrderStatus.CANCELLED
        order.cancelled_at = now
        order.cancel_reason = reason
        _transition(order, actor, WorkOrderAction.CANCEL, before, now=now, note=reason)
    return order


def sweep_overdue(now: dt.datetime | None = None) -> int:
    """Stamp every issued order past its deadline as overdue (once per deadline); the count."""
    now = now or timezone.now()
    candidates = WorkOrder.objects.filter(status=WorkOrderStatus.ISSUED, due_at__lt=now).filter(
        Q(overdue_at__isnull=True) | Q(overdue_at__lt=F("due_at"))
    )
    marked = 0
    for pk in list(candidates.values_list("pk", flat=True)[:5000]):
        with transaction.atomic():
            order = WorkOrder.objects.select_for_update().get(pk=pk)
            if order.status != WorkOrderStatus.ISSUED or order.due_at >= now:
                continue
            if order.overdue_at is not None and order.overdue_at >= order.due_at:
                continue
            before = audit.snapshot(order, AUDIT_FIELDS)
            order.overdue_at = order.due_at
            order.save(update_fields=["overdue_at"])
            _event(order, WorkOrderAction.OVERDUE, None, order.status, at=now)
            audit.record(
                action="bikeshare.workorder.overdue",
                obj=order,
                changes=audit.diff(before, audit.snapshot(order, AUDIT_FIELDS)),
            )
            marked += 1
    return marked


# -- generation -----------------------------------------------------------------------------


def _operator_units() -> dict[str, Unit]:
    return {u.code: u for u in Unit.objects.filter(kind=UnitKind.OPERATOR, is_active=True)}


def _districts_by_code() -> dict[str, District]:
    return {d.code: d for d in District.objects.all()}


def _from_outside_fence(live, units, districts, now, tally, actor=None) -> None:
    cap = int(setting("GOVCENTER_BIKESHARE_WORKORDER_MAX_VEHICLES", 50))
    scan_cap = int(setting("GOVCENTER_BIKESHARE_WORKORDER_SCAN_LIMIT", 20_000))
    for code, unit in sorted(units.items()):
        by_district: dict[str, list] = defaultdict(list)
        for bike in live.parked_outside_fences(operator=code, limit=scan_cap):
            by_district[bike.district].append(bike)
        for district_code, bikes in sorted(by_district.items()):
            district = districts.get(district_code)
            where = district.name_zh if district else _("北京市行政区外")
            listed = bikes[:cap]
            evidence = {
                "count": len(bikes),
                "listed": len(listed),
                "district_code": district_code,
                "vehicles": [
                    {"device_id": b.device_id, "vehicle_id": b.vehicle_id, "state": b.vehicle_state,
                     "lon": b.lon, "lat": b.lat, "datum": "GCJ-02",
                     "reported_at": dt.datetime.fromtimestamp(b.timestamp_ms / 1000, tz=dt.UTC).isoformat()}
                    for b in listed
                ],
            }  # fmt: skip
            _order, created = _issue(
                operator=unit,
                kind=WorkOrderKind.OUTSIDE_FENCE,
                subject=f"{where}：{len(bikes)} 辆",
                title=_("%(district)s 围栏外停放车辆 %(n)s 辆") % {"district": where, "n": len(bikes)},
                dedupe_key=f"outside_fence:{code}:{district_code or '-'}",
                district=district,
                description=_("请将以下车辆调回电子围栏内停放并反馈处置结果。"),
                lon=listed[0].lon,
                lat=listed[0].lat,
                evidence=evidence,
                now=now,
                actor=actor,
            )
            tally[WorkOrderKind.OUTSIDE_FENCE][created] += 1


def _from_over_quota(live, now, tally, actor=None) -> None:
    from ..selectors.quotas import over_quota

    units = {u.pk: u for u in Unit.objects.filter(kind=UnitKind.OPERATOR)}
    districts = {d.pk: d for d in District.objects.all()}
    for row in over_quota(live=live):
        unit = units.get(row.operator_id)
        if unit is None:
            continue
        where = row.district_name or _("全市")
        _order, created = _issue(
            operator=unit,
            kind=WorkOrderKind.OVER_QUOTA,
            subject=f"{row.operator_code}/{row.district_code or 'city'}",
            title=_("%(where)s 投放超出配额 %(n)s 辆") % {"where": where, "n": row.excess},
            dedupe_key=f"over_quota:{row.quota_id}",
            district=districts.get(row.district_id) if row.district_id else None,
            description=_("请减少投放车辆至配额以内并反馈处置结果。"),
            evidence=asdict(row),
            now=now,
            actor=actor,
        )
        tally[WorkOrderKind.OVER_QUOTA][created] += 1


def _from_accumulation(live, units, districts, now, tally, actor=None) -> None:
    from govcenter.analytics.engine import connect
    from govcenter.analytics.lake.config import lake_root

    from ..analyses import accumulation_alerts, run, station_areas, station_flows

    root = lake_root()
    if not root.exists():
        return
    threshold = int(setting("GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_THRESHOLD", 30))
    min_bikes = int(setting("GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_MIN_BIKES", 10))
    local = now.astimezone(BEIJING)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = local.replace(microsecond=0)  # the analyses take whole seconds; a clock reading has more
    if end <= start:
        return
    stations = station_areas()
    if stations.num_rows == 0:
        return
    con = connect("duckdb", root)
    try:
        alerts = run(
            accumulation_alerts(station_flows(con, start, end, stations=stations), threshold=threshold)
        )
    finally:
        con.disconnect()
    areas = {r["station_id"]: r for r in stations.to_pylist()}
    worst: dict[str, dict] = {}
    for row in alerts.to_pylist():
        if row["station_id"] not in worst or row["net"] > worst[row["station_id"]]["net"]:
            worst[row["station_id"]] = row
    for station_id, alert in sorted(worst.items()):
        area = areas.get(station_id)
        if area is None:
            continue
        near = live.within(area["lon"], area["lat"], area["radius_m"])
        per_operator = Counter(
            n.bike.operator for n in near if n.bike.vehicle_state in ("available", "non_operational")
        )
        district_code = near[0].bike.district if near else ""
        for code, n in sorted(per_operator.items()):
            unit = units.get(code)
            if unit is None or n < min_bikes:
                continue
            _order, created = _issue(
                operator=unit,
                kind=WorkOrderKind.ACCUMULATION,
                subject=str(alert["station"] or station_id)[:MAX_SUBJECT],
                title=_("%(station)s 车辆淤积，现有 %(n)s 辆")
                % {"station": alert["station"] or station_id, "n": n},
                dedupe_key=f"accumulation:{station_id}:{local.date().isoformat()}:{code}",
                district=districts.get(district_code),
                description=_("请及时调度疏解站点周边车辆并反馈处置结果。"),
                lon=area["lon"],
                lat=area["lat"],
                evidence={
                    "station_id": station_id,
                    "station": alert["station"],
                    "date": str(alert["date"]),
                    "hour": int(alert["hour"]),
                    "net_inflow": int(alert["net"]),
                    "threshold": threshold,
                    "bikes_nearby": n,
                    "radius_m": area["radius_m"],
                },  # fmt: skip
                now=now,
                actor=actor,
            )
            tally[WorkOrderKind.ACCUMULATION][created] += 1


def _from_scan_checks(now, tally, actor=None) -> None:
    from ..models.scanchecks import ScanCheck, ScanResult

    checks = (
        ScanCheck.objects.filter(checked_at__gte=now - SCAN_LOOKBACK, operator__isnull=False)
        .exclude(result=ScanResult.COMPLIANT)
        .select_related("operator", "district")
        .order_by("checked_at")[:2000]
    )
    labels = dict(ScanResult.choices)
    for check in checks:
        problems = "、".join(str(labels.get(p, p)) for p in check.problems)
        _order, created = _issue(
            operator=check.operator,
            kind=WorkOrderKind.SCAN_VIOLATION,
            subject=check.vehicle_code,
            title=_("扫码核查发现问题：%(code)s（%(problems)s）")
            % {"code": check.vehicle_code, "problems": problems},
            dedupe_key=f"scan:{check.pk}",
            district=check.district,
            description=check.note,
            lon=check.lon,
            lat=check.lat,
            evidence={
                "scan_check": check.pk,
                "checked_at": check.checked_at.isoformat(),
                "problems": check.problems,
                "photo_ref": check.photo_ref,
                "vehicle_code": check.vehicle_code,
            },  # fmt: skip
            now=now,
            actor=actor,
        )
        tally[WorkOrderKind.SCAN_VIOLATION][created] += 1


GENERATED_KINDS = (
    WorkOrderKind.OUTSIDE_FENCE,
    WorkOrderKind.ACCUMULATION,
    WorkOrderKind.OVER_QUOTA,
    WorkOrderKind.SCAN_VIOLATION,
)


def generate_from_violations(actor=None, *, kinds=None, live=None, now=None) -> dict:
    """Issue orders for the current violations (see the module docstring).

    ``actor`` None is the system (the periodic task); a user needs ``bikeshare.add_workorder``
    and a city-wide scope. ``live``: a LiveState (default: open the configured store; without
    one the live-based kinds are skipped). One failing source is logged and reported in
    ``errors``; the others go on. Returns ``{"created", "existing", "by_kind", "errors"}``
    with ``by_kind[kind] = {"created", "existing"}``.
    """
    if actor is not None:
        _require(actor, ISSUE_PERMISSION)
        if not scope_for(actor).all:
            raise PermissionDenied(_("按违规批量派单需要全市数据范围。"))
    kinds = tuple(kinds) if kinds else GENERATED_KINDS
    bad = [k for k in kinds if k not in GENERATED_KINDS]
    if bad:
        raise ServiceError(_("派单类型不正确。"), code="bad_kind", details={"kind": [str(k) for k in bad]})
    now = now or timezone.now()
    tally: dict[str, Counter] = {k: Counter() for k in kinds}
    errors: list[str] = []
    units = _operator_units()
    districts = _districts_by_code()

    store, opened = live, None
    if store is None and any(k != WorkOrderKind.SCAN_VIOLATION for k in kinds):
        url = setting("GOVCENTER_BIKESHARE_LIVE_URL", "")
        if url:
            try:
                from ..live import open_live_state

                opened = store = open_live_state(url)
            except Exception as exc:  # noqa: BLE001 - the other sources still run
                logger.warning("work orders: live state unavailable", exc_info=True)
                errors.append(f"live: {type(exc).__name__}")
    try:
        for kind in kinds:
            try:
                if kind == WorkOrderKind.OUTSIDE_FENCE and store is not None:
                    _from_outside_fence(store, units, districts, now, tally, actor)
                elif kind == WorkOrderKind.OVER_QUOTA:
                    _from_over_quota(store, now, tally, actor)
                elif kind == WorkOrderKind.ACCUMULATION and store is not None:
                    _from_accumulation(store, units, districts, now, tally, actor)
                elif kind == WorkOrderKind.SCAN_VIOLATION:
                    _from_scan_checks(now, tally, actor)
            except Exception as exc:  # noqa: BLE001 - one source failing must not stop the rest
                logger.warning("work orders: generating %s failed", kind, exc_info=True)
                errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
    finally:
        if opened is not None:
            opened.close()
    by_kind = {str(k): {"created": c[True], "existing": c[False]} for k, c in tally.items()}
    return {
        "created": sum(v["created"] for v in by_kind.values()),
        "existing": sum(v["existing"] for v in by_kind.values()),
        "by_kind": by_kind,
        "errors": errors,
    }


# -- statistics -----------------------------------------------------------------------------


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        raise ServiceError(_("日期格式不正确。"), code="bad_period", details={"first": [str(first)]})
    if last < first:
        raise ServiceError(
            _("结束日期不能早于开始日期。"), code="bad_period", details={"last": [last.isoformat()]}
        )
    if (last - first).days >= MAX_STATS_DAYS:
        raise ServiceError(
            _("统计区间不能超过一年。"), code="bad_period", details={"last": [last.isoformat()]}
        )
    lo = dt.datetime.combine(first, dt.time.min, tzinfo=BEIJING)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=BEIJING)
    return lo, hi


_STATS = {
    "issued": Count("id"),
    "responded": Count("id", filter=Q(first_responded_at__isnull=False)),
    "responded_on_time": Count("id", filter=Q(first_responded_at__lte=F("initial_due_at"))),
    "closed": Count("id", filter=Q(status=WorkOrderStatus.CLOSED)),
    "overdue": Count("id", filter=Q(overdue_at__isnull=False)),
}


def _stats_row(row: dict | None) -> dict:
    out = {k: int((row or {}).get(k) or 0) for k in _STATS}
    out["rate_on_time"] = round(out["responded_on_time"] / out["issued"], 4) if out["issued"] else None
    return out


def response_stats(operator, first: dt.date, last: dt.date) -> dict:
    """Response figures of one operator (Unit or code) for orders issued on Beijing dates
    ``first``..``last`` inclusive, cancelled orders excluded.

    ``{"issued", "responded", "responded_on_time", "closed", "overdue", "rate_on_time"}``:
    responded = got a response at all; on time = the first response came by the first
    deadline; overdue = marked overdue at least once; ``rate_on_time`` =
    responded_on_time / issued (4 places), None when nothing was issued.
    """
    unit = _operator(operator)
    lo, hi = _bounds(first, last)
    row = (
        WorkOrder.objects.filter(operator=unit, issued_at__gte=lo, issued_at__lt=hi)
        .exclude(status=WorkOrderStatus.CANCELLED)
        .aggregate(**_STATS)
    )
    return _stats_row(row)


def response_stats_all(first: dt.date, last: dt.date) -> dict[str, dict]:
    """:func:`response_stats` for every operator unit, keyed by the operator's code."""
    lo, hi = _bounds(first, last)
    rows = (
        WorkOrder.objects.filter(issued_at__gte=lo, issued_at__lt=hi)
        .exclude(status=WorkOrderStatus.CANCELLED)
        .values("operator__code")
        .annotate(**_STATS)
        .order_by()
    )
    found = {r["operator__code"]: r for r in rows}
    codes = set(Unit.objects.filter(kind=UnitKind.OPERATOR).values_list("code", flat=True)) | set(found)
    return {code: _stats_row(found.get(code)) for code in sorted(codes)}


# -- periodic tasks (registered in bikeshare/tasks.py) -----------------------------------------


def run_sweep() -> dict:
    """The periodic sweep: mark overdue orders. Never raises (logged)."""
    try:
        return {"overdue": sweep_overdue()}
    except Exception as exc:
        logger.exception("work orders: sweep failed")
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_generate() -> dict:
    """The periodic generation as the system, when ``GOVCENTER_BIKESHARE_WORKORDER_AUTO`` is on."""
    if not setting("GOVCENTER_BIKESHARE_WORKORDER_AUTO", True):
        return {"skipped": True}
    try:
        return generate_from_violations()
    except Exception as exc:
        logger.exception("work orders: generation failed")
        return {"error": f"{type(exc).__name__}: {exc}"}


# -- demo ------------------------------------------------------------------------------------


def load_demo_workorders(now: dt.datetime | None = None) -> dict[str, int]:
    """A few orders in every status for the demo operators (OP-MEITUAN, OP-HELLO, OP-QINGJU).

    Idempotent: the demo orders carry ``demo:`` dedupe keys and are skipped when an order
    with the key exists in any status. Returns ``{status: n}`` of the orders created.
    """
    now = now or timezone.now()
    units = [u for u in Unit.objects.filter(kind=UnitKind.OPERATOR, code__in=["OP-MEITUAN", "OP-HELLO", "OP-QINGJU"]).order_by("code")]  # fmt: skip
    district = District.objects.order_by("sort_order", "code").first()
    made: Counter = Counter()
    plans = [
        ("issued", WorkOrderKind.OUTSIDE_FENCE, dt.timedelta(minutes=30)),
        ("overdue", WorkOrderKind.OUTSIDE_FENCE, dt.timedelta(hours=5)),
        ("responded", WorkOrderKind.ACCUMULATION, dt.timedelta(hours=3)),
        ("closed", WorkOrderKind.OVER_QUOTA, dt.timedelta(days=2)),
        ("reopened", WorkOrderKind.SCAN_VIOLATION, dt.timedelta(days=1)),
        ("cancelled", WorkOrderKind.MANUAL, dt.timedelta(days=3)),
    ]
    for unit in units:
        for label, kind, ago in plans:
            key = f"demo:{unit.code}:{label}"
            if WorkOrder.objects.filter(dedupe_key=key).exists():
                continue
            issued = now - ago
            where = district.name_zh if district else ""
            with transaction.atomic():
                order, created = _issue(
                    operator=unit,
                    kind=kind,
                    subject=f"DEMO-{unit.code}-{label}",
                    title=_("（演示）%(where)s %(kind)s")
                    % {"where": where, "kind": WorkOrderKind(kind).label},
                    dedupe_key=key,
                    district=district,
                    description=_("演示数据。"),
                    evidence={"demo": True},
                    now=issued,
                )
                if not created:
                    continue
                if label in ("responded", "closed", "reopened"):
                    at = issued + dt.timedelta(hours=1)
                    before = audit.snapshot(order, AUDIT_FIELDS)
                    order.status = WorkOrderStatus.RESPONDED
                    order.responded_at = order.first_responded_at = at
                    order.response_note = _("已安排运维人员处置。")
                    order.response_evidence = ["PHOTO-DEMO-1"]
                    _transition(
                        order, None, WorkOrderAction.RESPOND, before, now=at, note=order.response_note
                    )
                if label in ("closed", "reopened"):
                    at = issued + dt.timedelta(hours=3)
                    before = audit.snapshot(order, AUDIT_FIELDS)
                    if label == "closed":
                        order.status, order.closed_at = WorkOrderStatus.CLOSED, at
                        _transition(order, None, WorkOrderAction.CLOSE, before, now=at, note=_("核查通过。"))
                    else:
                        order.status = WorkOrderStatus.ISSUED
                        order.due_at = now + dt.timedelta(hours=deadline_hours(kind))
                        order.reopen_count += 1
                        _transition(
                            order, None, WorkOrderAction.REOPEN, before, now=at, note=_("现场仍有问题。")
                        )
                if label == "cancelled":
                    before = audit.snapshot(order, AUDIT_FIELDS)
                    order.status, order.cancelled_at = (
                        WorkOrderStatus.CANCELLED,
                        issued + dt.timedelta(hours=1),
                    )
                    order.cancel_reason = _("重复派单。")
                    _transition(
                        order,
                        None,
                        WorkOrderAction.CANCEL,
                        before,
                        now=order.cancelled_at,
                        note=order.cancel_reason,
                    )
                made[label] += 1
    sweep_overdue(now)
    return dict(made)
