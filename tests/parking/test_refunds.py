"""Refunds: request → four-eyes approval → sandbox refund; never more than was paid; scope;
the one-click refund of a flagged payment; the API's error shapes; the staff pages."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Order, OrderState, PaymentIntent, PaymentNotification, SandboxTrade
from govcenter.parking.models.refunds import Refund, RefundStatus, SandboxRefund
from govcenter.parking.payments import sandbox
from govcenter.parking.payments.port import REFUND_FAILED, REFUND_SUCCESS
from govcenter.parking.services import refunds as services
from govcenter.parking.services.payments import payment_create, payment_notify
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, stay

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


def pay(orders: list[Order], key: str, plate: str = PLATE) -> PaymentIntent:
    """Pay ``orders`` by plate through the sandbox, notification delivered."""
    created = payment_create(citizen=None, plate=plate, order_ids=[o.pk for o in orders], idempotency_key=key)
    headers, body = sandbox.sandbox_pay(created.intent.out_trade_no)
    payment_notify(headers=headers, body=body)
    intent = PaymentIntent.objects.get(pk=created.intent.pk)
    assert intent.status == "paid"
    return intent


@pytest.fixture
def world(org):
    net = network(org)
    net.org = org
    net.o1 = stay(net.sensor, PLATE, 10)
    net.o2 = stay(net.sensor, PLATE, 8)
    net.xo = stay(net.xc_sensor, "京B54321", 6)
    net.intent = pay([net.o1, net.o2], "key-refund-1")
    net.x_intent = pay([net.xo], "key-refund-2", plate="京B54321")
    net.data1 = UserFactory(username="t_data1", unit=org.center, role_set=[org.roles["data_staff"]])
    net.data2 = UserFactory(username="t_data2", unit=org.center, role_set=[org.roles["data_staff"]])
    for order in (net.o1, net.o2, net.xo):
        order.refresh_from_db()
    return net


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def ui(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(world, user, amount, **kw):
    return services.refund_request(
        actor=user,
        intent=kw.pop("intent", world.intent),
        amount_fen=amount,
        reason_category=kw.pop("reason_category", "other"),
        reason=kw.pop("reason", "车主申诉"),
        **kw,
    )


def test_complaint_refund_happy_path_keeps_the_order_paid(world):
    o1 = world.o1
    # A complaint lowered the fee by 100 fen after the order was paid (another module's entry).
    Order.objects.filter(pk=o1.pk).update(amount_adjustment_fen=-100)
    o1.refresh_from_db()
    assert o1.payable_fen == 0
    too_much = pytest.raises(Exception)
    with too_much as exc:
        ask(world, world.org.manager_dc, 101, order=o1, reason_category="fee_adjusted")
    assert exc.value.error_code == "refund_exceeds_paid" and exc.value.details["refundable_fen"] == 100
    refund = ask(world, world.org.manager_dc, 100, order=o1, reason_category="fee_adjusted")
    assert refund.status == "requested" and refund.district_id == world.org.dongcheng.pk
    assert refund.requested_by_username == "t_mgr_dc"

    refund = services.refund_approve(actor=world.data1, refund=refund, note="同意")
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_refund_no.startswith("SBR")
    assert refund.approved_by_username == "t_data1" and refund.succeeded_at is not None
    sandbox_refund = SandboxRefund.objects.get(refund_no=refund.refund_no)
    assert sandbox_refund.amount_fen == 100 and sandbox_refund.out_trade_no == world.intent.out_trade_no

    # The order is never edited: still paid, paid amount what was received; refunds on the side.
    o1.refresh_from_db()
    assert o1.state == OrderState.PAID and o1.amount_paid_fen == o1.amount_due_fen
    assert services.order_refunded_fen(o1) == 100
    assert (
        o1.amount_paid_fen - services.order_refunded_fen(o1) == o1.amount_due_fen + o1.amount_adjustment_fen
    )
    assert o1.payable_fen == 0
    # Nothing more to refund for the complaint.
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_dc, 1, order=o1, reason_category="fee_adjusted")
    assert exc.value.error_code == "refund_exceeds_paid"
    actions = set(AuditEntry.objects.filter(object_id=str(refund.pk)).values_list("action", flat=True))
    assert {"parking.refund.request", "parking.refund.approve", "parking.refund.succeeded"} <= actions


def test_four_eyes_the_requester_never_approves(world):
    refund = ask(world, world.data1, 50)
    for decide in (services.refund_approve, services.refund_reject):
        with pytest.raises(Exception) as exc:
            decide(actor=world.data1, refund=refund, note="自己审批")
        assert exc.value.error_code == "four_eyes" and exc.value.status_code == 409
    # A district manager may ask but never approve.
    with pytest.raises(Exception) as exc:
        services.refund_approve(actor=world.org.manager_dc, refund=refund)
    assert exc.value.status_code == 403
    refund = services.refund_reject(actor=world.data2, refund=refund, note="证据不足")
    assert refund.status == "rejected" and refund.decision_note == "证据不足"
    with pytest.raises(Exception) as exc:
        services.refund_approve(actor=world.data2, refund=refund)
    assert exc.value.error_code == "refund_not_pending"
    # The database refuses it too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(approved_by=world.data1)


def test_live_refunds_never_exceed_what_was_paid(world):
    total = world.intent.total_fen
    full = ask(world, world.org.manager_dc, total)
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_dc, 1)
    assert exc.value.error_code == "refund_exceeds_paid" and exc.value.details["refundable_fen"] == 0
    # An order's refund is capped by what the payment paid for that order.
    services.refund_reject(actor=world.data1, refund=full, note="改为按订单退")
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_dc, world.o1.amount_due_fen + 1, order=world.o1)
    assert exc.value.error_code == "refund_exceeds_paid"
    part = ask(world, world.org.manager_dc, world.o1.amount_due_fen, order=world.o1)
    services.refund_approve(actor=world.data1, refund=part)
    assert services.refundable_fen(world.intent) == world.o2.amount_due_fen
    # A full refund of an order is final: the order stays paid and owes nothing again.
    world.o1.refresh_from_db()
    assert world.o1.state == OrderState.PAID and world.o1.payable_fen == 0
    assert services.order_refunded_fen(world.o1) == world.o1.amount_paid_fen
    # Bad input is a 400 with every field named.
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_dc, 0, reason="", reason_category="nope")
    assert exc.value.status_code == 400 and set(exc.value.details) == {
        "amount_fen",
        "reason",
        "reason_category",
    }
    # A payment that took no money cannot be refunded.
    created = payment_create(
        citizen=None,
        plate="京B54321",
        order_ids=[stay(world.xc_sensor, "京B54321", 3).pk],
        idempotency_key="key-unpaid-1",
    )
    with pytest.raises(Exception) as exc:
        ask(world, world.data1, 1, intent=created.intent)
    assert exc.value.error_code == "payment_not_paid"


def test_sandbox_refund_is_idempotent_by_refund_no(world):
    provider = sandbox.SandboxProvider()
    first = provider.refund(world.intent, "RFTEST0001", 100)
    again = provider.refund(world.intent, "RFTEST0001", 100)
    assert first.status == again.status == REFUND_SUCCESS
    assert first.provider_refund_no == again.provider_refund_no
    assert SandboxRefund.objects.filter(refund_no="RFTEST0001").count() == 1
    assert provider.refund(world.intent, "RFTEST0001", 99).status == REFUND_FAILED  # reused number
    over = provider.refund(world.intent, "RFTEST0002", world.intent.total_fen)  # 100 already back
    assert over.status == REFUND_FAILED and "超过" in over.message
    rest = provider.refund(world.intent, "RFTEST0003", world.intent.total_fen - 100)
    assert rest.status == REFUND_SUCCESS
    rows = provider.statement(sandbox.timezone.localdate())
    refund_rows = [r for r in rows if r.kind == "refund"]
    assert sorted((r.refund_no, r.amount_fen) for r in refund_rows) == [
        ("RFTEST0001", 100),
        ("RFTEST0003", world.intent.total_fen - 100),
    ]
    text = sandbox.statement_csv(sandbox.timezone.localdate())
    net_total = sum(r.amount_fen for r in rows if r.kind == "payment") - world.intent.total_fen
    assert text.splitlines()[-1] == f"total,{len(rows)},{net_total},,,"


def test_failed_provider_refund_is_recorded(world):
    refund = ask(world, world.org.manager_dc, 100)
    # The provider's own ledger already refunded the whole trade (e.g. by hand at the provider).
    trade = SandboxTrade.objects.get(out_trade_no=world.intent.out_trade_no)
    SandboxRefund.objects.create(
        refund_no="RFMANUAL01",
        provider_refund_no="SBRMANUAL01",
        out_trade_no=trade.out_trade_no,
        trade_no=trade.trade_no,
        amount_fen=trade.amount_fen,
        succeeded_at=sandbox.timezone.now(),
    )
    refund = services.refund_approve(actor=world.data1, refund=refund)
    assert refund.status == "failed" and "超过" in refund.failure_reason
    assert AuditEntry.objects.filter(action="parking.refund.failed", object_id=str(refund.pk)).exists()


def test_scope_district_manager_sees_and_asks_only_in_district(world):
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_xc, 10)
    assert exc.value.status_code == 404
    dc = ask(world, world.org.manager_dc, 10)
    xc = ask(world, world.org.manager_xc, 10, intent=world.x_intent)
    assert_scoped(
        client=api(world.org.manager_dc),
        list_url=f"{API}/refunds/",
        detail_url_for=lambda r: f"{API}/refunds/{r.pk}/",
        visible=[dc],
        hidden=[xc],
        search_param="q",
        search_term_for=lambda r: r.refund_no,
    )
    assert_scoped(
        client=ui(world.org.manager_dc),
        list_url="/parking/refunds/",
        detail_url_for=lambda r: f"/parking/refunds/{r.pk}/",
        visible=[dc],
        hidden=[xc],
        search_param="q",
        search_term_for=lambda r: r.refund_no,
    )
    assert_scoped(
        client=ui(world.org.manager_dc),
        list_url="/parking/payments/",
        detail_url_for=lambda p: f"/parking/payments/{p.pk}/",
        visible=[world.intent],
        hidden=[world.x_intent],
        search_param="q",
        search_term_for=lambda p: p.out_trade_no,
    )
    assert_requires_login(APIClient(), f"{API}/refunds/")
    assert_requires_login(Client(), "/parking/payments/")
    # A payment spanning two districts belongs to no district: city-wide staff only.
    both = pay(
        [stay(world.sensor, "京C11111", 4), stay(world.xc_sensor, "京C11111", 4)],
        "key-both-1",
        plate="京C11111",
    )
    with pytest.raises(Exception) as exc:
        ask(world, world.org.manager_dc, 10, intent=both)
    assert exc.value.status_code == 404
    assert ask(world, world.data1, 10, intent=both).district_id is None


def _paid_after_close(world) -> PaymentIntent:
    """A payment closed on our side, paid at the provider after its order was paid by another."""
    order = stay(world.sensor, "京D22222", 5)
    late = payment_create(
        citizen=None, plate="京D22222", order_ids=[order.pk], idempotency_key="key-late-01"
    ).intent
    PaymentIntent.objects.filter(pk=late.pk).update(status="closed")
    late.items.update(live=False)
    pay([order], "key-late-02", plate="京D22222")
    headers, body = sandbox.sandbox_pay(late.out_trade_no)
    assert payment_notify(headers=headers, body=body)["code"] == "SUCCESS"
    late.refresh_from_db()
    assert late.flagged and PaymentNotification.objects.filter(intent=late, outcome="not_payable").exists()
    return late


def test_flagged_payment_offers_one_click_refund(world):
    late = _paid_after_close(world)
    assert services.paid_fen(late) == late.total_fen and services.excess_fen(late) == late.total_fen
    page = ui(world.org.manager_dc).get(f"/parking/payments/{late.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "一键申请退款" in html and "订单不可支付" in html
    flagged_list = ui(world.org.manager_dc).get("/parking/payments/?flagged=true").content.decode()
    assert late.out_trade_no in flagged_list and world.intent.out_trade_no not in flagged_list
    response = ui(world.org.manager_dc).post(f"/parking/payments/{late.pk}/refund-flagged/")
    refund = Refund.objects.get(intent=late)
    assert response.status_code == 302 and response["Location"] == f"/parking/refunds/{refund.pk}/"
    assert refund.amount_fen == late.total_fen and refund.reason_category == "paid_after_close"
    # Once asked, nothing is left to ask for.
    assert services.excess_fen(late) == 0
    with pytest.raises(Exception) as exc:
        services.refund_request_flagged(actor=world.org.manager_dc, intent=late)
    assert exc.value.error_code == "nothing_to_refund"
    # The approver's page offers the decision; the approved refund reaches the sandbox.
    detail = ui(world.data1).get(f"/parking/refunds/{refund.pk}/").content.decode()
    assert "批准并退款" in detail
    ui(world.data1).post(f"/parking/refunds/{refund.pk}/approve/", {"note": "多收退还"})
    refund.refresh_from_db()
    assert (
        refund.status == "succeeded" and SandboxRefund.objects.filter(out_trade_no=late.out_trade_no).exists()
    )


def test_refund_request_form_and_own_request_page(world):
    client = ui(world.data1)
    response = client.post(
        f"/parking/payments/{world.intent.pk}/refund/",
        {"amount_fen": 10, "reason_category": "other", "reason": "测试", "order": str(world.o2.pk)},
    )
    refund = Refund.objects.get()
    assert response.status_code == 302 and refund.order_id == world.o2.pk
    page = client.get(f"/parking/refunds/{refund.pk}/").content.decode()
    assert "批准并退款" not in page and "双人复核" in page
    # Refused by the service: the message comes back, nothing is stored.
    client.post(
        f"/parking/payments/{world.intent.pk}/refund/",
        {"amount_fen": 10**7, "reason_category": "other", "reason": "测试"},
        follow=True,
    )
    assert Refund.objects.count() == 1
    # A district manager may not approve (403), nor reach another district's refund (404).
    assert ui(world.org.manager_dc).post(f"/parking/refunds/{refund.pk}/approve/").status_code == 403
    assert ui(world.org.manager_xc).get(f"/parking/refunds/{refund.pk}/").status_code == 404


def test_api_create_approve_reject_and_error_shapes(world):
    manager = api(world.org.manager_dc)
    body = {
        "out_trade_no": world.intent.out_trade_no,
        "amount_fen": 30,
        "reason_category": "other",
        "reason": "申诉",
    }
    created = manager.post(f"{API}/refunds/", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["status"] == "requested" and data["out_trade_no"] == world.intent.out_trade_no

    def shape(response, status, code):
        assert response.status_code == status, response.json()
        payload = response.json()
        assert set(payload) == {"code", "message", "details"} and payload["code"] == code, payload

    shape(manager.post(f"{API}/refunds/", {**body, "amount_fen": 0}, format="json"), 400, "invalid")
    shape(
        manager.post(f"{API}/refunds/", {**body, "out_trade_no": "PKNOPE"}, format="json"), 404, "not_found"
    )
    shape(
        api(world.org.manager_xc).post(f"{API}/refunds/", body, format="json"), 404, "not_found"
    )  # another district's payment
    shape(
        manager.post(f"{API}/refunds/", {**body, "amount_fen": 10**7}, format="json"),
        409,
        "refund_exceeds_paid",
    )
    shape(manager.post(f"{API}/refunds/{data['id']}/approve/", {}, format="json"), 403, "permission_denied")
    own = api(world.data1).post(f"{API}/refunds/", body, format="json").json()
    shape(api(world.data1).post(f"{API}/refunds/{own['id']}/approve/", {}, format="json"), 409, "four_eyes")
    shape(api(world.data2).post(f"{API}/refunds/{own['id']}/reject/", {}, format="json"), 400, "invalid")
    rejected = api(world.data2).post(
        f"{API}/refunds/{own['id']}/reject/", {"note": "重复申请"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    approved = api(world.data1).post(f"{API}/refunds/{data['id']}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "succeeded"
    shape(
        api(world.data1).post(f"{API}/refunds/{data['id']}/retry/", format="json"), 409, "refund_not_approved"
    )
    listed = api(world.data1).get(f"{API}/refunds/?status=succeeded").json()
    assert [r["id"] for r in listed["results"]] == [data["id"]]
    assert json.loads(json.dumps(listed))  # plain JSON


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_requests_never_exceed_the_payment(org):
    import threading

    from django.db import connection

    net = network(org)
    order = stay(net.sensor, PLATE, 10)
    intent = pay([order], "key-race-01")
    data1 = UserFactory(username="t_data_race", unit=org.center, role_set=[org.roles["data_staff"]])
    barrier = threading.Barrier(4)
    results: list = []

    def run():
        try:
            barrier.wait()
            refund = services.refund_request(
                actor=data1,
                intent=intent,
                amount_fen=intent.total_fen,
                reason_category="other",
                reason="并发",
            )
            results.append(refund.pk)
        except Exception as exc:  # noqa: BLE001
            results.append(getattr(exc, "error_code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r for r in results if isinstance(r, str)) == ["refund_exceeds_paid"] * 3, results
    assert Refund.objects.filter(intent=intent).count() == 1
    assert services.refundable_fen(intent) == 0


def test_notifications_page_shows_bad_signatures_to_city_staff_only(world):
    with pytest.raises(Exception) as exc:
        payment_notify(headers={sandbox.SIGNATURE_HEADER: "00"}, body=b'{"out_trade_no": "PKFORGED"}')
    assert exc.value.error_code == "signature_missing"
    forged = PaymentNotification.objects.get(verified=False)
    city = ui(world.data1).get("/parking/payments/notifications/?verified=false")
    html = city.content.decode()
    assert city.status_code == 200 and "签名无效" in html and 'data-total-count="1"' in html
    district = ui(world.org.manager_dc).get("/parking/payments/notifications/").content.decode()
    assert 'data-total-count="1"' in district  # its own payment's callback only
    district = (
        ui(world.org.manager_dc).get("/parking/payments/notifications/?verified=false").content.decode()
    )
    assert 'data-total-count="0"' in district
    assert forged.intent_id is None
    assert ui(world.org.manager_xc).get(f"/parking/payments/{world.intent.pk}/").status_code == 404
    assert ui(world.org.plain_dc).get("/parking/payments/notifications/").status_code == 403
