"""Demo data of the work records, training and the contract ledger.

* :func:`load_small_demo` (``govcenter demo`` / ``make run``): a few work logs of the demo
  engineer, one training, the demo contract with its milestones — seconds, loaded once.
* :func:`load_demo` (``govcenter ops demo``): a quarter of work logs for the users of the O&M
  unit OM-ZHITONG (existing accounts only), changes and releases, a training every month,
  quarterly quality assessments and a late deliverable.

Rows carry ``demo=True``; a second run loads nothing new."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govcenter.core.calendar import is_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from ..ledger import services as ledger
from ..models import (
    ChangeKind,
    ChangeRecord,
    ChangeResult,
    Contract,
    QualityAssessment,
    WorkLog,
)
from ..sla import TZ
from . import services

CONTRACT_NO = "YW-2026-001"
LOG_TEMPLATES = (
    ("inspection", "日常巡检：服务器、数据库、接口状态", 9, 10),
    ("backup", "核查夜间备份任务与备份文件", 10, 11),
    ("security", "安全日志审查与漏洞扫描结果复核", 14, 15),
    ("fault", "故障处理与跟踪", 15, 17),
    ("other", "配合业务科室数据核查", 16, 17),
)
TOPICS = ("SLA 与故障分级处置流程", "数据库备份与恢复演练", "网络安全等级保护要求", "变更发布管理规范",
          "监控告警规则维护", "应急预案演练复盘")  # fmt: skip


def _people():
    unit = Unit.objects.filter(code="OM-ZHITONG").first()
    engineer = User.objects.filter(username="omengineer").first()
    leader = User.objects.filter(username="leader").first()
    staff = list(User.objects.filter(unit=unit, is_active=True).order_by("username")) if unit else []
    return unit, engineer, leader, staff


def _contract(unit, engineer, today: dt.date) -> Contract:
    contract = Contract.objects.filter(number=CONTRACT_NO).first()
    if contract is not None:
        return contract
    start = dt.date(today.year, 1, 1)
    return ledger.contract_create(
        actor=None, number=CONTRACT_NO, name="交通综合治理信息系统运维服务", contractor=unit,
        price_fen=386_500_00, service_start=start, service_end=dt.date(today.year, 12, 31), demo=True,
        milestones=[{"condition": "合同签订且运维团队进场", "due_date": start + dt.timedelta(days=30)},
                    {"condition": "服务期满半年且中期考核合格", "due_date": dt.date(today.year, 7, 31)},
                    {"condition": "服务期满且年度考核合格", "due_date": dt.date(today.year + 1, 1, 31)}],
    )  # fmt: skip


def load_small_demo() -> dict[str, int]:
    unit, engineer, _leader, _staff = _people()
    if unit is None or engineer is None or WorkLog.objects.filter(demo=True).exists():
        return {}
    today = timezone.localdate()
    with acting_as(engineer, channel="demo"):
        _contract(unit, engineer, today)
        logs = 0
        for back in (2, 1):
            day = today - dt.timedelta(days=back)
            for category, summary, start, end in LOG_TEMPLATES[:2]:
                services.worklog_create(actor=engineer, date=day, category=category, start_time=dt.time(start),
                                        end_time=dt.time(end), summary=summary, demo=True)  # fmt: skip
                logs += 1
        services.training_create(actor=engineer, unit=unit, date=today - dt.timedelta(days=3), topic=TOPICS[0],
                                 trainer="孙维", duration_minutes=90, attendees=[engineer], demo=True)  # fmt: skip
    return {"worklogs": logs, "trainings": 1, "contracts": 1}


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    unit, engineer, leader, staff = _people()
    if unit is None or engineer is None or not staff:
        return {}
    if WorkLog.objects.filter(demo=True, details="季度演示").exists():
        return {}
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=days)
    rng = random.Random(days)  # noqa: S311 (demo data, reproducible)
    counts = {"worklogs": 0, "changes": 0, "trainings": 0, "assessments": 0, "late_services": 0}
    with acting_as(engineer, channel="demo"):
        contract = _contract(unit, engineer, today)
        # Changes and releases, about one a week; the Center approves, the engineer executes.
        changes = []
        for k in range(days // 7):
            day = first + dt.timedelta(days=7 * k + 2)
            start = dt.datetime.combine(day, dt.time(22), tzinfo=TZ)
            kind = ChangeKind.RELEASE if k % 3 == 0 else ChangeKind.CHANGE
            change = services.change_create(actor=engineer, title=("系统版本发布" if kind == ChangeKind.RELEASE
                                                                   else "数据库参数调整"), kind=kind, unit=unit,
                                            planned_start=start, planned_end=start + dt.timedelta(hours=2),
                                            version=f"v3.{k}.0" if kind == ChangeKind.RELEASE else "",
                                            demo=True)  # fmt: skip
            changes.append(change)
            counts["changes"] += 1
        # Work logs: every working day, each engineer of the unit one or two entries.
        for offset in range(days):
            day = first + dt.timedelta(days=offset)
            if not is_workday(day):
                continue
            for person in staff:
                for category, summary, start, end in rng.sample(LOG_TEMPLATES, 2):
                    with acting_as(person, channel="demo"):
                        _log_as(person, engineer, day, category, summary, start, end)
                    counts["worklogs"] += 1
        # A training every month of the period.
        month = first.replace(day=1)
        while month <= today:
            day = month + dt.timedelta(days=14)
            if first <= day <= today:
                session = services.training_create(actor=engineer, unit=unit, date=day,
                                                   topic=TOPICS[month.month % len(TOPICS)], trainer="孙维",
                                                   duration_minutes=120, attendees=staff, demo=True)  # fmt: skip
                for person in staff:
                    services.training_feedback(actor=engineer, session=session, user=person, attended=True,
                                               score=rng.choice((4, 5)), comment="内容实用")  # fmt: skip
                counts["trainings"] += 1
            month = (month + dt.timedelta(days=32)).replace(day=1)
        # Quarterly assessments of the completed quarters of the year, and one late deliverable.
        for q in range(1, 5):
            q_start = dt.date(today.year, 3 * q - 2, 1)
            q_end = (dt.date(today.year, 3 * q, 1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            if q_end >= today or QualityAssessment.objects.filter(contract=contract, period_start=q_start).exists():
                continue
            ledger.assessment_record(actor=None, contract=contract, period_start=q_start, period_end=q_end,
                                     score=(92, 85, 58, 88)[q - 1], assessed_on=q_end + dt.timedelta(days=10),
                                     note="季度考核（演示）", demo=True)  # fmt: skip
            counts["assessments"] += 1
        if not contract.late_services.exists():
            ledger.late_service_record(actor=None, contract=contract, deliverable="第三季度巡检报告",
                                       due_date=dt.date(today.year, 10, 10), delivered_on=dt.date(today.year, 10, 13),
                                       demo=True)  # fmt: skip
            counts["late_services"] += 1
    if leader is not None:
        with acting_as(leader, channel="demo"):
            for change in changes:
                if change.planned_start < now:
                    services.change_approve(actor=leader, change=change,
                                            at=change.planned_start - dt.timedelta(days=1))  # fmt: skip
    with acting_as(engineer, channel="demo"):
        for k, change in enumerate(changes):
            if change.planned_end < now:
                result = (ChangeResult.SUCCESS, ChangeResult.SUCCESS, ChangeResult.ROLLED_BACK)[k % 3]
                services.change_execute(actor=engineer, change=ChangeRecord.objects.get(pk=change.pk),
                                        executed_at=change.planned_start, result=result)  # fmt: skip
    return counts


def _log_as(person, fallback, day, category, summary, start, end) -> None:
    """A log written by ``person`` when they may write logs, else skipped (accounts are not changed)."""
    if not person.has_perm("ops.add_worklog"):
        return
    services.worklog_create(actor=person, date=day, category=category, start_time=dt.time(start),
                            end_time=dt.time(end), summary=summary, details="季度演示", demo=True)  # fmt: skip
