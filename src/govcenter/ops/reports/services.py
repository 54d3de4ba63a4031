"""Generating and handing out the O&M reports (月报 / 季度报告), each write audited.

* :func:`report_generate` — gather the configured sections of the period
  (:mod:`.registry`), render Word and PDF, store both under
  ``GOVCENTER_VAR_DIR/reports/ops/<label>/<stamp>/`` (written to a temporary name, fsynced,
  renamed), then record a :class:`~govcenter.ops.models.Report` row with their SM3 digests,
  audited in the same transaction (the folder is removed again if the row cannot be saved).
* :func:`report_file` — a stored file after checking its SM3 digest; every download audited.

The reports cover the whole Center: generating needs ``ops.add_report``, reading
``ops.view_report``; the scheduled job acts as the system (``actor=None``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex
from govcenter.core.documents import write_atomic

from ..models import Report, ReportKind
from . import pdf, registry, word

SYSTEM = None
CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
AUDIT_FIELDS = ["kind", "label", "period_start", "period_end", "docx_path", "docx_sm3", "pdf_path", "pdf_sm3"]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def parse_period(kind: str, label: str) -> tuple[dt.date, dt.date]:
    """``("month", "2026-10")`` or ``("quarter", "2026Q3")`` → the first and last day."""
    label = (label or "").strip().upper()
    if kind == ReportKind.MONTH and (m := _MONTH.match(label)) and 1 <= int(m[2]) <= 12:
        return month_bounds(int(m[1]), int(m[2]))
    if kind == ReportKind.QUARTER and (m := _QUARTER.match(label)):
        first_month = 3 * (int(m[2]) - 1) + 1
        return dt.date(int(m[1]), first_month, 1), month_bounds(int(m[1]), first_month + 2)[1]
    raise ServiceError(_("期间格式有误（月：2026-10，季度：2026Q3）。"), code="invalid", details={"period": [label]})


def previous_month(today: dt.date) -> str:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last:%Y-%m}"


def previous_quarter(today: dt.date) -> str:
    quarter = (today.month - 1) // 3  # the current quarter, 0-based
    return f"{today.year - 1}Q4" if quarter == 0 else f"{today.year}Q{quarter}"


def _require(actor, permission: str) -> None:
    if actor is SYSTEM:
        return
    if not actor.is_authenticated or not actor.has_perm(permission):
        raise PermissionDenied(_("没有运维报告权限。"))


def title_of(kind: str, label: str) -> str:
    if kind == ReportKind.MONTH:
        year, month = label.split("-")
        return f"运维服务月报（{year}年{int(month)}月）"
    year, quarter = label.split("Q")
    return f"运维服务季度报告（{year}年第{quarter}季度）"


def report_generate(*, actor, kind: str, label: str, now: dt.datetime | None = None) -> Report:
    """Build, store and record the report of the period; returns the new row."""
    _require(actor, "ops.add_report")
    if kind not in ReportKind.values:
        raise ServiceError(_("未知的报告类型。"), code="invalid", details={"kind": [str(kind)]})
    label = label.strip().upper()
    start, end = parse_period(kind, label)
    generated_at = (now or timezone.now()).replace(microsecond=0)
    if start > timezone.localtime(generated_at).date():
        raise ServiceError(_("期间尚未开始。"), code="invalid", details={"period": [label]})
    sections = registry.gather(start, end)
    title = title_of(kind, label)
    subtitle = f"统计期间：{start.isoformat()} 至 {end.isoformat()}"
    local = timezone.localtime(generated_at)
    files = {
        "docx": word.render(title=title, subtitle=subtitle, sections=sections, generated_at=local),
        "pdf": pdf.render(title=title, subtitle=subtitle, sections=sections, generated_at=local),
    }
    var = Path(settings.GOVCENTER_VAR_DIR)
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = var / "reports" / "ops" / label / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    try:
        paths = {}
        for ext, content in files.items():
            paths[ext] = folder / f"ops-{kind}-{label}.{ext}"
            write_atomic(paths[ext], content)
        with transaction.atomic():
            report = Report.objects.create(
                kind=kind, label=label, period_start=start, period_end=end, generated_at=generated_at,
                generated_by=actor, generated_by_name=actor.username if actor else "system",
                parameters={"sections": list(settings.GOVCENTER_OPS_REPORT_SECTIONS)},
                docx_path=str(paths["docx"].relative_to(var)), docx_sm3=sm3_hex(files["docx"]),
                pdf_path=str(paths["pdf"].relative_to(var)), pdf_sm3=sm3_hex(files["pdf"]),
                summary={s["key"]: {"title": s["title"], "figures": s["figures"]} for s in sections},
            )  # fmt: skip
            audit.record(action="ops.report.generate", obj=report, changes={"after": audit.snapshot(report, AUDIT_FIELDS)})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return report


def report_file(*, actor, report: Report, ext: str) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of a stored file, its SM3 checked; the download is audited."""
    _require(actor, "ops.view_report")
    if ext not in CONTENT_TYPES:
        raise ServiceError(_("未知的文件类型。"), code="invalid", details={"ext": [ext]})
    path = Path(settings.GOVCENTER_VAR_DIR) / getattr(report, f"{ext}_path")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ServiceError(_("报告文件缺失，请联系管理员。"), code="report_missing", status=500) from None
    if sm3_hex(data) != getattr(report, f"{ext}_sm3"):
        raise ServiceError(_("报告文件校验失败。"), code="report_corrupt", status=500)
    audit.record(action="ops.report.download", obj=report, changes={"file": ext})
    return data, path.name, CONTENT_TYPES[ext]
