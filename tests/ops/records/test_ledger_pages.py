"""Keeping the ledger from its page: a contract with its milestones, an assessment, a late
delivery, a milestone's dates — each through the services (audited), bad input answered on the
form with nothing written, and only for holders of the ledger permissions."""

from __future__ import annotations

import pytest
from django.test import Client

from govcenter.core.models import AuditEntry
from govcenter.ops.models import Contract, LateService, PaymentMilestone, QualityAssessment
from tests.factories import UnitFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


CONTRACT = {
    "number": "BTCGC-OM-2027", "name": "2027 年运维服务", "price": "1234567.89",
    "service_start": "2027-01-01", "service_end": "2027-12-31",
    "condition_1": "合同签订", "due_1": "2027-01-31", "condition_2": "中期考核合格", "due_2": "2027-07-31",
    "condition_3": "终期验收", "due_3": "2028-01-31",
}  # fmt: skip


@pytest.mark.django_db
def test_the_leader_keeps_the_ledger_on_its_page(team):
    contractor = UnitFactory(code="OM-C", kind="contractor")
    leader = client_for(team["leader"])
    page = leader.get("/ops/ledger/").content.decode()
    assert "/ops/ledger/new/" in page
    assert leader.get("/ops/ledger/new/").status_code == 200
    bad = leader.post("/ops/ledger/new/", {**CONTRACT, "contractor": contractor.pk, "service_end": "2026-12-31"})
    assert bad.status_code == 400 and not Contract.objects.exists()  # the service refuses: nothing written
    made = leader.post("/ops/ledger/new/", {**CONTRACT, "contractor": contractor.pk})
    contract = Contract.objects.get()
    assert made.status_code == 302 and made.url.endswith(f"#contract-{contract.number}")
    assert contract.price_fen == 123456789 and contract.bond_fen == 12345679  # 10 %, half up
    assert sum(m.amount_fen for m in contract.milestones.all()) == contract.price_fen
    again = leader.post("/ops/ledger/new/", {**CONTRACT, "contractor": contractor.pk})
    assert again.status_code == 409 and Contract.objects.count() == 1

    url = f"/ops/ledger/{contract.pk}/record/"
    assert leader.post(url + "assessment/", {"period_start": "2027-01-01", "period_end": "2027-06-30",
                                             "score": "101", "assessed_on": "2027-07-05"}).status_code == 400  # fmt: skip
    assert leader.post(url + "assessment/", {"period_start": "2027-01-01", "period_end": "2027-06-30",
                                             "score": "55", "assessed_on": "2027-07-05"}).status_code == 302  # fmt: skip
    assert QualityAssessment.objects.get().shortfall
    assert leader.post(url + "late/", {"deliverable": "季度巡检报告", "due_date": "2027-04-10",
                                       "delivered_on": "2027-04-10"}).status_code == 400  # on time is not late  # fmt: skip
    assert leader.post(url + "late/", {"deliverable": "季度巡检报告", "due_date": "2027-04-10",
                                       "delivered_on": "2027-04-13"}).status_code == 302  # fmt: skip
    assert LateService.objects.count() == 1
    assert leader.get(url + "nope/").status_code == 403

    first = contract.milestones.get(seq=1)
    assert leader.post(f"/ops/ledger/milestones/{first.pk}/", {"paid_on": "2027-02-01"}).status_code == 400
    assert leader.post(f"/ops/ledger/milestones/{first.pk}/",
                       {"condition_met_on": "2027-01-15", "paid_on": "2027-02-01"}).status_code == 302  # fmt: skip
    assert str(PaymentMilestone.objects.get(pk=first.pk).paid_on) == "2027-02-01"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"ops.contract.create", "ops.assessment.record", "ops.lateservice.record", "ops.milestone.update"} <= actions
    ledger = leader.get("/ops/ledger/?as_of=2027-05-01").content.decode()
    assert "季度巡检报告" in ledger and 'data-line="quality"' in ledger


@pytest.mark.django_db
def test_without_the_ledger_permissions_the_forms_are_closed(team):
    contractor = UnitFactory(code="OM-C", kind="contractor")
    auditor = client_for(team["auditor"])  # may view the ledger, not keep it
    assert "/ops/ledger/new/" not in auditor.get("/ops/ledger/").content.decode()
    assert auditor.get("/ops/ledger/new/").status_code == 403
    assert auditor.post("/ops/ledger/new/", {**CONTRACT, "contractor": contractor.pk}).status_code == 403
    assert not Contract.objects.exists()
