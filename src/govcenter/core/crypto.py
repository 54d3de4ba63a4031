"""National (GM/T, "国密") cryptography for the kernel: SM3 hash, HMAC-SM3, SM4-GCM, SM2 signatures.

Which library does what (see ``docs/decisions/0002-national-crypto-library.md``):

* SM3, HMAC-SM3 and SM4 come from pyca ``cryptography`` (already a dependency, wheels bundle a
  current OpenSSL that implements both).
* SM2 sign/verify comes from ``tongsuopy`` (bindings to Tongsuo, the OpenAtom OpenSSL fork
  focused on the Chinese algorithms): pyca ``cryptography`` does not expose the SM2 curve.

Formats, chosen so that the system OpenSSL CLI can check our artefacts:

* SM2 keys produced here are PEM strings: private keys are unencrypted PKCS#8
  (``-----BEGIN PRIVATE KEY-----``), public keys SubjectPublicKeyInfo
  (``-----BEGIN PUBLIC KEY-----``). Inputs also accept hex, for keys exchanged with front-end
  SM2 libraries: a private key as the 64-hex-digit scalar ``d``, a public key as the
  130-hex-digit uncompressed point ``04‖X‖Y`` (or 128 digits without the ``04``).
* SM2 signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` (70–72 bytes) over
  ``SM3(Z‖data)`` with the standard default signer ID ``1234567812345678`` (GB/T 32918.2), i.e.
  ``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`` accepts them.
* SM4 tokens are ``nonce(12) ‖ ciphertext ‖ tag(16)`` from SM4-GCM.
"""

from __future__ import annotations

import functools
import hmac as _std_hmac
import logging
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes as _hashes
from cryptography.hazmat.primitives import hmac as _hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto import hashes as _ts_hashes
from tongsuopy.crypto import serialization as _ts_serialization
from tongsuopy.crypto.asymciphers import ec as _ts_ec
from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature

__all__ = [
    "SM4_KEY_SIZE",
    "SM2_DEFAULT_ID",
    "CryptoError",
    "hmac_sm3",
    "hmac_sm3_verify",
    "sm2_generate_keypair",
    "sm2_public_key",
    "sm2_sign",
    "sm2_verify",
    "sm3",
    "sm3_hex",
    "sm4_decrypt",
    "sm4_encrypt",
    "system_keypair",
]

logger = logging.getLogger(__name__)

SM4_KEY_SIZE = 16
"""SM4 keys are 128 bits, always."""

SM2_DEFAULT_ID = b"1234567812345678"
"""Signer ID hashed into Z. Tongsuo uses this default implicitly; documented here for verifiers."""

SYSTEM_KEY_ENV = "GOVCENTER_SM2_PRIVATE_KEY"
SYSTEM_KEY_FILENAME = "sm2-system.key"

_NONCE_SIZE = 12  # 96-bit GCM nonce: the size GCM is designed for (no GHASH-derived IV).
_TAG_SIZE = 16  # Full-length tag; truncated tags weaken forgery resistance for no real gain.


class CryptoError(Exception):
    """A cryptographic operation failed: wrong key, tampered token, malformed key material."""


