"""The congestion app's part of ``govcenter demo`` (``make run``): a few suggestions in every
state, entered and assigned by the Center's data staff (``datastaff``) to the 综合协调科, whose
handler (``congestion``) answered some — so both accounts see a working queue and an inbox.
Idempotent: nothing is added once the demo suggestions exist."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from .models import Suggestion
from .services import suggestions as svc

DEMO_MARK = "（演示）"
PLACES = {
    "东四": [116.4166, 39.9288],
    "西直门": [116.3550, 39.9405],
    "望京": [116.4701, 39.9962],
    "国贸": [116.4617, 39.9097],
    "中关村": [116.3163, 39.9842],
    "回龙观": [116.3389, 40.0763],
}


def subsystem_demos() -> dict:
    """The ``demo_<subsystem>`` modules of the app (each with ``load_small`` and ``load_year``)."""
    import importlib
    import pkgutil

    from govcenter import congestion

    names = sorted(info.name for info in pkgutil.iter_modules(congestion.__path__) if info.name.startswith("demo_"))
    modules = {name[5:]: importlib.import_module(f"govcenter.congestion.{name}") for name in names}
    return {key: m for key, m in modules.items() if hasattr(m, "load_small") and hasattr(m, "load_year")}


def year_loaders() -> dict:
    """Name → ``load_year(year=, scale=, rng=)`` of every subsystem, suggestions first."""
    return {"suggestions": load_year, **{name: m.load_year for name, m in subsystem_demos().items()}}


def load_small_demo() -> dict[str, int]:
    """``govcenter demo``: the suggestions below and each subsystem's ``load_small``."""
    counts = load_small_suggestions()
    for module in subsystem_demos().values():
        counts.update(module.load_small())
    return counts


def load_small_suggestions() -> dict[str, int]:
    if Suggestion.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    staff = User.objects.filter(username="datastaff").first()
    handler = User.objects.filter(username="congestion").first()
    unit = Unit.objects.filter(code="BTCGC-COORD").first()
    if staff is None or handler is None or unit is None:
        return {}

    def new(place: str, topic: str, title: str, body: str, **kw) -> Suggestion:
        point = {"type": "Point", "coordinates": PLACES[place]}
        return svc.suggestion_submit(actor=kw.pop("actor", staff), topic=topic, title=f"{DEMO_MARK}{place}{title}",
                                     body=body, location=point, **kw)  # fmt: skip

    made = 0
    with acting_as(None, channel="demo"):
        new("东四", "signal", "路口左转排队过长", "早高峰东四十字路口左转车辆排队过长，建议优化信号配时。",
            actor=None, channel="public_form", proposer_name="王先生", proposer_phone="13900139001")  # fmt: skip
        new("回龙观", "transit", "公交接驳不便", "地铁站到社区的接驳公交间隔太长。", channel="hotline",
            proposer_name="李女士", proposer_phone="13900139002")  # fmt: skip
        made += 2
    with acting_as(staff, channel="demo"):
        a = new(
            "西直门",
            "road",
            "桥区标志标线不清",
            "西直门桥区匝道标志被遮挡，外地车辆易走错。",
            channel="staff",
        )
        a = svc.suggestion_assign(actor=staff, suggestion=a, unit=unit)
        b = new("望京", "parking", "学校周边接送停车乱", "放学时段家长车辆占道停放。", channel="letter")
        svc.suggestion_assign(actor=staff, suggestion=b, unit=unit, workdays=2)
        c = new("国贸", "slow", "共享单车堆积", "地铁站出口晚高峰单车堆积影响通行。", channel="staff")
        c = svc.suggestion_assign(actor=staff, suggestion=c, unit=unit)
        d = new("中关村", "signal", "行人过街时间短", "中关村大街路口行人绿灯时间偏短。", channel="staff")
        d = svc.suggestion_assign(actor=staff, suggestion=d, unit=unit)
        dup = new("西直门", "road", "桥区指路标志问题", "与西直门桥区标志问题相同。", channel="hotline")
        svc.suggestion_merge(actor=staff, suggestion=dup, into=a, comment="与在办建议重复")
        made += 5
    with acting_as(handler, channel="demo"):
        svc.suggestion_answer(actor=handler, suggestion=c, text="已协调运营企业增加调度，并施划停放区。")
        d = svc.suggestion_answer(actor=handler, suggestion=d, text="已将行人绿灯时长延长 8 秒。")
    with acting_as(staff, channel="demo"):
        svc.suggestion_rate(actor=staff, suggestion=d, satisfaction="satisfied")
    return {"suggestions": made}


