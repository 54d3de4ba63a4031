"""Arrears (欠费/催缴): the daily sweep, reminders, penalty cases and their staff actions.

The rules (all periods and amounts are settings, docs/configuration.md):

* An order billed and unpaid (``payable > 0``) is *due* ``ARREARS_DUE_DAYS`` after the car
  left. Before that, SMS reminders go out on the days ``ARREARS_REMINDER_DAYS`` after the
  day of leaving (local dates, Asia/Shanghai).
* Past due it turns ``arrears`` (the Order FSM's ``mark_arrears``) and gets an
  :class:`ArrearsRecord`; the back-payment window (补缴期) of ``BACKPAY_DAYS`` starts at the
  due time, with reminders on the days ``BACKPAY_REMINDER_DAYS`` after the due day.
* Paid inside the window and owed at most ``PENALTY_EXEMPT_FEN``: no penalty (outcome
  ``exempt``). The exemption covers only such small arrears: an order owing more is
  penalised at the end of its window even when it was paid inside it, and every order
  still unpaid at the end of its window is penalised whatever the amount.
* At the end of the window the penalised orders of one plate and one district (and
  managing unit) become one :class:`PenaltyCase` with the evidence (orders, times, segment,
  device events, plate confidence, photo references) and the fine ``PENALTY_FINE_FEN``;
  the penalty notice SMS moves it ``created → notified`` (retried by every sweep while no
  notice went out). When the arrears that were unpaid at its creation are all paid, the
  case is ``paid`` (the fine itself is collected by the enforcement authority). Staff close
  a case (with a reason) or mark it appealed (a complaint reference and a reason).

Reminders: one SMS per plate, per stage and per run, listing the number of orders and the
total; one :class:`ReminderLog` row per (order, stage, day) — a unique constraint, so a
re-run, a catch-up after missed days or a concurrent sweep never sends twice. A catch-up
sends only the latest reminder day reached, not every missed one. A plate without an
active binding gets no SMS; its rows say ``no_contact``. A failed send is retried by the
next run (same row).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.masking import mask_plate
from govcenter.core.models import SmsMessage
from govcenter.core.sms import sms_notify

from ..models import Order, OrderState, PaymentItem, PaymentStatus, PlateBinding
from ..models.arrears import (
    ArrearsRecord,
    NoticeOutcome,
    PenaltyCase,
    PenaltyCaseOrder,
    PenaltyState,
    ReminderLog,
    ReminderStage,
)
from ..models.orders import PAYABLE_FEN
from .base import check_district_in_scope

BATCH = 500
AUDIT_IDS = 500  # order ids per bulk audit entry
_OPEN_CASES = (PenaltyState.CREATED, PenaltyState.NOTIFIED, PenaltyState.APPEALED)


def _days(name: str) -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, name))


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _aware(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return timezone.now()
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ServiceError(
            _("时间须带时区。"), code="naive_time", details={"now": [_("时间须带 UTC 偏移。")]}
        )
    return now


def _reached(start: dt.datetime, offsets: tuple[int, ...], today: dt.date) -> int | None:
    """The latest reminder day (days after the local date of ``start``) reached by ``today``."""
    elapsed = (today - timezone.localdate(start)).days
    reached = [d for d in offsets if d <= elapsed]
    return reached[-1] if reached else None


def plate_phone(plate: str) -> str | None:
    """The phone of the plate's active binding (an active citizen), or None (no contact)."""
    return (
        PlateBinding.objects.filter(plate=plate, status=PlateBinding.Status.ACTIVE, citizen__is_active=True)
        .values_list("citizen__phone", flat=True)
        .first()
    )


