"""Loaders contributed by domain apps to ``govcenter seed`` (reference data) and
``govcenter demo`` (the small demo of every built module that ``make run`` loads).

Core may not import the domain apps (import-linter), so an app registers its loader from
its ``AppConfig.ready()``: ``seeding.register("tariffs", tariff_seed_beijing_standard)``.
A loader takes no arguments, is idempotent, audits its own writes and returns counts
(``{"created": n, "unchanged": m, …}``). ``govcenter seed`` runs them after the core steps,
in registration order (the order of INSTALLED_APPS).
"""

from __future__ import annotations

from collections.abc import Callable

Loader = Callable[[], dict[str, int]]

_loaders: dict[str, Loader] = {}
_demo_loaders: dict[str, Loader] = {}


def register(name: str, loader: Loader) -> None:
    """Add (or replace, when ``ready()`` runs twice) the loader called ``name``."""
    _loaders[name] = loader


def loaders() -> list[tuple[str, Loader]]:
    """The registered ``(name, loader)`` pairs, in registration order."""
    return list(_loaders.items())


def register_demo(name: str, loader: Loader) -> None:
    """Add the demo loader called ``name`` (idempotent, DEBUG only, runs after core's demo)."""
    _demo_loaders[name] = loader


def demo_loaders() -> list[tuple[str, Loader]]:
    """The registered demo ``(name, loader)`` pairs, in registration order."""
    return list(_demo_loaders.items())
