"""Demo data of the duty area, through the services, acting as the demo accounts.

``load_small_demo`` (``govcenter demo``, ``make run``): this month's roster for the O&M unit
OM-ZHITONG from its existing users (no account is created) and a drill-ready response plan (the
seeded ones). ``load_demo`` (``govcenter ops demo``): a quarter of roster, the escalations of the
demo incidents, one guard plan with checklists and two drills. Both idempotent.

The roster needs at least two engineers (primary and backup) and, with the 24-hour rest after a
night shift, more for full 7×24 cover; with fewer users the demo falls back to the day shifts of
the unit's users, and the coverage check shows the nights as gaps — the honest picture.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .. import services
from ..models import (
    DrillRecord,
    DutyAssignment,
    DutyDayKind,
    GuardPeriod,
    GuardPlan,
    Incident,
    ResponsePlan,
    Shift,
)
from ..sla import TZ
from . import escalation, plans, roster
from .seed import duty_seed

UNIT = "OM-ZHITONG"


def _people():
    unit = Unit.objects.filter(code=UNIT).first()
    leader = User.objects.filter(username="leader").first()
    if unit is None:
        return None, [], leader
    team = list(User.objects.filter(unit=unit, is_active=True).order_by("username"))
    return unit, team, leader


def _fill(unit, team, leader, start: dt.date, end: dt.date) -> int:
    """The days of the range that have no roster yet, in runs of consecutive days."""
    taken = set(DutyAssignment.objects.filter(unit=unit, date__gte=start, date__lte=end).values_list("date", flat=True))
    made, run = 0, []
    for offset in range((end - start).days + 2):
        day = start + dt.timedelta(days=offset)
        if day <= end and day not in taken:
            run.append(day)
        elif run:
            made += _fill_run(unit, team, leader, run[0], run[-1])
            run = []
    return made


def _fill_run(unit, team, leader, start: dt.date, end: dt.date) -> int:
    """One run's roster: generated when the team allows, else day shifts only."""
    try:
        return len(roster.roster_generate(actor=None, unit=unit, start=start, end=end, team=team,
                                          leaders=[leader] if leader else []))  # fmt: skip
    except ServiceError:
        pass
    day_shifts = [s for s in roster.active_shifts() if not s.is_night] or list(Shift.objects.all()[:1])
    made = []
    for offset in range((end - start).days + 1):
        day = start + dt.timedelta(days=offset)
        kind = roster.day_kind(day)
        for shift in day_shifts:
            begin, finish = roster.shift_span(shift, day)
            person = team[offset % len(team)]
            backup = team[(offset + 1) % len(team)] if len(team) > 1 else None
            made.append(DutyAssignment(unit=unit, date=day, shift=shift, role="engineer", seat=1, starts_at=begin,
                                       ends_at=finish, day_kind=kind, primary=person, backup=backup))  # fmt: skip
            if kind != DutyDayKind.WORKDAY and leader is not None:
                made.append(DutyAssignment(unit=unit, date=day, shift=shift, role="leader", seat=1, starts_at=begin,
                                           ends_at=finish, day_kind=kind, primary=leader))  # fmt: skip
    DutyAssignment.objects.bulk_create(made)
    return len(made)


def load_small_demo() -> dict[str, int]:
    plans_before = ResponsePlan.objects.count()
    duty_seed()
    plans = ResponsePlan.objects.count() - plans_before  # what this run added: nothing the second time
    unit, team, leader = _people()
    if unit is None or not team:
        return {}
    today = timezone.localdate()
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    with acting_as(leader, channel="demo"):
        seats = _fill(unit, team, leader, first, last)
    return {"duty_seats": seats, "response_plans": plans}


GUARD_ITEMS = [
    ("pre", "核心业务系统全面巡检（服务器、数据库、网络设备）"),
    ("pre", "门户网站网页防篡改基线更新并复核"),
    ("pre", "数据库与配置全量备份并完成恢复验证"),
    ("pre", "应急联系人及升级链通讯录核对"),
    ("daily", "早 8:30、晚 17:30 两次系统巡检并记录"),
    ("daily", "安全设备告警日志审阅，异常即时上报"),
    ("daily", "值班人员在岗核查"),
    ("post", "保障期故障与告警汇总分析"),
    ("post", "形成保障总结报告并归档"),
]


