"""govcenter.core.crypto: SM3 / HMAC-SM3 / SM4-GCM / SM2 and the system key.

Only ``test_system_keypair_file_*`` touch Django (through pytest-django's ``settings`` fixture);
everything else runs without settings configured.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from govcenter.core import crypto
from govcenter.core.crypto import (
    CryptoError,
    hmac_sm3,
    hmac_sm3_verify,
    sm2_generate_keypair,
    sm2_public_key,
    sm2_sign,
    sm2_verify,
    sm3,
    sm3_hex,
    sm4_decrypt,
    sm4_encrypt,
    system_keypair,
)

OPENSSL = shutil.which("openssl")
KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return sm2_generate_keypair()


# ---------------------------------------------------------------------------- SM3


def test_sm3_gbt32905_example_1_abc():
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_gbt32905_example_2_64_bytes():
    assert sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_bytes_and_hex_agree():
    digest = sm3(b"govcenter")
    assert len(digest) == 32
    assert digest.hex() == sm3_hex(b"govcenter")


# ---------------------------------------------------------------------------- HMAC-SM3


def _rfc2104_hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC written out from RFC 2104 on top of sm3(): an independent check of hmac_sm3."""
    block = 64
    if len(key) > block:
        key = sm3(key)
    key = key.ljust(block, b"\x00")
    inner = sm3(bytes(b ^ 0x36 for b in key) + data)
    return sm3(bytes(b ^ 0x5C for b in key) + inner)


def test_hmac_sm3_matches_openssl_reference_value():
    # printf 'The quick brown fox jumps over the lazy dog' | openssl dgst -sm3 -hmac key
    mac = hmac_sm3(b"key", b"The quick brown fox jumps over the lazy dog")
    assert mac.hex() == "bd4a34077888162b210645b8ebf74b9af357303789357a27c7fc457244ebd398"


@pytest.mark.parametrize("key", [b"k", b"k" * 64, b"k" * 100])  # short, one block, hashed
def test_hmac_sm3_matches_rfc2104_construction(key):
    assert hmac_sm3(key, b"data") == _rfc2104_hmac_sm3(key, b"data")


def test_hmac_sm3_verify():
    mac = hmac_sm3(b"key", b"data")
    assert hmac_sm3_verify(b"key", b"data", mac)
    assert not hmac_sm3_verify(b"key", b"datA", mac)
    assert not hmac_sm3_verify(b"kex", b"data", mac)
    assert not hmac_sm3_verify(b"key", b"data", mac[:-1])
    assert not hmac_sm3_verify(b"key", b"data", b"")


def test_hmac_sm3_rejects_empty_key():
    with pytest.raises(CryptoError):
        hmac_sm3(b"", b"data")


# ---------------------------------------------------------------------------- SM4-GCM


def test_sm4_round_trip_and_token_layout():
    plaintext = "plate 京A12345".encode()
    token = sm4_encrypt(KEY, plaintext, aad=b"parking.vehicle:42")
    assert len(token) == 12 + len(plaintext) + 16
    assert sm4_decrypt(KEY, token, aad=b"parking.vehicle:42") == plaintext


def test_sm4_nonce_is_fresh_each_time():
    assert sm4_encrypt(KEY, b"same") != sm4_encrypt(KEY, b"same")


def test_sm4_rfc8998_sm4_gcm_vector():
    # RFC 8998 appendix A.1: our token layout is nonce ‖ ciphertext ‖ tag.
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    ciphertext = bytes.fromhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    tag = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")
    assert sm4_decrypt(key, nonce + ciphertext + tag, aad=aad) == plaintext


@pytest.mark.parametrize("position", [0, 12, 20, -1])  # nonce, first ciphertext byte, middle, tag
def test_sm4_detects_tampering(position):
    token = bytearray(sm4_encrypt(KEY, b"sixteen byte msg and more"))
    token[position] ^= 0x01
    with pytest.raises(CryptoError):
        sm4_decrypt(KEY, bytes(token))


