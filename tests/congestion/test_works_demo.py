"""The works demo: the small set through the services for the demo accounts (loaded once), and a
year at a small scale whose open projects show every colour on today's board."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.management import call_command

from govcenter.congestion import demo_works
from govcenter.congestion.api.works import INFRA_KIND
from govcenter.congestion.api.works import KIND as WORKS
from govcenter.congestion.models import InfraProject, ReliefWork
from govcenter.core.deadlines import today
from govcenter.core.models import User


@pytest.mark.django_db
def test_small_and_year_demo(settings):
    settings.DEBUG = True
    call_command("demo")  # the accounts and units — and every subsystem's small demo
    assert demo_works.load_small() == {}  # already loaded, once
    assert Counter(ReliefWork.objects.values_list("state", flat=True)) == {
        "planned": 1, "construction": 1, "completed": 1}  # fmt: skip
    assert InfraProject.objects.get().state == "feasibility"
    handler = User.objects.get(username="congestion")
    assert ReliefWork.objects.restrict(handler).count() == 3
    assert demo_works.load_small() == {}

    made = demo_works.load_year(year=today().year, scale=0.05, rng=random.Random(7))
    assert made == {"works": 6, "infra": 4}
    for kind in (WORKS, INFRA_KIND):
        year = kind.model.objects.exclude(title__startswith=demo_works.DEMO_MARK)
        colours = {str(kind.warning(case)) for case in year}
        assert colours == {"none", "blue", "yellow", "red"}, (kind.code, colours)
