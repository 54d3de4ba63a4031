"""The congestion app's part of ``govcenter demo`` (``make run``): a few suggestions in every
state, entered and assigned by the Center's data staff (``datastaff``) to the 综合协调科, whose
handler (``congestion``) answered some — so both accounts see a working queue and an inbox.
Idempotent: nothing is added once the demo suggestions exist."""

from __future__ import annotations

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


def load_small_demo() -> dict[str, int]:
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
