"""``govcenter ops report --month 2026-10 | --quarter 2026Q3``: generate the O&M monthly or
quarterly report (Word + PDF) as the system; prints ``{"id", "kind", "label", "docx", "pdf",
"docx_sm3", "pdf_sm3"}`` as JSON. Bad input exits 2 with one line."""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="generate the O&M monthly or quarterly report (Word and PDF)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--month", help="YYYY-MM")
    group.add_argument("--quarter", help="YYYYQn")
    p.set_defaults(handler=handle_report)


def handle_report(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.ops.reports.services import SYSTEM, report_generate

    kind, label = ("month", options["month"]) if options.get("month") else ("quarter", options["quarter"])
    try:
        report = report_generate(actor=SYSTEM, kind=kind, label=label)
    except ServiceError as exc:
        raise UsageError(f"ops report: {exc.detail} ({label})") from None
    command.stdout.write(json.dumps({"id": report.pk, "kind": report.kind, "label": report.label,
                                     "docx": report.docx_path, "pdf": report.pdf_path,
                                     "docx_sm3": report.docx_sm3, "pdf_sm3": report.pdf_sm3}, ensure_ascii=False))  # fmt: skip
