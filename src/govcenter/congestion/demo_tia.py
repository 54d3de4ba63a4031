"""Demo data of 交通影响评价, made through the services as the demo accounts: the Center's data
staff (``datastaff``) register applications, receive materials, accept and deliver; the
综合协调科 (``congestion``, unit BTCGC-COORD) is the review unit that reviews, holds the expert
meetings and decides.

* :func:`load_small` — seven applications, one in each working state (``make run``);
* :func:`load_year` — a year at Beijing's volume × ``scale`` (we assume ~400 applications a
  year city-wide), each step replayed under ``cases.clock`` at the time it happened, plus (for
  the current year) four applications placed so that today's board shows none / blue / yellow /
  red. Both are idempotent."""

from __future__ import annotations

import datetime as dt
import io
import random

from django.utils import timezone

from govcenter.core.calendar import SHANGHAI, add_workdays, as_local_date, is_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .models import TiaApplication, TiaState
from .services import cases
from .services import tia as svc

DEMO_MARK = "（演示）"
YEAR_MARK = "【年度演示】"
YEAR_VOLUME = 400  # applications a year city-wide (our assumption for the demo)
PLACES = {  # GCJ-02
    "东四": (116.4166, 39.9288), "西单": (116.3740, 39.9070), "国贸": (116.4617, 39.9097),
    "望京": (116.4701, 39.9962), "中关村": (116.3163, 39.9842), "丽泽": (116.3100, 39.8650),
    "鲁谷": (116.2300, 39.9000), "运河商务区": (116.6680, 39.9100), "回龙观": (116.3389, 40.0763),
    "亦庄": (116.5060, 39.7950), "顺义新城": (116.6550, 40.1300),
}  # fmt: skip
PROJECTS = [("商业综合体", "public"), ("住宅小区", "residential"), ("办公楼", "public"), ("医院", "public"),
            ("学校", "public"), ("产业园", "industrial"), ("综合开发项目", "mixed")]  # fmt: skip
BUILDERS = ["北京城建置业有限公司", "北京首开房地产有限公司", "北京金融街投资集团", "北京市保障性住房建设投资中心",
            "北京亦庄投资控股有限公司", "北京城市副中心投资建设集团"]  # fmt: skip


def _file(name: str):
    f = io.BytesIO(f"{name}（演示材料）".encode())
    f.name = f"{name}.txt"
    return f


def _accounts():
    staff = User.objects.filter(username="datastaff").first()
    reviewer = User.objects.filter(username="congestion").first()
    unit = Unit.objects.filter(code="BTCGC-COORD").first()
    return staff, reviewer, unit


def _materials(staff, app, keys=None):
    labels = svc.materials_required()
    for key in keys if keys is not None else list(labels):
        app = svc.tia_add_materials(actor=staff, application=app, material=key, files=[_file(labels[key])])
    return app


def load_small() -> dict[str, int]:
    if TiaApplication.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    staff, reviewer, unit = _accounts()
    if staff is None or reviewer is None or unit is None:
        return {}
    keys = list(svc.materials_required())
    today = as_local_date(cases.now())

    def new(place, project, area, **kw):
        lon, lat = PLACES[place]
        use = dict(PROJECTS)[project]
        return svc.tia_submit(actor=staff, title=f"{DEMO_MARK}{place}{project}", builder=BUILDERS[len(place) % 6],
                              location={"type": "Point", "coordinates": [lon, lat]}, floor_area=area, use=use, **kw)  # fmt: skip

    def accepted(app):
        return svc.tia_accept(actor=staff, application=_materials(staff, app), unit=unit)

    with acting_as(staff, channel="demo"):
        _materials(staff, new("东四", "商业综合体", "8600.00"), keys[:2])
        svc.tia_request_supplement(
            actor=staff, application=_materials(staff, new("国贸", "办公楼", "45000"), keys[1:2])
        )
        accepted(new("望京", "住宅小区", "52000.50"))
        review = accepted(new("中关村", "办公楼", "26000"))
        revise = accepted(new("运河商务区", "综合开发项目", "88000"))
        done = accepted(new("回龙观", "学校", "21000"))
        rejected = accepted(new("西单", "商业综合体", "7200"))
    with acting_as(reviewer, channel="demo"):
        notes = "形式审查合格；内容审查：交通量预测方法恰当。"
        svc.tia_review(actor=reviewer, application=review, notes=notes)
        for app, passes in ((revise, False), (done, True)):
            app = svc.tia_review(actor=reviewer, application=app, notes=notes)
            app = svc.tia_hold_meeting(actor=reviewer, application=app, date=today, experts=["张立新", "刘明", "陈卫东"],
                                       files=[_file("专家评审会纪要")])  # fmt: skip
            if passes:
                done = svc.tia_issue_opinion(actor=reviewer, application=app,
                                             conditions="接送车辆停车区设于校内；高峰时段错峰放学。")  # fmt: skip
            else:
                svc.tia_revise(
                    actor=reviewer, application=app, comments="补充地铁站接驳客流分析；优化地块出入口位置。"
                )
        svc.tia_reject(
            actor=reviewer, application=rejected, reasons="项目出入口直接开向二环主路，不符合规划要求。"
        )
    with acting_as(staff, channel="demo"):
        svc.tia_deliver(actor=staff, application=done, delivered_on=today, delivery_method="post")
    return {"tia": 7}


