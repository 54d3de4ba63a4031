"""The sandbox's signed notification is asynchronous, as a real provider's: the cashier enqueues
its delivery (Huey task ``parking.sandbox_notify_deliver``) into our callback's entry point,
retried with a doubling backoff when our side fails, given up after N attempts. The order is
paid when the notification is handled — "processing" until then — and a notification never
delivered leaves it unpaid for the reconciliation to find.

Huey runs in immediate mode in the tests: an enqueued task runs at once, a scheduled retry
waits in Huey's schedule until the test moves the clock past its eta and runs it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.signals import SIGNAL_COMPLETE
from rest_framework.test import APIClient

from govcenter.parking.models import IngestRejection, OrderState, PaymentIntent, PaymentNotification
from govcenter.parking.payments import sandbox
from govcenter.parking.services import payments as payment_services
from govcenter.parking.services import reconciliation
from govcenter.parking.tasks import sandbox_notify_deliver
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, citizen_client, create, stay

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


@pytest.fixture(autouse=True)
def _sandbox(settings):
    from django.core.cache import cache

    cache.clear()
    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True
    settings.GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS = 4
    settings.GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS = 15
    HUEY.storage.flush_all()
    yield
    HUEY.storage.flush_all()


@pytest.fixture
def paying(org):
    n = network(org)
    n.order = stay(n.sensor, PLATE, 10)
    n.citizen, n.client = citizen_client("13911110001", PLATE)
    n.payment = create(n.client, [n.order.pk]).json()
    n.intent = PaymentIntent.objects.get(out_trade_no=n.payment["out_trade_no"])
    return n


def run_due(after_seconds: float) -> list[dict]:
    """Run the scheduled tasks due ``after_seconds`` from now; their return values."""
    when = HUEY._get_timestamp() + dt.timedelta(seconds=after_seconds)
    results = []
    for task in HUEY.read_schedule(when):
        HUEY.execute(task, timestamp=when)
        results.append(HUEY.result(task.id))
    return results


def status(n) -> str:
    return n.client.get(f"{API}/citizen/payments/{n.intent.out_trade_no}").json()["display_status"]


def fail_settle(monkeypatch, times: int) -> list[int]:
    """Our side fails (a database error while settling) the first ``times`` deliveries."""
    real, calls = payment_services._settle, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("database is unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(payment_services, "_settle", flaky)
    return calls


def test_the_cashier_enqueues_the_delivery_and_the_task_pays_the_order(paying):
    executed = []

    @HUEY.signal(SIGNAL_COMPLETE)
    def _seen(signal, task, *args):
        executed.append(task.name)

    try:
        response = APIClient().post(paying.payment["pay_url"])
    finally:
        HUEY.disconnect_signal(_seen)
    assert response.status_code == 200 and response.json()["notify"] == "queued", response.json()
    assert executed == ["parking.sandbox_notify_deliver"]
    paying.order.refresh_from_db()
    assert (
        paying.order.state == OrderState.PAID and paying.order.amount_paid_fen == paying.order.amount_due_fen
    )
    note = PaymentNotification.objects.get()
    assert note.outcome == "paid" and note.verified and "X-Sandbox-Signature" in note.headers
    assert status(paying) == "paid"


def test_paid_at_the_provider_is_processing_until_the_notification_is_handled(paying):
    sandbox.sandbox_pay(paying.intent.out_trade_no)  # the payer paid; nothing delivered yet
    paying.order.refresh_from_db()
    assert paying.order.state == OrderState.BILLED and status(paying) == "processing"
    result = sandbox_notify_deliver(paying.intent.out_trade_no, 1).get()
    assert result == {"attempt": 1, "status": 200, "answer": payment_services.SUCCESS}
    paying.order.refresh_from_db()
    assert paying.order.state == OrderState.PAID and status(paying) == "paid"


def test_the_list_shows_the_stored_status_and_never_asks_the_provider(paying):
    """Only one payment's response (detail, create) asks the provider for ``processing``; the
    list of up to 50 shows the stored status without a provider call per payment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from govcenter.parking.models import SandboxTrade

    second = stay(paying.sensor, PLATE, 6)
    other = create(paying.client, [second.pk], key="key-00000002").json()
    for out_trade_no in (paying.intent.out_trade_no, other["out_trade_no"]):
        sandbox.sandbox_pay(out_trade_no)  # paid at the provider; nothing delivered yet
    provider_table = SandboxTrade._meta.db_table
    with CaptureQueriesContext(connection) as listed:
        rows = paying.client.get(f"{API}/citizen/payments").json()
    assert [(r["status"], r["display_status"]) for r in rows] == [("created", "created")] * 2
    assert not [q["sql"] for q in listed.captured_queries if provider_table in q["sql"]]
    with CaptureQueriesContext(connection) as detail:
        assert status(paying) == "processing"
    assert [q["sql"] for q in detail.captured_queries if provider_table in q["sql"]]


