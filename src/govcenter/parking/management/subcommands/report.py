"""``govcenter parking report weekly|monthly [--week YYYY-Www | --period YYYY-MM] [--district CODE]``.

Generates (or regenerates, as a new version) the weekly or monthly parking report as the
system, with a full scope for the city and a scope restricted to the district for a district's
version; prints one JSON object (id, files, SM3 digests, duration). Bad input exits 2 with one
line.
"""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="generate the weekly or monthly parking report (Word + Excel)")
    p.add_argument("kind", choices=["weekly", "monthly"])
    p.add_argument("--week", default=None, help="ISO week YYYY-Www (weekly; default: last week)")
    p.add_argument("--period", default=None, help="month YYYY-MM (monthly; default: last month)")
    p.add_argument("--district", default=None, help="district code (default: the city)")
    p.set_defaults(handler=handle_report)


def handle_report(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as

    from ...reports.services import SYSTEM, district_of, parkingreport_generate

    kind = options["kind"]
    if kind == "weekly" and options.get("period"):
        raise UsageError("--period is for monthly reports; use --week YYYY-Www")
    if kind == "monthly" and options.get("week"):
        raise UsageError("--week is for weekly reports; use --period YYYY-MM")
    label = options.get("week") if kind == "weekly" else options.get("period")
    try:
        with acting_as(None, channel="cli"):
            district = district_of(SYSTEM, options.get("district"))
            report = parkingreport_generate(actor=SYSTEM, kind=kind, label=label, district=district)
    except ServiceError as exc:
        raise UsageError(f"{exc.error_code}: {exc.detail}") from None
    command.stdout.write(
        json.dumps(
            {
                "id": report.pk,
                "kind": report.kind,
                "period": report.label,
                "district": report.district.code if report.district_id else None,
                "version": report.version,
                "docx": report.docx_path,
                "docx_sm3": report.docx_sm3,
                "xlsx": report.xlsx_path,
                "xlsx_sm3": report.xlsx_sm3,
                "duration_ms": report.duration_ms,
            },
            ensure_ascii=False,
        )
    )
