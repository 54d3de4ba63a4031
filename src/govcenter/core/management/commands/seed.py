"""``govcenter seed``: production-safe reference data (districts, calendar, built-in roles).

Idempotent: a second run changes nothing and says so. No people, no passwords.
"""

from __future__ import annotations

import importlib

from ... import seeding
from ...context import acting_as
from ...roles import ensure_builtin_roles
from ..base import GovcenterCommand


def load_reference_data() -> dict[str, dict[str, int]]:
    """Districts, the working calendar, the built-in roles, then the loaders domain apps
    registered in :mod:`govcenter.core.seeding`; ``{step: counts}``."""
    results: dict[str, dict[str, int]] = {}
    # The loaders live beside their models; imported here so the command has one entry point.
    for step, module, func in (
        ("districts", "govcenter.core.districts", "load_districts"),
        ("calendar", "govcenter.core.calendar", "seed_calendar"),
    ):
        loader = getattr(importlib.import_module(module), func)
        results[step] = loader()
    results["roles"] = ensure_builtin_roles()
    for step, loader in seeding.loaders():  # contributed by domain apps (core.seeding)
        results[step] = loader()
    return results


def changed(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k in {"created", "updated"})


class Command(GovcenterCommand):
    help = "Load reference data: districts, working calendar, built-in roles (idempotent)."

    def handle(self, *args, **options):
        with acting_as(None, channel="cli"):
            results = load_reference_data()
        total = 0
        for step, counts in results.items():
            total += changed(counts)
            detail = ", ".join(f"{k} {v}" for k, v in counts.items())
            self.stdout.write(f"{step}: {detail}")
        if total:
            self.stdout.write(self.style.SUCCESS(f"seed: {total} rows created or updated"))
        else:
            self.stdout.write("seed: reference data already up to date; nothing changed")
