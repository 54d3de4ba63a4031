"""One payment per order under concurrent requests, on PostgreSQL (row locks + partial unique index)."""

from __future__ import annotations

import functools
import threading

import pytest
from django.db import connection

from govcenter.core.api.errors import ServiceError
from govcenter.parking.models import (
    Citizen,
    Order,
    OrderState,
    PaymentIntent,
    PaymentNotification,
    PlateBinding,
)
from govcenter.parking.payments import sandbox
from govcenter.parking.services.payments import payment_create, payment_notify
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, stay


def _race(*targets) -> tuple[list, list]:
    barrier = threading.Barrier(len(targets))
    results: list = []
    errors: list = []

    def run(target):
        try:
            barrier.wait()
            results.append(target())
        except ServiceError as exc:
            errors.append(exc.error_code)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _pay(order_id: int, key: str, **payer) -> dict:
    """Create a payment, pay it at the sandbox cashier, deliver the notification."""
    created = payment_create(order_ids=[order_id], idempotency_key=key, **payer)
    headers, body = sandbox.sandbox_pay(created.intent.out_trade_no)
    return payment_notify(headers=headers, body=body)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_one_order_take_one_payment(org):
    net = network(org)
    citizen = Citizen.objects.create(phone="13911110009")
    PlateBinding.objects.create(citizen=citizen, plate=PLATE)
    for round_ in range(5):
        order = stay(net.sensor, PLATE, 20 - 3 * round_)

        results, errors = _race(
            functools.partial(_pay, order.pk, f"race-{round_}-app", citizen=citizen),
            functools.partial(_pay, order.pk, f"race-{round_}-anon", citizen=None, plate=PLATE),
        )
        assert len(results) == 1 and errors in (["order_in_payment"], ["order_not_payable"]), (
            results,
            errors,
        )
        order.refresh_from_db()
        assert order.state == OrderState.PAID and order.amount_paid_fen == order.amount_due_fen
        assert PaymentIntent.objects.filter(items__order=order).count() == 1
        assert PaymentIntent.objects.filter(items__order=order, status="paid").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_notification_pay_once(org):
    net = network(org)
    citizen = Citizen.objects.create(phone="13911110008")
    PlateBinding.objects.create(citizen=citizen, plate=PLATE)
    for round_ in range(5):
        order = stay(net.sensor, PLATE, 20 - 3 * round_)
        intent = payment_create(
            citizen=citizen, order_ids=[order.pk], idempotency_key=f"deliver-{round_}-key"
        ).intent
        headers, body = sandbox.sandbox_pay(intent.out_trade_no)
        results, errors = _race(*[functools.partial(payment_notify, headers=headers, body=body)] * 3)
        assert not errors and len(results) == 3, errors
        outcomes = sorted(PaymentNotification.objects.filter(intent=intent).values_list("outcome", flat=True))
        assert outcomes == ["paid", "replay", "replay"]
        order = Order.objects.get(pk=order.pk)
        assert order.state == OrderState.PAID and order.amount_paid_fen == order.amount_due_fen


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_two_live_items_for_one_order_without_the_service(org):
    """The partial unique index alone (no row locks): concurrent inserts, one wins."""
    from django.db import IntegrityError
    from django.utils import timezone

    from govcenter.parking.models import PaymentItem

    net = network(org)
    order = stay(net.sensor, PLATE, 5)
    citizen = Citizen.objects.create(phone="13911110007")
    intents = [
        PaymentIntent.objects.create(
            out_trade_no=f"PKRAW{i}",
            citizen=citizen,
            provider="sandbox",
            total_fen=order.amount_due_fen,
            idempotency_key=f"raw-key-{i}",
            expires_at=timezone.now(),
        )
        for i in range(4)
    ]

    def insert(intent):
        try:
            PaymentItem.objects.create(intent=intent, order=order, amount_fen=order.amount_due_fen)
        except IntegrityError:
            raise ServiceError("duplicate", code="duplicate") from None

    results, errors = _race(*[functools.partial(insert, i) for i in intents])
    assert len(results) == 1 and errors == ["duplicate"] * 3
    assert PaymentItem.objects.filter(order=order, live=True).count() == 1
