"""``govcenter bikeshare assess --month YYYY-MM | --quarter YYYY-Qn``.

``--month`` computes (or recomputes) the month's draft assessment of every active operator
(``services.assessment.assessment_compute_month``); ``--quarter`` stores the quarter's grades
and quota recommendations (``quarter_grade_compute``). Prints the results as JSON lines;
bad input exits 2 with one line. Writes are audited as the CLI channel.
"""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("assess", help="compute monthly assessments or quarterly grades of operators")
    p.add_argument("--month", help="YYYY-MM: compute the month's draft scores")
    p.add_argument("--quarter", help="YYYY-Qn: store the quarter's grades and quota recommendations")
    p.set_defaults(handler=handle_assess)


def handle_assess(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as

    from ...services import assessment as services

    month, quarter = options.get("month"), options.get("quarter")
    if bool(month) == bool(quarter):
        raise UsageError("give exactly one of --month YYYY-MM or --quarter YYYY-Qn")
    try:
        with acting_as(None, channel="cli"):
            if month:
                year, m = services.parse_month(month)
                for row in services.assessment_compute_month(None, year=year, month=m):
                    command.stdout.write(json.dumps(
                        {"operator": row.operator.code, "month": f"{row.month:%Y-%m}", "revision": row.revision,
                         "status": row.status, "total": row.total}, ensure_ascii=False))  # fmt: skip
            else:
                year, q = services.parse_quarter(quarter)
                for grade in services.quarter_grade_compute(None, year=year, quarter=q):
                    command.stdout.write(json.dumps(
                        {"operator": grade.operator.code, "quarter": f"{year}-Q{q}", "mean_total": grade.mean_total,
                         "grade": grade.grade, "provisional": grade.provisional,
                         "recommendations": grade.recommendations}, ensure_ascii=False))  # fmt: skip
    except ServiceError as exc:
        raise UsageError(f"{exc.error_code}: {exc.detail}") from None