def load_demo(*, days: int = 90, now=None) -> dict[str, int]:
    duty_seed()
    unit, team, leader = _people()
    if unit is None or not team or leader is None:
        return {}
    moment = now or timezone.now()
    today = moment.astimezone(TZ).date()
    start = today - dt.timedelta(days=days)
    engineer = User.objects.filter(username="omengineer").first() or team[0]
    counts: dict[str, int] = {}
    with acting_as(leader, channel="demo"):
        # a guard period in the quarter (a Saturday to the Monday after, a fortnight ago)
        guard_day = today - dt.timedelta(days=14 + (today.weekday() - 5) % 7)
        g_start = dt.datetime.combine(guard_day, dt.time(8), tzinfo=TZ)
        g_end = g_start + dt.timedelta(days=2, hours=12)
        period = GuardPeriod.objects.filter(starts_at__lt=g_end, ends_at__gt=g_start).first()
        if period is None:
            period = services.guard_period_create(name="（演示）重大活动交通保障", starts_at=g_start, ends_at=g_end,
                                                  note="演示数据")  # fmt: skip
        counts["duty_seats"] = _fill(unit, team, leader, start, today + dt.timedelta(days=30))
    if not GuardPlan.objects.filter(guard_period=period).exists():
        with acting_as(engineer, channel="demo"):
            plan = plans.guard_plan_create(
                actor=engineer, guard_period=period, unit=unit, event_name="重大活动交通保障",
                scope="交通综合治理平台全部业务系统：停车管理、共享单车监管、拥堵治理、门户网站及数据交换接口。",
                objectives="保障期内核心系统可用率 100%，一级、二级故障零发生；网页零篡改；故障 15 分钟内响应。",
                organisation="总指挥：中心领导\n现场负责人：运维单位项目经理\n值班工程师：按值班表两人在岗、一人备班",
                items=[(phase, title, engineer) for phase, title in GUARD_ITEMS],
            )  # fmt: skip
        with acting_as(leader, channel="demo"):
            plan = plans.guard_plan_step(actor=leader, plan=plan, step="approve")
        with acting_as(engineer, channel="demo"):
            plan = plans.guard_plan_step(actor=engineer, plan=plan, step="start")
            for item in plan.items.all():
                if item.phase != "post" or item.title.startswith("保障期故障"):
                    plans.checklist_done(actor=engineer, item=item, evidence="已完成，记录见运维日志。")
            plan = plans.guard_plan_step(actor=engineer, plan=plan, step="close",
                                         summary="保障期内系统运行平稳，未发生一级、二级故障；处置告警 3 起，均在时限内响应。")  # fmt: skip
        counts["guard_plans"] = 1
    if not DrillRecord.objects.filter(unit=unit).exists():
        drills = 0
        with acting_as(engineer, channel="demo"):
            for code, kind, offset, scenario in (
                ("web-tampering", "tabletop", 60, "门户网站首页被植入非法链接，完整性监测告警。"),
                ("network-attack", "live", 25, "互联网出口遭受 SYN Flood 攻击，缴费接口响应超时。"),
            ):
                plan = ResponsePlan.objects.filter(code=code).first()
                version = plan.current() if plan else None
                if version is None:
                    continue
                results = [{"step": s["title"], "minutes": max(1, int(s.get("minutes") or 10) // 2),
                            "outcome": "按预案完成"} for s in version.steps]  # fmt: skip
                plans.drill_record(actor=engineer, unit=unit, version=version, held_on=today - dt.timedelta(days=offset),
                                   kind=kind, scenario=scenario, participants="孙维（值班工程师）、刘主任（值班领导）、李安平（安全管理员）",
                                   step_results=results, findings="应急联系人电话有一处未更新；备份恢复验证耗时偏长。",
                                   improvements="每月核对通讯录；恢复演练纳入月度巡检。")  # fmt: skip
                drills += 1
        counts["drills"] = drills
    with acting_as(None, channel="demo"):
        # the history of the quarter's incidents (recorded, not notified), then the open ones now
        recorded = sum(escalation.backfill(incident, now=moment) for incident in Incident.objects.filter(
            unit=unit, reported_at__gte=dt.datetime.combine(start, dt.time(0), tzinfo=TZ)).prefetch_related("pauses"))  # fmt: skip
        counts["escalations"] = recorded + escalation.escalate(now=moment)["notified"]
    return counts
