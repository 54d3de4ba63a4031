"""Smoke tests of the bike-share benches (bench/bench_bikeshare_analyses.py and _latency.py).

Each bench's main path runs end to end at a tiny size as a script (as ``make bench`` runs it,
in its own interpreter) and prints its numbers with the baseline ratio; nothing here asserts
a time — the numbers are only reported. The analyses bench's data cache is checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench import bench_bikeshare_analyses as analyses_bench
from bench import bench_bikeshare_latency as latency_bench

ROOT = Path(__file__).resolve().parents[2]


def script(name: str, *args: str, var: Path, timeout: int = 600) -> list[str]:
    """Run ``bench/<name>`` with ``args`` in a fresh interpreter; its stdout lines."""
    env = {**os.environ, "GOVCENTER_VAR_DIR": str(var)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the bench sets Django up its own way
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def record_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "(baseline " in line and ", ratio " in line]


def test_analyses_bench_runs_and_caches_its_data(tmp_path):
    args = ("--scale", "0.001", "--days", "2", "--no-spark", "--runs", "1")
    lines = script("bench_bikeshare_analyses.py", *args, var=tmp_path)
    text = "\n".join(lines)
    for n in (1, 2, 3, 5, 7):
        assert f"analysis {n} (" in text
    names = [line.split(":")[0].strip() for line in record_lines(lines)]
    assert names == [f"bikeshare.analyses.{k}" for k in ("1_duckdb", "2_duckdb", "3_duckdb", "7_duckdb")] + [
        "bikeshare.analyses.5_live_counts",
        "bikeshare.rollups.build_per_day",
        "bikeshare.analyses.1_served",
        "bikeshare.analyses.7_served",
    ]
    assert "target ≤ 2 s met:" in text
    assert "analysis 1 (rides by hour/peaks/monthly) as served" in text
    assert "6,200 trips over 2 days" in text  # 3,100 trips a day at scale 0.001
    base = tmp_path / "bench" / "bikeshare-month-s0.001-d2-20240901"
    manifest = json.loads((base / "manifest.json").read_text())
    assert manifest["trips"] == 6_200 and manifest["days"] == 2 and manifest["telemetry_points"] > 0
    assert sorted(p.name for p in (base / "lake" / "trips").iterdir()) == [
        "date=2026-10-17",
        "date=2026-10-18",
    ]
    assert (base / "live.db").exists()
    # The served part's "five minutes of new trips" were removed again: the cached lake is intact.
    import pyarrow.dataset as ds

    assert ds.dataset(base / "lake" / "trips", format="parquet").count_rows() == 6_200
    assert (base / "lake" / "rollups" / "rides_hourly").is_dir()

    # The same parameters reuse the data (nothing is rewritten); other ones rebuild.
    stamp = (base / "manifest.json").stat().st_mtime_ns
    os.environ["GOVCENTER_VAR_DIR"], saved = str(tmp_path), os.environ.get("GOVCENTER_VAR_DIR")
    try:
        assert analyses_bench.ensure_data(0.001, 2, log=lambda *a: None) == base
    finally:
        if saved is None:
            os.environ.pop("GOVCENTER_VAR_DIR")
        else:
            os.environ["GOVCENTER_VAR_DIR"] = saved
    assert (base / "manifest.json").stat().st_mtime_ns == stamp


def test_analyses_bench_options_refuse_nonsense():
    with pytest.raises(SystemExit):
        analyses_bench.options(["--scale", "0"])
    with pytest.raises(SystemExit):
        analyses_bench.options(["--days", "0"])
    args = analyses_bench.options(["--scale", "0.5", "--days", "7", "--no-spark"])
    assert (args.scale, args.days, args.spark) == (0.5, 7, False)


def test_latency_bench_runs_and_prints_percentiles(tmp_path):
    lines = script("bench_bikeshare_latency.py", "--samples", "3", "--no-redis", var=tmp_path)
    text = "\n".join(lines)
    assert "sqlite live store, 3 samples: POST 201 → count visible p50" in text
    assert "direct live.update → visible p50" in text
    names = [line.split(":")[0].strip() for line in record_lines(lines)]
    assert names == ["bikeshare.live.ingest_to_count_p95_sqlite"]


def test_latency_summary_percentiles():
    summary = latency_bench._summary([0.5, 0.1, 0.2, 0.3, 0.4])
    assert summary == {"p50": 0.3, "p95": 0.5, "max": 0.5, "n": 5}
    assert latency_bench._pct([1.0], 0.95) == 1.0
