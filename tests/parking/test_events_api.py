"""POST /api/v1/parking/device-events: device authentication (token, HMAC-SM3), errors, results."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from govcenter.core.crypto import hmac_sm3
from govcenter.parking.models import DeviceEvent, IngestRejection, Order
from govcenter.parking.services.events import signing_string
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db
URL = "/api/v1/parking/device-events"


@pytest.fixture
def net(org):
    cache.clear()
    return network(org)


def post(body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client().post(URL, data=data, content_type="application/json", **headers)


def signed_headers(token: str, serial: str, body: bytes, *, ts=None, nonce=None, path=URL, key=None) -> dict:
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(8)
    mac = hmac_sm3((key or token).encode(), signing_string(method="POST", path=path, timestamp=ts, nonce=nonce, body=body))
    return {
        "HTTP_X_DEVICE_SERIAL": serial,
        "HTTP_X_TIMESTAMP": ts,
        "HTTP_X_NONCE": nonce,
        "HTTP_X_SIGNATURE": mac.hex(),
    }


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


def test_token_batch_gets_results_in_input_order(net):
    events = [ev("park_end", ago(hours=1)), ev("park_start", ago(hours=2)), {"event_id": "x"}]
    response = post({"events": events}, HTTP_AUTHORIZATION=f"Device {net.sensor_token}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in events]
    assert [r["outcome"] for r in body["results"]] == ["accepted", "accepted", "rejected"]
    assert body["results"][2]["reason"] == "invalid_event_id"
    assert (body["accepted"], body["duplicates"], body["anomalies"], body["rejected"]) == (2, 0, 0, 1)
    order = Order.objects.get()
    assert body["results"][0]["order_id"] == body["results"][1]["order_id"] == order.pk
    assert order.state == "billed"


def test_signed_batch_is_accepted_and_its_replay_refused(net):
    body = json.dumps({"events": [ev("park_start", ago(minutes=20))]}).encode()
    headers = signed_headers(net.sensor_token, net.sensor.serial, body)
    assert post(body, **headers).status_code == 200
    assert_error(post(body, **headers), 401, "replayed_nonce")
    assert Order.objects.count() == 1
    assert IngestRejection.objects.get(source="device:DC-GM-1", reason="replayed_nonce").count == 1


@pytest.mark.parametrize(
    "tamper,code",
    [
        (lambda h, b: (dict(h, HTTP_X_SIGNATURE="00" * 32), b), "bad_signature"),
        (lambda h, b: (dict(h, HTTP_X_SIGNATURE="zz"), b), "bad_signature"),
        (lambda h, b: (h, b.replace(b"park_start", b"park_end__")), "bad_signature"),
        (lambda h, b: (dict(h, HTTP_X_TIMESTAMP=str(int(time.time()) - 600)), b), "stale_timestamp"),
        (lambda h, b: (dict(h, HTTP_X_TIMESTAMP="yesterday"), b), "bad_timestamp"),
        (lambda h, b: (dict(h, HTTP_X_NONCE="abc"), b), "bad_nonce"),
        (lambda h, b: (dict(h, HTTP_X_DEVICE_SERIAL="NOPE"), b), "unknown_device"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "HTTP_X_NONCE"}, b), "missing_signature_headers"),
    ],
)
def test_bad_signatures_are_401_and_counted(net, tamper, code):
    body = json.dumps({"events": [ev("park_start", ago(minutes=20))]}).encode()
    headers, body = tamper(signed_headers(net.sensor_token, net.sensor.serial, body), body)
    assert_error(post(body, **headers), 401, code)
    assert not DeviceEvent.objects.exists()
    assert IngestRejection.objects.filter(reason=code).get().count == 1


def test_signature_with_another_devices_key_is_refused(net):
    body = json.dumps({"events": [ev("park_start", ago(minutes=20))]}).encode()
    headers = signed_headers(net.xc_token, net.sensor.serial, body)
    assert_error(post(body, **headers), 401, "bad_signature")


def test_unknown_token_and_no_credentials(net):
    assert_error(post({"events": []}, HTTP_AUTHORIZATION="Device gd_wrong"), 401, "bad_token")
    assert_error(post({"events": []}), 401, "missing_credentials")
    assert_error(post({"events": []}, HTTP_AUTHORIZATION="Bearer whatever"), 401, "missing_credentials")
    assert IngestRejection.objects.get(source="ip:127.0.0.1", reason="bad_token").count == 1


def test_retired_device_token_stops_working(net):
    from govcenter.parking.services.devices import device_retire

    device_retire(actor=None, device=net.sensor)
    assert_error(post({"events": [ev("park_start", ago(minutes=1))]}, HTTP_AUTHORIZATION=f"Device {net.sensor_token}"),
                 401, "bad_token")


@override_settings(GOVCENTER_PARKING_MAX_BATCH=2)
def test_batch_too_large_is_413_and_writes_nothing(net):
    events = [ev("scheduled_report", ago(minutes=1)) for _ in range(3)]
    body = assert_error(post({"events": events}, HTTP_AUTHORIZATION=f"Device {net.sensor_token}"), 413, "batch_too_large")
    assert body["details"] == {"max_batch": 2, "events": 3}
    assert not DeviceEvent.objects.exists()


@pytest.mark.parametrize(
    "body,code",
    [(b"{not json", "invalid_json"), (b"[]", "invalid_body"), (b'{"evts": []}', "invalid_body"),
     (b'{"events": "x"}', "invalid_body"), (b'{"events": []}', "empty_batch")],
)
def test_malformed_bodies(net, body, code):
    assert_error(post(body, HTTP_AUTHORIZATION=f"Device {net.sensor_token}"), 400, code)
    assert IngestRejection.objects.get(source="device:DC-GM-1", reason=code).count == 1


def test_duplicate_resubmission_over_http(net):
    events = [ev("park_start", ago(minutes=30))]
    first = post({"events": events}, HTTP_AUTHORIZATION=f"Device {net.sensor_token}").json()
    again = post({"events": events}, HTTP_AUTHORIZATION=f"Device {net.sensor_token}").json()
    assert again["duplicates"] == 1 and again["results"][0]["original_outcome"] == "accepted"
    assert again["results"][0]["order_id"] == first["results"][0]["order_id"]