@dataclass
class _Sender:
    """Sends (or, in a dry run, only counts) the notices of one sweep."""

    dry_run: bool
    phones: dict = field(default_factory=dict)

    def send(self, plate: str, template: str, **context) -> tuple[str, object]:
        if plate not in self.phones:
            self.phones[plate] = plate_phone(plate)
        phone = self.phones[plate]
        if not phone:
            return NoticeOutcome.NO_CONTACT, None
        if self.dry_run:
            return NoticeOutcome.SENT, None
        message = sms_notify(phone=phone, template_code=template, plate=mask_plate(plate), **context)
        if message is None:
            return NoticeOutcome.DISABLED, None
        return (NoticeOutcome.SENT if message.status != "failed" else NoticeOutcome.FAILED), message


# -- 1. billed past due → arrears ----------------------------------------------------------------


def _mark_arrears(now: dt.datetime) -> int:
    """``billed → arrears`` past due (in batches, one audit entry per batch), each with its record.

    Orders turned ``arrears`` elsewhere (without a record) get their record here too.
    """
    due = _days("GOVCENTER_PARKING_ARREARS_DUE_DAYS")
    backpay = _days("GOVCENTER_PARKING_BACKPAY_DAYS")
    past_due = (
        Order.objects.filter(state=OrderState.BILLED, ended_at__lte=now - due)
        .alias(payable=PAYABLE_FEN)
        .filter(payable__gt=0)
    )
    orphans = Order.objects.filter(
        state=OrderState.ARREARS, ended_at__isnull=False, arrears_record__isnull=True
    )
    marked = 0
    for source in (past_due, orphans):
        while True:
            with transaction.atomic():
                batch = list(source.select_for_update(of=("self",)).order_by("id")[:BATCH])
                if not batch:
                    break
                for order in batch:
                    if order.state == OrderState.BILLED:
                        order.mark_arrears()
                        order.updated_at = now
                Order.objects.bulk_update(batch, ["state", "updated_at"])
                ArrearsRecord.objects.bulk_create(
                    [
                        ArrearsRecord(
                            order=order,
                            plate=order.plate,
                            district_id=order.district_id,
                            managing_unit_id=order.managing_unit_id,
                            amount_fen=order.payable_fen,
                            left_at=order.ended_at,
                            due_at=order.ended_at + due,
                            window_ends_at=order.ended_at + due + backpay,
                            created_at=now,
                        )
                        for order in batch
                    ]
                )
                audit.record(
                    action="parking.arrears.mark",
                    object_type="parking.order",
                    object_repr=f"{len(batch)} orders → arrears",
                    changes={
                        "orders": [o.pk for o in batch],
                        "state": [OrderState.BILLED, OrderState.ARREARS],
                    },
                    at=now,
                )
                marked += len(batch)
    return marked


# -- 2. reminders ---------------------------------------------------------------------------------


