"""``govcenter parking stats --date YYYY-MM-DD [--days N]``: compute the daily statistics.

Computes (idempotently: an upsert) the N days ending with ``--date`` (default yesterday,
N = 1) for every district and prints a JSON summary ``{"days": [{"date", "districts": [...]}]}``.
Bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from govcenter.core.context import acting_as
from govcenter.core.management.base import UsageError

MAX_DAYS = 366


def register(subparsers) -> None:
    p = subparsers.add_parser("stats", help="compute the daily parking statistics (default: yesterday)")
    p.add_argument("--date", default=None, help="last day, YYYY-MM-DD (default yesterday, Asia/Shanghai)")
    p.add_argument("--days", default="1", help=f"number of days ending with --date (1–{MAX_DAYS})")
    p.set_defaults(handler=handle_stats)


def _parse(options: dict) -> tuple[dt.date, int]:
    raw = options.get("date")
    if raw:
        try:
            last = dt.date.fromisoformat(raw)
        except ValueError:
            raise UsageError(f"--date {raw!r}: use YYYY-MM-DD") from None
    else:
        last = timezone.localdate() - dt.timedelta(days=1)
    try:
        days = int(options.get("days") or 1)
    except ValueError:
        raise UsageError(f"--days {options.get('days')!r}: use a whole number") from None
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days {days}: use 1–{MAX_DAYS}")
    return last, days


def handle_stats(command, options: dict) -> None:
    from ...services.stats import stat_summary, stats_compute

    last, days = _parse(options)
    out = []
    with acting_as(None, channel="cli"):
        for i in range(days - 1, -1, -1):
            day = last - dt.timedelta(days=i)
            rows = stats_compute(date=day)
            out.append({"date": day.isoformat(), "districts": [stat_summary(r) for r in rows]})
    command.stdout.write(json.dumps({"days": out}, ensure_ascii=False))
