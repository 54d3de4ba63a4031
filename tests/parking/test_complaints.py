"""Complaints and appeals: working-day deadline (调休), state machine, routing, fee adjustments
(the bill never edited), citizen endpoints (own orders only), scope, pages, 4xx shapes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from rest_framework.test import APIClient

from govcenter.core.calendar import calendar_day_save
from govcenter.core.models import AuditEntry, CalendarDay, SmsMessage
from govcenter.parking.models import OrderState
from govcenter.parking.models.complaints import Complaint, ComplaintAction, FeeAdjustment
from govcenter.parking.services import complaints as services
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import ago, network
from tests.parking.test_payments import citizen_client, stay

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
SH = ZoneInfo("Asia/Shanghai")
PLATE, OTHER_PLATE = "京A12345", "京B54321"
ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def net(org):
    n = network(org)
    # Four hours, so the fee is over ¥2 even at the night rate (the suite runs at any hour).
    n.dc_order = stay(n.sensor, PLATE, 9, hours=4)
    n.dc_other = stay(n.sensor, OTHER_PLATE, 3)
    n.xc_order = stay(n.xc_sensor, PLATE, 5)
    n.staff = UserFactory(username="t_cs", unit=org.center, role_set=[org.roles["data_staff"]])
    return n


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(user, url, body=None):
    return client_for(user).post(url, body or {}, content_type="application/json")


def appeal(actor, order, **kw) -> Complaint:
    fields = {
        "kind": "appeal",
        "channel": "hotline",
        "category": "wrong_times",
        "subject": "时间不对",
        "body": "我只停了十分钟",
        "contact_phone": "13911112222",
    }
    return services.complaint_create(actor=actor, order=order, **{**fields, **kw})


# -- deadline on China's working calendar ----------------------------------------------------------


@pytest.fixture
def national_day_2026(db):
    """2026 国庆/中秋: 1–7 October off; Sunday 20 September and Saturday 10 October are 调休 workdays."""
    for day in range(1, 8):
        calendar_day_save(date=dt.date(2026, 10, day), kind=CalendarDay.Kind.HOLIDAY, name="国庆")
    for day in (dt.date(2026, 9, 20), dt.date(2026, 10, 10)):
        calendar_day_save(date=day, kind=CalendarDay.Kind.ADJUSTED_WORKDAY, name="国庆")


def test_deadline_skips_the_holiday_and_counts_the_tiaoxiu_saturday(national_day_2026):
    # Received Wed 30 Sep: Thu 8, Fri 9, Sat 10 (调休), Mon 12, Tue 13 October.
    assert services.complaint_deadline(dt.datetime(2026, 9, 30, 18, 0, tzinfo=SH)) == dt.date(2026, 10, 13)
    # Late on 30 Sep UTC is already 1 Oct in Beijing: counted from the holiday.
    assert services.complaint_deadline(dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 10, 13
    )
    # From Fri 9 Oct: Sat 10 (调休), Mon 12 … Thu 15.
    assert services.complaint_deadline(dt.date(2026, 10, 9)) == dt.date(2026, 10, 15)


def test_deadline_setting_and_reminder_colours(org, net, national_day_2026, settings):
    settings.GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS = 5
    received = dt.datetime(2026, 9, 30, 9, 0, tzinfo=SH)
    complaint = appeal(net.staff, net.dc_order, received_at=received)
    assert complaint.deadline == dt.date(2026, 10, 13) and complaint.number.startswith("TS2026")
    assert complaint.deadline_state(dt.date(2026, 10, 9)) == "ok"
    assert complaint.deadline_state(dt.date(2026, 10, 12)) == "near"
    assert complaint.deadline_state(dt.date(2026, 10, 13)) == "near"
    assert complaint.deadline_state(dt.date(2026, 10, 14)) == "overdue"
    settings.GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS = 1
    assert appeal(net.staff, net.dc_order, received_at=received).deadline == dt.date(2026, 10, 8)


# -- state machine ------------------------------------------------------------------------------------


def test_status_cannot_be_assigned_directly(org, net):
    complaint = appeal(net.staff, net.dc_order)
    with pytest.raises(AttributeError):
        complaint.status = "closed"


def test_full_path_with_timeline_and_audit(org, net):
    complaint = appeal(org.manager_dc, net.dc_order)
    assert (complaint.district, complaint.handling_unit) == (
        org.dongcheng,
        org.unit_dc,
    )  # routed by the order
    assert complaint.plate == PLATE
    complaint = services.complaint_accept(actor=org.manager_dc, complaint=complaint, note="核查中")
    complaint = services.complaint_reply(
        actor=org.manager_dc, complaint=complaint, text="已核实", outcome="upheld"
    )
    assert complaint.deadline_state() == "done" and complaint.replied_at is not None
    complaint = services.complaint_close(actor=org.manager_dc, complaint=complaint)
    complaint = services.complaint_rate(complaint=complaint, satisfaction=5, comment="满意")
    assert complaint.status == "closed" and complaint.satisfaction == 5
    assert list(complaint.actions.values_list("action", flat=True)) == [
        "create",
        "accept",
        "reply",
        "close",
        "rate",
    ]
    actions = set(AuditEntry.objects.filter(object_id=str(complaint.pk)).values_list("action", flat=True))
    assert {"parking.complaint.create", "parking.complaint.accept", "parking.complaint.close"} <= actions
    # Personal data never lands in the audit chain.
    assert not AuditEntry.objects.filter(changes__icontains="13911112222").exists()


def test_the_reply_reaches_the_complainant_by_sms_after_commit(org, net, django_capture_on_commit_callbacks):
    complaint = services.complaint_accept(
        actor=org.manager_dc, complaint=appeal(org.manager_dc, net.dc_order)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.complaint_reply(actor=org.manager_dc, complaint=complaint, text="已核实", outcome="upheld")
    [message] = SmsMessage.objects.filter(phone="13911112222", template="complaint_replied")
    assert complaint.number in message.body and "属实" in message.body
    # No phone on the complaint and no app account: nothing is sent.
    silent = services.complaint_accept(
        actor=org.manager_dc, complaint=appeal(org.manager_dc, net.dc_order, contact_phone="")
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.complaint_close(actor=org.manager_dc, complaint=silent, text="已核实", outcome="not_upheld")
    assert SmsMessage.objects.filter(template="complaint_replied").count() == 1


@pytest.mark.parametrize(
    "path,verb,body",
    [
        ([], "reply", {"text": "x", "outcome": "upheld"}),
        ([], "close", {"text": "x", "outcome": "upheld"}),
        ([], "rate", {"satisfaction": 4}),
        (["accept"], "accept", {}),
        (["accept"], "reject", {"reason": "重复"}),
        (["reject"], "accept", {}),
        (["transfer"], "reply", {"text": "x", "outcome": "upheld"}),
    ],
)
def test_refused_transitions_are_409_and_change_nothing(org, net, path, verb, body):
    complaint = appeal(net.staff, net.dc_order)
    for step in path:
        extra = {"reason": "重复"} if step == "reject" else {"to": "交管部门"} if step == "transfer" else {}
        assert post(net.staff, f"{API}/complaints/{complaint.pk}/{step}/", extra).status_code == 200
    before = Complaint.objects.get(pk=complaint.pk).status
    response = post(net.staff, f"{API}/complaints/{complaint.pk}/{verb}/", body)
    assert response.status_code == 409, response.content
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] in {"illegal_transition", "not_closed"}
    assert Complaint.objects.get(pk=complaint.pk).status == before


def test_close_from_accepted_needs_the_reply(org, net):
    complaint = services.complaint_accept(actor=net.staff, complaint=appeal(net.staff, net.dc_order))
    response = post(net.staff, f"{API}/complaints/{complaint.pk}/close/", {})
    assert response.status_code == 400 and response.json()["code"] == "text_required"
    response = post(
        net.staff, f"{API}/complaints/{complaint.pk}/close/", {"text": "已处理", "outcome": "not_upheld"}
    )
    assert response.status_code == 200 and response.json()["status"] == "closed"


def test_appeal_needs_an_order_and_bad_input_is_400(org, net):
    response = post(
        net.staff,
        f"{API}/complaints/",
        {"kind": "appeal", "channel": "hotline", "category": "tariff_dispute", "subject": "s", "body": "b"},
    )
    assert response.status_code == 400 and response.json()["code"] == "order_required"
    response = post(net.staff, f"{API}/complaints/", {"kind": "nonsense"})
    assert response.status_code == 400 and set(response.json()) == ERROR_KEYS
    assert set(response.json()["details"]) >= {"kind", "channel", "subject"}
    ok = post(
        net.staff,
        f"{API}/complaints/",
        {
            "kind": "complaint",
            "channel": "mailbox",
            "category": "attitude",
            "subject": "态度",
            "body": "b",
            "district": org.xicheng.pk,
            "contact_phone": "13800001111",
        },
    )
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert body["handling_unit"] == org.unit_xc.pk and body["contact_phone"] == "138****1111"
    assert body["actions"][0]["action"] == "create"


def test_district_manager_cannot_register_for_another_district(org, net):
    response = post(
        org.manager_dc,
        f"{API}/complaints/",
        {
            "kind": "complaint",
            "channel": "hotline",
            "category": "other",
            "subject": "s",
            "body": "b",
            "district": org.xicheng.pk,
        },
    )
    assert response.status_code == 400 and "district" in response.json()["details"]
    assert not Complaint.objects.exists()


def test_rerouting_is_audited_and_needs_the_permission(org, net):
    complaint = appeal(net.staff, net.dc_order)
    refused = post(
        org.manager_dc, f"{API}/complaints/{complaint.pk}/route/", {"district": org.xicheng.pk, "reason": "x"}
    )
    assert refused.status_code == 403 and set(refused.json()) == ERROR_KEYS
    response = post(
        net.staff,
        f"{API}/complaints/{complaint.pk}/route/",
        {"district": org.xicheng.pk, "reason": "属西城管辖"},
    )
    assert response.status_code == 200, response.content
    complaint.refresh_from_db()
    assert (complaint.district, complaint.handling_unit) == (org.xicheng, org.unit_xc)
    entry = AuditEntry.objects.get(action="parking.complaint.route")
    assert entry.changes["before"]["district_id"] == org.dongcheng.pk and entry.reason == "属西城管辖"
    # Now out of the 东城 manager's scope: 404.
    assert client_for(org.manager_dc).get(f"{API}/complaints/{complaint.pk}/").status_code == 404


# -- fee adjustments ----------------------------------------------------------------------------------


def accepted(net, order):
    return services.complaint_accept(actor=net.staff, complaint=appeal(net.staff, order))


def test_fee_adjustment_is_its_own_entry_and_the_bill_is_unchanged(org, net):
    order = net.dc_order
    due = order.amount_due_fen
    complaint = accepted(net, order)
    response = post(
        org.manager_dc,
        f"{API}/complaints/{complaint.pk}/adjust-fee/",
        {"amount_fen": -100, "reason": "多计 1 小时"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["adjustment_before_fen"] == 0 and response.json()["adjustment_after_fen"] == -100
    order.refresh_from_db()
    assert order.amount_due_fen == due and order.amount_adjustment_fen == -100
    assert order.payable_fen == due - 100 and order.state == OrderState.BILLED
    services.fee_adjust(
        order=order, amount_fen=40, reason="复核后部分恢复", complaint=complaint, actor=org.manager_dc
    )
    order.refresh_from_db()
    assert order.amount_adjustment_fen == -60 and order.amount_due_fen == due
    assert list(
        FeeAdjustment.objects.filter(order=order)
        .order_by("pk")
        .values_list("amount_fen", "adjustment_after_fen")
    ) == [
        (-100, -100),
        (40, -60),
    ]
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("parking.order.adjust") == 2 and actions.count("parking.feeadjustment.create") == 2
    assert ComplaintAction.objects.filter(complaint=complaint, action="adjust_fee").count() == 2


@pytest.mark.parametrize(
    "amount_delta,code", [(-1, "adjustment_out_of_range"), (None, "adjustment_out_of_range")]
)
def test_adjustment_beyond_the_bill_or_above_it_is_refused(org, net, amount_delta, code):
    order = net.dc_order
    complaint = accepted(net, order)
    amount = -(order.amount_due_fen + 1) if amount_delta == -1 else 1
    response = post(
        net.staff, f"{API}/complaints/{complaint.pk}/adjust-fee/", {"amount_fen": amount, "reason": "x"}
    )
    assert response.status_code == 400 and response.json()["code"] == code
    assert set(response.json()) == ERROR_KEYS
    order.refresh_from_db()
    assert order.amount_adjustment_fen == 0 and not FeeAdjustment.objects.exists()


def test_full_waiver_settles_an_arrears_order(org, net):
    order = net.dc_order
    order.mark_arrears()
    order.save()
    services.fee_adjust(
        order=order,
        amount_fen=-order.amount_due_fen,
        reason="未停车",
        complaint=accepted(net, order),
        actor=net.staff,
    )
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.amount_paid_fen == 0 and order.payable_fen == 0


def test_lowering_a_paid_order_records_the_refund_due(org, net):
    order = net.dc_order
    order.pay(amount_fen=order.amount_due_fen)
    order.save()
    adjustment = services.fee_adjust(
        order=order, amount_fen=-150, reason="多收", complaint=accepted(net, order), actor=net.staff
    )
    assert adjustment.refund_due_fen == 150 and adjustment.refund_ref == ""
    order.refresh_from_db()
    assert order.amount_paid_fen == order.amount_due_fen and order.amount_adjustment_fen == -150
    # Paid outside the payment module: no refund request, the timeline says so.
    assert ComplaintAction.objects.filter(action="refund", note__contains="退款申请未创建").count() == 1
    # A paid order cannot be made to owe again.
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(order=order, amount_fen=200, reason="x", actor=net.staff)
    assert exc.value.error_code == "adjustment_out_of_range"
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(order=order, amount_fen=100, reason="x", actor=net.staff)
    assert exc.value.error_code == "order_paid"


def test_lowering_an_order_paid_in_the_app_requests_a_refund(org, net, settings):
    from govcenter.parking.models.refunds import Refund
    from govcenter.parking.payments import sandbox
    from govcenter.parking.services.payments import payment_create, payment_notify

    settings.GOVCENTER_PARKING_PAYMENT_SANDBOX = True
    order = net.dc_order
    created = payment_create(
        citizen=None, plate=PLATE, order_ids=[order.pk], idempotency_key="key-complaint-1"
    )
    headers, body = sandbox.sandbox_pay(created.intent.out_trade_no)
    payment_notify(headers=headers, body=body)
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    complaint = accepted(net, order)
    response = post(
        org.manager_dc, f"{API}/complaints/{complaint.pk}/adjust-fee/", {"amount_fen": -120, "reason": "多计"}
    )
    assert response.status_code == 201, response.content
    refund = Refund.objects.get()
    assert (refund.order, refund.amount_fen, refund.reason_category, refund.status) == (
        order,
        120,
        "fee_adjusted",
        "requested",
    )
    assert response.json()["refund_due_fen"] == 120 and response.json()["refund_ref"] == refund.refund_no


def test_adjustment_rules_on_state_and_complaint(org, net):
    complaint = appeal(net.staff, net.dc_order)  # received, not accepted
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(
            order=net.dc_order, amount_fen=-10, reason="x", complaint=complaint, actor=net.staff
        )
    assert exc.value.error_code == "complaint_not_open"
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(
            order=net.dc_other,
            amount_fen=-10,
            reason="x",
            complaint=accepted(net, net.dc_order),
            actor=net.staff,
        )
    assert exc.value.error_code == "complaint_mismatch"
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(order=net.xc_order, amount_fen=-10, reason="x", actor=org.manager_dc)
    assert exc.value.error_code == "out_of_scope"
    with pytest.raises(services.ServiceError) as exc:
        services.fee_adjust(order=net.dc_order, amount_fen=0, reason="x", actor=net.staff)
    assert exc.value.error_code == "invalid"


def test_leader_cannot_adjust(org, net):
    complaint = accepted(net, net.dc_order)
    response = post(
        org.leader, f"{API}/complaints/{complaint.pk}/adjust-fee/", {"amount_fen": -10, "reason": "x"}
    )
    assert response.status_code == 403 and set(response.json()) == ERROR_KEYS


# -- citizens -------------------------------------------------------------------------------------------


def test_citizen_complains_only_about_own_orders(org, net):
    citizen, client = citizen_client("13911110001", PLATE)
    body = {"kind": "appeal", "category": "not_parked", "subject": "没停车", "body": "那天我不在北京"}
    other = client.post(f"{API}/citizen/complaints", {**body, "order": net.dc_other.pk}, format="json")
    assert other.status_code == 404 and other.json()["code"] == "order_not_found"
    assert (
        client.post(f"{API}/citizen/complaints", {**body, "order": 10**9}, format="json").status_code == 404
    )
    created = client.post(f"{API}/citizen/complaints", {**body, "order": net.dc_order.pk}, format="json")
    assert created.status_code == 201, created.content
    complaint = Complaint.objects.get(pk=created.json()["id"])
    assert (complaint.channel, complaint.citizen, complaint.contact_phone) == ("app", citizen, "13911110001")
    assert complaint.district == org.dongcheng
    # A complaint without an order needs a district.
    no_district = client.post(f"{API}/citizen/complaints", {**body, "kind": "complaint"}, format="json")
    assert no_district.status_code == 400 and no_district.json()["code"] == "district_required"

    _, bob = citizen_client("13911110002", OTHER_PLATE)
    assert bob.get(f"{API}/citizen/complaints").json()["count"] == 0
    assert bob.get(f"{API}/citizen/complaints/{complaint.pk}").status_code == 404
    listed = client.get(f"{API}/citizen/complaints").json()
    assert [c["id"] for c in listed["results"]] == [complaint.pk] and listed["results"][0][
        "plate"
    ] == "京A·***45"
    assert APIClient().get(f"{API}/citizen/complaints").status_code == 401
    # Staff sessions are not citizens.
    assert client_for(net.staff).get(f"{API}/citizen/complaints").status_code in (401, 403)


def test_citizen_rates_once_after_closure(org, net):
    _, client = citizen_client("13911110001", PLATE)
    created = client.post(
        f"{API}/citizen/complaints",
        {"kind": "appeal", "category": "wrong_plate", "subject": "s", "body": "b", "order": net.dc_order.pk},
        format="json",
    ).json()
    url = f"{API}/citizen/complaints/{created['id']}/rating"
    early = client.post(url, {"satisfaction": 5}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "not_closed"
    complaint = Complaint.objects.get(pk=created["id"])
    services.complaint_accept(actor=net.staff, complaint=complaint)
    services.complaint_close(actor=net.staff, complaint=complaint, text="已更正车牌", outcome="upheld")
    assert client.post(url, {"satisfaction": 9}, format="json").status_code == 400
    done = client.post(url, {"satisfaction": 4, "comment": "快"}, format="json")
    assert (
        done.status_code == 200
        and done.json()["satisfaction"] == 4
        and done.json()["reply_text"] == "已更正车牌"
    )
    assert client.post(url, {"satisfaction": 5}, format="json").json()["code"] == "already_rated"


# -- scope, masking, pages ----------------------------------------------------------------------------


def test_complaints_api_and_ui_are_scoped(org, net):
    dc = appeal(net.staff, net.dc_order)
    xc = appeal(net.staff, net.xc_order)
    for list_url, detail in (
        (f"{API}/complaints/", f"{API}/complaints/{{}}/"),
        ("/parking/complaints/", "/parking/complaints/{}/"),
    ):
        assert_scoped(
            client=client_for(org.manager_dc),
            list_url=list_url,
            detail_url_for=lambda c, detail=detail: detail.format(c.pk),
            visible=[dc],
            hidden=[xc],
            expected_count=1,
            search_param="number",
            search_term_for=lambda c: c.number,
        )
        assert_requires_login(Client(), list_url)
    fee = services.fee_adjust(
        order=net.xc_order,
        amount_fen=-10,
        reason="x",
        complaint=services.complaint_accept(actor=net.staff, complaint=xc),
        actor=net.staff,
    )
    assert client_for(org.manager_dc).get(f"{API}/fee-adjustments/").json()["count"] == 0
    assert client_for(org.manager_dc).get(f"{API}/fee-adjustments/{fee.pk}/").status_code == 404
    assert client_for(net.staff).get(f"{API}/fee-adjustments/").json()["count"] == 1


def test_phone_and_plate_masked_and_revealed_with_reason(org, net):
    complaint = appeal(net.staff, net.dc_order)
    body = client_for(org.manager_dc).get(f"{API}/complaints/{complaint.pk}/").json()
    assert (
        body["contact_phone"] == "139****2222" and "13911112222" not in str(body) and "12345" not in str(body)
    )
    page = client_for(org.manager_dc).get(f"/parking/complaints/{complaint.pk}/").content.decode()
    assert "13911112222" not in page and PLATE not in page
    assert (
        post(org.manager_dc, f"{API}/complaints/{complaint.pk}/reveal/", {"reason": "核实"}).status_code
        == 403
    )
    revealed = post(net.staff, f"{API}/complaints/{complaint.pk}/reveal/", {"reason": "处理投诉"})
    assert revealed.status_code == 200 and revealed.json() == {"contact_phone": "13911112222", "plate": PLATE}
    assert AuditEntry.objects.filter(action="reveal", object_id=str(complaint.pk)).count() == 1


def test_pages_filter_overdue_and_colour_it(org, net):
    old = appeal(net.staff, net.dc_order, received_at=ago(days=30))
    fresh = appeal(net.staff, net.dc_order)
    client = client_for(org.manager_dc)
    page = client.get("/parking/complaints/?overdue=true").content.decode()
    assert old.number in page and fresh.number not in page and 'data-total-count="1"' in page
    assert "table-danger" in page and 'data-deadline="overdue"' in page
    assert fresh.number in client.get("/parking/complaints/?overdue=false&channel=hotline").content.decode()
    detail = client.get(f"/parking/complaints/{old.pk}/").content.decode()
    assert 'data-deadline="overdue"' in detail and "受理" in detail


def test_page_actions_and_create_form(org, net):
    client = client_for(org.manager_dc)
    complaint = appeal(net.staff, net.dc_order)
    response = client.post(f"/parking/complaints/{complaint.pk}/accept/", {"note": "受理"})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "accepted"
    client.post(f"/parking/complaints/{complaint.pk}/adjust-fee/", {"amount_fen": "-50", "reason": "多计"})
    assert FeeAdjustment.objects.get().amount_fen == -50
    # A refusal comes back as a message, nothing changes.
    client.post(f"/parking/complaints/{complaint.pk}/adjust-fee/", {"amount_fen": "abc", "reason": "x"})
    assert FeeAdjustment.objects.count() == 1
    assert (
        client.post(f"/parking/complaints/{complaint.pk}/route/", {"district": org.xicheng.pk}).status_code
        == 403
    )
    assert client.post(f"/parking/complaints/{complaint.pk}/nonsense/").status_code == 404
    assert client.get("/parking/complaints/new/").status_code == 200
    created = client.post(
        "/parking/complaints/new/",
        {
            "kind": "appeal",
            "channel": "hotline",
            "category": "wrong_plate",
            "subject": "车牌错",
            "body": "b",
            "order": net.dc_order.pk,
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    assert Complaint.objects.filter(subject="车牌错", district=org.dongcheng).exists()
    hidden_order = client.post(
        "/parking/complaints/new/",
        {
            "kind": "appeal",
            "channel": "hotline",
            "category": "wrong_plate",
            "subject": "x",
            "body": "b",
            "order": net.xc_order.pk,
        },
    )
    assert hidden_order.status_code == 200 and not Complaint.objects.filter(subject="x").exists()


def test_stats_helpers(org, net):
    appeal(net.staff, net.dc_order)
    appeal(net.staff, net.xc_order, received_at=ago(days=30))
    start, end = ago(days=60), ago(minutes=-1)
    rows = services.complaint_counts(user=net.staff, start=start, end=end)
    assert sum(r["count"] for r in rows) == 2 and {r["district"] for r in rows} == {
        org.dongcheng.pk,
        org.xicheng.pk,
    }
    assert sum(r["count"] for r in services.complaint_counts(user=org.manager_dc, start=start, end=end)) == 1
    summary = services.complaint_summary(user=net.staff, start=start, end=end)
    assert summary["received"] == 2 and summary["overdue"] == 1
