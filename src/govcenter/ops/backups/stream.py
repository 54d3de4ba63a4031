"""The backup file format: SM4-GCM in authenticated chunks, so a dump of any size is encrypted
and checked in constant memory.

``core.crypto.sm4_encrypt`` is one-shot over bytes; a backup can be gigabytes. Layout::

    header  = b"GCBK" ‖ version (1 byte, 1) ‖ key id (16 ASCII hex) ‖ chunk size (4 bytes, BE)
    chunk i = nonce (12, random) ‖ SM4-GCM ciphertext ‖ tag (16)

Every chunk but the last holds exactly ``chunk size`` plaintext bytes; the last holds fewer
(possibly none). Each chunk's additional data is ``header ‖ i (8 bytes, BE) ‖ final (1 byte)``,
which binds it to this file's header, to its position and to being last or not: a chunk moved,
dropped, duplicated or a file cut at a chunk boundary fails authentication (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár). A wrong key is reported from the key
id before any decryption; a forged key id still fails the first tag.
"""

from __future__ import annotations

import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from govcenter.core.crypto import SM4_KEY_SIZE, sm3_hex

MAGIC = b"GCBK"
VERSION = 1
KEY_ID_SIZE = 16
HEADER = struct.Struct(">4sB16sI")
NONCE_SIZE = 12
TAG_SIZE = 16


class BackupFileError(Exception):
    """A backup file cannot be decrypted: not a backup, wrong key, corrupt, truncated."""


def key_id(key: bytes) -> str:
    """A public name for ``key``: 16 hex digits of SM3 over a label and the key (never the key)."""
    return sm3_hex(b"govcenter-ops-backup-key-id\x00" + key)[:KEY_ID_SIZE]


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


class _Sm3:
    def __init__(self) -> None:
        self._h = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


def _chunks(src: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """(chunk, is_last) with one chunk of look-ahead; an empty input gives one empty last chunk."""
    current = src.read(size)
    while True:
        following = src.read(size)
        if not following:
            yield current, True
            return
        yield current, False
        current = following


def encrypt_file(src: Path, dst: Path, *, key: bytes, chunk_size: int) -> dict:
    """Encrypt ``src`` into a new file ``dst`` (written to a temporary name, fsynced, then
    renamed). Returns ``{"size", "sm3_plaintext", "sm3_ciphertext"}``."""
    if len(key) != SM4_KEY_SIZE:
        raise BackupFileError(f"SM4 key must be {SM4_KEY_SIZE} bytes")
    header = HEADER.pack(MAGIC, VERSION, key_id(key).encode("ascii"), chunk_size)
    plain, cipher = _Sm3(), _Sm3()
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp")
    size = 0
    try:
        with open(src, "rb") as fin, open(tmp, "xb") as fout:
            fout.write(header)
            cipher.update(header)
            size += len(header)
            for index, (chunk, last) in enumerate(_chunks(fin, chunk_size)):
                plain.update(chunk)
                nonce = secrets.token_bytes(NONCE_SIZE)
                enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
                enc.authenticate_additional_data(_aad(header, index, last))
                record = nonce + enc.update(chunk) + enc.finalize() + enc.tag
                fout.write(record)
                cipher.update(record)
                size += len(record)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return {"size": size, "sm3_plaintext": plain.hexdigest(), "sm3_ciphertext": cipher.hexdigest()}


def read_header(path: Path) -> dict:
    """The header of a backup file: ``{"version", "key_id", "chunk_size"}``."""
    with open(path, "rb") as fh:
        raw = fh.read(HEADER.size)
    return _parse_header(raw)


def _parse_header(raw: bytes) -> dict:
    if len(raw) < HEADER.size or raw[:4] != MAGIC:
        raise BackupFileError("not a govcenter backup file (no GCBK header)")
    magic, version, kid, chunk_size = HEADER.unpack(raw[: HEADER.size])
    if version != VERSION:
        raise BackupFileError(f"backup format version {version} is not supported (this code reads {VERSION})")
    if chunk_size <= 0:
        raise BackupFileError("backup header is corrupt (chunk size 0)")
    return {"version": version, "key_id": kid.decode("ascii", "replace"), "chunk_size": chunk_size}


def decrypt_file(src: Path, dst: Path, *, key: bytes) -> dict:
    """Check and decrypt ``src`` into the new file ``dst``. Raises :class:`BackupFileError`
    (and removes ``dst``) on a wrong key, a corrupt, reordered or truncated file. Returns
    ``{"size", "sm3_plaintext", "sm3_ciphertext"}`` of what was read."""
    plain, cipher = _Sm3(), _Sm3()
    size = 0
    try:
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            raw = fin.read(HEADER.size)
            info = _parse_header(raw)
            if info["key_id"] != key_id(key):
                raise BackupFileError(
                    f"wrong key: the backup was encrypted with key {info['key_id']}, "
                    f"the configured GOVCENTER_OPS_BACKUP_KEY is {key_id(key)}"
                )
            header = raw
            cipher.update(header)
            size += len(header)
            record_size = NONCE_SIZE + info["chunk_size"] + TAG_SIZE
            index = 0
            current = fin.read(record_size)
            while True:
                following = fin.read(record_size)
                last = not following
                if len(current) < NONCE_SIZE + TAG_SIZE or (not last and len(current) != record_size):
                    raise BackupFileError(f"backup is truncated (chunk {index} is incomplete)")
                cipher.update(current)
                size += len(current)
                nonce, body, tag = current[:NONCE_SIZE], current[NONCE_SIZE:-TAG_SIZE], current[-TAG_SIZE:]
                dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
                dec.authenticate_additional_data(_aad(header, index, last))
                data = dec.update(body)
                try:
                    data += dec.finalize()
                except InvalidTag:
                    what = "truncated, corrupt or tampered" if last else "corrupt or tampered"
                    raise BackupFileError(f"backup chunk {index} failed authentication ({what})") from None
                fout.write(data)
                plain.update(data)
                if last:
                    break
                current, index = following, index + 1
    except BackupFileError:
        dst.unlink(missing_ok=True)
        raise
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return {"size": size, "sm3_plaintext": plain.hexdigest(), "sm3_ciphertext": cipher.hexdigest()}


def file_sm3(path: Path, block: int = 1 << 20) -> str:
    """SM3 of a file's bytes, streamed."""
    h = _Sm3()
    with open(path, "rb") as fh:
        while data := fh.read(block):
            h.update(data)
    return h.hexdigest()