def _remind(
    now, sender: _Sender, stage: str, due_by_order: dict[int, tuple[Order, int, dt.datetime]]
) -> dict:
    """Send the reminders of one stage: ``{order_id: (order, day_offset, deadline)}`` reached today."""
    counts = {"sms": 0, "orders": 0, "no_contact": 0, "failed": 0, "disabled": 0}
    if not due_by_order:
        return counts
    done: dict[tuple[int, int], ReminderLog] = {}
    ids = list(due_by_order)
    for start in range(0, len(ids), BATCH):
        for log in ReminderLog.objects.filter(order_id__in=ids[start : start + BATCH], stage=stage):
            done[(log.order_id, log.day_offset)] = log
    by_plate: dict[str, list] = defaultdict(list)
    for order, offset, deadline in due_by_order.values():
        log = done.get((order.pk, offset))
        if log is None or log.outcome == NoticeOutcome.FAILED:
            by_plate[order.plate].append((order, offset, deadline, log))
    template = "arrears_reminder" if stage == ReminderStage.ARREARS else "backpay_reminder"
    for plate, items in sorted(by_plate.items()):
        total = sum(order.payable_fen for order, *_rest in items)
        deadline = min(d for _o, _d, d, _l in items)
        context = {"count": len(items), "amount": _yuan(total)}
        if stage == ReminderStage.ARREARS:
            context["due_date"] = f"{timezone.localtime(deadline):%Y-%m-%d}"
        else:
            context["deadline"] = f"{timezone.localtime(deadline):%Y-%m-%d}"
        try:
            with transaction.atomic():
                # Claim the rows first: a concurrent sweep hits the unique constraint (or the
                # row lock of a failed one) before any SMS leaves, so none goes out twice.
                new = [
                    ReminderLog(
                        order=order,
                        plate=plate,
                        district_id=order.district_id,
                        managing_unit_id=order.managing_unit_id,
                        stage=stage,
                        day_offset=offset,
                        amount_fen=order.payable_fen,
                        outcome=NoticeOutcome.FAILED,
                        sent_at=now,
                    )
                    for order, offset, _d, log in items
                    if log is None
                ]
                ReminderLog.objects.bulk_create(new)
                retried = [log.pk for *_rest, log in items if log is not None]
                if retried:
                    locked = ReminderLog.objects.select_for_update().filter(
                        pk__in=retried, outcome=NoticeOutcome.FAILED
                    )
                    if len(list(locked)) != len(retried):
                        raise IntegrityError("reminder retried elsewhere")
                outcome, message = sender.send(plate, template, **context)
                if retried:
                    # The retried logs' earlier (failed) messages lose their link: re-export them.
                    SmsMessage.objects.filter(
                        pk__in=ReminderLog.objects.filter(pk__in=retried).values("sms_message_id")
                    ).update(updated_at=timezone.now())
                ReminderLog.objects.filter(pk__in=[r.pk for r in new] + retried).update(
                    outcome=outcome, sms_message=message, sent_at=now, updated_at=timezone.now()
                )
        except IntegrityError:
            continue  # another sweep took this plate's reminders
        counts["orders"] += len(items)
        if outcome == NoticeOutcome.SENT:
            counts["sms"] += 1
        else:
            counts[outcome] += 1
    return counts


def _remind_before_due(now: dt.datetime, sender: _Sender) -> dict:
    due = _days("GOVCENTER_PARKING_ARREARS_DUE_DAYS")
    offsets = settings.GOVCENTER_PARKING_ARREARS_REMINDER_DAYS
    today = timezone.localdate(now)
    wanted = {}
    if offsets:
        orders = (
            Order.objects.filter(state=OrderState.BILLED, ended_at__gt=now - due, ended_at__lte=now)
            .exclude(plate="")
            .alias(payable=PAYABLE_FEN)
            .filter(payable__gt=0)
            .only(
                "id",
                "plate",
                "district_id",
                "managing_unit_id",
                "ended_at",
                "amount_due_fen",
                "amount_adjustment_fen",
                "amount_paid_fen",
                "state",
            )
        )
        for order in orders.iterator(chunk_size=BATCH):
            offset = _reached(order.ended_at, offsets, today)
            if offset is not None:
                wanted[order.pk] = (order, offset, order.ended_at + due)
    return _remind(now, sender, ReminderStage.ARREARS, wanted)


def _remind_in_window(now: dt.datetime, sender: _Sender) -> dict:
    offsets = settings.GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS
    today = timezone.localdate(now)
    wanted = {}
    if offsets:
        records = (
            ArrearsRecord.objects.filter(
                outcome=ArrearsRecord.Outcome.PENDING,
                window_ends_at__gt=now,
                due_at__lte=now,
                order__state=OrderState.ARREARS,
            )
            .exclude(plate="")
            .select_related("order")
        )
        for record in records.iterator(chunk_size=BATCH):
            order = record.order
            if order.payable_fen <= 0:
                continue
            offset = _reached(record.due_at, offsets, today)
            if offset is not None:
                wanted[order.pk] = (order, offset, record.window_ends_at)
    return _remind(now, sender, ReminderStage.BACKPAY, wanted)


# -- 3. payments inside the window, window ends, penalty cases -----------------------------------


