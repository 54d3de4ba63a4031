"""Writes of parking orders: billing with the tariff engine, patrol corrections, anomaly review.

Billing (``Biller``): an order is priced under the plan in force at its *start* for the
area class of the space version it ran under (``plan_for`` semantics), for its vehicle
class, with the non-working days of China's calendar as holidays when the plan has a
holiday rule. ``closed → billed`` stores the amount and the itemised lines; an amount of 0
(a stay inside the grace time) is settled at once (``billed → paid`` with 0 paid) so it
can never become arrears. When no plan covers the start, the order stays ``closed`` (not
billed) — never guessed. The part of a stay covered by a residential permit of its plate
on its segment (居住认证, services/permits.py) is not billed per stay: the uncovered parts
are priced one by one and summed, and each covered part is a 0-fen ``permit`` line.

Corrections (巡检更正): plate, vehicle class and times of an order not yet paid, each with
an evidence photo reference and a reason; one :class:`OrderCorrection` row per changed
field and one audit entry, in one transaction; a change of times or vehicle class prices
the order again.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.context import current as current_context

from ..models import Order, OrderCorrection, OrderState, ParkingAnomaly, SpaceVersion, TariffPlan
from ..plates import validate_plate
from ..selectors.tariffs import holidays_between
from ..tariff import Rules, quote
from .base import check_district_in_scope
from .permits import PermitBook, permit_line, uncovered_intervals

ORDER_AUDIT_FIELDS = ["plate", "vehicle_class", "started_at", "ended_at", "state", "amount_due_fen"]


def normalise_plate(text: str) -> str:
    """The plate in canonical form; ValueError (``plates.PlateError``) if invalid."""
    return validate_plate(str(text))


class Biller:
    """Prices orders; caches the active plans and their Rules for one batch (one query).

    The engine is pure and the holidays follow from the stay's dates, so a quote is a
    function of (plan, vehicle class, start, end): a batch that bills many stays of the
    same times (a camera's sweep) computes each distinct one once.
    """

    def __init__(self) -> None:
        self._plans: list[TariffPlan] | None = None
        self._rules: dict[int, Rules] = {}
        self._quotes: dict[tuple, tuple[int, list[dict]]] = {}
        self.permits = PermitBook()  # residential permits (services/permits.py), loaded on first use

    def plan_for(self, area_class: int, at: dt.datetime) -> TariffPlan | None:
        if self._plans is None:
            self._plans = list(
                TariffPlan.objects.filter(status=TariffPlan.Status.ACTIVE).order_by("-valid_from", "-version")
            )
        for plan in self._plans:  # newest first: the later valid_from wins, as in plan_for()
            if (
                plan.area_class == area_class
                and plan.valid_from <= at
                and (plan.valid_to is None or at < plan.valid_to)
            ):
                return plan
        return None

    def rules(self, plan: TariffPlan) -> Rules:
        rules = self._rules.get(plan.pk)
        if rules is None:
            rules = self._rules[plan.pk] = Rules.from_plan(plan)
        return rules

    def bill(self, order: Order, *, area_class: int, at: dt.datetime) -> bool:
        """``closed → billed`` (→ ``paid`` when the amount is 0) in memory; False if no plan covers it."""
        plan = self.plan_for(area_class, order.started_at)
        if plan is None:
            return False
        covered = self.permits.covered(
            plate=order.plate, segment_id=order.segment_id, start=order.started_at, end=order.ended_at
        )
        if covered:
            priced = self._priced_with_permits(plan, order, covered)
        else:
            priced = self._priced(plan, order.vehicle_class, order.started_at, order.ended_at)
        amount_fen, lines = priced
        # Each order gets its own copy of the lines (no shared mutable JSON between rows).
        order.bill(amount_fen=amount_fen, lines=[dict(line) for line in lines], plan_id=plan.pk, at=at)
        if amount_fen == 0:
            order.pay(amount_fen=0)
        return True

    def _priced(
        self, plan: TariffPlan, vehicle: str, start: dt.datetime, end: dt.datetime
    ) -> tuple[int, list[dict]]:
        key = (plan.pk, vehicle, start, end)
        priced = self._quotes.get(key)
        if priced is None:
            rules = self.rules(plan)
            holidays: frozenset[dt.date] = frozenset()
            if rules.holiday_rule != TariffPlan.HolidayRule.SAME:
                holidays = holidays_between(start, end)
            result = quote(rules, vehicle=vehicle, start=start, end=end, holidays=holidays)
            priced = self._quotes[key] = (result.amount_fen, [line.as_dict() for line in result.lines])
        return priced

    def _priced_with_permits(self, plan: TariffPlan, order: Order, covered: list) -> tuple[int, list[dict]]:
        """A stay partly (or wholly) inside a residential permit: each uncovered part is priced
        on its own with the engine (its own first hour and grace), plus one 0-fen line per
        covered part naming the permit."""
        amount_fen, lines = 0, [permit_line(*part) for part in covered]
        spans = [(s, e) for _pid, s, e in covered]
        for start, end in uncovered_intervals(order.started_at, order.ended_at, spans):
            part_fen, part_lines = self._priced(plan, order.vehicle_class, start, end)
            amount_fen += part_fen
            lines += part_lines
        lines.sort(key=lambda line: line["from"])
        return amount_fen, lines


def _aware(value, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ServiceError(_("时间须带时区。"), code="naive_time", details={name: [_("时间须带 UTC 偏移。")]})
    return value


def _text(value) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return "" if value is None else str(value)


@transaction.atomic
def order_correct(
    *,
    actor,
    order: Order,
    evidence_photo_ref: str,
    reason: str,
    plate: str | None = None,
    vehicle_class: str | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
) -> Order:
    """Correct an order from the patrol PDA (see the module docstring); refused once paid or void.

    Times must be aware, the end after the start and not in the future; an end given for an
    open order closes it. Raises :class:`ServiceError` (400, ``code`` names the rule).
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    check_district_in_scope(actor, order.district_id)
    evidence_photo_ref = (evidence_photo_ref or "").strip()
    reason = (reason or "").strip()
    if not evidence_photo_ref:
        raise ServiceError(
            _("更正须附取证照片编号。"),
            code="evidence_required",
            details={"evidence_photo_ref": [_("必填。")]},
        )
    if not reason:
        raise ServiceError(_("更正须填写理由。"), code="reason_required", details={"reason": [_("必填。")]})
    if order.state in (OrderState.PAID, OrderState.VOID):
        raise ServiceError(
            _("订单已支付或已作废，不能更正。"), code="order_settled", details={"state": [order.state]}
        )
    changes: dict[str, tuple] = {}
    if plate is not None:
        try:
            plate = normalise_plate(plate)
        except ValueError:
            raise ServiceError(
                _("车牌号格式不正确。"), code="invalid_plate", details={"plate": [_("车牌号格式不正确。")]}
            ) from None
        if plate != order.plate:
            changes["plate"] = (order.plate, plate)
    if vehicle_class is not None and vehicle_class != order.vehicle_class:
        if vehicle_class not in ("small", "large"):
            raise ServiceError(_("未知车型。"), code="invalid", details={"vehicle_class": [_("未知车型。")]})
        changes["vehicle_class"] = (order.vehicle_class, vehicle_class)
    new_start = _aware(started_at, "started_at") if started_at is not None else order.started_at
    new_end = _aware(ended_at, "ended_at") if ended_at is not None else order.ended_at
    now = timezone.now()
    if new_start > now or (new_end is not None and new_end > now):
        raise ServiceError(
            _("时间不能晚于当前时间。"), code="time_in_future", details={"ended_at": [_("时间在未来。")]}
        )
    if new_end is not None and new_end <= new_start:
        raise ServiceError(
            _("驶离时间须晚于驶入时间。"),
            code="end_before_start",
            details={"ended_at": [_("驶离时间须晚于驶入时间。")]},
        )
    if new_start != order.started_at:
        changes["started_at"] = (order.started_at, new_start)
    if new_end != order.ended_at:
        changes["ended_at"] = (order.ended_at, new_end)
    if not changes:
        raise ServiceError(_("没有需要更正的内容。"), code="no_change", details={})

    before = audit.snapshot(order, ORDER_AUDIT_FIELDS)
    ctx = current_context()
    for field, (old, new) in changes.items():
        setattr(order, field, new)
        OrderCorrection(
            order=order,
            field=field,
            before=_text(old),
            after=_text(new),
            evidence_photo_ref=evidence_photo_ref[:200],
            reason=reason[:200],
            actor=actor if getattr(actor, "pk", None) else None,
            actor_username=(getattr(actor, "username", "") or ctx.username or "")[:150],
        ).save()
    reprice = bool({"started_at", "ended_at", "vehicle_class"} & set(changes))
    try:
        if order.state == OrderState.OPEN and order.ended_at is not None:
            order.close(ended_at=order.ended_at)
        elif reprice and order.state in (OrderState.BILLED, OrderState.ARREARS):
            order.rebill()
        if order.state == OrderState.CLOSED:
            area_class = SpaceVersion.objects.values_list("area_class", flat=True).get(
                pk=order.space_version_id
            )
            Biller().bill(order, area_class=area_class, at=now)
    except TransitionNotAllowed as exc:  # the guards above make this unreachable; keep it loud
        raise ServiceError(str(exc), code="illegal_transition") from exc
    # "state" is excluded: clean_fields would re-assign the protected FSM field.
    order.full_clean(exclude=["state", "start_event", "end_event", "space_version", "tariff_plan"])
    order.save()
    audit.record(
        action="parking.order.correct",
        obj=order,
        changes=audit.diff(before, audit.snapshot(order, ORDER_AUDIT_FIELDS)),
        reason=f"{reason}（{_('取证照片')} {evidence_photo_ref}）"[:500],
    )
    return order


@transaction.atomic
def anomaly_resolve(*, actor, anomaly: ParkingAnomaly, status: str, note: str) -> ParkingAnomaly:
    """Close the review of an anomaly as ``resolved`` or ``dismissed`` with a note; audited."""
    anomaly = ParkingAnomaly.objects.select_for_update().get(pk=anomaly.pk)
    check_district_in_scope(actor, anomaly.district_id)
    if status not in (ParkingAnomaly.Status.RESOLVED, ParkingAnomaly.Status.DISMISSED):
        raise ServiceError(_("处理结果须为已处理或已忽略。"), code="invalid", details={"status": [status]})
    if anomaly.status != ParkingAnomaly.Status.OPEN:
        raise ServiceError(_("异常已处理。"), code="already_resolved", details={"status": [anomaly.status]})
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("须填写处理说明。"), code="note_required", details={"note": [_("必填。")]})
    anomaly.status = status
    anomaly.resolution_note = note[:200]
    anomaly.resolved_at = timezone.now()
    anomaly.resolved_by = (getattr(actor, "username", "") or "")[:150]
    try:
        anomaly.full_clean()
    except ValidationError as exc:
        raise ServiceError(_("输入无效。"), code="invalid", details=exc.message_dict) from None
    anomaly.save()
    audit.record(
        action="parking.anomaly.resolve",
        obj=anomaly,
        changes={"before": {"status": "open"}, "after": {"status": status}},
        reason=note,
    )
    return anomaly
