"""``govcenter calendar is-workday|add-workdays|seed|check``: China's working calendar.

* ``is-workday YYYY-MM-DD`` prints ``true`` or ``false``.
* ``add-workdays YYYY-MM-DD N`` prints the ISO date N working days later (the start day is
  not counted; N may be negative).
* ``seed [--year YYYY ...]`` copies the installed ``chinesecalendar`` data into the
  override table (administrators' rows are kept).
* ``check [--today YYYY-MM-DD]`` prints warnings; exit 1 when there are any (this year's
  holidays missing, or from 1 December next year's).

Both queries work on a fresh database before ``seed``: a year with no rows in the table
falls back to the package (so ``is-workday 2025-10-11``, a 调休 Saturday, prints ``true``).
Bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import re
import sys

from ... import calendar as workcal
from ...context import acting_as
from ..base import GovcenterCommand, UsageError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str) -> dt.date:
    """A strict YYYY-MM-DD date (UsageError otherwise)."""
    if not _ISO_DATE.match(text or ""):
        raise UsageError(f"not a date (YYYY-MM-DD): {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"not a valid date: {text!r}") from None


def parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,6}", text or ""):
        raise UsageError(f"N must be an integer: {text!r}")
    return int(text)


class Command(GovcenterCommand):
    help = "China's working calendar: query days, seed from chinesecalendar, check coverage."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        p = sub.add_parser("is-workday", help="print true/false for YYYY-MM-DD")
        p.add_argument("date")
        p = sub.add_parser("add-workdays", help="print the date N working days after YYYY-MM-DD")
        p.add_argument("date")
        p.add_argument("n", help="number of working days (negative counts back)")
        p = sub.add_parser("seed", help="copy the chinesecalendar package into the override table")
        p.add_argument("--year", action="append", type=str, default=None, help="only this year (repeatable)")
        p = sub.add_parser("check", help="print missing-year warnings; exit 1 if any")
        p.add_argument("--today", default=None, help="pretend today is YYYY-MM-DD")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "is-workday":
            day = parse_date(options["date"])
            self.stdout.write("true" if workcal.is_workday(day) else "false")
        elif action == "add-workdays":
            day, n = parse_date(options["date"]), parse_int(options["n"])
            try:
                result = workcal.add_workdays(day, n)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            self.stdout.write(result.isoformat())
        elif action == "seed":
            years = [parse_int(y) for y in options["year"]] if options["year"] else None
            covered = workcal.package_years()
            for year in years or []:
                if year not in covered:
                    raise UsageError(f"chinesecalendar covers {covered.start}–{covered.stop - 1}, not {year}")
            with acting_as(None, channel="cli"):
                counts = workcal.seed_calendar(years=years)
            self.stdout.write(
                "created {created}, updated {updated}, unchanged {unchanged}, kept {kept_admin} administrator rows".format(
                    **counts
                )
            )
        elif action == "check":
            today = parse_date(options["today"]) if options["today"] else None
            warnings = workcal.calendar_warnings(today)
            last = workcal.last_covered_year()
            self.stdout.write(f"last covered year: {last if last is not None else '-'}")
            for message in warnings:
                self.stdout.write(f"WARNING: {message}")
            if warnings:
                sys.exit(1)
