"""``govcenter ops monitor [--once] [--targets NAME,…] [--workers N] [--duration SECONDS]``: the
probe scheduler (7×24: run it under the process supervisor; ``--once`` probes every target
now, records and prints the results as JSON).

``govcenter ops maintenance --name TEXT --unit CODE --start ISO --end ISO [--targets NAME,…]
[--no-collection] [--note TEXT]``: add a maintenance window (no targets: all the unit's
targets). An overlapping window on the same target exits 2 with one line naming it.
A time without a UTC offset is Beijing time."""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="run the probe scheduler (or --once: every target now)")
    p.add_argument("--once", action="store_true", help="probe every enabled target once, record, print JSON")
    p.add_argument("--targets", default="", help="only these targets (comma-separated names)")
    p.add_argument("--workers", type=int, default=32, help="probe threads (default 32)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: never)")
    p.set_defaults(handler=handle_monitor)
    m = subparsers.add_parser("maintenance", help="add a maintenance window (overlap on a target: exit 2)")
    m.add_argument("--name", required=True)
    m.add_argument("--unit", required=True, help="the unit code owning the targets")
    m.add_argument("--start", required=True, help="ISO 8601")
    m.add_argument("--end", required=True, help="ISO 8601")
    m.add_argument("--targets", default="", help="comma-separated target names (default: all of the unit)")
    m.add_argument("--no-collection", action="store_true", help="do not even run the probes during the window")
    m.add_argument("--note", default="")
    m.set_defaults(handler=handle_maintenance)


def _names(text: str) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _when(text: str, option: str) -> dt.datetime:
    from govcenter.ops.sla import TZ

    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"ops maintenance: {option} {text!r} is not an ISO 8601 date and time") from None
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value


def _check_targets(names: list[str], command: str):
    from govcenter.ops.models import MonitorTarget

    found = list(MonitorTarget.objects.filter(name__in=names))
    missing = sorted(set(names) - {t.name for t in found})
    if missing:
        raise UsageError(f"ops {command}: no target named {', '.join(missing)}")
    return found


def handle_monitor(command, options: dict) -> None:
    from govcenter.core.context import acting_as
    from govcenter.ops.monitoring import scheduler

    names = _names(options["targets"])
    if names:
        _check_targets(names, "monitor")
    if not 1 <= options["workers"] <= 512:
        raise UsageError("ops monitor: --workers must be 1–512")
    with acting_as(None, channel="monitor"):
        if options["once"]:
            runs, summary = scheduler.run_once(names or None, workers=options["workers"])
            rows = [{"target": r.job.id, "kind": r.job.kind, "ok": r.outcome.ok, "latency_ms": r.outcome.latency_ms,
                     "value": r.outcome.value, "message": r.outcome.message} for r in runs]  # fmt: skip
            command.stdout.write(json.dumps({"results": rows, "fired": summary.fired, "resolved": summary.resolved,
                                             "incidents": list(summary.incidents)}, ensure_ascii=False, indent=2))  # fmt: skip
            return
        import time

        until = time.time() + options["duration"] if options["duration"] else None
        written = scheduler.run_forever(names or None, workers=options["workers"], until=until, out=command.stdout)
        command.stdout.write(f"monitor stopped: {written} results written")


def handle_maintenance(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.core.models import Unit
    from govcenter.ops.monitoring import services

    unit = Unit.objects.filter(code=options["unit"].strip()).first()
    if unit is None:
        raise UsageError(f"ops maintenance: no unit with code {options['unit']!r}")
    targets = _check_targets(_names(options["targets"]), "maintenance") if _names(options["targets"]) else []
    start, end = _when(options["start"], "--start"), _when(options["end"], "--end")
    try:
        with acting_as(None, channel="cli"):
            window = services.window_create(actor=services.SYSTEM, name=options["name"], unit=unit, starts_at=start,
                                            ends_at=end, targets=targets, with_collection=not options["no_collection"],
                                            note=options["note"])  # fmt: skip
    except ServiceError as exc:
        raise UsageError(f"ops maintenance: {exc.detail}") from None
    command.stdout.write(f"maintenance window {window.pk} added: {window.name}")
