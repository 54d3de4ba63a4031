"""Customer-service tickets: open → answered → closed (reopen), time to answer, satisfaction,
conversion to a complaint, scope (Center-wide; a district sees what is referred to it), pages."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.core.models import AuditEntry
from govcenter.parking.models.complaints import Complaint, ServiceTicket
from govcenter.parking.services import tickets as services
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.test_complaints import ERROR_KEYS, client_for, post

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"


@pytest.fixture
def cs(org):
    """A customer-service agent of the Center (data_staff role)."""
    return UserFactory(username="t_cs", unit=org.center, role_set=[org.roles["data_staff"]])


def ticket(actor, **kw) -> ServiceTicket:
    fields = {
        "channel": "hotline",
        "category": "inquiry",
        "subject": "怎么缴费",
        "body": "问缴费方式",
        "caller_phone": "13700001234",
    }
    return services.ticket_create(actor=actor, **{**fields, **kw})


def test_time_to_answer_is_wall_clock_minutes_of_the_first_public_reply(org, cs):
    t = ticket(cs, created_at=timezone.now() - dt.timedelta(minutes=95, seconds=20))
    assert t.number.startswith("KF") and t.status == "open"
    services.ticket_reply(actor=cs, ticket=t, text="内部：查询中", public=False)
    t.refresh_from_db()
    assert t.status == "open" and t.first_answer_at is None  # a note does not answer
    response = post(cs, f"{API}/tickets/{t.pk}/reply/", {"text": "可在北京交通App缴费"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "answered" and body["answer_minutes"] == 95
    assert [r["public"] for r in body["replies"]] == [False, True]
    first = body["first_answer_at"]
    # closed → reply refused → reopen → answered again: the first answer time is kept.
    assert post(cs, f"{API}/tickets/{t.pk}/close/").json()["status"] == "closed"
    refused = post(cs, f"{API}/tickets/{t.pk}/reply/", {"text": "再答"})
    assert (
        refused.status_code == 409
        and refused.json()["code"] == "ticket_closed"
        and set(refused.json()) == ERROR_KEYS
    )
    assert post(cs, f"{API}/tickets/{t.pk}/reopen/", {"reason": "来电人再次来电"}).json()["status"] == "open"
    again = post(cs, f"{API}/tickets/{t.pk}/reply/", {"text": "再答"}).json()
    assert (
        again["status"] == "answered" and again["first_answer_at"] == first and again["answer_minutes"] == 95
    )
    actions = set(
        AuditEntry.objects.filter(object_type="parking.serviceticket").values_list("action", flat=True)
    )
    assert {
        "parking.ticket.create",
        "parking.ticket.reply",
        "parking.ticket.close",
        "parking.ticket.reopen",
    } <= actions


def test_transitions_refused(org, cs):
    t = ticket(cs)
    assert post(cs, f"{API}/tickets/{t.pk}/reopen/", {"reason": "x"}).status_code == 409
    early = post(cs, f"{API}/tickets/{t.pk}/rate/", {"satisfaction": 5})
    assert early.status_code == 409 and early.json()["code"] == "not_answered"
    services.ticket_reply(actor=cs, ticket=t, text="答复")
    assert post(cs, f"{API}/tickets/{t.pk}/rate/", {"satisfaction": 0}).status_code == 400
    assert post(cs, f"{API}/tickets/{t.pk}/rate/", {"satisfaction": 4}).json()["satisfaction"] == 4
    assert post(cs, f"{API}/tickets/{t.pk}/rate/", {"satisfaction": 5}).json()["code"] == "already_rated"
    with pytest.raises(AttributeError):
        t.status = "closed"


def test_create_validation_is_400(org, cs):
    response = post(cs, f"{API}/tickets/", {"channel": "fax", "subject": ""})
    assert response.status_code == 400 and set(response.json()) == ERROR_KEYS
    assert {"channel", "category", "subject", "body"} <= set(response.json()["details"])
    bad_plate = post(
        cs,
        f"{API}/tickets/",
        {"channel": "mailbox", "category": "receipt", "subject": "s", "body": "b", "plate": "XYZ"},
    )
    assert bad_plate.status_code == 400 and bad_plate.json()["code"] == "invalid_plate"
    ok = post(
        cs,
        f"{API}/tickets/",
        {
            "channel": "mailbox",
            "category": "receipt",
            "subject": "s",
            "body": "b",
            "caller_phone": "13700001234",
        },
    )
    assert ok.status_code == 201 and ok.json()["caller_phone"] == "137****1234"


def test_convert_to_complaint_links_and_refers(org, cs):
    t = ticket(cs, category="complaint_referral", plate="京A12345")
    response = post(
        cs,
        f"{API}/tickets/{t.pk}/convert/",
        {"kind": "complaint", "category": "attitude", "district": org.xicheng.pk},
    )
    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get(pk=response.json()["id"])
    t.refresh_from_db()
    assert t.complaint == complaint and t.district == org.xicheng
    assert (complaint.channel, complaint.contact_phone, complaint.plate) == (
        "hotline",
        "13700001234",
        "京A12345",
    )
    assert complaint.received_at == t.created_at and complaint.handling_unit == org.unit_xc
    again = post(
        cs,
        f"{API}/tickets/{t.pk}/convert/",
        {"kind": "complaint", "category": "attitude", "district": org.xicheng.pk},
    )
    assert again.status_code == 409 and again.json()["code"] == "already_converted"
    assert Complaint.objects.count() == 1
    # An appeal needs an order: refused, nothing half-written.
    other = ticket(cs)
    refused = post(cs, f"{API}/tickets/{other.pk}/convert/", {"kind": "appeal", "category": "tariff_dispute"})
    assert refused.status_code == 400 and refused.json()["code"] == "order_required"
    other.refresh_from_db()
    assert other.complaint_id is None and Complaint.objects.count() == 1


def test_scope_center_sees_all_a_district_only_what_is_referred(org, cs):
    center_only = ticket(cs, subject="中心")
    dc = ticket(cs, subject="东城", district=org.dongcheng)
    xc = ticket(cs, subject="西城", district=org.xicheng)
    for list_url, detail in (
        (f"{API}/tickets/", f"{API}/tickets/{{}}/"),
        ("/parking/tickets/", "/parking/tickets/{}/"),
    ):
        assert_scoped(
            client=client_for(org.manager_dc),
            list_url=list_url,
            detail_url_for=lambda t, detail=detail: detail.format(t.pk),
            visible=[dc],
            hidden=[center_only, xc],
            expected_count=1,
            search_param="number",
            search_term_for=lambda t: t.number,
        )
        assert_requires_login(Client(), list_url)
    assert client_for(cs).get(f"{API}/tickets/").json()["count"] == 3
    # District managers read referred tickets but do not answer them.
    assert post(org.manager_dc, f"{API}/tickets/{dc.pk}/reply/", {"text": "x"}).status_code == 403
    assert (
        post(
            org.manager_dc,
            f"{API}/tickets/",
            {"channel": "hotline", "category": "other", "subject": "s", "body": "b"},
        ).status_code
        == 403
    )


def test_stats_average_time_to_answer(org, cs):
    now = timezone.now()
    created = []
    for minutes in (30, 90):
        created.append(ticket(cs, created_at=now - dt.timedelta(minutes=minutes)))
        services.ticket_reply(actor=cs, ticket=created[-1], text="答")
    created.append(ticket(cs, category="payment"))
    stats = services.ticket_stats(
        user=cs, start=now - dt.timedelta(days=1), end=now + dt.timedelta(minutes=1)
    )
    assert stats["total"] == 3 and stats["answered"] == 2 and stats["avg_answer_minutes"] == 60
    # per Beijing day and category (just after midnight the two inquiries fall on two days)
    expected = Counter((timezone.localdate(t.created_at), t.category) for t in created)
    assert {(r["day"], r["category"]): r["count"] for r in stats["by_day"]} == dict(expected)
    assert services.ticket_stats(user=org.manager_dc, start=now - dt.timedelta(days=1), end=now)["total"] == 0


def test_pages(org, cs):
    client = client_for(cs)
    assert client.get("/parking/tickets/new/").status_code == 200
    created = client.post(
        "/parking/tickets/new/",
        {
            "channel": "hotline",
            "category": "inquiry",
            "subject": "页面工单",
            "body": "b",
            "caller_phone": "13700009999",
        },
    )
    assert created.status_code == 302
    t = ServiceTicket.objects.get(subject="页面工单")
    client.post(f"/parking/tickets/{t.pk}/reply/", {"text": "已答复", "public": "on"})
    t.refresh_from_db()
    assert t.status == "answered"
    page = client.get(f"/parking/tickets/{t.pk}/").content.decode()
    assert "已答复" in page and "13700009999" not in page and "137****9999" in page
    client.post(
        f"/parking/tickets/{t.pk}/convert/",
        {"kind": "complaint", "category": "other", "district": str(org.dongcheng.pk)},
    )
    t.refresh_from_db()
    assert t.complaint is not None and t.district == org.dongcheng
    listing = client.get("/parking/tickets/?status=answered").content.decode()
    assert t.number in listing
    nav = client.get("/parking/tickets/").content.decode()
    assert "/parking/complaints/" in nav
