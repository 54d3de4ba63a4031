"""The TIA demo: the small set in every working state through the services as the demo
accounts, and a year at a small scale whose open applications show every warning colour;
both loaded once."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.management import call_command

from govcenter.congestion import demo_tia
from govcenter.congestion.api.tia import KIND
from govcenter.congestion.models import TiaApplication
from govcenter.core.models import User


@pytest.mark.django_db
def test_demo_small_and_year(settings, tmp_path):
    settings.DEBUG = True
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path)
    call_command("demo")  # accounts, units, districts — and every subsystem's small demo
    assert demo_tia.load_small() == {}  # already loaded, once
    assert Counter(TiaApplication.objects.values_list("state", flat=True)) == {
        "submitted": 1, "supplementing": 1, "accepted": 1, "expert_review": 1, "revising": 1, "rejected": 1,
        "closed": 1,
    }  # fmt: skip
    reviewer, staff = User.objects.get(username="congestion"), User.objects.get(username="datastaff")
    assert TiaApplication.objects.restrict(reviewer).count() == 5  # the accepted ones, reviewed by 综合协调科
    assert TiaApplication.objects.restrict(staff).count() == 7
    assert demo_tia.load_small() == {}

    year = demo_tia.cases.now().year
    made = demo_tia.load_year(year=year, scale=0.02, rng=random.Random(5))
    assert made == {"tia": 8 + 4}
    mine = TiaApplication.objects.filter(title__startswith=demo_tia.YEAR_MARK)
    assert mine.count() == 12 and {a.year for a in mine} == {year}
    colours = Counter(str(KIND.warning(a)) for a in mine if KIND.is_open(a))
    assert {"none", "blue", "yellow", "red"} <= set(colours)
    assert demo_tia.load_year(year=year, scale=0.02, rng=random.Random(5)) == {}
