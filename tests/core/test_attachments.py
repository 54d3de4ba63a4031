"""Attachments (core/attachments.py): kinds by content, limits, digests, text for search, the
local storage, download checks and audit, deletion and the purge of unused bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import docx
import openpyxl
import pytest
from django.db import connection, transaction
from django.utils import timezone
from fpdf import FPDF

from govcenter.core import attachments as att
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.models import Attachment, AuditEntry
from tests.core.test_attachments_s3 import aws_env, bucket, s3_endpoint  # noqa: F401  (fixtures)
from tests.factories import UserFactory
from tests.workflow_app.models import Request

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def store(tmp_path):
    return att.LocalStorage(tmp_path / "attachments")


@pytest.fixture
def case(db):
    return Request.objects.create(title="三环路主路匝道改造")


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "表格里的路口名称"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["项目", "进度"])
    book.active.append(["望京街交通组织优化", 60])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Traffic impact assessment opinion")
    return bytes(pdf.output())


def test_each_kind_is_known_by_its_content_and_its_text_extracted(case, store):
    user = UserFactory()
    files = {
        "意见.docx": ("docx", docx_bytes("西直门北大街信号配时优化"), "信号配时"),
        "台账.xlsx": ("xlsx", xlsx_bytes(), "望京街交通组织优化"),
        "评价意见.pdf": ("pdf", pdf_bytes(), "Traffic impact"),
        "说明.txt": ("txt", "通州副中心停车治理".encode("gb18030"), "通州副中心"),
        "现场.png": ("png", PNG, None),
    }
    for name, (kind, data, needle) in files.items():
        row = att.attach(case, actor=user, name=name, upload=io.BytesIO(data), storage=store)
        assert (row.kind, row.size, row.sm3, row.sha256) == (kind, len(data), sm3_hex(data), hashlib.sha256(data).hexdigest())
        assert (needle in row.text) if needle else row.text == ""
        assert att.attachment_read(row, actor=user, storage=store) == data
    assert "表格里的路口名称" in Attachment.objects.get(kind="docx").text
    assert att.attachments_of(case).count() == 5
    assert AuditEntry.objects.filter(action="attachment.add").count() == 5
    assert AuditEntry.objects.filter(action="attachment.download").count() == 5


@pytest.mark.parametrize(
    ("name", "data", "code", "status"),
    [
        ("a.exe", b"MZ\x90\x00\x03\x00\x00\x00", "file_type_not_allowed", 400),
        ("scan.pdf", PNG, "extension_mismatch", 400),  # a PNG named .pdf
        ("report.docx", b"PK\x03\x04" + b"\x00" * 40, "file_type_not_allowed", 400),  # not a real docx
        ("empty.txt", b"", "empty_file", 400),
        ("../../etc/passwd.txt", b"x", "invalid_name", 400),
        ("big.txt", b"x" * 2049, "file_too_large", 413),
    ],
)
def test_refusals_name_the_field_and_store_nothing(case, store, settings, name, data, code, status):
    settings.GOVCENTER_ATTACHMENT_MAX_BYTES = 2048
    with pytest.raises(ServiceError) as info:
        att.attach(case, actor=UserFactory(), name=name, upload=io.BytesIO(data), storage=store)
    assert (info.value.error_code, info.value.status_code) == (code, status)
    assert set(info.value.details) <= {"file", "name"}
    assert not Attachment.objects.exists() and not store.root.exists()


def test_a_kind_switched_off_in_the_settings_is_refused(case, store, settings):
    settings.GOVCENTER_ATTACHMENT_KINDS = ["pdf"]
    with pytest.raises(ServiceError) as info:
        att.attach(case, actor=UserFactory(), name="a.png", upload=PNG, storage=store)
    assert info.value.error_code == "file_type_not_allowed"


def test_identical_files_are_stored_once_and_a_tampered_file_is_caught(case, store):
    user = UserFactory()
    a = att.attach(case, actor=user, name="一.txt", upload=b"same bytes", storage=store)
    b = att.attach(case, actor=user, name="二.txt", upload=b"same bytes", storage=store)
    assert a.storage_key == b.storage_key
    assert len([p for p in store.root.rglob("*") if p.is_file()]) == 1
    store._path(a.storage_key).write_bytes(b"other bytes")
    with pytest.raises(ServiceError) as info:
        att.attachment_read(a, actor=user, storage=store)
    assert info.value.error_code == "attachment_corrupt"


def test_delete_keeps_the_record_and_the_purge_drops_only_unused_bytes_after_the_grace(case, store):
    user = UserFactory()
    a = att.attach(case, actor=user, name="a.txt", upload=b"shared", storage=store)
    b = att.attach(case, actor=user, name="b.txt", upload=b"shared", storage=store)
    c = att.attach(case, actor=user, name="c.txt", upload=b"alone", storage=store)
    att.attachment_delete(a, actor=user)
    att.attachment_delete(c, actor=user)
    assert att.attachments_of(case).count() == 1 and att.attachments_of(case, include_deleted=True).count() == 3
    with pytest.raises(ServiceError) as info:
        att.attachment_read(Attachment.objects.get(pk=c.pk), actor=user, storage=store)
    assert info.value.status_code == 410
    assert att.attachments_purge(storage=store) == 0  # within the grace period
    Attachment.objects.filter(pk__in=[a.pk, c.pk]).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    assert att.attachments_purge(storage=store) == 1  # c's bytes; a's are still b's
    assert store.exists(b.storage_key) and not store.exists(c.storage_key)
    assert AuditEntry.objects.filter(action="attachment.delete").count() == 2


def reupload_after_the_listing(case, user, store, name: str, data: bytes):
    """Run an upload of ``data`` right after the purge's listing query: another process
    attaching the same bytes while the purge goes through its list (the race it must survive)."""
    state = {"done": False, "row": None}

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not state["done"] and "DISTINCT" in sql and "core_attachment" in sql:
            state["done"] = True
            state["row"] = att.attach(case, actor=user, name=name, upload=data, storage=store)
        return result

    return state, connection.execute_wrapper(wrapper)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_purge_keeps_bytes_an_upload_reused_after_its_listing(case, store, backend, request):
    if backend == "s3":
        store = request.getfixturevalue("s3_store")
    user = UserFactory()
    old = att.attach(case, actor=user, name="旧.txt", upload=b"reused bytes", storage=store)
    att.attachment_delete(old, actor=user)
    Attachment.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    state, hook = reupload_after_the_listing(case, user, store, "新.txt", b"reused bytes")
    with hook:
        assert att.attachments_purge(storage=store) == 0
    assert state["done"] and state["row"].storage_key == old.storage_key
    assert store.exists(old.storage_key)
    assert att.attachment_read(state["row"], actor=user, storage=store) == b"reused bytes"


@pytest.fixture
def s3_store(request):
    from tests.core.test_attachments_s3 import REGION

    endpoint, name = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
    return att.S3Storage(name, endpoint_url=endpoint, region=REGION, addressing_style="path")


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_bytes_missing_from_the_storage_are_a_clean_error(case, store, backend, request):
    if backend == "s3":
        store = request.getfixturevalue("s3_store")
    user = UserFactory()
    row = att.attach(case, actor=user, name="丢失.txt", upload=b"soon gone", storage=store)
    store.delete(row.storage_key)
    with pytest.raises(ServiceError) as info:
        att.attachment_read(row, actor=user, storage=store)
    assert (info.value.error_code, info.value.status_code) == ("attachment_missing", 500)
    assert info.value.details == {"attachment": [str(row.pk)]}
    assert not AuditEntry.objects.filter(action="attachment.download").exists()


@pytest.mark.django_db(transaction=True)
def test_an_upload_holds_the_blob_lock_from_storing_until_its_row_commits(tmp_path):
    """On PostgreSQL the purge's lock is held by the upload while it stores the bytes: checked
    from a second connection with pg_try_advisory_xact_lock (no waiting, no timing)."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writing transactions")
    import threading

    from django.db import connections

    case = Request.objects.create(title="锁")
    stored, go, seen = threading.Event(), threading.Event(), {}

    class PausingStorage(att.LocalStorage):
        def put(self, key, data):
            super().put(key, data)
            stored.set()
            go.wait()

    def upload():
        try:
            att.attach(
                case, actor=None, name="锁.txt", upload=b"locked bytes", storage=PausingStorage(tmp_path)
            )
        finally:
            connections.close_all()

    worker = threading.Thread(target=upload)
    worker.start()
    try:
        stored.wait()
        key = int.from_bytes(
            att.sm3(b"attachment-blob|" + sm3_hex(b"locked bytes").encode())[:8], "big", signed=True
        )
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            seen["while_storing"] = cur.fetchone()[0]
    finally:
        go.set()
        worker.join()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        seen["after_commit"] = cur.fetchone()[0]
    assert seen == {"while_storing": False, "after_commit": True}
    assert Attachment.objects.filter(name="锁.txt").exists()
