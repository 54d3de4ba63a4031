"""``govcenter ops demo [--days 90]``: a quarter of O&M history. Calls each area's
``load_demo(days=…)`` from ``settings.GOVCENTER_OPS_DEMO_LOADERS`` (an explicit list of dotted
paths), in order, and prints what each loaded. A second run loads nothing new (each loader
marks its rows). Needs ``govcenter seed`` and ``govcenter demo`` first (the demo accounts)."""

from __future__ import annotations

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="load a quarter of O&M demo history (incidents, logs, ledger …)")
    p.add_argument("--days", type=int, default=90, help="days of history (1–366, default 90)")
    p.set_defaults(handler=handle_demo)


def handle_demo(command, options: dict) -> None:
    from django.conf import settings
    from django.utils.module_loading import import_string

    from govcenter.core.models import User

    days = options["days"]
    if not 1 <= days <= 366:
        raise UsageError("ops demo: --days must be between 1 and 366")
    if not User.objects.filter(username="omengineer").exists():
        raise UsageError("ops demo: the demo accounts are missing (run govcenter demo first)")
    rows = []
    for path in settings.GOVCENTER_OPS_DEMO_LOADERS:
        loaded = import_string(path)(days=days) or {}
        rows.extend((path, name, count) for name, count in loaded.items())
        if not loaded:
            rows.append((path, "-", 0))
    width = max(len(r[0]) for r in rows) if rows else 10
    command.stdout.write(f"{'loader':<{width}}  {'rows':<20} count")
    for path, name, count in rows:
        command.stdout.write(f"{path:<{width}}  {name:<20} {count}")
