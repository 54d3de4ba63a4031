"""Receipt numbering and the one-receipt-per-order rule under concurrent issuers, on PostgreSQL
(row locks on the orders and on the series, plus the partial unique index)."""

from __future__ import annotations

import functools

import pytest

from govcenter.parking.models import Citizen, PlateBinding
from govcenter.parking.models.receipts import Receipt, ReceiptItem, ReceiptSeries
from govcenter.parking.services.receipts import receipt_issue
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, stay
from tests.parking.test_payments_concurrency import _race
from tests.parking.test_receipts import pay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _issue(citizen, order_ids, merge=False) -> list[str]:
    return [r.number for r in receipt_issue(citizen=citizen, order_ids=order_ids, merge=merge).receipts]


@pytest.fixture
def paid(org):
    net = network(org)
    citizen = Citizen.objects.create(phone="13911110031")
    PlateBinding.objects.create(citizen=citizen, plate=PLATE)
    orders = [pay(stay(net.sensor, PLATE, 40 - 2 * i)) for i in range(8)]
    return citizen, orders


def test_concurrent_issuers_get_gapless_unique_numbers(paid):
    citizen, orders = paid
    assert not ReceiptSeries.objects.exists()  # the series itself is created by the race
    results, errors = _race(*[functools.partial(_issue, citizen, [o.pk]) for o in orders])
    assert not errors and len(results) == len(orders), errors
    sequences = sorted(Receipt.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, len(orders) + 1))
    numbers = [n for r in results for n in r]
    assert len(set(numbers)) == len(orders)
    assert ReceiptSeries.objects.get().next_number == len(orders) + 1

    # A second wave on the existing series continues without a gap.
    more = [pay(stay(orders[0].space.devices.first(), PLATE, 60 - 2 * i)) for i in range(4)]
    results, errors = _race(*[functools.partial(_issue, citizen, [o.pk]) for o in more])
    assert not errors, errors
    assert sorted(Receipt.objects.values_list("sequence", flat=True)) == list(range(1, len(orders) + 5))


def test_concurrent_requests_for_one_order_make_one_receipt(paid):
    citizen, orders = paid
    for order in orders[:3]:
        results, errors = _race(*[functools.partial(_issue, citizen, [order.pk])] * 4)
        assert not errors, errors
        assert len({tuple(r) for r in results}) == 1  # everyone got the same receipt back
        assert ReceiptItem.objects.filter(order=order, live=True).count() == 1
    assert Receipt.objects.count() == 3


def test_merge_and_single_race_for_an_order_one_wins(paid):
    citizen, orders = paid
    a, b = orders[0], orders[1]
    results, errors = _race(
        functools.partial(_issue, citizen, [a.pk, b.pk], True), functools.partial(_issue, citizen, [a.pk])
    )
    assert len(results) == 1 and errors == ["order_has_receipt"], (results, errors)
    assert ReceiptItem.objects.filter(order=a, live=True).count() == 1
    assert Receipt.objects.count() == 1 and ReceiptSeries.objects.get().next_number == 2
