"""``govcenter ops demo``: a quarter of history through the services, loaded once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core.calendar import is_statutory_holiday, is_workday
from govcenter.ops.models import ChangeRecord, Contract, Incident, TrainingSession, WorkLog
from govcenter.ops.records.demo_incidents import MARK


@pytest.mark.django_db
def test_ops_demo_loads_a_quarter_once(settings):
    with pytest.raises(CommandError, match="demo accounts"):
        call_command("ops", "demo", "--days", "30")
    settings.DEBUG = True
    call_command("demo")
    out = StringIO()
    call_command("ops", "demo", "--days", "90", stdout=out)
    table = out.getvalue()
    assert "demo_incidents.load_demo" in table and "worklogs" in table
    incidents = list(Incident.objects.filter(title__startswith=MARK))
    days = {i.reported_at.date() for i in incidents}
    assert any(is_statutory_holiday(d) for d in days) and any(not is_workday(d) for d in days)
    assert any(i.breach and i.contractor_caused for i in incidents)
    assert all(i.unit.code == "OM-ZHITONG" for i in incidents)
    counts = (len(incidents), WorkLog.objects.count(), ChangeRecord.objects.count(), TrainingSession.objects.count())
    assert min(counts) > 0 and Contract.objects.count() == 1
    call_command("ops", "demo", "--days", "90", stdout=StringIO())
    assert (Incident.objects.filter(title__startswith=MARK).count(), WorkLog.objects.count(),
            ChangeRecord.objects.count(), TrainingSession.objects.count()) == counts  # fmt: skip
    with pytest.raises(CommandError, match="--days"):
        call_command("ops", "demo", "--days", "0")
