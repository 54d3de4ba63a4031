"""疏堵工程 and 交通基础设施项目 on the case machinery: the shared milestones and progress reports,
each kind's workflow (legal, illegal, forbidden, stale), working-day milestones across the 2026
Spring Festival and National Day, scope, warnings, investment in fen and the statistics."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.congestion.api.works import INFRA_KIND
from govcenter.congestion.api.works import KIND as WORKS
from govcenter.congestion.models import InfraProject, ProgressReport, ReliefWork, Stage, WorkState
from govcenter.congestion.services import cases
from govcenter.congestion.services import works as svc
from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.deadlines import Level, next_workday, today
from govcenter.core.models import Attachment, AuditEntry, Notification
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

TZ = ZoneInfo("Asia/Shanghai")
POINT_DC = {"type": "Point", "coordinates": [116.4166, 39.9288]}  # 东城区 (GCJ-02)
LINE_DC = {"type": "LineString", "coordinates": [[116.4166, 39.9288], [116.4170, 39.9330]]}
POINT_XC = {"type": "Point", "coordinates": [116.3550, 39.9405]}  # 西城区
VIEW = ["congestion.view_reliefwork", "congestion.view_infraproject"]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def org(db):
    seed_calendar()
    o = build_org()
    staff_role = RoleFactory(scope_kind="all", perms=[
        *VIEW, "congestion.add_reliefwork", "congestion.change_reliefwork", "congestion.add_infraproject",
        "congestion.change_infraproject",
    ])  # fmt: skip
    unit_role = RoleFactory(
        scope_kind="own_unit", perms=[*VIEW, "congestion.report_reliefwork", "congestion.report_infraproject"]
    )
    district_role = RoleFactory(scope_kind="districts", perms=VIEW, district_set=[o.dongcheng])
    o.staff = UserFactory(username="wk_staff", unit=o.office, role_set=[staff_role])
    o.handler_dc = UserFactory(username="wk_dc", unit=o.unit_dc, role_set=[unit_role], phone="13800138011")
    o.handler_xc = UserFactory(username="wk_xc", unit=o.unit_xc, role_set=[unit_role])
    o.district_dc = UserFactory(username="wk_district_dc", unit=o.office, role_set=[district_role])
    return o


def workday_after(days: int) -> dt.date:
    return next_workday(today() + dt.timedelta(days=days))


def new_work(org, **kw):
    args = {
        "actor": org.staff, "category": "junction", "title": "东四路口节点改造", "unit": org.unit_dc,
        "deadline": workday_after(120), "location": LINE_DC, "body": "渠化改造，增设左转待行区。",
        "milestones": [{"name": "方案批复", "planned_on": workday_after(20)},
                       {"name": "完成施工", "planned_on": workday_after(90)}],
        "indicators": [
            {"name": "高峰平均车速", "unit": "km/h", "better": "higher", "before_value": "18.5",
             "before_on": dt.date(2026, 9, 8)},
            {"name": "排队长度", "unit": "m", "better": "lower", "before_value": 320, "before_on": "2026-09-08"},
        ],
    }  # fmt: skip
    args.update(kw)
    return svc.work_register(**args)


def new_infra(org, **kw):
    args = {
        "actor": org.staff, "title": "广渠路东延快速化改造", "unit": org.unit_dc, "deadline": workday_after(400),
        "document_number": "京发改〔2026〕101号", "document_date": dt.date(2026, 3, 2), "location": POINT_DC,
        "total_investment_fen": svc.wan_to_fen("125000.5", "total"),
        "milestones": [{"name": "可研批复", "planned_on": workday_after(30)}],
    }  # fmt: skip
    args.update(kw)
    return svc.infra_register(**args)


def refused(fn, **kw) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        fn(**kw)
    return info.value


# --- 疏堵工程 ----------------------------------------------------------------------------


def test_the_whole_life_of_a_relief_work(org):
    w = new_work(org)
    assert w.number.startswith("GC-") and w.state == WorkState.PLANNED
    assert w.district == org.dongcheng and w.location["type"] == "LineString"
    assert w.units.get().role == "responsible"
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"wk_dc"}
    assert [m.name for m in w.milestones.all()] == ["方案批复", "完成施工"]

    w = svc.work_start(actor=org.handler_dc, work=w)
    w = svc.work_report(actor=org.handler_dc, work=w, percent=40, note="完成西侧渠化")
    first = w.milestones.first()
    w = svc.work_milestone(actor=org.handler_dc, work=w, milestone=first, actual_on=today())
    assert (
        e_code(svc.work_report, actor=org.handler_dc, work=w, percent=30, note="返工") == "progress_backwards"
    )
    w = svc.work_report(actor=org.handler_dc, work=w, percent=30, note="返工", reason="管线迁改返工")
    for bad in (101, -1):
        err = refused(svc.work_report, actor=org.handler_dc, work=w, percent=bad, note="x")
        assert (err.error_code, list(err.details)) == ("out_of_range", ["percent"])
    assert list(ProgressReport.objects.values_list("percent", flat=True)) == [40, 30]
    w = svc.work_complete(actor=org.handler_dc, work=w)
    assert (w.state, w.progress_pct) == (WorkState.COMPLETED, 100)

    err = refused(svc.work_evaluate, actor=org.staff, work=w, indicators=[
        {"name": "高峰平均车速", "after_value": "24.1", "after_on": today()}])  # fmt: skip
    assert (err.error_code, err.details["indicators"]) == ("required", ["['排队长度']"])
    w = svc.work_evaluate(actor=org.staff, work=w, indicators=[
        {"name": "高峰平均车速", "after_value": "24.1", "after_on": today()},
        {"name": "排队长度", "after_value": 120, "after_on": today()},
    ])  # fmt: skip
    speed, queue = w.indicators.order_by("id")
    assert (speed.improvement_pct, queue.improvement_pct) == (Decimal("30.3"), Decimal("62.5"))
    w = svc.work_close(actor=org.staff, work=w)
    assert w.state == WorkState.CLOSED and w.closed_at is not None
    assert [r.transition for r in workflow.history(w)] == [
        "start", "report", "milestone", "report", "complete", "evaluate", "close"]  # fmt: skip
    assert AuditEntry.objects.filter(action__startswith="congestion.reliefwork.").count() == 9


def e_code(fn, **kw) -> str:
    return refused(fn, **kw).error_code


def test_relief_work_illegal_forbidden_stale_and_suspension(org):
    w = new_work(org)
    assert e_code(svc.work_close, actor=org.staff, work=w) == "illegal_transition"
    err = refused(svc.work_complete, actor=org.handler_dc, work=w)
    assert (err.status_code, err.details["allowed"]) == (409, ["milestone", "start"])
    assert (
        e_code(svc.work_start, actor=org.staff, work=w) == "transition_forbidden"
    )  # not the responsible unit
    assert e_code(svc.work_start, actor=org.handler_xc, work=w) == "transition_forbidden"
    stale = ReliefWork.objects.get(pk=w.pk)
    w = svc.work_start(actor=org.handler_dc, work=w)
    err = refused(svc.work_start, actor=org.handler_dc, work=stale)
    assert (err.status_code, err.error_code) == (409, "state_changed")

    assert e_code(svc.work_suspend, actor=org.staff, work=w, reason=" ") == "required"
    assert e_code(svc.work_suspend, actor=org.handler_dc, work=w, reason="雨季") == "transition_forbidden"
    w = svc.work_suspend(actor=org.staff, work=w, reason="雨季暂停施工")
    assert (w.state, w.suspended_from) == (WorkState.SUSPENDED, WorkState.CONSTRUCTION)
    assert e_code(svc.work_report, actor=org.handler_dc, work=w, percent=50, note="x") == "illegal_transition"
    w = svc.work_resume(actor=org.staff, work=w, reason="雨季结束")
    assert (w.state, w.suspend_reason) == (WorkState.CONSTRUCTION, "")
    assert [r.comment for r in workflow.history(w)][-2:] == ["雨季暂停施工", "雨季结束"]


def test_bad_input_names_the_field_and_writes_nothing(org):
    for kw, code, field in [
        ({"location": {"type": "Point", "coordinates": [121.47, 31.23]}}, "location_outside", "location"),
        ({"category": "bridge"}, "invalid_choice", "category"),
        ({"title": ""}, "required", "title"),
        ({"deadline": dt.date(2026, 10, 3)}, "deadline_not_workday", "deadline"),
        ({"milestones": [{"name": "开工", "planned_on": workday_after(500)}]}, "after_deadline",
         "milestones[0].planned_on"),
        ({"indicators": [{"name": "延误", "unit": "s/veh", "better": "lower", "before_value": -3,
                          "before_on": "2026-09-01"}]}, "negative_amount", "indicators[0].before_value"),
        ({"indicators": [{"name": "延误", "unit": "s/veh", "better": "less", "before_value": 3,
                          "before_on": "2026-09-01"}]}, "invalid_choice", "indicators[0].better"),
    ]:  # fmt: skip
        err = refused(new_work, org=org, **kw)
        assert (err.error_code, list(err.details)) == (code, [field]), kw
    assert not ReliefWork.objects.exists() and not Notification.objects.exists()


def test_milestones_on_the_working_calendar_of_2026(org):
    """Under the services' clock in January 2026: the Spring Festival and National Day days off
    are refused naming the next working day; their make-up Saturdays/Sundays are accepted."""
    with cases.clock(dt.datetime(2026, 1, 5, 9, tzinfo=TZ)):
        for day, suggestion in [(dt.date(2026, 2, 17), "2026-02-24"), (dt.date(2026, 2, 23), "2026-02-24"),
                                (dt.date(2026, 10, 3), "2026-10-08"), (dt.date(2026, 9, 26), "2026-09-28")]:  # fmt: skip
            err = refused(new_work, org=org, deadline=dt.date(2026, 12, 30), indicators=[],
                          milestones=[{"name": "开工", "planned_on": day}])  # fmt: skip
            assert (err.error_code, err.details) == (
                "not_workday",
                {"milestones[0].planned_on": [suggestion]},
            )
            assert suggestion in err.detail
        w = new_work(org, deadline=dt.date(2026, 10, 10), milestones=[
            {"name": "春节前开工", "planned_on": dt.date(2026, 2, 14)},  # Saturday, make-up workday
            {"name": "节后复工", "planned_on": dt.date(2026, 2, 28)},  # Saturday, make-up workday
            {"name": "国庆前完成", "planned_on": dt.date(2026, 9, 20)},  # Sunday, make-up workday
        ], indicators=[])  # fmt: skip
        assert w.deadline == dt.date(2026, 10, 10)  # Saturday after National Day: a make-up workday
        err = refused(new_work, org=org, deadline=dt.date(2026, 10, 11), indicators=[], milestones=[])
        assert err.details == {"deadline": ["2026-10-12"]}
    assert w.behind()  # seen from today (after all these dates) every milestone has slipped


def test_scope_responsible_unit_and_district(org):
    dc = new_work(org)
    xc = new_work(org, title="西直门节点改造", unit=org.unit_xc, location=POINT_XC)
    infra = new_infra(org)
    assert list(ReliefWork.objects.restrict(org.handler_dc)) == [dc]
    assert list(ReliefWork.objects.restrict(org.handler_xc)) == [xc]
    assert list(ReliefWork.objects.restrict(org.district_dc)) == [dc]
    assert ReliefWork.objects.restrict(org.staff).count() == 2
    assert list(InfraProject.objects.restrict(org.handler_xc)) == []
    assert list(InfraProject.objects.restrict(org.district_dc)) == [infra]


def test_warnings_yellow_on_slipped_milestone_red_after_deadline(org):
    with cases.clock(dt.datetime(2026, 3, 2, 9, tzinfo=TZ)):
        slipping = new_work(org, deadline=workday_after(200), indicators=[],
                            milestones=[{"name": "方案批复", "planned_on": dt.date(2026, 3, 16)}])  # fmt: skip
        late = new_infra(org, deadline=dt.date(2026, 6, 30), milestones=[])
    assert slipping.behind() and WORKS.warning(slipping) == Level.YELLOW
    assert INFRA_KIND.warning(late) == Level.RED
    assert INFRA_KIND.warning(late, on=dt.date(2026, 6, 29)) == Level.YELLOW  # 0 % done, time all but used
    late = svc.infra_report(actor=org.handler_dc, project=late, month=dt.date(2026, 6, 1), text="主体完工",
                            percent=95, invested_fen=0)  # fmt: skip
    assert INFRA_KIND.warning(late, on=dt.date(2026, 6, 29)) == Level.BLUE  # near, not behind
    on_time = new_work(org, milestones=[], indicators=[])
    assert WORKS.warning(on_time) == Level.NONE
    svc.work_milestone(actor=org.handler_dc, work=slipping, milestone=slipping.milestones.get(),
                       actual_on=dt.date(2026, 3, 20))  # fmt: skip
    slipping = ReliefWork.objects.get(pk=slipping.pk)
    assert not slipping.behind()  # reached (late): no longer a slipped milestone
    assert e_code(svc.work_milestone, actor=org.handler_dc, work=on_time, milestone=slipping.milestones.get(),
                  actual_on=today()) == "invalid"  # fmt: skip


# --- 交通基础设施项目 ------------------------------------------------------------------------


def test_infrastructure_stages_with_approvals_and_no_jumps(org):
    p = new_infra(org, files=[SimpleUploadedFile("立项批复.pdf", PDF)])
    assert (p.state, p.total_investment_fen) == (Stage.INITIATION, 125_000_500_000)
    approval = p.approvals.get()
    assert (approval.stage, approval.document_number) == ("initiation", "京发改〔2026〕101号")
    assert Attachment.objects.filter(object_id=str(approval.pk), name="立项批复.pdf").exists()
    doc = {"document_number": "京发改〔2026〕202号", "document_date": dt.date(2026, 5, 6)}
    err = refused(svc.infra_stage, actor=org.staff, project=p, transition="construction", **doc)
    assert (err.status_code, err.error_code, err.details["allowed"]) == (409, "illegal_transition",
                                                                          ["add_risk", "close_risk",
                                                                           "feasibility", "milestone",
                                                                           "plan_investment"])  # fmt: skip
    assert e_code(svc.infra_stage, actor=org.handler_dc, project=p, transition="feasibility", **doc) == (
        "transition_forbidden")  # fmt: skip
    err = refused(svc.infra_stage, actor=org.staff, project=p, transition="feasibility", document_number=" ",
                  document_date=dt.date(2026, 5, 6))  # fmt: skip
    assert err.details == {"document_number": [""]} and p.approvals.count() == 1  # nothing half-written
    assert InfraProject.objects.get(pk=p.pk).state == Stage.INITIATION
    for step in ("feasibility", "design", "construction", "acceptance"):
        p = svc.infra_stage(actor=org.staff, project=p, transition=step, **doc)
    assert p.state == Stage.ACCEPTANCE and p.closed_at and p.progress_pct == 100
    assert list(p.approvals.values_list("stage", flat=True)) == [
        "initiation", "feasibility", "design", "construction", "acceptance"]  # fmt: skip
    assert e_code(svc.infra_add_risk, actor=org.staff, project=p, kind="risk", description="x", level="low",
                  owner="张工") == "illegal_transition"  # fmt: skip


def test_month_reports_investment_and_risks(org):
    p = new_infra(org)
    for year, wan in ((2025, "3000"), (2026, "5000.25")):
        p = svc.infra_plan_investment(
            actor=org.staff, project=p, year=year, planned_fen=svc.wan_to_fen(wan, "w")
        )
    p = svc.infra_plan_investment(
        actor=org.staff, project=p, year=2026, planned_fen=svc.wan_to_fen("5200", "w")
    )
    assert svc.wan_to_fen("0.000001", "w") == 1
    assert e_code(svc.wan_to_fen, value="0.0000001", field="w") == "invalid"
    assert e_code(svc.infra_plan_investment, actor=org.staff, project=p, year=2026, planned_fen=-1) == (
        "negative_amount")  # fmt: skip

    photo = SimpleUploadedFile("现场.pdf", PDF)
    p = svc.infra_report(actor=org.handler_dc, project=p, month=dt.date(2025, 12, 1), text="完成征地",
                         percent=10, invested_fen=1_000_000_000)  # fmt: skip
    p = svc.infra_report(actor=org.handler_dc, project=p, month=dt.date(2026, 1, 15), text="主体施工",
                         percent=25, invested_fen=2_500_000_000, photos=[photo])  # fmt: skip
    report = p.reports.get(month=dt.date(2026, 1, 1))
    assert Attachment.objects.filter(object_id=str(report.pk), name="现场.pdf").exists()
    err = refused(svc.infra_report, actor=org.handler_dc, project=p, month=dt.date(2026, 1, 31), text="重复",
                  percent=30, invested_fen=0)  # fmt: skip
    assert (err.status_code, err.error_code, err.details) == (409, "duplicate_report", {"month": ["2026-01"]})
    for kw, code, field in [
        ({"invested_fen": -1}, "negative_amount", "invested_fen"),
        ({"percent": 120}, "out_of_range", "percent"),
        ({"percent": 20}, "progress_backwards", "reason"),
        ({"month": dt.date(2099, 1, 1)}, "date_in_future", "month"),
    ]:
        args = {"month": dt.date(2026, 2, 1), "text": "二月", "percent": 30, "invested_fen": 5, **kw}
        err = refused(svc.infra_report, actor=org.handler_dc, project=p, **args)
        assert (err.error_code, list(err.details)) == (code, [field])
    assert e_code(svc.infra_report, actor=org.handler_xc, project=p, month=dt.date(2026, 2, 1), text="x",
                  percent=30, invested_fen=0) == "transition_forbidden"  # fmt: skip
    assert p.reports.count() == 2 and InfraProject.objects.get(pk=p.pk).progress_pct == 25

    assert svc.investment_by_year(p) == [
        {"year": 2025, "planned_fen": 3_000_000_000, "done_fen": 1_000_000_000,
         "cumulative_planned_fen": 3_000_000_000, "cumulative_done_fen": 1_000_000_000},
        {"year": 2026, "planned_fen": 5_200_000_000, "done_fen": 2_500_000_000,
         "cumulative_planned_fen": 8_200_000_000, "cumulative_done_fen": 3_500_000_000},
    ]  # fmt: skip

    p = svc.infra_add_risk(actor=org.handler_dc, project=p, kind="issue", description="管线迁改滞后",
                           level="high", owner="李工")  # fmt: skip
    risk = p.risks.get()
    assert e_code(svc.infra_add_risk, actor=org.staff, project=p, kind="issue", description="x", level="severe",
                  owner="李工") == "invalid_choice"  # fmt: skip
    p = svc.infra_close_risk(actor=org.staff, project=p, risk=risk, resolution="已协调产权单位完成迁改")
    assert not p.risks.get().is_open
    assert e_code(svc.infra_close_risk, actor=org.staff, project=p, risk=p.risks.get(), resolution="x") == (
        "already_closed")  # fmt: skip


def test_statistics_in_scope(org):
    with cases.clock(dt.datetime(2026, 3, 2, 9, tzinfo=TZ)):
        w = new_work(org, deadline=workday_after(200), indicators=[],
                     milestones=[{"name": "方案批复", "planned_on": dt.date(2026, 3, 16)}])  # fmt: skip
        p = new_infra(org, milestones=[])
    new_work(org, title="西直门节点改造", unit=org.unit_xc, location=POINT_XC, milestones=[])
    svc.work_start(actor=org.handler_dc, work=w)
    svc.infra_plan_investment(actor=org.staff, project=p, year=2026, planned_fen=9_000)
    svc.infra_report(actor=org.handler_dc, project=p, month=dt.date(2026, 4, 1), text="x", percent=5,
                     invested_fen=4_000)  # fmt: skip
    stats = svc.project_statistics(org.staff, year=2026)
    assert stats["works"]["by_state"] == {"construction": 1, "planned": 1}
    assert stats["works"]["by_district"] == {"110101": 1, "110102": 1}
    assert stats["infra"]["by_state"] == {"initiation": 1}
    assert stats["investment"] == {"planned_fen": 9_000, "done_fen": 4_000}
    assert [(r["number"], r["milestone"]) for r in stats["slipped_milestones"]] == [(w.number, "方案批复")]
    mine = svc.project_statistics(org.handler_xc, year=2026)
    assert mine["works"]["by_state"] == {"planned": 1} and mine["investment"]["planned_fen"] == 0
    assert mine["slipped_milestones"] == [] and mine["infra"]["by_state"] == {}
    works_only = UserFactory(username="wk_works_only", unit=org.office,
                             role_set=[RoleFactory(scope_kind="all", perms=["congestion.view_reliefwork"])])  # fmt: skip
    limited = svc.project_statistics(works_only, year=2026)
    assert limited["works"]["by_state"] == stats["works"]["by_state"] and limited["infra"]["by_state"] == {}
    assert limited["investment"] == {"planned_fen": 0, "done_fen": 0}


def test_the_registration_form_takes_milestones_and_indicators_as_rows(org):
    """The form renders a list of records as rows of inputs (name[i]field), not a JSON box."""
    from tests.congestion.helpers import client_for

    staff = client_for(org.staff)
    page = staff.get("/congestion/works/new/").content.decode()
    assert 'name="milestones[0]name"' in page and 'name="milestones[0]planned_on"' in page
    assert 'name="indicators[2]better"' in page and "data-rows-template" in page and 'placeholder="JSON"' not in page
    form = {
        "category": "junction", "title": "东四路口节点改造", "unit": org.unit_dc.pk,
        "deadline": workday_after(120).isoformat(), "location": '{"type":"Point","coordinates":[116.4166,39.9288]}',
        "milestones[0]name": "方案批复", "milestones[0]planned_on": workday_after(20).isoformat(),
        "milestones[1]name": "", "milestones[1]planned_on": "",  # an empty row is not an item
        "milestones[3]name": "完成施工", "milestones[3]planned_on": workday_after(90).isoformat(),  # added by the button
        "indicators[0]name": "排队长度", "indicators[0]unit": "m", "indicators[0]better": "lower",
        "indicators[0]before_value": "320", "indicators[0]before_on": "2026-09-08",
    }  # fmt: skip
    half = {**form, "milestones[1]name": "开工"}  # a row without its date
    refused = staff.post("/congestion/works/new/", half)
    assert refused.status_code == 400 and not ReliefWork.objects.exists()
    text = refused.content.decode()
    assert "milestones 第2项 planned_on" in text and "{&#x27;" not in text and "{'" not in text
    made = staff.post("/congestion/works/new/", form)
    work = ReliefWork.objects.get()
    assert made.status_code == 302
    from govcenter.congestion.models import Milestone

    assert sorted(Milestone.objects.filter(object_id=work.pk).values_list("name", flat=True)) == ["完成施工", "方案批复"]
    assert list(work.indicators.values_list("name", "before_value")) == [("排队长度", Decimal("320.00"))]
