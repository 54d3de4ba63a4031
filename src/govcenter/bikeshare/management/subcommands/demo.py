"""``govcenter bikeshare demo``: a synthetic Beijing bike-share day (bikeshare/demo_scale.py), DEBUG only.

``govcenter bikeshare demo --day 2026-11-02 --scale 1.0 [--seed 20240901] [--no-registry] [--quiet]``
generates the day (790,000 bikes, 3.1 million trips, about 30 million telemetry points at
scale 1.0; ``--scale`` shrinks it) inside the real district boundaries and loads it: the
vehicle registry, the lake (``GOVCENTER_LAKE_DIR``) and the live picture
(``GOVCENTER_BIKESHARE_LIVE_URL``: where every bike stands at the end of the day). A progress bar goes to stderr, the
counts and timings to stdout. A re-run of the same day and seed leaves every record once.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from django.conf import settings

from govcenter.core.management.base import UsageError

BAR = 30


class ProgressBar:
    """``\\r<stage> [#####·····]  45%  12.3 s`` on a stream; a new line when a stage ends."""

    def __init__(self, stream=None, *, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()  # redraw in place only on a terminal
        self.started = time.perf_counter()
        self.shown: tuple[str, int] | None = None

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * BAR))
        done = fraction >= 1.0
        if (stage, filled) == self.shown or not (self.live or done):
            return  # nothing new to draw; a log file gets one line per finished stage
        self.shown = (stage, filled)
        elapsed = time.perf_counter() - self.started
        bar = f"[{'#' * filled}{'·' * (BAR - filled)}]"
        self.stream.write(f"\r{stage:<18} {bar} {100 * fraction:5.1f}% {elapsed:7.1f} s{chr(10) if done else ''}")
        self.stream.flush()


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="load a synthetic Beijing bike-share day (DEBUG only)")
    p.add_argument("--day", default=None, help="the day YYYY-MM-DD (default: yesterday)")
    p.add_argument("--scale", type=float, default=1.0, help="share of Beijing's fleet and rides (default 1.0)")
    p.add_argument("--seed", type=int, default=20240901, help="random seed (default 20240901)")
    p.add_argument("--no-registry", action="store_true", help="do not register the bikes as vehicles")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=handle_demo)


def handle_demo(command, options: dict) -> None:
    from django.utils import timezone

    from govcenter.analytics.lake.config import lake_root

    from ...demo_scale import load_day

    if not settings.DEBUG:
        raise UsageError("bikeshare demo: refusing to load demo data while DEBUG is off")
    scale = options["scale"]
    if not 0 < scale <= 2:
        raise UsageError(f"--scale {scale}: give a number in (0, 2]")
    if options["day"] is None:
        day = timezone.localdate() - dt.timedelta(days=1)
    else:
        try:
            day = dt.date.fromisoformat(options["day"])
        except ValueError:
            raise UsageError(f"--day {options['day']!r}: use YYYY-MM-DD") from None
    progress = ProgressBar(enabled=not options["quiet"])
    try:
        report = load_day(
            day,
            scale=scale,
            seed=options["seed"],
            lake_root=lake_root(),
            register=not options["no_registry"],
            live_url=settings.GOVCENTER_BIKESHARE_LIVE_URL or None,
            progress=progress,
        )
    except LookupError as exc:
        raise UsageError(f"bikeshare demo: {exc}") from None
    out = command.stdout
    out.write(
        f"bikeshare demo {day.isoformat()} scale {scale}: {report.bikes:,} bikes, {report.trips:,} trips, "
        f"{report.telemetry:,} telemetry points; {report.vehicles_registered:,} vehicles newly registered; "
        f"lake {lake_root()}"
    )
    out.write("  " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items()))
