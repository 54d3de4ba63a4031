"""Duty roster benchmark: ``roster_generate`` of a quarter (92 days, 8 engineers, 2 leaders,
a guard period of a week) in seats per second, on a fresh temporary SQLite database migrated
for the run. Baseline, same run and same rows: ``bulk_create`` of the generated seats again
(into a second unit) with no rotation and no rule checks — the ratio is what the fair choice
and the overlap/rest checks cost on top of writing the rows.

Run alone with ``python bench/bench_ops_duty.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

try:  # imported as bench.bench_ops_duty by bench/run.py
    from bench.common import main, record, run_isolated
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import main, record, run_isolated  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
DAYS = 92


def measure() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="govcenter-bench-duty-") as tmpdir:
        os.environ["GOVCENTER_VAR_DIR"] = tmpdir
        os.environ["GOVCENTER_DATABASE_URL"] = f"sqlite:///{Path(tmpdir) / 'bench-duty.sqlite3'}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.test_settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        settings.DEBUG = False
        call_command("migrate", verbosity=0)
        from zoneinfo import ZoneInfo

        from govcenter.core.context import acting_as
        from govcenter.core.models import Unit, User
        from govcenter.ops import services
        from govcenter.ops.duty import roster
        from govcenter.ops.models import DutyAssignment

        tz = ZoneInfo("Asia/Shanghai")
        roster.shifts_seed()
        kind = Unit._meta.get_field("kind").choices[0][0]
        unit = Unit.objects.create(code="OM-BENCH", name_zh="基准运维单位", kind=kind)
        other = Unit.objects.create(code="OM-BASE", name_zh="基线单位", kind=kind)
        team = [User.objects.create(username=f"bench-eng{i}", unit=unit) for i in range(8)]
        leaders = [User.objects.create(username=f"bench-lead{i}", unit=other) for i in range(2)]
        start = dt.date(2026, 7, 1)
        guard = dt.datetime.combine(start + dt.timedelta(days=30), dt.time(0), tzinfo=tz)
        services.guard_period_create(name="基准保障期", starts_at=guard, ends_at=guard + dt.timedelta(days=7))
        with acting_as(None, channel="task"):
            t0 = time.perf_counter()
            made = roster.roster_generate(actor=None, unit=unit, start=start, end=start + dt.timedelta(days=DAYS - 1),
                                          team=team, leaders=leaders)  # fmt: skip
            elapsed = time.perf_counter() - t0
        copies = [DutyAssignment(unit=other, date=a.date, shift=a.shift, role=a.role, seat=a.seat,
                                 starts_at=a.starts_at, ends_at=a.ends_at, day_kind=a.day_kind, primary=a.primary,
                                 backup=a.backup) for a in made]  # fmt: skip
        t0 = time.perf_counter()
        DutyAssignment.objects.bulk_create(copies)
        base_elapsed = time.perf_counter() - t0
        gaps = roster.coverage_gaps(unit=unit, start=made[0].starts_at, end=made[-1].ends_at)
        assert not gaps, gaps
    return [
        record(
            name="ops.duty.generate_quarter",
            value=len(made) / elapsed,
            unit="seats/s",
            baseline_name="bulk_create of the same seats (no rotation, no rule checks)",
            baseline_value=len(made) / base_elapsed,
            target="a quarter (≈ 200 seats) in < 5 s",
        )
    ]


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=900)


if __name__ == "__main__":
    main(measure)
