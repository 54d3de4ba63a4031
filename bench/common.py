"""Shared shape of every benchmark record (one shape for all apps).

Each benchmark module under ``bench/`` exposes ``run() -> list[dict]`` whose items are
built with :func:`record`. ``bench/run.py`` collects them, prints a table and writes
``var/bench/results.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# The PostgreSQL server the database benchmarks create their scratch databases on.
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


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


def pg_admin(sql: str) -> None:
    """Run one statement on the PostgreSQL server (autocommit: CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def scratch_postgres(bench: str, *, debug: bool = True) -> Iterator[bool]:
    """A fresh PostgreSQL database ``govcenter_<bench>_<pid>`` with Django set up on it and
    migrated (the test settings, plus the test client's host); dropped at exit, whatever happens.

    Yields False (after printing why) when PostgreSQL is not reachable: the benchmark then
    records nothing. ``debug=False`` turns Django's query log off for timing-sensitive runs.
    """
    name = f"govcenter_{bench}_{os.getpid()}"
    try:
        pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        print(f"{bench} skipped: PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__})")
        yield False
        return
    try:
        os.environ["GOVCENTER_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
        os.environ["DJANGO_SETTINGS_MODULE"] = "govcenter.test_settings"
        os.environ["GOVCENTER_DEBUG"] = "true"
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        settings.DEBUG = debug
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the Django test client
        call_command("migrate", verbosity=0)
        yield True
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001,S110
            pass
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_isolated(script: Path | str, measure: Callable[[], list[dict]], *, timeout: int = 900) -> list[dict]:
    """``measure()`` here if Django is not set up in this process yet; otherwise ``script --json``
    in a fresh interpreter (a bench configures Django its own way: a scratch database, its own
    settings), passing its printed lines through and returning the records of its last line."""
    from django.conf import settings

    if not settings.configured:
        return measure()
    out = subprocess.run(
        [sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=timeout, check=True
    ).stdout.strip()
    lines = out.splitlines()
    for line in lines[:-1]:
        print(line)
    last = lines[-1] if lines else "[]"
    return json.loads(last) if last.startswith("[") else []


def main(measure: Callable[[], list[dict]]) -> None:
    """A bench run as a script: ``--json`` prints the records as one JSON line (for
    :func:`run_isolated`), otherwise one readable line per record."""
    records = measure()
    if "--json" in sys.argv:
        print(json.dumps(records))
        return
    for r in records:
        print(
            f"{r['name']:>40}: {r['value']:>12,.1f} {r['unit']}  "
            f"(baseline {r['baseline_value']:,.1f} {r.get('baseline_name', '')}, ratio {r['ratio']})"
        )