# -- a year -------------------------------------------------------------------------------------


def _moment(day: dt.date, rng: random.Random) -> dt.datetime:
    while not is_workday(day):
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, rng.randint(9, 16), rng.randint(0, 59), tzinfo=SHANGHAI)


class _NotYetError(Exception):
    """The next step would happen after now: the application stays where it is."""


def _replay(
    rng, staff, reviewer, unit, start: dt.datetime, *, until: dt.datetime, plan=None
) -> TiaApplication:
    """One application from ``start``, each step a few working days after the last (sometimes
    over the stage's limit), until it closes or the next step would be after ``until``."""
    clock = {"at": start}

    def later(stage: str) -> dt.datetime:
        limit = svc.stage_workdays(stage)
        days = rng.choice(
            [rng.randint(1, max(1, limit - 1)), rng.randint(1, limit), limit + rng.randint(1, 4)]
        )
        moment = _moment(add_workdays(as_local_date(clock["at"]), days), rng)
        if moment > until:
            raise _NotYetError
        clock["at"] = moment
        return moment

    place = rng.choice(list(PLACES))
    project, use = rng.choice(PROJECTS)
    lon, lat = PLACES[place]
    area = (
        f"{rng.choice([rng.uniform(2000, 12000), rng.uniform(8000, 60000), rng.uniform(20000, 150000)]):.2f}"
    )
    point = {"type": "Point", "coordinates": [round(lon + rng.uniform(-0.003, 0.003), 6),
                                              round(lat + rng.uniform(-0.003, 0.003), 6)]}  # fmt: skip
    keys = list(svc.materials_required())
    plan = plan or {}
    with cases.clock(start):
        app = svc.tia_submit(actor=staff, title=f"{YEAR_MARK}{place}{project}", builder=rng.choice(BUILDERS),
                             location=point, floor_area=area, use=use)  # fmt: skip
    try:
        with cases.clock(start):
            complete = plan.get("complete", rng.random() > 0.3)
            app = _materials(staff, app, keys if complete else keys[: rng.randint(1, len(keys) - 1)])
        if app.state == TiaState.SUBMITTED and svc.missing_materials(app):
            with cases.clock(later("acceptance")):
                app = svc.tia_request_supplement(actor=staff, application=app)
            with cases.clock(later("supplement")):
                app = svc.tia_resubmit(actor=staff, application=_materials(staff, app, app.missing_materials))
        with cases.clock(later("acceptance")):
            app = svc.tia_accept(actor=staff, application=app, unit=unit)
        with cases.clock(later("review")):
            app = svc.tia_review(actor=reviewer, application=app, notes="形式审查合格；内容审查意见见附件。")
        rounds = plan.get("rounds", rng.choice([0, 0, 0, 1, 1, 2]))
        while True:
            with cases.clock(later("meeting")) as moment:
                app = svc.tia_hold_meeting(actor=reviewer, application=app, date=as_local_date(moment),
                                           experts=rng.sample(["张立新", "刘明", "陈卫东", "赵晓燕", "孙强", "周敏"], 3),
                                           files=[_file("专家评审会纪要")])  # fmt: skip
            if app.revision_rounds >= rounds:
                break
            with cases.clock(later("opinion")):
                app = svc.tia_revise(
                    actor=reviewer, application=app, comments="补充高峰小时交通量预测与出入口方案比选。"
                )
            with cases.clock(later("revision")):
                app = svc.tia_submit_revision(actor=staff, application=app)
        with cases.clock(later("opinion")):
            if rng.random() < 0.1:
                app = svc.tia_reject(
                    actor=reviewer, application=app, reasons="交通组织方案不可行，周边路网无法承载。"
                )
            else:
                app = svc.tia_issue_opinion(
                    actor=reviewer, application=app, conditions="落实配建停车与出入口渠化方案。"
                )
        with cases.clock(later("delivery")) as moment:
            app = svc.tia_deliver(actor=staff, application=app, delivered_on=as_local_date(moment),
                                  delivery_method=rng.choice(["in_person", "post", "electronic"]))  # fmt: skip
    except _NotYetError:
        pass
    return app


