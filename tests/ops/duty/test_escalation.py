"""The escalation chain: levels due from the incident's SLA clock, each notified once (in-app,
SMS for S1/S2 through the outbox), to whoever is on duty; a paused incident does not escalate."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from govcenter.core.models import AuditEntry, Notification, SmsMessage
from govcenter.ops import incidents as svc
from govcenter.ops.duty import escalation, roster
from govcenter.ops.duty.seed import duty_seed
from govcenter.ops.models import DutyAssignment, EscalationEvent, Shift
from tests.factories import RoleFactory, UnitFactory, UserFactory
from tests.ops.duty.test_roster import TZ


@pytest.fixture
def desk(db):
    from govcenter.core.calendar import seed_calendar
    from govcenter.core.sms import sms_templates_sync
    from govcenter.ops import services

    seed_calendar()
    services.sla_policies_seed()
    duty_seed()
    sms_templates_sync()
    unit = UnitFactory(code="OM-A")
    role = RoleFactory(scope_kind="own_unit", perms=["ops.view_incident", "ops.add_incident", "ops.handle_incident"])
    leader_role = RoleFactory(code="center_leader", scope_kind="all", perms=["ops.view_incident"])
    primary = UserFactory(username="primary", unit=unit, role_set=[role], phone="13800000001")
    backup = UserFactory(username="backup", unit=unit, role_set=[role], phone="13800000002")
    leader = UserFactory(username="leader1", unit=UnitFactory(code="CTR"), role_set=[leader_role], phone="13800000003")
    # a Sunday-to-Monday roster by hand: the escalation reads whoever sits on the seats
    now = timezone.now().astimezone(TZ)
    day = now.date() - dt.timedelta(days=1)
    for d in (day, day + dt.timedelta(days=1)):
        for shift in Shift.objects.all():
            begin, end = roster.shift_span(shift, d)
            DutyAssignment.objects.create(unit=unit, date=d, shift=shift, role="engineer", starts_at=begin,
                                          ends_at=end, day_kind="workday", primary=primary, backup=backup)  # fmt: skip
    return {"unit": unit, "primary": primary, "backup": backup, "leader": leader, "now": now}


def open_s1(desk, minutes_ago: int):
    reported = desk["now"] - dt.timedelta(minutes=minutes_ago)
    return svc.incident_open(actor=desk["primary"], title="门户网站无法访问", severity="S1", unit=desk["unit"],
                             reported_at=reported)  # fmt: skip


def test_due_levels_follow_the_clock_and_notify_once(desk, django_capture_on_commit_callbacks):
    incident = open_s1(desk, 20)  # S1: L1 at 5 min (primary), L2 at 15 (backup), L3 at 30 (leader)
    due = [(lv.level, at) for lv, at in escalation.due_levels(incident, now=desk["now"])]
    assert [lv for lv, _ in due] == [1, 2]
    assert due[0][1] == incident.reported_at + dt.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):  # the SMS leave after the commit
        counts = escalation.escalate(now=desk["now"])
    assert counts["notified"] == 2
    events = {e.level: e for e in EscalationEvent.objects.filter(incident=incident)}
    assert [r["id"] for r in events[1].recipients] == [desk["primary"].pk]
    assert [r["id"] for r in events[2].recipients] == [desk["backup"].pk]
    assert events[1].channel == "app+sms"
    assert Notification.objects.filter(recipient=desk["primary"], verb="escalate").count() == 1
    assert SmsMessage.objects.filter(template="ops_escalation").count() == 2
    # idempotent: walking again notifies nobody
    again = escalation.escalate(now=desk["now"])
    assert again["notified"] == 0 and again["already"] == 2
    assert Notification.objects.filter(verb="escalate").count() == 2
    assert AuditEntry.objects.filter(action="ops.incident.escalate").count() == 2
    # ten minutes later the duty leader's level falls due: no leader seat, so the Center's leaders
    later = escalation.escalate(now=desk["now"] + dt.timedelta(minutes=10))
    assert later["notified"] == 1
    assert EscalationEvent.objects.get(incident=incident, level=3).recipients[0]["id"] == desk["leader"].pk


def test_a_response_stops_the_respond_levels(desk):
    incident = open_s1(desk, 10)
    svc.incident_respond(actor=desk["primary"], incident=incident, at=desk["now"] - dt.timedelta(minutes=8))
    assert escalation.escalate(now=desk["now"])["notified"] == 0
    assert not EscalationEvent.objects.exists()


def test_a_paused_incident_does_not_escalate_and_pauses_move_the_due_time(desk):
    incident = open_s1(desk, 140)
    incident = svc.incident_pause(actor=desk["primary"], incident=incident, reason="等待运营商",
                                  at=desk["now"] - dt.timedelta(minutes=138))  # fmt: skip
    assert escalation.due_levels(incident, now=desk["now"]) == []
    assert escalation.escalate(now=desk["now"])["notified"] == 0  # paused: the clock stands still
    incident = svc.incident_resume(actor=desk["primary"], incident=incident, at=desk["now"] - dt.timedelta(minutes=118))
    # the resume counts as the response: the respond levels (1–3) are over; the resolve level
    # (4, 120 running minutes) falls due 2 + 118 = 120 minutes in, i.e. now, not 20 minutes ago
    due = escalation.due_levels(incident, now=desk["now"])
    assert [(lv.level, at) for lv, at in due] == [(4, desk["now"])]
    assert escalation.due_levels(incident, now=desk["now"] - dt.timedelta(seconds=1)) == []
    assert escalation.escalate(now=desk["now"])["notified"] == 1
    event = EscalationEvent.objects.get(incident=incident)
    assert event.level == 4 and event.recipients[0]["id"] == desk["leader"].pk  # the center_leader role


def test_the_command_and_the_incident_page(desk, client):
    incident = open_s1(desk, 6)
    out = StringIO()
    call_command("ops", "escalate", "--now", desk["now"].isoformat(), stdout=out)
    assert json.loads(out.getvalue())["notified"] == 1
    with pytest.raises(CommandError) as bad:
        call_command("ops", "escalate", "--now", "yesterday")
    assert bad.value.returncode == 2
    watcher = UserFactory(unit=desk["unit"], role_set=[RoleFactory(scope_kind="own_unit", perms=[
        "ops.view_incident", "ops.view_escalationevent"])])  # fmt: skip
    client.force_login(watcher)
    page = client.get(f"/ops/incidents/{incident.pk}/").content.decode()
    assert "data-escalation" in page and 'data-level="1" data-notified' in page and 'data-level="2"' in page


def test_backfill_records_the_history_without_notifying(desk):
    incident = open_s1(desk, 40)  # responded after 20 minutes: levels 1 (5) and 2 (15) fell due before
    incident = svc.incident_respond(actor=desk["primary"], incident=incident, at=desk["now"] - dt.timedelta(minutes=20))
    assert escalation.backfill(incident, now=desk["now"]) == 2
    assert escalation.backfill(incident, now=desk["now"]) == 0
    assert sorted(EscalationEvent.objects.values_list("level", flat=True)) == [1, 2]
    assert not Notification.objects.filter(verb="escalate").exists()
