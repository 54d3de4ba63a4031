"""Central log audit (日志审计): ingest from other hosts, search, export, retention.

**The kernel audit chain is searched, not copied.** :func:`log_search` is a UNION of two indexed
range queries — ``LogRecord`` (application logs) and ``core.AuditEntry`` (the audit chain) —
projected onto the same columns. We chose the union over a periodic import with a watermark:
the chain is the single tamper-evident source of truth (hash chain, signed checkpoints, delete
triggers); a copy would be a second, unprotected version that can drift, needs its own
retention and doubles the storage. Both sides filter on their own indexes (time, user, action,
object) before the union, and the time range is required and bounded, so one search stays two
index range scans. Kernel audit events show only to holders of ``core.view_audit`` (the
auditor): 三权分立 keeps the audit chain away from the security administrator, who sees the
application logs only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, CharField, F, Q, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry

from ..models import LogLevel, LogRecord

AUDIT_LEVEL = "AUDIT"
LEVELS = [*LogLevel.values, AUDIT_LEVEL]
COLUMNS = ["ts", "level", "source", "message", "username", "action", "object_type", "object_id", "request_id", "host"]
PRUNE_BATCH = 5000
MIN_RETENTION_DAYS = 180


def check_retention(days: int) -> None:
    """Refuse a retention below the legal minimum (used by the system check and the prune)."""
    if days < MIN_RETENTION_DAYS:
        raise ServiceError(
            _("日志保存期不得少于180天（当前设置：%(days)s天）。") % {"days": days}, code="invalid",
            details={"GOVCENTER_OPS_LOG_RETENTION_DAYS": [str(days)]},
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


def validate_range(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The search range: both ends required, end after start, at most
    GOVCENTER_OPS_LOG_SEARCH_MAX_DAYS long."""
    if start is None or end is None:
        raise ServiceError(_("请填写开始和结束时间。"), code="invalid", details={"range": [_("必填")]})
    if end <= start:
        raise ServiceError(_("结束时间须晚于开始时间。"), code="invalid", details={"end": [end.isoformat()]})
    max_days = settings.GOVCENTER_OPS_LOG_SEARCH_MAX_DAYS
    if end - start > dt.timedelta(days=max_days):
        raise ServiceError(_("时间范围不能超过%(days)s天。") % {"days": max_days}, code="invalid",
                           details={"range": [f"> {max_days} days"]})  # fmt: skip
    return start, end


def sees_audit_events(user) -> bool:
    return bool(user is not None and user.has_perm("core.view_audit"))


def log_search(
    *, user, start: dt.datetime, end: dt.datetime, username: str = "", action: str = "", object_type: str = "",
    object_id: str = "", level: str = "", text: str = "",
):  # fmt: skip
    """Application log records and (for auditors) kernel audit events in ``[start, end)``, newest
    first, as one union of dict rows with :data:`COLUMNS` (+ ``kind``, ``rid``)."""
    start, end = validate_range(start, end)
    username, action, object_type = username.strip(), action.strip(), object_type.strip()
    object_id, level, text = object_id.strip(), level.strip().upper(), text.strip()
    logs = LogRecord.objects.filter(ts__gte=start, ts__lt=end)
    entries = AuditEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    if username:
        if username.isdigit():
            logs, entries = logs.filter(user_id=int(username)), entries.filter(user_id=int(username))
        else:
            logs, entries = logs.filter(username__iexact=username), entries.filter(username__iexact=username)
    if action:
        logs, entries = logs.filter(action=action), entries.filter(action=action)
    if object_type:
        logs, entries = logs.filter(object_type=object_type), entries.filter(object_type=object_type)
    if object_id:
        logs, entries = logs.filter(object_id=object_id), entries.filter(object_id=object_id)
    if level:
        logs = logs.none() if level == AUDIT_LEVEL else logs.filter(level=level)
        entries = entries if level == AUDIT_LEVEL else entries.none()
    if text:
        logs = logs.filter(Q(message__icontains=text) | Q(logger__icontains=text))
        entries = entries.filter(Q(object_repr__icontains=text) | Q(reason__icontains=text) | Q(action__icontains=text))
    text_field, char = TextField(), CharField()
    log_rows = logs.annotate(
        kind=Value("log", output_field=char), rid=F("pk"), t=F("ts"), lv=F("level"), src=F("logger"),
        msg=Cast("message", text_field), uid=Cast("user_id", BigIntegerField()), un=F("username"), act=F("action"),
        ot=F("object_type"), oi=F("object_id"), req=F("request_id"), host=F("source_host"),
    ).values("kind", "rid", "t", "lv", "src", "msg", "uid", "un", "act", "ot", "oi", "req", "host").order_by()  # fmt: skip
    if not sees_audit_events(user):
        return log_rows.order_by("-t", "-rid")
    audit_rows = entries.annotate(
        kind=Value("audit", output_field=char), rid=F("seq"), t=F("created_at"),
        lv=Value(AUDIT_LEVEL, output_field=char), src=F("channel"), msg=Cast("object_repr", text_field),
        uid=Cast("user_id", BigIntegerField()), un=F("username"), act=F("action"), ot=F("object_type"),
        oi=F("object_id"), req=F("request_id"), host=Value("", output_field=char),
    ).values("kind", "rid", "t", "lv", "src", "msg", "uid", "un", "act", "ot", "oi", "req", "host").order_by()  # fmt: skip
    return log_rows.union(audit_rows, all=True).order_by("-t", "-rid")


