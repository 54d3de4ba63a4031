"""HMAC-SM3 signed requests from machines (parking devices, bike-share operators).

A caller signs ``METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))`` (UTF-8) with its shared
secret and sends the Unix-seconds timestamp, a nonce (8–64 characters) and the hex MAC.
:func:`verify` checks them in a fixed order — timestamp, nonce, signature format, key,
MAC, replay — and raises :class:`SignatureRefusedError` with a reason code the caller counts and
turns into its 401. Only a valid signature consumes the nonce (remembered in the cache for
twice the window, shared across processes when the cache is Redis), so nobody can burn
another caller's nonces.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.cache import cache
from django.utils import timezone

from .crypto import hmac_sm3_verify, sm3_hex

NONCE_MIN, NONCE_MAX = 8, 64


class SignatureRefusedError(Exception):
    """A signed request refused: ``reason`` is the code to count, ``message`` the caller's text."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def signing_string(*, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a caller signs: ``METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))`` (UTF-8)."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{sm3_hex(body)}".encode()


def verify(
    *,
    key: Callable[[], bytes],
    no_key_message: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path: str,
    body: bytes,
    window_s: int,
    nonce_scope: str,
) -> None:
    """Check one signed request of a known caller; :class:`SignatureRefusedError` if it is not good.

    ``key()`` returns the caller's secret (any exception: ``bad_signature`` with
    ``no_key_message``); ``nonce_scope`` names the caller in the replay cache.
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise SignatureRefusedError("bad_timestamp", "X-Timestamp must be Unix seconds") from None
    if abs(timezone.now().timestamp() - ts) > window_s:
        raise SignatureRefusedError(
            "stale_timestamp", f"X-Timestamp is more than {window_s} s from the server clock"
        )
    if not NONCE_MIN <= len(nonce) <= NONCE_MAX:
        raise SignatureRefusedError("bad_nonce", f"X-Nonce must be {NONCE_MIN}–{NONCE_MAX} characters")
    try:
        mac = bytes.fromhex(signature)
    except ValueError:
        raise SignatureRefusedError("bad_signature", "X-Signature must be hex") from None
    try:
        secret = key()
    except Exception:  # noqa: BLE001 - no credential, or a tampered ciphertext: the same refusal
        raise SignatureRefusedError("bad_signature", no_key_message) from None
    data = signing_string(method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    if not hmac_sm3_verify(secret, data, mac):
        raise SignatureRefusedError("bad_signature", "the signature does not match")
    if not cache.add(f"{nonce_scope}:{nonce}", 1, timeout=2 * window_s):
        raise SignatureRefusedError("replayed_nonce", "this nonce was already used")
