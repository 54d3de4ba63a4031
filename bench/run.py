"""Run every benchmark: ``python bench/run.py [--only NAME]`` (``make bench``).

Imports each ``bench/bench_*.py`` module, calls its ``run() -> list[dict]`` (records of the
shape built by ``bench.common.record``), prints one table and writes the list of records to
``var/bench/results.json``. Targets are reported, never asserted: the exit status is non-zero
only when a benchmark module crashed (or ``--only`` matched nothing).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
REQUIRED_KEYS = ("name", "value", "unit", "baseline_name", "baseline_value", "ratio", "target", "machine")


def discover(only: str | None = None) -> list[str]:
    """Module names ``bench_*`` in bench/, optionally only those whose name contains ``only``."""
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if only:
        names = [n for n in names if only in n or only == n.removeprefix("bench_")]
    return names


def _fmt(value) -> str:
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(records: list[dict]) -> str:
    headers = ["name", "value", "unit", "baseline", "baseline value", "ratio", "target"]
    rows = [
        [
            r["name"],
            _fmt(r["value"]),
            r["unit"],
            r["baseline_name"],
            _fmt(r["baseline_value"]),
            _fmt(r["ratio"]),
            r["target"],
        ]
        for r in records
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    numeric = {1, 4, 5}

    def line(cells):
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers).rstrip(), "  ".join("-" * w for w in widths)]
    out.extend(line(r).rstrip() for r in rows)
    return "\n".join(out)


def run_module(name: str) -> list[dict]:
    module = importlib.import_module(f"bench.{name}")
    records = module.run() or []
    for rec in records:
        missing = [k for k in REQUIRED_KEYS if k not in rec]
        if missing:
            raise ValueError(f"{name}: record {rec.get('name', '?')!r} lacks {', '.join(missing)}")
    return list(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME", help="run only bench modules whose name contains NAME (e.g. crypto)")
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default var/bench/results.json under GOVCENTER_VAR_DIR)"
    )
    args = parser.parse_args(argv)

    # Benchmarks import govcenter (Django settings, optional): make the repo importable as `bench.*`.
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.settings")
    os.environ.setdefault("GOVCENTER_DEBUG", "true")
    import django

    django.setup()  # benchmarks of services and selectors need the app registry

    names = discover(args.only)
    if not names:
        print(f"bench: no bench module matches {args.only!r}", file=sys.stderr)
        return 2

    records: list[dict] = []
    crashed: list[str] = []
    for name in names:
        print(f"running {name} …", flush=True)
        start = time.perf_counter()
        try:
            got = run_module(name)
        except Exception:  # noqa: BLE001 — one broken module must not hide the others' numbers
            traceback.print_exc()
            crashed.append(name)
            print(f"  {name} CRASHED", flush=True)
            continue
        records.extend(got)
        print(f"  {len(got)} records in {time.perf_counter() - start:.1f} s", flush=True)

    var_dir = Path(os.environ.get("GOVCENTER_VAR_DIR", ROOT / "var"))
    output = args.output or var_dir / "bench" / "results.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n")

    print()
    print(table(records) if records else "(no records)")
    if records:
        print(f"\nmachine: {records[0]['machine']}")
    print(f"wrote {len(records)} records to {output}")
    if crashed:
        print(f"bench: crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
