"""``govcenter parking demo``: the Beijing-scale demo (parking/demo_scale.py), DEBUG only.

``govcenter parking demo --spaces 90000 --days 7 [--seed 0] [--start 2026-11-01]
[--orders-per-space 4.0] [--event-days 1] [--replace] [--quiet]`` builds about 1,000 roads and the spaces
inside the real district boundaries, then the orders, payments and device events of the
days. Progress goes to stderr, the counts to stdout. A loaded scale demo is refused (exit 2)
unless ``--replace``; rows that are not the demo's are never touched.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from govcenter.core.management.base import UsageError

MAX_SPACES, MAX_DAYS, MAX_ORDERS_PER_SPACE = 1_000_000, 60, 30.0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="load the Beijing-scale demo: network, orders, payments (DEBUG only)"
    )
    p.add_argument("--spaces", type=int, default=90_000, help="number of spaces (default 90000)")
    p.add_argument("--days", type=int, default=1, help="days of orders (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start", default=None, help="first day YYYY-MM-DD (default: DAYS days before today)")
    p.add_argument(
        "--orders-per-space", type=float, default=4.0, help="stays per space per day (default 4.0)"
    )
    p.add_argument(
        "--event-days",
        type=int,
        default=1,
        help="last days whose stays get device events (default 1; 0 none)",
    )
    p.add_argument("--replace", action="store_true", help="delete a loaded scale demo first")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=handle_demo)


def _start(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--start {text!r}: use YYYY-MM-DD") from None


def handle_demo(command, options: dict) -> None:
    from ...demo_scale import Progress, ScaleDemoError, load_scale_demo

    if not settings.DEBUG:
        raise UsageError("parking demo: refusing to load demo data while DEBUG is off")
    spaces, days, per_space = options["spaces"], options["days"], options["orders_per_space"]
    if not 100 <= spaces <= MAX_SPACES:
        raise UsageError(f"--spaces {spaces}: give 100 to {MAX_SPACES:,}")
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days {days}: give 1 to {MAX_DAYS}")
    if not 0 < per_space <= MAX_ORDERS_PER_SPACE:
        raise UsageError(
            f"--orders-per-space {per_space}: give more than 0 and at most {MAX_ORDERS_PER_SPACE:g}"
        )
    if not 0 <= options["event_days"] <= days:
        raise UsageError(f"--event-days {options['event_days']}: give 0 to --days ({days})")
    progress = Progress(lambda text: command.stderr.write(text, ending=""), enabled=not options["quiet"])
    try:
        counts = load_scale_demo(
            spaces=spaces,
            days=days,
            seed=options["seed"],
            start=_start(options["start"]),
            orders_per_space=per_space,
            event_days=options["event_days"],
            replace=options["replace"],
            progress=progress,
        )
    except ScaleDemoError as exc:
        raise UsageError(f"parking demo: {exc}") from None
    command.stdout.write(
        ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in counts.items())
    )
