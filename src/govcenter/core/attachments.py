"""Attachments of any object: a storage port, content checks, digests, text for search (ADR 0006).

* **What a file is** comes from its bytes (:func:`sniff`): PDF, PNG, JPEG, Office Open XML
  (docx / xlsx: a ZIP with the part the format requires), plain text (UTF-8 or GB18030, no NUL).
  The upload's claimed content type is ignored; a name whose extension says otherwise, a kind not
  in ``GOVCENTER_ATTACHMENT_KINDS``, an empty file or one over ``GOVCENTER_ATTACHMENT_MAX_BYTES``
  is refused (:class:`~govcenter.core.api.errors.ServiceError`, 400/413, naming the field) before
  anything is stored.
* **Where the bytes go**: a :class:`Storage`, the one ``GOVCENTER_ATTACHMENT_STORAGE`` names
  (:func:`default_storage`, used by every service here unless it is handed one).
  :class:`LocalStorage` (``local``, the default, under ``GOVCENTER_ATTACHMENT_DIR``) writes a
  temporary file, fsyncs it and renames it into place, so a crash never leaves half a file under
  a key. :class:`S3Storage` (``s3``: a bucket of an S3-compatible store, through boto3) sends
  every object with ``Content-MD5`` and its SHA-256 checksum, so the store refuses bytes damaged
  on the way; a store that cannot be reached is a 503 ``storage_unavailable``. Keys are the SM3
  digest (content addressed: identical files are stored once; an upload of bytes already there
  writes nothing); SHA-256 is kept too, for verifiers without SM3.
* **Text** for the full-text search is extracted where the format allows (txt, docx paragraphs
  and tables, xlsx cells, the PDF text layer; images have none), capped at
  :data:`MAX_TEXT` characters; a file whose text cannot be read is still attached.
* :func:`attach` stores the bytes and writes the row and its audit entry in one transaction,
  holding the blob's lock (:func:`_lock_blob`) from the store to the commit; an orphan blob left
  by a failed transaction is harmless and shared by the next upload of the same file.
  :func:`attachment_read` returns the bytes after checking their digest and audits the download
  (bytes gone from the store: 500 ``attachment_missing``); :func:`attachment_delete` keeps the
  row (who, when); :func:`attachments_purge` (the daily task ``core.attachments_purge``) removes
  bytes no live attachment has used for a day — each key under the same lock, after checking
  again that no row has taken it up meanwhile, so it never removes what an upload just reused.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .api.errors import ServiceError
from .crypto import sm3, sm3_hex
from .models import Attachment

logger = logging.getLogger(__name__)

MAX_TEXT = 200_000
PURGE_GRACE = dt.timedelta(days=1)
CHUNK = 1 << 20
KINDS = {
    "pdf": ("application/pdf", (".pdf",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)),
    "png": ("image/png", (".png",)),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg")),
    "txt": ("text/plain", (".txt", ".csv", ".md")),
}
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class Storage(Protocol):
    """Where attachment bytes live, by key (the SM3 hex digest)."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under ``root``/ab/cd/<key>: written to a temporary name, fsync'd, renamed."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return  # content addressed: the same bytes are already there
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Objects ``<prefix><key>`` in a bucket of an S3-compatible store (boto3).

    Credentials come from boto3's own sources (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
    in the environment, …), never from settings. Every upload carries ``Content-MD5`` and
    ``x-amz-checksum-sha256``, so the store refuses bytes damaged on the way instead of keeping
    them; an object already under the key is left alone (content addressed). A store that cannot
    be reached, refuses our credentials or fails is reported as
    :class:`~govcenter.core.api.errors.ServiceError` 503 ``storage_unavailable``.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        timeout: int = 10,
        max_attempts: int = 3,
    ):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.lstrip("/")
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"addressing_style": addressing_style},
            # Only the checksums we send; reads are checked against the SM3 digest by
            # attachment_read (a damaged object is "corrupt", not "unavailable").
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
        )

    def _key(self, key: str) -> str:
        if not _KEY_RE.match(key):
            raise ValueError(f"bad storage key {key!r}")
        return self.prefix + key

    @contextlib.contextmanager
    def _available(self, operation: str):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            logger.warning("attachment storage s3://%s: %s failed: %s", self.bucket, operation, exc)
            reason = (
                exc.response["Error"].get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
            )
            raise ServiceError(
                _("附件存储暂时不可用，请稍后重试。"),
                code="storage_unavailable",
                status=503,
                details={"storage": [f"{operation}: {reason}"]},
            ) from exc

    @staticmethod
    def _missing(exc) -> bool:
        error = exc.response.get("Error", {})
        return error.get("Code") in {"404", "NoSuchKey", "NotFound"}

    def put(self, key: str, data: bytes) -> None:
        if self.exists(key):
            return  # content addressed: the same bytes are already there
        with self._available("put"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentMD5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            )

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        with self._available("get"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if self._missing(exc):
                    raise FileNotFoundError(f"s3://{self.bucket}/{self._key(key)}") from exc
                raise
            return response["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._available("head"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if self._missing(exc):
                    return False
                raise
        return True

    def delete(self, key: str) -> None:
        with self._available("delete"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def default_storage() -> Storage:
    """The storage ``GOVCENTER_ATTACHMENT_STORAGE`` chooses: every service here uses it unless given one."""
    if settings.GOVCENTER_ATTACHMENT_STORAGE == "s3":
        return _s3_storage(
            settings.GOVCENTER_ATTACHMENT_S3_BUCKET,
            settings.GOVCENTER_ATTACHMENT_S3_PREFIX,
            settings.GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL,
            settings.GOVCENTER_ATTACHMENT_S3_REGION,
            settings.GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE,
            settings.GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS,
            settings.GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS,
        )
    return LocalStorage(settings.GOVCENTER_ATTACHMENT_DIR)


@functools.lru_cache(maxsize=4)
def _s3_storage(bucket, prefix, endpoint_url, region, addressing_style, timeout, max_attempts) -> S3Storage:
    # One client per configuration: building one costs milliseconds, and clients are thread-safe.
    return S3Storage(
        bucket,
        prefix=prefix,
        endpoint_url=endpoint_url,
        region=region,
        addressing_style=addressing_style,
        timeout=timeout,
        max_attempts=max_attempts,
    )


# -- what a file is -----------------------------------------------------------------------------


def _zip_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return None


def _text_of_bytes(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def sniff(data: bytes) -> str | None:
    """The kind of ``data`` by its signature (a key of :data:`KINDS`), or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if _text_of_bytes(data) is not None:
        return "txt"
    return None


def extract_text(kind: str, data: bytes) -> str:
    """The searchable text of a file of ``kind`` ('' when there is none or it cannot be read)."""
    try:
        if kind == "txt":
            text = _text_of_bytes(data) or ""
        elif kind == "docx":
            import docx

            document = docx.Document(io.BytesIO(data))
            parts = [p.text for p in document.paragraphs]
            parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
            text = "\n".join(p for p in parts if p)
        elif kind == "xlsx":
            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            parts = []
            for sheet in book.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    parts.extend(str(v) for v in row if v is not None and str(v).strip())
                    if sum(map(len, parts)) > MAX_TEXT:
                        break
            book.close()
            text = "\n".join(parts)
        elif kind == "pdf":
            import pypdf

            reader = pypdf.PdfReader(io.BytesIO(data))
            parts = []
            for page in reader.pages:
                parts.append(page.extract_text() or "")
                if sum(map(len, parts)) > MAX_TEXT:
                    break
            text = "\n".join(parts)
        else:
            text = ""
    except Exception:  # noqa: BLE001  (a file whose text cannot be read is still a file)
        return ""
    return text.replace("\x00", "")[:MAX_TEXT]


# -- services -----------------------------------------------------------------------------------


def _refuse(message: str, code: str, field: str, value, *, status: int = 400) -> ServiceError:
    return ServiceError(message, code=code, status=status, details={field: [str(value)]})


def _read_limited(upload: BinaryIO | bytes) -> bytes:
    limit = settings.GOVCENTER_ATTACHMENT_MAX_BYTES
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        chunks, size = [], 0
        while chunk := upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
        data = b"".join(chunks) if size <= limit else b"\x00" * (limit + 1)
    if len(data) > limit:
        raise _refuse(
            _("文件超过大小上限（%(mb).0f MB）。") % {"mb": limit / 1024 / 1024}, "file_too_large", "file", limit, status=413
        )
    if not data:
        raise _refuse(_("文件为空。"), "empty_file", "file", 0)
    return data


def check_file(name: str, data: bytes) -> str:
    """The kind of the file ``name`` with content ``data`` if it may be attached (ServiceError otherwise)."""
    name = (name or "").strip()
    if not name or len(name) > 200 or "/" in name or "\\" in name or "\x00" in name:
        raise _refuse(_("文件名无效。"), "invalid_name", "name", name[:200])
    kind = sniff(data)
    allowed = set(settings.GOVCENTER_ATTACHMENT_KINDS)
    if kind is None or kind not in allowed:
        raise _refuse(
            _("不允许的文件类型；允许：%(kinds)s。") % {"kinds": "、".join(sorted(allowed))},
            "file_type_not_allowed",
            "file",
            kind or "unknown",
        )
    if not name.lower().endswith(KINDS[kind][1]):
        raise _refuse(
            _("文件名的扩展名与文件内容（%(kind)s）不符。") % {"kind": kind}, "extension_mismatch", "name", name
        )
    return kind


def _lock_blob(key: str) -> None:
    """Serialise, for the rest of the transaction, what touches the blob ``key``: an upload
    storing (or reusing) it until its row commits, and the purge checking and removing it.

    PostgreSQL: a transaction-scoped advisory lock keyed by the digest. SQLite:
    transaction_mode=IMMEDIATE already serialises every transaction (BEGIN IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        lock = int.from_bytes(sm3(b"attachment-blob|" + key.encode())[:8], "big", signed=True)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock])


def attach(obj, *, actor, name: str, upload: BinaryIO | bytes, storage: Storage | None = None) -> Attachment:
    """Attach a file to ``obj`` (see the module docstring); returns the row."""
    data = _read_limited(upload)
    kind = check_file(name, data)
    digest = sm3_hex(data)
    storage = storage or default_storage()
    text = extract_text(kind, data)
    with transaction.atomic():
        # Stored under the blob's lock and committed with the row: a purge that listed the key
        # before this upload reused the bytes waits, then sees the live row and keeps them.
        _lock_blob(digest)
        storage.put(digest, data)
        row = Attachment.objects.create(
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            name=name.strip(),
            kind=kind,
            mime=KINDS[kind][0],
            size=len(data),
            sm3=digest,
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=digest,
            text=text,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            action="attachment.add",
            obj=obj,
            changes={"attachment": row.pk, "name": row.name, "size": row.size, "sm3": digest},
        )
    return row


def attachments_of(obj, *, include_deleted: bool = False):
    qs = Attachment.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
    return qs if include_deleted else qs.filter(deleted_at__isnull=True)


def attachment_read(attachment: Attachment, *, actor, storage: Storage | None = None) -> bytes:
    """The bytes of ``attachment``, checked against its SM3 digest; the download is audited."""
    if attachment.deleted_at is not None:
        raise _refuse(_("附件已删除。"), "attachment_deleted", "attachment", attachment.pk, status=410)
    try:
        data = (storage or default_storage()).get(attachment.storage_key)
    except FileNotFoundError:
        logger.error(
            "attachment %s: bytes %s missing from the storage", attachment.pk, attachment.storage_key
        )
        raise _refuse(
            _("附件文件缺失，请联系管理员。"), "attachment_missing", "attachment", attachment.pk, status=500
        ) from None
    if sm3_hex(data) != attachment.sm3:
        raise _refuse(_("附件内容校验失败。"), "attachment_corrupt", "attachment", attachment.pk, status=500)
    audit.record(action="attachment.download", obj=attachment, changes={"name": attachment.name})
    return data


def attachment_delete(attachment: Attachment, *, actor) -> Attachment:
    """Mark ``attachment`` deleted (audited); :func:`attachments_purge` removes the bytes later."""
    with transaction.atomic():
        row = Attachment.objects.select_for_update().get(pk=attachment.pk)
        if row.deleted_at is not None:
            return row
        row.deleted_at = timezone.now()
        row.deleted_by = actor if getattr(actor, "pk", None) else None
        row.save(update_fields=["deleted_at", "deleted_by"])
        audit.record(action="attachment.delete", obj=row, changes={"name": row.name, "sm3": row.sm3})
    return row


def attachments_purge(*, grace: dt.timedelta = PURGE_GRACE, storage: Storage | None = None) -> int:
    """Remove the bytes no live attachment uses, once their last row was deleted ``grace`` ago.

    The keys are listed first, then each is checked again and removed under its blob lock
    (:func:`_lock_blob`, which an upload holds from storing the bytes until its row commits):
    a key some row has taken up since the listing is kept. Returns the blobs removed.
    """
    storage = storage or default_storage()
    cutoff = timezone.now() - grace
    keys = list(
        Attachment.objects.filter(deleted_at__lt=cutoff)
        .exclude(storage_key__in=_still_used(cutoff))
        .values_list("storage_key", flat=True)
        .distinct()
    )
    removed = 0
    for key in keys:
        with transaction.atomic():
            _lock_blob(key)
            if _still_used(cutoff).filter(storage_key=key).exists():
                continue  # an upload took the bytes up again since the listing: keep them
            if storage.exists(key):
                storage.delete(key)
                removed += 1
    return removed


def _still_used(cutoff: dt.datetime):
    """The rows that keep their bytes: live ones, and those deleted after ``cutoff``."""
    used = Attachment.objects.filter(Q(deleted_at__isnull=True) | Q(deleted_at__gte=cutoff))
    return used.values("storage_key")
