"""Writes of parking orders: billing with the tariff engine, patrol corrections, anomaly review.

Billing (``Biller``): an order is priced under the plan in force at its *start*, chosen
from the space version it ran under: the plan its segment names (``tariff_code``) when a
version of that code is in force then, otherwise the plan of its area class
(``bj-road-class-N``, ``plan_for`` semantics); the order records the plan version used.
It is priced for its vehicle class, with the statutory holidays (法定节假日) of China's
calendar — not ordinary weekends, not 调休 workdays — as holidays when the plan has a
holiday rule. ``closed → billed`` stores the amount and the itemised lines; an amount of 0
(a stay inside the grace time) is settled at once (``billed → paid`` with 0 paid) so it
can never become arrears. When no plan covers the start, the order stays ``closed`` (not
billed) — never guessed.

Parts of a stay that are not billed per stay — the stay is cut there, each remaining part
is priced on its own with the engine (its own first hour and grace) and the parts summed:

* the space was closed (临时占用, or a closed/retired space version; services/occupations.py
  :class:`ClosureBook`, judged by the times, not today's status): a 0-fen ``closed`` line;
* a residential permit of its plate on its segment covers it (居住认证, services/permits.py):
  a 0-fen ``permit`` line (a closed period wins where the two overlap).

Corrections (巡检更正): plate, vehicle class and times of an order not yet paid, each with
an evidence photo reference and a reason; one :class:`OrderCorrection` row per changed
field and one audit entry, in one transaction; a change of times or vehicle class prices
the order again.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.context import current as current_context

from ..models import Order, OrderCorrection, OrderState, ParkingAnomaly, SpaceVersion, TariffPlan
from ..models.tariff import area_class_plan_code
from ..plates import validate_plate
from ..selectors.tariffs import holidays_between
from ..tariff import Rules, quote, zero_line
from .base import check_district_in_scope
from .occupations import NOTE_CLOSED, ClosureBook
from .permits import NOTE_PERMIT, PermitBook, uncovered_intervals

logger = logging.getLogger(__name__)

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
        self._unknown_codes: set[str] = set()
        self.permits = PermitBook()  # residential permits (services/permits.py), loaded on first use
        self.closures = ClosureBook()  # closed periods of spaces (services/occupations.py)

    def plan_for(self, area_class: int, at: dt.datetime, tariff_code: str = "") -> TariffPlan | None:
        """The plan of a stay starting at ``at``: the version of ``tariff_code`` (the plan the
        segment names) in force then, else the area class's plan in force then, else None."""
        if self._plans is None:
            self._plans = list(
                TariffPlan.objects.filter(status=TariffPlan.Status.ACTIVE).order_by("-valid_from", "-version")
            )
        default = area_class_plan_code(area_class)
        codes = (tariff_code, default) if tariff_code and tariff_code != default else (default,)
        for code in codes:
            for plan in self._plans:  # newest first: the later valid_from wins, as in plan_for()
                if (
                    plan.code == code
                    and plan.valid_from <= at
                    and (plan.valid_to is None or at < plan.valid_to)
                ):
                    return plan
            if code == tariff_code and code != default and code not in self._unknown_codes:
                self._unknown_codes.add(code)
                logger.warning(
                    "tariff plan %s named by a segment has no active version at %s; "
                    "billing under the area class %s plan",
                    code,
                    at.isoformat(),
                    area_class,
                    extra={"event": "parking.tariff.named_plan_missing"},
                )
        return None

    def rules(self, plan: TariffPlan) -> Rules:
        rules = self._rules.get(plan.pk)
        if rules is None:
            rules = self._rules[plan.pk] = Rules.from_plan(plan)
        return rules

    def bill(self, order: Order, *, area_class: int, at: dt.datetime, tariff_code: str | None = None) -> bool:
        """``closed → billed`` (→ ``paid`` when the amount is 0) in memory; False if no plan covers it.

        ``tariff_code`` is the plan the order's space version names (read from
        ``order.space_version`` when not given and that is loaded; blank: the area class's).
        """
        if tariff_code is None:
            version = order._state.fields_cache.get("space_version")
            tariff_code = version.tariff_code if version is not None else ""
        plan = self.plan_for(area_class, order.started_at, tariff_code)
        if plan is None:
            return False
        closed = self.closures.covered(order.space_id, order.started_at, order.ended_at)
        covered = self.permits.covered(
            plate=order.plate, segment_id=order.segment_id, start=order.started_at, end=order.ended_at
        )
        if covered or closed:
            priced = self._priced_in_parts(plan, order, closed, covered)
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

    def _priced_in_parts(
        self, plan: TariffPlan, order: Order, closed: list[tuple], covered: list[tuple]
    ) -> tuple[int, list[dict]]:
        """A stay partly (or wholly) not billed per stay: one 0-fen line per closed part and per
        permit-covered part (clipped to outside the closed parts), and each remaining part
        priced on its own with the engine (its own first hour and grace)."""
        lines = [zero_line("closed", s, e, note=NOTE_CLOSED) for s, e in closed]
        spans = list(closed)
        for permit_id, start, end in covered:
            for s, e in uncovered_intervals(start, end, closed):
                lines.append(zero_line("permit", s, e, note=NOTE_PERMIT, permit_id=permit_id))
                spans.append((s, e))
        amount_fen = 0
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
            area_class, tariff_code = SpaceVersion.objects.values_list("area_class", "tariff_code").get(
                pk=order.space_version_id
            )
            Biller().bill(order, area_class=area_class, tariff_code=tariff_code, at=now)
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
