"""The library demo: a few cases of each kind through the services (idempotent), and a year at
a small scale whose research projects show every warning colour."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from govcenter.congestion import demo_library
from govcenter.congestion.api.library import RESEARCH
from govcenter.congestion.models import PolicyDocument, PublicityItem, ResearchProject
from govcenter.congestion.services import library as svc
from govcenter.core import deadlines
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import Role, User
from govcenter.core.roles import ensure_builtin_roles
from tests.factories import UnitFactory, UserFactory


@pytest.fixture
def demo_accounts(db, settings, tmp_path):
    """The demo accounts the library demo acts as (as `govcenter demo` makes them)."""
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "files")
    seed_calendar()
    ensure_builtin_roles()
    roles = {r.code: r for r in Role.objects.all()}
    center = UnitFactory(code="BTCGC", name_zh="中心", kind="center")
    data = UnitFactory(code="BTCGC-DATA", name_zh="数据管理科", kind="department", parent=center)
    coord = UnitFactory(code="BTCGC-COORD", name_zh="综合协调科", kind="department", parent=center)
    UserFactory(username="datastaff", unit=data, role_set=[roles["data_staff"]])
    UserFactory(username="leader", unit=center, role_set=[roles["center_leader"]])
    UserFactory(username="congestion", unit=coord, role_set=[roles["congestion_staff"]])


def test_small_demo(demo_accounts):
    made = demo_library.load_small()
    assert made == {"policy": 2, "research": 1, "publicity": 2}
    assert demo_library.load_small() == {}  # idempotent
    handler = User.objects.get(username="congestion")
    assert Counter(PublicityItem.objects.restrict(handler).values_list("state", flat=True)) == {
        "published": 1,
        "draft": 1,
    }
    assert ResearchProject.objects.restrict(handler).get().spent_fen == 1_200_000
    assert svc.library_statistics(User.objects.get(username="leader"))["policy"]["by_state"] == {
        "published": 1,
        "draft": 1,
    }


def test_a_year_at_small_scale(demo_accounts):
    year = deadlines.today().year
    made = demo_library.load_year(year=year, scale=0.05, rng=random.Random(7))
    assert made == {"policy": 15, "research": 3, "publicity": 60}
    assert PolicyDocument.objects.count() == 15 and ResearchProject.objects.filter(year=year).count() == 3
    colours = {str(RESEARCH.warning(p)) for p in ResearchProject.objects.filter(year=year)}
    assert {"red", "blue"} <= colours and colours & {"none", "yellow"}
    assert PublicityItem.objects.filter(state="published").exists()
