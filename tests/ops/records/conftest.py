"""Fixtures of the records tests: an O&M unit with an engineer, another unit, a Center leader
and an auditor, on the real calendar and SLA policy table."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from govcenter.core.calendar import seed_calendar
from govcenter.ops import services as ops_services
from tests.factories import RoleFactory, UnitFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")
ENGINEER = ["ops.view_incident", "ops.add_incident", "ops.handle_incident", "ops.view_worklog", "ops.add_worklog",
            "ops.change_worklog", "ops.view_changerecord", "ops.add_changerecord", "ops.change_changerecord",
            "ops.view_trainingsession", "ops.add_trainingsession", "ops.change_trainingsession"]  # fmt: skip
LEADER = ["ops.view_incident", "ops.view_worklog", "ops.view_changerecord", "ops.approve_changerecord",
          "ops.view_trainingsession", "ops.view_contract", "ops.view_report", "ops.add_report", "ops.add_contract",
          "ops.add_qualityassessment", "ops.add_lateservice", "ops.change_paymentmilestone"]  # fmt: skip


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def team(db, settings, tmp_path):
    settings.GOVCENTER_VAR_DIR = tmp_path / "var"
    seed_calendar()
    ops_services.sla_policies_seed()
    unit, other = UnitFactory(code="OM-A"), UnitFactory(code="OM-B")
    engineers = RoleFactory(scope_kind="own_unit", perms=ENGINEER)
    leaders = RoleFactory(scope_kind="all", perms=LEADER)
    auditors = RoleFactory(scope_kind="all", perms=["ops.view_contract", "ops.view_report"])
    return {
        "unit": unit,
        "other_unit": other,
        "engineer": UserFactory(username="om-a", unit=unit, role_set=[engineers]),
        "colleague": UserFactory(username="om-a2", unit=unit, role_set=[engineers]),
        "stranger": UserFactory(username="om-b", unit=other, role_set=[engineers]),
        "leader": UserFactory(username="leader-x", unit=other, role_set=[leaders]),
        "auditor": UserFactory(username="auditor-x", unit=other, role_set=[auditors]),
    }
