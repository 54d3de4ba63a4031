"""A quarter of incidents for ``govcenter ops demo``: faults of the O&M unit (OM-ZHITONG) on
working days, weekends and statutory holidays, through the incident services (so every SLA
clock, deadline and breach flag is the real one), acting as the demo engineer; a few
contractor-caused faults run past 12 hours (penalty lines of the ledger), one is the
Center's (not counted), some pause for a third party, the last two stay open.

Rows are marked by the title prefix :data:`MARK`; a second run loads nothing."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govcenter.core.calendar import is_statutory_holiday, is_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .. import incidents as svc
from ..models import Incident, SlaPolicy
from ..services import sla_policies_seed
from ..sla import TZ

MARK = "（演示数据）"
TITLES = ("缴费接口超时", "视频桩数据中断", "地磁检测器离线", "短信发送延迟", "数据库主从延迟", "单车围栏数据异常",
          "停车诱导屏不刷新", "PDA 登录失败", "统计报表生成失败", "对外接口证书过期")  # fmt: skip
CAUSES = ("配置错误", "磁盘空间不足", "第三方接口变更", "网络设备故障", "程序缺陷")


def _moment(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    if Incident.objects.filter(title__startswith=MARK).exists():
        return {}
    engineer = User.objects.filter(username="omengineer").first()
    unit = Unit.objects.filter(code="OM-ZHITONG").first()
    if engineer is None or unit is None:
        return {}
    if not SlaPolicy.objects.exists():
        sla_policies_seed()
    now = now or timezone.now()
    rng = random.Random(20261001)  # noqa: S311 (demo data, reproducible)
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=days)
    counts = {"incidents": 0, "weekend": 0, "holiday": 0, "breach_contractor": 0}
    plans = []
    for offset in range(days - 1):
        day = first + dt.timedelta(days=offset)
        holiday = is_statutory_holiday(day)
        workday = is_workday(day)
        # Every holiday and roughly every other weekend day and every third working day has one.
        if holiday or (not workday and rng.random() < 0.5) or (workday and rng.random() < 0.35):
            plans.append((day, holiday, workday))
    for index, (day, holiday, workday) in enumerate(plans):
        reported = _moment(day, rng.choice((8, 9, 10, 14, 16, 19, 21)), rng.choice((0, 15, 30, 45)))
        if reported > now - dt.timedelta(hours=2):
            continue
        severity = rng.choices(("S1", "S2", "S3", "S4"), weights=(1, 3, 4, 2))[0]
        long_fault = index % 6 == 3  # about one in six runs past 12 hours
        with acting_as(engineer, channel="demo"):
            incident = svc.incident_open(actor=engineer, title=f"{MARK}{rng.choice(TITLES)}", severity=severity,
                                         unit=unit, reported_at=reported,
                                         description="演示数据：季度故障记录。")  # fmt: skip
            counts["incidents"] += 1
            counts["holiday"] += int(holiday)
            counts["weekend"] += int(not workday and not holiday)
            if index >= len(plans) - 2:
                continue  # the last two stay open
            responded = reported + dt.timedelta(minutes=rng.choice((5, 10, 20, 40, 90, 150)))
            incident = svc.incident_respond(actor=engineer, incident=incident, at=responded)
            cursor = responded
            if index % 5 == 1:
                pause_end = cursor + dt.timedelta(hours=2)
                incident = svc.incident_pause(actor=engineer, incident=incident, reason="等待第三方排查",
                                              at=cursor + dt.timedelta(minutes=30))  # fmt: skip
                incident = svc.incident_resume(actor=engineer, incident=incident, at=pause_end)
                cursor = pause_end
            hours = rng.uniform(13, 30) if long_fault else rng.uniform(0.5, 7)
            resolved = min(cursor + dt.timedelta(hours=hours), now - dt.timedelta(minutes=10))
            contractor = not (long_fault and index == 9)  # one long fault is the Center's own
            incident = svc.incident_resolve(actor=engineer, incident=incident, root_cause=rng.choice(CAUSES),
                                            resolution="已处理并验证恢复。", contractor_caused=contractor,
                                            at=resolved)  # fmt: skip
            if Incident.objects.filter(pk=incident.pk, breach=True, contractor_caused=True).exists():
                counts["breach_contractor"] += 1
    return counts