def _paid_at(order_ids: list[int]) -> dict[int, dt.datetime]:
    rows = (
        PaymentItem.objects.filter(order_id__in=order_ids, live=True, intent__status=PaymentStatus.PAID)
        .values("order_id")
        .annotate(at=Max("intent__paid_at"))
    )
    return {row["order_id"]: row["at"] for row in rows}


def _settle_records(now: dt.datetime) -> dict:
    """Pending records whose order was paid or voided: note it; small ones paid in time are exempt."""
    exempt_fen = settings.GOVCENTER_PARKING_PENALTY_EXEMPT_FEN
    counts = {"exempt": 0, "void": 0}
    pending = ArrearsRecord.objects.filter(
        outcome=ArrearsRecord.Outcome.PENDING,
        settled_at__isnull=True,
        order__state__in=[OrderState.PAID, OrderState.VOID],
    ).select_related("order")
    with transaction.atomic():
        records = list(pending.select_for_update(of=("self",)))
        paid_at = _paid_at([r.order_id for r in records if r.order.state == OrderState.PAID])
        for record in records:
            if record.order.state == OrderState.VOID:
                record.outcome, record.decided_at = ArrearsRecord.Outcome.VOID, now
                counts["void"] += 1
            else:
                record.settled_at = min(paid_at.get(record.order_id) or now, now)
                owed = max(record.order.amount_due_fen + record.order.amount_adjustment_fen, 0)
                if record.settled_at <= record.window_ends_at and min(owed, record.amount_fen) <= exempt_fen:
                    record.outcome, record.decided_at = ArrearsRecord.Outcome.EXEMPT, now
                    counts["exempt"] += 1
        stamp = timezone.now()
        for record in records:
            record.updated_at = stamp
        ArrearsRecord.objects.bulk_update(records, ["outcome", "decided_at", "settled_at", "updated_at"])
        decided = [r.order_id for r in records if r.outcome != ArrearsRecord.Outcome.PENDING]
        if decided:
            audit.record(
                action="parking.arrears.settle",
                object_type="parking.order",
                object_repr=f"{len(decided)} arrears settled",
                changes={"exempt": counts["exempt"], "void": counts["void"], "orders": decided[:AUDIT_IDS]},
                at=now,
            )
    return counts


def _photo_refs(event) -> list[str]:
    if event is None or not isinstance(event.payload, dict):
        return []
    refs = []
    for key, value in event.payload.items():
        if any(word in key.lower() for word in ("image", "photo", "media", "picture")):
            refs.extend(str(v) for v in (value if isinstance(value, list) else [value]) if v)
    return refs[:10]


def _evidence(order: Order) -> dict:
    def event(e):
        if e is None:
            return None
        return {
            "event_id": str(e.event_id),
            "event_type": e.event_type,
            "event_time": e.event_time.isoformat(),
            "device": e.device.serial if e.device_id else "",
            "plate_confidence": e.plate_confidence,
            "photo_refs": _photo_refs(e),
        }

    return {
        "order_id": order.pk,
        "segment": {"id": order.segment_id, "code": order.segment.code, "name": order.segment.name},
        "space": order.space.number,
        "started_at": order.started_at.isoformat(),
        "ended_at": order.ended_at.isoformat() if order.ended_at else None,
        "amount_fen": max(order.amount_due_fen + order.amount_adjustment_fen, 0),
        "unpaid_fen": order.payable_fen,
        "state": order.state,
        "plate_confidence": order.plate_confidence,
        "start_event": event(order.start_event),
        "end_event": event(order.end_event),
    }