# -- a believable year (``govcenter congestion demo``) ----------------------------------------

# Places people write about (GCJ-02), by district: junctions, stations, schools, hospitals.
YEAR_PLACES = (
    ("东四", 116.4166, 39.9288), ("崇文门", 116.4170, 39.8990), ("西直门", 116.3550, 39.9405),
    ("西单", 116.3740, 39.9075), ("国贸", 116.4617, 39.9097), ("望京", 116.4701, 39.9962),
    ("三元桥", 116.4560, 39.9610), ("中关村", 116.3163, 39.9842), ("五道口", 116.3375, 39.9925),
    ("公主坟", 116.3100, 39.9070), ("六里桥", 116.3090, 39.8870), ("丽泽", 116.3110, 39.8660),
    ("鲁谷", 116.2290, 39.8990), ("回龙观", 116.3389, 40.0763), ("天通苑", 116.4170, 40.0680),
    ("亦庄", 116.5060, 39.7950), ("通州北苑", 116.6380, 39.9030), ("良乡", 116.1400, 39.7340),
    ("门头沟新城", 116.1010, 39.9400), ("顺义新城", 116.6540, 40.1300),
)  # fmt: skip
TOPIC_BUREAU = {"signal": "CG-JGJ", "transit": "CG-BUS", "road": "CG-LZJ", "school": "CG-JYW"}
ISSUES = {
    "signal": ("路口信号配时不合理", "早晚高峰左转车辆排队溢出，建议增加左转相位时长。"),
    "parking": ("周边停车难、违停多", "夜间居民停车位不足，占道停车影响通行，建议挖潜共享车位。"),
    "road": ("道路标志标线不清", "匝道指路标志被遮挡，外地车辆易走错，建议调整标志位置。"),
    "transit": ("公交接驳不便", "地铁站到社区的接驳公交发车间隔过长，建议加密班次。"),
    "slow": ("非机动车道被占用", "非机动车道被机动车和共享单车占用，骑行不安全。"),
    "school": ("学校周边接送拥堵", "放学时段家长车辆占道停放，建议设置临时接送区。"),
    "other": ("施工围挡占道", "施工围挡长期占用车道，建议压缩围挡范围。"),
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
# Beijing's congestion-relief channel receives about ten suggestions a working day.
SUGGESTIONS_PER_YEAR = 2500


def _moment(day, rng) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(8 + rng.randrange(10), rng.randrange(60))))


