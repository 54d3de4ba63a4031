"""交通影响评价: registration with the ring area and Beijing's trigger-threshold flag, materials
and the one-notice 补正, acceptance refused while anything is missing (every key named), review,
expert meeting, revision rounds, opinion / rejection, delivery; stage deadlines across the 2026
Spring Festival and National Day make-up workdays; permissions, stale copies, scope; the
timeline and statistics."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from govcenter.congestion.models import TiaApplication, TiaMaterial, TiaState
from govcenter.congestion.services import cases
from govcenter.congestion.services import tia as svc
from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import SHANGHAI, seed_calendar
from govcenter.core.deadlines import due_after
from govcenter.core.models import AuditEntry, Comment, Notification
from tests.factories import DistrictFactory, RoleFactory, UserFactory
from tests.helpers.org import build_org

# GCJ-02 points
DONGSI = {"type": "Point", "coordinates": [116.4166, 39.9288]}  # 东城, inside the 2nd Ring
GUOMAO = {"type": "Point", "coordinates": [116.4617, 39.9097]}  # 朝阳, outside the 2nd Ring
TONGZHOU = {"type": "Point", "coordinates": [116.6564, 39.9095]}  # 通州 (city sub-centre)
HUILONGGUAN = {"type": "Point", "coordinates": [116.3389, 40.0763]}  # 昌平
YANJIAO = {"type": "Point", "coordinates": [116.8200, 39.9560]}  # 燕郊, Hebei: in the bbox, not Beijing
ALL = ["application_form", "tia_report", "site_plan", "approval"]


@pytest.fixture
def org(db, settings, tmp_path):
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "attachments")
    seed_calendar()
    o = build_org()
    o.chaoyang = DistrictFactory(code="110105", name_zh="朝阳区", name_en="Chaoyang")
    o.tongzhou = DistrictFactory(code="110112", name_zh="通州区", name_en="Tongzhou")
    o.changping = DistrictFactory(code="110114", name_zh="昌平区", name_en="Changping")
    staff_role = RoleFactory(scope_kind="all", perms=[
        "congestion.view_tiaapplication", "congestion.add_tiaapplication", "congestion.accept_tiaapplication",
    ])  # fmt: skip
    reviewer_role = RoleFactory(
        scope_kind="own_unit", perms=["congestion.view_tiaapplication", "congestion.review_tiaapplication"]
    )
    o.staff = UserFactory(username="tia_staff", unit=o.office, role_set=[staff_role])
    o.clerk = UserFactory(username="tia_clerk", unit=o.office, role_set=[staff_role])
    o.reviewer = UserFactory(username="tia_dc", unit=o.unit_dc, role_set=[reviewer_role], phone="13800138011")
    o.reviewer_xc = UserFactory(username="tia_xc", unit=o.unit_xc, role_set=[reviewer_role])
    return o


def pdf(name="a.pdf"):
    f = io.BytesIO(b"%PDF-1.4\n% test " + name.encode() + b"\n%%EOF\n")
    f.name = name
    return f


def submit(org, **kw):
    args = {"actor": org.clerk, "title": "东四商业综合体", "builder": "北京某置业有限公司", "location": DONGSI,
            "floor_area": "12000.50", "use": "public"}  # fmt: skip
    args.update(kw)
    return svc.tia_submit(**args)


def materials(org, app, keys=ALL):
    for key in keys:
        app = svc.tia_add_materials(actor=org.clerk, application=app, material=key, files=[pdf(f"{key}.pdf")])
    return app


def to_meeting(org, app):
    app = svc.tia_accept(actor=org.staff, application=materials(org, app), unit=org.unit_dc)
    return svc.tia_review(
        actor=org.reviewer, application=app, notes="形式审查合格；内容审查：停车配建满足要求。"
    )


def meet(org, app):
    return svc.tia_hold_meeting(actor=org.reviewer, application=app, date=dt.date.today(),
                                experts=["张工", "李工", "王工"], files=[pdf("纪要.pdf")])  # fmt: skip


def test_the_whole_life_of_an_application(org):
    app = submit(org)
    assert app.number.startswith("JP-") and app.state == TiaState.SUBMITTED
    assert (app.district, app.ring_area, app.needs_tia) == (org.dongcheng, "ring2", True)
    assert app.deadline == due_after(app.created_at, workdays=5)
    app = materials(org, app, ["tia_report", "site_plan"])

    with pytest.raises(ServiceError) as info:  # accepting with materials missing: every key named
        svc.tia_accept(actor=org.staff, application=app, unit=org.unit_dc)
    assert (info.value.status_code, info.value.error_code) == (400, "materials_missing")
    assert info.value.details == {"materials": ["application_form", "approval"]}

    app = svc.tia_request_supplement(actor=org.staff, application=app)  # ONE notice, all of them
    assert app.state == TiaState.SUPPLEMENTING and app.missing_materials == ["application_form", "approval"]
    letter = Comment.objects.get(kind="letter")
    assert "申请表" in letter.body and "项目批复文件" in letter.body and letter.counterpart == app.builder
    assert Notification.objects.filter(recipient=org.clerk, verb="tia_supplement").count() == 1
    assert app.deadline == due_after(app.stage_started_at, workdays=10)  # the applicant's 补正 limit
    app = materials(org, app, ["application_form", "approval"])
    assert app.state == TiaState.SUPPLEMENTING
    app = svc.tia_resubmit(actor=org.clerk, application=app)
    app = svc.tia_accept(actor=org.staff, application=app, unit=org.unit_dc)
    assert app.state == TiaState.ACCEPTED and app.missing_materials == []
    assert app.deadline == due_after(app.stage_started_at, workdays=20)
    assert app.units.get().unit == org.unit_dc and app.units.get().deadline == app.deadline
    assert Notification.objects.filter(recipient=org.reviewer, verb="assigned").exists()

    app = svc.tia_review(actor=org.reviewer, application=app, notes="形式审查合格。")
    app = meet(org, app)
    assert (
        app.state == TiaState.MEETING_HELD
        and app.experts == ["张工", "李工", "王工"]
        and app.minutes.kind == "pdf"
    )
    app = svc.tia_revise(actor=org.reviewer, application=app, comments="补充周边路网高峰小时饱和度分析。")
    assert (app.state, app.revision_rounds) == (TiaState.REVISING, 1)
    app = svc.tia_submit_revision(actor=org.clerk, application=app, files=[pdf("修改稿.pdf")])
    assert app.state == TiaState.EXPERT_REVIEW and app.revisions.get().resubmitted_at is not None
    assert TiaMaterial.objects.filter(application=app, key="tia_report").count() == 2
    app = svc.tia_issue_opinion(actor=org.reviewer, application=meet(org, app),
                                conditions="出入口设置于南侧支路；配建停车位不少于 300 个。")  # fmt: skip
    assert (app.state, app.decision) == (TiaState.OPINION_ISSUED, "passed")
    app = svc.tia_deliver(
        actor=org.staff, application=app, delivered_on=dt.date.today(), delivery_method="post"
    )
    assert app.state == TiaState.CLOSED and app.closed_at is not None and app.deadline is None

    assert [r.transition for r in workflow.history(app)] == [
        "add_materials", "add_materials", "request_supplement", "add_materials", "add_materials", "resubmit",
        "accept", "review", "hold_meeting", "revise", "submit_revision", "hold_meeting", "issue_opinion",
        "deliver",
    ]  # fmt: skip
    stages = [s["stage"] for s in svc.tia_timeline(app)]
    assert stages == ["acceptance", "supplement", "acceptance", "review", "meeting", "opinion", "revision",
                      "meeting", "opinion", "delivery"]  # fmt: skip
    assert AuditEntry.objects.filter(action__startswith="congestion.tiaapplication.").count() == 15


@pytest.mark.parametrize(
    ("point", "use", "area", "ring_area", "flag"),
    [
        (DONGSI, "public", "5000.00", "ring2", False),  # "over 5,000 m²": 5,000 itself is not over
        (DONGSI, "residential", "5000.01", "ring2", True),
        (GUOMAO, "residential", "29999.99", "central", False),
        (GUOMAO, "residential", "30000.50", "central", True),
        (GUOMAO, "public", "10001", "central", True),
        (TONGZHOU, "public", "12000", "subcentre", True),
        (TONGZHOU, "residential", "12000", "subcentre", False),
        (HUILONGGUAN, "public", "15000", "other", False),  # the general rule: 20,000 m² public
        (HUILONGGUAN, "mixed", "25000", "other", True),
        (HUILONGGUAN, "industrial", "45000", "other", False),  # industrial held to the residential 50,000
    ],
)
def test_trigger_thresholds(org, point, use, area, ring_area, flag):
    app = submit(org, location=point, use=use, floor_area=area)
    assert (app.ring_area, app.needs_tia, app.ring_area_chosen) == (ring_area, flag, False)
    info = svc.threshold_flag(app)
    assert info["rule"] == f"{ring_area}.{use}" and info["needs_tia"] is flag
    assert info["threshold_m2"] == svc.threshold_of(ring_area, use)


def test_thresholds_and_ring_area_are_settings_or_chosen(org, settings):
    settings.GOVCENTER_CONGESTION_TIA_THRESHOLDS = {
        **settings.GOVCENTER_CONGESTION_TIA_THRESHOLDS, "central": {"residential": 40000, "public": 8000,
                                                                    "industrial": 40000, "mixed": 8000},
    }  # fmt: skip
    assert submit(org, location=GUOMAO, use="residential", floor_area="35000").needs_tia is False
    assert submit(org, location=GUOMAO, use="public", floor_area="9000").needs_tia is True
    chosen = submit(org, location=GUOMAO, use="public", floor_area="6000", ring_area="ring2")
    assert (chosen.ring_area, chosen.ring_area_chosen, chosen.needs_tia) == ("ring2", True, True)
    # A ring polygon from the settings: a small square round 国贸 puts it "inside the 2nd Ring".
    settings.GOVCENTER_CONGESTION_TIA_RING2 = [
        [116.45, 39.90],
        [116.47, 39.90],
        [116.47, 39.92],
        [116.45, 39.92],
    ]
    assert submit(org, location=GUOMAO).ring_area == "ring2"
    assert submit(org, location=DONGSI).ring_area == "central"
    settings.GOVCENTER_CONGESTION_TIA_MATERIALS = ["application_form", "traffic_survey:交通调查报告"]
    assert svc.materials_required() == {"application_form": "申请表", "traffic_survey": "交通调查报告"}


def test_bad_input_names_the_field_and_writes_nothing(org):
    for kwargs, code, field in [
        ({"floor_area": "-100"}, "invalid_floor_area", "floor_area"),
        ({"floor_area": "0"}, "invalid_floor_area", "floor_area"),
        ({"floor_area": "1e9"}, "invalid_floor_area", "floor_area"),
        ({"floor_area": "12.345"}, "invalid_floor_area", "floor_area"),
        ({"floor_area": "一万"}, "invalid_floor_area", "floor_area"),
        ({"floor_area": "NaN"}, "invalid_floor_area", "floor_area"),
        ({"location": {"type": "Point", "coordinates": [121.47, 31.23]}}, "location_outside", "location"),  # 上海
        ({"location": YANJIAO}, "location_outside", "location"),
        ({"location": {"type": "LineString", "coordinates": [[116.40, 39.90], [116.41, 39.91]]}},
         "invalid_location", "location"),
        ({"location": None}, "invalid_location", "location"),
        ({"use": "farm"}, "invalid_choice", "use"),
        ({"ring_area": "ring5"}, "invalid_choice", "ring_area"),
        ({"title": " "}, "required", "title"),
        ({"builder": ""}, "required", "builder"),
    ]:  # fmt: skip
        with pytest.raises(ServiceError) as info:
            submit(org, **kwargs)
        assert (info.value.error_code, list(info.value.details)) == (code, [field]), kwargs
    assert (
        TiaApplication.objects.count() == 0 and not AuditEntry.objects.filter(action__contains="tia").exists()
    )

    app = submit(org)
    with pytest.raises(ServiceError) as info:
        svc.tia_add_materials(actor=org.clerk, application=app, material="photos", files=[pdf()])
    assert info.value.error_code == "invalid_choice" and "material" in info.value.details
    with pytest.raises(ServiceError) as info:  # a disallowed file: refused, no material row, state unchanged
        bad = io.BytesIO(b"MZ\x90\x00\x03binary")
        bad.name = "report.exe"
        svc.tia_add_materials(actor=org.clerk, application=app, material="tia_report", files=[bad])
    assert info.value.error_code == "file_type_not_allowed"
    assert not TiaMaterial.objects.exists() and not workflow.history(app).exists()
    app = to_meeting(org, app)
    with pytest.raises(ServiceError) as info:
        svc.tia_hold_meeting(
            actor=org.reviewer, application=app, date=dt.date.today(), experts=[], files=[pdf()]
        )
    assert list(info.value.details) == ["experts"]
    with pytest.raises(ServiceError) as info:
        svc.tia_hold_meeting(actor=org.reviewer, application=app, date=dt.date.today() + dt.timedelta(days=3),
                             experts=["张工"], files=[pdf()])  # fmt: skip
    assert list(info.value.details) == ["date"]
    app = svc.tia_reject(actor=org.reviewer, application=app, reasons="选址与规划路网不符。")
    with pytest.raises(ServiceError) as info:
        svc.tia_deliver(
            actor=org.staff, application=app, delivered_on=dt.date.today(), delivery_method="pigeon"
        )
    assert list(info.value.details) == ["delivery_method"]
    with pytest.raises(ServiceError) as info:
        svc.tia_deliver(actor=org.staff, application=app, delivered_on=dt.date.today() + dt.timedelta(days=1),
                        delivery_method="post")  # fmt: skip
    assert list(info.value.details) == ["delivered_on"]
    assert TiaApplication.objects.get(pk=app.pk).state == TiaState.REJECTED


def test_illegal_transitions_permissions_and_stale_copies(org):
    app = submit(org)
    with pytest.raises(ServiceError) as info:
        svc.tia_review(actor=org.reviewer, application=app, notes="未受理先审查")
    assert (info.value.status_code, info.value.error_code) == (409, "illegal_transition")
    with pytest.raises(ServiceError) as info:
        svc.tia_request_supplement(actor=org.reviewer, application=app)  # a reviewer does not accept
    assert (info.value.status_code, info.value.error_code) == (403, "transition_forbidden")
    app = materials(org, app)
    with pytest.raises(ServiceError) as info:  # nothing missing: no notice to send
        svc.tia_request_supplement(actor=org.staff, application=app)
    assert info.value.error_code == "materials_complete"
    stale = TiaApplication.objects.get(pk=app.pk)
    app = svc.tia_accept(actor=org.staff, application=app, unit=org.unit_dc)
    with pytest.raises(ServiceError) as info:  # someone else accepted it first
        svc.tia_accept(actor=org.clerk, application=stale, unit=org.unit_xc)
    assert (info.value.status_code, info.value.error_code) == (409, "state_changed")
    assert app.units.count() == 1
    with pytest.raises(ServiceError) as info:  # not the review unit
        svc.tia_review(actor=org.reviewer_xc, application=app, notes="越权审查")
    assert info.value.error_code == "transition_forbidden"
    with pytest.raises(ServiceError) as info:
        svc.tia_issue_opinion(actor=org.reviewer, application=app, conditions="未开评审会")
    assert info.value.error_code == "illegal_transition" and sorted(info.value.details["allowed"]) == [
        "reject",
        "review",
    ]
    app = svc.tia_reject(actor=org.reviewer, application=app, reasons="项目性质不属于交评范围。")
    with pytest.raises(ServiceError) as info:
        svc.tia_revise(actor=org.reviewer, application=app, comments="x")
    assert info.value.error_code == "illegal_transition"
    with pytest.raises(ServiceError) as info:  # the review unit decides, the Center delivers
        svc.tia_deliver(
            actor=org.reviewer, application=app, delivered_on=dt.date.today(), delivery_method="post"
        )
    assert info.value.error_code == "transition_forbidden"
    app = svc.tia_deliver(
        actor=org.staff, application=app, delivered_on=dt.date.today(), delivery_method="electronic"
    )
    assert (app.state, app.decision) == (TiaState.CLOSED, "rejected")


def at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=SHANGHAI)


def test_stage_deadlines_across_spring_festival_and_national_day(org):
    with cases.clock(at(2026, 2, 13)):  # Friday before the Spring Festival
        app = submit(org)
    # 5 working days: 2-14 (a make-up Saturday), then 2-15..2-23 off, 2-24, 25, 26, 27.
    assert app.deadline == dt.date(2026, 2, 27)
    with cases.clock(at(2026, 2, 27, 16)):
        app = svc.tia_accept(actor=org.staff, application=materials(org, app), unit=org.unit_dc)
    # 20 working days: 2-28 (make-up Saturday) first, then March.
    assert app.deadline == dt.date(2026, 3, 27) - dt.timedelta(days=1)
    assert [(s["stage"], s["workdays"], s["over_limit"]) for s in svc.tia_timeline(app)][0] == (
        "acceptance",
        5,
        False,
    )
    with cases.clock(at(2026, 9, 30)):  # the day before National Day
        autumn = submit(org, title="通州住宅", location=TONGZHOU, use="residential")
    # 10-01..10-07 off; 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13.
    assert autumn.deadline == dt.date(2026, 10, 13)


def test_scope_follows_the_review_unit(org):
    mine = svc.tia_accept(actor=org.staff, application=materials(org, submit(org)), unit=org.unit_dc)
    submit(org, title="西直门写字楼")
    assert list(TiaApplication.objects.restrict(org.reviewer)) == [mine]
    assert list(TiaApplication.objects.restrict(org.reviewer_xc)) == []
    assert TiaApplication.objects.restrict(org.staff).count() == 2
    assert svc.tia_statistics(org.reviewer)["total"] == 1


def test_statistics(org):
    with cases.clock(at(2026, 3, 2)):
        a = submit(org)  # ring2 public 12,000: over
        submit(org, location=GUOMAO, use="residential", floor_area="20000")  # central: not over
        c = submit(org, location=TONGZHOU, use="public", floor_area="18000")  # sub-centre: over
    with cases.clock(at(2026, 3, 5)):  # 3 working days of acceptance
        a = svc.tia_accept(actor=org.staff, application=materials(org, a), unit=org.unit_dc)
    with cases.clock(at(2026, 3, 13)):  # 9 working days: over the 5-day acceptance limit
        c = svc.tia_accept(actor=org.staff, application=materials(org, c), unit=org.unit_dc)
    with cases.clock(at(2026, 3, 20)):
        a = svc.tia_reject(actor=org.reviewer, application=a, reasons="与规划不符")
    stats = svc.tia_statistics(org.staff, year=2026)
    assert stats["total"] == 3 and stats["by_state"] == {"rejected": 1, "submitted": 1, "accepted": 1}
    assert stats["by_district"] == {"110101": 1, "110105": 1, "110112": 1}
    assert stats["by_use"] == {"public": 2, "residential": 1}
    assert stats["by_ring_area"] == {"ring2": 1, "central": 1, "subcentre": 1}
    assert (stats["over_threshold"], stats["over_threshold_share"]) == (2, 0.6667)
    assert stats["stages"]["acceptance"] == {"label": "受理", "finished": 2, "avg_workdays": 6.0,
                                             "over_limit_share": 0.5}  # fmt: skip
    assert stats["stages"]["review"]["avg_workdays"] == 11.0  # 3-5 → 3-20 for a
    assert svc.tia_statistics(org.staff, year=2025)["total"] == 0


def test_builtin_roles_get_the_tia_permissions(db):
    from govcenter.core.models import Role
    from govcenter.core.roles import ensure_builtin_roles

    ensure_builtin_roles()

    def perms(code):
        return {
            f"{p.content_type.app_label}.{p.codename}" for p in Role.objects.get(code=code).permissions.all()
        }

    assert {"congestion.view_tiaapplication", "congestion.review_tiaapplication"} <= perms("congestion_staff")
    assert "congestion.accept_tiaapplication" not in perms("congestion_staff")
    assert {"congestion.add_tiaapplication", "congestion.accept_tiaapplication"} <= perms("data_staff")
    assert "congestion.review_tiaapplication" not in perms("data_staff")
    assert "congestion.view_tiaapplication" in perms("center_leader")


def test_the_meeting_form_takes_one_expert_per_input():
    """The page renders ``experts`` as repeated text inputs of one name; DRF reads them as the list."""
    from django.http import QueryDict

    from govcenter.congestion.api.tia import TiaMeetingSerializer
    from govcenter.congestion.views import field_specs

    experts = next(f for f in field_specs(TiaMeetingSerializer()) if f["name"] == "experts")
    assert experts["type"] == "strings" and experts["label"] == "评审专家"
    form = QueryDict(mutable=True)
    form.update({"date": "2026-11-02"})
    form.setlist("experts", ["张工", "李工"])
    serializer = TiaMeetingSerializer(data=form)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["experts"] == ["张工", "李工"]