def test_sm4_wrong_key_wrong_aad_truncated():
    token = sm4_encrypt(KEY, b"secret", aad=b"ctx")
    with pytest.raises(CryptoError):
        sm4_decrypt(bytes(16), token, aad=b"ctx")
    with pytest.raises(CryptoError):
        sm4_decrypt(KEY, token, aad=b"other")
    with pytest.raises(CryptoError):
        sm4_decrypt(KEY, token)  # aad omitted
    with pytest.raises(CryptoError):
        sm4_decrypt(KEY, token[:27])


@pytest.mark.parametrize("bad_key", [b"", b"short", bytes(15), bytes(17), bytes(32)])
def test_sm4_rejects_bad_key_size(bad_key):
    with pytest.raises(CryptoError):
        sm4_encrypt(bad_key, b"x")
    with pytest.raises(CryptoError):
        sm4_decrypt(bad_key, bytes(40))


# ---------------------------------------------------------------------------- SM2


def test_sm2_keypair_is_pem(keypair):
    private_pem, public_pem = keypair
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert sm2_public_key(private_pem) == public_pem


def test_sm2_sign_verify_round_trip(keypair):
    private_pem, public_pem = keypair
    signature = sm2_sign(private_pem, b"audit checkpoint 1")
    assert sm2_verify(public_pem, b"audit checkpoint 1", signature)
    # Randomised signatures: a second one differs and is valid too.
    again = sm2_sign(private_pem, b"audit checkpoint 1")
    assert again != signature
    assert sm2_verify(public_pem, b"audit checkpoint 1", again)


def test_sm2_flipped_bit_fails(keypair):
    private_pem, public_pem = keypair
    data = b"receipt 2026-11-24"
    signature = sm2_sign(private_pem, data)
    flipped_data = bytes([data[0] ^ 0x01]) + data[1:]
    assert not sm2_verify(public_pem, flipped_data, signature)
    for i in (len(signature) // 2, len(signature) - 1):
        bad = bytearray(signature)
        bad[i] ^= 0x01
        assert not sm2_verify(public_pem, data, bytes(bad))


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30" * 72, b"not a signature at all"])
def test_sm2_verify_never_raises_on_garbage_signature(keypair, garbage):
    assert sm2_verify(keypair[1], b"data", garbage) is False


def test_sm2_wrong_public_key(keypair):
    _, other_public = sm2_generate_keypair()
    signature = sm2_sign(keypair[0], b"data")
    assert not sm2_verify(other_public, b"data", signature)


def test_sm2_hex_keys_are_accepted(keypair):
    from tongsuopy.crypto import serialization
    from tongsuopy.crypto.asymciphers import ec

    key = crypto._load_private_key(keypair[0])
    d_hex = format(key.private_numbers().private_value, "064x")
    point_hex = (
        key.public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        .hex()
    )
    assert isinstance(key.curve, ec.SM2)
    signature = sm2_sign(d_hex, b"data")
    assert sm2_verify(point_hex, b"data", signature)
    assert sm2_verify(point_hex[2:], b"data", signature)  # 128 digits, no 04 prefix
    assert sm2_public_key(d_hex) == keypair[1]


@pytest.mark.parametrize(
    "bad", ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "zz" * 32]
)
def test_sm2_unreadable_private_key_raises_crypto_error(bad):
    with pytest.raises(CryptoError):
        sm2_sign(bad, b"data")


