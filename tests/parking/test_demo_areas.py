"""parking.demo_areas through `govcenter demo`: every built area gets records through its
services (audited, consistent), the rerun creates nothing, and it runs on PostgreSQL."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from govcenter.core.models import AuditEntry
from govcenter.parking import demo_areas
from govcenter.parking.models import (
    Citizen,
    Order,
    OrderState,
    PaymentIntent,
    PlateBinding,
)
from govcenter.parking.models.complaints import Complaint, FeeAdjustment, ServiceTicket
from govcenter.parking.models.permits import ResidentialPermit
from govcenter.parking.models.receipts import Receipt
from govcenter.parking.services.receipts import receipt_verify

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, int]:
    return {
        "citizens": Citizen.objects.count(),
        "plates": PlateBinding.objects.count(),
        "orders": Order.objects.count(),
        "payments": PaymentIntent.objects.count(),
        "receipts": Receipt.objects.count(),
        "complaints": Complaint.objects.count(),
        "adjustments": FeeAdjustment.objects.count(),
        "tickets": ServiceTicket.objects.count(),
        "permits": ResidentialPermit.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def run_demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def check_areas() -> None:
    stays = (*demo_areas.STAYS, *demo_areas.BACKLOG)
    orders = Order.objects.filter(plate__in=[row[0] for row in stays])
    assert orders.count() == len(stays)
    # Billed by the tariff engine (device events → orders), never inserted.
    assert all(o.state in (OrderState.BILLED, OrderState.ARREARS, OrderState.PAID) for o in orders)
    assert all(o.amount_due_fen > 0 for o in orders)
    assert all(o.start_event_id and o.end_event_id and o.tariff_plan_id for o in orders)
    assert Citizen.objects.filter(phone__startswith="1391000000").count() == len(demo_areas.CITIZENS)
    assert PlateBinding.objects.filter(status="active").count() == 6

    paid = PaymentIntent.objects.filter(idempotency_key__startswith="demo-")
    assert paid.count() == 4 and set(paid.values_list("status", flat=True)) == {"paid"}
    for intent in paid:
        assert sum(i.order.amount_paid_fen for i in intent.items.select_related("order")) == intent.total_fen
    assert set(
        orders.filter(plate__in=["京A5D201", "京A5D202", "京B7K315", "京N3P556"]).values_list(
            "state", flat=True
        )
    ) == {"paid"}

    receipts = list(Receipt.objects.prefetch_related("items"))
    assert len(receipts) == 3 and sorted(r.items.count() for r in receipts) == [1, 1, 3]  # one merged
    assert all(receipt_verify(number=r.number).valid for r in receipts)

    complaints = {(c.kind, c.status): c for c in Complaint.objects.all()}
    assert set(complaints) == {
        ("complaint", "replied"),
        ("complaint", "received"),
        ("complaint", "transferred"),
        ("complaint", "rejected"),
        ("appeal", "closed"),
    }
    assert complaints["appeal", "closed"].satisfaction == 4
    [adjustment] = FeeAdjustment.objects.all()
    assert adjustment.complaint == complaints["complaint", "replied"] and adjustment.amount_fen < 0
    order = adjustment.order
    assert (
        order.amount_adjustment_fen == adjustment.amount_fen
        and order.payable_fen == order.amount_due_fen + adjustment.amount_fen
    )

    tickets = dict(ServiceTicket.objects.values_list("status", "satisfaction"))
    assert tickets == {"answered": 5, "closed": 3, "open": None}
    assert dict(ResidentialPermit.objects.values_list("plate", "status")) == {
        "京N3P556": "active",
        "京E6Q771": "rejected",
        "京A5D202": "submitted",
    }
    active = ResidentialPermit.objects.get(status="active")
    assert active.fees.count() == active.months and active.reviewer.username == "dongcheng"

    # Through the services: each write has its audit entry, staff steps named after the demo account.
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    for action in (
        "plate.bind",
        "parking.payment.create",
        "parking.complaint.create",
        "parking.feeadjustment.create",
        "parking.ticket.create",
        "parking.permit.apply",
        "parking.permit.approve",
    ):
        assert action in actions, action
    assert AuditEntry.objects.get(action="parking.permit.approve").username == "dongcheng"
    assert AuditEntry.objects.get(action="parking.complaint.reject").username == "xicheng"
    check_optional_areas()


def check_optional_areas() -> None:
    """Refunds, reconciliation, arrears and statistics (loaded when their services work)."""
    import datetime as dt

    from django.utils import timezone

    from govcenter.parking.models.arrears import ArrearsRecord, PenaltyCase
    from govcenter.parking.models.refunds import ReconciliationRun, Refund
    from govcenter.parking.models.stats import DailyDistrictStat

    refunds = {r.status: r for r in Refund.objects.all()}
    assert set(refunds) == {"requested", "succeeded"}
    assert {r.requested_by.username for r in refunds.values()} == {"xicheng"}
    assert refunds["succeeded"].approved_by.username == "datastaff"
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    assert ReconciliationRun.objects.filter(date=yesterday).count() == 1

    backlog = [row[0] for row in demo_areas.BACKLOG]
    assert ArrearsRecord.objects.filter(plate__in=backlog).count() == len(backlog)
    assert set(Order.objects.filter(arrears_record__isnull=False).values_list("state", flat=True)) == {
        "arrears"
    }
    [case] = PenaltyCase.objects.all()
    assert case.plate == "京F8R902" and case.unpaid_fen > 0 and case.fine_fen > 0

    days = [timezone.localdate() - dt.timedelta(days=n) for n in (1, 2)]
    rows = DailyDistrictStat.objects.filter(date__in=days, district__code__in=["110101", "110102"])
    assert rows.count() == 4
    assert sum(r.orders for r in rows) == len(demo_areas.STAYS)  # every recent stay counted once


def test_demo_loads_every_area_once(settings):
    settings.DEBUG = True
    started = time.monotonic()
    run_demo()
    elapsed = time.monotonic() - started
    check_areas()
    before = snapshot()
    assert "nothing changed" in run_demo()
    assert snapshot() == before
    assert elapsed < 60, elapsed  # the whole `govcenter demo` (seed, accounts, network, areas)


def test_areas_wait_for_the_demo_accounts(org):
    """Without the accounts of `govcenter demo` the network loads and the areas are skipped."""
    assert demo_areas.load_demo_areas() == {}
    assert not Citizen.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_demo_areas_on_postgresql_with_commits(settings):
    """Real commits on PostgreSQL (the SMS of the approved permit runs on commit)."""
    from govcenter.core.models import SmsMessage

    settings.DEBUG = True
    run_demo()
    check_areas()
    assert SmsMessage.objects.filter(phone="13910000004").exists()
    before = snapshot()
    assert "nothing changed" in run_demo()
    assert snapshot() == before


def test_admin_lists_the_demo_read_only_and_masked(settings):
    """Every parking area in the admin: pages render, nothing can be deleted, personal data masked."""
    from django.contrib import admin
    from django.test import Client

    from govcenter.core.models import Unit
    from tests.factories import UserFactory

    settings.DEBUG = True
    run_demo()
    breakglass = UserFactory(
        username="breakglass", unit=Unit.objects.get(code="BTCGC-OFFICE"), is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(breakglass)
    from govcenter.parking.models.arrears import ArrearsRecord, PenaltyCase
    from govcenter.parking.models.refunds import ReconciliationRun, Refund
    from govcenter.parking.models.stats import DailyDistrictStat

    ledgers = (Order, PaymentIntent, Receipt, FeeAdjustment, Refund)
    others = (
        Citizen,
        Complaint,
        ServiceTicket,
        ResidentialPermit,
        ReconciliationRun,
        ArrearsRecord,
        PenaltyCase,
    )
    for model in (*ledgers, *others, DailyDistrictStat):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_delete_permission(None) and not model_admin.has_change_permission(None)
        obj = model.objects.order_by("pk").first()
        base = f"/admin/parking/{model._meta.model_name}/"
        listing = client.get(base)
        assert listing.status_code == 200, model
        detail = client.get(f"{base}{obj.pk}/change/")
        assert detail.status_code == 200, model
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403, model
        html = listing.content.decode() + detail.content.decode()
        for plate in ("京A5D201", "京C2M408", "京N3P556", "京F8R902"):
            assert plate not in html, (model, plate)
        assert "13910000004" not in html and "孙丽" not in html and "110101198503150028" not in html, model
    assert model.objects.filter(pk=obj.pk).exists()
    html = client.get(
        f"/admin/parking/residentialpermit/{ResidentialPermit.objects.get(plate='京N3P556').pk}/change/"
    )
    assert "京N·***56" in html.content.decode()
    # Exact search by a masked field is a lookup, allowed to the holder of the reveal permission.
    found = client.get("/admin/parking/order/", {"q": "京C2M408"}).content.decode()
    assert (
        "京C·***08" in found
        and "京A·***01" not in found
        and "京C2M408" not in found.replace('value="京C2M408"', "")
    )


def test_an_area_that_cannot_load_is_rolled_back_and_skipped(settings, monkeypatch, caplog):
    """An optional area whose service refuses mid-way leaves nothing behind; the rest loads."""
    from govcenter.core.api.errors import ServiceError
    from govcenter.parking.services.tickets import ticket_create

    def broken(demo):
        ticket_create(actor=None, channel="hotline", category="other", subject="半途", body="写了一半")
        raise ServiceError("not ready", code="not_ready")

    monkeypatch.setattr(demo_areas, "OPTIONAL_AREAS", (broken,))
    settings.DEBUG = True
    run_demo()
    assert not ServiceTicket.objects.filter(subject="半途").exists()
    assert ServiceTicket.objects.count() == 3 and Receipt.objects.count() == 3
    assert "demo: broken skipped: not ready" in caplog.text
