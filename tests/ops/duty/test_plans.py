"""Guard plans (approval by another person, checklists, Word export), response plans (versions,
approval by a security administrator), drills; the pages, the API, the report section and the
demo loaders."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from docx import Document
from openpyxl import load_workbook

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.ops import services
from govcenter.ops.duty import demo, plans, report, roster
from govcenter.ops.duty.seed import duty_seed
from govcenter.ops.models import DrillRecord, GuardPlan, ResponsePlan, ResponsePlanVersion
from tests.factories import RoleFactory, UnitFactory, UserFactory
from tests.ops.duty.test_roster import at

ENGINEER = ["ops.view_dutyassignment", "ops.request_duty_swap", "ops.view_guardplan", "ops.add_guardplan",
            "ops.change_guardplan", "ops.view_responseplan", "ops.view_drillrecord", "ops.add_drillrecord"]  # fmt: skip
LEADER = ["ops.view_dutyassignment", "ops.manage_duty", "ops.approve_duty_swap", "ops.view_guardplan",
          "ops.approve_guard_plan", "ops.view_responseplan", "ops.view_drillrecord"]  # fmt: skip
SECADMIN = ["ops.view_responseplan", "ops.manage_response_plan", "ops.approve_response_plan"]


@pytest.fixture
def org(db):
    from govcenter.core.calendar import seed_calendar

    seed_calendar()
    services.sla_policies_seed()
    duty_seed()
    unit = UnitFactory(code="OM-A")
    eng_role = RoleFactory(scope_kind="own_unit", perms=ENGINEER)
    team = [UserFactory(username=f"eng{i}", unit=unit, role_set=[eng_role]) for i in range(1, 7)]
    center = UnitFactory(code="CTR")
    leader_role = RoleFactory(scope_kind="all", perms=[*LEADER, "ops.add_guardplan"])
    return {
        "unit": unit, "team": team,
        "leader": UserFactory(username="lead1", unit=center, role_set=[leader_role]),
        "leader2": UserFactory(username="lead2", unit=center, role_set=[leader_role]),
        "secadmin": UserFactory(username="sec", unit=center, role_set=[RoleFactory(scope_kind="all", perms=SECADMIN)]),
        "outsider": UserFactory(username="other", unit=UnitFactory(code="OM-B"), role_set=[eng_role]),
    }  # fmt: skip


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_plan(org, author, period=None):
    period = period or services.guard_period_create(name="国庆保障", starts_at=at("2025-09-30T08:00"),
                                                    ends_at=at("2025-10-08T20:00"))  # fmt: skip
    return plans.guard_plan_create(actor=author, guard_period=period, unit=org["unit"], event_name="国庆 70 周年保障",
                                   scope="全部业务系统", objectives="零重大故障", organisation="总指挥：中心领导",
                                   items=[("pre", "全面巡检", org["team"][0]), ("daily", "日巡检", None),
                                          ("post", "保障总结", None)])  # fmt: skip


def test_guard_plan_is_approved_by_another_person_then_run_and_closed(org):
    period = services.guard_period_create(name="国庆保障", starts_at=at("2025-09-30T08:00"),
                                          ends_at=at("2025-10-08T20:00"))  # fmt: skip
    roster.roster_generate(actor=None, unit=org["unit"], start=dt.date(2025, 9, 30), end=dt.date(2025, 10, 8),
                           team=org["team"], leaders=[org["leader"], org["leader2"]])  # fmt: skip
    plan = make_plan(org, org["leader"], period)  # drafted by a leader: that leader cannot approve it
    with pytest.raises(ServiceError) as own:
        plans.guard_plan_step(actor=org["leader"], plan=plan, step="approve")
    assert own.value.status_code == 403
    with pytest.raises(ServiceError) as early:  # nothing is ticked before approval
        plans.checklist_done(actor=org["team"][0], item=plan.items.first(), evidence="已巡检")
    assert early.value.status_code == 409
    plan = plans.guard_plan_step(actor=org["leader2"], plan=plan, step="approve")
    assert plan.state == "approved" and plan.approved_by == org["leader2"]
    plan = plans.guard_plan_step(actor=org["team"][1], plan=plan, step="start")
    first = plan.items.get(title="全面巡检")
    plans.checklist_done(actor=org["team"][0], item=first, evidence="巡检报告 2025-09-29")
    with pytest.raises(ServiceError) as outsider:
        plans.checklist_done(actor=org["outsider"], item=plan.items.get(title="日巡检"), evidence="x")
    assert outsider.value.status_code == 403
    assert plans.checklist_progress(plan) == (1, 3)
    seats = list(plans.plan_roster(plan))  # nine guard days: two engineer seats and a leader on every shift
    assert len(seats) == 9 * 2 * 3 and {a.day_kind for a in seats} == {"guard"}
    with pytest.raises(ServiceError) as no_summary:
        plans.guard_plan_step(actor=org["team"][1], plan=plan, step="close")
    assert no_summary.value.error_code == "invalid"
    plan = plans.guard_plan_step(actor=org["team"][1], plan=plan, step="close", summary="平稳")
    assert GuardPlan.objects.get().state == "closed"
    with pytest.raises(ServiceError) as twice:
        make_plan(org, org["team"][0], period)
    assert twice.value.status_code == 409
    assert AuditEntry.objects.filter(action="ops.guard_plan.approve").exists()
    # the Word export and the page
    eng = client_for(org["team"][0])
    page = eng.get(f"/ops/duty/guard/{plan.pk}/").content.decode()
    assert "国庆 70 周年保障" in page and 'data-done="1"' in page
    response = eng.get(f"/ops/duty/guard/{plan.pk}/plan.docx")
    text = "\n".join(p.text for p in Document(io.BytesIO(response.content)).paragraphs)
    assert "国庆 70 周年保障" in text and "平稳" in text
    assert client_for(org["outsider"]).get(f"/ops/duty/guard/{plan.pk}/").status_code == 404
    section = report.section(dt.date(2025, 9, 30), dt.date(2025, 10, 8))
    assert section["figures"]["guard_plans"] == 1 and section["figures"]["checklist_done"] == 1
    assert section["figures"]["coverage_gaps"] == 1  # 00:00–08:30 of the first day: no night shift before it
    assert section["figures"]["holiday_shifts"] > 0


def test_response_plan_versions_and_drills(org):
    plan = ResponsePlan.objects.get(code="web-tampering")
    v1 = plan.current()
    assert v1.version == 1 and v1.state == "approved" and len(v1.steps) == 5
    with pytest.raises(ServiceError) as engineer:
        plans.response_plan_revise(actor=org["team"][0], plan=plan, triggers="x", steps=[{"title": "a"}])
    assert engineer.value.status_code == 403
    v2 = plans.response_plan_revise(actor=org["secadmin"], plan=plan, triggers=v1.triggers + "\n4. 新增触发条件",
                                    steps=[*v1.steps, {"title": "复盘", "owner_role": "安全管理员", "minutes": 60}],
                                    change_note="增加复盘步骤")  # fmt: skip
    assert v2.version == 2 and v2.state == "draft" and plan.current() == v1  # v1 stays in force until approval
    with pytest.raises(ServiceError) as second_draft:
        plans.response_plan_revise(actor=org["secadmin"], plan=plan, triggers="x", steps=[{"title": "a"}])
    assert second_draft.value.error_code == "draft_exists"
    with pytest.raises(ServiceError) as draft_drill:
        plans.drill_record(actor=org["team"][0], unit=org["unit"], version=v2, held_on=dt.date(2025, 10, 1),
                           kind="tabletop", scenario="s", participants="p", step_results=[])  # fmt: skip
    assert draft_drill.value.error_code == "invalid"
    with pytest.raises(ServiceError) as not_secadmin:
        plans.response_plan_approve(actor=org["leader"], version=v2)
    assert not_secadmin.value.status_code == 403
    plans.response_plan_approve(actor=org["secadmin"], version=v2)
    assert plan.current().version == 2 and ResponsePlanVersion.objects.get(pk=v1.pk).state == "superseded"
    drill = plans.drill_record(actor=org["team"][0], unit=org["unit"], version=plan.current(),
                               held_on=dt.date(2025, 10, 10), kind="live", scenario="首页被篡改",
                               participants="eng1、eng2", findings="告警延迟", improvements="调整阈值",
                               step_results=[{"step": "发现与报告", "minutes": 6, "outcome": "按时"},
                                             {"step": "复盘", "minutes": 50, "outcome": "完成"}])  # fmt: skip
    assert [r["minutes"] for r in drill.step_results] == [6, 50]
    with pytest.raises(ServiceError) as foreign_step:
        plans.drill_record(actor=org["team"][0], unit=org["unit"], version=plan.current(), held_on=dt.date(2025, 10, 10),
                           kind="live", scenario="s", participants="p", step_results=[{"step": "不存在", "minutes": 1}])  # fmt: skip
    assert foreign_step.value.error_code == "invalid" and DrillRecord.objects.count() == 1
    # pages: the secadmin revises through the page (a new version), an engineer records a drill
    sec = client_for(org["secadmin"])
    page = sec.get(f"/ops/duty/plans/{plan.pk}/")
    assert page.status_code == 200 and "data-revise" in page.content.decode()
    made = sec.post(f"/ops/duty/plans/{plan.pk}/", {"triggers": "条件", "steps": "发现|值班工程师|10|上报\n处置|值班工程师|30|下线",
                                                    "contacts": "值班领导|中心领导|见值班表", "change_note": "精简"})  # fmt: skip
    assert made.status_code == 302 and plan.versions.get(version=3).steps[1]["minutes"] == 30
    assert sec.post(f"/ops/duty/plans/{plan.pk}/v3/approve/").status_code == 302 and plan.current().version == 3
    eng = client_for(org["team"][0])
    assert "data-revise" not in eng.get(f"/ops/duty/plans/{plan.pk}/").content.decode()
    posted = eng.post(f"/ops/duty/plans/{plan.pk}/drills/new/", {"held_on": "2025-10-20", "kind": "tabletop",
                                                                  "scenario": "桌面推演", "participants": "eng1",
                                                                  "minutes_0": "8", "outcome_0": "达标"})  # fmt: skip
    assert posted.status_code == 302
    assert DrillRecord.objects.latest("id").step_results == [{"step": "发现", "minutes": 8, "outcome": "达标", "met": True}]
    assert "演练记录" in eng.get(posted.url).content.decode()
    section = report.section(dt.date(2025, 10, 1), dt.date(2025, 10, 31))
    assert section["figures"]["drills"] == 2 and len(section["tables"][-1]["rows"]) == 2


def test_roster_page_export_swap_and_api(org):
    start = dt.date.today() + dt.timedelta(days=3)
    roster.roster_generate(actor=None, unit=org["unit"], start=start, end=start + dt.timedelta(days=2),
                           team=org["team"], leaders=[org["leader"]])  # fmt: skip
    eng = org["team"][0]
    client = client_for(eng)
    page = client.get(f"/ops/duty/?month={start:%Y-%m}")
    assert page.status_code == 200 and f'data-date="{start:%Y-%m-%d}"' in page.content.decode()
    sheet = load_workbook(io.BytesIO(client.get(f"/ops/duty/export.xlsx?month={start:%Y-%m}").content)).active
    assert sheet.max_row - 1 == roster.DutyAssignment.objects.filter(date__year=start.year, date__month=start.month).count()
    assert AuditEntry.objects.filter(action="ops.duty.export").exists()
    mine = roster.DutyAssignment.objects.filter(primary=eng).first()
    # the swap through the pages: requested by the engineer, approved by the leader
    for counterpart in org["team"][1:]:
        client.post("/ops/duty/swaps/new/", {"assignment": mine.pk, "counterpart": counterpart.pk, "reason": "家中有事"})
        if roster.DutySwap.objects.exists():
            break
    swap = roster.DutySwap.objects.get()
    lead = client_for(org["leader"])
    assert lead.post(f"/ops/duty/swaps/{swap.pk}/decide/", {"decision": "approve"}).status_code == 302
    assert roster.DutyAssignment.objects.get(pk=mine.pk).primary_id == counterpart.pk
    # the API: who is on duty at a time; the roster of a range; bad input → 400 with the error shape
    when = roster.shift_span(mine.shift, mine.date)[0] + dt.timedelta(minutes=1)
    now = client.get("/api/v1/ops/duty/", {"at": when.isoformat()})
    assert now.status_code == 200 and mine.pk in [s["id"] for s in now.json()["seats"]]
    ranged = client.get("/api/v1/ops/duty/roster", {"from": start.isoformat(), "to": (start + dt.timedelta(days=2)).isoformat()})
    assert ranged.status_code == 200 and len(ranged.json()["seats"]) == roster.DutyAssignment.objects.count()
    month = client.get("/api/v1/ops/duty/roster").json()  # no range: this month
    today = timezone.localdate()
    assert month["from"] == today.replace(day=1).isoformat() and month["to"][:7] == today.isoformat()[:7]
    bad = client.get("/api/v1/ops/duty/roster", {"from": "soon", "to": "2025-01-01"})
    assert bad.status_code == 400 and set(bad.json()) >= {"code", "message", "details"}
    outsider = client_for(org["outsider"]).get("/api/v1/ops/duty/roster", {"from": start.isoformat(),
                                                                           "to": start.isoformat()})  # fmt: skip
    assert outsider.status_code == 200 and outsider.json()["seats"] == []
    nobody = client_for(UserFactory(unit=org["unit"])).get("/api/v1/ops/duty/")
    assert nobody.status_code == 403


def test_demo_loaders_are_idempotent(org):
    from govcenter.core.models import User

    omz = UnitFactory(code="OM-ZHITONG")
    role = RoleFactory(scope_kind="own_unit", perms=ENGINEER)
    UserFactory(username="omengineer", unit=omz, role_set=[role])
    UserFactory(username="leader", unit=UnitFactory(code="LDR"),
                role_set=[RoleFactory(scope_kind="all", perms=LEADER)])  # fmt: skip
    first = demo.load_small_demo()
    assert first["duty_seats"] > 0
    assert demo.load_small_demo()["duty_seats"] == 0
    big = demo.load_demo(days=30)
    assert big["guard_plans"] == 1 and big["drills"] == 2
    assert GuardPlan.objects.get().state == "closed"
    again = demo.load_demo(days=30)
    assert "guard_plans" not in again and "drills" not in again and again["duty_seats"] == 0
    assert User.objects.filter(unit=omz).count() == 1  # no account created


def test_guard_plan_drafted_on_the_page_and_the_leader_sees_the_roster(org):
    period = services.guard_period_create(name="两会保障", starts_at=at("2026-03-03T08:00"), ends_at=at("2026-03-12T20:00"))
    eng = client_for(org["team"][0])
    assert eng.get("/ops/duty/guard/new/").status_code == 200
    bad = eng.post("/ops/duty/guard/new/", {"guard_period": period.pk, "event_name": ""})
    assert bad.status_code == 400 and not GuardPlan.objects.exists()
    made = eng.post("/ops/duty/guard/new/", {
        "guard_period": period.pk, "event_name": "全国两会保障", "scope": "全部系统", "objectives": "零故障",
        "organisation": "中心领导总指挥", "pre_items": "全面巡检\n备份验证", "daily_items": "日巡检", "post_items": "",
    })  # fmt: skip
    plan = GuardPlan.objects.get()
    assert made.status_code == 302 and plan.items.count() == 3 and plan.created_by == org["team"][0]
    lead = client_for(org["leader"])
    page = lead.get(f"/ops/duty/guard/{plan.pk}/").content.decode()
    assert 'data-step="approve"' in page  # the author is an engineer: the leader may approve
    assert lead.post(f"/ops/duty/guard/{plan.pk}/step/approve/").status_code == 302
    assert GuardPlan.objects.get().state == "approved"
    item = plan.items.first()
    eng.post(f"/ops/duty/guard/{plan.pk}/items/{item.pk}/done/", {"evidence": "巡检记录"})
    assert plan.items.get(pk=item.pk).done
    assert 'data-today' in lead.get("/ops/duty/").content.decode()
