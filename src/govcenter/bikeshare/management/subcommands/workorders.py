"""``govcenter bikeshare workorders generate|sweep|stats`` (派单).

* ``generate [--kind outside_fence --kind over_quota …]`` — issue orders for the current
  violations as the system (the periodic task does the same); prints the counts as JSON;
* ``sweep`` — mark issued orders past their deadline overdue; prints ``{"overdue": n}``;
* ``stats --from YYYY-MM-DD --to YYYY-MM-DD [--operator CODE]`` — the response figures
  (``services.workorders.response_stats``) per operator, as JSON.

Bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("workorders", help="work orders to operators: generate, sweep, stats")
    actions = p.add_subparsers(dest="workorders_action", required=True)
    gen = actions.add_parser("generate", help="issue orders for the current violations")
    gen.add_argument("--kind", action="append", default=[], help="a generated kind (repeatable; default all)")
    actions.add_parser("sweep", help="mark orders past their deadline overdue")
    stats = actions.add_parser("stats", help="response figures per operator")
    stats.add_argument("--from", dest="first", required=True, help="first Beijing date, YYYY-MM-DD")
    stats.add_argument("--to", dest="last", required=True, help="last Beijing date, YYYY-MM-DD")
    stats.add_argument("--operator", default="", help="one operator's unit code")
    p.set_defaults(handler=handle_workorders)


def _date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} {value!r}: use a date YYYY-MM-DD") from None


def handle_workorders(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as

    from ...services import workorders as services

    action = options["workorders_action"]
    with acting_as(None, channel="cli"):
        if action == "generate":
            kinds = options.get("kind") or []
            bad = [k for k in kinds if k not in services.GENERATED_KINDS]
            if bad:
                allowed = ", ".join(str(k) for k in services.GENERATED_KINDS)
                raise UsageError(f"--kind {bad[0]!r}: use one of {allowed}")
            result = services.generate_from_violations(kinds=kinds or None)
        elif action == "sweep":
            result = {"overdue": services.sweep_overdue()}
        else:
            first, last = _date(options["first"], "--from"), _date(options["last"], "--to")
            try:
                if options.get("operator"):
                    result = {options["operator"]: services.response_stats(options["operator"], first, last)}
                else:
                    result = services.response_stats_all(first, last)
            except ServiceError as exc:
                raise UsageError(f"{exc.error_code}: {exc.detail}") from None
    command.stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=True))
