"""The ops part of ``govcenter demo``: three incidents on the clock, loaded once, on the pages."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from govcenter.core.models import User
from govcenter.ops.models import Incident


@pytest.mark.django_db
def test_demo_incidents(settings):
    settings.DEBUG = True
    call_command("demo")
    call_command("demo")  # loaded once
    states = dict(Incident.objects.values_list("title", "state"))
    assert sorted(states.values()) == ["closed", "reported", "responding"]
    weekend = Incident.objects.get(state="closed")
    assert weekend.day_kind == "restday" and weekend.pauses.get().ended_at is not None and weekend.review
    late = Incident.objects.get(state="responding")
    client = Client()
    client.force_login(User.objects.get(username="omengineer"))
    page = client.get("/ops/incidents/").content.decode()
    assert page.count("（演示）") == 3 and 'data-level="red"' in page  # the two-day-old S3 is overdue
    assert client.get(f"/ops/incidents/{late.pk}/").status_code == 200
