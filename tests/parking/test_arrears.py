"""Arrears sweep: due → reminders on the right days exactly once → arrears → window reminders →
penalty case; exemption of small arrears paid in time; idempotent re-runs; no contact; dry run;
gateway failures; staff actions; the command."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from io import StringIO

import pytest
from django.core.management import call_command

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry, SmsMessage
from govcenter.parking.models import Citizen, Order, OrderState, PlateBinding
from govcenter.parking.models.arrears import (
    ArrearsRecord,
    NoticeOutcome,
    PenaltyCase,
    PenaltyState,
    ReminderLog,
)
from govcenter.parking.services.arrears import (
    arrears_sweep,
    penalty_case_appeal,
    penalty_case_close,
    penalty_cases_settle,
)
from govcenter.parking.services.events import events_ingest
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db

CST = zoneinfo.ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=CST)  # the car left at 10:00 on 5 January
PLATE = "京A12345"
PLATE_B = "京B54321"
PHONE = "13900001111"


def at(days: int, hour: int = 12) -> dt.datetime:
    """Noon (local) ``days`` after the day of leaving."""
    return dt.datetime(2026, 1, 5, hour, 0, tzinfo=CST) + dt.timedelta(days=days)


def backpay_day(days: int) -> dt.datetime:
    return at(30 + days)  # the due day is day 30 (due at 10:00)


def make_order(device, plate: str, *, amount_fen: int = 1000, ended_at: dt.datetime = T0) -> Order:
    """One billed order of ``plate``, moved to leave at ``ended_at`` and owe ``amount_fen``."""
    result = events_ingest(
        device=device,
        events=[
            ev("park_start", ago(minutes=150), vehicle_license_plate=plate),
            ev("park_end", ago(minutes=90)),
        ],
    )
    order = Order.objects.get(pk=result[0].order_id)
    assert order.state == OrderState.BILLED
    Order.objects.filter(pk=order.pk).update(
        started_at=ended_at - dt.timedelta(hours=1), ended_at=ended_at, amount_due_fen=amount_fen
    )
    order.refresh_from_db()
    return order


def bind(plate: str, phone: str = PHONE) -> Citizen:
    citizen, _ = Citizen.objects.get_or_create(phone=phone)
    PlateBinding.objects.create(citizen=citizen, plate=plate)
    return citizen


def pay(order: Order) -> None:
    order.refresh_from_db()
    order.pay(amount_fen=order.amount_due_fen)
    order.save()


def sms_for(phone: str = PHONE) -> list[SmsMessage]:
    return list(SmsMessage.objects.filter(phone=phone).order_by("id"))


@pytest.fixture
def net(org):
    return network(org)


def test_the_whole_timeline(net):
    bind(PLATE)
    o1 = make_order(net.sensor, PLATE, amount_fen=3000)
    o2 = make_order(net.sensor, PLATE, amount_fen=4000)
    lone = make_order(net.sensor, PLATE_B, amount_fen=800)  # no binding: no contact

    # Day 0: nothing is due yet, no reminder day reached.
    summary = arrears_sweep(now=at(0))
    assert summary["reminders"]["orders"] == 0 and not sms_for()

    # Reminder days 1, 7, 20, 29 after leaving: one SMS per plate listing both orders, once.
    sent_days = []
    for day in range(1, 30):
        arrears_sweep(now=at(day))
        arrears_sweep(now=at(day, hour=18))  # a second run the same day sends nothing
        if len(sms_for()) > len(sent_days):
            sent_days.append(day)
    assert sent_days == [1, 7, 20, 29]
    messages = sms_for()
    assert len(messages) == 4
    assert all(m.template == "arrears_reminder" and m.category == "reminder" for m in messages)
    assert "2 笔" in messages[0].body and "70.00 元" in messages[0].body and "2026-02-04" in messages[0].body
    assert PLATE not in messages[0].body and "京A·***45" in messages[0].body  # the plate masked
    logs = ReminderLog.objects.filter(order=o1, stage="arrears")
    assert sorted(logs.values_list("day_offset", flat=True)) == [1, 7, 20, 29]
    assert {log.outcome for log in logs} == {NoticeOutcome.SENT}
    # The plate without a binding: recorded as no contact on each day, no SMS anywhere.
    lone_logs = ReminderLog.objects.filter(order=lone)
    assert sorted(lone_logs.values_list("day_offset", flat=True)) == [1, 7, 20, 29]
    assert {log.outcome for log in lone_logs} == {NoticeOutcome.NO_CONTACT}
    assert SmsMessage.objects.count() == 4

    # Day 30 at 09:00 the order is not yet due (due 10:00); at noon it turns arrears.
    assert arrears_sweep(now=at(30, hour=9))["marked_arrears"] == 0
    summary = arrears_sweep(now=at(30))
    assert summary["marked_arrears"] == 3
    o1.refresh_from_db()
    assert o1.state == OrderState.ARREARS
    record = o1.arrears_record
    assert record.amount_fen == 3000 and record.due_at == T0 + dt.timedelta(days=30)
    assert record.window_ends_at == T0 + dt.timedelta(days=75)
    assert AuditEntry.objects.filter(action="parking.arrears.mark").count() == 1
    assert arrears_sweep(now=at(30, hour=18))["marked_arrears"] == 0

    # Back-payment reminders on days 1, 15, 30, 44 of the window, once each.
    sent_days = []
    for day in range(1, 45):
        before = len(sms_for())
        arrears_sweep(now=backpay_day(day))
        arrears_sweep(now=backpay_day(day))
        if len(sms_for()) > before:
            assert len(sms_for()) == before + 1
            sent_days.append(day)
    assert sent_days == [1, 15, 30, 44]
    backpay = sms_for()[-1]
    assert backpay.template == "backpay_reminder" and "2026-03-21" in backpay.body
    assert PenaltyCase.objects.count() == 0

    # The window ends at 10:00 on day 45 of it: the unpaid orders become one case per plate.
    summary = arrears_sweep(now=backpay_day(45))
    assert summary["penalties"] == {"penalised_orders": 3, "cases_created": 2}
    case = PenaltyCase.objects.get(plate=PLATE)
    assert case.state == PenaltyState.NOTIFIED and case.notice_outcome == NoticeOutcome.SENT
    assert case.order_count == 2 and case.amount_fen == 7000 and case.unpaid_fen == 7000
    assert case.fine_fen == 20000 and case.number.startswith("CF20260321")
    assert {e["order_id"] for e in case.evidence} == {o1.pk, o2.pk}
    evidence = next(e for e in case.evidence if e["order_id"] == o1.pk)
    assert evidence["start_event"]["event_id"] and evidence["end_event"]["event_id"]
    assert evidence["segment"]["code"] == net.dc_seg.code
    notice = sms_for()[-1]
    assert notice.template == "penalty_notice" and case.number in notice.body and "200.00 元" in notice.body
    # The plate without contact: a case that stays created, its notice recorded as no contact.
    lone_case = PenaltyCase.objects.get(plate=PLATE_B)
    assert lone_case.state == PenaltyState.CREATED and lone_case.notice_outcome == NoticeOutcome.NO_CONTACT

    # Re-runs change nothing.
    count = SmsMessage.objects.count()
    again = arrears_sweep(now=backpay_day(46))
    assert again["penalties"]["cases_created"] == 0 and SmsMessage.objects.count() == count
    assert PenaltyCase.objects.count() == 2

    # Paying the orders after the case exists: the case is paid (sweep or the payments hook).
    pay(o1)
    assert penalty_cases_settle(order_ids=[o1.pk], now=backpay_day(47)) == 0  # o2 still unpaid
    pay(o2)
    assert penalty_cases_settle(order_ids=[o2.pk], now=backpay_day(47)) == 1
    case.refresh_from_db()
    assert case.state == PenaltyState.PAID and case.paid_at == backpay_day(47)
    pay(lone)
    assert arrears_sweep(now=backpay_day(48))["cases_paid"] == 1
    lone_case.refresh_from_db()
    assert lone_case.state == PenaltyState.PAID


def test_small_arrears_paid_inside_the_window_are_not_penalised(net):
    bind(PLATE)
    small = make_order(net.sensor, PLATE, amount_fen=5000)  # exactly ¥50: exempt
    large = make_order(net.sensor, PLATE, amount_fen=5001)
    late = make_order(net.sensor, PLATE_B, amount_fen=100)  # small but never paid
    arrears_sweep(now=at(30))
    pay(small)
    pay(large)
    summary = arrears_sweep(now=backpay_day(10))
    assert summary["settled"] == {"exempt": 1, "void": 0}
    small.arrears_record.refresh_from_db()
    assert small.arrears_record.outcome == ArrearsRecord.Outcome.EXEMPT
    # Paid orders get no back-payment reminders.
    assert not ReminderLog.objects.filter(order__in=[small, large], stage="backpay", day_offset=15).exists()
    arrears_sweep(now=backpay_day(15))
    assert not ReminderLog.objects.filter(order__in=[small, large], stage="backpay", day_offset=15).exists()
    assert ReminderLog.objects.filter(order=late, stage="backpay", day_offset=15).exists()

    arrears_sweep(now=backpay_day(45))
    # Above the exemption: penalised although paid in time (the case has nothing left unpaid,
    # so it is not "paid" by the sweep: staff close it once the fine is dealt with).
    case = PenaltyCase.objects.get(plate=PLATE)
    assert list(case.items.values_list("order_id", flat=True)) == [large.pk]
    assert case.unpaid_fen == 0 and case.state == PenaltyState.NOTIFIED
    arrears_sweep(now=backpay_day(46))
    case.refresh_from_db()
    assert case.state == PenaltyState.NOTIFIED
    # Unpaid at the end of the window: penalised whatever the amount.
    assert PenaltyCase.objects.get(plate=PLATE_B).unpaid_fen == 100
    large.arrears_record.refresh_from_db()
    assert large.arrears_record.outcome == ArrearsRecord.Outcome.PENALISED


def test_paid_before_due_never_turns_arrears_and_void_is_not_penalised(net):
    paid = make_order(net.sensor, PLATE)
    voided = make_order(net.sensor, PLATE_B)
    pay(paid)
    arrears_sweep(now=at(30))
    voided.refresh_from_db()
    assert voided.state == OrderState.ARREARS
    voided.void()
    voided.save()
    arrears_sweep(now=backpay_day(50))
    paid.refresh_from_db()
    assert paid.state == OrderState.PAID and not ArrearsRecord.objects.filter(order=paid).exists()
    assert ArrearsRecord.objects.get(order=voided).outcome == ArrearsRecord.Outcome.VOID
    assert not PenaltyCase.objects.exists()


def test_catch_up_sends_only_the_latest_reminder_and_whole_backlog_is_safe(net):
    bind(PLATE)
    order = make_order(net.sensor, PLATE)
    # The first sweep ever runs on day 25: only the day-20 reminder goes out.
    arrears_sweep(now=at(25))
    assert list(ReminderLog.objects.values_list("day_offset", flat=True)) == [20]
    # Then nothing until day 100: arrears, window and case in one run, no reminder storm.
    summary = arrears_sweep(now=at(120))
    assert summary["marked_arrears"] == 1 and summary["penalties"]["cases_created"] == 1
    assert summary["backpay_reminders"]["sms"] == 0
    assert [m.template for m in sms_for()] == ["arrears_reminder", "penalty_notice"]
    order.refresh_from_db()
    assert order.state == OrderState.ARREARS


def test_dry_run_changes_nothing_and_sends_nothing(net):
    bind(PLATE)
    make_order(net.sensor, PLATE)
    summary = arrears_sweep(now=at(120), dry_run=True)
    assert (
        summary["dry_run"] and summary["marked_arrears"] == 1 and summary["penalties"]["cases_created"] == 1
    )
    assert summary["notices"]["notified"] == 1
    assert not SmsMessage.objects.exists() and not ReminderLog.objects.exists()
    assert not PenaltyCase.objects.exists() and not ArrearsRecord.objects.exists()
    assert Order.objects.get().state == OrderState.BILLED


class BrokenGateway:
    name = "broken"

    def send(self, phone, template, body):
        raise ConnectionError("carrier down")


def test_a_failed_reminder_is_logged_and_retried_by_the_next_run(net, settings):
    bind(PLATE)
    order = make_order(net.sensor, PLATE)
    settings.GOVCENTER_SMS_GATEWAY = "tests.parking.test_arrears.BrokenGateway"
    summary = arrears_sweep(now=at(1))
    assert summary["reminders"]["failed"] == 1
    log = ReminderLog.objects.get(order=order)
    assert log.outcome == NoticeOutcome.FAILED and log.sms_message.status == "failed"
    assert log.sms_message.error == "carrier down"
    settings.GOVCENTER_SMS_GATEWAY = "govcenter.core.sms.OutboxGateway"
    assert arrears_sweep(now=at(2))["reminders"]["sms"] == 1
    log.refresh_from_db()
    assert log.outcome == NoticeOutcome.SENT and ReminderLog.objects.count() == 1
    assert arrears_sweep(now=at(3))["reminders"]["sms"] == 0


def test_a_disabled_template_sends_nothing_and_says_so(net):
    from govcenter.core.models import SmsTemplate
    from govcenter.core.sms import sms_templates_sync

    sms_templates_sync()
    SmsTemplate.objects.filter(code="arrears_reminder").update(active=False)
    bind(PLATE)
    make_order(net.sensor, PLATE)
    assert arrears_sweep(now=at(1))["reminders"]["disabled"] == 1
    assert ReminderLog.objects.get().outcome == NoticeOutcome.DISABLED and not SmsMessage.objects.exists()


def test_naive_now_is_refused(net):
    with pytest.raises(ServiceError) as info:
        arrears_sweep(now=dt.datetime(2026, 1, 1, 12, 0))
    assert info.value.error_code == "naive_time"


@pytest.fixture
def case(net):
    make_order(net.sensor, PLATE)
    arrears_sweep(now=at(120))
    return PenaltyCase.objects.get()


def test_staff_close_and_appeal_are_audited_and_follow_the_state_machine(org, case):
    with pytest.raises(ServiceError) as info:
        penalty_case_close(actor=org.manager_dc, case=case, reason=" ")
    assert info.value.error_code == "reason_required"
    appealed = penalty_case_appeal(
        actor=org.manager_dc, case=case, reference="TS-2026-001", reason="车辆已过户"
    )
    assert appealed.state == PenaltyState.APPEALED and appealed.appeal_reference == "TS-2026-001"
    with pytest.raises(ServiceError) as info:
        penalty_case_appeal(actor=org.manager_dc, case=case, reference="TS-2", reason="again")
    assert info.value.status_code == 409 and info.value.error_code == "invalid_state"
    closed = penalty_case_close(actor=org.manager_dc, case=case, reason="申诉成立")
    assert closed.state == PenaltyState.CLOSED and closed.close_reason == "申诉成立"
    entries = AuditEntry.objects.filter(object_type="parking.penaltycase").order_by("seq")
    assert [e.action for e in entries][-2:] == ["parking.penalty.appeal", "parking.penalty.close"]
    assert entries.last().reason == "申诉成立"
    with pytest.raises(AttributeError):
        case.state = PenaltyState.CREATED  # protected: transitions only


def test_staff_of_another_district_cannot_act(org, case):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        penalty_case_close(actor=org.manager_xc, case=case, reason="x")
    case.refresh_from_db()
    assert case.state == PenaltyState.NOTIFIED or case.state == PenaltyState.CREATED


def test_command_prints_a_json_summary(net):
    bind(PLATE)
    make_order(net.sensor, PLATE)
    out = StringIO()
    call_command("parking", "arrears-sweep", "--now", at(1).isoformat(), "--dry-run", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["dry_run"] is True and summary["reminders"]["sms"] == 1
    assert not SmsMessage.objects.exists()
    out = StringIO()
    call_command("parking", "arrears-sweep", "--now", at(1).isoformat(), stdout=out)
    assert json.loads(out.getvalue())["reminders"]["sms"] == 1 and SmsMessage.objects.count() == 1


@pytest.mark.parametrize("bad", ["yesterday", "2026-01-06T12:00:00"])
def test_command_refuses_a_bad_now(db, bad):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("parking", "arrears-sweep", "--now", bad)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_never_send_twice_on_postgresql(org):
    import threading

    from django.db import connections

    n = network(org)
    bind(PLATE)
    make_order(n.sensor, PLATE)
    make_order(n.sensor, PLATE)
    barrier = threading.Barrier(4)
    errors: list = []

    def worker(now):
        try:
            barrier.wait()
            arrears_sweep(now=now)
        except Exception as exc:  # noqa: BLE001  (shown in the assertion)
            errors.append(repr(exc))
        finally:
            connections.close_all()

    for now in (at(1), at(120)):
        threads = [threading.Thread(target=worker, args=(now,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert [m.template for m in sms_for()] == ["arrears_reminder", "penalty_notice"]
    assert ReminderLog.objects.count() == 2 and PenaltyCase.objects.count() == 1
    assert ArrearsRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"GOVCENTER_PARKING_ARREARS_REMINDER_DAYS": "1,x"}, "GOVCENTER_PARKING_ARREARS_REMINDER_DAYS='1,x'"),
        ({"GOVCENTER_PARKING_ARREARS_REMINDER_DAYS": "1,30"}, "each day must be between 1 and 29"),
        ({"GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS": "0,15"}, "GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS"),
        (
            {"GOVCENTER_PARKING_ARREARS_DUE_DAYS": "0"},
            "GOVCENTER_PARKING_ARREARS_DUE_DAYS must be a positive",
        ),
        (
            {"GOVCENTER_PARKING_BACKPAY_DAYS": "soon"},
            "GOVCENTER_PARKING_BACKPAY_DAYS='soon' is not an integer",
        ),
        (
            {"GOVCENTER_PARKING_PENALTY_EXEMPT_FEN": "-1"},
            "GOVCENTER_PARKING_PENALTY_EXEMPT_FEN must be an amount",
        ),
    ],
)
def test_bad_arrears_settings_fail_at_start_in_one_line(tmp_path, env, reason):
    from tests.core.test_settings import _govcenter

    result = _govcenter(tmp_path, "check", GOVCENTER_DEBUG="true", **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def test_settings_are_read(settings, net):
    """Other periods and amounts from the settings: due after 10 days, reminders on day 3 only."""
    settings.GOVCENTER_PARKING_ARREARS_DUE_DAYS = 10
    settings.GOVCENTER_PARKING_ARREARS_REMINDER_DAYS = (3,)
    settings.GOVCENTER_PARKING_BACKPAY_DAYS = 5
    settings.GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS = ()
    settings.GOVCENTER_PARKING_PENALTY_FINE_FEN = 15000
    bind(PLATE)
    make_order(net.sensor, PLATE)
    assert [arrears_sweep(now=at(d))["reminders"]["sms"] for d in (1, 2, 3, 4)] == [0, 0, 1, 0]
    assert arrears_sweep(now=at(10))["marked_arrears"] == 1
    assert arrears_sweep(now=at(14))["penalties"]["cases_created"] == 0
    assert arrears_sweep(now=at(15))["penalties"]["cases_created"] == 1
    assert PenaltyCase.objects.get().fine_fen == 15000


def test_paying_a_cases_arrears_online_settles_the_case_at_once(
    case, settings, django_capture_on_commit_callbacks
):
    """The payment service settles the case when its orders are paid, not the next sweep."""
    from rest_framework.test import APIClient

    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True
    order = case.items.get().order
    assert order.state == OrderState.ARREARS and case.state != PenaltyState.PAID
    client = APIClient()
    response = client.post(
        "/api/v1/parking/public/payments",
        {"plate": PLATE, "order_ids": [order.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="case-pay-0001",
    )
    assert response.status_code == 201, response.json()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(response.json()["pay_url"]).json()["notify_status"] == 200
    case.refresh_from_db()
    assert case.state == PenaltyState.PAID
