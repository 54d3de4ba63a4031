"""The ops part of ``govcenter demo`` (``make run``): a few incidents of the demo O&M unit on
the SLA clock — a weekend fault with a pause, resolved and reviewed; an open one past its
deadline; a fresh one — through the services, acting as the demo accounts. Loaded once."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from govcenter.core.calendar import next_workday
from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from . import incidents as svc
from .models import Incident
from .sla import TZ

DEMO_MARK = "（演示）"


def _last_saturday(today: dt.date) -> dt.date:
    days = (today.weekday() - 5) % 7 or 7
    return today - dt.timedelta(days=days)


def load_small_demo() -> dict[str, int]:
    if Incident.objects.filter(title__startswith=DEMO_MARK).exists():
        return {}
    engineer = User.objects.filter(username="omengineer").first()
    leader = User.objects.filter(username="leader").first()
    unit = Unit.objects.filter(code="OM-ZHITONG").first()
    if engineer is None or leader is None or unit is None:
        return {}
    now = timezone.now()
    saturday = _last_saturday(timezone.localdate() - dt.timedelta(days=7))

    def moment(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=TZ)

    with acting_as(engineer, channel="demo"):
        weekend = svc.incident_open(actor=engineer, title=f"{DEMO_MARK}缴费接口超时", severity="S2", unit=unit,
                                    reported_at=moment(saturday, 10), description="支付回调超时，部分订单缴费失败。")  # fmt: skip
        weekend = svc.incident_respond(actor=engineer, incident=weekend, at=moment(saturday, 10, 40), comment="已远程登录排查")
        weekend = svc.incident_pause(actor=engineer, incident=weekend, reason="等待支付机构排查回调地址", at=moment(saturday, 11, 30))
        weekend = svc.incident_resume(actor=engineer, incident=weekend, at=moment(saturday, 15))
        monday = next_workday(saturday)
        weekend = svc.incident_resolve(actor=engineer, incident=weekend, root_cause="支付机构更换了回调证书",
                             resolution="更新信任证书并重放失败回调", at=moment(monday, 8, 30))  # fmt: skip
        late = svc.incident_open(actor=engineer, title=f"{DEMO_MARK}视频桩数据中断", severity="S3", unit=unit,
                                 reported_at=now - dt.timedelta(days=2), description="西城区 12 个视频桩无数据上报。")  # fmt: skip
        svc.incident_respond(actor=engineer, incident=late, at=now - dt.timedelta(days=2) + dt.timedelta(minutes=20))
        svc.incident_open(actor=engineer, title=f"{DEMO_MARK}短信发送延迟", severity="S4", unit=unit,
                          reported_at=now - dt.timedelta(minutes=10))  # fmt: skip
    with acting_as(leader, channel="demo"):
        svc.incident_close(actor=leader, incident=weekend,
                           review="增加回调证书到期监控，支付机构变更需提前通知。")  # fmt: skip
    return {"incidents": 3}