def test_sm2_unreadable_public_key_raises_crypto_error():
    with pytest.raises(CryptoError):
        sm2_verify("04" + "00" * 64, b"data", b"sig")  # not a point on the curve


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_sm2_non_sm2_key_is_rejected(tmp_path):
    pem = tmp_path / "p256.pem"
    subprocess.run(
        [OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pem)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(CryptoError):
        sm2_sign(pem.read_text(), b"data")


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_sm2_signature_verifies_with_openssl_cli(tmp_path, keypair):
    private_pem, public_pem = keypair
    data = b"interop: \x00\xff \xe4\xba\xac" * 5
    (tmp_path / "pub.pem").write_text(public_pem)
    (tmp_path / "msg.bin").write_bytes(data)
    (tmp_path / "sig.der").write_bytes(sm2_sign(private_pem, data))
    cmd = [
        OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3",
        "-pkeyopt", "distid:1234567812345678", "-in", "msg.bin", "-sigfile", "sig.der",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    if result.returncode != 0 and "sm2" in result.stderr.lower() and "unsupported" in result.stderr.lower():
        pytest.skip(f"this openssl cannot do SM2: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verified Successfully" in result.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
def test_sm2_openssl_cli_signature_verifies_here(tmp_path, keypair):
    private_pem, public_pem = keypair
    (tmp_path / "key.pem").write_text(private_pem)
    (tmp_path / "msg.bin").write_bytes(b"signed by openssl")
    cmd = [
        OPENSSL, "pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-digest", "sm3",
        "-pkeyopt", "distid:1234567812345678", "-in", "msg.bin", "-out", "sig.der",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"this openssl cannot sign with SM2: {result.stderr.strip()[:200]}")
    assert sm2_verify(public_pem, b"signed by openssl", (tmp_path / "sig.der").read_bytes())


# ---------------------------------------------------------------------------- properties


@given(
    key=st.binary(min_size=16, max_size=16), plaintext=st.binary(max_size=4096), aad=st.binary(max_size=64)
)
def test_property_sm4_round_trip(key, plaintext, aad):
    assert sm4_decrypt(key, sm4_encrypt(key, plaintext, aad=aad), aad=aad) == plaintext


@given(key=st.binary(min_size=1, max_size=200), data=st.binary(max_size=1024))
def test_property_hmac_sm3_matches_rfc2104(key, data):
    mac = hmac_sm3(key, data)
    assert mac == _rfc2104_hmac_sm3(key, data)
    assert hmac_sm3_verify(key, data, mac)


@hyp_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_property_sm2_round_trip(keypair, data):
    assert sm2_verify(keypair[1], data, sm2_sign(keypair[0], data))


@given(data=st.binary(max_size=256))
def test_property_sm3_is_deterministic_and_not_sha256(data):
    assert sm3(data) == sm3(bytes(data))
    assert sm3(data) != hashlib.sha256(data).digest()


# ---------------------------------------------------------------------------- system key


@pytest.fixture
def fresh_system_key(monkeypatch):
    monkeypatch.delenv(crypto.SYSTEM_KEY_ENV, raising=False)
    system_keypair.cache_clear()
    yield
    system_keypair.cache_clear()


def test_system_keypair_from_env_needs_no_django(fresh_system_key, monkeypatch, keypair):
    # Literal "\n" as env files and container specs often deliver multi-line values.
    monkeypatch.setenv(crypto.SYSTEM_KEY_ENV, keypair[0].replace("\n", "\\n"))
    private_pem, public_pem = system_keypair()
    assert public_pem == keypair[1]
    assert sm2_verify(public_pem, b"x", sm2_sign(private_pem, b"x"))


def test_system_keypair_file_created_once_with_mode_0600(fresh_system_key, settings, tmp_path):
    settings.GOVCENTER_VAR_DIR = tmp_path / "var"
    private_pem, public_pem = system_keypair()
    key_file = tmp_path / "var" / "sm2-system.key"
    assert key_file.read_text() == private_pem
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sm2_verify(public_pem, b"checkpoint", sm2_sign(private_pem, b"checkpoint"))
    assert system_keypair() is system_keypair()  # cached in-process

    system_keypair.cache_clear()  # as a new process would: reuses the stored key
    assert system_keypair() == (private_pem, public_pem)
    assert [p.name for p in key_file.parent.iterdir()] == ["sm2-system.key"]  # no temp files left


def test_system_keypair_file_permissions_tightened(fresh_system_key, settings, tmp_path):
    settings.GOVCENTER_VAR_DIR = tmp_path
    private_pem, public_pem = sm2_generate_keypair()
    key_file = tmp_path / "sm2-system.key"
    key_file.write_text(private_pem)
    key_file.chmod(0o644)
    assert system_keypair() == (private_pem, public_pem)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
