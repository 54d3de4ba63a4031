"""The project kinds through their viewsets (``/api/v1/congestion/works/`` and ``infra/``): register,
steps, refusals in the error shape, scope (404 out of scope), amounts in 万元 stored in fen, files,
and the statistics endpoint."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.congestion.models import InfraProject, ReliefWork
from govcenter.core.models import Attachment
from tests.congestion.helpers import client_for, post
from tests.congestion.test_works import LINE_DC, PDF, POINT_DC, org, workday_after  # noqa: F401  (fixture)

API = "/api/v1/congestion/"


def test_relief_work_over_the_api(org):  # noqa: F811
    staff, unit, other, district = (
        client_for(u) for u in (org.staff, org.handler_dc, org.handler_xc, org.district_dc)
    )
    made = post(staff, API + "works/", {
        "category": "junction", "title": "东四路口节点改造", "unit": org.unit_dc.pk, "location": LINE_DC,
        "deadline": workday_after(100).isoformat(),
        "milestones": [{"name": "方案批复", "planned_on": workday_after(10).isoformat()}],
        "indicators": [{"name": "延误", "unit": "s/veh", "better": "lower", "before_value": "52.0",
                        "before_on": "2026-09-08"}],
    })  # fmt: skip
    assert made.status_code == 201, made.content
    pk = made.json()["id"]
    assert made.json()["district"] == "110101" and made.json()["milestones"][0]["slipped"] is False
    assert [r["id"] for r in unit.get(API + "works/").json()["results"]] == [pk]
    assert [r["id"] for r in district.get(API + "works/").json()["results"]] == [pk]
    assert other.get(API + "works/").json()["results"] == []
    for response, status, code in [
        (other.get(f"{API}works/{pk}/"), 404, None),
        (post(other, f"{API}works/{pk}/start/", {}), 404, None),
        (post(staff, f"{API}works/{pk}/start/", {}), 403, "transition_forbidden"),
        (post(unit, f"{API}works/{pk}/complete/", {}), 409, "illegal_transition"),
        (post(staff, f"{API}works/{pk}/suspend/", {}), 400, None),  # reason required
        (post(staff, API + "works/", {"category": "junction", "title": "x", "unit": org.unit_dc.pk,
                                      "deadline": "2026-10-03"}), 400, "deadline_not_workday"),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        assert set(response.json()) == {"code", "message", "details"}
        if code:
            assert response.json()["code"] == code
    assert post(unit, f"{API}works/{pk}/start/", {}).json()["state"] == "construction"
    backwards = post(unit, f"{API}works/{pk}/report/", {"percent": 150, "note": "x"})
    assert (backwards.status_code, backwards.json()["details"]) == (400, {"percent": ["150"]})
    reported = post(unit, f"{API}works/{pk}/report/", {"percent": 60, "note": "主体完成"}).json()
    assert reported["progress_pct"] == 60 and reported["reports"][0]["note"] == "主体完成"
    assert post(unit, f"{API}works/{pk}/complete/", {}).json()["state"] == "completed"
    evaluated = post(staff, f"{API}works/{pk}/evaluate/", {"indicators": [
        {"name": "延误", "after_value": "39", "after_on": dt.date.today().isoformat()}]})  # fmt: skip
    assert evaluated.status_code == 200, evaluated.content
    assert evaluated.json()["indicators"][0]["improvement_pct"] == "25.0"
    history = staff.get(f"{API}works/{pk}/history/").json()
    assert [h["transition"] for h in history] == ["start", "report", "complete", "evaluate"]
    assert staff.get(API + "works/?state=evaluated&district=110101").json()["count"] == 1
    assert staff.get(API + "works/?state=planned").json()["count"] == 0


def test_infrastructure_over_the_api(org):  # noqa: F811
    staff, unit = client_for(org.staff), client_for(org.handler_dc)
    made = staff.post(API + "infra/", {
        "title": "广渠路东延", "unit": org.unit_dc.pk, "deadline": workday_after(300).isoformat(),
        "document_number": "京发改〔2026〕101号", "document_date": "2026-03-02", "total_investment_wan": "12.345678",
        "files": [SimpleUploadedFile("立项批复.pdf", PDF)],
    })  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    pk = body["id"]
    assert body["total_investment_fen"] == 12_345_678 and body["approvals"][0]["stage"] == "initiation"
    assert Attachment.objects.filter(name="立项批复.pdf").count() == 1
    doc = {"document_number": "京发改〔2026〕2号", "document_date": "2026-05-06"}
    jump = post(staff, f"{API}infra/{pk}/construction/", doc)
    assert (jump.status_code, jump.json()["code"]) == (409, "illegal_transition")
    assert post(staff, f"{API}infra/{pk}/feasibility/", doc).json()["state"] == "feasibility"
    plan = post(staff, f"{API}infra/{pk}/plan-investment/", {"year": 2026, "planned_wan": "800.5"})
    assert plan.status_code == 200 and plan.json()["investment"][0]["planned_fen"] == 800_500_000
    report = unit.post(f"{API}infra/{pk}/report/", {"month": "2026-04", "text": "可研编制", "percent": 5,
                                                     "invested_wan": "20", "photos": [SimpleUploadedFile("现场.pdf", PDF)]})  # fmt: skip
    assert report.status_code == 200, report.content
    assert report.json()["investment"][0]["done_fen"] == 20_000_000
    again = post(
        unit,
        f"{API}infra/{pk}/report/",
        {"month": "2026-04", "text": "重复", "percent": 6, "invested_wan": "1"},
    )
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_report")
    negative = post(
        unit,
        f"{API}infra/{pk}/report/",
        {"month": "2026-05", "text": "x", "percent": 6, "invested_wan": "-1"},
    )
    assert (negative.status_code, negative.json()["code"]) == (400, "negative_amount")
    risk = post(
        unit, f"{API}infra/{pk}/add-risk/", {"description": "拆迁滞后", "level": "high", "owner": "王工"}
    )
    risk_id = risk.json()["risks"][0]["id"]
    closed = post(staff, f"{API}infra/{pk}/close-risk/", {"risk": risk_id, "resolution": "已完成拆迁"})
    assert closed.json()["risks"][0]["is_open"] is False
    assert InfraProject.objects.get(pk=pk).reports.count() == 1

    stats = staff.get(API + "projects/statistics?year=2026").json()
    assert stats["infra"]["by_state"] == {"feasibility": 1}
    assert stats["investment"] == {"planned_fen": 800_500_000, "done_fen": 20_000_000}
    assert client_for(org.handler_xc).get(API + "projects/statistics?year=2026").json()["investment"] == {
        "planned_fen": 0, "done_fen": 0}  # fmt: skip
    assert client_for(org.nobody).get(API + "projects/statistics").status_code == 403
    assert not ReliefWork.objects.exists()
