"""Demo data of 缓堵工作督查督办, through the services as the demo accounts: the Center's data
staff (``datastaff``) draft, decompose, issue, decide and review; the 综合协调科 handler
(``congestion``) reports as the lead unit.

* :func:`load_small` — one plan with a task in each state (``make run``), idempotent;
* :func:`load_year` — a believable year's plan (about 120 tasks at scale 1, Beijing's annual
  action plan) replayed step by step under ``cases.clock``, up to today, with the open tasks'
  deadlines spread so that today's board shows none / blue / yellow / red.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from django.utils import timezone

from govcenter.core.calendar import add_workdays, as_local_date, is_workday, next_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .models import SupervisionPlan, SupervisionTask
from .services import cases
from .services import supervision as svc

DEMO_MARK = "（演示）"
TASKS_PER_YEAR = 120
TITLES = [
    ("学校周边交通综合治理", "完成重点学校周边交通秩序整治，设置接送车位和即停即走区。"),
    ("医院周边停车治理", "优化重点医院周边停车组织，推广预约挂号与预约停车联动。"),
    ("轨道交通站点接驳优化", "完善站点周边非机动车停放区与公交接驳线路。"),
    ("拥堵节点改造", "完成年度拥堵节点疏堵改造工程。"),
    ("居住区停车共享", "推动机关企事业单位停车位错时共享。"),
    ("慢行系统品质提升", "完成慢行系统示范街道改造。"),
    ("信号配时优化", "对主干路信号灯实施绿波协调控制。"),
    ("共享单车规范停放", "落实运营企业车辆调度与电子围栏管理。"),
]
CHINESE_NUMBERS = "一二三四五六七八九十"


def _accounts():
    staff = User.objects.filter(username="datastaff").first()
    handler = User.objects.filter(username="congestion").first()
    lead = Unit.objects.filter(code="BTCGC-COORD").first()
    pool = list(Unit.objects.filter(is_active=True, code__startswith="PK-").order_by("code")[:16])
    pool += list(Unit.objects.filter(code__in=["BTCGC-PARKING", "BTCGC-BIKE"]))
    return staff, handler, lead, pool


def _workday(day: dt.date) -> dt.date:
    return day if is_workday(day) else next_workday(day)


def _fresh(task: SupervisionTask) -> SupervisionTask:
    return SupervisionTask.objects.get(pk=task.pk)


def load_small() -> dict[str, int]:
    """A plan with tasks drafted, issued, in progress (decomposed), awaiting an extension,
    awaiting review and closed out. Nothing is added once the demo plan exists."""
    staff, handler, lead, pool = _accounts()
    if staff is None or handler is None or lead is None:
        return {}
    year = as_local_date(timezone.now()).year
    title = f"{DEMO_MARK}{year}年缓解交通拥堵行动计划"
    if SupervisionPlan.objects.filter(year=year, title=title).exists():
        return {}
    today = as_local_date(timezone.now())
    far, near = add_workdays(today, 25), add_workdays(today, 2)
    with acting_as(staff, channel="demo"):
        plan = svc.plan_create(actor=staff, year=year, title=title)

        def new(k: int, due: dt.date, responsible=()):
            name, body = TITLES[k % len(TITLES)]
            return svc.task_create(actor=staff, plan=plan, item_no=f"一、{k + 1}", title=f"{DEMO_MARK}{name}",
                                   body=body, lead=lead, responsible=list(responsible), deadline=due)  # fmt: skip

        new(0, far, pool[:2])  # drafted
        # issued / in progress / extension asked / awaiting review / due in two working days / closed
        tasks = [svc.task_issue(actor=staff, task=new(k, due, pool[k : k + 1]))
                 for k, due in ((1, far), (2, far), (3, far), (4, far), (5, near), (7, far))]  # fmt: skip
        decomposed = svc.task_decompose(actor=staff, task=new(6, far, pool[2:4]))
        svc.task_issue(actor=staff, task=decomposed)
    with acting_as(handler, channel="demo"):
        for t in tasks[1:]:
            svc.task_report_progress(actor=handler, task=t, text="已制定实施方案，正在推进。", percent=40)
        svc.task_request_extension(actor=handler, task=_fresh(tasks[2]), reason="施工审批未完成，申请延期。",
                                   deadline=add_workdays(far, 20))  # fmt: skip
        for t in (tasks[3], tasks[5]):
            svc.task_report_completion(actor=handler, task=_fresh(t), text="已完成年度任务目标。")
    with acting_as(staff, channel="demo"):
        done = svc.task_accept(actor=staff, task=_fresh(tasks[5]), comment="材料齐全")
        svc.task_close_out(actor=staff, task=done)
    return {"supervision_tasks": SupervisionTask.objects.filter(plan=plan).count()}


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    """A year's action plan replayed through the services up to today (see the module docstring)."""
    staff, handler, lead, pool = _accounts()
    now = timezone.now()
    today = as_local_date(now)
    start = _workday(dt.date(year, 1, 5))
    title = f"{year}年缓解交通拥堵行动计划"
    if staff is None or handler is None or lead is None or start >= today or \
            SupervisionPlan.objects.filter(year=year, title=title).exists():  # fmt: skip
        return {}
    tz = timezone.get_current_timezone()

    def moment(day: dt.date, hour: int = 10) -> dt.datetime:
        return min(dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59)), tzinfo=tz), now)

    def between(lo: dt.date, hi: dt.date) -> dt.date:
        hi = max(lo, hi)
        return _workday(lo + dt.timedelta(days=rng.randint(0, (hi - lo).days)))

    n = max(6, round(TASKS_PER_YEAR * scale))
    fates = ["closed", "closed_late", "red", "blue", "yellow", "none", "reported", "accepted"]
    counts: Counter = Counter()
    with acting_as(staff, channel="demo"), cases.clock(moment(start, 9)):
        plan = svc.plan_create(actor=staff, year=year, title=title)
    for i in range(n):
        fate = fates[i % len(fates)]
        issued = between(start, min(start + dt.timedelta(days=40), today - dt.timedelta(days=1)))
        past_hi = today - dt.timedelta(days=3)
        if fate in ("closed", "closed_late", "red", "accepted") and past_hi > issued + dt.timedelta(days=20):
            due = between(issued + dt.timedelta(days=20), past_hi)
        elif fate == "blue":
            due = add_workdays(today, rng.randint(1, 3))
        else:
            due = between(today + dt.timedelta(days=40), today + dt.timedelta(days=150))
        name, body = TITLES[i % len(TITLES)]
        responsible = rng.sample(pool, k=min(len(pool), rng.randint(0, 3)))
        with acting_as(staff, channel="demo"), cases.clock(moment(issued, 9)):
            task = svc.task_create(
                actor=staff, plan=plan, item_no=f"{CHINESE_NUMBERS[i // 20 % 10]}、{i % 20 + 1}",
                title=name, body=body, lead=lead, responsible=responsible, deadline=due,
            )  # fmt: skip
            if responsible and rng.random() < 0.3:
                task = svc.task_decompose(actor=staff, task=task)
            task = svc.task_issue(actor=staff, task=task)
        # Monthly reports by the lead unit: the yellow ones stopped reporting six weeks ago.
        stop = today - dt.timedelta(days=45 if fate == "yellow" else rng.randint(3, 20))
        finish = {"closed": due - dt.timedelta(days=rng.randint(2, 10)), "accepted": due - dt.timedelta(days=2),
                  "closed_late": due + dt.timedelta(days=rng.randint(1, 3)),
                  "reported": today - dt.timedelta(days=2)}.get(fate)  # fmt: skip
        if finish is not None:
            finish = _workday(min(max(finish, issued + dt.timedelta(days=1)), today))
            stop = min(stop, finish - dt.timedelta(days=1))
        day, k = issued + dt.timedelta(days=rng.randint(20, 30)), 0
        while day <= stop:
            k += 1
            pct = min(95, 15 * k + rng.randint(0, 10)) if fate != "yellow" else min(30, 8 * k)
            with acting_as(handler, channel="demo"), cases.clock(moment(day, 15)):
                task = svc.task_report_progress(
                    actor=handler, task=task, text=f"第{k}次进展：按计划推进。", percent=pct
                )
            counts["reports"] += 1
            if k == 2 and rng.random() < 0.15 and day < due - dt.timedelta(days=5):
                with acting_as(handler, channel="demo"), cases.clock(moment(day, 16)):
                    task = svc.task_request_extension(actor=handler, task=task, reason="受施工审批影响，申请延期。",
                                                      deadline=add_workdays(due, 10))  # fmt: skip
                with acting_as(staff, channel="demo"), cases.clock(moment(day + dt.timedelta(days=1), 11)):
                    task = svc.task_approve_extension(actor=staff, task=task, comment="同意延期")
                counts["extensions"] += 1
            day += dt.timedelta(days=rng.randint(25, 31))
        if fate in ("none", "blue"):  # on track: a report in the last few days
            with (
                acting_as(handler, channel="demo"),
                cases.clock(moment(today - dt.timedelta(days=rng.randint(1, 4)), 15)),
            ):
                task = svc.task_report_progress(
                    actor=handler, task=task, text="按计划推进，进展顺利。", percent=95
                )
            counts["reports"] += 1
        if finish is None:
            counts[fate] += 1
            continue
        with acting_as(handler, channel="demo"), cases.clock(moment(finish, 14)):
            task = svc.task_report_completion(
                actor=handler, task=task, text="已完成年度任务目标，附完成情况报告。"
            )
        if fate == "reported":
            counts[fate] += 1
            continue
        review = _workday(min(finish + dt.timedelta(days=2), today))
        with acting_as(staff, channel="demo"), cases.clock(moment(review, 11)):
            if rng.random() < 0.2:
                task = svc.task_send_back(actor=staff, task=task, reason="完成材料不全，请补充。")
                with acting_as(handler, channel="demo"):
                    task = svc.task_report_completion(actor=handler, task=task, text="已补充完成材料。")
            task = svc.task_accept(actor=staff, task=task, comment="同意")
            if fate != "accepted":
                task = svc.task_close_out(actor=staff, task=task)
        counts[fate] += 1
    counts["supervision_tasks"] = SupervisionTask.objects.filter(plan=plan).count()
    return dict(counts)
