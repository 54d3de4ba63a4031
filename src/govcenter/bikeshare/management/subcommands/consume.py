"""``govcenter bikeshare consume --kind telemetry|events|trips [--once] [--no-live]``.

Runs the ingest consumer (``bikeshare.consumer``): stream ``bikeshare-<kind>`` → lake
(``GOVCENTER_LAKE_DIR``) and, for telemetry and events, the live state
(``GOVCENTER_BIKESHARE_LIVE_URL``, unless ``--no-live`` or the setting is empty). ``--once``
drains what is there and exits; otherwise it runs until SIGINT/SIGTERM, finishing (and
acking) the batch in hand. Prints ``{"kind", "messages"}`` as JSON. Bad input exits 2.
"""

from __future__ import annotations

import json
import signal
import threading

from django.conf import settings

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "consume", help="consume pushed events/telemetry/trips into the lake and live state"
    )
    p.add_argument("--kind", required=True, help="events, telemetry or trips")
    p.add_argument("--once", action="store_true", help="drain the stream and exit")
    p.add_argument("--no-live", action="store_true", help="write the lake only, not the live state")
    p.add_argument(
        "--max-messages", help="stream messages per micro-batch, 1–1000 (GOVCENTER_BIKESHARE_CONSUMER_MAX_MESSAGES)"
    )
    p.set_defaults(handler=handle_consume)


def handle_consume(command, options: dict) -> None:
    from ...consumer import LIVE_KINDS, consume
    from ...services.ingest import KINDS

    kind = options["kind"]
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r}: use one of {', '.join(KINDS)}")
    max_messages = None
    if options.get("max_messages") is not None:
        try:
            max_messages = int(options["max_messages"])
        except ValueError:
            raise UsageError(f"--max-messages {options['max_messages']!r}: use a whole number") from None
        if not 1 <= max_messages <= 1000:
            raise UsageError(f"--max-messages {max_messages}: use 1–1000")
    live_url = None
    if kind in LIVE_KINDS and not options.get("no_live"):
        live_url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", None) or None
    stop = None
    if not options.get("once"):
        event = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: event.set())
        stop = event.is_set
    try:
        handled = consume(
            kind,
            stream_url=getattr(settings, "GOVCENTER_STREAM_URL", None),
            lake_root=settings.GOVCENTER_LAKE_DIR,
            live=live_url,
            max_records=max_messages,
            stop=stop,
        )
    except ValueError as exc:  # a bad stream/live URL in the settings
        raise UsageError(str(exc)) from None
    command.stdout.write(json.dumps({"kind": kind, "messages": handled}))
