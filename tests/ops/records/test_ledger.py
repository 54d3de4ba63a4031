"""The contract ledger: milestones sum to the price, the bond, the penalty lines and their caps,
traceability to the incidents, the bond decision per grade, the CLI."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core.models import AuditEntry
from govcenter.ops import incidents as inc
from govcenter.ops import ledger
from govcenter.ops.ledger import services as svc
from govcenter.ops.models import Contract, PaymentMilestone

from .conftest import at

PRICE = 1_000_000_01  # 1,000,000.01 yuan: every percentage needs rounding


def make_contract(team, price=PRICE, number="YW-T-1") -> Contract:
    return svc.contract_create(
        actor=team["leader"], number=number, name="运维服务", contractor=team["unit"], price_fen=price,
        service_start=dt.date(2026, 1, 1), service_end=dt.date(2026, 12, 31),
        milestones=[{"condition": c, "due_date": dt.date(2026, m, 1)} for c, m in (("进场", 2), ("中期", 7), ("期满", 12))],
    )  # fmt: skip


def fault(team, day: str, *, hours: float, contractor=True, unit=None, severity="S2"):
    reported = at(f"{day}T10:00")
    actor = team["stranger"] if unit is not None else team["engineer"]
    incident = inc.incident_open(actor=actor, title="接口故障", severity=severity,
                                 unit=unit or team["unit"], reported_at=reported)  # fmt: skip
    return inc.incident_resolve(actor=actor, incident=incident, root_cause="配置错误", resolution="修正",
                                contractor_caused=contractor, at=reported + dt.timedelta(hours=hours))  # fmt: skip


@pytest.mark.parametrize("price", [1, 3, 7, 99, 101, 1001, 333_333, PRICE, 987_654_321])
def test_milestones_sum_to_the_price_the_last_absorbing_the_rounding(price):
    amounts = ledger.milestone_amounts(price)
    assert sum(amounts) == price
    # each of the first two is its share rounded half up; independent arithmetic in Decimal
    from decimal import ROUND_HALF_UP, Decimal

    for amount, pct in zip(amounts[:2], (50, 40), strict=True):
        assert amount == int((Decimal(price) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_the_contract_stores_three_milestones_and_the_bond(team):
    contract = make_contract(team)
    rows = list(PaymentMilestone.objects.filter(contract=contract).values_list("percent", "amount_fen"))
    assert [p for p, _a in rows] == [50, 40, 10] and sum(a for _p, a in rows) == PRICE
    assert rows[0][1] == 50_000_001  # 50 000 000.5 fen rounds half up
    assert contract.bond_fen == 10_000_000  # 10 000 000.1 fen rounds down
    assert ledger.bond_fen(5) == 1 and ledger.bond_fen(15) == 2 and ledger.bond_fen(14) == 1
    assert AuditEntry.objects.filter(action="ops.contract.create", object_id=str(contract.pk)).exists()


def test_late_service_is_one_percent_a_day_capped_at_five(team):
    contract = make_contract(team)
    svc.late_service_record(actor=team["leader"], contract=contract, deliverable="月度巡检报告",
                            due_date=dt.date(2026, 3, 10), delivered_on=dt.date(2026, 3, 13))  # fmt: skip
    line = ledger.penalties(contract, dt.date(2026, 3, 31)).lines[0]
    assert line.key == "late_service" and line.count == 3
    assert line.amount_fen == ledger.percent_of(PRICE, 300) and not line.as_dict()["capped"]
    # an undelivered one counts its days up to as_of: 3 + 4 = 7 days, over the 5 % cap
    open_row = svc.late_service_record(actor=team["leader"], contract=contract, deliverable="季度报告",
                                       due_date=dt.date(2026, 4, 1))  # fmt: skip
    line = ledger.penalties(contract, dt.date(2026, 4, 5)).lines[0]
    assert line.count == 7 and line.uncapped_fen == ledger.percent_of(PRICE, 700)
    assert line.amount_fen == ledger.percent_of(PRICE, 500) and line.as_dict()["capped"]
    assert [s["id"] for s in line.sources][-1] == open_row.pk
    # facts after as_of are not counted
    assert ledger.penalties(contract, dt.date(2026, 3, 10)).lines[0].amount_fen == 0


def test_each_contractor_fault_over_12_hours_is_one_percent_capped_at_ten_and_traceable(team):
    contract = make_contract(team)
    counted = [fault(team, f"2026-06-{day:02d}", hours=13) for day in range(1, 13)]  # 12 faults
    fault(team, "2026-06-20", hours=13, contractor=False)  # the Center's own: not counted
    fault(team, "2026-06-21", hours=11)  # under 12 hours
    fault(team, "2026-06-22", hours=20, unit=team["other_unit"])  # another contractor
    fault(team, "2025-12-30", hours=20)  # before the service period
    assert all(i.breach for i in counted)
    result = ledger.penalties(contract, dt.date(2026, 6, 30))
    line = next(line for line in result.lines if line.key == "fault")
    assert line.count == 12
    assert [s["label"] for s in line.sources] == [i.number for i in counted]
    assert line.uncapped_fen == ledger.percent_of(PRICE, 1200)
    assert line.amount_fen == ledger.percent_of(PRICE, 1000) == 10_000_000
    # as of the 5th only the first five count, uncapped
    early = next(line for line in ledger.penalties(contract, dt.date(2026, 6, 5)).lines if line.key == "fault")
    assert early.count == 5 and early.amount_fen == ledger.percent_of(PRICE, 500)


def test_a_quality_shortfall_is_ten_percent_and_decides_the_bond(team):
    contract = make_contract(team)
    passing = svc.assessment_record(actor=team["leader"], contract=contract, period_start=dt.date(2026, 1, 1),
                                    period_end=dt.date(2026, 3, 31), score=60, assessed_on=dt.date(2026, 4, 10))  # fmt: skip
    assert passing.grade == "pass" and not passing.shortfall
    failing = svc.assessment_record(actor=team["leader"], contract=contract, period_start=dt.date(2026, 4, 1),
                                    period_end=dt.date(2026, 6, 30), score=59, assessed_on=dt.date(2026, 7, 10))  # fmt: skip
    assert failing.grade == "fail" and failing.shortfall
    before = ledger.penalties(contract, dt.date(2026, 7, 9))
    assert before.total_fen == 0 and before.grade == "pass" and before.bond_returned
    after = ledger.penalties(contract, dt.date(2026, 7, 10))
    quality = next(line for line in after.lines if line.key == "quality")
    assert quality.amount_fen == ledger.percent_of(PRICE, 1000) and [s["id"] for s in quality.sources] == [failing.pk]
    assert after.total_fen == quality.amount_fen
    assert after.grade == "fail" and after.bond_returned is False and after.bond_return_fen == 0


@pytest.mark.parametrize(("score", "grade", "returned"), [(95, "excellent", True), (85, "good", True),
                                                          (70, "pass", True), (30, "fail", False)])  # fmt: skip
def test_the_bond_decision_per_grade(team, score, grade, returned):
    contract = make_contract(team)
    fault(team, "2026-05-06", hours=14)  # one 1 % penalty
    svc.assessment_record(actor=team["leader"], contract=contract, period_start=dt.date(2026, 4, 1),
                          period_end=dt.date(2026, 6, 30), score=score, assessed_on=dt.date(2026, 7, 10))  # fmt: skip
    result = ledger.penalties(contract, dt.date(2026, 7, 31))
    assert result.grade == grade and result.bond_returned is returned
    expected = contract.bond_fen - result.total_fen if returned else 0
    assert result.bond_return_fen == expected


def test_the_bond_policy_is_configurable(team, settings):
    settings.GOVCENTER_OPS_BOND_RETURN_GRADES = ("excellent", "good")
    contract = make_contract(team)
    svc.assessment_record(actor=team["leader"], contract=contract, period_start=dt.date(2026, 1, 1),
                          period_end=dt.date(2026, 3, 31), score=70, assessed_on=dt.date(2026, 4, 1))  # fmt: skip
    assert ledger.penalties(contract, dt.date(2026, 4, 30)).bond_returned is False


def test_the_command_prints_the_ledger_as_json(team):
    contract = make_contract(team)
    breach = fault(team, "2026-05-06", hours=14)
    out = StringIO()
    call_command("ops", "ledger", "--contract", contract.number, "--as-of", "2026-05-31", stdout=out)
    data = json.loads(out.getvalue())
    lines = {line["key"]: line for line in data["lines"]}
    assert lines["fault"]["sources"][0]["label"] == breach.number
    assert data["total_fen"] == lines["fault"]["amount_fen"] == ledger.percent_of(PRICE, 100)
    assert sum(m["amount_fen"] for m in data["milestones"]) == PRICE


@pytest.mark.parametrize(("args", "message"), [(["--contract", "NOPE"], "no contract"),
                                               (["--contract", "YW-T-1", "--as-of", "31/05/2026"], "is not a date")])  # fmt: skip
def test_the_command_refuses_bad_input(team, args, message):
    make_contract(team)
    with pytest.raises(CommandError, match=message):
        call_command("ops", "ledger", *args)


def test_the_ledger_page_links_every_fault_to_its_incident(team, client):
    contract = make_contract(team)
    breach = fault(team, "2026-05-06", hours=14)
    client.force_login(team["auditor"])
    page = client.get("/ops/ledger/", {"as_of": "2026-05-31"}).content.decode()
    assert f'href="/ops/incidents/{breach.pk}/"' in page and contract.number in page
    client.force_login(team["engineer"])  # no view_contract
    assert client.get("/ops/ledger/").status_code == 403


def test_the_admin_adds_a_contract_through_the_service(team, admin_client):
    form = {"number": "YW-ADM-1", "name": "运维服务", "contractor": team["unit"].pk, "price_fen": "1001",
            "service_start": "2026-01-01", "service_end": "2026-12-31",
            "conditions": "进场\n中期考核合格\n期满", "due_dates": "2026-02-01,2026-07-31,2027-01-31"}  # fmt: skip
    response = admin_client.post("/admin/ops/contract/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    contract = Contract.objects.get(number="YW-ADM-1")
    assert contract.bond_fen == 100 and [m.amount_fen for m in contract.milestones.all()] == [501, 400, 100]
    assert AuditEntry.objects.filter(action="ops.contract.create", object_id=str(contract.pk)).exists()
    assert admin_client.get(f"/admin/ops/contract/{contract.pk}/change/").status_code == 200
    bad = admin_client.post("/admin/ops/contract/add/", {**form, "number": "YW-ADM-2", "due_dates": "2026-02-01"})
    assert bad.status_code == 200 and not Contract.objects.filter(number="YW-ADM-2").exists()


def test_a_milestone_is_paid_only_once_its_condition_is_met(team):
    contract = make_contract(team)
    first = contract.milestones.get(seq=1)
    from govcenter.core.api.errors import ServiceError

    with pytest.raises(ServiceError):
        svc.milestone_update(actor=team["leader"], milestone=first, condition_met_on=None, paid_on=dt.date(2026, 2, 3))
    row = svc.milestone_update(actor=team["leader"], milestone=first, condition_met_on=dt.date(2026, 1, 20),
                               paid_on=dt.date(2026, 2, 3))  # fmt: skip
    assert row.paid_on == dt.date(2026, 2, 3)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        svc.contract_create(actor=team["engineer"], number="X", name="x", contractor=team["unit"], price_fen=1,
                            service_start=dt.date(2026, 1, 1), service_end=dt.date(2026, 1, 2), milestones=[])  # fmt: skip