def _close_windows(now: dt.datetime) -> dict:
    """Records whose window ended: exempt, void, no plate — or into one case per plate/district/unit."""
    fine = settings.GOVCENTER_PARKING_PENALTY_FINE_FEN
    counts = {"penalised_orders": 0, "cases_created": 0}
    while True:
        with transaction.atomic():
            records = list(
                ArrearsRecord.objects.select_for_update(of=("self",))
                .filter(outcome=ArrearsRecord.Outcome.PENDING, window_ends_at__lte=now)
                .select_related(
                    "order",
                    "order__segment",
                    "order__space",
                    "order__start_event__device",
                    "order__end_event__device",
                )
                .order_by("plate", "id")[:BATCH]
            )
            if not records:
                return counts
            groups: dict[tuple, list[ArrearsRecord]] = defaultdict(list)
            for record in records:
                order = record.order
                if order.state == OrderState.VOID:
                    record.outcome = ArrearsRecord.Outcome.VOID
                elif not record.plate:
                    record.outcome = ArrearsRecord.Outcome.VOID  # no plate: nobody to penalise
                else:
                    record.outcome = ArrearsRecord.Outcome.PENALISED
                    groups[(record.plate, record.district_id, record.managing_unit_id)].append(record)
                record.decided_at = now
                record.updated_at = timezone.now()
            ArrearsRecord.objects.bulk_update(records, ["outcome", "decided_at", "updated_at"])
            for (plate, district_id, unit_id), group in groups.items():
                orders = [r.order for r in group]
                unpaid = sum(o.payable_fen for o in orders if o.state == OrderState.ARREARS)
                case = PenaltyCase.objects.create(
                    plate=plate,
                    district_id=district_id,
                    managing_unit_id=unit_id,
                    amount_fen=sum(max(o.amount_due_fen + o.amount_adjustment_fen, 0) for o in orders),
                    unpaid_fen=unpaid,
                    fine_fen=fine,
                    order_count=len(orders),
                    evidence=[_evidence(o) for o in orders],
                    window_ended_at=max(r.window_ends_at for r in group),
                    created_at=now,
                )
                case.number = f"CF{timezone.localdate(now):%Y%m%d}{case.pk:06d}"
                case.save(update_fields=["number"])
                PenaltyCaseOrder.objects.bulk_create(
                    [PenaltyCaseOrder(case=case, order=o, amount_fen=o.payable_fen) for o in orders]
                )
                audit.record(
                    action="parking.penalty.create",
                    obj=case,
                    changes={"orders": [o.pk for o in orders], "unpaid_fen": unpaid, "fine_fen": fine},
                    at=now,
                )
                counts["cases_created"] += 1
                counts["penalised_orders"] += len(orders)


def _notify_cases(now: dt.datetime, sender: _Sender) -> dict:
    counts = {"notified": 0, "no_contact": 0, "failed": 0, "disabled": 0}
    for case_id in PenaltyCase.objects.filter(state=PenaltyState.CREATED).values_list("pk", flat=True):
        with transaction.atomic():
            case = (
                PenaltyCase.objects.select_for_update().filter(pk=case_id, state=PenaltyState.CREATED).first()
            )
            if case is None:
                continue
            outcome, message = sender.send(
                case.plate,
                "penalty_notice",
                count=case.order_count,
                amount=_yuan(case.amount_fen),
                case_number=case.number,
                fine=_yuan(case.fine_fen),
            )
            case.notice_outcome = outcome
            case.sms_message = message
            fields = ["notice_outcome", "sms_message", "updated_at"]
            if outcome == NoticeOutcome.SENT:
                case.notify(at=now)
                fields += ["state", "notified_at"]
                audit.record(action="parking.penalty.notify", obj=case, at=now)
                counts["notified"] += 1
            else:
                counts[outcome] += 1
            case.save(update_fields=fields)
    return counts


