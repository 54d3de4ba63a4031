"""``govcenter ops logs prune``: delete application log records older than
GOVCENTER_OPS_LOG_RETENTION_DAYS (≥ 180), in batches, audited. Bad settings exit 2."""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("logs", help="central log audit: retention")
    sub = p.add_subparsers(dest="logs_action", required=True)
    prune = sub.add_parser("prune", help="delete log records older than the retention period")
    prune.set_defaults(handler=handle_prune)


def handle_prune(command, options: dict) -> None:
    from django.conf import settings

    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.ops.logaudit.services import logs_prune

    with acting_as(None, channel="cli"):
        try:
            deleted = logs_prune()
        except ServiceError as exc:
            raise UsageError(f"ops logs prune: {exc.detail}") from None
    command.stdout.write(json.dumps({"deleted": deleted, "retention_days": settings.GOVCENTER_OPS_LOG_RETENTION_DAYS}))
