"""The records helper's sections of the monthly / quarterly report (shape: ``docs/ops/records.md``).

Each ``*_section(start, end)`` returns the facts of the period [start, end] (Beijing dates,
inclusive) computed from the recorded rows: incidents and their SLA results, work logs and
changes / releases, trainings, and the contract ledger (penalties to date). A table may carry
``"chart": "bar"`` — the report draws its first column as categories and its numeric columns
as series.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from .. import incidents as incident_svc
from ..ledger.services import penalties, yuan
from ..models import (
    ChangeKind,
    ChangeRecord,
    ChangeResult,
    Contract,
    Incident,
    Severity,
    TrainingAttendance,
    TrainingSession,
    WorkCategory,
    WorkLog,
)
from ..sla import TZ
from .services import training_completeness


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in Beijing time."""
    return (dt.datetime.combine(start, dt.time.min, tzinfo=TZ),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=TZ))  # fmt: skip


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def incidents_section(start: dt.date, end: dt.date) -> dict:
    """Incidents reported in the period and their SLA results."""
    lo, hi = bounds(start, end)
    rows = list(Incident.objects.filter(reported_at__gte=lo, reported_at__lt=hi).prefetch_related("pauses")
                .order_by("reported_at", "number"))  # fmt: skip
    as_of = min(hi, dt.datetime.now(TZ))
    by_severity = Counter(i.severity for i in rows)
    responded = [i for i in rows if i.responded_at is not None]
    resolved = [i for i in rows if i.resolved_at is not None]
    respond_ok = sum(1 for i in responded if i.responded_at <= i.respond_by)
    resolve_ok = sum(1 for i in resolved if i.resolved_at <= i.resolve_by)
    breaches = [i for i in rows if i.breach]
    contractor_breaches = [i for i in breaches if i.contractor_caused]
    respond_minutes = [(i.responded_at - i.reported_at).total_seconds() / 60 for i in responded]
    fault_minutes = [incident_svc.clock(i, now=max(as_of, i.reported_at)).fault_minutes for i in resolved]
    mean_respond = round(sum(respond_minutes) / len(respond_minutes), 1) if respond_minutes else 0.0
    mean_resolve = round(sum(fault_minutes) / len(fault_minutes), 1) if fault_minutes else 0.0
    day_kinds = Counter(i.get_day_kind_display() for i in rows)
    figures = {
        "incidents": len(rows), "resolved": len(resolved), "responded_on_time_pct": _pct(respond_ok, len(responded)),
        "resolved_on_time_pct": _pct(resolve_ok, len(resolved)), "breaches": len(breaches),
        "contractor_breaches": len(contractor_breaches), "mean_respond_minutes": mean_respond,
        "mean_resolve_minutes": mean_resolve,
        **{f"severity_{s}": by_severity.get(s, 0) for s in Severity.values},
    }  # fmt: skip
    summary = [
        _("本期共报告故障 %(n)s 起，已解决 %(r)s 起。") % {"n": len(rows), "r": len(resolved)},
        _("按时响应率 %(a)s%%，按时解决率 %(b)s%%；平均响应 %(c)s 分钟，平均处理 %(d)s 分钟（不含挂起）。")
        % {"a": figures["responded_on_time_pct"], "b": figures["resolved_on_time_pct"], "c": mean_respond,
           "d": mean_resolve},
        _("超过12小时的故障 %(n)s 起，其中运维方原因 %(m)s 起。") % {"n": len(breaches), "m": len(contractor_breaches)},
    ]  # fmt: skip
    tables = [
        {"title": _("按级别统计"), "columns": [_("级别"), _("故障数"), _("超过12小时")], "chart": "bar",
         "rows": [[str(label), by_severity.get(value, 0), sum(1 for i in breaches if i.severity == value)]
                  for value, label in Severity.choices]},
        {"title": _("按报告日类型统计"), "columns": [_("报告日类型"), _("故障数")],
         "rows": [[k, v] for k, v in sorted(day_kinds.items())]},
        {"title": _("超过12小时的故障"), "columns": [_("编号"), _("标题"), _("级别"), _("报告时间"), _("运维方原因")],
         "rows": [[i.number, i.title, i.severity, f"{i.reported_at.astimezone(TZ):%Y-%m-%d %H:%M}",
                   _("是") if i.contractor_caused else _("否")] for i in breaches]},
    ]  # fmt: skip
    return {"key": "incidents", "title": _("故障与 SLA 达成情况"), "summary": summary, "figures": figures,
            "tables": tables}  # fmt: skip