def row_cells(row: dict) -> list:
    """One result row as the cells of the table and the export (COLUMNS order)."""
    ts = timezone.localtime(row["t"]).strftime("%Y-%m-%d %H:%M:%S")
    user = row["un"] or (str(row["uid"]) if row["uid"] is not None else "")
    return [ts, row["lv"], row["src"], row["msg"], user, row["act"], row["ot"], row["oi"], row["req"], row["host"]]


def log_export(*, user, rows, filters: dict, fmt: str) -> tuple[bytes, str, str]:
    """The rows of a search as ``(content, content_type, extension)``; refused above
    GOVCENTER_OPS_LOG_EXPORT_MAX_ROWS. Audited (filters and row count)."""
    if not user.has_perm("ops.export_logrecord"):
        raise ServiceError(_("您无权导出日志。"), code="permission_denied", status=403)
    if fmt not in ("xlsx", "csv"):
        raise ServiceError(_("未知的导出格式。"), code="invalid", details={"format": [fmt]})
    cap = settings.GOVCENTER_OPS_LOG_EXPORT_MAX_ROWS
    total = rows.count()
    if total > cap:
        raise ServiceError(
            _("结果共%(total)s条，超过导出上限%(cap)s条，请缩小时间范围或增加条件。") % {"total": total, "cap": cap},
            code="too_large", status=400, details={"rows": [str(total)], "max": [str(cap)]},
        )  # fmt: skip
    headers = [str(h) for h in column_labels()]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese text correctly only with a BOM
        writer = csv.writer(buffer)
        writer.writerow(headers)
        for row in rows.iterator(chunk_size=2000) if hasattr(rows, "iterator") else rows:
            writer.writerow(row_cells(row))
        content, content_type = buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("日志"))
        sheet.append(headers)
        for row in rows:
            sheet.append([_safe_cell(c) for c in row_cells(row)])
        out = io.BytesIO()
        book.save(out)
        content = out.getvalue()
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with transaction.atomic():
        audit.record(action="ops.logs.export", object_type="ops.logrecord",
                     changes={"after": {"format": fmt, "rows": total, "filters": filters}})  # fmt: skip
    return content, content_type, fmt


def _safe_cell(value):
    # A cell starting with = + - @ is a formula to Excel: a log line must not become one.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def column_labels():
    return [_("时间"), _("级别"), _("来源"), _("消息"), _("用户"), _("操作"), _("对象类型"), _("对象ID"),
            _("请求ID"), _("主机")]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Ingest and retention
# --------------------------------------------------------------------------------------------


@transaction.atomic
def logs_ingest(*, actor, records: list[dict]) -> int:
    """Store a validated batch of another host's log records (all or nothing), audited once
    per batch (count, hosts, time span)."""
    objs = [LogRecord(**record) for record in records]
    LogRecord.objects.bulk_create(objs, batch_size=1000)
    hosts = sorted({r.get("source_host", "") for r in records})[:20]
    stamps = [r["ts"] for r in records]
    audit.record(action="ops.logs.ingest", object_type="ops.logrecord",
                 changes={"after": {"count": len(objs), "hosts": hosts, "from": min(stamps), "to": max(stamps)}})  # fmt: skip
    return len(objs)


def logs_prune(*, now: dt.datetime | None = None, batch_size: int = PRUNE_BATCH) -> int:
    """Delete LogRecords older than GOVCENTER_OPS_LOG_RETENTION_DAYS, in batches (each batch its
    own short transaction, so a big purge never holds a long lock); audited once."""
    days = settings.GOVCENTER_OPS_LOG_RETENTION_DAYS
    check_retention(days)
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(LogRecord.objects.filter(ts__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            deleted += LogRecord.objects.filter(pk__in=ids).delete()[0]
    with transaction.atomic():
        audit.record(action="ops.logs.prune", object_type="ops.logrecord",
                     changes={"after": {"deleted": deleted, "before": cutoff.isoformat(), "retention_days": days}})  # fmt: skip
    return deleted
