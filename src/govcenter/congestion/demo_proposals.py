"""Demo data of 人大建议 / 政协提案, always through the services as the demo accounts: the Center's
data staff (``datastaff``) register, assign, review and rate; the 综合协调科's handler
(``congestion``) signs for, replies and asks for extensions; the 停车管理科 is the co-unit.

* :func:`load_small` — a few proposals in every state for ``make run`` (idempotent);
* :func:`load_year` — a believable year at Beijing's volume × ``scale``: most items arrive with the
  January sessions (两会), the rest year-round (闭会期间建议); each is replayed step by step on
  the services' clock up to today, so the open ones spread over none / blue / yellow / red.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.files.base import ContentFile
from django.utils import timezone

from govcenter.core import deadlines
from govcenter.core.calendar import add_workdays, as_local_date
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .models import Proposal, ProposalState
from .services import proposals as svc
from .services.cases import clock

DEMO_MARK = "（演示）"
# Items a year on transport handled through the Center (municipal sessions): NPC, CPPCC.
YEAR_VOLUME = {"npc": 120, "cppcc": 150}
SESSION = {"npc": "十六届{n}次会议", "cppcc": "十四届{n}次会议"}
TOPICS = [
    ("关于缓解{p}地区早晚高峰拥堵的建议", "建议优化{p}周边路口信号配时，增设潮汐车道。"),
    ("关于{p}学校周边接送停车的建议", "放学时段家长车辆占道停放，建议设置临时停车泊位。"),
    ("关于加强{p}共享单车停放管理的提案", "地铁站出口晚高峰单车堆积，建议施划停放区并加强调度。"),
    ("关于完善{p}公交接驳的提案", "地铁站到社区的接驳公交间隔过长，建议加密班次。"),
    ("关于{p}老旧小区停车难的建议", "建议挖潜错时共享停车资源，推进立体停车设施建设。"),
]
PLACES = ["东直门", "西直门", "望京", "国贸", "中关村", "回龙观", "天通苑", "亦庄", "通州北苑", "丰台科技园"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴婷", "徐丽", "孙涛"]
GROUPS = ["东城代表团", "海淀代表团", "朝阳代表团", "民进北京市委", "九三学社北京市委", "经济界", "科技界"]


def _accounts():
    staff = User.objects.filter(username="datastaff").first()
    handler = User.objects.filter(username="congestion").first()
    lead = Unit.objects.filter(code="BTCGC-COORD").first()
    co = Unit.objects.filter(code="BTCGC-PARKING").first()
    return staff, handler, lead, co


def _letter(text: str) -> ContentFile:
    return ContentFile(f"答复函\n{text}".encode(), name="答复函.txt")


class _LaterError(Exception):
    """The next step would happen after today: the case stays where it is."""


def _play(staff, handler, lead, co, *, n: int, body_type: str, year: int, registered: dt.datetime,
          rng: random.Random, today: dt.datetime, stop: str = "") -> Proposal:  # fmt: skip
    """One proposal replayed from ``registered`` on; stops before any step later than ``today``
    (or after the step ``stop``: ``assign`` / ``sign``)."""
    place = rng.choice(PLACES)
    title, body = rng.choice(TOPICS)
    proposers = [
        {"name": rng.choice(NAMES), "delegation": rng.choice(GROUPS)} for _ in range(rng.choice([1, 1, 2, 3]))
    ]
    moment = registered

    def at(day_offset: float):
        nonlocal moment
        moment = moment + dt.timedelta(days=day_offset)
        if moment > today:
            raise _LaterError
        return clock(moment)

    with at(0):
        p = svc.proposal_register(
            actor=staff, body_type=body_type, session=SESSION[body_type].format(n="四"), year=year,
            assembly_number=str(n), title=DEMO_MARK + title.format(p=place), body=body.format(p=place),
            proposers=proposers,
        )  # fmt: skip
    try:
        with_co = not stop and rng.random() < 0.5
        with at(0.05 if stop else rng.uniform(1, 6)):
            p = svc.proposal_assign(actor=staff, proposal=p, lead=lead, co_units=[co] if with_co else [],
                                    countersign=with_co and rng.random() < 0.5)  # fmt: skip
        if stop == "assign":
            return p
        with at(rng.uniform(0.2, 1)):
            p = svc.proposal_sign(actor=handler, proposal=p)
        if stop == "sign":
            return p
        if with_co:
            with at(rng.uniform(0.2, 3)):
                p = svc.proposal_sign(actor=_co_user(co), proposal=p)
            with at(rng.uniform(3, 25)):
                p = svc.proposal_opinion(actor=_co_user(co), proposal=p, text="同意主办单位意见，配合实施。")
        slow = rng.random() < 0.25
        if slow and rng.random() < 0.6:
            with at(rng.uniform(20, 50)):
                p = svc.proposal_request_extension(actor=handler, proposal=p, months=rng.choice([1, 2, 3]),
                                                   reason="需结合道路改造统筹实施")  # fmt: skip
            with at(rng.uniform(1, 5)):
                p = svc.proposal_decide_extension(actor=staff, proposal=p, approve=rng.random() < 0.8)
        for round_ in range(3):
            klass = rng.choices("ABCD", weights=[45, 30, 15, 10])[0]
            with at(rng.uniform(30, 110) if slow else rng.uniform(10, 70)):
                followup = None
                if klass == "B":
                    followup = deadlines.due_after(moment, months=rng.choice([2, 4, 6]))
                p = svc.proposal_submit_reply(actor=handler, proposal=p, text=f"{place}有关问题的答复（第{round_ + 1}轮）。",
                                              classification=klass, files=[_letter(place)], followup_due=followup)  # fmt: skip
            if p.state == ProposalState.COUNTERSIGNING:
                with at(rng.uniform(1, 5)):
                    p = svc.proposal_countersign(actor=_co_user(co), proposal=p, agree=True)
            with at(rng.uniform(1, 6)):
                p = svc.proposal_review(actor=staff, proposal=p, approve=True)
            for person in p.proposers.all():
                with at(rng.uniform(2, 12)):
                    verdict = rng.choices(["satisfied", "basic", "unsatisfied"], weights=[70, 24, 6])[0]
                    p = svc.proposal_rate(actor=staff, proposal=p, proposer=person.pk, satisfaction=verdict)
                if p.state != ProposalState.REPLIED:
                    break
            if p.state != ProposalState.HANDLING:
                break
        if p.state == ProposalState.AWAITING_SECOND:
            done = as_local_date(p.followup_due) - as_local_date(moment)
            with at(max(1.0, done.days * rng.uniform(0.4, 1.2))):
                p = svc.proposal_second_reply(
                    actor=handler, proposal=p, text="问题已解决。", files=[_letter(place)]
                )
    except _LaterError:
        pass
    return p


def _co_user(co: Unit) -> User:
    """The co-unit's handler (停车管理科, role congestion_staff), made once without a password
    until the core demo's account table has one (see the report)."""
    user = User.objects.filter(username="parkingcoord").first()
    if user is None:
        from govcenter.core.models import Role

        user = User(username="parkingcoord", unit=co, full_name="钱停")
        user.set_unusable_password()
        user.save()
        user.roles.add(Role.objects.get(code="congestion_staff"))
    return user


