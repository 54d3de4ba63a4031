"""Concurrent park_start for one space on PostgreSQL: exactly one open order, nothing lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from govcenter.parking.models import Order
from govcenter.parking.services.events import events_ingest
from tests.parking.events_helpers import ago, ev, network


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_leave_exactly_one_open_order(org):
    net = network(org)
    from tests.parking.factories import DeviceFactory

    # Two devices watching the same space: its sensor and a second camera of the segment.
    camera2 = DeviceFactory(kind="pda", segment=net.dc_seg, serial="DC-PDA-1")
    space = net.dc_spaces[0]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list = []

    def run(device, event):
        try:
            barrier.wait()
            results.append(events_ingest(device=device, events=[event]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    for _ in range(5):
        threads = [
            threading.Thread(target=run, args=(net.sensor, ev("park_start", ago(minutes=50)))),
            threading.Thread(target=run, args=(camera2, ev("park_start", ago(minutes=40), space_number=space.number))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert Order.objects.filter(space=space, state="open").count() == 1
    assert len(results) == 10
