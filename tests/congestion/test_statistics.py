"""统计分析: the subsystems' figures on one page and at /api/v1/congestion/statistics — the same
numbers (one definition per measure), only the subsystems the caller may view, in their scope."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from govcenter.congestion.models import InfraProject, Proposal, SupervisionTask, TiaApplication
from govcenter.congestion.services import statistics
from govcenter.core.models import User
from tests.factories import RoleFactory, UserFactory


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("demo")
    return Proposal.objects.order_by("-year").values_list("year", flat=True).first()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_page_and_the_api_show_the_same_figures_counted_in_the_callers_scope(demo):
    year = demo
    staff = User.objects.get(username="datastaff")
    api = _client(staff).get(f"/api/v1/congestion/statistics?year={year}").json()
    assert set(api) == {"year", "proposals", "projects", "supervision", "tia", "library"}
    # Counted by the ORM here, not taken from the code under test.
    assert api["proposals"]["total"]["proposals"] == Proposal.objects.restrict(staff).filter(year=year).count()
    assert api["tia"]["total"] == TiaApplication.objects.restrict(staff).filter(year=year).count()
    assert sum(api["supervision"]["by_state"].values()) == SupervisionTask.objects.restrict(staff).filter(year=year).count()
    assert sum(api["projects"]["infra"]["by_state"].values()) == InfraProject.objects.restrict(staff).count()
    page = _client(staff).get(f"/congestion/statistics/?year={year}")
    assert page.status_code == 200
    html = page.content.decode()
    for code in ("proposals", "projects", "supervision", "tia", "library"):
        assert f'data-section="{code}"' in html, code
    # A count table on the page sums to the figure the API gives.
    sections = {s.code: s for s in statistics.sections(staff, year=year)}
    by_state = sections["tia"].tables[0]
    assert sum(n for _label, n in by_state.rows) == api["tia"]["total"]
    assert all(not re.fullmatch(r"[a-z_]+", label) for label, _n in by_state.rows)  # labels, not codes
    assert f'data-figure="申请">{api["tia"]["total"]}<' in html

    handler = User.objects.get(username="congestion")  # a unit's handler: its own cases only
    mine = _client(handler).get(f"/api/v1/congestion/statistics?year={year}").json()
    assert mine["proposals"]["total"]["proposals"] == Proposal.objects.restrict(handler).filter(year=year).count()
    assert mine["proposals"]["total"]["proposals"] < api["proposals"]["total"]["proposals"]


@pytest.mark.django_db
def test_only_the_subsystems_the_caller_may_view(demo):
    role = RoleFactory(scope_kind="all")
    role.permissions.set(Permission.objects.filter(codename__in=["view_tiaapplication"]))
    tia_only = UserFactory(role_set=[role])
    data = _client(tia_only).get("/api/v1/congestion/statistics").json()
    assert set(data) == {"year", "tia"}
    html = _client(tia_only).get(f"/congestion/statistics/?year={demo}").content.decode()
    assert 'data-section="tia"' in html and 'data-section="proposals"' not in html
    nobody = UserFactory()
    response = _client(nobody).get("/api/v1/congestion/statistics")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert _client(nobody).get("/congestion/statistics/").status_code == 403
    bad = _client(tia_only).get("/api/v1/congestion/statistics?year=1.5")
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