def test_a_failing_first_delivery_is_retried_with_backoff_and_pays_once(paying, monkeypatch):
    calls = fail_settle(monkeypatch, times=2)
    first = APIClient().post(paying.payment["pay_url"]).json()
    assert first["notify_status"] == 500
    paying.order.refresh_from_db()
    assert paying.order.state == OrderState.BILLED and status(paying) == "processing"
    assert run_due(14) == []  # the second attempt waits 15 s
    assert run_due(15) == [
        {
            "attempt": 2,
            "status": 500,
            "answer": {"code": "error", "message": "database is unavailable"},
            "retry_in": 30,
        }
    ]
    assert run_due(29) == []  # the third waits 30 s more (relative to now: the test clock does not move)
    [third] = run_due(30)
    assert third["attempt"] == 3 and third["status"] == 200
    assert run_due(10_000) == []  # acknowledged: no more attempts
    assert len(calls) == 3
    paying.order.refresh_from_db()
    assert (
        paying.order.state == OrderState.PAID and paying.order.amount_paid_fen == paying.order.amount_due_fen
    )
    assert list(PaymentNotification.objects.values_list("outcome", flat=True)) == ["paid"]


def test_a_lost_acknowledgement_is_redelivered_as_a_harmless_replay(paying, monkeypatch):
    """Our side took the payment but the answer never reached the provider: it delivers again;
    the replay changes nothing (and is counted), the payment is taken once."""
    real = payment_services.payment_notify
    answers = []

    def lost_answer(**kwargs):
        answer = real(**kwargs)
        answers.append(answer)
        if len(answers) == 1:
            raise ConnectionResetError("connection reset before the answer was sent")
        return answer

    monkeypatch.setattr(payment_services, "payment_notify", lost_answer)
    assert APIClient().post(paying.payment["pay_url"]).json()["notify_status"] == 500
    paying.order.refresh_from_db()
    paid_once = paying.order.amount_paid_fen
    assert paying.order.state == OrderState.PAID and paid_once == paying.order.amount_due_fen
    [second] = run_due(15)
    assert second["status"] == 200 and len(answers) == 2
    paying.order.refresh_from_db()
    assert paying.order.amount_paid_fen == paid_once
    assert sorted(PaymentNotification.objects.values_list("outcome", flat=True)) == ["paid", "replay"]
    assert IngestRejection.objects.get(source="provider:sandbox", reason="replayed_notification").count == 1


def test_a_notification_never_delivered_leaves_the_order_unpaid_for_reconciliation(paying, monkeypatch):
    calls = fail_settle(monkeypatch, times=10**6)
    APIClient().post(paying.payment["pay_url"])
    results, delay = [], 15
    while True:
        due = run_due(delay)
        if not due:
            break
        results += due
        delay = due[-1].get("retry_in", 0) or 1
    assert [r["attempt"] for r in results] == [2, 3, 4] and results[-1]["gave_up"] is True
    assert len(calls) == 4  # GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS
    assert run_due(10**6) == []
    paying.order.refresh_from_db()
    paying.intent.refresh_from_db()
    assert paying.order.state == OrderState.BILLED and paying.order.amount_paid_fen == 0
    assert paying.intent.status == "created" and status(paying) == "processing"
    run = reconciliation.reconcile(date=timezone.localdate())
    assert run.status == "differences"
    diff = run.differences.get()
    assert (diff.kind, diff.entry, diff.intent_id) == ("missing_in_ledger", "payment", paying.intent.pk)
    assert diff.statement_amount_fen == paying.intent.total_fen and diff.ledger_amount_fen is None
