"""Generating and handing out the monthly report: the writes, each audited.

* :func:`monthlyreport_generate` — gather the month (:func:`.monthly.gather`), render the
  Word and Excel files, store them under ``GOVCENTER_VAR_DIR/reports/bikeshare/<YYYY-MM>/``
  and record a :class:`~govcenter.bikeshare.models.reports.MonthlyReport` row with the
  files' SHA-256, audited in the same transaction (files written first; removed again if
  the row cannot be saved).
* :func:`monthlyreport_file` — the stored file of a report for download, after checking
  its SHA-256; every download is audited.

Both need the function permission (``add_monthlyreport`` / ``view_monthlyreport``) and the
full data scope (the report covers the whole city).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.documents import write_atomic

from ..models.reports import MonthlyReport
from . import docx as word
from . import xlsx as excel
from .monthly import SYSTEM, gather, require_center

VIEW_PERMISSION = "bikeshare.view_monthlyreport"
ADD_PERMISSION = "bikeshare.add_monthlyreport"
KINDS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
AUDIT_FIELDS = ["id", "year", "month", "docx_path", "docx_sha256", "xlsx_path", "xlsx_sha256", "data_sha256"]


def _require(actor, permission: str) -> None:
    if actor is SYSTEM:
        return
    if actor is None or not actor.is_authenticated or not actor.has_perm(permission):
        raise PermissionDenied(_("没有月度报告权限。"))
    require_center(actor)


def reports_dir() -> Path:
    return Path(settings.GOVCENTER_VAR_DIR) / "reports" / "bikeshare"


def file_name(year: int, month: int, kind: str) -> str:
    return f"bikeshare-monthly-{year}-{month:02d}.{kind}"


def data_digest(data: dict) -> str:
    """SHA-256 of the gathered figures (canonical JSON): equal for equal inputs."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def monthlyreport_list(actor):
    """The stored reports, newest month first (needs ``view_monthlyreport`` and full scope)."""
    _require(actor, VIEW_PERMISSION)
    return MonthlyReport.objects.select_related("generated_by")


def monthlyreport_generate(
    actor, *, year: int, month: int, lake_root=None, now: dt.datetime | None = None
) -> MonthlyReport:
    """Build, store and record the report of ``year``-``month``; returns the new row."""
    _require(actor, ADD_PERMISSION)
    generated_at = (now or timezone.now()).replace(microsecond=0)
    data = gather(actor, year, month, lake_root=lake_root, now=generated_at)
    docx_bytes = word.render(data, generated_at=generated_at)
    xlsx_bytes = excel.render(data, generated_at=generated_at)

    var = Path(settings.GOVCENTER_VAR_DIR)
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = reports_dir() / f"{year}-{month:02d}" / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    paths = {}
    try:
        for kind, content in (("docx", docx_bytes), ("xlsx", xlsx_bytes)):
            path = folder / file_name(year, month, kind)
            write_atomic(path, content)
            paths[kind] = path
        user = None if actor is SYSTEM else actor
        with transaction.atomic():
            report = MonthlyReport.objects.create(
                year=year,
                month=month,
                generated_at=generated_at,
                generated_by=user,
                generated_by_name=getattr(user, "username", "") if user else "system",
                docx_path=str(paths["docx"].relative_to(var)),
                docx_sha256=hashlib.sha256(docx_bytes).hexdigest(),
                docx_size=len(docx_bytes),
                xlsx_path=str(paths["xlsx"].relative_to(var)),
                xlsx_sha256=hashlib.sha256(xlsx_bytes).hexdigest(),
                xlsx_size=len(xlsx_bytes),
                data_sha256=data_digest(data),
                summary=data["summary"],
            )
            audit.record(
                action="bikeshare.monthlyreport.generate",
                obj=report,
                changes={"after": audit.snapshot(report, AUDIT_FIELDS)},
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return report


@dataclass(frozen=True)
class ReportFile:
    path: Path
    name: str
    content_type: str


def monthlyreport_file(actor, *, report: MonthlyReport, kind: str) -> ReportFile:
    """The stored ``kind`` file of ``report`` after checking its digest; the download is audited."""
    _require(actor, VIEW_PERMISSION)
    if kind not in KINDS:
        raise ServiceError(_("文件类型不正确。"), code="bad_kind", details={"kind": [str(kind)[:10]]})
    path = Path(settings.GOVCENTER_VAR_DIR) / getattr(report, f"{kind}_path")
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise ServiceError(_("报告文件不存在。"), code="file_missing", status=404) from None
    if digest != getattr(report, f"{kind}_sha256"):
        raise ServiceError(_("报告文件校验失败，可能已被改动。"), code="file_corrupt", status=409)
    with transaction.atomic():
        audit.record(
            action="bikeshare.monthlyreport.download",
            obj=report,
            changes={"kind": kind, "sha256": digest},
        )
    return ReportFile(path=path, name=file_name(report.year, report.month, kind), content_type=KINDS[kind])


def export_copy(report: MonthlyReport, out_dir: Path) -> dict[str, Path]:
    """Copy a report's files into ``out_dir`` (the CLI's ``--out``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    var = Path(settings.GOVCENTER_VAR_DIR)
    copies = {}
    for kind in KINDS:
        target = out_dir / file_name(report.year, report.month, kind)
        shutil.copyfile(var / getattr(report, f"{kind}_path"), target)
        copies[kind] = target
    return copies
