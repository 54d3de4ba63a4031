"""API and UI of occupations and change sets: scope (assert_scoped), permissions, flows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.parking.models import Space
from govcenter.parking.services import changesets as cs_services
from govcenter.parking.services import occupations as occ_services
from tests.factories import UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.factories import DONGCHENG_POINT, RoadFactory, SegmentFactory, SpaceFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
H = timedelta(hours=1)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data(org):
    dc_seg = SegmentFactory(road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc), code="DC-A")
    xc_seg = SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc), code="XC-A")
    dc_space = SpaceFactory(segment=dc_seg, number="001")
    xc_space = SpaceFactory(segment=xc_seg, number="002")
    now = timezone.now()
    dc_occ = occ_services.occupation_create(
        actor=org.manager_dc, reason="event", segment=dc_seg, starts_at=now + H, ends_at=now + 2 * H
    )
    xc_occ = occ_services.occupation_create(
        actor=org.manager_xc, reason="event", segment=xc_seg, starts_at=now + H, ends_at=now + 2 * H
    )
    dc_cs = cs_services.changeset_create(actor=org.manager_dc, district=org.dongcheng, title="东城方案")
    xc_cs = cs_services.changeset_create(actor=org.manager_xc, district=org.xicheng, title="西城方案")
    return dict(
        dc_seg=dc_seg,
        dc_space=dc_space,
        xc_space=xc_space,
        dc_occ=dc_occ,
        xc_occ=xc_occ,
        dc_cs=dc_cs,
        xc_cs=xc_cs,
    )


@pytest.mark.parametrize(
    "api,ui,key", [("occupations", "occupations", "occ"), ("changesets", "changesets", "cs")]
)
def test_scope_api_and_ui(org, data, api, ui, key):
    client = client_for(org.manager_dc)
    assert_scoped(
        client=client,
        list_url=f"{API}/{api}/",
        detail_url_for=lambda o: f"{API}/{api}/{o.pk}/",
        visible=[data[f"dc_{key}"]],
        hidden=[data[f"xc_{key}"]],
        expected_count=1,
    )
    assert_scoped(
        client=client,
        list_url=f"/parking/{ui}/",
        detail_url_for=lambda o: f"/parking/{ui}/{o.pk}/",
        visible=[data[f"dc_{key}"]],
        hidden=[data[f"xc_{key}"]],
        expected_count=1,
    )
    assert_requires_login(Client(), f"{API}/{api}/")
    assert_requires_login(Client(), f"/parking/{ui}/")


def test_occupation_api_create_cancel_and_bad_input(org, data):
    client = client_for(org.manager_dc)
    now = timezone.now()
    body = {
        "spaces": [data["dc_space"].pk],
        "reason": "construction",
        "reason_text": "管线",
        "starts_at": (now + 3 * H).isoformat(),
        "ends_at": (now + 4 * H).isoformat(),
    }
    response = client.post(f"{API}/occupations/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    occ = response.json()
    assert occ["status"] == "scheduled" and occ["space_count"] == 1
    overlap = client.post(
        f"{API}/occupations/",
        {**body, "spaces": [], "segment": data["dc_seg"].pk},
        content_type="application/json",
    )
    assert overlap.status_code == 400 and overlap.json()["code"] == "invalid"
    hidden = client.post(
        f"{API}/occupations/", {**body, "spaces": [data["xc_space"].pk]}, content_type="application/json"
    )
    assert hidden.status_code == 400  # another district's space does not resolve
    cancelled = client.post(
        f"{API}/occupations/{occ['id']}/cancel/", {"reason": "改期"}, content_type="application/json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client_for(org.leader).post(f"{API}/occupations/{occ['id']}/cancel/").status_code == 403


def test_changeset_api_flow_with_four_eyes(org, data):
    author = client_for(org.manager_dc)
    reviewer_user = UserFactory(username="t_reviewer", unit=org.office, role_set=[org.roles["data_staff"]])
    reviewer = client_for(reviewer_user)
    cs = data["dc_cs"]
    lon, lat = DONGCHENG_POINT
    item = author.post(
        f"{API}/changesets/{cs.pk}/items/",
        {"op": "add", "segment": data["dc_seg"].pk, "number": "099", "lon": lon, "lat": lat},
        content_type="application/json",
    )
    assert item.status_code == 201, item.content
    assert author.post(f"{API}/changesets/{cs.pk}/submit/").json()["status"] == "submitted"
    assert (
        author.post(
            f"{API}/changesets/{cs.pk}/review/", {"approve": True}, content_type="application/json"
        ).status_code
        == 403
    )
    approved = reviewer.post(
        f"{API}/changesets/{cs.pk}/review/", {"approve": True}, content_type="application/json"
    )
    assert approved.json()["status"] == "approved"
    applied = reviewer.post(f"{API}/changesets/{cs.pk}/apply/")
    assert applied.status_code == 200 and applied.json()["diff"][0]["after"]["number"] == "099"
    assert Space.objects.filter(segment=data["dc_seg"], number="099", status="active").exists()
    reverted = reviewer.post(f"{API}/changesets/{cs.pk}/revert/", {}, content_type="application/json")
    assert reverted.json()["status"] == "reverted"
    assert Space.objects.get(segment=data["dc_seg"], number="099").status == "retired"
    # out of scope: 404, not 403
    assert (
        reviewer.get(f"{API}/changesets/{data['xc_cs'].pk}/").status_code == 200
    )  # data staff: all districts
    assert author.post(f"{API}/changesets/{data['xc_cs'].pk}/submit/").status_code == 404


def test_a_data_staff_author_cannot_review_their_own_set(org, data):
    staff = UserFactory(
        username="t_staff2",
        unit=org.office,
        role_set=[org.roles["data_staff"], org.roles["district_manager"]],
    )
    cs = cs_services.changeset_create(actor=staff, district=org.dongcheng, title="自审")
    cs_services.changeset_item_add(actor=staff, change_set=cs, op="retire", space=data["dc_space"])
    cs_services.changeset_submit(actor=staff, change_set=cs)
    response = client_for(staff).post(
        f"{API}/changesets/{cs.pk}/review/", {"approve": True}, content_type="application/json"
    )
    assert response.status_code == 400 and "编制人不能审核" in response.json()["message"] + str(
        response.json()["details"]
    )


def test_ui_pages_render_and_act(org, data):
    client = client_for(org.manager_dc)
    for url in (
        "/parking/occupations/new/",
        "/parking/changesets/new/",
        f"/parking/changesets/{data['dc_cs'].pk}/",
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        f"/parking/changesets/{data['dc_cs'].pk}/items/",
        {"op": "retire", "space_code": "DC-A-001"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(f"/parking/changesets/{data['dc_cs'].pk}/submit/")
    assert response.status_code == 302
    data["dc_cs"].refresh_from_db()
    assert data["dc_cs"].status == "submitted"
    assert client.post(f"/parking/changesets/{data['dc_cs'].pk}/apply/").status_code == 403
    response = client.post(f"/parking/occupations/{data['dc_occ'].pk}/cancel/", {"reason": "x"})
    assert response.status_code == 302
    data["dc_occ"].refresh_from_db()
    assert data["dc_occ"].status == "cancelled"
    now = timezone.localtime() + 3 * H
    response = client.post(
        "/parking/occupations/new/",
        {
            "space_codes": "DC-A-001",
            "reason": "other",
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + H).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