def load_small() -> dict[str, int]:
    """A few proposals for ``make run``: registered, assigned, in handling with a co-unit, under
    review, replied awaiting ratings, awaiting a B-class second reply, closed."""
    staff, handler, lead, co = _accounts()
    if None in (staff, handler, lead, co) or Proposal.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    year = as_local_date(timezone.now()).year
    made = 0
    with acting_as(staff, channel="demo"):
        for i, stop in enumerate(["register", "assign", "sign", "reply", "review", "second", "close"]):
            p = svc.proposal_register(
                actor=staff, body_type="npc" if i % 2 else "cppcc", session="十六届四次会议", year=year,
                assembly_number=f"D{i + 1:03d}", title=f"{DEMO_MARK}{TOPICS[i % 5][0].format(p=PLACES[i])}",
                body=TOPICS[i % 5][1].format(p=PLACES[i]), proposers=[{"name": NAMES[i], "delegation": GROUPS[i % 7]}],
            )  # fmt: skip
            made += 1
            if stop == "register":
                continue
            p = svc.proposal_assign(
                actor=staff, proposal=p, lead=lead, co_units=[co] if stop == "sign" else []
            )
            if stop == "assign":
                continue
            p = svc.proposal_sign(actor=handler, proposal=p)
            if stop == "sign":
                continue
            klass = "B" if stop == "second" else "A"
            followup = add_workdays(as_local_date(timezone.now()), 40) if klass == "B" else None
            p = svc.proposal_submit_reply(actor=handler, proposal=p, text="已会同有关部门研究落实。", classification=klass,
                                          files=[_letter(PLACES[i])], followup_due=followup)  # fmt: skip
            if stop == "reply":
                continue
            p = svc.proposal_review(actor=staff, proposal=p, approve=True)
            if stop == "review":
                continue
            p = svc.proposal_rate(
                actor=staff, proposal=p, proposer=p.proposers.get().pk, satisfaction="satisfied"
            )
    return {"proposals": made}


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    """A year of proposals at ``YEAR_VOLUME`` × ``scale``, replayed up to today."""
    staff, handler, lead, co = _accounts()
    if None in (staff, handler, lead, co):
        return {}
    today = timezone.now()
    start = dt.datetime(year, 1, 12, 9, tzinfo=timezone.get_current_timezone())  # the sessions open
    if start > today:
        return {}
    span = max(1.0, (today - start).total_seconds() / 86400)
    made = 0
    with acting_as(staff, channel="demo"):
        for body_type, volume in YEAR_VOLUME.items():
            base = 1 + Proposal.objects.filter(body_type=body_type, year=year).count()
            for i in range(max(1, round(volume * scale))):
                if rng.random() < 0.7:  # with the session
                    registered = start + dt.timedelta(days=rng.uniform(0, 10), hours=rng.uniform(0, 8))
                else:  # during the recess, year-round
                    registered = start + dt.timedelta(days=rng.uniform(15, span))
                _play(staff, handler, lead, co, n=base + i, body_type=body_type, year=year,
                      registered=min(registered, today), rng=rng, today=today)  # fmt: skip
                made += 1
            # A few stalled ones so that today's board shows every colour: none (signed last
            # week), yellow (not signed for within the period), blue (due within days), red.
            if body_type == "npc" and today - dt.timedelta(days=130) > start:
                three_months_ago = dt.datetime.combine(
                    deadlines.add_months(as_local_date(today), -3), dt.time(9), tzinfo=start.tzinfo
                )  # fmt: skip
                for registered, stop in [
                    (today - dt.timedelta(days=8), "sign"),
                    (today - dt.timedelta(days=20), "assign"),
                    (three_months_ago + dt.timedelta(days=1), "sign"),
                    (today - dt.timedelta(days=130), "sign"),
                ]:
                    made += 1
                    _play(staff, handler, lead, co, n=base + volume + made, body_type=body_type, year=year,
                          registered=registered, rng=rng, today=today, stop=stop)  # fmt: skip
    return {"proposals": made}
