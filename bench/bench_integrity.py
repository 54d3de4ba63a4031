"""Web anti-tamper benchmark: how long a full integrity check takes (every file hashed, every
time — a tamperer can keep mtime and size, so the check takes no shortcut on them).

Two corpora: the real watched directories (every templates/ and static/ folder of the
govcenter apps, ~200 files, a few MB) and a synthetic web root of 2,000 files of 20 KB
(40 MB). For each: MB/s of ``integrity_check`` (manifest signature verified, every file
hashed with SM3, the walk for added files, the check row and its audit entry). Baseline, same
run and same files: reading them and hashing with ``hashlib.sha256`` (hardware-assisted), i.e.
the cost of I/O and a fast hash alone. Run alone with ``python bench/bench_integrity.py``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

try:  # imported as bench.bench_integrity by bench/run.py
    from bench.common import main, record, run_isolated
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import main, record, run_isolated  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
SYNTHETIC_FILES, SYNTHETIC_SIZE = 2000, 20 * 1024


def _setup_django(tmp: Path) -> None:
    os.environ["GOVCENTER_VAR_DIR"] = str(tmp)
    os.environ["GOVCENTER_DATABASE_URL"] = f"sqlite:///{tmp / 'bench-integrity.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.test_settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    call_command("migrate", verbosity=0)


def _sha256_rate(paths: list[Path]) -> float:
    best = 0.0
    for _ in range(3):
        t0, total = time.perf_counter(), 0
        for path in paths:
            data = path.read_bytes()
            hashlib.sha256(data).digest()
            total += len(data)
        best = max(best, total / (time.perf_counter() - t0) / 1e6)
    return best


def _check_rate(svc) -> tuple[float, int, int]:
    best, files, size = 0.0, 0, 0
    for _ in range(3):
        check = svc.integrity_check(restore=True, trigger="bench")
        assert check.status == "ok", check.mismatches
        best = max(best, check.bytes_hashed / (check.duration_ms / 1000) / 1e6)
        files, size = check.files_checked, check.bytes_hashed
    return best, files, size


def measure() -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="govcenter-bench-integrity-") as tmpdir:
        tmp = Path(tmpdir)
        _setup_django(tmp)
        from django.conf import settings

        from govcenter.ops.integrity import services as svc

        real_roots = svc.watched_roots()
        svc.baseline_create(actor=None)
        real_paths = [full for root in real_roots.values() for _rel, full in svc._walk(root)]
        rate, files, size = _check_rate(svc)
        results.append(record(name=f"integrity.check real dirs ({files} files, {size / 1e6:.1f} MB)", value=rate,
                              unit="MB/s", baseline_name="read + hashlib.sha256 of the same files",
                              baseline_value=_sha256_rate(real_paths), target="a full check well under 1 min"))  # fmt: skip

        site = tmp / "site"
        for i in range(SYNTHETIC_FILES):
            path = site / f"d{i % 50:02d}" / f"f{i:05d}.js"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(SYNTHETIC_SIZE))
        settings.GOVCENTER_OPS_INTEGRITY_DIRS = [str(site)]
        svc.baseline_create(actor=None)
        rate, files, size = _check_rate(svc)
        synthetic = [p for p in site.rglob("*") if p.is_file()]
        results.append(record(name=f"integrity.check synthetic ({files} files, {size / 1e6:.0f} MB)", value=rate,
                              unit="MB/s", baseline_name="read + hashlib.sha256 of the same files",
                              baseline_value=_sha256_rate(synthetic)))  # fmt: skip
    return results


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=900)


if __name__ == "__main__":
    main(measure)
