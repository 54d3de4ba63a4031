"""Shared shape of every benchmark record (one shape for all apps).

Each benchmark module under ``bench/`` exposes ``run() -> list[dict]`` whose items are
built with :func:`record`. ``bench/run.py`` collects them, prints a table and writes
``var/bench/results.json``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable


def machine() -> str:
    """A short description of the machine the numbers were measured on."""
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores {platform.python_implementation()} {platform.python_version()}"


def record(
    *,
    name: str,
    value: float,
    unit: str,
    baseline_name: str,
    baseline_value: float,
    target: str = "",
) -> dict:
    """One benchmark result; ``ratio`` is value / baseline_value (higher is better for rates)."""
    ratio = value / baseline_value if baseline_value else float("inf")
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline_value": round(baseline_value, 3),
        "ratio": round(ratio, 3),
        "target": target,
        "machine": machine(),
    }


def rate(fn: Callable[[], int], *, min_seconds: float = 1.0) -> float:
    """Operations per second of ``fn`` (which returns how many operations it did), best of 3."""
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        while True:
            done += fn()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, done / elapsed)
    return best
