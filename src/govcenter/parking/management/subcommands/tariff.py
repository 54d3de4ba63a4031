"""``govcenter parking quote`` and ``govcenter parking seed-tariffs``.

* ``quote --area-class {1,2,3} --vehicle {small,large} --start ISO8601 --end ISO8601
  [--at-plan-time ISO8601]`` prints ``{"amount_fen", "lines", "note", "plan"}`` as JSON.
  The plan is the version in force at the stay's start (how an order is billed);
  ``--at-plan-time`` picks the version in force at another instant instead (e.g. to preview
  a scheduled new version on a known stay). Timestamps need an offset (``+08:00`` or ``Z``).
  Bad input — unknown class or vehicle, an unparsable or naive timestamp, an end before the
  start, no plan in force — exits 2 with one line. There is no built-in fallback tariff:
  on a fresh database run ``govcenter seed`` first.
* ``seed-tariffs`` creates the Beijing standard (idempotent, audited), as ``govcenter seed``
  does.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.context import acting_as
from govcenter.core.management.base import UsageError

from ...models import AreaClass, VehicleClass
from ...selectors.tariffs import NoTariffPlanError, tariff_quote
from ...services.tariffs import tariff_seed_beijing_standard


def parse_timestamp(text: str, name: str) -> dt.datetime:
    """An ISO 8601 timestamp with an offset (UsageError otherwise)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: not an ISO 8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise UsageError(f"{name}: {text!r} has no UTC offset; write it like 2025-03-03T08:00:00+08:00")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("quote", help="price one stay under the tariff plan in force")
    p.add_argument(
        "--area-class",
        required=True,
        choices=[str(v) for v in AreaClass.values],
        help="1, 2 or 3 (一/二/三类)",
    )
    p.add_argument("--vehicle", required=True, choices=VehicleClass.values)
    p.add_argument("--start", required=True, help="ISO 8601 with offset, e.g. 2025-03-03T08:00:00+08:00")
    p.add_argument("--end", required=True, help="ISO 8601 with offset")
    p.add_argument(
        "--at-plan-time",
        default=None,
        metavar="ISO8601",
        help="use the plan in force at this instant instead of at --start",
    )
    p.set_defaults(handler=handle_quote)
    p = subparsers.add_parser("seed-tariffs", help="create the Beijing standard tariff plans (idempotent)")
    p.set_defaults(handler=handle_seed_tariffs)


def handle_quote(command, options: dict) -> None:
    start = parse_timestamp(options["start"], "--start")
    end = parse_timestamp(options["end"], "--end")
    at = parse_timestamp(options["at_plan_time"], "--at-plan-time") if options.get("at_plan_time") else None
    if end < start:
        raise UsageError(f"--end {options['end']} is before --start {options['start']}")
    try:
        result = tariff_quote(
            area_class=int(options["area_class"]), vehicle=options["vehicle"], start=start, end=end, at=at
        )
    except NoTariffPlanError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    command.stdout.write(json.dumps(result, ensure_ascii=False))


def handle_seed_tariffs(command, options: dict) -> None:
    with acting_as(None, channel="cli"):
        counts = tariff_seed_beijing_standard()
    command.stdout.write("tariffs: created {created}, unchanged {unchanged}".format(**counts))
