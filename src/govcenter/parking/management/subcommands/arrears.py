"""``govcenter parking arrears-sweep [--now ISO8601] [--dry-run]``.

Runs the daily arrears sweep once (what the Huey task does at 09:00): billed orders past due
turn arrears, due reminders go out, back-payment windows that ended become penalty cases.
``--now`` acts as of another moment (with a UTC offset; for catch-ups and checks),
``--dry-run`` rolls everything back and sends nothing. Prints the summary as JSON.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.api.errors import ServiceError
from govcenter.core.context import acting_as
from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("arrears-sweep", help="run the daily arrears sweep once; prints a JSON summary")
    p.add_argument("--now", default=None, help="act as of this ISO 8601 time with offset (default: now)")
    p.add_argument("--dry-run", action="store_true", help="roll back everything and send no SMS")
    p.set_defaults(handler=handle_arrears_sweep)


def handle_arrears_sweep(command, options: dict) -> None:
    from ...services.arrears import arrears_sweep

    now = None
    if options.get("now"):
        try:
            now = dt.datetime.fromisoformat(options["now"])
        except ValueError:
            raise UsageError(
                f"--now {options['now']!r}: use ISO 8601, e.g. 2026-01-06T09:00:00+08:00"
            ) from None
        if now.tzinfo is None:
            raise UsageError(f"--now {options['now']!r}: give a UTC offset, e.g. +08:00")
    try:
        with acting_as(None, channel="cli"):
            summary = arrears_sweep(now=now, dry_run=bool(options.get("dry_run")))
    except ServiceError as exc:
        raise UsageError(f"{exc.error_code}: {exc.detail}") from None
    command.stdout.write(json.dumps(summary, ensure_ascii=False))
