"""``govcenter parking reconcile [--date YYYY-MM-DD]``: reconcile one day with the provider.

Runs what the Huey task runs every day at 02:30 (default: yesterday, Asia/Shanghai) and
prints the run as one JSON line (date, status, counts, totals). Reconciling a day again
replaces its run. A bad date exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.context import acting_as
from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("reconcile", help="reconcile one day's provider statement with the ledger")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="the day (default: yesterday)")
    p.set_defaults(handler=handle_reconcile)


def handle_reconcile(command, options: dict) -> None:
    from ...services.reconciliation import reconcile, yesterday

    raw = options.get("date")
    if raw:
        try:
            date = dt.date.fromisoformat(raw)
        except ValueError:
            raise UsageError(f"--date {raw!r}: use YYYY-MM-DD") from None
        if len(raw) != 10:
            raise UsageError(f"--date {raw!r}: use YYYY-MM-DD")
    else:
        date = yesterday()
    with acting_as(None):
        run = reconcile(date=date)
    command.stdout.write(
        json.dumps(
            {
                "date": run.date.isoformat(),
                "provider": run.provider,
                "status": run.status,
                "statement_count": run.statement_count,
                "ledger_count": run.ledger_count,
                "matched": run.matched_count,
                "differences": run.difference_count,
                "statement_net_fen": run.statement_net_fen,
                "ledger_net_fen": run.ledger_net_fen,
            },
            ensure_ascii=False,
        )
    )
