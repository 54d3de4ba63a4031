"""The TIA API (``/api/v1/congestion/tia/``): registration with the flag, materials uploaded as
multipart files tagged with their key, acceptance refused listing every missing key, the steps'
refusals in the error shape, scope (404 out of scope), filters."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from govcenter.congestion.models import TiaApplication
from tests.congestion.helpers import client_for, post
from tests.congestion.test_tia import ALL, DONGSI, GUOMAO, org  # noqa: F401  (fixture)

API = "/api/v1/congestion/tia/"


def upload(c, pk, key):
    f = SimpleUploadedFile(
        f"{key}.pdf", b"%PDF-1.4\n" + key.encode() + b"\n%%EOF\n", content_type="application/pdf"
    )
    return c.post(f"{API}{pk}/add-materials/", {"material": key, "files": [f]})


def test_the_workflow_over_the_api(org):  # noqa: F811
    staff, reviewer = client_for(org.staff), client_for(org.reviewer)
    made = post(staff, API, {"title": "国贸写字楼", "builder": "北京某地产", "location": GUOMAO,
                             "floor_area": "10000.01", "use": "public"})  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["threshold_flag"]["needs_tia"] is True and body["threshold_flag"]["rule"] == "central.public"
    assert (
        body["ring_area"] == "central" and body["district"] == "110105" and body["floor_area"] == "10000.01"
    )
    assert [m["received"] for m in body["materials"]] == [False] * 4
    pk = body["id"]
    assert upload(staff, pk, "tia_report").status_code == 200
    refused = post(staff, f"{API}{pk}/accept/", {"unit": org.unit_dc.pk})
    assert refused.status_code == 400 and refused.json()["code"] == "materials_missing"
    assert refused.json()["details"] == {"materials": ["application_form", "site_plan", "approval"]}
    notice = post(staff, f"{API}{pk}/request-supplement/", {})
    assert notice.json()["state"] == "supplementing"
    assert notice.json()["missing_materials"] == ["application_form", "site_plan", "approval"]
    for key in notice.json()["missing_materials"]:
        assert upload(staff, pk, key).status_code == 200
    assert post(staff, f"{API}{pk}/resubmit/", {}).json()["state"] == "submitted"
    accepted = post(staff, f"{API}{pk}/accept/", {"unit": org.unit_dc.pk})
    assert accepted.status_code == 200 and accepted.json()["units"][0]["role"] == "lead"
    rows = reviewer.get(API).json()["results"]
    assert [r["number"] for r in rows] == [body["number"]]
    assert "timeline" not in rows[0] and rows[0]["threshold_flag"]["rule"] == "central.public"
    assert (
        post(reviewer, f"{API}{pk}/review/", {"notes": "形式、内容审查合格"}).json()["state"]
        == "expert_review"
    )
    minutes = SimpleUploadedFile("纪要.txt", "专家评审会纪要".encode(), content_type="text/plain")
    meeting = reviewer.post(f"{API}{pk}/hold-meeting/", {"date": dt.date.today().isoformat(),
                                                         "experts": ["张工", "李工"], "files": [minutes]})  # fmt: skip
    assert meeting.status_code == 200, meeting.content
    assert meeting.json()["experts"] == ["张工", "李工"] and meeting.json()["minutes"]
    assert (
        post(reviewer, f"{API}{pk}/issue-opinion/", {"conditions": "增设港湾式出租车停靠站"}).status_code
        == 200
    )
    done = post(
        staff,
        f"{API}{pk}/deliver/",
        {"delivered_on": dt.date.today().isoformat(), "delivery_method": "in_person"},
    )
    assert done.json()["state"] == "closed"
    timeline = done.json()["timeline"]
    assert [t["stage"] for t in timeline][-1] == "delivery" and all(t["end"] for t in timeline)
    history = staff.get(f"{API}{pk}/history/").json()
    assert history[-1]["transition"] == "deliver"


def test_refusals_have_the_error_shape(org):  # noqa: F811
    staff, other = client_for(org.staff), client_for(org.reviewer_xc)
    pk = post(staff, API, {"title": "东四项目", "builder": "某公司", "location": DONGSI, "floor_area": "6000",
                           "use": "residential"}).json()["id"]  # fmt: skip
    for response, status, code in [
        (post(staff, API, {"title": "x", "builder": "y", "location": DONGSI, "floor_area": "-5", "use": "public"}),
         400, "invalid_floor_area"),
        (post(staff, API, {"title": "x", "builder": "y", "location": DONGSI, "floor_area": "12.345",
                           "use": "public"}), 400, None),
        (post(staff, API, {"title": "x", "builder": "y", "location": {"type": "Point", "coordinates": [121.47, 31.23]},
                           "floor_area": "100", "use": "public"}), 400, "location_outside"),
        (post(staff, f"{API}{pk}/review/", {"notes": "x"}), 409, "illegal_transition"),
        (post(client_for(org.reviewer), f"{API}{pk}/review/", {"notes": "x"}), 404, None),  # not yet its case
        (staff.post(f"{API}{pk}/add-materials/", {"material": "photos"}), 400, None),
        (other.get(f"{API}{pk}/"), 404, None),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        body = response.json()
        assert set(body) == {"code", "message", "details"}
        if code:
            assert body["code"] == code
    assert TiaApplication.objects.count() == 1
    assert Client().get(API).status_code in (401, 403)


def test_filters(org):  # noqa: F811
    staff = client_for(org.staff)
    post(
        staff, API, {"title": "甲", "builder": "b", "location": DONGSI, "floor_area": "6000", "use": "public"}
    )
    post(
        staff, API, {"title": "乙", "builder": "b", "location": GUOMAO, "floor_area": "6000", "use": "public"}
    )
    assert [r["title"] for r in staff.get(API + "?needs_tia=true").json()["results"]] == ["甲"]
    assert [r["title"] for r in staff.get(API + "?ring_area=central").json()["results"]] == ["乙"]
    assert [r["title"] for r in staff.get(API + "?district=110101&use=public").json()["results"]] == ["甲"]
    assert staff.get(API + "?overdue=true").json()["results"] == []
    assert len(ALL) == 4
