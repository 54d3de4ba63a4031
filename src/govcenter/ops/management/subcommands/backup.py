"""``govcenter ops backup [--kind database|lake|all]``: make backups now (docs/ops/backups.md),
one line per backup (id, kind, size, SM3). A failed backup is recorded and exits 1."""

from __future__ import annotations

from django.core.management.base import CommandError


def register(subparsers) -> None:
    p = subparsers.add_parser("backup", help="back up the database and/or the lake manifest now (SM4-encrypted)")
    p.add_argument("--kind", choices=["database", "lake", "all"], default="all", help="what to back up (default: all)")
    p.set_defaults(handler=handle_backup)


def handle_backup(command, options: dict) -> None:
    from govcenter.core.context import acting_as
    from govcenter.ops.backups.services import BackupError, backup_create

    kinds = ["database", "lake"] if options["kind"] == "all" else [options["kind"]]
    failed = []
    with acting_as(None, channel="cli"):
        for kind in kinds:
            try:
                b = backup_create(kind=kind)
            except BackupError as exc:
                failed.append(f"{kind}: {exc}")
                continue
            command.stdout.write(f"backup #{b.pk} {b.kind} {b.engine} {b.size} bytes sm3={b.sm3_ciphertext} "
                                 f"tables={len(b.tables)} file={b.path}")  # fmt: skip
    if failed:
        raise CommandError("ops backup failed: " + "; ".join(failed))
