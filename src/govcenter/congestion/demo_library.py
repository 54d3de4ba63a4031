"""Demo data of 政策研究信息, 科研项目信息 and 宣传, entered through the services as the demo
accounts: the Center's data staff (``datastaff``, city-wide), its leader (``leader``) and the
综合协调科 handler (``congestion``), whose unit owns most of it.

* :func:`load_small` — a few of each in various states (``make run``); idempotent.
* :func:`load_year` — a believable year at Beijing volume × ``scale``, each step replayed at its
  own time under ``cases.clock``; research projects' planned completion days are spread around
  today so the warning board shows none / blue / yellow / red.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.core import deadlines
from govcenter.core.calendar import SHANGHAI, add_workdays, is_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .models import PolicyDocument
from .services import library as svc
from .services.cases import clock

DEMO_MARK = "（演示）"
# Beijing volume per year: documents entered, research projects started, news and notices.
YEAR_VOLUME = {"policy": 300, "research": 60, "publicity": 1200}
TOPICS = ["学校周边", "医院周边", "潮汐车道", "停车治理", "慢行系统", "公交优先", "共享单车", "错峰出行",
          "交通组织优化", "轨道接驳", "货运配送", "重点商圈"]  # fmt: skip
ISSUERS = ["北京市交通委员会", "北京市人民政府办公厅", "北京市规划和自然资源委员会", "北京市公安局公安交通管理局",
           "北京交通发展研究院"]  # fmt: skip
ORGS = [
    "北京交通大学",
    "北京工业大学",
    "北京交通发展研究院",
    "清华大学交通研究所",
    "北京市市政工程设计研究总院",
]
SURNAMES = "王李张刘陈杨赵黄周吴"


def _accounts():
    users = {u.username: u for u in User.objects.filter(username__in=["datastaff", "leader", "congestion"])}
    unit = Unit.objects.filter(code="BTCGC-COORD").first()
    if len(users) < 3 or unit is None:
        return None
    return users["datastaff"], users["leader"], users["congestion"], unit


def _txt(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def load_small() -> dict[str, int]:
    if PolicyDocument.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    accounts = _accounts()
    if accounts is None:
        return {}
    staff, leader, handler, unit = accounts
    with acting_as(staff, channel="demo"):
        a = svc.policy_create(actor=staff, title=f"{DEMO_MARK}关于加强学校周边交通综合治理的意见", issuer=ISSUERS[0],
                              issued_on=dt.date(2025, 9, 1), category="policy", tags=["学校周边", "护学"],
                              doc_number="京交发〔2025〕12号", abstract="治理学校周边接送拥堵。",
                              body="一、总体要求\n二、主要措施：错峰放学、护学岗、临时停车泊位。", unit=unit,
                              files=[_txt("意见全文.txt", "学校周边交通综合治理意见全文：错峰放学、护学岗。")])  # fmt: skip
        svc.policy_publish(actor=staff, document=a)
        svc.policy_create(actor=staff, title=f"{DEMO_MARK}城市道路潮汐车道设置规范", issuer=ISSUERS[3],
                          issued_on=dt.date(2024, 6, 1), category="standard", tags=["潮汐车道"], unit=unit,
                          body="潮汐车道设置条件、标志标线与信号控制要求。")  # fmt: skip
        p = svc.project_create(actor=staff, title=f"{DEMO_MARK}城市副中心潮汐交通组织研究", organisation=ORGS[0],
                               investigator_name="张明", investigator_phone="13900139011", budget_fen=80_000_000,
                               body="通州区早晚高峰潮汐交通特征与组织对策。", unit=unit)  # fmt: skip
        n = svc.publicity_create(actor=staff, kind="notice", title=f"{DEMO_MARK}关于东四路口施工期间绕行的通告",
                                 body="施工期间请社会车辆绕行东四北大街。", unit=unit)  # fmt: skip
        n = svc.publicity_submit(actor=staff, item=n)
    with acting_as(handler, channel="demo"):
        p = svc.project_sign_contract(actor=handler, project=p, contract_number="HT-KY-2026-001",
                                      contract_date=dt.date(2026, 3, 2), amount_fen=78_000_000)  # fmt: skip
        svc.project_add_expense(actor=handler, project=p, category="travel", amount_fen=1_200_000,
                                spent_on=dt.date(2026, 4, 10), note="实地调查")  # fmt: skip
        draft = svc.publicity_create(actor=handler, kind="news", title=f"{DEMO_MARK}综合协调科开展错峰出行宣传",
                                     body="在重点商圈开展错峰出行宣传。", unit=unit)  # fmt: skip
    with acting_as(leader, channel="demo"):
        svc.publicity_approve(actor=leader, item=n)
    return {"policy": 2, "research": 1, "publicity": 2 if draft else 1}


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=SHANGHAI)


def _days(year: int) -> list[dt.date]:
    today = deadlines.today()
    start, end = dt.date(year, 1, 1), min(dt.date(year, 12, 31), today - dt.timedelta(days=1))
    return [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if is_workday(start + dt.timedelta(days=i))
    ]


def _after(rng, day: dt.date, lo: int, hi: int) -> dt.date | None:
    later = add_workdays(day, rng.randint(lo, hi))
    return later if later < deadlines.today() else None


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    accounts = _accounts()
    days = _days(year)
    if accounts is None or not days:
        return {}
    staff, leader, handler, unit = accounts
    made: Counter = Counter()
    today = deadlines.today()

    def at(day):
        return clock(_moment(rng, day))

    for _ in range(round(YEAR_VOLUME["policy"] * scale)):
        day, topic = rng.choice(days), rng.choice(TOPICS)
        with acting_as(staff, channel="demo"), at(day):
            doc = svc.policy_create(
                actor=staff, title=f"关于{topic}的{rng.choice(['实施意见', '工作方案', '研究报告', '技术导则'])}",
                issuer=rng.choice(ISSUERS), issued_on=day - dt.timedelta(days=rng.randint(0, 60)),
                category=rng.choice(["regulation", "policy", "report", "standard", "other"]),
                tags=rng.sample(TOPICS, 2), abstract=f"{topic}相关{year}年度文件。", body=f"{topic}：目标、措施、保障。",
                unit=unit,
            )  # fmt: skip
        later = _after(rng, day, 1, 20)
        if later and rng.random() < 0.8:
            with acting_as(staff, channel="demo"), at(later):
                doc = svc.policy_publish(actor=staff, document=doc)
            if rng.random() < 0.2 and (last := _after(rng, later, 5, 60)):
                with acting_as(staff, channel="demo"), at(last):
                    svc.policy_archive(actor=staff, document=doc)
        made["policy"] += 1

    for i in range(max(1, round(YEAR_VOLUME["research"] * scale))):
        day = rng.choice(days[: max(1, len(days) - 40)])
        # planned completion around today: overdue (red), in a few days (blue), later (none / yellow)
        # (blue ones have passed the mid-term review: far enough along not to be behind schedule)
        colour = ("red", "blue", "later")[i % 3]
        offset = {"red": -rng.randint(1, 15), "blue": rng.randint(1, 3), "later": rng.randint(20, 150)}[
            colour
        ]
        target = add_workdays(today, offset)
        with acting_as(staff, channel="demo"), at(day):
            p = svc.project_create(
                actor=staff, title=f"{rng.choice(TOPICS)}对策研究（{year}-{made['research'] + 1}）",
                organisation=rng.choice(ORGS), investigator_name=rng.choice(SURNAMES) + "研究员",
                budget_fen=rng.randint(20, 200) * 1_000_000, deadline=target if target > day else None, unit=unit,
            )  # fmt: skip
        steps = {"blue": 2, "red": rng.choice([0, 1])}.get(colour, rng.choice([0, 1, 2, 3]))
        cursor = day
        for step in range(steps):
            nxt = _after(rng, cursor, 3, 8) if colour == "blue" else _after(rng, cursor, 10, 40)
            if nxt is None:
                break
            cursor = nxt
            with at(cursor):
                if step == 0:
                    with acting_as(handler, channel="demo"):
                        p = svc.project_sign_contract(actor=handler, project=p, contract_number=f"HT-{p.number}",
                                                      contract_date=cursor, amount_fen=p.budget_fen)  # fmt: skip
                        p = svc.project_add_expense(actor=handler, project=p, category="labour",
                                                    amount_fen=p.budget_fen // 5, spent_on=cursor)  # fmt: skip
                elif step == 1:
                    with acting_as(staff, channel="demo"):
                        p = svc.project_midterm(actor=staff, project=p, day=cursor, conclusion="pass")
                else:
                    with acting_as(staff, channel="demo"):
                        p = svc.project_accept(actor=staff, project=p, day=cursor, conclusion="passed",
                                               experts="专家组")  # fmt: skip
        made["research"] += 1

    for _ in range(round(YEAR_VOLUME["publicity"] * scale)):
        day = rng.choice(days)
        kind = rng.choice(["news", "news", "notice"])
        topic = rng.choice(TOPICS)
        with acting_as(handler, channel="demo"), at(day):
            item = svc.publicity_create(actor=handler, kind=kind, title=f"{topic}工作{'动态' if kind == 'news' else '通告'}",
                                        body=f"{topic}：本周工作进展。", unit=unit)  # fmt: skip
        if rng.random() < 0.85:
            with acting_as(handler, channel="demo"), at(day):
                item = svc.publicity_submit(actor=handler, item=item)
            if (later := _after(rng, day, 1, 3)) and rng.random() < 0.9:
                with acting_as(leader, channel="demo"), at(later):
                    item = svc.publicity_approve(actor=leader, item=item)
        made["publicity"] += 1
    return dict(made)
