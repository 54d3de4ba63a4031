"""Incidents (故障) on the SLA clock: the whole life of a weekend fault with a pause, the steps
refused out of order or to the wrong person, an alert that fires twice, the data scope."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import AuditEntry
from govcenter.ops import incidents as svc
from govcenter.ops import services
from govcenter.ops.models import Incident, IncidentPause
from tests.factories import RoleFactory, UnitFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")
HANDLE = ["ops.view_incident", "ops.add_incident", "ops.handle_incident"]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def team(db):
    seed_calendar()
    services.sla_policies_seed()
    unit, other_unit = UnitFactory(code="OM-A"), UnitFactory(code="OM-B")
    engineers = RoleFactory(scope_kind="own_unit", perms=HANDLE)
    leaders = RoleFactory(scope_kind="all", perms=["ops.view_incident", "ops.review_incident"])
    return {
        "unit": unit,
        "engineer": UserFactory(username="om-a", unit=unit, role_set=[engineers]),
        "stranger": UserFactory(username="om-b", unit=other_unit, role_set=[engineers]),
        "leader": UserFactory(username="om-leader", unit=unit, role_set=[leaders]),
    }


def test_a_weekend_fault_with_a_pause_from_report_to_review(team):
    eng = team["engineer"]
    # Saturday 2026-11-21 10:00, S2: a non-working day — respond in 2 h, resolve before Monday 09:00.
    incident = svc.incident_open(actor=eng, title="缴费接口超时", severity="S2", unit=team["unit"],
                                 reported_at=at("2026-11-21T10:00"))  # fmt: skip
    assert incident.number == "GZ-2026-00001" and incident.day_kind == "restday"
    assert incident.respond_by == at("2026-11-21T12:00") and incident.resolve_by == at("2026-11-23T09:00")
    incident = svc.incident_respond(actor=eng, incident=incident, at=at("2026-11-21T11:00"))
    incident = svc.incident_pause(actor=eng, incident=incident, reason="等待支付机构排查", at=at("2026-11-21T12:00"))
    assert incident.state == "paused"
    incident = svc.incident_resume(actor=eng, incident=incident, at=at("2026-11-21T14:00"))
    assert incident.resolve_by == at("2026-11-23T11:00")  # the 2-hour pause moves the deadline
    incident = svc.incident_resolve(actor=eng, incident=incident, root_cause="证书过期", resolution="更换证书并重启",
                                    at=at("2026-11-23T10:30"))  # fmt: skip
    incident = Incident.objects.get(pk=incident.pk)  # (a protected state field cannot refresh_from_db)
    assert incident.state == "resolved" and incident.breach is True  # 48.5 h less the 2 h pause
    result = svc.clock(incident)
    assert result.respond_met and result.resolve_met and result.paused_minutes == 120
    with pytest.raises(ServiceError) as forbidden:
        svc.incident_close(actor=eng, incident=incident, review="复盘")
    assert forbidden.value.error_code == "transition_forbidden"
    incident = svc.incident_close(actor=team["leader"], incident=incident, review="增加证书到期监控")
    assert incident.state == "closed"
    steps = [(row.transition, row.comment) for row in workflow.history(incident)]
    assert steps == [("respond", ""), ("pause", "等待支付机构排查"), ("resume", ""), ("resolve", ""),
                     ("close", "增加证书到期监控")]  # fmt: skip
    assert [(p.started_at, p.ended_at) for p in IncidentPause.objects.filter(incident=incident)] == [
        (at("2026-11-21T12:00"), at("2026-11-21T14:00"))
    ]
    actions = set(AuditEntry.objects.filter(object_id=str(incident.pk)).values_list("action", flat=True))
    assert {"ops.incident.open", "ops.incident.pause", "ops.incident.resume", "ops.incident.close"} <= actions


def test_steps_out_of_order_or_out_of_time_are_refused(team):
    eng = team["engineer"]
    incident = svc.incident_open(actor=eng, title="大屏无数据", severity="S3", unit=team["unit"],
                                 reported_at=at("2026-11-24T09:00"))  # fmt: skip
    with pytest.raises(ServiceError) as illegal:
        svc.incident_resume(actor=eng, incident=incident, at=at("2026-11-24T09:30"))
    assert illegal.value.error_code == "illegal_transition"
    with pytest.raises(ServiceError) as early:
        svc.incident_respond(actor=eng, incident=incident, at=at("2026-11-24T08:00"))
    assert early.value.details == {"at": ["2026-11-24T08:00:00+08:00"]}
    with pytest.raises(ServiceError):
        svc.incident_respond(actor=eng, incident=incident, at=dt.datetime.now(TZ) + dt.timedelta(days=1))
    with pytest.raises(ServiceError) as missing:
        svc.incident_resolve(actor=eng, incident=incident, root_cause="", resolution=" ")
    assert set(missing.value.details) == {"root_cause", "resolution"}
    with pytest.raises(ServiceError):
        svc.incident_pause(actor=eng, incident=incident, reason="")
    with pytest.raises(ServiceError):
        svc.incident_open(actor=eng, title="x", severity="S9", unit=team["unit"])
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.state == "reported" and incident.responded_at is None  # nothing half-written


def test_an_alert_firing_again_is_the_same_incident_until_it_is_resolved(team):
    eng = team["engineer"]
    first = svc.incident_open(actor=None, title="磁盘使用率 95%", severity="S3", unit=team["unit"],
                              source="alert", alert_key="disk:app-01:/var")  # fmt: skip
    again = svc.incident_open(actor=None, title="磁盘使用率 96%", severity="S3", unit=team["unit"],
                              source="alert", alert_key="disk:app-01:/var")  # fmt: skip
    assert again.pk == first.pk and Incident.objects.count() == 1
    svc.incident_resolve(actor=eng, incident=first, root_cause="日志未轮转", resolution="清理并配置轮转")
    later = svc.incident_open(actor=None, title="磁盘使用率 95%", severity="S3", unit=team["unit"],
                              source="alert", alert_key="disk:app-01:/var")  # fmt: skip
    assert later.pk != first.pk and later.number.endswith("00002")


def test_a_unit_sees_only_its_incidents(team):
    incident = svc.incident_open(actor=team["engineer"], title="短信网关失败", severity="S2", unit=team["unit"])
    assert list(Incident.objects.restrict(team["engineer"])) == [incident]
    assert not Incident.objects.restrict(team["stranger"]).exists()
    assert Incident.objects.restrict(team["leader"]).count() == 1
    for outsider in (team["stranger"], team["leader"]):  # another unit's engineer; a reviewer only
        with pytest.raises(ServiceError) as forbidden:
            svc.incident_respond(actor=outsider, incident=incident)
        assert forbidden.value.error_code == "transition_forbidden"
