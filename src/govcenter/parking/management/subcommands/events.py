"""``govcenter parking mqtt-listen``, ``mark-offline`` and ``ingest-file``.

* ``mqtt-listen [--url mqtt://host:port]`` runs the MQTT device-event listener
  (parking/mqtt.py) until SIGTERM/SIGINT.
* ``mark-offline`` runs the monitoring job once (what the Huey task does every minute) and
  prints how many devices went offline.
* ``ingest-file --serial SN FILE`` takes in a JSON file ``{"events": [...]}`` (or a list) on
  behalf of a device, e.g. a batch recovered from a device's local buffer; prints the
  per-event results as JSON. Bad input exits 2 with one line.
"""

from __future__ import annotations

import json
from pathlib import Path

from govcenter.core.api.errors import ServiceError
from govcenter.core.context import acting_as
from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("mqtt-listen", help="take in device events from MQTT until SIGTERM")
    p.add_argument("--url", default=None, help="broker URL (default GOVCENTER_MQTT_URL)")
    p.set_defaults(handler=handle_mqtt_listen)
    p = subparsers.add_parser("mark-offline", help="mark devices without heartbeat offline (once)")
    p.set_defaults(handler=handle_mark_offline)
    p = subparsers.add_parser("ingest-file", help="take in a JSON file of device events for one device")
    p.add_argument("--serial", required=True)
    p.add_argument("file")
    p.set_defaults(handler=handle_ingest_file)


def handle_mqtt_listen(command, options: dict) -> None:
    from ...mqtt import Listener, broker_address

    if options.get("url") and not options["url"].startswith(("mqtt://", "mqtts://")):
        raise UsageError(f"--url {options['url']!r}: use mqtt://host:port")
    listener = Listener(options.get("url"))
    host, port, _tls = broker_address(options.get("url"))
    command.stdout.write(f"listening on {host}:{port} (Ctrl-C or SIGTERM to stop)")
    listener.run_forever()
    command.stdout.write(f"stopped after {listener.handled} messages")


def handle_mark_offline(command, options: dict) -> None:
    from ...services.monitoring import devices_mark_offline

    with acting_as(None):
        n = devices_mark_offline()
    command.stdout.write(f"{n} devices marked offline")


def handle_ingest_file(command, options: dict) -> None:
    from ...models import Device
    from ...services.events import events_ingest, summarise

    device = Device.objects.filter(serial=options["serial"]).first()
    if device is None:
        raise UsageError(f"no device with serial {options['serial']!r}")
    path = Path(options["file"])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a JSON file ({exc})") from None
    events = data.get("events") if isinstance(data, dict) else data
    try:
        with acting_as(None):
            results = events_ingest(device=device, events=events, transport="file")
    except ServiceError as exc:
        raise UsageError(f"{exc.error_code}: {exc.detail}") from None
    command.stdout.write(json.dumps(summarise(results), ensure_ascii=False))
