"""``govcenter bikeshare rollups [--first YYYY-MM-DD] [--last YYYY-MM-DD] [--rebuild]``.

Brings the lake's rollups (``bikeshare.rollups``: rides per hour and district, rail-station
flows, per trips partition) up to date — what the periodic job does: missing and outdated
ones are built, current ones get the trips files written since added — and prints the report
as JSON: partitions checked, updated (``date/operator``), rollups removed because their trips
partition is gone, seconds. ``--rebuild`` builds every one anew. Bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("rollups", help="bring the lake's rollups up to date (analyses 1 and 7)")
    p.add_argument("--first", default=None, help="first partition date, YYYY-MM-DD (default: all)")
    p.add_argument("--last", default=None, help="last partition date, YYYY-MM-DD (default: all)")
    p.add_argument("--rebuild", action="store_true", help="build every rollup again")
    p.set_defaults(handler=handle_rollups)


def _date(options: dict, name: str) -> dt.date | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--{name} {value!r}: use YYYY-MM-DD") from None


def handle_rollups(command, options: dict) -> None:
    from govcenter.core import context

    from ...rollups import refresh_lake

    first, last = _date(options, "first"), _date(options, "last")
    if first and last and first > last:
        raise UsageError(f"--first {first} is after --last {last}")
    with context.acting_as(None, channel="cli"):
        report = refresh_lake(first=first, last=last, rebuild=options["rebuild"])
    command.stdout.write(json.dumps(report, ensure_ascii=False))
