"""Fixtures of the bike-share tests: the small organisation of tests/helpers/org.py plus
operator credentials, staff roles holding the bike-share permissions, and MDS vehicle records."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client

from govcenter.bikeshare.services.auth import operator_credential_issue, signing_string
from govcenter.core.crypto import hmac_sm3
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

AGENCY_URL = "/api/v1/bikeshare/agency/vehicles"
PROVIDER_A = "5f7114d1-4091-46ee-b492-e55875f7de00"
PROVIDER_B = "0c2f2f3e-3b1b-4d2e-9a55-0e4ad9e7c3b1"


@pytest.fixture
def org(db):
    cache.clear()  # nonces of earlier tests
    o = build_org()
    o.role_center = RoleFactory(
        code="t-bs-center",
        scope_kind="all",
        perms=["bikeshare.view_vehicle", "bikeshare.add_operatorcredential"],
    )
    o.role_operator_vehicles = RoleFactory(
        code="t-bs-operator", scope_kind="operator", perms=["bikeshare.view_vehicle"]
    )
    o.role_district_vehicles = RoleFactory(
        code="t-bs-district", scope_kind="districts", perms=["bikeshare.view_vehicle"]
    )
    o.bs_center = UserFactory(username="t_bs_center", unit=o.center, role_set=[o.role_center])
    o.bs_op_a = UserFactory(username="t_bs_op_a", unit=o.op_a, role_set=[o.role_operator_vehicles])
    o.bs_op_b = UserFactory(username="t_bs_op_b", unit=o.op_b, role_set=[o.role_operator_vehicles])
    o.bs_dc = UserFactory(username="t_bs_dc", unit=o.unit_dc, role_set=[o.role_district_vehicles])
    return o


@pytest.fixture
def keys(org):
    """One live credential per operator: ``keys.a`` / ``keys.b`` = (key_id, secret)."""
    cred_a, secret_a = operator_credential_issue(actor=None, operator=org.op_a)
    cred_b, secret_b = operator_credential_issue(actor=None, operator=org.op_b)
    return SimpleNamespace(a=(cred_a.key_id, secret_a), b=(cred_b.key_id, secret_b))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def vehicle(vehicle_id: str, *, provider=PROVIDER_A, device_id=None, **extra) -> dict:
    """An MDS 2.0 vehicle record (a plain bicycle unless ``extra`` says otherwise)."""
    return {
        "device_id": device_id or str(uuid.uuid4()),
        "provider_id": provider,
        "vehicle_id": vehicle_id,
        "vehicle_type": "bicycle",
        "propulsion_types": ["human"],
        **extra,
    }


def signed_headers(
    key: tuple[str, str], body: bytes, *, ts=None, nonce=None, path=AGENCY_URL, method="POST"
) -> dict:
    key_id, secret = key
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(8)
    mac = hmac_sm3(
        secret.encode(), signing_string(method=method, path=path, timestamp=ts, nonce=nonce, body=body)
    )
    return {
        "HTTP_X_OPERATOR_KEY": key_id,
        "HTTP_X_TIMESTAMP": ts,
        "HTTP_X_NONCE": nonce,
        "HTTP_X_SIGNATURE": mac.hex(),
    }


def push(key, payload, **overrides):
    """POST ``payload`` to the Agency endpoint, signed with ``key``; returns the response."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(key, body, **overrides)
    return Client().post(AGENCY_URL, data=body, content_type="application/json", **headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def live_stores(request, tmp_path):
    """A factory of empty live stores of one adapter (SQLite file, real Redis under a fresh
    prefix): ``make(fences=, districts=, same_as=s)``; ``same_as`` opens another handle on s.
    Redis keys are removed and every handle closed at the end."""
    from govcenter.bikeshare.live import RedisLiveState, SqliteLiveState

    made = []

    def make(*, fences=None, districts=None, same_as=None):
        if request.param == "sqlite":
            path = same_as.path if same_as else tmp_path / f"live-{len(made)}.db"
            store = SqliteLiveState(path, fences=fences, districts=districts)
        else:
            prefix = same_as.prefix if same_as else f"test:bikeshare:live:{uuid.uuid4().hex}"
            store = RedisLiveState(request.getfixturevalue("redis_url"), prefix, fences=fences, districts=districts)
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, RedisLiveState):
            store.clear()
        store.close()