def _second_round(staff, reviewer, unit, today: dt.date, rng) -> int:
    """An application in its second revision round, back with the experts since yesterday:
    its stage is on time, but two rounds put it behind (yellow)."""

    def at(ago: int) -> dt.datetime:
        return _moment(add_workdays(today, -ago), rng)

    with cases.clock(at(60)):
        app = svc.tia_submit(actor=staff, title=f"{YEAR_MARK}丽泽商务区办公楼", builder=BUILDERS[2],
                             location={"type": "Point", "coordinates": list(PLACES["丽泽"])}, floor_area="68000",
                             use="public")  # fmt: skip
        app = _materials(staff, app)
    with cases.clock(at(57)):
        app = svc.tia_accept(actor=staff, application=app, unit=unit)
    with cases.clock(at(45)):
        app = svc.tia_review(actor=reviewer, application=app, notes="形式审查合格。")
    for meet, back, again in ((40, 39, 25), (20, 19, 1)):
        with cases.clock(at(meet)) as moment:
            app = svc.tia_hold_meeting(actor=reviewer, application=app, date=as_local_date(moment),
                                       experts=["张立新", "刘明", "孙强"], files=[_file("专家评审会纪要")])  # fmt: skip
        with cases.clock(at(back)):
            app = svc.tia_revise(actor=reviewer, application=app, comments="出入口方案仍需比选。")
        with cases.clock(at(again)):
            app = svc.tia_submit_revision(actor=staff, application=app)
    return 1


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    if TiaApplication.objects.filter(year=year, title__startswith=YEAR_MARK).exists():
        return {}
    staff, reviewer, unit = _accounts()
    if staff is None or reviewer is None or unit is None:
        return {}
    now = timezone.now()
    today = as_local_date(now)
    first, last = dt.date(year, 1, 1), min(dt.date(year, 12, 31), today)
    if last < first:
        return {}
    made = 0
    with acting_as(staff, channel="demo"):
        for _ in range(max(4, round(YEAR_VOLUME * scale))):
            start = _moment(first + dt.timedelta(days=rng.randint(0, (last - first).days)), rng)
            if start > now:
                continue
            _replay(rng, staff, reviewer, unit, start, until=now)
            made += 1
        if year == today.year:
            # Today's board: acceptance started today (none), 3 working days ago (blue: 2 left),
            # 8 working days ago (red), and a second revision round under way (yellow).
            for ago in (0, 3, 8):
                start = _moment(add_workdays(today, -ago), rng) if ago else now - dt.timedelta(minutes=5)
                with cases.clock(start):
                    svc.tia_submit(actor=staff, title=f"{YEAR_MARK}东四综合楼", builder=BUILDERS[0],
                                   location={"type": "Point", "coordinates": list(PLACES["东四"])},
                                   floor_area="9800.00", use="mixed")  # fmt: skip
                made += 1
            made += _second_round(staff, reviewer, unit, today, rng)
    return {"tia": made}
