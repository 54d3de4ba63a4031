"""The suggestions API: the public form, staff entry, the workflow steps with their refusals,
scope (an out-of-scope id is 404), masking, filters and the history."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from govcenter.congestion.models import Suggestion
from tests.congestion.helpers import client_for, post
from tests.congestion.test_suggestions import POINT_DC, org  # noqa: F401  (fixture)

API = "/api/v1/congestion/"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def test_public_form_then_the_whole_workflow_over_the_api(org):  # noqa: F811
    anon = Client()
    made = post(anon, API + "public/suggestions", {"topic": "parking", "title": "胡同停车难", "body": "夜间停车难",
                                                   "location": POINT_DC, "proposer_phone": "13900139000"})  # fmt: skip
    assert made.status_code == 201 and set(made.json()) == {"number"}
    s = Suggestion.objects.get(number=made.json()["number"])
    staff, handler = client_for(org.staff), client_for(org.handler_dc)

    row = staff.get(f"{API}suggestions/{s.pk}/").json()
    assert row["proposer_phone"] != "13900139000" and row["proposer_phone"].startswith("139")
    assert row["channel"] == "public_form" and row["district"] == "110101"

    assigned = post(staff, f"{API}suggestions/{s.pk}/assign/", {"unit": org.unit_dc.pk, "workdays": 10})
    assert assigned.status_code == 200 and assigned.json()["state"] == "assigned"
    assert assigned.json()["units"][0]["role"] == "lead"
    assert [r["number"] for r in handler.get(API + "suggestions/").json()["results"]] == [s.number]
    answered = post(handler, f"{API}suggestions/{s.pk}/answer/", {"text": "已在胡同口施划夜间共享车位。"})
    assert answered.status_code == 200 and answered.json()["state"] == "replied"
    rated = post(staff, f"{API}suggestions/{s.pk}/rate/", {"satisfaction": "basic"})
    assert rated.json()["state"] == "closed"
    history = staff.get(f"{API}suggestions/{s.pk}/history/").json()
    assert [h["transition"] for h in history] == ["assign", "answer", "rate"]


def test_refusals_have_the_error_shape(org):  # noqa: F811
    staff, other = client_for(org.staff), client_for(org.handler_xc)
    made = post(staff, API + "suggestions/", {"topic": "signal", "title": "信号灯不同步", "location": POINT_DC})
    assert made.status_code == 201 and made.json()["channel"] == "staff"
    pk = made.json()["id"]
    holiday = post(staff, f"{API}suggestions/{pk}/assign/", {"unit": org.unit_dc.pk, "deadline": "2026-10-03"})
    assert holiday.status_code == 400 and holiday.json()["code"] == "deadline_not_workday"
    assert post(staff, f"{API}suggestions/{pk}/assign/", {"unit": org.unit_dc.pk}).status_code == 200
    for response, status, code in [
        (post(staff, f"{API}suggestions/{pk}/answer/", {"text": "x"}), 403, "transition_forbidden"),  # not the lead unit
        (post(staff, f"{API}suggestions/{pk}/rate/", {"satisfaction": "basic"}), 409, "illegal_transition"),
        (post(staff, f"{API}suggestions/{pk}/assign/", {"unit": org.unit_dc.pk, "workdays": 3, "deadline": "2026-12-01"}),
         400, None),
        (post(staff, API + "suggestions/", {"topic": "signal", "title": "x", "location": {"type": "Point",
                                            "coordinates": [121.47, 31.23]}}), 400, "location_outside"),
        (post(Client(), API + "public/suggestions", {"topic": "signal", "title": "x"}), 400, None),
        (other.get(f"{API}suggestions/{pk}/"), 404, None),  # not assigned to 西城: out of scope
        (post(other, f"{API}suggestions/{pk}/answer/", {"text": "x"}), 404, None),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        body = response.json()
        assert set(body) == {"code", "message", "details"}
        if code:
            assert body["code"] == code
    assert Client().get(API + "suggestions/").status_code in (401, 403)


def test_filters(org):  # noqa: F811
    staff = client_for(org.staff)
    a = post(staff, API + "suggestions/", {"topic": "signal", "title": "甲", "location": POINT_DC}).json()
    post(staff, API + "suggestions/", {"topic": "parking", "title": "乙"})
    post(staff, f"{API}suggestions/{a['id']}/assign/", {"unit": org.unit_dc.pk})
    assert [r["title"] for r in staff.get(API + "suggestions/?topic=signal").json()["results"]] == ["甲"]
    assert [r["title"] for r in staff.get(API + "suggestions/?state=submitted").json()["results"]] == ["乙"]
    assert [r["title"] for r in staff.get(API + "suggestions/?district=110101").json()["results"]] == ["甲"]
    assert staff.get(API + "suggestions/?overdue=true").json()["results"] == []
