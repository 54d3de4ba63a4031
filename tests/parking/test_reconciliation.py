"""Daily reconciliation: the sandbox's ledger and ours made to disagree for real, each kind of
difference found, taken or resolved (audited), re-runs idempotent, the command, the task,
the API and the pages."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Order, OrderState, PaymentIntent, PaymentNotification, SandboxTrade
from govcenter.parking.models.refunds import (
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
    SandboxRefund,
)
from govcenter.parking.payments import sandbox
from govcenter.parking.services import reconciliation as services
from govcenter.parking.services import refunds as refund_services
from govcenter.parking.services.payments import payment_create
from tests.factories import UserFactory
from tests.parking.events_helpers import network
from tests.parking.test_payments import PLATE, stay
from tests.parking.test_refunds import api, pay, ui

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


@pytest.fixture
def day(org):
    net = network(org)
    net.org = org
    net.today = timezone.localdate()
    net.o1 = stay(net.sensor, PLATE, 10)
    net.o2 = stay(net.sensor, PLATE, 8)
    net.p1 = pay([net.o1], "key-rec-001")
    net.p2 = pay([net.o2], "key-rec-002")
    net.data1 = UserFactory(username="t_rec1", unit=org.center, role_set=[org.roles["data_staff"]])
    net.data2 = UserFactory(username="t_rec2", unit=org.center, role_set=[org.roles["data_staff"]])
    refund = refund_services.refund_request(
        actor=org.manager_dc, intent=net.p1, amount_fen=50, reason_category="other", reason="测试"
    )
    net.refund = refund_services.refund_approve(actor=net.data1, refund=refund)
    assert net.refund.status == "succeeded"
    return net


def kinds(run) -> list[tuple[str, str]]:
    return sorted(run.differences.values_list("kind", "entry"))


def test_a_clean_day_is_balanced(day):
    run = services.reconcile(date=day.today)
    assert run.status == "balanced" and run.difference_count == 0
    assert run.statement_count == run.ledger_count == run.matched_count == 3
    assert run.statement_paid_fen == run.ledger_paid_fen == day.p1.total_fen + day.p2.total_fen
    assert run.statement_refunded_fen == run.ledger_refunded_fen == 50
    assert run.statement_net_fen == run.ledger_net_fen
    assert AuditEntry.objects.filter(action="parking.reconciliation.run", object_id=str(run.pk)).exists()
    # Another day has nothing on either side.
    empty = services.reconcile(date=day.today - dt.timedelta(days=3))
    assert empty.status == "balanced" and empty.statement_count == empty.ledger_count == 0


def test_lost_notification_is_missing_in_ledger_and_taken_idempotently(day):
    order = stay(day.sensor, PLATE, 6)
    created = payment_create(citizen=None, plate=PLATE, order_ids=[order.pk], idempotency_key="key-rec-lost")
    sandbox.sandbox_pay(created.intent.out_trade_no)  # paid at the provider; the callback never arrives
    run = services.reconcile(date=day.today)
    assert run.status == "differences" and kinds(run) == [("missing_in_ledger", "payment")]
    diff = run.differences.get()
    assert diff.statement_amount_fen == created.intent.total_fen and diff.ledger_amount_fen is None
    assert diff.intent_id == created.intent.pk

    diff = services.difference_take(actor=day.data1, difference=diff, note="通知丢失，按对账单补记")
    assert diff.status == "resolved" and "通知丢失" in diff.note and diff.resolved_by_username == "t_rec1"
    intent = PaymentIntent.objects.get(pk=created.intent.pk)
    order.refresh_from_db()
    assert intent.status == "paid" and order.state == OrderState.PAID
    assert order.amount_paid_fen == order.amount_due_fen
    taken = PaymentNotification.objects.filter(intent=intent).get()
    assert taken.outcome == "paid" and taken.headers == {"X-Govcenter-Source": "statement"}
    assert AuditEntry.objects.filter(action="parking.reconciliation.take", object_id=str(diff.pk)).exists()
    with pytest.raises(Exception) as exc:
        services.difference_take(actor=day.data1, difference=diff)
    assert exc.value.error_code == "already_resolved"
    # Taken twice (the late callback arrives after all): a replay, nothing paid twice.
    headers, body = sandbox.sandbox_pay(intent.out_trade_no)
    from govcenter.parking.services.payments import payment_notify

    assert payment_notify(headers=headers, body=body)["code"] == "SUCCESS"
    order.refresh_from_db()
    assert order.amount_paid_fen == order.amount_due_fen
    assert services.reconcile(date=day.today).status == "balanced"


def test_tampered_amounts_and_missing_rows_are_each_found(day):
    # Amount mismatch: the provider's ledger says another amount for p2.
    SandboxTrade.objects.filter(out_trade_no=day.p2.out_trade_no).update(amount_fen=day.p2.total_fen + 7)
    # Missing in statement: the provider has no trace of p1's trade...
    SandboxTrade.objects.filter(out_trade_no=day.p1.out_trade_no).update(
        paid_at=timezone.now() - dt.timedelta(days=2)
    )
    # ... nor of our refund; and it has a refund we never recorded as done.
    SandboxRefund.objects.filter(refund_no=day.refund.refund_no).delete()
    order = stay(day.sensor, PLATE, 5)
    p3 = pay([order], "key-rec-003")
    refund = refund_services.refund_request(
        actor=day.org.manager_dc, intent=p3, amount_fen=20, reason_category="other", reason="退"
    )
    refund = refund_services.refund_approve(actor=day.data1, refund=refund)
    Refund.objects.filter(pk=refund.pk).update(status="approved", provider_refund_no="", succeeded_at=None)

    run = services.reconcile(date=day.today)
    assert run.status == "differences"
    assert kinds(run) == [
        ("amount_mismatch", "payment"),
        ("missing_in_ledger", "refund"),
        ("missing_in_statement", "payment"),
        ("missing_in_statement", "refund"),
    ]
    mismatch = run.differences.get(kind="amount_mismatch")
    assert (mismatch.statement_amount_fen, mismatch.ledger_amount_fen) == (
        day.p2.total_fen + 7,
        day.p2.total_fen,
    )
    assert run.matched_count == 1  # p3's payment
    assert run.statement_paid_fen == day.p2.total_fen + 7 + p3.total_fen
    assert run.ledger_paid_fen == day.p1.total_fen + day.p2.total_fen + p3.total_fen

    # Take the refund only the provider has: asked again by refund_no, it is recorded as done.
    taken = services.difference_take(
        actor=day.data2, difference=run.differences.get(kind="missing_in_ledger")
    )
    refund.refresh_from_db()
    assert taken.status == "resolved" and refund.status == "succeeded" and refund.provider_refund_no
    assert SandboxRefund.objects.filter(refund_no=refund.refund_no).count() == 1
    # Only a transaction the provider has can be taken; the rest are resolved with a note.
    with pytest.raises(Exception) as exc:
        services.difference_take(actor=day.data2, difference=mismatch)
    assert exc.value.error_code == "not_takeable"
    with pytest.raises(Exception) as exc:
        services.difference_resolve(actor=day.data2, difference=mismatch, note="  ")
    assert exc.value.error_code == "invalid"
    with pytest.raises(Exception) as exc:
        services.difference_resolve(actor=day.org.manager_dc, difference=mismatch, note="x")
    assert exc.value.status_code == 403
    services.difference_resolve(actor=day.data2, difference=mismatch, note="渠道更正中")

    # Re-running replaces the run: one run per day, same differences, resolutions kept.
    again = services.reconcile(date=day.today)
    assert again.pk == run.pk and ReconciliationRun.objects.count() == 1
    assert kinds(again) == [
        ("amount_mismatch", "payment"),
        ("missing_in_statement", "payment"),
        ("missing_in_statement", "refund"),
    ]  # the taken refund now matches
    kept = again.differences.get(kind="amount_mismatch")
    assert kept.status == "resolved" and kept.note == "渠道更正中"
    assert again.differences.filter(status="open").count() == 2


def test_command_task_and_bad_date(day, capsys):
    out = StringIO()
    call_command("parking", "reconcile", "--date", day.today.isoformat(), stdout=out)
    line = json.loads(out.getvalue())
    assert line["status"] == "balanced" and line["matched"] == 3 and line["date"] == day.today.isoformat()
    with pytest.raises(CommandError):
        call_command("parking", "reconcile", "--date", "2026-02-30", stdout=StringIO())
    from govcenter.parking.tasks import reconcile_yesterday

    pk = reconcile_yesterday.call_local()
    assert ReconciliationRun.objects.get(pk=pk).date == day.today - dt.timedelta(days=1)


def test_command_bad_date_exits_2_with_one_line(tmp_path):
    env = {**os.environ, "GOVCENTER_DEBUG": "true", "GOVCENTER_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "govcenter.cli", "parking", "reconcile", "--date", "26-1-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "YYYY-MM-DD" in result.stderr


def test_api_and_pages(day):
    SandboxTrade.objects.filter(out_trade_no=day.p2.out_trade_no).update(amount_fen=1)
    run = services.reconcile(date=day.today)
    listed = api(day.data1).get(f"{API}/reconciliation-runs/")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [run.pk]
    detail = api(day.data1).get(f"{API}/reconciliation-runs/{run.pk}/").json()
    assert detail["status"] == "differences" and detail["differences"][0]["kind"] == "amount_mismatch"
    denied = api(day.org.manager_dc).get(f"{API}/reconciliation-runs/")
    assert denied.status_code == 403 and set(denied.json()) == {"code", "message", "details"}
    assert api(day.data1).get(f"{API}/reconciliation-runs/999999/").json()["code"] == "not_found"

    client = ui(day.data1)
    page = client.get("/parking/reconciliation/").content.decode()
    assert "执行对账" in page and f"/parking/reconciliation/{run.pk}/" in page
    page = client.get(f"/parking/reconciliation/{run.pk}/").content.decode()
    assert "金额不符" in page and day.p2.out_trade_no in page
    diff = run.differences.get()
    client.post(f"/parking/reconciliation/differences/{diff.pk}/resolve/", {"note": "已联系渠道"})
    diff.refresh_from_db()
    assert diff.status == "resolved" and diff.note == "已联系渠道"
    response = client.post("/parking/reconciliation/run/", {"date": day.today.isoformat()})
    assert response.status_code == 302 and response["Location"] == f"/parking/reconciliation/{run.pk}/"
    assert ui(day.org.manager_dc).get("/parking/reconciliation/").status_code == 403
    assert (
        ui(day.org.manager_dc).post("/parking/reconciliation/run/", {"date": "2026-01-01"}).status_code == 403
    )
    # The payment page lists its notifications, refunds and items.
    page = ui(day.org.manager_dc).get(f"/parking/payments/{day.p1.pk}/").content.decode()
    assert day.refund.refund_no in page and "已入账" in page and str(day.o1.pk) in page
    assert Order.objects.filter(pk=day.o1.pk, state="paid").exists()
    assert ReconciliationDifference.objects.count() == 1
