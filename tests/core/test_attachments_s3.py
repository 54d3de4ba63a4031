"""Attachments in an S3-compatible store (core/attachments.py ``S3Storage``, ADR 0006).

No S3 service runs on these machines: the module starts moto's S3 server in this process, bound
to 127.0.0.1 on a free port, and the storage talks HTTP to it with boto3 as it would to a real
store (moto's mock decorators are not used, so requests, checksums and errors are real).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import socket
import uuid

import docx
import pytest
from django.utils import timezone
from moto.server import ThreadedMotoServer

from govcenter.core import attachments as att
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.models import Attachment, AuditEntry
from govcenter.core.tasks import attachments_purge_daily
from tests.core.test_settings import _govcenter
from tests.factories import UserFactory
from tests.workflow_app.models import Request

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Credentials the way a deployment gives them: boto3's environment variables, nothing else."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "govcenter-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "govcenter-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    att._s3_storage.cache_clear()
    yield
    att._s3_storage.cache_clear()


@pytest.fixture
def bucket(s3_endpoint, aws_env):
    """A new, empty bucket per test (moto's state lives as long as the server)."""
    name = f"govcenter-{uuid.uuid4().hex[:16]}"
    admin(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(s3_endpoint, bucket):
    return att.S3Storage(
        bucket, prefix="attachments/", endpoint_url=s3_endpoint, region=REGION, addressing_style="path"
    )


@pytest.fixture
def case(db):
    return Request.objects.create(title="东直门交通枢纽周边缓堵方案")


def admin(endpoint: str):
    """A plain boto3 client on the same server: the bucket as an operator (or an attacker) sees it."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def objects(store) -> list[str]:
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_attach_and_read_round_trip_through_the_bucket(case, store):
    user = UserFactory()
    report = docx_bytes("朝阳路公交专用道评估意见")
    a = att.attach(case, actor=user, name="评估意见.docx", upload=io.BytesIO(report), storage=store)
    b = att.attach(case, actor=user, name="现场.png", upload=PNG, storage=store)
    assert (a.kind, a.sm3, a.storage_key) == ("docx", sm3_hex(report), sm3_hex(report))
    assert "公交专用道" in a.text
    assert objects(store) == sorted(f"attachments/{row.storage_key}" for row in (a, b))
    # The upload carried its SHA-256: the store checked it and keeps it with the object.
    head = store.client.head_object(
        Bucket=store.bucket, Key=f"attachments/{a.storage_key}", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(report).digest()).decode()
    assert head["ContentLength"] == len(report)
    assert att.attachment_read(a, actor=user, storage=store) == report
    assert att.attachment_read(b, actor=user, storage=store) == PNG
    assert AuditEntry.objects.filter(action="attachment.download").count() == 2


def test_identical_bytes_are_uploaded_once(case, store):
    store.client.put_bucket_versioning(Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"})
    user = UserFactory()
    a = att.attach(case, actor=user, name="一.txt", upload="同一份材料".encode(), storage=store)
    b = att.attach(case, actor=user, name="二.txt", upload="同一份材料".encode(), storage=store)
    assert a.pk != b.pk and a.storage_key == b.storage_key
    # A versioned bucket keeps every PUT: one version means the second upload never wrote.
    versions = store.client.list_object_versions(Bucket=store.bucket)["Versions"]
    assert [v["Key"] for v in versions] == [f"attachments/{a.storage_key}"]


def test_bytes_changed_in_the_bucket_are_caught_by_the_digest(case, store, s3_endpoint):
    user = UserFactory()
    row = att.attach(case, actor=user, name="批复.txt", upload="原始批复文本".encode(), storage=store)
    admin(s3_endpoint).put_object(
        Bucket=store.bucket, Key=f"attachments/{row.storage_key}", Body="篡改后的文本".encode()
    )
    with pytest.raises(ServiceError) as info:
        att.attachment_read(row, actor=user, storage=store)
    assert (info.value.error_code, info.value.status_code) == ("attachment_corrupt", 500)
    assert not AuditEntry.objects.filter(action="attachment.download").exists()


def test_the_purge_removes_only_unused_objects_after_the_grace(case, store):
    user = UserFactory()
    a = att.attach(case, actor=user, name="a.txt", upload=b"shared", storage=store)
    b = att.attach(case, actor=user, name="b.txt", upload=b"shared", storage=store)
    c = att.attach(case, actor=user, name="c.txt", upload=b"alone", storage=store)
    att.attachment_delete(a, actor=user)
    att.attachment_delete(c, actor=user)
    assert att.attachments_purge(storage=store) == 0  # within the grace period
    Attachment.objects.filter(pk__in=[a.pk, c.pk]).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    assert att.attachments_purge(storage=store) == 1  # c's bytes; a's are still b's
    assert objects(store) == [f"attachments/{b.storage_key}"]
    assert store.exists(b.storage_key) and not store.exists(c.storage_key)
    assert att.attachments_purge(storage=store) == 0


def test_the_settings_choose_s3_for_the_services_and_the_daily_purge(case, settings, s3_endpoint, bucket):
    settings.GOVCENTER_ATTACHMENT_STORAGE = "s3"
    settings.GOVCENTER_ATTACHMENT_S3_BUCKET = bucket
    settings.GOVCENTER_ATTACHMENT_S3_PREFIX = "govcenter/att/"
    settings.GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL = s3_endpoint
    settings.GOVCENTER_ATTACHMENT_S3_REGION = REGION
    settings.GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE = "path"
    storage = att.default_storage()
    assert isinstance(storage, att.S3Storage) and att.default_storage() is storage
    user = UserFactory()
    row = att.attach(case, actor=user, name="会议纪要.txt", upload="专题会议纪要".encode())
    assert objects(storage) == [f"govcenter/att/{row.storage_key}"]
    assert att.attachment_read(row, actor=user) == "专题会议纪要".encode()
    att.attachment_delete(row, actor=user)
    Attachment.objects.filter(pk=row.pk).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    assert attachments_purge_daily.call_local() == 1
    assert objects(storage) == []


def test_the_local_storage_stays_the_default(settings, tmp_path):
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "files")
    storage = att.default_storage()
    assert isinstance(storage, att.LocalStorage) and storage.root == tmp_path / "files"


@pytest.fixture
def dead_endpoint():
    """An address where nothing answers: a port bound (so no one else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_store_is_a_503_not_a_traceback(case, aws_env, dead_endpoint, tmp_path):
    dead = att.S3Storage("govcenter", endpoint_url=dead_endpoint, region=REGION, timeout=2, max_attempts=1)
    user = UserFactory()
    with pytest.raises(ServiceError) as info:
        att.attach(case, actor=user, name="a.txt", upload=b"while the store is down", storage=dead)
    assert (info.value.error_code, info.value.status_code) == ("storage_unavailable", 503)
    assert list(info.value.details) == ["storage"]
    assert not Attachment.objects.exists()  # nothing half-written

    row = att.attach(
        case, actor=user, name="b.txt", upload=b"stored earlier", storage=att.LocalStorage(tmp_path)
    )
    with pytest.raises(ServiceError) as info:
        att.attachment_read(row, actor=user, storage=dead)
    assert (info.value.error_code, info.value.status_code) == ("storage_unavailable", 503)

    att.attachment_delete(row, actor=user)
    Attachment.objects.filter(pk=row.pk).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    with pytest.raises(ServiceError) as info:
        att.attachments_purge(storage=dead)
    assert (info.value.error_code, info.value.status_code) == ("storage_unavailable", 503)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"GOVCENTER_ATTACHMENT_STORAGE": "ftp"}, "GOVCENTER_ATTACHMENT_STORAGE='ftp': use local or s3"),
        (
            {"GOVCENTER_ATTACHMENT_STORAGE": "s3"},
            "GOVCENTER_ATTACHMENT_STORAGE=s3 needs GOVCENTER_ATTACHMENT_S3_BUCKET",
        ),
    ],
)
def test_a_storage_misconfiguration_fails_at_start_in_one_line(tmp_path, env, reason):
    result = _govcenter(tmp_path, "check", GOVCENTER_DEBUG="true", **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
