"""``govcenter ops ledger --contract NO [--as-of YYYY-MM-DD]``: the contract's penalty lines
(each with its basis and source rows — the incident numbers of the 12-hour faults), the total,
the milestones and the bond decision, as JSON (money in integer fen). Bad input exits 2 with
one line."""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("ledger", help="a contract's penalties, milestones and bond decision, as JSON")
    p.add_argument("--contract", required=True, help="the contract number")
    p.add_argument("--as-of", dest="as_of", help="count the facts up to this date (default: today, Beijing)")
    p.set_defaults(handler=handle_ledger)


def handle_ledger(command, options: dict) -> None:
    from django.utils import timezone

    from govcenter.ops.ledger import penalties
    from govcenter.ops.models import Contract

    as_of = timezone.localdate()
    if options.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(options["as_of"].strip())
        except ValueError:
            raise UsageError(f"ops ledger: --as-of {options['as_of']!r} is not a date (YYYY-MM-DD)") from None
    contract = Contract.objects.select_related("contractor").filter(number=options["contract"].strip()).first()
    if contract is None:
        raise UsageError(f"ops ledger: no contract {options['contract']!r}")
    command.stdout.write(json.dumps(penalties(contract, as_of).as_dict(), ensure_ascii=False, indent=2))
