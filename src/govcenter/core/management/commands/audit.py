"""``govcenter audit``: verify the tamper-evident chain, sign a checkpoint, purge old entries.

* ``govcenter audit verify [--from-seq N] [--json]``: exit 0 and one summary line on an
  intact chain; exit 1 naming the first bad entry (seq and edited / missing / inserted /
  out of order / bad checkpoint).
* ``govcenter audit checkpoint``: sign the chain head now with the system SM2 key.
* ``govcenter audit purge --before YYYY-MM-DD``: delete entries older than that date; refuses
  (exit 2) anything younger than ``GOVCENTER_AUDIT_RETENTION_DAYS`` (at least 180 days).
"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import CommandError

from ... import audit, context
from ..base import GovcenterCommand, UsageError


class AuditChainBroken(CommandError):  # noqa: N818  (printed as the line's prefix: reads as a verdict)
    """``audit verify`` found a bad entry (exit status 1)."""

    def __init__(self, message: str):
        super().__init__(message, returncode=1)


class Command(GovcenterCommand):
    help = "Audit chain: verify (exit 1 on tampering), checkpoint (sign the head now), purge --before DATE."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        verify = sub.add_parser("verify", help="walk the chain and check hashes, links, seqs and checkpoints")
        verify.add_argument(
            "--from-seq", type=int, default=None, help="start at this seq (the entry before it is trusted)"
        )
        verify.add_argument("--json", action="store_true", help="print the result as one JSON object")
        verify.add_argument(
            "--batch-size", type=int, default=audit.VERIFY_BATCH, help="rows per database round trip"
        )
        sub.add_parser("checkpoint", help="sign the current chain head with the system SM2 key")
        purge = sub.add_parser(
            "purge", help="delete entries created before a date (never younger than the retention)"
        )
        purge.add_argument(
            "--before", required=True, help="YYYY-MM-DD (local date): entries created before it go"
        )

    def handle(self, *args, **options):
        with context.acting_as(None, channel="cli"):
            return getattr(self, f"do_{options['action']}")(options)

    def do_verify(self, options) -> None:
        if options["from_seq"] is not None and options["from_seq"] < 1:
            raise UsageError("--from-seq must be a positive seq")
        if options["batch_size"] < 1:
            raise UsageError("--batch-size must be at least 1")
        result = audit.verify_chain(from_seq=options["from_seq"], batch_size=options["batch_size"])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        if not result.ok:
            raise AuditChainBroken(result.summary())
        if not options["json"]:
            self.stdout.write(result.summary())

    def do_checkpoint(self, options) -> None:
        cp = audit.checkpoint_create()
        if cp is None:
            self.stdout.write("audit chain is empty: nothing to sign")
            return
        self.stdout.write(f"checkpoint at seq {cp.seq} hash {cp.entry_hash} ({cp.kind})")

    def do_purge(self, options) -> None:
        try:
            before = date.fromisoformat(options["before"])
        except ValueError:
            raise UsageError(f"--before {options['before']!r} is not a date (YYYY-MM-DD)") from None
        try:
            result = audit.audit_purge(before=before)
        except audit.AuditPurgeRefusedError as exc:
            raise UsageError(str(exc)) from None
        if result.deleted:
            self.stdout.write(
                f"purged {result.deleted} audit entries; chain starts at seq {result.first_kept_seq} "
                f"(anchored by the checkpoint at seq {result.anchor_seq})"
            )
        else:
            self.stdout.write(f"nothing to purge before {before.isoformat()}")
