"""``govcenter bikeshare pull --operator CODE [--kind trips|events|telemetry|vehicles_status|gbfs] [--since … --until …]``.

Pulls one operator's MDS Provider data (or its GBFS vehicle status) once and feeds it to the
ingest path, like the periodic task (``bikeshare.pull``). ``--since``/``--until`` are ISO 8601
times (a time without a zone is Beijing time); without ``--since`` the pull resumes from the
last hour remembered. Prints the report as JSON. Bad input exits 2; a failed pull exits 1.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import CommandError
from django.utils import timezone

from govcenter.core.management.base import UsageError

KIND_CHOICES = ("trips", "events", "telemetry", "vehicles_status", "gbfs")


def register(subparsers) -> None:
    p = subparsers.add_parser("pull", help="pull an operator's MDS Provider data or GBFS feed once")
    p.add_argument("--operator", required=True, help="the operator's unit code")
    p.add_argument("--kind", default="trips", help=f"one of {', '.join(KIND_CHOICES)} (default trips)")
    p.add_argument("--since", help="first hour to pull (ISO 8601; default: resume)")
    p.add_argument("--until", help="pull hours ending before this (ISO 8601; default now)")
    p.add_argument("--gbfs-url", help="with --kind gbfs: this gbfs.json instead of the profile's")
    p.set_defaults(handler=handle_pull)


def _moment(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--{name} {value!r}: use an ISO 8601 time, e.g. 2026-11-26T08:00+08:00") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def handle_pull(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.core.models import Unit, UnitKind

    from ...pull import PullError, pull_gbfs, pull_provider

    kind = options["kind"]
    if kind not in KIND_CHOICES:
        raise UsageError(f"--kind {kind!r}: use one of {', '.join(KIND_CHOICES)}")
    operator = Unit.objects.filter(code=options["operator"], kind=UnitKind.OPERATOR).first()
    if operator is None:
        raise UsageError(f"--operator {options['operator']!r}: no operator unit has that code")
    since, until = _moment(options.get("since"), "since"), _moment(options.get("until"), "until")
    if since and until and since >= until:
        raise UsageError("--since must be before --until")
    with acting_as(None, channel="cli"):
        try:
            if kind == "gbfs":
                report = pull_gbfs(operator, options.get("gbfs_url"))
            else:
                report = pull_provider(operator, kind, since=since, until=until)
        except (PullError, ServiceError) as exc:  # HTTP/body problems; the stream unavailable
            raise CommandError(f"pull failed: {exc}") from None
    command.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
