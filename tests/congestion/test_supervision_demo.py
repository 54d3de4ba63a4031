"""The supervision demo: the small set in every state (idempotent), and a year at a small scale
whose open tasks show every warning colour on today's board."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.management import call_command

from govcenter.congestion.api.supervision import KIND
from govcenter.congestion.demo_supervision import load_small, load_year
from govcenter.congestion.models import SupervisionTask
from govcenter.congestion.services import supervision as svc
from govcenter.core import deadlines
from govcenter.core.models import User


@pytest.fixture
def demo_org(db, settings, tmp_path):
    settings.DEBUG = True
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "files")
    call_command("demo")


def test_small_demo_has_every_state_and_loads_once(demo_org):
    made = load_small()
    states = Counter(SupervisionTask.objects.values_list("state", flat=True))
    assert set(states) == {"drafted", "issued", "in_progress", "extension_requested", "reported", "closed"}
    assert made == {}  # `govcenter demo` loaded it already: 8 tasks + 2 sub-tasks
    handler = User.objects.get(username="congestion")
    assert SupervisionTask.objects.restrict(handler).count() == 7  # the issued tasks 综合协调科 leads
    assert load_small() == {} and SupervisionTask.objects.count() == 10


def test_a_year_shows_every_colour_today(demo_org):
    year = deadlines.today().year
    made = load_year(year=year, scale=0.1, rng=random.Random(5))
    assert made["supervision_tasks"] >= 12 and made["reports"] > 0
    open_tasks = SupervisionTask.objects.filter(state__in=KIND.open_states, parent=None)
    assert {str(KIND.warning(t)) for t in open_tasks} >= {"none", "blue", "yellow", "red"}
    assert {"closed", "accepted", "reported"} <= set(SupervisionTask.objects.values_list("state", flat=True))
    scores = svc.unit_scores(year=year)
    assert scores and all(0 <= r["score"] <= 100 for r in scores)
    assert load_year(year=year, scale=0.1, rng=random.Random(5)) == {}
