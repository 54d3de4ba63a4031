"""The proposals API (the kind's viewset): registration, the steps with their refusals in the error
shape, a reply letter uploaded with the step, masked proposers, scope (404) and filters."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from govcenter.congestion.models import Proposal
from tests.congestion.helpers import client_for, post
from tests.congestion.test_proposals import org  # noqa: F401  (fixture)

API = "/api/v1/congestion/proposals/"


def made(staff, n="88", **kw):
    data = {"body_type": "cppcc", "session": "十四届四次会议", "assembly_number": n, "title": "关于优化学校周边接送停车的提案",
            "proposers": "王五|民进北京市委\n赵六"}  # fmt: skip
    data.update(kw)
    return post(staff, API, data)


def test_register_assign_sign_reply_over_the_api(org):  # noqa: F811
    staff, lead, co = client_for(org.staff), client_for(org.lead_user), client_for(org.co_user)
    r = made(staff)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["number"].startswith("ZXTA-") and body["state"] == "registered"
    assert [p["delegation"] for p in body["proposers"]] == ["民进北京市委", ""]
    assert all(p["name"] not in ("王五", "赵六") for p in body["proposers"])  # masked
    pk = body["id"]
    r = post(staff, f"{API}{pk}/assign/", {"lead": org.unit_dc.pk, "co_units": [org.unit_xc.pk]})
    assert r.status_code == 200 and r.json()["state"] == "assigned"
    assert {u["role"] for u in r.json()["units"]} == {"lead", "co"}
    assert post(lead, f"{API}{pk}/sign/", {}).json()["state"] == "handling"
    assert post(co, f"{API}{pk}/sign/", {}).status_code == 200
    assert post(co, f"{API}{pk}/send-opinion/", {"text": "同意"}).status_code == 200

    # The letter goes with the step (multipart); without it the error names the field.
    missing = lead.post(f"{API}{pk}/submit-reply/", {"text": "已施划临时停车位", "classification": "A"})
    assert (
        missing.status_code == 400
        and missing.json()["code"] == "required"
        and "files" in missing.json()["details"]
    )
    letter = SimpleUploadedFile("答复函.txt", "答复：已施划临时停车位。".encode())
    r = lead.post(
        f"{API}{pk}/submit-reply/", {"text": "已施划临时停车位", "classification": "A", "files": [letter]}
    )
    assert r.status_code == 200 and r.json()["state"] == "reviewing", r.content
    assert len(r.json()["replies"][0]["files"]) == 1
    assert post(staff, f"{API}{pk}/review/", {"approve": True}).json()["state"] == "replied"
    ids = [p["id"] for p in staff.get(f"{API}{pk}/").json()["proposers"]]
    for i in ids:
        r = post(staff, f"{API}{pk}/rate/", {"proposer": i, "satisfaction": "satisfied"})
    assert r.json()["state"] == "closed"
    history = [h["transition"] for h in staff.get(f"{API}{pk}/history/").json()]
    assert history == ["assign", "sign", "sign", "send_opinion", "submit_reply", "review", "rate", "rate"]


def test_refusals_scope_and_filters(org):  # noqa: F811
    staff, lead, co = client_for(org.staff), client_for(org.lead_user), client_for(org.co_user)
    pk = made(staff).json()["id"]
    other = made(staff, "89", body_type="npc").json()["id"]
    assert made(staff).json()["code"] == "duplicate"
    assert made(staff, "90", proposers="").status_code == 400
    post(staff, f"{API}{pk}/assign/", {"lead": org.unit_dc.pk, "co_units": [org.unit_xc.pk]})
    post(staff, f"{API}{other}/assign/", {"lead": org.unit_dc.pk})
    post(lead, f"{API}{pk}/sign/", {})
    for response, status, code in [
        (post(co, f"{API}{pk}/request-extension/", {"months": 1, "reason": "x"}), 403, "transition_forbidden"),
        (post(lead, f"{API}{pk}/request-extension/", {"months": 6, "reason": "x"}), 400, "extension_too_long"),
        (post(staff, f"{API}{pk}/rate/", {"proposer": 1, "satisfaction": "satisfied"}), 409, "illegal_transition"),
        (post(lead, f"{API}{pk}/review/", {"approve": True}), 409, "illegal_transition"),
        (co.get(f"{API}{other}/"), 404, None),  # 西城 is not on that one
        (post(co, f"{API}{other}/sign/", {}), 404, None),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        assert set(response.json()) == {"code", "message", "details"}
        if code:
            assert response.json()["code"] == code
    assert [r["id"] for r in co.get(API).json()["results"]] == [pk]
    assert [r["id"] for r in staff.get(API + "?body_type=npc").json()["results"]] == [other]
    assert [r["id"] for r in staff.get(API + "?state=handling").json()["results"]] == [pk]
    assert {r["id"] for r in staff.get(f"{API}?lead_unit={org.unit_dc.pk}").json()["results"]} == {pk, other}
    assert staff.get(f"{API}?lead_unit={org.unit_xc.pk}").json()["results"] == []
    assert Proposal.objects.count() == 2
    assert Client().get(API).status_code in (401, 403)
