"""Demo data of 疏堵工程 and 交通基础设施项目, entered through the services: the Center's data staff
(``datastaff``) register the projects with the 综合协调科 as responsible unit, whose handler
(``congestion``) starts them and reports progress.

* :func:`load_small` — a handful of projects in various states (``make run``), idempotent;
* :func:`load_year` — a year at Beijing volume × ``scale`` (about 120 relief works and 40
  infrastructure projects a year at scale 1), each step replayed at its time under
  ``cases.clock``, with deadlines spread so that today's board shows none / blue / yellow / red.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from govcenter.core.calendar import add_workdays, next_workday
from govcenter.core.context import acting_as
from govcenter.core.deadlines import today
from govcenter.core.models import Unit, User

from .models import ReliefWork, Stage
from .services import cases
from .services import works as svc

DEMO_MARK = "（演示）"
TZ = ZoneInfo("Asia/Shanghai")
WORKS_PER_YEAR, INFRA_PER_YEAR = 120, 40
PLACES = {
    "东四": (116.4166, 39.9288), "西直门": (116.3550, 39.9405), "望京": (116.4701, 39.9962),
    "国贸": (116.4617, 39.9097), "中关村": (116.3163, 39.9842), "回龙观": (116.3389, 40.0763),
    "丰台科技园": (116.2950, 39.8300), "亦庄": (116.5060, 39.7950), "通州北苑": (116.6500, 39.9050),
    "石景山万达": (116.2180, 39.9060), "天通苑": (116.4200, 40.0700), "大兴黄村": (116.3400, 39.7300),
}  # fmt: skip
WORK_TITLES = ("路口节点改造", "主干道拥堵点疏解", "信号配时优化", "公交站台港湾化改造", "学校周边交通组织优化",
               "桥区匝道渠化", "医院周边停车秩序治理")  # fmt: skip
INFRA_TITLES = ("快速路东延工程", "次干路打通工程", "立交改造工程", "公交场站建设", "慢行系统贯通工程",
                "支路微循环改造工程")  # fmt: skip


def _actors():
    staff = User.objects.filter(username="datastaff").first()
    handler = User.objects.filter(username="congestion").first()
    unit = Unit.objects.filter(code="BTCGC-COORD").first()
    return staff, handler, unit


def _point(name: str, rng: random.Random | None = None) -> dict:
    lon, lat = PLACES[name]
    if rng is not None:
        lon, lat = lon + rng.uniform(-0.01, 0.01), lat + rng.uniform(-0.01, 0.01)
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def _indicators(day: dt.date) -> list[dict]:
    return [
        {
            "name": "高峰平均车速",
            "unit": "km/h",
            "better": "higher",
            "before_value": "17.8",
            "before_on": day,
        },
        {"name": "排队长度", "unit": "m", "better": "lower", "before_value": "280", "before_on": day},
        {"name": "车均延误", "unit": "s/veh", "better": "lower", "before_value": "64", "before_on": day},
    ]


def load_small() -> dict[str, int]:
    if ReliefWork.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    staff, handler, unit = _actors()
    if staff is None or handler is None or unit is None:
        return {}
    d = today()
    soon, later = add_workdays(d, 2), add_workdays(d, 120)
    works = []
    with acting_as(staff, channel="demo"):
        for place, title, due in (("东四", "路口节点改造", later), ("西直门", "桥区匝道渠化", soon),
                                  ("望京", "学校周边交通组织优化", later)):  # fmt: skip
            works.append(svc.work_register(
                actor=staff, category="junction", title=f"{DEMO_MARK}{place}{title}", unit=unit, deadline=due,
                location=_point(place), indicators=_indicators(d - dt.timedelta(days=30)),
                milestones=[{"name": "施工图完成", "planned_on": add_workdays(d, 1)}],
            ))  # fmt: skip
        infra = svc.infra_register(
            actor=staff, title=f"{DEMO_MARK}广渠路东延快速化改造", unit=unit, deadline=later,
            document_number="京发改〔2026〕101号", document_date=d - dt.timedelta(days=60), location=_point("国贸"),
            total_investment_fen=svc.wan_to_fen("86000", "total"),
            milestones=[{"name": "初设批复", "planned_on": add_workdays(d, 20)}],
        )  # fmt: skip
        infra = svc.infra_stage(actor=staff, project=infra, transition="feasibility", document_number="京发改〔2026〕188号",
                                document_date=d - dt.timedelta(days=20))  # fmt: skip
        infra = svc.infra_plan_investment(
            actor=staff, project=infra, year=d.year, planned_fen=svc.wan_to_fen("12000", "p")
        )
    with acting_as(handler, channel="demo"):
        w = svc.work_start(actor=handler, work=works[1])
        svc.work_report(actor=handler, work=w, percent=90, note="主体完工，正在施划标线。")
        w = svc.work_start(actor=handler, work=works[2])
        w = svc.work_report(actor=handler, work=w, percent=100, note="全部完工。")
        svc.work_complete(actor=handler, work=w)
        svc.infra_report(actor=handler, project=infra, month=d.replace(day=1), text="可研报告编制完成，开展初步设计。",
                         percent=8, invested_fen=svc.wan_to_fen("350", "i"))  # fmt: skip
        svc.infra_add_risk(actor=handler, project=infra, kind="risk", description="沿线管线迁改协调难度大",
                           level="medium", owner="蒋协调")  # fmt: skip
    return {"works": len(works), "infra": 1}


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(9, 16), rng.randint(0, 59)), tzinfo=TZ)


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    """About ``WORKS_PER_YEAR × scale`` relief works and ``INFRA_PER_YEAR × scale`` projects of
    ``year`` (at least 4 of each: one per colour of today's board)."""
    staff, handler, unit = _actors()
    if staff is None or handler is None or unit is None:
        return {}
    now_day = today()
    first = dt.date(year, 1, 5)
    last = min(dt.date(year, 12, 20), now_day - dt.timedelta(days=1))
    if last <= first:
        return {}
    n_works, n_infra = max(4, round(WORKS_PER_YEAR * scale)), max(4, round(INFRA_PER_YEAR * scale))
    made = {"works": 0, "infra": 0}
    with acting_as(staff, channel="demo"):
        for i in range(n_works):
            _one_work(i, first, last, now_day, staff, handler, unit, rng)
            made["works"] += 1
        for i in range(n_infra):
            _one_infra(i, first, last, now_day, staff, handler, unit, rng)
            made["infra"] += 1
    return made


def _plan(i: int, first: dt.date, last: dt.date, now_day: dt.date, rng: random.Random):
    """When the project starts, its deadline and milestone days for colour ``i % 4`` of today's
    board: 0 none (far deadline), 1 blue (due in 1–2 working days), 2 yellow (a milestone slipped),
    3 red (deadline passed)."""
    colour = i % 4
    span = max(1, (last - first).days)
    start = next_workday(first + dt.timedelta(days=rng.randint(0, span // 2)))
    if start > last:
        start = first
    if colour == 3:
        deadline = next_workday(start + dt.timedelta(days=rng.randint(20, 60)))
        deadline = deadline if deadline < now_day else None
    elif colour == 1:
        deadline = add_workdays(now_day, rng.randint(1, 2))
    else:
        deadline = next_workday(now_day + dt.timedelta(days=rng.randint(60, 300)))
    if deadline is None or deadline <= start:
        colour, deadline = 0, next_workday(now_day + dt.timedelta(days=120))
    if colour == 2:
        slip = next_workday(start + dt.timedelta(days=rng.randint(5, max(6, (now_day - start).days - 2))))
        slip = slip if slip < now_day else next_workday(start)
    else:
        slip = None
    return colour, start, deadline, slip


def _one_work(i, first, last, now_day, staff, handler, unit, rng):
    colour, start, deadline, slip = _plan(i, first, last, now_day, rng)
    place = rng.choice(list(PLACES))
    milestones = [{"name": "方案批复", "planned_on": slip or next_workday(start + dt.timedelta(days=3))}]
    if colour == 0:
        milestones.append({"name": "完成施工", "planned_on": next_workday(deadline - dt.timedelta(days=10))})
    with cases.clock(_at(start, rng)):
        w = svc.work_register(
            actor=staff, category=rng.choice(["junction", "road", "signal", "channel", "parking"]),
            title=f"{place}{rng.choice(WORK_TITLES)}（{i + 1}）", unit=unit, deadline=deadline,
            location=_point(place, rng), indicators=_indicators(start - dt.timedelta(days=14)), milestones=milestones,
        )  # fmt: skip
    step = start + dt.timedelta(days=1)
    if step >= now_day:
        return w
    with cases.clock(_at(step, rng)), acting_as(handler, channel="demo"):
        w = svc.work_start(actor=handler, work=w)
        if colour != 2:
            w = svc.work_milestone(actor=handler, work=w, milestone=w.milestones.first(), actual_on=step)
    # progress roughly on schedule (behind for red), monthly until yesterday
    total = max(1, (deadline - start).days)
    day = step + dt.timedelta(days=30)
    while day < now_day:
        pct = min(99, int(100 * (day - start).days / total) + (5 if colour != 3 else -30))
        pct = max(pct, w.progress_pct)
        with cases.clock(_at(day, rng)), acting_as(handler, channel="demo"):
            w = svc.work_report(actor=handler, work=w, percent=pct, note=f"按计划推进，完成 {pct}%。")
        day += dt.timedelta(days=30)
    if colour == 1:
        with cases.clock(_at(now_day - dt.timedelta(days=1), rng)), acting_as(handler, channel="demo"):
            w = svc.work_report(actor=handler, work=w, percent=max(95, w.progress_pct), note="收尾施工。")
    if colour == 0 and i % 8 == 0 and start < now_day - dt.timedelta(days=40):  # some finished and evaluated
        end = start + dt.timedelta(days=30)
        with cases.clock(_at(end, rng)), acting_as(handler, channel="demo"):
            w = svc.work_complete(actor=handler, work=w)
        with cases.clock(_at(end + dt.timedelta(days=7), rng)):
            w = svc.work_evaluate(actor=staff, work=w, indicators=[
                {"name": "高峰平均车速", "after_value": "22.6", "after_on": end + dt.timedelta(days=6)},
                {"name": "排队长度", "after_value": "150", "after_on": end + dt.timedelta(days=6)},
                {"name": "车均延误", "after_value": "41", "after_on": end + dt.timedelta(days=6)},
            ])  # fmt: skip
            if i % 16 == 0:
                w = svc.work_close(actor=staff, work=w)
    return w


def _one_infra(i, first, last, now_day, staff, handler, unit, rng):
    colour, start, deadline, slip = _plan(i, first, last, now_day, rng)
    place = rng.choice(list(PLACES))
    total_wan = rng.choice([8000, 25000, 60000, 150000])
    milestones = [{"name": "可研批复", "planned_on": slip or next_workday(start + dt.timedelta(days=3))}]
    with cases.clock(_at(start, rng)):
        p = svc.infra_register(
            actor=staff, title=f"{place}{rng.choice(INFRA_TITLES)}（{i + 1}）", unit=unit, deadline=deadline,
            document_number=f"京发改〔{start.year}〕{100 + i}号", document_date=start, location=_point(place, rng),
            total_investment_fen=svc.wan_to_fen(total_wan, "total"), milestones=milestones,
        )  # fmt: skip
        p = svc.infra_plan_investment(actor=staff, project=p, year=start.year,
                                      planned_fen=svc.wan_to_fen(total_wan // 3, "plan"))  # fmt: skip
    day = start + dt.timedelta(days=2)
    if colour != 2 and day < now_day:
        with cases.clock(_at(day, rng)):
            p = svc.infra_stage(actor=staff, project=p, transition="feasibility",
                                document_number=f"京发改〔{day.year}〕{300 + i}号", document_date=day)  # fmt: skip
            p = svc.infra_milestone(actor=staff, project=p, milestone=p.milestones.first(), actual_on=day)
    total = max(1, (deadline - start).days)
    month = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    while month < now_day.replace(day=1):
        pct = min(99, int(100 * (month - start).days / total) + (5 if colour != 3 else -30))
        pct = max(pct, p.progress_pct, 0)
        if colour == 1:
            pct = max(pct, 95)
        with (
            cases.clock(_at(month + dt.timedelta(days=rng.randint(2, 8)), rng)),
            acting_as(handler, channel="demo"),
        ):
            p = svc.infra_report(actor=handler, project=p, month=month, text=f"本月完成 {pct}%。", percent=pct,
                                 invested_fen=svc.wan_to_fen(rng.randint(50, total_wan // 20 + 50), "i"))  # fmt: skip
        month = (month + dt.timedelta(days=32)).replace(day=1)
    if i % 5 == 0 and p.state == Stage.FEASIBILITY:
        with cases.clock(_at(min(now_day - dt.timedelta(days=1), day + dt.timedelta(days=5)), rng)):
            svc.infra_add_risk(actor=staff, project=p, kind="issue", description="征地拆迁进度滞后", level="high",
                               owner="蒋协调")  # fmt: skip
    return p
