"""``govcenter lake status | compact [--dataset D] [--date YYYY-MM-DD] | slim [--today D] [--days N]``.

The lake's upkeep by hand (the nightly task ``analytics.lake_nightly`` does both): compaction
merges small files per partition; slimming (系统瘦身) downsamples raw telemetry older than
``--days`` (default ``GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS``) to hourly rows. Each prints
a JSON report with bytes before and after. Bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.context import acting_as
from govcenter.core.management.base import GovcenterCommand, UsageError


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r}: use a date like 2026-11-26") from None


class Command(GovcenterCommand):
    help = "The analytics lake: status, compaction of small files, slimming of old raw telemetry."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        sub.add_parser("status", help="partitions, files and bytes per data set")
        compact = sub.add_parser("compact", help="merge the small files of each partition")
        compact.add_argument("--dataset", help="one data set (default: all)")
        compact.add_argument("--date", help="one Beijing date YYYY-MM-DD (default: all dates)")
        slim = sub.add_parser("slim", help="downsample raw telemetry past its retention to hourly rows")
        slim.add_argument("--today", help="the Beijing date to count from (default: today)")
        slim.add_argument("--days", type=int, help="raw telemetry days kept (default: the setting)")

    def handle(self, *args, **options):
        from govcenter.analytics import maintenance

        action = options["action"]
        try:
            with acting_as(None, channel="cli"):
                if action == "status":
                    result = maintenance.lake_status()
                elif action == "compact":
                    result = maintenance.lake_compact(
                        options.get("dataset"), _date("--date", options.get("date"))
                    )
                else:
                    days = options.get("days")
                    if days is not None and days < 1:
                        raise UsageError(f"--days {days}: keep at least 1 day")
                    result = maintenance.lake_slim(today=_date("--today", options.get("today")), days=days)
        except ValueError as exc:  # an unknown data set, a bad setting
            raise UsageError(str(exc)) from None
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
