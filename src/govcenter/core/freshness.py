"""Freshness sources: a name → "when did the newest data of this kind arrive?".

Domain apps register their sources in ``AppConfig.ready()`` (bike-share: the newest report in
its live state); the O&M monitor's freshness probe asks by name, so ops never imports the
domain apps and they never import ops (the kernel is the meeting point, as for seeding).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

_SOURCES: dict[str, Callable[[], dt.datetime | None]] = {}


def register(name: str, newest: Callable[[], dt.datetime | None]) -> None:
    """Register ``newest()``: the aware time of the newest data, or None when there is none."""
    _SOURCES[name] = newest


def names() -> list[str]:
    return sorted(_SOURCES)


def newest(name: str) -> dt.datetime | None:
    """The time of the newest data of source ``name`` (KeyError for an unknown name)."""
    return _SOURCES[name]()
