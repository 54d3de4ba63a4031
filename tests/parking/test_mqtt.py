"""MQTT transport against the real Mosquitto: publish a batch, receive the results, order created."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.test import override_settings

from govcenter.core.crypto import hmac_sm3
from govcenter.parking.models import IngestRejection, Order
from govcenter.parking.mqtt import Listener, handle_message
from govcenter.parking.services.events import signing_string
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db


@pytest.fixture
def net(org):
    return network(org)


@pytest.fixture
def prefix():
    # A topic prefix of our own: parallel runs and a running listener never see our messages.
    value = f"govcenter-test/{uuid.uuid4().hex[:8]}/devices"
    with override_settings(GOVCENTER_MQTT_TOPIC_PREFIX=value):
        yield value


class Device:
    """A device-side client: publishes events, collects what arrives on its results topic."""

    def __init__(self, prefix: str, serial: str):
        self.received: list[dict] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, msg: self.received.append(json.loads(msg.payload))
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.topic = f"{prefix}/{serial}/events"
        self.client.connect("127.0.0.1", 1883)
        self.client.subscribe(f"{prefix}/{serial}/results", qos=1)
        self.client.loop_start()
        assert self.ready.wait(5)

    def publish(self, message: dict) -> None:
        self.client.publish(self.topic, json.dumps(message), qos=1).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def pump(listener: Listener, device: Device, n: int, timeout: float = 10) -> None:
    """Drive the listener's network loop in this thread (the test database is this thread's)."""
    deadline = time.monotonic() + timeout
    while len(device.received) < n and time.monotonic() < deadline:
        listener.client.loop(timeout=0.1)
    assert len(device.received) >= n, f"no answer within {timeout}s"


@pytest.mark.mqtt
def test_batch_over_mqtt_creates_an_order_and_answers_with_results(net, prefix):
    listener = Listener(client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    listener.connect()
    while not listener.subscribed.is_set():
        listener.client.loop(timeout=0.1)
    device = Device(prefix, net.sensor.serial)
    try:
        events = [ev("park_start", ago(hours=2), vehicle_license_plate="京A12345"), ev("park_end", ago(hours=1))]
        device.publish({"token": net.sensor_token, "events": events, "batch_id": "b-1"})
        pump(listener, device, 1)
        answer = device.received[0]
        assert answer["batch_id"] == "b-1" and answer["accepted"] == 2
        assert [r["event_id"] for r in answer["results"]] == [e["event_id"] for e in events]
        order = Order.objects.get(pk=answer["results"][0]["order_id"])
        assert order.state == "billed" and order.plate == "京A12345"
        assert order.start_event.transport == "mqtt"

        # Signed like the HTTP headers, inside the payload.
        body = json.dumps({"events": [ev("park_start", ago(minutes=30))]})
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        mac = hmac_sm3(net.sensor_token.encode(), signing_string(method="PUBLISH", path=device.topic, timestamp=ts,
                                                                   nonce=nonce, body=body.encode()))
        device.publish({"serial": net.sensor.serial, "timestamp": ts, "nonce": nonce, "signature": mac.hex(), "body": body})
        pump(listener, device, 2)
        assert device.received[1]["accepted"] == 1

        # A wrong token is answered with the error body and counted.
        device.publish({"token": "gd_wrong", "events": events})
        pump(listener, device, 3)
        assert device.received[2]["code"] == "bad_token"
    finally:
        device.close()
        listener.stop()
    assert Order.objects.count() == 2
    assert IngestRejection.objects.get(source=f"mqtt:{net.sensor.serial}", reason="bad_token").count == 1


def test_topic_naming_another_device_is_refused(net, prefix):
    serial, answer = handle_message(f"{prefix}/{net.camera.serial}/events",
                                    json.dumps({"token": net.sensor_token, "events": [ev("park_start", ago(minutes=5))]}).encode())
    assert serial == net.camera.serial and answer["code"] == "serial_mismatch"
    assert not Order.objects.exists()
    assert handle_message("other/topic", b"{}") is None
    assert handle_message(f"{prefix}/X/events", b"not json")[1]["code"] == "invalid_json"
