"""The duty section of the monthly/quarterly O&M report: roster coverage and shifts per person
(holiday shifts apart), escalations by level, guard plans with their checklists, drills —
facts of ``[start, end]`` (inclusive) computed from the recorded data."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from django.db.models import Count

from ..models import DrillRecord, DutyAssignment, DutyRole, EscalationEvent, GuardPlan
from ..sla import TZ
from . import plans
from .roster import coverage_gaps


def _name(user) -> str:
    return (user.full_name or user.username) if user else ""


def section(start: dt.date, end: dt.date) -> dict:
    begin = dt.datetime.combine(start, dt.time(0), tzinfo=TZ)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=TZ)
    seats = list(DutyAssignment.objects.filter(date__gte=start, date__lte=end).select_related("shift", "primary", "backup", "unit"))
    per: dict[int, dict] = defaultdict(lambda: {"workday": 0, "holiday": 0, "night": 0, "backup": 0, "leader": 0})
    names: dict[int, str] = {}
    for a in seats:
        names[a.primary_id] = _name(a.primary)
        row = per[a.primary_id]
        if a.role == DutyRole.LEADER:
            row["leader"] += 1
        else:
            row["workday" if a.day_kind == "workday" else "holiday"] += 1
            row["night"] += int(a.shift.is_night)
        if a.backup_id:
            names[a.backup_id] = _name(a.backup)
            per[a.backup_id]["backup"] += 1
    units = {a.unit_id: a.unit for a in seats}
    gap_rows, gap_minutes = [], 0.0
    for unit in units.values():
        for a, b in coverage_gaps(unit=unit, start=begin, end=finish):
            # the edges of the period: a gap before the first or after the last shift of a
            # roster that starts or ends inside it is still a gap of the period
            minutes = (b - a).total_seconds() / 60
            gap_minutes += minutes
            gap_rows.append([unit.code, a.astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
                             b.astimezone(TZ).strftime("%Y-%m-%d %H:%M"), round(minutes)])  # fmt: skip
    total_minutes = (finish - begin).total_seconds() / 60 * max(len(units), 1)
    coverage = round(100 * (1 - gap_minutes / total_minutes), 2) if units else 0.0
    events = EscalationEvent.objects.filter(notified_at__gte=begin, notified_at__lt=finish)
    by_level = dict(events.values_list("level").annotate(n=Count("id")).order_by("level"))
    incidents_escalated = events.values("incident").distinct().count()
    guard = list(GuardPlan.objects.filter(guard_period__starts_at__lt=finish, guard_period__ends_at__gt=begin)
                 .select_related("guard_period"))  # fmt: skip
    guard_rows, items_done, items_all = [], 0, 0
    for plan in guard:
        done, count = plans.checklist_progress(plan)
        items_done, items_all = items_done + done, items_all + count
        guard_rows.append([plan.event_name, plan.guard_period.starts_at.astimezone(TZ).strftime("%Y-%m-%d"),
                           plan.guard_period.ends_at.astimezone(TZ).strftime("%Y-%m-%d"), plan.get_state_display(),
                           f"{done}/{count}"])  # fmt: skip
    drills = list(DrillRecord.objects.filter(held_on__gte=start, held_on__lte=end).select_related("plan_version__plan"))
    kinds = Counter(d.get_kind_display() for d in drills)
    summary = [
        f"值班覆盖率 {coverage}%（{len(seats)} 个值班席位，缺口 {len(gap_rows)} 处）。",
        f"故障升级通知 {events.count()} 次，涉及 {incidents_escalated} 起故障。",
        f"重要活动保障方案 {len(guard)} 个，检查项完成 {items_done}/{items_all}。",
        f"应急演练 {len(drills)} 次" + (f"（{'、'.join(f'{k}{v}次' for k, v in kinds.items())}）。" if drills else "。"),
    ]
    return {
        "key": "duty",
        "title": "值班与应急保障",
        "summary": summary,
        "figures": {
            "duty_seats": len(seats), "coverage_percent": coverage, "coverage_gaps": len(gap_rows),
            "holiday_shifts": sum(r["holiday"] for r in per.values()),
            "escalations": events.count(), "incidents_escalated": incidents_escalated,
            "guard_plans": len(guard), "checklist_done": items_done, "checklist_items": items_all,
            "drills": len(drills),
        },  # fmt: skip
        "tables": [
            {"title": "人员值班统计", "columns": ["人员", "工作日班次", "节假日/保障期班次", "其中夜班", "备班", "值班领导"],
             "rows": sorted(([names[u], r["workday"], r["holiday"], r["night"], r["backup"], r["leader"]]
                             for u, r in per.items()), key=lambda row: row[0])},
            {"title": "值班缺口", "columns": ["运维单位", "开始", "结束", "分钟"], "rows": gap_rows},
            {"title": "故障升级（按级）", "columns": ["级", "次数"], "rows": [[lv, n] for lv, n in by_level.items()]},
            {"title": "重要活动保障", "columns": ["活动", "开始", "结束", "状态", "检查项完成"], "rows": guard_rows},
            {"title": "应急演练", "columns": ["日期", "预案", "形式", "场景", "发现问题"],
             "rows": [[d.held_on.isoformat(), str(d.plan_version), d.get_kind_display(), d.scenario[:60],
                       d.findings[:60]] for d in drills]},
        ],  # fmt: skip
    }