def load_year(*, year: int, scale: float, rng: random.Random) -> dict[str, int]:
    """A year of suggestions replayed through the services at the times they happened (up to
    today): submitted on working days, assigned to the district's transport authority or the
    bureau the topic belongs to, most answered in time, some late, some still open — so the
    board shows overdue and near ones today. Rated, sent back when 不满意, duplicates merged."""
    from govcenter.core.calendar import add_workdays, is_workday

    from .demo_org import district_unit, handler, handling_units
    from .services.cases import clock

    staff = User.objects.filter(username="datastaff").first()
    if staff is None:
        return {}
    units = handling_units()
    by_code = {u.code: u for u in units}
    today = timezone.localdate()
    first, last = dt.date(year, 1, 1), min(dt.date(year, 12, 31), today)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    days = [d for d in days if is_workday(d)]
    counts = {"suggestions": 0, "answered": 0, "open": 0, "merged": 0}
    recent: list[Suggestion] = []
    for _i in range(max(1, round(SUGGESTIONS_PER_YEAR * scale))):
        day = rng.choice(days)
        topic = rng.choice(list(ISSUES))
        place, lon, lat = rng.choice(YEAR_PLACES)
        title, body = ISSUES[topic]
        point = {
            "type": "Point",
            "coordinates": [lon + rng.uniform(-0.004, 0.004), lat + rng.uniform(-0.003, 0.003)],
        }
        channel = rng.choices(["public_form", "hotline", "letter", "staff"], weights=[5, 3, 1, 1])[0]
        with clock(_moment(day, rng)), acting_as(None, channel="demo"):
            s = svc.suggestion_submit(
                actor=None if channel == "public_form" else staff, channel=channel, topic=topic,
                title=f"{place}{title}", body=body, location=point,
                proposer_name=f"{rng.choice(SURNAMES)}先生" if rng.random() < 0.5 else f"{rng.choice(SURNAMES)}女士",
                proposer_phone=f"139{rng.randrange(10**8):08d}",
            )  # fmt: skip
        counts["suggestions"] += 1
        assign_day = add_workdays(day, rng.choice([0, 1, 1, 2]))
        if assign_day > today:
            recent.append(s)
            continue
        duplicate = next((r for r in recent[-40:] if r.title == s.title and r.state != "merged"), None)
        with clock(_moment(assign_day, rng)), acting_as(staff, channel="demo"):
            if duplicate is not None and rng.random() < 0.5:
                svc.suggestion_merge(actor=staff, suggestion=s, into=duplicate, comment="与在办建议重复")
                counts["merged"] += 1
                continue
            unit = (
                by_code.get(TOPIC_BUREAU.get(topic, ""))
                or district_unit(units, s.district)
                or by_code["CG-JTW"]
            )
            s = svc.suggestion_assign(actor=staff, suggestion=s, unit=unit)
        recent.append(s)
        s = _answer_and_rate(s, unit=unit, staff=staff, today=today, rng=rng, handler_of=handler)
        counts["answered" if s.state in ("replied", "closed") else "open"] += 1
    return counts


def _answer_and_rate(s: Suggestion, *, unit, staff, today, rng, handler_of) -> Suggestion:
    from govcenter.core.calendar import add_workdays, workdays_between

    from .services.cases import clock

    person = handler_of(unit)
    start = timezone.localdate(s.units.get(unit=unit).assigned_at)
    for _round in range(2):
        total = max(1, workdays_between(start, s.deadline))
        late = rng.random() < 0.12
        answer_day = add_workdays(
            start, total + rng.randint(1, 8) if late else rng.randint(max(1, total // 3), total)
        )
        if answer_day >= today:
            return s  # still being handled today: its colour comes from the deadline
        with clock(_moment(answer_day, rng)), acting_as(person, channel="demo"):
            s = svc.suggestion_answer(
                actor=person, suggestion=s, text="经现场核查，已会同相关单位完成整改，并将持续跟踪。"
            )
        rate_day = add_workdays(answer_day, rng.randint(1, 3))
        if rate_day >= today:
            return s
        with clock(_moment(rate_day, rng)), acting_as(staff, channel="demo"):
            if rng.random() < 0.05:
                return svc.suggestion_close(
                    actor=staff, suggestion=s, comment="多次联系建议人未果，按办结处理"
                )
            satisfaction = rng.choices(["satisfied", "basic", "unsatisfied"], weights=[70, 20, 10])[0]
            s = svc.suggestion_rate(actor=staff, suggestion=s, satisfaction=satisfaction)
        if s.state == "closed":
            return s
        start = rate_day  # 不满意: another round from the rating
    return s