# --------------------------------------------------------------------------------------------
# SM3 and HMAC-SM3
# --------------------------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905) of ``data``: 32 bytes."""
    h = _hashes.Hash(_hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    """SM3 digest of ``data`` as 64 lowercase hex digits."""
    return sm3(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) with SM3 as the hash: 32 bytes.

    Any key length is accepted, as HMAC defines (keys longer than the 64-byte block are hashed).
    """
    if not key:
        # An empty key makes the MAC computable by anyone; it is always a configuration bug.
        raise CryptoError("HMAC-SM3 key must not be empty")
    mac = _hmac.HMAC(key, _hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, mac: bytes) -> bool:
    """Whether ``mac`` is the HMAC-SM3 of ``data`` under ``key``; constant-time comparison.

    Returns False (never raises) for a wrong or malformed ``mac``.
    """
    expected = hmac_sm3(key, data)
    # compare_digest: the time taken does not reveal how many leading bytes matched.
    return _std_hmac.compare_digest(expected, bytes(mac))


# --------------------------------------------------------------------------------------------
# SM4-GCM authenticated encryption
# --------------------------------------------------------------------------------------------


def _check_sm4_key(key: bytes) -> None:
    if len(key) != SM4_KEY_SIZE:
        raise CryptoError(f"SM4 key must be {SM4_KEY_SIZE} bytes, got {len(key)}")


def sm4_encrypt(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """Encrypt and authenticate ``plaintext`` with SM4-GCM (RFC 8998's SM4_GCM).

    Returns ``nonce(12) ‖ ciphertext ‖ tag(16)``, so the token is 28 bytes longer than the
    plaintext. ``aad`` is authenticated but not encrypted, and must be passed again to decrypt:
    use it to bind a ciphertext to its context (e.g. table and row id) so it cannot be moved.

    The nonce is random: safe for about 2**32 encryptions under one key, far beyond what one
    key sees here (rotate keys long before that).
    """
    _check_sm4_key(key)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if aad:
        encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + ciphertext + encryptor.tag


def sm4_decrypt(key: bytes, token: bytes, *, aad: bytes = b"") -> bytes:
    """Check and decrypt a token made by :func:`sm4_encrypt` with the same ``key`` and ``aad``.

    Raises :class:`CryptoError` if the token was altered, truncated, or made with another key or
    ``aad``; no plaintext is released in that case.
    """
    _check_sm4_key(key)
    if len(token) < _NONCE_SIZE + _TAG_SIZE:
        raise CryptoError("SM4 token too short")
    nonce, ciphertext, tag = token[:_NONCE_SIZE], token[_NONCE_SIZE:-_TAG_SIZE], token[-_TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        decryptor.authenticate_additional_data(aad)
    plaintext = decryptor.update(ciphertext)
    try:
        # finalize() checks the tag; only then is `plaintext` trustworthy.
        return plaintext + decryptor.finalize()
    except InvalidTag:
        raise CryptoError("SM4 token failed authentication (tampered, wrong key or wrong aad)") from None


# --------------------------------------------------------------------------------------------
# SM2 signatures
# --------------------------------------------------------------------------------------------

_SIGNATURE_ALGORITHM = _ts_ec.ECDSA(_ts_hashes.SM3())
# tongsuopy names the scheme "ECDSA" to mirror pyca's API; on an SM2 key Tongsuo runs the SM2
# signature (GB/T 32918.2) with Z computed from the default ID, not ECDSA.


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _normalise_pem(text: str) -> bytes:
    # Keys set through environment variables often arrive with literal "\n" instead of newlines.
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")
    return text.strip().encode("ascii") + b"\n"


def _require_sm2(key: object) -> None:
    curve = getattr(key, "curve", None)
    if curve is None or curve.name != "SM2":
        raise CryptoError("key is not an SM2 key")


# Parsing a PEM costs about as much as a signature; keys are few and reused (the system key, a
# handful of unit keys), so keep the parsed objects. Key strings are hashable and immutable.
@functools.lru_cache(maxsize=128)
def _load_private_key(private_key: str) -> _ts_ec.EllipticCurvePrivateKey:
    text = private_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = _ts_serialization.load_pem_private_key(_normalise_pem(text), password=None)
        elif len(text) == 64 and _is_hex(text):
            scalar = int(text, 16)
            key = _ts_ec.derive_private_key(scalar, _ts_ec.SM2())
        else:
            raise CryptoError("SM2 private key must be PKCS#8 PEM or a 64-hex-digit scalar")
    except CryptoError:
        raise
    except Exception as exc:  # tongsuopy raises ValueError, TypeError, UnsupportedAlgorithm...
        raise CryptoError(f"unreadable SM2 private key: {type(exc).__name__}") from None
    _require_sm2(key)
    return key  # type: ignore[return-value]


@functools.lru_cache(maxsize=512)
def _load_public_key(public_key: str) -> _ts_ec.EllipticCurvePublicKey:
    text = public_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = _ts_serialization.load_pem_public_key(_normalise_pem(text))
        elif _is_hex(text) and ((len(text) == 130 and text[:2] == "04") or len(text) == 128):
            point = bytes.fromhex(text if len(text) == 130 else "04" + text)
            key = _ts_ec.EllipticCurvePublicKey.from_encoded_point(_ts_ec.SM2(), point)
        else:
            raise CryptoError("SM2 public key must be SubjectPublicKeyInfo PEM or 04‖X‖Y hex")
    except CryptoError:
        raise
    except Exception as exc:  # off-curve point, wrong algorithm, bad base64...
        raise CryptoError(f"unreadable SM2 public key: {type(exc).__name__}") from None
    _require_sm2(key)
    return key  # type: ignore[return-value]


def _public_pem(key: _ts_ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(_ts_serialization.Encoding.PEM, _ts_serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _private_pem(key: _ts_ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        _ts_serialization.Encoding.PEM,
        _ts_serialization.PrivateFormat.PKCS8,
        _ts_serialization.NoEncryption(),
    ).decode("ascii")


def sm2_generate_keypair() -> tuple[str, str]:
    """A fresh SM2 key pair as ``(private_pem, public_pem)``.

    The private key is unencrypted PKCS#8 PEM: store it as a secret (file mode 0600, vault, env).
    """
    key = _ts_ec.generate_private_key(_ts_ec.SM2())
    return _private_pem(key), _public_pem(key)


def sm2_public_key(private_key: str) -> str:
    """The SubjectPublicKeyInfo PEM that belongs to ``private_key`` (PEM or hex)."""
    return _public_pem(_load_private_key(private_key))


def sm2_sign(private_key: str, data: bytes) -> bytes:
    """SM2 signature (DER, SM3, default ID) of ``data``; ``private_key`` is PEM or 64 hex digits.

    Signatures are randomised: signing the same data twice gives different bytes, both valid.
    Raises :class:`CryptoError` if the key cannot be read or is not an SM2 key.
    """
    key = _load_private_key(private_key)
    try:
        return bytes(key.sign(bytes(data), _SIGNATURE_ALGORITHM))
    except Exception as exc:
        raise CryptoError(f"SM2 signing failed: {type(exc).__name__}") from None


def sm2_verify(public_key: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid SM2 signature of ``data`` under ``public_key``.

    Never raises because of the signature: a wrong, truncated or garbage signature returns
    False. A ``public_key`` that cannot be read is a configuration error and raises
    :class:`CryptoError`.
    """
    key = _load_public_key(public_key)
    try:
        key.verify(bytes(signature), bytes(data), _SIGNATURE_ALGORITHM)
    except _TsInvalidSignature:
        return False
    except Exception:
        # Malformed DER makes Tongsuo's EVP_DigestVerify return -1, which tongsuopy reports as
        # InternalError rather than InvalidSignature: still just "not a valid signature".
        return False
    return True


# --------------------------------------------------------------------------------------------
# The system key
# --------------------------------------------------------------------------------------------

_system_lock = threading.Lock()
_system_cache: tuple[str, str] | None = None


def _var_dir() -> Path:
    # Imported here so this module (and everything that hashes or encrypts) works without
    # Django configured: only the file-backed system key needs settings.
    from django.conf import settings

    return Path(settings.GOVCENTER_VAR_DIR)


def _read_or_create_key_file(path: Path) -> str:
    """The private PEM stored at ``path``, creating it atomically (mode 0600) when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        private_pem, _ = sm2_generate_keypair()
        # Write a complete temporary file, then link() it into place: link fails if another
        # process (a second worker starting at the same moment) created the key first, and a
        # reader can never see a half-written key. Whoever loses the race uses the winner's key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(private_pem)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
                logger.warning("generated a new SM2 system key at %s", path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        # A key readable by others can forge audit checkpoints: tighten it rather than refuse.
        logger.warning("SM2 system key %s had mode %o; setting 0600", path, mode)
        os.chmod(path, 0o600)
    return path.read_text(encoding="ascii")


def system_keypair() -> tuple[str, str]:
    """The system SM2 key pair ``(private_pem, public_pem)`` that signs audit checkpoints and receipts.

    Source, in order:

    1. ``GOVCENTER_SM2_PRIVATE_KEY`` (PKCS#8 PEM, literal ``\\n`` allowed, or 64 hex digits); the
       public key is derived from it. The returned private key is always PEM.
    2. ``<settings.GOVCENTER_VAR_DIR>/sm2-system.key``, generated on first use (mode 0600) and
       reused afterwards. Fine for development and single-host installs; production should
       provision the key through the environment (and back it up: losing it means old
       checkpoints can only be verified with the saved public key).

    The result is cached for the life of the process; ``system_keypair.cache_clear()`` forgets it
    (tests, key rotation).
    """
    global _system_cache
    with _system_lock:
        if _system_cache is None:
            env_key = os.environ.get(SYSTEM_KEY_ENV, "").strip()
            if env_key:
                key = _load_private_key(env_key)
            else:
                pem = _read_or_create_key_file(_var_dir() / SYSTEM_KEY_FILENAME)
                key = _load_private_key(pem)
            _system_cache = (_private_pem(key), _public_pem(key))
        return _system_cache


def _system_keypair_cache_clear() -> None:
    global _system_cache
    with _system_lock:
        _system_cache = None


system_keypair.cache_clear = _system_keypair_cache_clear  # type: ignore[attr-defined]
