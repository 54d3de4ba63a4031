"""``govcenter ops integrity baseline|check [--no-restore]``: web anti-tamper from the command
line (see ``govcenter.ops.integrity.services``). ``baseline`` is a release step: run it after
deploying new templates or static files. ``check`` exits 1 when it found tampering (so cron and
monitoring can react), 2 on bad input or when there is no baseline."""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("integrity", help="web anti-tamper: signed baseline and integrity check")
    sub = p.add_subparsers(dest="integrity_action", required=True)
    b = sub.add_parser("baseline", help="record and sign the baseline of every template and static file")
    b.add_argument("--user", default="", help="the username recorded as the author (default: the system)")
    b.set_defaults(handler=handle_baseline)
    c = sub.add_parser("check", help="verify every file against the baseline; restore tampered files")
    c.add_argument("--no-restore", action="store_true", help="only report (and alert), restore nothing")
    c.set_defaults(handler=handle_check)


def _user(username: str):
    from govcenter.core.models import User

    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise UsageError(f"ops integrity: no active user {username!r}")
    return user


def handle_baseline(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.ops.integrity.services import baseline_create

    user = _user(options["user"])
    with acting_as(user, channel="cli"):
        try:
            baseline = baseline_create(actor=user)
        except ServiceError as exc:
            raise UsageError(f"ops integrity baseline: {exc.detail}") from None
    command.stdout.write(json.dumps({"baseline": baseline.pk, "files": baseline.file_count, "bytes": baseline.total_bytes,
                                     "manifest_digest": baseline.manifest_digest}))  # fmt: skip


def handle_check(command, options: dict) -> None:
    from django.core.management.base import CommandError

    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.ops.integrity.services import integrity_check

    with acting_as(None, channel="cli"):
        try:
            check = integrity_check(restore=not options["no_restore"], trigger="cli")
        except ServiceError as exc:
            raise UsageError(f"ops integrity check: {exc.detail}") from None
    command.stdout.write(json.dumps({
        "check": check.pk, "status": check.status, "files": check.files_checked, "bytes": check.bytes_hashed,
        "duration_ms": check.duration_ms, "mismatches": check.mismatches, "incidents": check.incidents,
        "alert_error": check.alert_error,
    }, ensure_ascii=False))  # fmt: skip
    if check.status != "ok":
        raise CommandError(f"ops integrity check: {check.status}, {len(check.mismatches)} findings", returncode=1)
