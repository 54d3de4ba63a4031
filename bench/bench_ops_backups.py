"""Backup file encryption: throughput of the chunked SM4-GCM format (``ops.backups.stream``,
file to file, SM3 of plaintext and ciphertext included) against the one-shot
``core.crypto.sm4_encrypt`` over the same bytes held in memory, measured in the same run. The
ratio shows what streaming (chunk records, two SM3 passes, file I/O) costs; the target is a
ratio of at least 0.5 (a dump is encrypted at no less than half the raw cipher speed).

Run alone with ``python bench/bench_ops_backups.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

try:  # imported as bench.bench_ops_backups by bench/run.py
    from bench.common import rate, record
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import rate, record  # type: ignore[no-redef]

from govcenter.core.crypto import sm4_encrypt
from govcenter.ops.backups import stream

SIZE = 8_000_000  # 8 MB (10**6 bytes per MB)
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def run() -> list[dict]:
    data = os.urandom(SIZE)
    with tempfile.TemporaryDirectory(prefix="bench-backups-") as tmp:
        src, dst = Path(tmp) / "plain", Path(tmp) / "enc"
        src.write_bytes(data)

        def chunked() -> int:
            dst.unlink(missing_ok=True)
            stream.encrypt_file(src, dst, key=KEY, chunk_size=1024 * 1024)
            return SIZE // 1_000_000

        def one_shot() -> int:
            sm4_encrypt(KEY, data)
            return SIZE // 1_000_000

        chunked_rate, baseline = rate(chunked, min_seconds=1.0), rate(one_shot, min_seconds=1.0)
        out = Path(tmp) / "out"

        def decrypt() -> int:
            out.unlink(missing_ok=True)
            stream.decrypt_file(dst, out, key=KEY)
            return SIZE // 1_000_000

        decrypt_rate = rate(decrypt, min_seconds=1.0)
    return [
        record(name="ops.backups.encrypt_file", value=chunked_rate, unit="MB/s",
               baseline_name="core.crypto.sm4_encrypt one-shot", baseline_value=baseline, target="ratio ≥ 0.5"),
        record(name="ops.backups.decrypt_file", value=decrypt_rate, unit="MB/s",
               baseline_name="core.crypto.sm4_encrypt one-shot", baseline_value=baseline, target="ratio ≥ 0.5"),
    ]  # fmt: skip


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item, ensure_ascii=False))
