"""Daily reconciliation (对账) of the provider's statement against our ledger.

``reconcile(date)`` fetches the provider statement of ``date`` (Asia/Shanghai;
``port.statement``) and compares it with our ledger of that day: payments paid that day
(``PaymentIntent.paid_at``, matched by the provider transaction number, else by our
``out_trade_no``) and refunds succeeded that day (``Refund.succeeded_at``, matched by our
``refund_no``). Each transaction is *matched*, *missing in ledger* (the provider has it, we
do not: a lost notification, a refund we never learnt the end of), *missing in statement*
(we have it, the provider does not) or an *amount mismatch*. The run
(:class:`ReconciliationRun`: counts, totals of both sides, ``balanced`` or ``differences``)
and its :class:`ReconciliationDifference` rows are stored; reconciling the same day again
replaces them in one transaction, keeping the resolution of a difference that is found again
unchanged. Staff resolve a difference with a note (:func:`difference_resolve`) or, for a
transaction only the provider has, take it (:func:`difference_take`): a payment is applied
as its notification would have been (idempotent), a refund is asked of the provider again by
its ``refund_no``. Everything is audited.

A Huey task reconciles yesterday every day at 02:30 (``parking/tasks.py``); the command is
``govcenter parking reconcile --date YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import PaymentIntent
from ..models.payments import PaymentStatus
from ..models.refunds import ReconciliationDifference, ReconciliationRun, Refund, RefundStatus
from ..payments.port import StatementRow, get_provider
from . import payments as payment_services
from . import refunds as refund_services

Kind = ReconciliationDifference.Kind
Entry = ReconciliationDifference.Entry
RESOLVE_PERMISSION = "parking.resolve_reconciliation"
RUN_PERMISSION = "parking.run_reconciliation"


def day_bounds(date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(date, dt.time.min, tzinfo=timezone.get_default_timezone())
    return start, start + dt.timedelta(days=1)


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


def _difference(
    kind, entry, *, row: StatementRow | None = None, intent=None, refund=None
) -> ReconciliationDifference:
    return ReconciliationDifference(
        kind=kind,
        entry=entry,
        out_trade_no=(
            row.out_trade_no if row else intent.out_trade_no if intent else refund.intent.out_trade_no
        )[:32],
        provider_trade_no=(
            row.provider_trade_no
            if row
            else (intent.provider_trade_no if intent else refund.provider_trade_no)
        )[:64],
        refund_no=(row.refund_no if row else refund.refund_no if refund else "")[:32],
        statement_amount_fen=row.amount_fen if row else None,
        ledger_amount_fen=(intent.total_fen if intent else refund.amount_fen if refund else None),
        occurred_at=row.paid_at
        if row
        else (intent.paid_at if intent else refund.succeeded_at if refund else None),
        intent=intent if intent is not None else (refund.intent if refund is not None else None),
        refund=refund,
    )


def _compare(rows: list[StatementRow], intents: list[PaymentIntent], refunds: list[Refund]):
    """(matched count, differences) of one day."""
    differences: list[ReconciliationDifference] = []
    matched = 0
    ledger_payments = {i.provider_trade_no or i.out_trade_no: i for i in intents}
    ledger_refunds = {r.refund_no: r for r in refunds}
    for row in rows:
        if row.kind == "refund":
            refund = ledger_refunds.pop(row.refund_no, None)
            if refund is None:
                refund = Refund.objects.select_related("intent").filter(refund_no=row.refund_no).first()
                differences.append(_difference(Kind.MISSING_IN_LEDGER, Entry.REFUND, row=row, refund=refund))
            elif refund.amount_fen != row.amount_fen:
                differences.append(_difference(Kind.AMOUNT_MISMATCH, Entry.REFUND, row=row, refund=refund))
            else:
                matched += 1
            continue
        intent = ledger_payments.pop(row.provider_trade_no, None) or ledger_payments.pop(
            row.out_trade_no, None
        )
        if intent is None:
            known = PaymentIntent.objects.filter(out_trade_no=row.out_trade_no).first()
            differences.append(_difference(Kind.MISSING_IN_LEDGER, Entry.PAYMENT, row=row, intent=known))
        elif intent.total_fen != row.amount_fen:
            differences.append(_difference(Kind.AMOUNT_MISMATCH, Entry.PAYMENT, row=row, intent=intent))
        else:
            matched += 1
    for intent in ledger_payments.values():
        differences.append(_difference(Kind.MISSING_IN_STATEMENT, Entry.PAYMENT, intent=intent))
    for refund in ledger_refunds.values():
        differences.append(_difference(Kind.MISSING_IN_STATEMENT, Entry.REFUND, refund=refund))
    # The statement amount of a row only the provider has, else ours: fix the shown amounts.
    for diff in differences:
        if diff.kind == Kind.MISSING_IN_LEDGER:
            diff.ledger_amount_fen = None
    return matched, differences


def reconcile(*, date: dt.date, actor=None) -> ReconciliationRun:
    """Reconcile ``date`` with the configured provider (see the module docstring); the run."""
    provider = get_provider()
    rows = list(provider.statement(date))
    start, end = day_bounds(date)
    intents = list(
        PaymentIntent.objects.filter(
            provider=provider.name, status=PaymentStatus.PAID, paid_at__gte=start, paid_at__lt=end
        ).order_by("paid_at", "id")
    )
    refunds = list(
        Refund.objects.select_related("intent").filter(
            intent__provider=provider.name,
            status=RefundStatus.SUCCEEDED,
            succeeded_at__gte=start,
            succeeded_at__lt=end,
        )
    )
    matched, differences = _compare(rows, intents, refunds)
    totals = {
        "statement_count": len(rows),
        "statement_paid_fen": sum(r.amount_fen for r in rows if r.kind != "refund"),
        "statement_refunded_fen": sum(r.amount_fen for r in rows if r.kind == "refund"),
        "ledger_count": len(intents) + len(refunds),
        "ledger_paid_fen": sum(i.total_fen for i in intents),
        "ledger_refunded_fen": sum(r.amount_fen for r in refunds),
        "matched_count": matched,
        "difference_count": len(differences),
        "status": ReconciliationRun.Status.DIFFERENCES if differences else ReconciliationRun.Status.BALANCED,
        "run_by_username": (getattr(actor, "username", "") or "")[:150],
    }
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _store(date, provider.name, totals, differences)
        except IntegrityError:
            if attempt:  # a concurrent first run of the day won twice: give up loudly
                raise
    raise AssertionError("unreachable")


def _store(date, provider_name, totals, differences) -> ReconciliationRun:
    run = ReconciliationRun.objects.select_for_update().filter(date=date, provider=provider_name).first()
    replaced = run is not None
    if run is None:
        run = ReconciliationRun.objects.create(date=date, provider=provider_name, **totals)
        kept = {}
    else:
        kept = {d.key: d for d in run.differences.filter(status=ReconciliationDifference.Status.RESOLVED)}
        run.differences.all().delete()
        for name, value in totals.items():
            setattr(run, name, value)
        run.save()
    for diff in differences:
        diff.run = run
        old = kept.get(diff.key)
        if old is not None:
            diff.status, diff.note = old.status, old.note
            diff.resolved_by_id, diff.resolved_by_username, diff.resolved_at = (
                old.resolved_by_id,
                old.resolved_by_username,
                old.resolved_at,
            )
    ReconciliationDifference.objects.bulk_create(differences)
    audit.record(
        action="parking.reconciliation.run",
        obj=run,
        changes={
            "date": date.isoformat(),
            "replaced": replaced,
            **{k: v for k, v in totals.items() if k != "run_by_username"},
        },
    )
    return run


# -- staff actions --------------------------------------------------------------------------------


def _locked_open(actor, difference: ReconciliationDifference) -> ReconciliationDifference:
    if actor is None or not actor.has_perm(RESOLVE_PERMISSION):
        raise ServiceError(_("没有权限执行此操作。"), code="permission_denied", status=403)
    difference = (
        ReconciliationDifference.objects.select_for_update().select_related("run").get(pk=difference.pk)
    )
    if difference.status != ReconciliationDifference.Status.OPEN:
        raise ServiceError(_("该差异已处理。"), code="already_resolved", status=409)
    return difference


def _resolve(actor, difference: ReconciliationDifference, note: str, action: str) -> ReconciliationDifference:
    difference.status = ReconciliationDifference.Status.RESOLVED
    difference.note = note[:500]
    difference.resolved_by = actor
    difference.resolved_by_username = (getattr(actor, "username", "") or "")[:150]
    difference.resolved_at = timezone.now()
    difference.save()
    audit.record(
        action=action,
        obj=difference,
        changes={
            "run": difference.run_id,
            "kind": difference.kind,
            "entry": difference.entry,
            "out_trade_no": difference.out_trade_no,
            "refund_no": difference.refund_no,
        },
        reason=note[:200],
    )
    return difference


def difference_resolve(*, actor, difference: ReconciliationDifference, note: str) -> ReconciliationDifference:
    """Close a difference with an explanation (audited)."""
    note = (note or "").strip()
    if not note:
        raise ServiceError(_("须填写处理说明。"), code="invalid", details={"note": [_("必填。")]})
    with transaction.atomic():
        return _resolve(actor, _locked_open(actor, difference), note, "parking.reconciliation.resolve")


def difference_take(
    *, actor, difference: ReconciliationDifference, note: str = ""
) -> ReconciliationDifference:
    """Take into the ledger a transaction only the provider's statement has (see the module
    docstring); the difference is resolved with ``note``. Errors 409: not a missing-in-ledger
    difference (``not_takeable``), or the ledger refuses it (e.g. ``amount_mismatch``)."""
    with transaction.atomic():
        locked = _locked_open(actor, difference)
    if locked.kind != Kind.MISSING_IN_LEDGER:
        raise ServiceError(_("只有本方缺失的交易可以补记。"), code="not_takeable", status=409)
    if locked.entry == Entry.PAYMENT:
        stored = payment_services.payment_take_statement_row(
            row=StatementRow(
                provider_trade_no=locked.provider_trade_no,
                out_trade_no=locked.out_trade_no,
                amount_fen=locked.statement_amount_fen or 0,
                paid_at=locked.occurred_at,
            )
        )
        outcome = stored.get_outcome_display() if stored else ""
    else:
        refund = Refund.objects.filter(refund_no=locked.refund_no).first()
        if refund is None:
            raise ServiceError(
                _("本方没有该退款单，无法补记，请核实后填写处理说明。"), code="not_takeable", status=409
            )
        refund = (
            refund_services.refund_retry(actor=actor, refund=refund)
            if refund.status == RefundStatus.APPROVED
            else refund
        )
        outcome = refund.get_status_display()
    note = ((note or "").strip() or _("已按渠道对账单补记")) + f"（{outcome}）"
    with transaction.atomic():
        return _resolve(actor, _locked_open(actor, locked), note, "parking.reconciliation.take")


def run_list() -> QuerySet[ReconciliationRun]:
    """Reconciliation runs (city-wide: the provider statement has no district)."""
    return ReconciliationRun.objects.all()
