"""投诉情况统计 from the lake against the ORM; on-time rule; reconciliation; scope; surfaces; bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.parking.lake.sync import TZ, sync_dataset
from govcenter.parking.models import Order
from govcenter.parking.models.complaints import Complaint, FeeAdjustment
from govcenter.parking.services import complaints as services
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from tests.factories import UserFactory
from tests.helpers.org import build_org

from .statcheck import assert_reconciles, assert_rollup_gives_the_raw_numbers, assert_surfaces_agree

pytestmark = pytest.mark.django_db
STAT = STATISTICS["complaints"]
KINDS = (
    ("appeal", "app", "wrong_plate"),
    ("complaint", "hotline", "tariff_dispute"),
    ("appeal", "mailbox", "wrong_times"),
    ("complaint", "app", "device_fault"),
)


def _create(order, j, received_at=None):
    kind, channel, category = KINDS[j % len(KINDS)]
    return services.complaint_create(
        actor=None,
        kind=kind,
        channel=channel,
        category=category,
        subject="测试投诉",
        body="请核实。",
        order=order,
        received_at=received_at or timezone.now() - dt.timedelta(hours=2),
    )


@pytest.fixture
def world(generated, lake):
    """Complaints through the service: replied, closed with a fee adjustment, rejected, an old one
    replied late and an old one left open (overdue), the rest just received."""
    org = build_org()
    staff = UserFactory(is_superuser=True)
    finished = list(Order.objects.exclude(state="open").order_by("id")[:12])
    made = [_create(o, j) for j, o in enumerate(finished)]
    services.complaint_accept(actor=staff, complaint=made[0])
    services.complaint_reply(actor=staff, complaint=made[0], text="已核实。", outcome="not_upheld")
    billed = Order.objects.filter(state__in=("billed", "arrears"), amount_due_fen__gte=200).order_by("id")[0]
    adjusted = _create(billed, 1)
    services.complaint_accept(actor=staff, complaint=adjusted)
    services.complaint_fee_adjust(actor=staff, complaint=adjusted, amount_fen=-150, reason="核减")
    services.complaint_close(actor=staff, complaint=adjusted, text="已核减。", outcome="upheld")
    services.complaint_reject(actor=staff, complaint=made[1], reason="重复投诉")
    old = timezone.now() - dt.timedelta(days=30)
    late = _create(finished[2], 2, received_at=old)
    services.complaint_accept(actor=staff, complaint=late)
    services.complaint_reply(actor=staff, complaint=late, text="已核实。", outcome="upheld")
    _create(finished[3], 3, received_at=old - dt.timedelta(days=1))  # left open: overdue
    sync_dataset("complaints")
    org.start, org.end = timezone.localdate() - dt.timedelta(days=40), timezone.localdate()
    return org


def _due_at(c):
    return dt.datetime.combine(c.deadline + dt.timedelta(days=1), dt.time(), TZ)


def test_totals_equal_the_orm_and_rows_and_breakdowns_sum(world):
    result = compute(STAT, world.leader, StatQuery(world.start, world.end, levels=STAT.levels))
    now = timezone.now()
    cohort = [
        c
        for c in Complaint.objects.all()
        if world.start <= timezone.localtime(c.received_at).date() <= world.end
    ]
    handled = {c.pk: c.replied_at or c.closed_at for c in cohort}
    on_time = sum(1 for c in cohort if handled[c.pk] is not None and handled[c.pk] < _due_at(c))
    late = sum(1 for c in cohort if handled[c.pk] is not None and handled[c.pk] >= _due_at(c))
    overdue = sum(1 for c in cohort if handled[c.pk] is None and _due_at(c) <= now)
    adjustments = FeeAdjustment.objects.filter(complaint__in=cohort)
    total = result.total
    assert total["complaints"] == len(cohort) >= 15
    assert total["appeals"] == sum(1 for c in cohort if c.kind == "appeal")
    assert total["handled"] == sum(1 for v in handled.values() if v is not None) == 4
    assert (total["on_time"], total["late"], total["overdue"]) == (on_time, late, overdue)
    assert late >= 1 and overdue >= 1 and on_time >= 3
    assert total["due"] == on_time + late + overdue
    assert total["on_time_rate"] == round(on_time / (on_time + late + overdue), 4)
    assert total["adjustments"] == adjustments.count() == 1
    assert total["adjustment_fen"] == sum(a.amount_fen for a in adjustments) == -150
    assert total["adjusted"] == 1
    statuses = {g["key"]: g["complaints"] for g in result.breakdowns["status"]}
    for status in ("received", "replied", "closed", "rejected"):
        assert statuses[status] == sum(1 for c in cohort if c.status == status), status
    channels = {g["key"]: g["complaints"] for g in result.breakdowns["channel"]}
    assert channels == {ch: sum(1 for c in cohort if c.channel == ch) for ch in {c.channel for c in cohort}}
    categories = {g["key"]: g["complaints"] for g in result.breakdowns["category"]}
    assert categories["tariff_dispute"] == sum(1 for c in cohort if c.category == "tariff_dispute")
    assert sum(g["complaints"] for g in result.breakdowns["by_day"]) == len(cohort)
    city = assert_reconciles(STAT, world.leader, world.start, world.end)
    assert city["complaints"] == total["complaints"]


def test_scope_bad_input_and_surfaces_agree(world):
    dc = compute(STAT, world.manager_dc, StatQuery(world.start, world.end, levels=STAT.levels))
    assert [r["code"] for r in dc.rows] in ([], ["110101"])
    assert dc.total["complaints"] == sum(
        1
        for c in Complaint.objects.filter(district__code="110101")
        if world.start <= timezone.localtime(c.received_at).date() <= world.end
    )
    client = Client()
    client.force_login(world.leader)
    for params, code in (
        ({"road": "1"}, "unsupported_filter"),
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"district": "999999"}, "unknown_district"),
    ):
        response = client.get("/api/v1/parking/stats/complaints", params)
        assert response.status_code == 400 and response.json()["code"] == code
    body = assert_surfaces_agree(
        world.leader, STAT, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert set(body["breakdowns"]) == {"category", "channel", "kind", "status", "by_day"}
    assert body["total"]["complaints"] >= 15


def test_the_daily_rollup_gives_the_raw_numbers(world):
    users = (world.leader, world.manager_dc)
    assert_rollup_gives_the_raw_numbers(STAT, users, world.start, world.end, timezone.now())
