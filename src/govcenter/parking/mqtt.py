"""MQTT transport of device events (paho-mqtt 2.x; Mosquitto in the embedded set-up).

A device publishes (QoS 1) to ``<prefix>/<serial>/events`` — prefix
``GOVCENTER_MQTT_TOPIC_PREFIX``, default ``govcenter/parking/devices`` — one JSON message:

* ``{"token": "<device token>", "events": [...], "batch_id": "optional"}``, or
* signed like the HTTP headers: ``{"serial", "timestamp", "nonce", "signature", "body"}``
  where ``body`` is the JSON *text* ``{"events": [...]}`` and the signature is hex
  HMAC-SM3 over ``PUBLISH\\n<topic>\\ntimestamp\\nnonce\\nhex(SM3(body))``.

The listener authenticates the device exactly like the HTTP API (the serial in the topic
must be the authenticated device's), calls the same ``events_ingest`` service and publishes
(QoS 1) to ``<prefix>/<serial>/results`` either the HTTP response body (per-event results
and counts, plus ``batch_id`` when given) or ``{"code", "message", "details"}``.
Refusals are counted per source like HTTP ones. It reconnects on its own (1–30 s back-off)
and stops cleanly on SIGTERM/SIGINT (``govcenter parking mqtt-listen``).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections, connection

from govcenter.core.api.errors import ServiceError
from govcenter.core.context import acting_as

from .services import events as services

log = logging.getLogger(__name__)
QOS = 1


def broker_address(url: str | None = None) -> tuple[str, int, bool]:
    """(host, port, tls) of ``GOVCENTER_MQTT_URL`` (mqtt://host:1883, mqtts://host:8883)."""
    parts = urlsplit(url or settings.GOVCENTER_MQTT_URL)
    tls = parts.scheme == "mqtts"
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


def events_topic(serial: str = "+") -> str:
    return f"{settings.GOVCENTER_MQTT_TOPIC_PREFIX}/{serial}/events"


def results_topic(serial: str) -> str:
    return f"{settings.GOVCENTER_MQTT_TOPIC_PREFIX}/{serial}/results"


def _error(code: str, message: str, details=None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def handle_message(topic: str, payload: bytes) -> tuple[str, dict] | None:
    """Process one message; returns (serial, answer) to publish, or None for a topic we ignore."""
    prefix = settings.GOVCENTER_MQTT_TOPIC_PREFIX + "/"
    if not (topic.startswith(prefix) and topic.endswith("/events")):
        return None
    serial = topic[len(prefix) : -len("/events")]
    if not serial or "/" in serial:
        return None
    source = f"mqtt:{serial}"
    try:
        message = json.loads(payload)
    except ValueError:
        services.rejection_count(source=source, reason="invalid_json")
        return serial, _error("invalid_json", "the message is not JSON")
    if not isinstance(message, dict):
        services.rejection_count(source=source, reason="invalid_body")
        return serial, _error("invalid_body", "the message must be a JSON object")
    batch_id = message.get("batch_id")
    try:
        if "token" in message:
            device = services.device_authenticate_token(token=str(message.get("token") or ""), source=source)
            events = message.get("events")
        elif "signature" in message:
            body = message.get("body")
            if not isinstance(body, str):
                raise services.batch_reject(source=source, reason="invalid_body", message="body must be the JSON text")
            device = services.device_authenticate_signature(
                serial=str(message.get("serial") or ""),
                timestamp=str(message.get("timestamp") or ""),
                nonce=str(message.get("nonce") or ""),
                signature=str(message.get("signature") or ""),
                method="PUBLISH",
                path=topic,
                body=body.encode(),
                source=source,
            )
            try:
                events = json.loads(body).get("events")
            except (ValueError, AttributeError):
                raise services.batch_reject(
                    source=services.device_source(device), reason="invalid_body", device=device,
                    message='body must be the JSON text {"events": [...]}',
                ) from None
        else:
            raise services.batch_reject(
                source=source, reason="missing_credentials", status=401, message="token or signature required"
            )
        if device.serial != serial:
            raise services.batch_reject(
                source=services.device_source(device),
                reason="serial_mismatch",
                device=device,
                status=401,
                message="the topic names another device",
            )
        with acting_as(None, channel="mqtt"):
            results = services.events_ingest(device=device, events=events, transport="mqtt")
    except ServiceError as exc:
        answer = _error(exc.error_code, str(exc.detail), exc.details)
    else:
        answer = services.summarise(results)
    if batch_id is not None:
        answer["batch_id"] = str(batch_id)[:64]
    return serial, answer


class Listener:
    """Subscribes to every device's events topic and answers on its results topic."""

    def __init__(self, url: str | None = None, client_id: str | None = None):
        self.host, self.port, tls = broker_address(url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"govcenter-ingest-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=False,  # QoS 1 messages queued while we were away are delivered
        )
        if tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.subscribed = threading.Event()
        self.handled = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        # Subscribe on every (re)connect: a fresh session has forgotten the subscription.
        client.subscribe(events_topic(), qos=QOS)
        log.info("MQTT connected to %s:%s, subscribed to %s", self.host, self.port, events_topic())

    def _on_message(self, client, userdata, msg):
        # A long-lived process must not keep a dead or expired connection — but never close
        # one in the middle of a transaction (a test's, or a caller's that drives the loop).
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            answer = handle_message(msg.topic, msg.payload)
        except Exception:  # a broken message must not stop the listener
            log.exception("MQTT message on %s failed", msg.topic)
            serial = msg.topic.split("/")[-2]
            answer = (serial, _error("server_error", "the batch could not be processed"))
        if answer is not None:
            serial, body = answer
            client.publish(results_topic(serial), json.dumps(body, ensure_ascii=False), qos=QOS)
        self.handled += 1

    def connect(self) -> None:
        self.client.connect(self.host, self.port, keepalive=30)

    def stop(self, *args) -> None:
        self.client.disconnect()

    def run_forever(self) -> None:
        """Connect (retrying), process until SIGTERM/SIGINT, then disconnect cleanly."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_forever(retry_first_connection=True)
