"""Signed operator requests (HMAC-SM3) and operator credentials: issue, rotation, audit."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from govcenter.bikeshare.models import OperatorCredential, OperatorRejection, Vehicle
from govcenter.bikeshare.services.auth import credential_signing_key, operator_credential_issue
from govcenter.core.crypto import sm3_hex
from govcenter.core.models import AuditEntry

from .conftest import AGENCY_URL, assert_error, client_for, push, signed_headers, vehicle

pytestmark = pytest.mark.django_db


def test_signed_request_registers_and_names_the_operator_in_the_audit(org, keys):
    response = push(keys.a, [vehicle("MT-0001")])
    assert response.status_code == 201, response.content
    assert response.json() == {"success": 1, "total": 1, "failures": []}
    assert Vehicle.objects.get().operator == org.op_a
    entry = AuditEntry.objects.get(action="bikeshare.vehicle.bulk_register")
    assert entry.unit_id == org.op_a.pk and entry.user_id is None


def test_bad_signature_is_401_counted_and_writes_nothing(org, keys):
    body = json.dumps([vehicle("MT-0001")]).encode()
    headers = signed_headers(keys.a, body)
    headers["HTTP_X_SIGNATURE"] = signed_headers(keys.b, body)[
        "HTTP_X_SIGNATURE"
    ]  # signed with another secret
    response = Client().post(AGENCY_URL, data=body, content_type="application/json", **headers)
    assert_error(response, 401, "bad_signature")
    assert not Vehicle.objects.exists()
    assert OperatorRejection.objects.get(source="operator:T-OP-A", reason="bad_signature").count == 1


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda h, b: (dict(h, HTTP_X_SIGNATURE="zz"), b), "bad_signature"),
        (lambda h, b: (h, b.replace(b"MT-0001", b"MT-0002")), "bad_signature"),  # body changed after signing
        (lambda h, b: (dict(h, HTTP_X_OPERATOR_KEY="bk_nobody"), b), "unknown_key"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "HTTP_X_NONCE"}, b), "missing_signature_headers"),
        (lambda h, b: (dict(h, HTTP_X_TIMESTAMP="yesterday"), b), "bad_timestamp"),
    ],
)
def test_tampered_requests_are_refused(org, keys, tamper, code):
    body = json.dumps([vehicle("MT-0001")]).encode()
    headers, body = tamper(signed_headers(keys.a, body), body)
    assert_error(Client().post(AGENCY_URL, data=body, content_type="application/json", **headers), 401, code)
    assert not Vehicle.objects.exists()
    assert OperatorRejection.objects.filter(reason=code).get().count == 1


def test_replayed_nonce_is_refused(org, keys):
    body = json.dumps([vehicle("MT-0001")]).encode()
    headers = signed_headers(keys.a, body)
    assert Client().post(AGENCY_URL, data=body, content_type="application/json", **headers).status_code == 201
    replay = Client().post(AGENCY_URL, data=body, content_type="application/json", **headers)
    assert_error(replay, 401, "replayed_nonce")
    # The nonce is per operator: operator B may use the same string.
    other = json.dumps([vehicle("HL-0001")]).encode()
    same_nonce = signed_headers(keys.b, other, nonce=headers["HTTP_X_NONCE"])
    assert (
        Client().post(AGENCY_URL, data=other, content_type="application/json", **same_nonce).status_code
        == 201
    )


def test_a_bad_signature_does_not_burn_the_nonce(org, keys):
    body = json.dumps([vehicle("MT-0001")]).encode()
    good = signed_headers(keys.a, body)
    forged = dict(good, HTTP_X_SIGNATURE="00" * 32)
    assert_error(
        Client().post(AGENCY_URL, data=body, content_type="application/json", **forged), 401, "bad_signature"
    )
    assert Client().post(AGENCY_URL, data=body, content_type="application/json", **good).status_code == 201


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_timestamp_is_refused(org, keys, settings, offset):
    window = settings.GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS
    response = push(keys.a, [vehicle("MT-0001")], ts=int(time.time()) + offset * (window + 60))
    assert_error(response, 401, "stale_timestamp")
    assert not Vehicle.objects.exists()


def test_staff_session_is_not_an_operator_credential(org, keys):
    client = client_for(org.bs_center)
    response = client.post(AGENCY_URL, data=json.dumps([vehicle("MT-0001")]), content_type="application/json")
    assert_error(response, 401, "missing_signature_headers")


def test_credential_is_stored_as_digest_and_ciphertext_only(org):
    credential, secret = operator_credential_issue(actor=None, operator=org.op_a)
    row = OperatorCredential.objects.get(pk=credential.pk)
    assert row.secret_digest == sm3_hex(secret.encode())
    assert secret.encode() not in bytes(row.secret_enc)
    assert credential_signing_key(row) == secret.encode()


def test_rotation_revokes_the_old_key(org, keys):
    client = client_for(org.bs_center)
    response = client.post(f"/api/v1/bikeshare/operators/{org.op_a.pk}/credentials")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    new = (response.json()["key_id"], response.json()["secret"])
    assert_error(push(keys.a, [vehicle("MT-0001")]), 401, "unknown_key")
    assert push(new, [vehicle("MT-0001")]).status_code == 201
    rows = OperatorCredential.objects.filter(operator=org.op_a)
    assert [r.key_id for r in rows if r.revoked_at is None] == [new[0]]
    assert rows.get(key_id=keys.a[0]).revoked_at is not None


def test_credential_issue_is_audited_without_the_secret(org, keys):
    response = client_for(org.bs_center).post(f"/api/v1/bikeshare/operators/{org.op_b.pk}/credentials")
    assert response.status_code == 201
    body = response.json()
    entry = AuditEntry.objects.filter(action="bikeshare.operator_credential.issue").latest("seq")
    assert entry.user_id == org.bs_center.pk
    assert entry.changes["after"]["key_id"] == body["key_id"]
    assert entry.changes["after"]["revoked_key_ids"] == [keys.b[0]]
    assert body["secret"] not in json.dumps(entry.changes) + entry.object_repr


def test_credential_issue_needs_the_permission_and_the_scope(org):
    url = f"/api/v1/bikeshare/operators/{org.op_a.pk}/credentials"
    issuer_a = _issuer(org, scope_kind="operator", unit=org.op_a)
    issuer_b = _issuer(org, scope_kind="operator", unit=org.op_b)
    # No permission: 403 (operator staff can read their vehicles but not mint keys).
    assert_error(client_for(org.bs_op_a).post(url), 403, "permission_denied")
    # The permission but another operator's scope: 404, as if it did not exist.
    assert_error(client_for(issuer_b).post(url), 404, "not_found")
    # Not an operator: 404.
    assert_error(
        client_for(org.bs_center).post(f"/api/v1/bikeshare/operators/{org.unit_dc.pk}/credentials"),
        404,
        "not_found",
    )
    assert not AuditEntry.objects.filter(action="bikeshare.operator_credential.issue").exists()
    assert not OperatorCredential.objects.exists()
    # In scope: allowed (an operator may hold the right to rotate its own key).
    assert client_for(issuer_a).post(url).status_code == 201


def _issuer(org, *, scope_kind, unit):
    from tests.factories import RoleFactory, UserFactory

    role = RoleFactory(scope_kind=scope_kind, perms=["bikeshare.add_operatorcredential"])
    return UserFactory(unit=unit, role_set=[role])
