"""Audit chain benchmark: ``audit.record`` and ``audit verify`` entries per second.

Writes 20,000 entries (checkpoints every ``GOVCENTER_AUDIT_CHECKPOINT_EVERY``, default
1,000, so 20 SM2 signatures) into a fresh temporary SQLite database migrated for the run,
then verifies the whole chain. Baseline, same run and same bytes: ``hashlib.sha256`` chained
over the canonical bytes of those 20,000 entries, i.e. the cost of hashing alone with a
hardware-assisted hash and no database. The ratio shows what SM3 plus the ORM (record: one
transaction per entry; verify: keyset-batched reads, JSON decoding, canonical re-encoding)
cost on top. An extra line gives SM3 chained over the same bytes, to split the two.

Django is set up with ``govcenter.test_settings`` (as the tests do). If Django is already
configured in this process (another benchmark ran first), the measurement runs in a
fresh subprocess so that it gets its own settings and database.

Run alone with ``python bench/bench_audit.py``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

try:  # imported as bench.bench_audit by bench/run.py
    from bench.common import main, record, run_isolated
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import main, record, run_isolated  # type: ignore[no-redef]

ENTRIES = 20_000
HERE = Path(__file__).resolve()


def _setup_django(tmp: Path) -> None:
    os.environ["GOVCENTER_VAR_DIR"] = str(tmp)
    os.environ["GOVCENTER_DATABASE_URL"] = f"sqlite:///{tmp / 'bench-audit.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.test_settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Production runs with DEBUG off: no query log growing in memory, no debug cursor.
    settings.DEBUG = False
    call_command("migrate", verbosity=0)


def measure(n: int = ENTRIES) -> list[dict]:
    """The benchmark proper (Django must not be configured yet in this process)."""
    with tempfile.TemporaryDirectory(prefix="govcenter-bench-audit-") as tmpdir:
        _setup_django(Path(tmpdir))
        from django.db import connection

        from govcenter.core import audit, context
        from govcenter.core.crypto import sm3_hex
        from govcenter.core.models import AuditEntry

        with context.acting_as(None, channel="task", ip="10.20.30.40"):
            start = time.perf_counter()
            for i in range(n):
                audit.record(
                    action="parking.order.update",
                    object_type="parking.order",
                    object_id=100_000 + i,
                    object_repr=f"订单 {100_000 + i}",
                    changes={
                        "before": {"status": "open", "fee_fen": i},
                        "after": {"status": "paid", "fee_fen": i + 500},
                    },
                )
            record_rate = n / (time.perf_counter() - start)

        connection.close()  # verify from a cold connection, as the CLI does
        start = time.perf_counter()
        result = audit.verify_chain()
        verify_rate = n / (time.perf_counter() - start)
        assert result.ok and result.entries == n, result.summary()

        # Baselines over exactly the bytes verify hashes (prepared outside the timed part).
        rows = list(AuditEntry.objects.order_by("seq").values_list(*audit.ROW_FIELDS))
        payloads = [audit._canonical_values(row[:16]) for row in rows]

        def chained(hexdigest) -> float:
            prev = audit.GENESIS_HASH
            t0 = time.perf_counter()
            for payload in payloads:
                prev = hexdigest(prev.encode() + payload)
            return len(payloads) / (time.perf_counter() - t0)

        sha_rate = max(chained(lambda b: hashlib.sha256(b).hexdigest()) for _ in range(3))
        sm3_rate = max(chained(sm3_hex) for _ in range(3))
        assert chained_ok(rows, sm3_hex, audit.GENESIS_HASH, payloads)
        connection.close()

    baseline = "hashlib.sha256 chained over the same canonical bytes (no DB)"
    return [
        record(
            name="audit.record",
            value=record_rate,
            unit="entries/s",
            baseline_name=baseline,
            baseline_value=sha_rate,
            target=">= 1,000 entries/s on SQLite",
        ),
        record(
            name="audit.verify",
            value=verify_rate,
            unit="entries/s",
            baseline_name=baseline,
            baseline_value=sha_rate,
            target=">= 20,000 entries/s (1M entries < 1 min)",
        ),
        record(
            name="audit.sm3_chain",
            value=sm3_rate,
            unit="entries/s",
            baseline_name=baseline,
            baseline_value=sha_rate,
        ),
    ]


def chained_ok(rows, hexdigest, genesis: str, payloads) -> bool:
    """The canonical bytes used by the baselines are the ones the stored hashes cover."""
    prev = genesis
    for row, payload in zip(rows, payloads, strict=True):
        prev = hexdigest(prev.encode() + payload)
        if prev != row[-1]:
            return False
    return True


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=900)


if __name__ == "__main__":
    main(measure)
