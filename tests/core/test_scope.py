"""Data scope for units, users and districts, proved with the reusable helper (API and UI).

A district manager of 东城 never sees 西城's units or people; an operator sees only its
operator; own-unit users see their unit's subtree; all-scope users see everything;
anonymous callers get 401 (API, error body) or a redirect to the login page (UI).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from govcenter.core.models import District, Unit, User
from tests.helpers.org import build_org
from tests.helpers.scope import assert_requires_login, assert_scoped

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return build_org()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_unit(u):
    return f"/api/v1/units/{u.pk}/"


def api_user(u):
    return f"/api/v1/users/{u.pk}/"


def ui_unit(u):
    return reverse("core:unit_detail", args=[u.pk])


def ui_user(u):
    return reverse("core:user_detail", args=[u.pk])


def unit_name(u):
    return u.name_zh


def username(u):
    return u.username


SURFACES = {
    "api": ("/api/v1/units/", api_unit, "/api/v1/users/", api_user),
    "ui": ("/org/units/", ui_unit, "/org/users/", ui_user),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_district_manager_sees_only_own_district(org, surface):
    units_url, unit_detail, users_url, user_detail = SURFACES[surface]
    client = client_for(org.manager_dc)
    assert_scoped(
        client=client,
        list_url=units_url,
        detail_url_for=unit_detail,
        visible=[org.unit_dc, org.sub_dc],
        hidden=[org.unit_xc, org.center, org.op_a],
        expected_count=2,
        search_param="q",
        search_term_for=unit_name,
    )
    assert_scoped(
        client=client,
        list_url=users_url,
        detail_url_for=user_detail,
        visible=[org.manager_dc, org.own_dc, org.plain_dc],
        hidden=[org.manager_xc, org.plain_xc, org.sysadmin, org.plain_b],
        expected_count=3,
        search_param="q",
        search_term_for=username,
    )


@pytest.mark.parametrize("surface", SURFACES)
def test_operator_sees_only_its_operator(org, surface):
    units_url, unit_detail, users_url, user_detail = SURFACES[surface]
    client = client_for(org.operator_a)
    assert_scoped(
        client=client,
        list_url=units_url,
        detail_url_for=unit_detail,
        visible=[org.op_a],
        hidden=[org.op_b, org.unit_dc],
        expected_count=1,
        search_param="q",
        search_term_for=unit_name,
    )
    assert_scoped(
        client=client,
        list_url=users_url,
        detail_url_for=user_detail,
        visible=[org.operator_a, org.plain_a],
        hidden=[org.plain_b, org.plain_dc],
        expected_count=2,
        search_param="q",
        search_term_for=username,
    )


@pytest.mark.parametrize("surface", SURFACES)
def test_own_unit_user_sees_the_unit_subtree(org, surface):
    units_url, unit_detail, users_url, user_detail = SURFACES[surface]
    client = client_for(org.own_dc)
    assert_scoped(
        client=client,
        list_url=units_url,
        detail_url_for=unit_detail,
        visible=[org.unit_dc, org.sub_dc],
        hidden=[org.unit_xc, org.center],
        expected_count=2,
    )
    assert_scoped(
        client=client,
        list_url=users_url,
        detail_url_for=user_detail,
        visible=[org.own_dc, org.manager_dc, org.plain_dc],
        hidden=[org.plain_xc, org.nobody],
        search_param="q",
        search_term_for=username,
    )


def test_own_unit_scope_of_a_sub_unit_does_not_reach_up(org):
    org.own_dc.unit = org.sub_dc
    org.own_dc.save()
    assert_scoped(
        client=client_for(org.own_dc),
        list_url="/api/v1/units/",
        detail_url_for=api_unit,
        visible=[org.sub_dc],
        hidden=[org.unit_dc],
        expected_count=1,
    )


@pytest.mark.parametrize("surface", SURFACES)
def test_all_scope_sees_everything(org, surface):
    units_url, unit_detail, users_url, user_detail = SURFACES[surface]
    client = client_for(org.leader)
    for url, detail, objects in (
        (units_url, unit_detail, Unit.objects.all()),
        (users_url, user_detail, User.objects.all()),
    ):
        response = client.get(url + "?page_size=500")
        assert response.status_code == 200
        text = response.content.decode()
        for obj in objects:
            assert (
                (str(obj.pk) in [str(r["id"]) for r in response.json()["results"]])
                if surface == "api"
                else (f'href="{detail(obj)}"' in text)
            ), obj
        assert client.get(detail(org.unit_xc if url == units_url else org.plain_xc)).status_code == 200


def test_district_api_is_scoped(org):
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url="/api/v1/districts/",
        detail_url_for=lambda d: f"/api/v1/districts/{d.pk}/",
        visible=[org.dongcheng],
        hidden=[org.xicheng],
        expected_count=1,
        search_param="q",
        search_term_for=lambda d: d.name_zh,
    )


def test_the_helper_catches_a_leak(org):
    """The helper itself must fail when a hidden object is visible (it can fail)."""
    with pytest.raises(AssertionError, match="out of scope"):
        assert_scoped(
            client=client_for(org.leader),
            list_url="/api/v1/units/",
            detail_url_for=api_unit,
            visible=[org.unit_dc],
            hidden=[org.unit_xc],
        )
    with pytest.raises(AssertionError, match="count"):
        assert_scoped(
            client=client_for(org.manager_dc),
            list_url="/api/v1/units/",
            detail_url_for=api_unit,
            visible=[org.unit_dc],
            hidden=[org.unit_xc],
            expected_count=5,
        )


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/units/",
        "/api/v1/users/",
        "/api/v1/roles/",
        "/api/v1/districts/",
        "/org/units/",
        "/org/users/",
        "/org/roles/",
    ],
)
def test_anonymous_is_refused(org, url):
    assert_requires_login(Client(), url)
    assert_requires_login(Client(), url + ("1/" if url.startswith("/api/") else f"{org.unit_dc.pk}/"))


@pytest.mark.parametrize(
    "url", ["/api/v1/units/", "/api/v1/users/", "/org/units/", "/org/users/", "/org/roles/"]
)
def test_without_function_permission_is_403(org, url):
    response = client_for(org.nobody).get(url)
    assert response.status_code == 403


def test_out_of_scope_filter_value_finds_nothing(org):
    client = client_for(org.manager_dc)
    response = client.get(f"/api/v1/users/?unit={org.unit_xc.pk}")
    assert response.status_code == 400 or response.json()["count"] == 0
    assert District.objects.count() == 2
