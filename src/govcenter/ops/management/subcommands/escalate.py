"""``govcenter ops escalate [--now ISO8601]``: walk the open incidents and notify every due,
not yet notified level of their escalation chain (what the every-minute task does; see
``govcenter.ops.duty.escalation``). Prints the counts as JSON. Bad input exits 2."""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("escalate", help="notify the due levels of the open incidents' escalation chains")
    p.add_argument("--now", help="walk as of this time (ISO 8601; Beijing time when no offset; default now)")
    p.set_defaults(handler=handle_escalate)


def handle_escalate(command, options: dict) -> None:
    from django.utils import timezone

    from govcenter.core.context import acting_as
    from govcenter.ops.duty.escalation import escalate
    from govcenter.ops.sla import TZ

    now = None
    if options.get("now"):
        try:
            now = dt.datetime.fromisoformat(options["now"].strip())
        except ValueError:
            raise UsageError(f"ops escalate: --now {options['now']!r} is not an ISO 8601 time") from None
        now = now.replace(tzinfo=TZ) if now.tzinfo is None else now
        if now > timezone.now() + dt.timedelta(minutes=5):
            raise UsageError("ops escalate: --now cannot be in the future")
    with acting_as(None, channel="cli"):
        counts = escalate(now=now)
    command.stdout.write(json.dumps(counts, ensure_ascii=False))
