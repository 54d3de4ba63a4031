"""``govcenter ops sla --severity S --reported ISO8601 [--responded ISO8601] [--resolved ISO8601]
[--pause START/END …] [--now ISO8601]``: the SLA policy a fault falls under, its deadlines and
whether each was met, as JSON (see ``govcenter.ops.sla``). A time without a UTC offset is
Beijing time. Bad input exits 2 with one line."""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("sla", help="the SLA policy, deadlines and results of one fault, as JSON")
    p.add_argument("--severity", required=True, help="S1 (system down) … S4 (minor)")
    p.add_argument("--reported", required=True, help="when the fault was reported (ISO 8601)")
    p.add_argument("--responded", help="when it was responded to (ISO 8601)")
    p.add_argument("--resolved", help="when it was resolved (ISO 8601)")
    p.add_argument("--pause", action="append", default=[], metavar="START/END",
                   help="a span the clock stood still (ISO 8601 interval); repeat for more")  # fmt: skip
    p.add_argument("--now", help="evaluate as of this time (default: now)")
    p.set_defaults(handler=handle_sla)


def _when(text: str, option: str) -> dt.datetime:
    from govcenter.ops.sla import TZ

    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"ops sla: {option} {text!r} is not an ISO 8601 date and time") from None
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value


def handle_sla(command, options: dict) -> None:
    from govcenter.ops.models import Severity
    from govcenter.ops.sla import SlaError, evaluate

    severity = options["severity"].strip().upper()
    if severity not in Severity.values:
        raise UsageError(f"ops sla: --severity must be one of {', '.join(Severity.values)}")
    pauses = []
    for text in options["pause"]:
        start, sep, end = text.partition("/")
        if not sep:
            raise UsageError(f"ops sla: --pause {text!r} must be START/END")
        pauses.append((_when(start, "--pause"), _when(end, "--pause")))
    times = {
        name: _when(options[name], f"--{name}") if options.get(name) else None
        for name in ("reported", "responded", "resolved", "now")
    }
    try:
        result = evaluate(
            severity=severity,
            reported_at=times["reported"],
            responded_at=times["responded"],
            resolved_at=times["resolved"],
            pauses=pauses,
            now=times["now"],
        )
    except SlaError as exc:
        raise UsageError(f"ops sla: {exc}") from None
    command.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
