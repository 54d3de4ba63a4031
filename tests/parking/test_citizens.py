"""Citizen API: SMS-code login → token, plates (validated, one account at a time), transfers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from govcenter.core.models import AuditEntry, SmsCode, SmsMessage
from govcenter.core.tokens import api_token_create
from govcenter.parking.models import Citizen, CitizenToken, PlateBinding, PlateTransfer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/parking/citizen"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def _code_for(phone: str) -> str:
    body = SmsMessage.objects.filter(phone=phone).latest("id").body
    return re.search(r"\d{6}", body).group(0)


def login(phone: str) -> APIClient:
    # Earlier codes for this phone move two minutes into the past (the 1-per-minute limit).
    SmsCode.objects.filter(phone=phone).update(created_at=timezone.now() - timedelta(minutes=2))
    client = APIClient()
    assert client.post(f"{BASE}/sms-code", {"phone": phone}, format="json").status_code == 202
    response = client.post(f"{BASE}/login", {"phone": phone, "code": _code_for(phone)}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["token"].startswith("ct_") and body["phone"] == phone[:3] + "****" + phone[-4:]
    assert response["Cache-Control"] == "no-store"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    return client


def test_login_creates_the_account_once_and_stores_only_a_digest():
    client = login("13911112222")
    citizen = Citizen.objects.get(phone="13911112222")
    token = CitizenToken.objects.get(citizen=citizen)
    assert len(token.digest) == 64 and not token.digest.startswith("ct_")
    assert client.get(f"{BASE}/plates").json() == []
    login("13911112222")
    assert Citizen.objects.count() == 1 and CitizenToken.objects.count() == 2
    entry = AuditEntry.objects.filter(action="citizen.login").latest("seq")
    assert "13911112222" not in entry.object_repr and "139****2222" in entry.object_repr


@pytest.mark.parametrize(
    ("body", "code"),
    [({"phone": "12345"}, "invalid_phone"), ({"phone": "23911112222"}, "invalid_phone"), ({}, "invalid")],
)
def test_bad_phone_is_a_clear_400(body, code):
    response = APIClient().post(f"{BASE}/sms-code", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert not SmsCode.objects.exists()


def test_wrong_code_is_refused_and_no_account_is_created():
    client = APIClient()
    client.post(f"{BASE}/sms-code", {"phone": "13911113333"}, format="json")
    wrong = "000000" if _code_for("13911113333") != "000000" else "111111"
    response = client.post(f"{BASE}/login", {"phone": "13911113333", "code": wrong}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_code"
    assert not Citizen.objects.exists()


def test_second_code_within_a_minute_is_rate_limited():
    client = APIClient()
    client.post(f"{BASE}/sms-code", {"phone": "13911114444"}, format="json")
    response = client.post(f"{BASE}/sms-code", {"phone": "13911114444"}, format="json")
    assert response.status_code == 429 and set(response.json()) == {"code", "message", "details"}


def test_endpoints_need_a_citizen_token():
    assert APIClient().get(f"{BASE}/plates").status_code == 401
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=UserFactory(), name='t')}")
    response = staff.get(f"{BASE}/plates")  # a staff token is not a citizen token
    assert response.status_code == 401 and set(response.json()) == {"code", "message", "details"}


def test_expired_and_revoked_tokens_are_refused():
    client = login("13911115555")
    CitizenToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{BASE}/plates").status_code == 401
    client = login("13911115555")
    assert client.post(f"{BASE}/logout").status_code == 204
    assert client.get(f"{BASE}/plates").status_code == 401


def test_bind_normalises_validates_and_is_idempotent():
    client = login("13911116666")
    response = client.post(f"{BASE}/plates", {"plate": "京a·d12345"}, format="json")
    assert response.status_code == 201 and response.json()["plate"] == "京AD12345"
    assert client.post(f"{BASE}/plates", {"plate": "京AD12345"}, format="json").status_code == 201
    assert PlateBinding.objects.count() == 1
    response = client.post(f"{BASE}/plates", {"plate": "京AI2345"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_plate"
    assert "I 和 O" in response.json()["message"]
    assert client.delete(f"{BASE}/plates/京AD12345").status_code == 204
    assert client.get(f"{BASE}/plates").json() == []
    assert client.delete(f"{BASE}/plates/京AD12345").status_code == 404


def test_a_plate_belongs_to_one_account_and_moves_by_transfer():
    owner, other = login("13911117777"), login("13911118888")
    owner.post(f"{BASE}/plates", {"plate": "京A12345", "vehicle_class": "large"}, format="json")
    response = other.post(f"{BASE}/plates", {"plate": "京A12345"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "plate_bound_elsewhere"
    assert "京A12345" not in str(response.json())  # the other account sees the plate masked

    response = other.post(f"{BASE}/plates/京A12345/transfer")
    assert response.status_code == 202 and response.json()["direction"] == "outgoing"
    notice = SmsMessage.objects.filter(phone="13911117777", template="plate_transfer").get()
    assert "京A·***45" in notice.body
    (incoming,) = owner.get(f"{BASE}/transfers").json()
    assert incoming["direction"] == "incoming"
    # Only the holder decides; the requester can't approve their own request.
    assert other.post(f"{BASE}/transfers/{incoming['id']}/approve").status_code == 404
    assert owner.post(f"{BASE}/transfers/{incoming['id']}/approve").json()["status"] == "approved"
    assert owner.get(f"{BASE}/plates").json() == []
    (moved,) = other.get(f"{BASE}/plates").json()
    assert moved["plate"] == "京A12345" and moved["vehicle_class"] == "large"
    assert PlateBinding.objects.filter(plate="京A12345", status="active").count() == 1


def test_rejected_and_expired_transfers_leave_the_plate_where_it_was():
    owner, other = login("13911119999"), login("13911110000")
    owner.post(f"{BASE}/plates", {"plate": "京B54321"}, format="json")
    transfer_id = other.post(f"{BASE}/plates/京B54321/transfer").json()["id"]
    assert owner.post(f"{BASE}/transfers/{transfer_id}/reject").json()["status"] == "rejected"
    transfer_id = other.post(f"{BASE}/plates/京B54321/transfer").json()["id"]
    PlateTransfer.objects.filter(pk=transfer_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = owner.post(f"{BASE}/transfers/{transfer_id}/approve")
    assert response.status_code == 409 and response.json()["code"] == "transfer_expired"
    assert PlateBinding.objects.get(plate="京B54321", status="active").citizen.phone == "13911119999"


def test_one_active_binding_per_plate_is_a_database_rule():
    from django.db import IntegrityError, transaction

    a = Citizen.objects.create(phone="13900000001")
    b = Citizen.objects.create(phone="13900000002")
    PlateBinding.objects.create(citizen=a, plate="京C11111")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlateBinding.objects.create(citizen=b, plate="京C11111")
