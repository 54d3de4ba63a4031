"""``govcenter ops backups prune``: apply the retention policy (GOVCENTER_OPS_BACKUP_KEEP_*):
expired backup files and rows go, each deletion audited. ``govcenter ops backups list``: the
recorded backups, newest first."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("backups", help="backup housekeeping: prune (retention), list")
    sub = p.add_subparsers(dest="backups_action", required=True, parser_class=type(p))  # one-line errors too
    prune = sub.add_parser("prune", help="delete backups past their retention (audited)")
    prune.set_defaults(handler=handle_prune)
    listing = sub.add_parser("list", help="the recorded backups, newest first")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=handle_list)


def handle_prune(command, options: dict) -> None:
    from govcenter.core.context import acting_as
    from govcenter.ops.backups.services import backups_prune

    with acting_as(None, channel="cli"):
        deleted = backups_prune()
    command.stdout.write(f"pruned {len(deleted)} backup(s)" + (f": {', '.join(map(str, deleted))}" if deleted else ""))


def handle_list(command, options: dict) -> None:
    from govcenter.ops.models import Backup

    for b in Backup.objects.all()[: max(1, options["limit"])]:
        command.stdout.write(f"#{b.pk}\t{b.kind}\t{b.engine}\t{b.state}\t{b.started_at.isoformat()}\t{b.size}\t"
                             f"{b.path or '-'}\t{b.error[:80]}")  # fmt: skip
