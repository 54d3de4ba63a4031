"""Fee adjustments under concurrent writers, on PostgreSQL: the order row lock keeps the running
sum of adjustments within the bill (never below 0 owed) and every entry's before/after chained."""

from __future__ import annotations

import functools

import pytest

from govcenter.parking.models.complaints import FeeAdjustment
from govcenter.parking.services.complaints import fee_adjust
from tests.factories import UserFactory
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, stay
from tests.parking.test_payments_concurrency import _race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_never_lower_the_fee_below_zero(org):
    net = network(org)
    staff = UserFactory(username="t_cs_race", unit=org.center, role_set=[org.roles["data_staff"]])
    for round_ in range(4):
        order = stay(net.sensor, PLATE, 20 - 3 * round_)
        share = -(order.amount_due_fen * 2 // 3)  # two of them exceed the bill, one fits
        results, errors = _race(
            *[
                functools.partial(fee_adjust, order=order, amount_fen=share, reason=f"r{i}", actor=staff)
                for i in range(3)
            ]
        )
        assert len(results) == 1 and errors == ["adjustment_out_of_range"] * 2, (results, errors)
        order.refresh_from_db()
        assert (
            order.amount_adjustment_fen == share and order.amount_due_fen + order.amount_adjustment_fen >= 0
        )
        entries = list(FeeAdjustment.objects.filter(order=order))
        assert [(e.adjustment_before_fen, e.adjustment_after_fen) for e in entries] == [(0, share)]
