"""Orders: state machine, scope (API and UI), masking, patrol corrections (audited, re-billed), anomalies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Order, OrderCorrection, OrderState, ParkingAnomaly
from govcenter.parking.selectors.tariffs import quote_with_plan
from govcenter.parking.services.events import events_ingest
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


@pytest.fixture
def net(org):
    n = network(org)
    start, end = ago(hours=3), ago(hours=1)
    n.dc_order = Order.objects.get(pk=events_ingest(device=n.sensor, events=[
        ev("park_start", start, vehicle_license_plate="京A12345"), ev("park_end", end)])[0].order_id)
    n.xc_order = Order.objects.get(pk=events_ingest(device=n.xc_sensor, events=[
        ev("park_start", start, vehicle_license_plate="京B54321")])[0].order_id)
    return n


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- state machine ----------------------------------------------------------------------------


def test_state_cannot_be_assigned_directly(net):
    order = Order.objects.get(pk=net.dc_order.pk)
    with pytest.raises(AttributeError):
        order.state = OrderState.PAID


@pytest.mark.parametrize(
    "state,method,kwargs",
    [
        ("open", "bill", {"amount_fen": 1, "lines": [], "plan_id": None, "at": None}),
        ("open", "pay", {"amount_fen": 1}),
        ("billed", "close", {"ended_at": None}),
        ("billed", "void", None),
        ("open", "mark_arrears", None),
    ],
)
def test_illegal_transitions_are_refused(net, state, method, kwargs):
    order = net.dc_order if state == "billed" else net.xc_order
    order = Order.objects.get(pk=order.pk)
    assert order.state == state
    if method == "void":  # void is legal from billed: prove a paid order cannot be voided instead
        order.pay(amount_fen=order.amount_due_fen)
        with pytest.raises(TransitionNotAllowed):
            order.void()
        return
    with pytest.raises(TransitionNotAllowed):
        getattr(order, method)(**(kwargs or {}))


def test_legal_path_to_paid_and_arrears(net):
    order = Order.objects.get(pk=net.dc_order.pk)
    order.mark_arrears()
    order.pay(amount_fen=order.amount_due_fen)
    order.save()
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.amount_paid_fen == order.amount_due_fen


def test_zero_amount_stay_is_settled_at_once(net):
    start = ago(hours=5)
    r = events_ingest(device=net.sensor, events=[ev("park_start", start), ev("park_end", start + dt.timedelta(seconds=1))])
    order = Order.objects.get(pk=r[0].order_id)
    # One second is one started 15-minute unit: not zero under the Beijing standard (grace 0).
    assert order.state == OrderState.BILLED and order.amount_due_fen > 0
    from govcenter.parking.models import TariffPlan

    TariffPlan.objects.filter(area_class=1).update(grace_minutes=15)
    r = events_ingest(device=net.sensor, events=[ev("park_start", start + dt.timedelta(minutes=5)),
                                                 ev("park_end", start + dt.timedelta(minutes=10))])
    order = Order.objects.get(pk=r[0].order_id)
    assert order.state == OrderState.PAID and order.amount_due_fen == 0 == order.amount_paid_fen


# -- scope and masking ------------------------------------------------------------------------


def test_orders_api_is_scoped(org, net):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"{API}/orders/",
        detail_url_for=lambda o: f"{API}/orders/{o.pk}/",
        visible=[net.dc_order],
        hidden=[net.xc_order],
        expected_count=1,
        search_param="plate",
        search_term_for=lambda o: o.plate,
    )
    assert_requires_login(Client(), f"{API}/orders/")


def test_orders_ui_is_scoped(org, net):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url="/parking/orders/",
        detail_url_for=lambda o: f"/parking/orders/{o.pk}/",
        visible=[net.dc_order],
        hidden=[net.xc_order],
        expected_count=1,
        search_param="plate",
        search_term_for=lambda o: o.plate,
    )
    assert_requires_login(Client(), "/parking/orders/")


def test_anomalies_api_and_ui_are_scoped(org, net):
    dc = events_ingest(device=net.sensor, events=[ev("park_end", ago(minutes=30))])
    xc = events_ingest(device=net.xc_sensor, events=[ev("park_start", ago(minutes=30))])
    assert dc[0].reason == "end_without_start" and xc[0].reason == "overlapping_stay"
    dc_a, xc_a = ParkingAnomaly.objects.get(district=org.dongcheng), ParkingAnomaly.objects.get(district=org.xicheng)
    assert_scoped(client=client_for(org.manager_dc), list_url=f"{API}/anomalies/",
                  detail_url_for=lambda a: f"{API}/anomalies/{a.pk}/", visible=[dc_a], hidden=[xc_a], expected_count=1)
    page = client_for(org.manager_dc).get("/parking/anomalies/").content.decode()
    assert "data-total-count=\"1\"" in page


def test_plate_is_masked_and_revealed_only_with_a_reason(org, net):
    client = client_for(org.manager_dc)
    body = client.get(f"{API}/orders/{net.dc_order.pk}/").json()
    assert body["plate"] == "京A·***45" and "12345" not in str(body)
    assert "京A12345" not in client.get(f"/parking/orders/{net.dc_order.pk}/").content.decode()
    assert client.post(f"{API}/orders/{net.dc_order.pk}/reveal/", {"reason": "核实"}).status_code == 403
    revealer = UserFactory(unit=org.unit_dc, role_set=[org.roles["district_manager"]])
    from tests.factories import RoleFactory

    revealer.roles.add(RoleFactory(scope_kind="districts", perms=["core.reveal_personal_data"], district_set=[org.dongcheng]))
    response = client_for(revealer).post(f"{API}/orders/{net.dc_order.pk}/reveal/", {"reason": "处理投诉"},
                                         content_type="application/json")
    assert response.status_code == 200 and response.json() == {"plate": "京A12345"}
    assert AuditEntry.objects.filter(action="reveal", object_id=str(net.dc_order.pk)).count() == 1


# -- corrections -------------------------------------------------------------------------------


def correct(user, order, **body):
    return client_for(user).post(f"{API}/orders/{order.pk}/corrections/", body, content_type="application/json")


def test_patrol_corrects_times_audited_and_rebilled(org, net):
    # A daytime stay (yesterday 09:00–10:00 Beijing) whose end the patrol moves to 12:00: two
    # more daytime hours cost more whatever the time of day the suite runs at.
    nine = dt.datetime.combine(timezone.localdate() - dt.timedelta(days=1), dt.time(9), tzinfo=timezone.get_current_timezone())
    results = events_ingest(device=net.sensor, events=[
        ev("park_start", nine, vehicle_license_plate="京A12345"),
        ev("park_end", nine + dt.timedelta(hours=1)),
    ])
    order = Order.objects.get(pk=results[0].order_id)
    billed_before = order.amount_due_fen
    new_end = nine + dt.timedelta(hours=3)
    response = correct(org.manager_dc, order, ended_at=new_end.isoformat(), evidence_photo_ref="PDA-2025-0001.jpg",
                       reason="巡检发现车辆未离开")
    assert response.status_code == 201, response.content
    order.refresh_from_db()
    expected = quote_with_plan(order.tariff_plan, vehicle="small", start=order.started_at, end=new_end)
    assert order.ended_at == new_end and order.state == OrderState.BILLED
    assert order.amount_due_fen == expected.amount_fen > billed_before
    correction = OrderCorrection.objects.get(order=order)
    assert correction.field == "ended_at" and correction.evidence_photo_ref == "PDA-2025-0001.jpg"
    assert correction.actor_username == org.manager_dc.username
    entry = AuditEntry.objects.get(action="parking.order.correct", object_id=str(order.pk))
    assert "PDA-2025-0001.jpg" in entry.reason and entry.changes["after"]["amount_due_fen"] == expected.amount_fen


def test_plate_correction(org, net):
    assert correct(org.manager_dc, net.dc_order, plate="京A12346", evidence_photo_ref="p1", reason="识别错误").status_code == 201
    order = Order.objects.get(pk=net.dc_order.pk)
    assert order.plate == "京A12346" and order.amount_due_fen == net.dc_order.amount_due_fen


@pytest.mark.parametrize(
    "body,code",
    [
        ({"plate": "京A12346", "reason": "x"}, "invalid"),  # evidence missing
        ({"plate": "京A12346", "evidence_photo_ref": " ", "reason": "x"}, "invalid"),
        ({"plate": "XYZ", "evidence_photo_ref": "p", "reason": "x"}, "invalid_plate"),
        ({"evidence_photo_ref": "p", "reason": "x"}, "invalid"),
        ({"ended_at": "2020-01-01T08:00:00+08:00", "evidence_photo_ref": "p", "reason": "x"}, "end_before_start"),
        ({"ended_at": "2099-01-01T08:00:00+08:00", "evidence_photo_ref": "p", "reason": "x"}, "time_in_future"),
        ({"ended_at": "2025-01-01T08:00:00", "evidence_photo_ref": "p", "reason": "x"}, "invalid"),
    ],
)
def test_bad_corrections_are_refused_and_change_nothing(org, net, body, code):
    response = correct(org.manager_dc, net.dc_order, **body)
    assert response.status_code == 400 and response.json()["code"] == code, response.content
    assert not OrderCorrection.objects.exists()
    assert Order.objects.get(pk=net.dc_order.pk).amount_due_fen == net.dc_order.amount_due_fen


def test_paid_order_cannot_be_corrected(org, net):
    order = Order.objects.get(pk=net.dc_order.pk)
    order.pay(amount_fen=order.amount_due_fen)
    order.save()
    response = correct(org.manager_dc, order, plate="京A12346", evidence_photo_ref="p", reason="x")
    assert response.status_code == 400 and response.json()["code"] == "order_settled"


def test_other_district_cannot_correct(org, net):
    assert correct(org.manager_xc, net.dc_order, plate="京A12346", evidence_photo_ref="p", reason="x").status_code == 404


def test_correction_closes_an_open_order(org, net):
    response = correct(org.manager_xc, net.xc_order, ended_at=ago(minutes=5).isoformat(), evidence_photo_ref="p", reason="x")
    assert response.status_code == 201
    assert Order.objects.get(pk=net.xc_order.pk).state == OrderState.BILLED


def test_anomaly_resolve(org, net):
    events_ingest(device=net.sensor, events=[ev("park_end", ago(minutes=30))])
    anomaly = ParkingAnomaly.objects.get()
    url = f"{API}/anomalies/{anomaly.pk}/resolve/"
    client = client_for(org.manager_dc)
    assert client.post(url, {"status": "dismissed", "note": ""}, content_type="application/json").status_code == 400
    response = client.post(url, {"status": "dismissed", "note": "传感器误报"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert client.post(url, {"status": "resolved", "note": "x"}, content_type="application/json").json()["code"] == "already_resolved"
    assert client_for(org.manager_xc).post(url, {"status": "resolved", "note": "x"}, content_type="application/json").status_code == 404
