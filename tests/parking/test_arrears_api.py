"""Penalty cases and arrears over the API and the UI: scope, masking, actions, 4xx shapes,
the citizen's own penalties."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Citizen, CitizenToken
from govcenter.parking.models.arrears import ArrearsRecord, PenaltyCase, PenaltyState, ReminderLog
from govcenter.parking.services.arrears import arrears_sweep
from govcenter.parking.services.citizens import TOKEN_PREFIX, token_digest
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import network
from tests.parking.test_arrears import PLATE, PLATE_B, at, bind, make_order
from tests.parking.test_orders import client_for

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


@pytest.fixture
def net(org):
    n = network(org)
    bind(PLATE)
    n.dc_order = make_order(n.sensor, PLATE)
    n.xc_order = make_order(n.xc_sensor, PLATE_B)
    arrears_sweep(now=at(1))
    arrears_sweep(now=at(120))
    n.dc_case = PenaltyCase.objects.get(plate=PLATE)
    n.xc_case = PenaltyCase.objects.get(plate=PLATE_B)
    return n


def test_penalty_api_is_scoped_and_masked(org, net):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=f"{API}/penalties/",
        detail_url_for=lambda c: f"{API}/penalties/{c.pk}/",
        visible=[net.dc_case],
        hidden=[net.xc_case],
        expected_count=1,
        search_param="plate",
        search_term_for=lambda c: c.plate,
    )
    assert_requires_login(Client(), f"{API}/penalties/")
    body = client_for(org.manager_dc).get(f"{API}/penalties/{net.dc_case.pk}/").json()
    assert body["plate"] == "京A·***45" and PLATE not in str(body)
    assert body["order_ids"] == [net.dc_order.pk] and body["evidence"][0]["order_id"] == net.dc_order.pk
    assert body["state"] == "notified" and body["fine_fen"] == 20000
    # The Center sees both; a user without the permission none.
    assert client_for(org.leader).get(f"{API}/penalties/").json()["count"] == 2
    response = client_for(org.plain_dc).get(f"{API}/penalties/")
    assert response.status_code == 403 and set(response.json()) == {"code", "message", "details"}


def test_penalty_api_actions(org, net):
    client = client_for(org.manager_dc)
    url = f"{API}/penalties/{net.dc_case.pk}"
    response = client.post(f"{url}/close/", {}, content_type="application/json")
    assert response.status_code == 400 and set(response.json()) == {"code", "message", "details"}
    assert "reason" in response.json()["details"]
    response = client.post(
        f"{url}/appeal/", {"reference": "TS-1", "reason": "车辆被盗"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["state"] == "appealed"
    response = client.post(
        f"{url}/appeal/", {"reference": "TS-2", "reason": "x"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state" and set(response.json()) == {
        "code",
        "message",
        "details",
    }
    response = client.post(f"{url}/close/", {"reason": "申诉成立"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == "closed"
    assert AuditEntry.objects.filter(action="parking.penalty.close", object_id=str(net.dc_case.pk)).exists()
    # Another district's case: 404, not acted on; the leader may read but not act.
    response = client.post(
        f"{API}/penalties/{net.xc_case.pk}/close/", {"reason": "x"}, content_type="application/json"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client_for(org.leader).post(
        f"{API}/penalties/{net.xc_case.pk}/close/", {"reason": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    net.xc_case.refresh_from_db()
    assert net.xc_case.state == PenaltyState.CREATED


def test_penalty_ui_is_scoped_with_actions(org, net):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url="/parking/penalties/",
        detail_url_for=lambda c: f"/parking/penalties/{c.pk}/",
        visible=[net.dc_case],
        hidden=[net.xc_case],
        expected_count=1,
        search_param="plate",
        search_term_for=lambda c: c.plate,
    )
    assert_requires_login(Client(), "/parking/penalties/")
    client = client_for(org.manager_dc)
    html = client.get(f"/parking/penalties/{net.dc_case.pk}/").content.decode()
    assert PLATE not in html and "京A·***45" in html and str(net.dc_order.pk) in html and "结案" in html
    response = client.post(f"/parking/penalties/{net.dc_case.pk}/close/", {"reason": ""})
    assert response.status_code == 302
    net.dc_case.refresh_from_db()
    assert net.dc_case.state == PenaltyState.NOTIFIED
    client.post(f"/parking/penalties/{net.dc_case.pk}/close/", {"reason": "已现场处理"})
    net.dc_case.refresh_from_db()
    assert net.dc_case.state == PenaltyState.CLOSED and net.dc_case.close_reason == "已现场处理"
    assert client.post(f"/parking/penalties/{net.xc_case.pk}/close/", {"reason": "x"}).status_code == 404
    assert (
        client_for(org.leader)
        .post(f"/parking/penalties/{net.xc_case.pk}/close/", {"reason": "x"})
        .status_code
        == 403
    )


def test_arrears_and_reminder_pages_are_scoped_and_masked(org, net):
    dc_record, xc_record = (
        ArrearsRecord.objects.get(order=net.dc_order),
        ArrearsRecord.objects.get(order=net.xc_order),
    )
    client = client_for(org.manager_dc)
    html = client.get("/parking/arrears/").content.decode()
    assert 'data-total-count="1"' in html and PLATE not in html and "京A·***45" in html
    assert (
        f"/parking/orders/{dc_record.order_id}/" in html
        and f"/parking/orders/{xc_record.order_id}/" not in html
    )
    html = client.get("/parking/arrears/", {"plate": PLATE_B}).content.decode()
    assert 'data-total-count="0"' in html
    html = client.get("/parking/arrears/reminders/").content.decode()
    assert f'data-total-count="{ReminderLog.objects.filter(district=org.dongcheng).count()}"' in html
    assert PLATE not in html and "缴费提醒" in html
    html = client_for(org.manager_xc).get("/parking/arrears/reminders/").content.decode()
    assert "无联系方式" in html and "京A·***45" not in html
    assert client_for(org.plain_dc).get("/parking/arrears/").status_code == 403
    assert_requires_login(Client(), "/parking/arrears/reminders/")


def _citizen_client(phone: str) -> APIClient:
    citizen, _ = Citizen.objects.get_or_create(phone=phone)
    raw = f"{TOKEN_PREFIX}test-{phone}"
    CitizenToken.objects.create(
        citizen=citizen, prefix=raw[:10], digest=token_digest(raw), expires_at="2999-01-01T00:00:00+08:00"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_citizen_sees_only_own_penalties(net):
    from tests.parking.test_arrears import PHONE

    body = _citizen_client(PHONE).get(f"{API}/citizen/penalties").json()
    assert body["count"] == 1 and body["results"][0]["number"] == net.dc_case.number
    assert body["results"][0]["plate"] == PLATE and body["results"][0]["order_ids"] == [net.dc_order.pk]
    assert _citizen_client("13900009999").get(f"{API}/citizen/penalties").json()["count"] == 0
    response = APIClient().get(f"{API}/citizen/penalties")
    assert response.status_code == 401 and set(response.json()) == {"code", "message", "details"}
    # A staff session is not a citizen.
    staff = APIClient()
    staff.force_authenticate(UserFactory())
    assert staff.get(f"{API}/citizen/penalties").status_code in (401, 403)
