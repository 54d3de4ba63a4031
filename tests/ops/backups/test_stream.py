"""The chunked SM4-GCM backup format: round trips of every length shape, and every way a file
can be wrong — wrong key, a flipped byte, a cut (mid-chunk and at a chunk boundary), chunks
swapped, not a backup at all — is refused with a clear message and leaves no output."""

from __future__ import annotations

import os

import pytest

from govcenter.ops.backups import stream

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
CHUNK = 64
RECORD = stream.NONCE_SIZE + CHUNK + stream.TAG_SIZE


def _encrypted(tmp_path, data: bytes):
    src, enc = tmp_path / "plain", tmp_path / "enc"
    src.write_bytes(data)
    sums = stream.encrypt_file(src, enc, key=KEY, chunk_size=CHUNK)
    return enc, sums


@pytest.mark.parametrize("length", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 17])
def test_round_trip(tmp_path, length):
    data = os.urandom(length)
    enc, sums = _encrypted(tmp_path, data)
    assert enc.stat().st_size == sums["size"] and stream.file_sm3(enc) == sums["sm3_ciphertext"]
    out = tmp_path / "out"
    back = stream.decrypt_file(enc, out, key=KEY)
    assert out.read_bytes() == data
    assert back["sm3_plaintext"] == sums["sm3_plaintext"] == stream.file_sm3(tmp_path / "plain")
    assert stream.read_header(enc)["key_id"] == stream.key_id(KEY)
    if length >= 16:
        assert data[:16] not in enc.read_bytes()


def _refused(tmp_path, enc, key=KEY) -> str:
    out = tmp_path / "out"
    with pytest.raises(stream.BackupFileError) as caught:
        stream.decrypt_file(enc, out, key=key)
    assert not out.exists()  # nothing half-written
    return str(caught.value)


def test_wrong_key_is_named_before_decrypting(tmp_path):
    enc, _ = _encrypted(tmp_path, os.urandom(200))
    message = _refused(tmp_path, enc, key=bytes(16))
    assert "wrong key" in message and stream.key_id(KEY) in message


def test_forged_key_id_still_fails_authentication(tmp_path):
    enc, _ = _encrypted(tmp_path, os.urandom(200))
    other = bytes(16)
    raw = bytearray(enc.read_bytes())
    raw[5:21] = stream.key_id(other).encode()
    enc.write_bytes(bytes(raw))
    assert "failed authentication" in _refused(tmp_path, enc, key=other)


def test_a_flipped_byte_is_detected(tmp_path):
    enc, _ = _encrypted(tmp_path, os.urandom(300))
    raw = bytearray(enc.read_bytes())
    raw[stream.HEADER.size + RECORD + 20] ^= 0x01  # inside chunk 1
    enc.write_bytes(bytes(raw))
    assert "chunk 1 failed authentication" in _refused(tmp_path, enc)


def test_a_cut_mid_chunk_and_at_a_chunk_boundary_are_detected(tmp_path):
    enc, _ = _encrypted(tmp_path, os.urandom(3 * CHUNK + 10))
    raw = enc.read_bytes()
    enc.write_bytes(raw[: stream.HEADER.size + 2 * RECORD])  # exactly two whole chunks
    assert "chunk 1 failed authentication (truncated" in _refused(tmp_path, enc)
    enc.write_bytes(raw[: stream.HEADER.size + RECORD + 10])
    assert "truncated" in _refused(tmp_path, enc)


def test_swapped_chunks_are_detected(tmp_path):
    enc, _ = _encrypted(tmp_path, os.urandom(3 * CHUNK + 10))
    raw = enc.read_bytes()
    h = stream.HEADER.size
    first, second = raw[h : h + RECORD], raw[h + RECORD : h + 2 * RECORD]
    enc.write_bytes(raw[:h] + second + first + raw[h + 2 * RECORD :])
    assert "chunk 0 failed authentication" in _refused(tmp_path, enc)


def test_not_a_backup(tmp_path):
    enc = tmp_path / "enc"
    enc.write_bytes(b"SQLite format 3\x00" + bytes(100))
    assert "not a govcenter backup" in _refused(tmp_path, enc)
