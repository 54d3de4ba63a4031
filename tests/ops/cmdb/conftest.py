from __future__ import annotations

import pytest

from govcenter.core.calendar import seed_calendar
from govcenter.ops import services as ops_services
from govcenter.ops.cmdb.baseline import seed_baselines
from govcenter.ops.cmdb.services import seed_inventory
from tests.factories import RoleFactory, UnitFactory, UserFactory

VIEW = ["ops.view_asset", "ops.view_assetrelation", "ops.view_vulnerability", "ops.view_remediationplan",
        "ops.view_baselinecheck"]  # fmt: skip
ENGINEER = [*VIEW, "ops.add_asset", "ops.change_asset", "ops.import_scan", "ops.plan_remediation",
            "ops.execute_remediation", "ops.check_baseline", "ops.view_incident"]  # fmt: skip
SECADMIN = [*VIEW, "ops.approve_remediation", "ops.verify_remediation"]


@pytest.fixture
def team(db):
    unit, other = UnitFactory(code="OM-ZHITONG"), UnitFactory(code="OM-OTHER")
    engineers = RoleFactory(scope_kind="own_unit", perms=ENGINEER)
    security = RoleFactory(scope_kind="all", perms=SECADMIN)
    return {
        "unit": unit,
        "other_unit": other,
        "engineer": UserFactory(username="eng1", unit=unit, role_set=[engineers]),
        "engineer2": UserFactory(username="eng2", unit=unit, role_set=[engineers]),
        "stranger": UserFactory(username="eng-other", unit=other, role_set=[engineers]),
        "secadmin": UserFactory(username="sec", unit=other, role_set=[security]),
    }


@pytest.fixture
def inventory(team):
    seed_calendar()
    ops_services.sla_policies_seed()
    seed_baselines()
    seed_inventory(unit=team["unit"])
    return team
