"""``govcenter congestion demo [--year Y] [--scale S] [--seed N]``: a believable year of every
subsystem (suggestions and each ``demo_<subsystem>`` module's ``load_year``), replayed through
the services at the times things happened, up to today — so lists, dashboards and the warning
board (red / yellow / blue) have a year's work to show. DEBUG only; prints counts and timings.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.utils import timezone

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="load a believable year of congestion-relief cases (DEBUG only)")
    p.add_argument("--year", type=int, default=None, help="the year (default: this year, up to today)")
    p.add_argument("--scale", type=float, default=1.0, help="share of Beijing's yearly volume (default 1.0)")
    p.add_argument("--seed", type=int, default=20260101, help="random seed (default 20260101)")
    p.add_argument("--only", default="", help="comma-separated subsystems (suggestions, proposals, …)")
    p.set_defaults(handler=handle_demo)


def handle_demo(command, options: dict) -> None:
    from govcenter.congestion import demo

    if not settings.DEBUG:
        raise UsageError("congestion demo: demo data only with GOVCENTER_DEBUG=true")
    today = timezone.localdate()
    year = options["year"] or today.year
    if not 2000 <= year <= today.year:
        raise UsageError(f"congestion demo: --year must be 2000–{today.year}")
    scale = options["scale"]
    if not 0 < scale <= 10:
        raise UsageError("congestion demo: --scale must be in (0, 10]")
    loaders = demo.year_loaders()
    only = [name.strip() for name in options["only"].split(",") if name.strip()]
    unknown = sorted(set(only) - set(loaders))
    if unknown:
        raise UsageError(
            f"congestion demo: unknown subsystems {', '.join(unknown)} (known: {', '.join(loaders)})"
        )
    for name, load in loaders.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        counts = load(year=year, scale=scale, rng=random.Random(f"{options['seed']}-{name}"))  # noqa: S311 (demo data)
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        command.stdout.write(f"{name}: {detail or 'nothing (demo accounts missing: run govcenter demo)'} "
                             f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