def penalty_cases_settle(*, order_ids: list[int] | None = None, now: dt.datetime | None = None) -> int:
    """Move open cases whose arrears (unpaid at creation) are now all paid to ``paid``; audited.

    The sweep calls it for every open case; the payment service may call it with the ids of
    the orders it just settled (``order_ids``) to update their cases at once. Returns the
    number of cases paid.
    """
    now = _aware(now)
    cases = PenaltyCase.objects.filter(state__in=_OPEN_CASES, unpaid_fen__gt=0)
    if order_ids is not None:
        cases = cases.filter(items__order_id__in=order_ids).distinct()
    paid = 0
    for case_id in list(cases.values_list("pk", flat=True)):
        with transaction.atomic():
            case = PenaltyCase.objects.select_for_update().filter(pk=case_id, state__in=_OPEN_CASES).first()
            if case is None:
                continue
            states = set(case.items.values_list("order__state", flat=True))
            if not states <= {OrderState.PAID, OrderState.VOID} or OrderState.PAID not in states:
                continue
            case.pay(at=now)
            case.save(update_fields=["state", "paid_at", "updated_at"])
            audit.record(action="parking.penalty.paid", obj=case, at=now)
            paid += 1
    return paid


# -- the sweep -----------------------------------------------------------------------------------


class _DryRun(Exception):  # noqa: N818  (control flow: roll the dry run back)
    pass


def arrears_sweep(*, now: dt.datetime | None = None, dry_run: bool = False) -> dict:
    """The daily arrears job (idempotent, re-runnable, catch-up safe); a JSON-able summary.

    ``now`` is the moment the sweep acts as of (tests and catch-ups pass it); ``dry_run``
    does everything in a transaction that is rolled back and sends nothing.
    """
    now = _aware(now)
    sender = _Sender(dry_run=dry_run)
    summary: dict = {"now": now.isoformat(), "dry_run": dry_run}

    def run() -> None:
        summary["marked_arrears"] = _mark_arrears(now)
        summary["reminders"] = _remind_before_due(now, sender)
        summary["backpay_reminders"] = _remind_in_window(now, sender)
        summary["settled"] = _settle_records(now)
        summary["penalties"] = _close_windows(now)
        summary["notices"] = _notify_cases(now, sender)
        summary["cases_paid"] = penalty_cases_settle(now=now)

    if not dry_run:
        run()
        return summary
    try:
        with transaction.atomic():
            run()
            raise _DryRun
    except _DryRun:
        pass
    return summary


# -- staff actions -------------------------------------------------------------------------------


def _reason(value: str, name: str = "reason") -> str:
    value = (value or "").strip()
    if not value:
        raise ServiceError(_("须填写理由。"), code="reason_required", details={name: [_("必填。")]})
    return value[:200]


def _transition(actor, case: PenaltyCase, verb: str, **kwargs) -> PenaltyCase:
    case = PenaltyCase.objects.select_for_update().get(pk=case.pk)
    check_district_in_scope(actor, case.district_id)
    before = audit.snapshot(case, ["state"])
    try:
        getattr(case, verb)(at=timezone.now(), **kwargs)
    except TransitionNotAllowed:
        raise ServiceError(
            _("案件当前状态不允许此操作。"), code="invalid_state", status=409, details={"state": [case.state]}
        ) from None
    case.save()
    audit.record(
        action=f"parking.penalty.{verb}",
        obj=case,
        changes={**audit.diff(before, audit.snapshot(case, ["state"])), **kwargs},
        reason=kwargs.get("reason", ""),
    )
    return case


@transaction.atomic
def penalty_case_close(*, actor, case: PenaltyCase, reason: str) -> PenaltyCase:
    """Close a case (结案) with a reason; refused once paid or closed (409)."""
    return _transition(actor, case, "close", reason=_reason(reason))


@transaction.atomic
def penalty_case_appeal(*, actor, case: PenaltyCase, reference: str, reason: str) -> PenaltyCase:
    """Mark a case appealed (申诉), with the complaint's reference and the reason."""
    reference = (reference or "").strip()[:64]
    if not reference:
        raise ServiceError(
            _("须填写申诉编号。"), code="reference_required", details={"reference": [_("必填。")]}
        )
    return _transition(actor, case, "appeal", reference=reference, reason=_reason(reason))
