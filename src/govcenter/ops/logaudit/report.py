"""The 日志审计 section of the monthly/quarterly O&M report: application log volumes by level
and host, audit events by action, exports and prunes of the period."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils.translation import gettext as _

from govcenter.core.models import AuditEntry

from ..integrity.report import period_bounds
from ..models import LogLevel, LogRecord


def section(start: dt.date, end: dt.date) -> dict:
    since, until = period_bounds(start, end)
    logs = LogRecord.objects.filter(ts__gte=since, ts__lt=until)
    by_level = dict(logs.order_by().values_list("level").annotate(n=Count("pk")))
    by_host = list(logs.order_by().values_list("source_host").annotate(n=Count("pk")).order_by("-n")[:20])
    entries = AuditEntry.objects.filter(created_at__gte=since, created_at__lt=until)
    by_action = list(entries.order_by().values_list("action").annotate(n=Count("pk")).order_by("-n", "action")[:30])
    audit_total = entries.count()
    total = sum(by_level.values())
    errors = by_level.get("ERROR", 0) + by_level.get("CRITICAL", 0)
    exports = entries.filter(action="ops.logs.export").count()
    figures = {"log_records": total, "errors": errors, "audit_events": audit_total, "log_exports": exports,
               "prunes": entries.filter(action="ops.logs.prune").count()}  # fmt: skip
    return {
        "key": "logaudit",
        "title": _("日志审计"),
        "summary": [
            _("本期集中收集应用日志 %(n)s 条，其中错误及以上 %(e)s 条。") % {"n": total, "e": errors},
            _("本期审计事件 %(n)s 条；日志导出 %(x)s 次。") % {"n": audit_total, "x": exports},
        ],
        "figures": figures,
        "tables": [
            {"title": _("应用日志（按级别）"), "columns": [_("级别"), _("条数")],
             "rows": [[level, by_level.get(level, 0)] for level in LogLevel.values]},
            {"title": _("应用日志（按主机）"), "columns": [_("主机"), _("条数")], "rows": [[h or "—", n] for h, n in by_host]},
            {"title": _("审计事件（按操作）"), "columns": [_("操作"), _("次数")], "rows": [[a, n] for a, n in by_action]},
        ],  # fmt: skip
    }
