"""The proposals demo: the small set in its states through the services (once), and a year at a
small scale replayed on the services' clock."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone

from govcenter.congestion import demo_proposals, kinds
from govcenter.congestion.models import Proposal
from govcenter.core import deadlines
from govcenter.core.models import User


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("demo")


def test_small_demo(demo):
    Proposal.objects.all().delete()  # (in case the lead wired it into `govcenter demo` already)
    made = demo_proposals.load_small()
    assert made == {"proposals": 7}
    assert Counter(Proposal.objects.values_list("state", flat=True)) == {
        "registered": 1, "assigned": 1, "handling": 1, "reviewing": 1, "replied": 1, "awaiting_second": 1,
        "closed": 1,
    }  # fmt: skip
    handler = User.objects.get(username="congestion")
    assert Proposal.objects.restrict(handler).count() == 6
    assert demo_proposals.load_small() == {}


def test_a_year_at_a_small_scale(demo):
    year = deadlines.today().year
    made = demo_proposals.load_year(year=year, scale=0.1, rng=random.Random(7))
    rows = Proposal.objects.filter(year=year, title__startswith=demo_proposals.DEMO_MARK).exclude(
        assembly_number__startswith="D"
    )
    assert made["proposals"] == rows.count() >= 27
    states = Counter(rows.values_list("state", flat=True))
    assert len(states) >= 3 and states["closed"] >= 1, states
    assert all(p.created_at.year == year and p.created_at <= timezone.now() for p in rows)
    if deadlines.today() > dt.date(year, 5, 22):  # the stalled ones are made once the year is far enough on
        kind = kinds.get("proposals")
        assert {str(kind.warning(p)) for p in rows} >= {"none", "blue", "yellow", "red"}
