"""Worlds the lake tests share (the fixtures that build them are in ``conftest.py``)."""

from __future__ import annotations

from django.utils import timezone

from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order
from tests.helpers.org import build_org


def synced_org():
    """The org's users, with the orders and refunds synced to the lake; ``start``/``end``: the data's days."""
    org = build_org()
    for name in ("orders", "refunds"):
        sync_dataset(name)
    days = sorted({timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True)})
    org.start, org.end = days[0], days[-1]
    return org
