"""The 故障 pages: report a fault, see its SLA clock, take the steps the workflow allows, the
list with its colours and filters — in the caller's scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.ops import incidents as svc
from govcenter.ops.models import Incident
from tests.ops.test_incidents import at, team  # noqa: F401  (fixture)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_report_a_fault_and_take_it_through_its_steps_on_the_page(team):  # noqa: F811
    eng = client_for(team["engineer"])
    assert eng.get("/ops/incidents/new/").status_code == 200
    bad = eng.post("/ops/incidents/new/", {"title": "", "severity": "S2", "unit": team["unit"].pk})
    assert bad.status_code == 400 and not Incident.objects.exists()
    made = eng.post("/ops/incidents/new/", {"title": "缴费接口超时", "severity": "S2", "unit": team["unit"].pk,
                                            "reported_at": "2026-11-21T10:00", "description": "支付回调超时"})  # fmt: skip
    incident = Incident.objects.get()
    assert made.status_code == 302 and made.url == f"/ops/incidents/{incident.pk}/"
    assert incident.reported_at == at("2026-11-21T10:00") and incident.day_kind == "restday"
    page = eng.get(made.url).content.decode()
    assert 'data-step="respond"' in page and 'data-step="close"' not in page  # the workflow decides
    assert "2026-11-23 09:00" in page  # resolve before Monday begins
    eng.post(f"{made.url}step/respond/", {"respond-comment": "已派工程师"})
    refused = eng.post(f"{made.url}step/pause/", {"pause-reason": ""})
    assert refused.status_code == 400 and Incident.objects.get().state == "responding"
    eng.post(f"{made.url}step/pause/", {"pause-reason": "等待支付机构"})
    eng.post(f"{made.url}step/resume/", {})
    eng.post(f"{made.url}step/resolve/", {"resolve-root_cause": "证书过期", "resolve-resolution": "更换证书",
                                          "resolve-contractor_caused": "on"})  # fmt: skip
    incident = Incident.objects.get()
    assert incident.state == "resolved" and incident.root_cause == "证书过期" and incident.contractor_caused
    page = eng.get(made.url).content.decode()
    assert 'data-transition="pause"' in page and "等待支付机构" in page and 'data-breach' in page
    assert 'data-step="close"' not in page  # the engineer may not review
    leader = client_for(team["leader"])
    leader.post(f"{made.url}step/close/", {"close-review": "增加证书到期监控"})
    assert Incident.objects.get().state == "closed"


def test_the_list_colours_overdue_faults_and_keeps_to_the_scope(team):  # noqa: F811
    late = svc.incident_open(actor=team["engineer"], title="旧故障", severity="S1", unit=team["unit"],
                             reported_at=timezone.now() - dt.timedelta(days=3))  # fmt: skip
    fresh = svc.incident_open(actor=team["engineer"], title="新故障", severity="S4", unit=team["unit"])
    page = client_for(team["engineer"]).get("/ops/incidents/").content.decode()
    assert page.count('data-level="red"') == 1 and "旧故障" in page and "新故障" in page
    assert '<option value="" selected>全部</option>' in page and "未知" not in page  # the yes/no filter
    overdue = client_for(team["engineer"]).get("/ops/incidents/?overdue=true").content.decode()
    assert late.number in overdue and fresh.number not in overdue
    stranger = client_for(team["stranger"])
    assert fresh.number not in stranger.get("/ops/incidents/").content.decode()
    assert stranger.get(f"/ops/incidents/{fresh.pk}/").status_code == 404
    assert stranger.post(f"/ops/incidents/{fresh.pk}/step/respond/", {}).status_code == 404


@pytest.mark.django_db
def test_without_the_permission_the_pages_are_closed():
    from tests.factories import UserFactory

    nobody = client_for(UserFactory())
    assert nobody.get("/ops/incidents/").status_code == 403
    assert nobody.get("/ops/incidents/new/").status_code == 403
