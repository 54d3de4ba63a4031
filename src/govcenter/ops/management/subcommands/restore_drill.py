"""``govcenter ops restore-drill [--backup ID|latest] [--kind database|lake]``: restore a backup
into a scratch target (never the live database), compare every table's row count and SM3
checksum with the figures captured at backup time, record the drill. A backup that cannot be
restored (wrong key, corrupt, truncated, missing) exits 2 with one line; a restore whose tables
do not match exits 1 naming them."""

from __future__ import annotations

from django.core.management.base import CommandError

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("restore-drill", help="restore a backup into a scratch target and compare table by table")
    p.add_argument("--backup", default="latest", help="a backup id, or latest (default)")
    p.add_argument("--kind", choices=["database", "lake"], default="database", help="with latest: which kind")
    p.set_defaults(handler=handle_restore_drill)


def handle_restore_drill(command, options: dict) -> None:
    from govcenter.core.context import acting_as
    from govcenter.ops.backups.services import latest_backup, restore_drill
    from govcenter.ops.models import Backup

    which = options["backup"].strip()
    if which == "latest":
        backup = latest_backup(options["kind"])
        if backup is None:
            raise UsageError(f"ops restore-drill: there is no good {options['kind']} backup yet")
    else:
        if not which.isdigit():
            raise UsageError(f"ops restore-drill: --backup must be an id or latest, not {which!r}")
        backup = Backup.objects.filter(pk=int(which)).first()
        if backup is None:
            raise UsageError(f"ops restore-drill: there is no backup #{which}")
    with acting_as(None, channel="cli"):
        drill = restore_drill(backup=backup)
    if drill.error:
        raise UsageError(f"ops restore-drill: backup #{backup.pk} cannot be restored: {drill.error} (drill #{drill.pk})")
    if drill.mismatched:
        raise CommandError(f"ops restore-drill: backup #{backup.pk} FAILED, tables differ: "
                           f"{', '.join(drill.mismatched)} (drill #{drill.pk})")  # fmt: skip
    command.stdout.write(f"restore drill #{drill.pk} passed: backup #{backup.pk}, {len(drill.tables)} tables match "
                         f"(row counts and SM3), scratch {drill.scratch_target} removed")  # fmt: skip
