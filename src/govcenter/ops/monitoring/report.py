"""The monitoring section of the O&M report: availability per target and overall (results
inside maintenance windows left out), the alerts fired and resolved, and the maintenance
windows in the period [start, end] (Beijing dates, inclusive)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone

from ..models import AlertEvent, AlertEventKind, MaintenanceWindow, MonitorTarget
from . import services


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_default_timezone()
    return (dt.datetime.combine(start, dt.time(), tzinfo=tz),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz))  # fmt: skip


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}%"


def section(start: dt.date, end: dt.date) -> dict:
    begin, finish = _bounds(start, end)
    targets = {t.pk: t for t in MonitorTarget.objects.select_related("unit")}
    counts = services.uptime(None, begin, finish)
    rows, ok_all, total_all = [], 0, 0
    for pk, (ok, total) in sorted(counts.items(), key=lambda kv: (kv[1][0] / kv[1][1] if kv[1][1] else 1, kv[0])):
        target = targets.get(pk)
        if target is None:
            continue
        ok_all, total_all = ok_all + ok, total_all + total
        rows.append([target.name, target.get_kind_display(), total, total - ok, _pct(services.percent(ok, total))])
    events = AlertEvent.objects.filter(at__gte=begin, at__lt=finish)
    fired = events.filter(kind=AlertEventKind.FIRED)
    by_target = (fired.values("target__name", "rule__name", "rule__severity")
                 .annotate(n=Count("id")).order_by("-n", "target__name"))  # fmt: skip
    windows = (MaintenanceWindow.objects.filter(starts_at__lt=finish, ends_at__gt=begin)
               .prefetch_related("targets").order_by("starts_at"))  # fmt: skip
    window_rows = [
        [w.name, timezone.localtime(w.starts_at).strftime("%Y-%m-%d %H:%M"),
         timezone.localtime(w.ends_at).strftime("%Y-%m-%d %H:%M"),
         "、".join(t.name for t in w.targets.all()) or "全部对象", "是" if w.with_collection else "否"]
        for w in windows
    ]  # fmt: skip
    overall = services.percent(ok_all, total_all)
    n_fired, n_resolved = fired.count(), events.filter(kind=AlertEventKind.RESOLVED).count()
    summary = [
        f"监控对象 {len(rows)} 个，总体可用率 {_pct(overall)}（维护窗口内的探测不计入）。",
        f"告警 {n_fired} 次，恢复 {n_resolved} 次；维护窗口 {len(window_rows)} 个。",
    ]
    if rows and total_all:
        worst = rows[0]
        summary.append(f"可用率最低的是「{worst[0]}」：{worst[4]}。")
    return {
        "key": "monitoring",
        "title": "系统监控与可用性",
        "summary": summary,
        "figures": {"targets": len(rows), "availability_pct": overall if overall is not None else "—",
                    "probes": total_all, "failed_probes": total_all - ok_all, "alerts_fired": n_fired,
                    "alerts_resolved": n_resolved, "maintenance_windows": len(window_rows)},  # fmt: skip
        "tables": [
            {"title": "各监控对象可用率", "columns": ["监控对象", "类型", "探测次数", "失败次数", "可用率"], "rows": rows},
            {"title": "告警", "columns": ["监控对象", "告警规则", "级别", "次数"],
             "rows": [[r["target__name"], r["rule__name"], r["rule__severity"], r["n"]] for r in by_target]},
            {"title": "维护窗口", "columns": ["名称", "开始", "结束", "监控对象", "期间继续采集"], "rows": window_rows},
        ],
    }
