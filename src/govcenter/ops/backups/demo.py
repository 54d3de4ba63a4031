"""Demo data for backups.

- :func:`load_small_demo` (``govcenter demo``/``make run``): one real backup of the demo
  database and one real restore drill of it, when none exists yet and the database is small
  enough to do it in seconds (an SQLite file under 40 MB; nothing otherwise).
- :func:`load_demo` (``govcenter ops demo``): a quarter of nightly backup records with weekly
  drills. These are *metadata only*, marked ``historical`` (shown as 历史演示记录): there is no
  file behind them and they cannot be restored — honest history for the lists and the report,
  not pretend backups. A few nights fail (disk full), one drill finds a mismatch.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import connection, transaction
from django.utils import timezone

from govcenter.core.crypto import sm3_hex

from ..models import Backup, BackupEngine, BackupKind, BackupState, DrillResult, RestoreDrill

SMALL_DEMO_MAX_BYTES = 40 * 1024 * 1024  # about 5 s for backup + drill on this machine's class
DEMO_TABLES = ("core_unit", "core_user", "core_auditentry", "parking_order", "parking_device", "ops_incident")


def _live_size() -> int | None:
    from .services import _sqlite_live_file

    if connection.vendor != "sqlite":
        return None
    path = _sqlite_live_file()
    return path.stat().st_size if path is not None and path.exists() else None


def load_small_demo() -> dict[str, int]:
    """One real backup + drill of a small embedded demo database (idempotent)."""
    from govcenter.core.context import acting_as

    from .services import BackupError, backup_create, backup_key, restore_drill

    if Backup.objects.filter(historical=False).exists():
        return {}
    try:
        backup_key()  # no key (production without GOVCENTER_OPS_BACKUP_KEY): no demo backup
    except BackupError:
        return {}
    size = _live_size()
    if size is None or size > SMALL_DEMO_MAX_BYTES:
        return {}
    with acting_as(None, channel="demo"):
        try:
            backup = backup_create(kind=BackupKind.DATABASE)
        except BackupError:
            return {}
        restore_drill(backup=backup)
    return {"backups": 1, "restore_drills": 1}


def _figures(rng: random.Random, day: int) -> dict:
    return {t: {"rows": 100 * (i + 1) + day * (i + 1), "sm3": sm3_hex(f"{t}:{day}:{rng.random()}".encode())}
            for i, t in enumerate(DEMO_TABLES)}  # fmt: skip


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    """A quarter of nightly (02:00) database and lake backup records and Sunday drills, marked
    historical. Idempotent: existing historical records are replaced."""
    moment = timezone.localtime(now or timezone.now())
    rng = random.Random(20261127)  # noqa: S311 (reproducible demo figures, not secrets)
    engine = BackupEngine.POSTGRESQL if connection.vendor == "postgresql" else BackupEngine.SQLITE
    backups, drills = [], []
    with transaction.atomic():
        RestoreDrill.objects.filter(historical=True).delete()
        Backup.objects.filter(historical=True).delete()
        for back in range(days, 0, -1):
            day = (moment - dt.timedelta(days=back)).date()
            started = dt.datetime.combine(day, dt.time(2, 0), tzinfo=moment.tzinfo)
            failed = rng.random() < 0.04
            size = 180_000_000 + back * -900_000 + rng.randrange(0, 4_000_000)
            db = Backup(
                kind=BackupKind.DATABASE, engine=engine, started_at=started,
                finished_at=started + dt.timedelta(seconds=rng.randrange(90, 400)),
                state=BackupState.FAILED if failed else BackupState.OK, historical=True,
                size=0 if failed else size, error="No space left on device (演示)" if failed else "",
                sm3_ciphertext="" if failed else sm3_hex(f"c{day}".encode()),
                sm3_plaintext="" if failed else sm3_hex(f"p{day}".encode()),
                key_id="demo0000historic", tables={} if failed else _figures(rng, back),
                expires_at=started + dt.timedelta(days=7),
            )  # fmt: skip
            lake = Backup(
                kind=BackupKind.LAKE, engine=BackupEngine.LAKE, started_at=started + dt.timedelta(minutes=10),
                finished_at=started + dt.timedelta(minutes=11), state=BackupState.OK, historical=True,
                size=40_000 + rng.randrange(0, 5_000), sm3_ciphertext=sm3_hex(f"lc{day}".encode()),
                sm3_plaintext=sm3_hex(f"lp{day}".encode()), key_id="demo0000historic",
                tables={"telemetry": {"rows": 5_000_000 + back, "sm3": sm3_hex(f"t{day}".encode())},
                        "trips": {"rows": 800_000 + back, "sm3": sm3_hex(f"r{day}".encode())}},
                expires_at=started + dt.timedelta(days=7),
            )  # fmt: skip
            backups += [db, lake]
        Backup.objects.bulk_create(backups)
        sundays = [b for b in backups if b.kind == BackupKind.DATABASE and b.state == BackupState.OK
                   and timezone.localtime(b.started_at).weekday() == 6]  # fmt: skip
        for i, b in enumerate(sundays):
            started = b.started_at + dt.timedelta(hours=1, minutes=30)
            rows = [{"table": t, "rows_expected": f["rows"], "rows_restored": f["rows"], "sm3_expected": f["sm3"],
                     "sm3_restored": f["sm3"], "match": True} for t, f in sorted(b.tables.items())]  # fmt: skip
            mismatched = []
            if i == len(sundays) // 2:  # one drill found a table that did not come back whole
                rows[0] = {**rows[0], "rows_restored": rows[0]["rows_expected"] - 3, "match": False,
                           "sm3_restored": sm3_hex(b"demo-mismatch")}  # fmt: skip
                mismatched = [rows[0]["table"]]
            drills.append(RestoreDrill(
                backup=b, backup_label=f"历史演示记录 {timezone.localtime(b.started_at):%Y-%m-%d}", started_at=started,
                finished_at=started + dt.timedelta(minutes=6), scratch_target="govcenter_drill_demo",
                result=DrillResult.FAILED if mismatched else DrillResult.PASSED, tables=rows,
                mismatched=mismatched, historical=True,
            ))  # fmt: skip
        RestoreDrill.objects.bulk_create(drills)
    return {"backups": len(backups), "restore_drills": len(drills)}
