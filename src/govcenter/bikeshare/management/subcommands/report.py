"""``govcenter bikeshare report --month YYYY-MM [--out DIR] [--user NAME]``.

Generates the monthly supervision report (Word + Excel) from the lake
(``GOVCENTER_LAKE_DIR``) and the database, stores it under
``GOVCENTER_VAR_DIR/reports/bikeshare/`` with a ``MonthlyReport`` row (listed on
/bikeshare/reports/), audited; ``--out`` also copies both files into DIR. Runs as the system
unless ``--user`` names the Center user to act as (who then needs the permission and the
full data scope). Prints ``{"id", "month", "docx", "xlsx", "data_sha256"}`` as JSON. Bad
input exits 2 with one line.
"""

from __future__ import annotations

import json
from pathlib import Path

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="generate the monthly supervision report (Word + Excel)")
    p.add_argument("--month", required=True, help="the month, YYYY-MM")
    p.add_argument("--out", default=None, help="also copy the two files into this directory")
    p.add_argument("--user", default=None, help="act as this user (default: the system)")
    p.set_defaults(handler=handle_report)


def handle_report(command, options: dict) -> None:
    from django.contrib.auth import get_user_model
    from django.core.exceptions import PermissionDenied

    from govcenter.core import context
    from govcenter.core.api.errors import ServiceError

    from ...reports.generate import export_copy, monthlyreport_generate
    from ...reports.monthly import SYSTEM, parse_month

    try:
        year, month = parse_month(options.get("month"))
    except ServiceError as exc:
        raise UsageError(f"--month {options.get('month')!r}: {exc.detail} (YYYY-MM)") from None
    out = Path(options["out"]) if options.get("out") else None
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r}: not a directory")
    actor = SYSTEM
    username = options.get("user")
    if username:
        actor = get_user_model().objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise UsageError(f"--user {username!r}: no such active user")
    with context.acting_as(None if actor is SYSTEM else actor, channel="cli"):
        try:
            report = monthlyreport_generate(actor, year=year, month=month)
        except PermissionDenied as exc:
            raise UsageError(f"--user {username!r}: {exc}") from None
        except ServiceError as exc:
            raise UsageError(str(exc.detail)) from None
    result = {"id": report.pk, "month": report.label, "docx": report.docx_path, "xlsx": report.xlsx_path,
              "data_sha256": report.data_sha256}  # fmt: skip
    if out is not None:
        copies = export_copy(report, out)
        result.update({k: str(v) for k, v in copies.items()})
    command.stdout.write(json.dumps(result, ensure_ascii=False))
