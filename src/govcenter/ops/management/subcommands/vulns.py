"""``govcenter ops vulns import FILE --scanner nessus|generic [--as USERNAME]``: register the
findings of a scanner CSV (columns: see ``govcenter.ops.cmdb.vulns``). All or nothing: a bad
file exits 2 with one line naming every bad line; nothing is imported. ``--as`` imports as
that user (their permission and data scope; default: the system, every unit)."""

from __future__ import annotations

import json
from pathlib import Path

from govcenter.core.management.base import UsageError

MAX_BYTES = 20 * 1024 * 1024


def register(subparsers) -> None:
    p = subparsers.add_parser("vulns", help="vulnerability register: import")
    sub = p.add_subparsers(dest="vulns_action", required=True)
    imp = sub.add_parser("import", help="import a scanner CSV (all or nothing)")
    imp.add_argument("file")
    imp.add_argument("--scanner", required=True, choices=["nessus", "generic"])
    imp.add_argument("--as", dest="as_user", help="username to import as")
    imp.set_defaults(handler=handle_import)


def _lines(details: dict) -> str:
    lines = details.get("lines") or {}
    return "; ".join(f"line {n}: {', '.join(msgs)}" for n, msgs in sorted(lines.items(), key=lambda kv: int(kv[0])))


def handle_import(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.core.models import User
    from govcenter.ops.cmdb.vulns import import_scan

    path = Path(options["file"])
    if not path.is_file():
        raise UsageError(f"ops vulns import: {path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(f"ops vulns import: {path}: larger than {MAX_BYTES // 1024 // 1024} MB")
    user = None
    if options.get("as_user"):
        user = User.objects.filter(username=options["as_user"], is_active=True).first()
        if user is None:
            raise UsageError(f"ops vulns import: no active user {options['as_user']!r}")
    with acting_as(user, channel="cli"):
        try:
            counts = import_scan(actor=user, data=path.read_bytes(), scanner=options["scanner"], filename=path.name)
        except ServiceError as exc:
            detail = _lines(exc.details) or str(exc.details)
            raise UsageError(f"ops vulns import: {path.name}: {exc.error_code}, nothing imported: {detail}"[:2000]) from None
    command.stdout.write(json.dumps(counts))