def worklogs_section(start: dt.date, end: dt.date) -> dict:
    """Work logs by category and engineer; changes and releases planned in the period."""
    logs = WorkLog.objects.filter(date__gte=start, date__lte=end)
    by_category = dict(logs.values_list("category").annotate(n=Count("id")))
    engineers = list(logs.values("engineer__username", "engineer__full_name").annotate(n=Count("id"))
                     .order_by("-n", "engineer__username"))  # fmt: skip
    lo, hi = bounds(start, end)
    changes = list(ChangeRecord.objects.filter(planned_start__gte=lo, planned_start__lt=hi).order_by("planned_start"))
    results = Counter(c.result for c in changes)
    releases = sum(1 for c in changes if c.kind == ChangeKind.RELEASE)
    total = sum(by_category.values())
    figures = {"worklogs": total, "engineers": len(engineers), "changes": len(changes) - releases,
               "releases": releases, "change_success": results.get(ChangeResult.SUCCESS, 0),
               "change_rolled_back": results.get(ChangeResult.ROLLED_BACK, 0),
               "change_failed": results.get(ChangeResult.FAILED, 0)}  # fmt: skip
    summary = [
        _("本期工作日志 %(n)s 条，涉及工程师 %(e)s 人。") % {"n": total, "e": len(engineers)},
        _("变更 %(c)s 项、发布 %(r)s 项：成功 %(s)s，回退 %(b)s，失败 %(f)s，未执行 %(p)s。")
        % {"c": figures["changes"], "r": releases, "s": figures["change_success"], "b": figures["change_rolled_back"],
           "f": figures["change_failed"], "p": results.get("", 0)},
    ]  # fmt: skip
    tables = [
        {"title": _("工作日志按类别"), "columns": [_("类别"), _("条数")], "chart": "bar",
         "rows": [[str(label), by_category.get(value, 0)] for value, label in WorkCategory.choices]},
        {"title": _("工作日志按工程师"), "columns": [_("工程师"), _("条数")],
         "rows": [[e["engineer__full_name"] or e["engineer__username"], e["n"]] for e in engineers]},
        {"title": _("变更与发布"), "columns": [_("编号"), _("标题"), _("类型"), _("版本"), _("计划开始"), _("结果")],
         "rows": [[c.number, c.title, str(c.get_kind_display()), c.version,
                   f"{c.planned_start.astimezone(TZ):%Y-%m-%d %H:%M}", str(c.get_result_display()) if c.result else _("未执行")]
                  for c in changes]},
    ]  # fmt: skip
    return {"key": "worklogs", "title": _("工作记录与变更发布"), "summary": summary, "figures": figures, "tables": tables}


def trainings_section(start: dt.date, end: dt.date) -> dict:
    """Training sessions, attendance and feedback; months without a session are flagged."""
    sessions = TrainingSession.objects.filter(date__gte=start, date__lte=end).order_by("date")
    stats = {row["session"]: row for row in TrainingAttendance.objects.filter(session__in=sessions)
             .values("session").annotate(invited=Count("id"), attended=Count("id", filter=Q(attended=True)))}  # fmt: skip
    scores = list(TrainingAttendance.objects.filter(session__in=sessions, score__isnull=False)
                  .values_list("score", flat=True))  # fmt: skip
    months = training_completeness(TrainingSession.objects.all(), start, end)
    missing = [m["label"] for m in months if m["missing"]]
    mean_score = round(sum(scores) / len(scores), 2) if scores else 0.0
    figures = {"sessions": sessions.count(), "attended": sum(s["attended"] for s in stats.values()),
               "mean_score": mean_score, "months_missing": len(missing)}  # fmt: skip
    summary = [_("本期培训 %(n)s 次，出席 %(a)s 人次，平均评分 %(s)s。")
               % {"n": figures["sessions"], "a": figures["attended"], "s": mean_score},
               _("无培训的月份：%(m)s。") % {"m": "、".join(missing)} if missing else _("每月均有培训。")]  # fmt: skip
    rows = [[f"{s.date}", s.topic, s.trainer, s.duration_minutes, stats.get(s.pk, {}).get("invited", 0),
             stats.get(s.pk, {}).get("attended", 0)] for s in sessions]  # fmt: skip
    tables = [{"title": _("培训"), "columns": [_("日期"), _("主题"), _("讲师"), _("时长（分钟）"), _("应到"), _("实到")],
               "rows": rows}]  # fmt: skip
    return {"key": "trainings", "title": _("培训"), "summary": summary, "figures": figures, "tables": tables}


def ledger_section(start: dt.date, end: dt.date) -> dict:
    """Penalties to the end of the period of every contract whose service period overlaps it."""
    contracts = Contract.objects.select_related("contractor").filter(service_start__lte=end, service_end__gte=start)
    rows, summary, total = [], [], 0
    for contract in contracts.order_by("number"):
        result = penalties(contract, end)
        total += result.total_fen
        for line in result.lines:
            sources = "、".join(s["label"] for s in line.sources[:20])
            rows.append([contract.number, line.title, line.count, yuan(line.amount_fen), sources])
        summary.append(_("合同 %(no)s：截至 %(d)s 违约金合计 %(t)s 元。")
                       % {"no": contract.number, "d": end.isoformat(), "t": yuan(result.total_fen)})  # fmt: skip
    if not summary:
        summary.append(_("本期无有效运维合同。"))
    return {"key": "ledger", "title": _("合同与违约金"), "summary": summary,
            "figures": {"contracts": contracts.count(), "penalties_fen": total},
            "tables": [{"title": _("违约金明细"), "columns": [_("合同编号"), _("项目"), _("计数"), _("金额（元）"),
                                                         _("依据记录")], "rows": rows}]}  # fmt: skip
