"""Payments: citizen orders and payments, the sandbox provider end to end, notification
rules (signature, amount, replay), one payment per order, pay by plate without login."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from govcenter.core.models import AuditEntry
from govcenter.parking.models import (
    Citizen,
    Order,
    OrderState,
    PaymentIntent,
    PaymentItem,
    PaymentNotification,
    PlateBinding,
    SandboxTrade,
)
from govcenter.parking.payments import sandbox
from govcenter.parking.services.events import events_ingest
from govcenter.parking.services.payments import payment_create
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
PLATE = "京A12345"
OTHER_PLATE = "京B54321"


@pytest.fixture(autouse=True)
def _clear_throttles(settings):
    cache.clear()
    # pytest-django runs with DEBUG off: open the sandbox cashier explicitly.
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True


def stay(device, plate: str, start_hours: float, hours: float = 1.0) -> Order:
    """One finished, billed stay of ``plate`` on ``device``'s space."""
    result = events_ingest(
        device=device,
        events=[
            ev("park_start", ago(minutes=int(start_hours * 60)), vehicle_license_plate=plate),
            ev("park_end", ago(minutes=int((start_hours - hours) * 60))),
        ],
    )
    order = Order.objects.get(pk=result[0].order_id)
    assert order.state == OrderState.BILLED and order.amount_due_fen > 0, (order.state, order.amount_due_fen)
    return order


@pytest.fixture
def net(org):
    n = network(org)
    n.o1 = stay(n.sensor, PLATE, 10)
    n.o2 = stay(n.sensor, PLATE, 8)
    n.other = stay(n.sensor, OTHER_PLATE, 6)
    n.o2.mark_arrears()
    n.o2.save()
    return n


