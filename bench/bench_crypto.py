"""National-crypto benchmark: SM2 sign/verify and SM3 throughput of ``govcenter.core.crypto``.

Baselines are measured in the same run, on the same machine:

* SM2: ``openssl speed -seconds 1 sm2`` (the system OpenSSL, C, best of 3 runs). Our numbers go
  through the public API (PEM key strings, DER signatures), so the ratio shows what the wrapper
  costs on top of a C implementation. Without ``openssl``, the pure-Python ``gmssl`` package is
  the baseline if installed; otherwise the benchmark is skipped.
* SM3: ``hashlib.sha256`` on the same 1 MB buffer (SHA-256 has hardware help on most x86 CPUs;
  SM3 does not, so a ratio well below 1 is expected and only tracks regressions).

Run alone with ``python bench/bench_crypto.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

try:  # imported as bench.bench_crypto by bench/run.py
    from bench.common import rate, record
except ImportError:  # run as a script: bench/ is sys.path[0]
    from common import rate, record  # type: ignore[no-redef]

from govcenter.core.crypto import sm2_generate_keypair, sm2_sign, sm2_verify, sm3

MESSAGE = b"govcenter audit checkpoint " * 2  # 54 bytes: the size of a checkpoint digest line
SM2_BATCH = 50  # operations per rate() call: keeps the timer overhead out of a ~0.4 ms op
SM3_BUFFER = os.urandom(1_000_000)  # 1 MB (10**6 bytes), so ops/s == MB/s
_SPEED_LINE = re.compile(r"SM2.*?\s([\d.]+)\s+([\d.]+)\s*$")


def openssl_sm2_speed(openssl: str, runs: int = 3) -> tuple[float, float] | None:
    """Best ``(sign/s, verify/s)`` of ``runs`` runs of ``openssl speed -seconds 1 sm2``; None if unusable."""
    best: tuple[float, float] | None = None
    for _ in range(runs):
        try:
            out = subprocess.run(
                [openssl, "speed", "-seconds", "1", "sm2"], capture_output=True, text=True, timeout=60
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        for line in out.splitlines():
            match = _SPEED_LINE.search(line)
            if match and "bits" in line:
                sign, verify = float(match.group(1)), float(match.group(2))
                best = (sign, verify) if best is None else (max(best[0], sign), max(best[1], verify))
                break
        else:
            return None  # this openssl was built without SM2
    return best


def gmssl_sm2_speed() -> tuple[float, float] | None:
    """``(sign/s, verify/s)`` of the pure-Python ``gmssl`` package, or None if it is not installed."""
    try:
        from gmssl import sm2 as gmssl_sm2  # type: ignore[import-not-found]
    except ImportError:
        return None
    d = os.urandom(32).hex()
    public = gmssl_sm2.CryptSM2(private_key=d, public_key="")._kg(
        int(d, 16), gmssl_sm2.default_ecc_table["g"]
    )
    key = gmssl_sm2.CryptSM2(private_key=d, public_key=public)
    signature = key.sign_with_sm3(MESSAGE)

    def sign() -> int:
        key.sign_with_sm3(MESSAGE)
        return 1

    def verify() -> int:
        key.verify_with_sm3(signature, MESSAGE)
        return 1

    return rate(sign), rate(verify)


def run() -> list[dict]:
    openssl = shutil.which("openssl")
    baseline = openssl_sm2_speed(openssl) if openssl else None
    if baseline is not None:
        sign_base_name, verify_base_name = "openssl speed sm2 sign", "openssl speed sm2 verify"
        target = ">= 0.5x baseline"  # the Python wrapper may cost at most half of raw C speed
    else:
        baseline = gmssl_sm2_speed()
        if baseline is None:
            print(
                "bench_crypto: skipped: no openssl with SM2 on PATH and pure-Python gmssl not installed",
                file=sys.stderr,
            )
            return []
        sign_base_name, verify_base_name = "gmssl (pure Python) sign", "gmssl (pure Python) verify"
        target = ""  # a pure-Python baseline says nothing about the wrapper's overhead

    private_pem, public_pem = sm2_generate_keypair()
    signature = sm2_sign(private_pem, MESSAGE)
    assert sm2_verify(public_pem, MESSAGE, signature)

    def sign() -> int:
        for _ in range(SM2_BATCH):
            sm2_sign(private_pem, MESSAGE)
        return SM2_BATCH

    def verify() -> int:
        for _ in range(SM2_BATCH):
            sm2_verify(public_pem, MESSAGE, signature)
        return SM2_BATCH

    def sm3_once() -> int:
        sm3(SM3_BUFFER)
        return 1

    def sha256_once() -> int:
        hashlib.sha256(SM3_BUFFER).digest()
        return 1

    return [
        record(
            name="core.sm2.sign",
            value=rate(sign),
            unit="ops/s",
            baseline_name=sign_base_name,
            baseline_value=baseline[0],
            target=target,
        ),
        record(
            name="core.sm2.verify",
            value=rate(verify),
            unit="ops/s",
            baseline_name=verify_base_name,
            baseline_value=baseline[1],
            target=target,
        ),
        record(
            name="core.sm3",
            value=rate(sm3_once),
            unit="MB/s",
            baseline_name="hashlib sha256",
            baseline_value=rate(sha256_once),
        ),
    ]


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item, ensure_ascii=False))