def citizen_client(phone: str, plate: str) -> tuple[Citizen, APIClient]:
    from govcenter.parking.models import CitizenToken
    from govcenter.parking.services.citizens import TOKEN_PREFIX, token_digest

    citizen = Citizen.objects.create(phone=phone)
    PlateBinding.objects.create(citizen=citizen, plate=plate)
    raw = f"{TOKEN_PREFIX}test-{phone}"
    CitizenToken.objects.create(
        citizen=citizen, prefix=raw[:10], digest=token_digest(raw), expires_at="2999-01-01T00:00:00+08:00"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return citizen, client


@pytest.fixture
def alice(net):
    return citizen_client("13911110001", PLATE)


def create(client, order_ids, key="key-00000001"):
    return client.post(
        f"{API}/citizen/payments", {"order_ids": order_ids}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def notify(headers: dict, body: bytes):
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    return APIClient().post(f"{API}/payments/notify", body, content_type="application/json", **extra)


def signed(intent: PaymentIntent, **changes) -> tuple[dict, bytes]:
    """The notification the sandbox would send for ``intent`` once paid, with ``changes``."""
    trade = SandboxTrade.objects.get(out_trade_no=intent.out_trade_no)
    data = json.loads(sandbox.notification_body(trade))
    data.update({"trade_state": "SUCCESS", "success_time": "2026-01-01T10:00:00+08:00", **changes})
    body = json.dumps(data).encode()
    return sandbox.sign(body), body


# -- citizen orders ------------------------------------------------------------------------------


def test_citizen_sees_only_own_orders_newest_first_and_filters(net, alice):
    _, client = alice
    body = client.get(f"{API}/citizen/orders").json()
    assert [o["id"] for o in body["results"]] == [net.o2.pk, net.o1.pk]
    assert client.get(f"{API}/citizen/orders?state=arrears").json()["results"][0]["id"] == net.o2.pk
    assert {o["id"] for o in client.get(f"{API}/citizen/orders?state=unpaid").json()["results"]} == {
        net.o1.pk,
        net.o2.pk,
    }
    bad = client.get(f"{API}/citizen/orders?state=nonsense")
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
    assert APIClient().get(f"{API}/citizen/orders").status_code == 401


# -- happy path ------------------------------------------------------------------------------------


def test_pay_two_orders_end_to_end_with_the_sandbox(net, alice):
    citizen, client = alice
    response = create(client, [net.o1.pk, net.o2.pk])
    assert response.status_code == 201, response.json()
    payment = response.json()
    total = net.o1.amount_due_fen + net.o2.amount_due_fen
    assert payment["status"] == "created" and payment["total_fen"] == total
    assert payment["pay_url"] == f"{API}/sandbox/pay/{payment['out_trade_no']}"

    paid = APIClient().post(payment["pay_url"])
    assert paid.status_code == 200 and paid.json()["notify_status"] == 200, paid.json()

    for order in (net.o1, net.o2):
        order.refresh_from_db()
        assert order.state == OrderState.PAID and order.amount_paid_fen == order.amount_due_fen
    detail = client.get(f"{API}/citizen/payments/{payment['out_trade_no']}").json()
    assert detail["status"] == "paid" and detail["paid_at"] and detail["pay_url"] == ""
    intent = PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"])
    assert intent.provider_trade_no == SandboxTrade.objects.get(out_trade_no=intent.out_trade_no).trade_no
    note = PaymentNotification.objects.get()
    assert note.verified and note.outcome == "paid" and note.intent == intent
    assert AuditEntry.objects.filter(action="parking.payment.paid", object_id=str(intent.pk)).exists()
    # Paying again at the cashier re-delivers; nothing is paid twice.
    again = APIClient().post(payment["pay_url"])
    assert again.json()["notify_status"] == 200
    assert PaymentNotification.objects.filter(outcome="replay").count() == 1
    net.o1.refresh_from_db()
    assert net.o1.amount_paid_fen == net.o1.amount_due_fen
    # The daily statement lists the paid trade.
    rows = sandbox.SandboxProvider().statement(
        intent.paid_at.astimezone(sandbox.timezone.get_default_timezone()).date()
    )
    assert [(r.out_trade_no, r.amount_fen) for r in rows] == [(intent.out_trade_no, total)]


def test_same_idempotency_key_returns_the_same_payment(net, alice):
    _, client = alice
    first = create(client, [net.o1.pk])
    second = create(client, [net.o1.pk])
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["out_trade_no"] == second.json()["out_trade_no"]
    assert PaymentIntent.objects.count() == 1
    reused = create(client, [net.o2.pk])
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    missing = client.post(f"{API}/citizen/payments", {"order_ids": [net.o1.pk]}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"


# -- refusals ----------------------------------------------------------------------------------------


def test_order_of_another_citizen_is_404_and_nothing_created(net, alice):
    _, client = alice
    response = create(client, [net.o1.pk, net.other.pk])
    assert response.status_code == 404 and response.json()["code"] == "order_not_found"
    assert response.json()["details"] == {"order_ids": [net.other.pk]}
    assert not PaymentIntent.objects.exists() and not PaymentItem.objects.exists()
    assert client.get(f"{API}/citizen/payments/PKNOPE").status_code == 404


def test_order_in_a_live_payment_or_paid_cannot_be_paid_again(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    busy = create(client, [net.o1.pk], key="key-00000002")
    assert busy.status_code == 409 and busy.json()["code"] == "order_in_payment"
    APIClient().post(payment["pay_url"])
    paid = create(client, [net.o1.pk], key="key-00000003")
    assert paid.status_code == 409 and paid.json()["code"] == "order_not_payable"
    # The database refuses a second live item for the order whatever the service does.
    from django.db import IntegrityError, transaction

    other = PaymentIntent.objects.create(
        out_trade_no="PKX",
        citizen=PaymentIntent.objects.get().citizen,
        provider="sandbox",
        total_fen=1,
        idempotency_key="direct-0001",
        expires_at=ago(minutes=-30),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentItem.objects.create(intent=other, order=net.o1, amount_fen=1)


def test_expired_unpaid_payment_is_closed_and_frees_its_orders(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    PaymentIntent.objects.filter(out_trade_no=payment["out_trade_no"]).update(expires_at=ago(minutes=1))
    response = create(client, [net.o1.pk], key="key-00000002")
    assert response.status_code == 201
    assert PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"]).status == "closed"
    # The closed trade can no longer be paid at the cashier.
    assert APIClient().post(payment["pay_url"]).status_code == 409


def test_tampered_notification_is_refused_stored_and_pays_nothing(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    intent = PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"])
    headers, body = signed(intent)
    forged = json.dumps({**json.loads(body), "amount_fen": 1}).encode()  # signed headers, altered body
    response = notify(headers, forged)
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    unsigned = notify({}, body)
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "signature_missing"
    wrong_key = {**headers, sandbox.SIGNATURE_HEADER: "00" * 32}
    assert notify(wrong_key, body).json()["code"] == "bad_signature"
    stale = sandbox.sign(body, timestamp="1000000000")
    assert notify(stale, body).json()["code"] == "stale_notification"
    assert PaymentNotification.objects.filter(verified=False, outcome="bad_signature").count() == 4
    net.o1.refresh_from_db()
    intent.refresh_from_db()
    assert net.o1.state == OrderState.BILLED and intent.status == "created"


def test_notification_with_nul_bytes_is_stored_and_refused(net, alice):
    # PostgreSQL text cannot hold NUL: a hostile callback must still be stored, never a 500.
    headers = {sandbox.SIGNATURE_HEADER: "ab\x00cd"}
    response = notify(headers, b'{"out_trade_no": "x\x00y"}\x00')
    assert response.status_code == 400 and set(response.json()) == {"code", "message", "details"}
    stored = PaymentNotification.objects.get()
    assert not stored.verified and "\x00" not in stored.body


def test_wrong_amount_is_refused_and_flagged(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    intent = PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"])
    headers, body = signed(intent, amount_fen=intent.total_fen - 1)
    response = notify(headers, body)
    assert response.status_code == 400 and response.json()["code"] == "amount_mismatch"
    intent.refresh_from_db()
    net.o1.refresh_from_db()
    assert intent.status == "created" and intent.flagged and "金额不符" in intent.flag_reason
    assert net.o1.state == OrderState.BILLED and net.o1.amount_paid_fen == 0
    assert PaymentNotification.objects.get().outcome == "amount_mismatch"


def test_replayed_callback_is_harmless(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    intent = PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"])
    headers, body = signed(intent)
    assert notify(headers, body).status_code == 200
    entries = AuditEntry.objects.count()
    for _ in range(3):
        replay = notify(headers, body)
        assert replay.status_code == 200 and replay.json()["code"] == "SUCCESS"
    net.o1.refresh_from_db()
    assert net.o1.amount_paid_fen == net.o1.amount_due_fen
    assert AuditEntry.objects.count() == entries
    assert (
        list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True))
        == ["paid"] + ["replay"] * 3
    )


def test_unknown_trade_and_garbage_are_clear_400s(net):
    body = b"not json"
    assert notify(sandbox.sign(body), body).json()["code"] == "malformed_notification"
    body = json.dumps(
        {"out_trade_no": "PKNOPE", "trade_no": "X", "amount_fen": 1, "trade_state": "SUCCESS"}
    ).encode()
    response = notify(sandbox.sign(body), body)
    assert response.status_code == 400 and response.json()["code"] == "unknown_trade"


# -- pay by plate without login -------------------------------------------------------------------


def test_public_arrears_shows_masked_data_only(net):
    response = APIClient().get(f"{API}/public/arrears", {"plate": "京a 12345"})
    assert response.status_code == 200
    body = response.json()
    assert PLATE not in response.content.decode() and body["plate"] == "京A·***45"
    assert [o["id"] for o in body["orders"]] == [net.o1.pk, net.o2.pk]
    assert set(body["orders"][0]) == {
        "id",
        "segment",
        "started_at",
        "ended_at",
        "state",
        "amount_due_fen",
        "amount_adjustment_fen",
        "amount_paid_fen",
        "amount_unpaid_fen",
    }
    assert body["total_unpaid_fen"] == net.o1.amount_due_fen + net.o2.amount_due_fen
    bad = APIClient().get(f"{API}/public/arrears", {"plate": "ABC"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_plate"


def test_pay_by_plate_end_to_end(net):
    client = APIClient()
    denied = client.post(
        f"{API}/public/payments",
        {"plate": PLATE, "order_ids": [net.other.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="anon-00000001",
    )
    assert denied.status_code == 404
    response = client.post(
        f"{API}/public/payments",
        {"plate": PLATE, "order_ids": [net.o2.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="anon-00000001",
    )
    assert response.status_code == 201 and response.json()["plate"] == "京A·***45"
    assert client.post(response.json()["pay_url"]).json()["notify_status"] == 200
    net.o2.refresh_from_db()
    assert net.o2.state == OrderState.PAID
    intent = PaymentIntent.objects.get()
    assert intent.citizen is None and intent.plate == PLATE


def test_public_endpoints_are_throttled_per_ip(net, settings):
    settings.GOVCENTER_PARKING_PUBLIC_PAY_RATE = "2/min"
    client = APIClient()
    codes = [client.get(f"{API}/public/arrears", {"plate": PLATE}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_sandbox_cashier_is_closed_outside_debug(net, alice, settings):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    settings.DEBUG = False
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = False
    settings.GOVCENTER_PARKING_PAYMENT_NOTIFY_KEY = "k" * 32
    assert APIClient().post(payment["pay_url"]).status_code == 404


def test_service_refuses_without_plate_or_key(net):
    from govcenter.core.api.errors import ServiceError

    with pytest.raises(ServiceError) as exc:
        payment_create(citizen=None, plate="bad", order_ids=[net.o1.pk], idempotency_key="anon-00000001")
    assert exc.value.error_code == "invalid_plate"


def test_failed_payment_frees_its_orders(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    intent = PaymentIntent.objects.get(out_trade_no=payment["out_trade_no"])
    headers, body = signed(intent, trade_state="PAYERROR", success_time=None)
    assert notify(headers, body).status_code == 200
    intent.refresh_from_db()
    assert intent.status == "failed" and not intent.items.filter(live=True).exists()
    assert create(client, [net.o1.pk], key="key-00000002").status_code == 201


def test_paid_after_close_is_taken_if_the_orders_are_free_else_flagged(net, alice):
    _, client = alice
    first = PaymentIntent.objects.get(out_trade_no=create(client, [net.o1.pk]).json()["out_trade_no"])
    PaymentIntent.objects.filter(pk=first.pk).update(expires_at=ago(minutes=1))
    second = PaymentIntent.objects.get(
        out_trade_no=create(client, [net.o1.pk], key="key-00000002").json()["out_trade_no"]
    )
    first.refresh_from_db()
    assert first.status == "closed"
    # The provider reports the closed payment paid while the order sits in the second one.
    assert notify(*signed(first)).status_code == 200
    first.refresh_from_db()
    net.o1.refresh_from_db()
    assert first.flagged and first.status == "closed" and net.o1.state == OrderState.BILLED
    assert PaymentNotification.objects.get(intent=first).outcome == "not_payable"
    # Once the second one is closed too, a late success notification for it takes the order.
    PaymentIntent.objects.filter(pk=second.pk).update(status="closed")
    PaymentItem.objects.filter(intent=second).update(live=False)
    assert notify(*signed(second)).status_code == 200
    second.refresh_from_db()
    net.o1.refresh_from_db()
    assert second.status == "paid" and net.o1.state == OrderState.PAID


def test_daily_statement_file_lists_paid_trades(net, alice):
    _, client = alice
    payment = create(client, [net.o1.pk]).json()
    APIClient().post(payment["pay_url"])
    trade = SandboxTrade.objects.get(out_trade_no=payment["out_trade_no"])
    text = sandbox.statement_csv(sandbox.timezone.localtime(trade.paid_at).date())
    lines = text.splitlines()
    assert lines[0] == "trade_no,out_trade_no,amount_fen,paid_at,type,refund_no"
    assert lines[1].startswith(f"{trade.trade_no},{trade.out_trade_no},{net.o1.amount_due_fen},")
    assert lines[1].endswith(",payment,")
    assert lines[2] == f"total,1,{net.o1.amount_due_fen},,,"


def test_what_is_owed_includes_fee_adjustments(net, alice):
    # A complaint lowered o1's fee by half (a share, not a fixed sum: o1's hour may fall in the
    # cheaper night period, whatever the time the test runs); o2's fee was waived entirely.
    cut = net.o1.amount_due_fen // 2
    assert cut > 0
    Order.objects.filter(pk=net.o1.pk).update(amount_adjustment_fen=-cut)
    Order.objects.filter(pk=net.o2.pk).update(amount_adjustment_fen=-net.o2.amount_due_fen)
    body = APIClient().get(f"{API}/public/arrears", {"plate": PLATE}).json()
    assert [o["id"] for o in body["orders"]] == [net.o1.pk]
    assert body["orders"][0]["amount_unpaid_fen"] == net.o1.amount_due_fen - cut
    assert body["orders"][0]["amount_adjustment_fen"] == -cut
    assert body["total_unpaid_fen"] == net.o1.amount_due_fen - cut
    _, client = alice
    waived = create(client, [net.o2.pk])
    assert waived.status_code == 409 and waived.json()["code"] == "order_not_payable"
    payment = create(client, [net.o1.pk], key="key-00000009").json()
    assert payment["total_fen"] == net.o1.amount_due_fen - cut
    APIClient().post(payment["pay_url"])
    net.o1.refresh_from_db()
    assert net.o1.state == OrderState.PAID and net.o1.amount_paid_fen == net.o1.amount_due_fen - cut
    assert net.o1.payable_fen == 0
