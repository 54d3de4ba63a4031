"""The CMDB: the contract's inventory, exactly; an idempotent seed; the relation rules; the
expiry alerts opening one incident per asset + kind + threshold; hardening compliance."""

from __future__ import annotations

import datetime as dt

import pytest

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.ops.cmdb import baseline, expiry, services
from govcenter.ops.models import Asset, AssetRelation, BaselineItem, Incident

CONTRACT = {
    "neokylin-v6": 51, "neokylin-v7": 18, "tongweb-6": 10, "dsvs10000": 4, "dsvs4000": 4, "v7000-c-p": 2,
    "supersync": 1, "topwaf-server": 1, "topwaf-client": 5, "topaudit-server": 2, "topaudit-client": 69,
    "usbkey-personal": 75, "usbkey-unit": 100, "https-cert": 1,
}  # fmt: skip


def test_the_inventory_is_the_contracts_list_exactly(inventory):
    counts = {key: Asset.objects.filter(contract_item=key).count() for key in CONTRACT}
    assert counts == CONTRACT
    assert Asset.objects.exclude(contract_item="").count() == sum(CONTRACT.values()) == 343
    assert Asset.objects.filter(contract_item="neokylin-v6", version="V6.0", asset_class="server").count() == 51
    assert Asset.objects.get(code="SRV-KY6-051").ip == "10.10.6.51"
    assert not Asset.objects.filter(code="SRV-KY6-052").exists()
    cert = Asset.objects.get(contract_item="https-cert")
    assert cert.cert_expires_on == dt.date(2027, 6, 30)
    assert services.contract_counts() == CONTRACT  # the data file says the same


def test_relations_follow_the_inventory(inventory):
    servers = Asset.objects.filter(asset_class="server")
    # one TopAudit client on every server, each server once
    installed = AssetRelation.objects.filter(kind="installed_on")
    assert installed.count() == 69 and set(installed.values_list("target", flat=True)) == set(servers.values_list("pk", flat=True))
    runs = AssetRelation.objects.filter(kind="runs_on", source__contract_item="tongweb-6")
    assert runs.count() == 10 and all(r.target.contract_item == "neokylin-v7" for r in runs)
    assert AssetRelation.objects.filter(kind="protects", source__contract_item="topwaf-client").count() == 5
    app = Asset.objects.get(code="APP-GOVCENTER")
    assert app.relations_out.filter(kind="runs_on").count() == 10
    assert AssetRelation.objects.filter(kind="issued_to", target=app, source__asset_class="certificate").count() == 1


def test_the_seed_is_idempotent(inventory):
    assets, relations, audits = Asset.objects.count(), AssetRelation.objects.count(), AuditEntry.objects.count()
    again = services.seed_inventory(unit=inventory["unit"])
    assert again["created"] == 0 and again["relations"] == 0 and again["unchanged"] == assets
    assert (Asset.objects.count(), AssetRelation.objects.count(), AuditEntry.objects.count()) == (assets, relations, audits)


def test_the_seed_without_its_unit_creates_nothing(db, settings):
    settings.GOVCENTER_OPS_CMDB_UNIT = "NO-SUCH-UNIT"
    assert services.seed_inventory() == {"skipped": 1}
    assert Asset.objects.count() == 0


def test_relation_rules(inventory):
    eng = inventory["engineer"]
    server, other_server = Asset.objects.get(code="SRV-KY7-011"), Asset.objects.get(code="SRV-KY7-012")
    tongweb = Asset.objects.get(code="MW-TW6-001")
    key = Asset.objects.get(code="KEY-P-001")
    with pytest.raises(ServiceError) as loop:
        services.relation_add(actor=eng, source=server, kind="depends_on", target=server)
    assert loop.value.error_code == "self_loop"
    with pytest.raises(ServiceError) as duplicate:
        services.relation_add(actor=eng, source=tongweb, kind="runs_on", target=Asset.objects.get(code="SRV-KY7-001"))
    assert duplicate.value.error_code == "duplicate"
    with pytest.raises(ServiceError) as wrong_target:
        services.relation_add(actor=eng, source=tongweb, kind="runs_on", target=key)
    assert wrong_target.value.error_code == "invalid_relation"
    with pytest.raises(ServiceError) as wrong_source:
        services.relation_add(actor=eng, source=key, kind="runs_on", target=server)
    assert wrong_source.value.error_code == "invalid_relation"
    with pytest.raises(ServiceError) as scope:
        services.relation_add(actor=inventory["stranger"], source=server, kind="depends_on", target=other_server)
    assert scope.value.status_code == 403
    relation = services.relation_add(actor=eng, source=server, kind="depends_on", target=other_server)
    assert relation.pk and AuditEntry.objects.filter(action="ops.asset.relate", object_id=str(server.pk)).exists()


def test_asset_create_and_update_are_audited_and_scoped(inventory):
    eng = inventory["engineer"]
    asset = services.asset_create(actor=eng, code="srv-new-001", name="新服务器", asset_class="server",
                                  unit=inventory["unit"], ip="10.20.0.1", hostname="new-001")  # fmt: skip
    assert asset.code == "SRV-NEW-001"
    with pytest.raises(ServiceError) as dup:
        services.asset_create(actor=eng, code="SRV-NEW-001", name="x", asset_class="server", unit=inventory["unit"])
    assert dup.value.status_code == 409
    with pytest.raises(ServiceError):
        services.asset_create(actor=eng, code="X-1", name="x", asset_class="server", unit=inventory["other_unit"])
    services.asset_update(actor=eng, asset=asset, status="spare", notes="备机")
    entry = AuditEntry.objects.filter(action="ops.asset.update", object_id=str(asset.pk)).get()
    assert entry.changes["after"] == {"notes": "备机", "status": "spare"}
    with pytest.raises(ServiceError):
        services.asset_update(actor=inventory["stranger"], asset=asset, notes="x")


def test_expiry_alert_opens_one_incident_per_threshold(inventory, settings):
    settings.GOVCENTER_OPS_CMDB_EXPIRY_DAYS = [60, 30, 7]
    today = dt.date(2027, 6, 1)  # the certificate expires on 2027-06-30: 29 days → the 30-day threshold
    found = expiry.expiring(today=today)
    assert [(e.asset.code, e.kind, e.days_left, e.threshold) for e in found] == [("CERT-HTTPS-001", "cert", 29, 30)]
    first = expiry.raise_alerts(today=today)
    assert len(first["opened"]) == 1 and first["existing"] == []
    again = expiry.raise_alerts(today=today + dt.timedelta(days=1))
    assert again["opened"] == [] and again["existing"] == first["opened"]
    incident = Incident.objects.get(number=first["opened"][0])
    assert incident.source == "alert" and incident.severity == "S3" and "CERT-HTTPS-001" in incident.title
    assert incident.alert_key == "am:cmdb-expiry:CERT-HTTPS-001:cert:30" and incident.unit == inventory["unit"]
    week = expiry.raise_alerts(today=dt.date(2027, 6, 25))  # 5 days left: the 7-day threshold, a new incident
    assert len(week["opened"]) == 1 and Incident.objects.get(number=week["opened"][0]).severity == "S2"
    assert Incident.objects.filter(source="alert").count() == 2


def test_retired_assets_raise_no_alert(inventory):
    Asset.objects.filter(contract_item="https-cert").update(status="retired")
    assert expiry.expiring(today=dt.date(2027, 6, 25)) == []


def test_hardening_compliance(inventory):
    eng = inventory["engineer"]
    server = Asset.objects.get(code="SRV-KY6-001")
    items = list(BaselineItem.objects.filter(baseline="neokylin-v6"))
    assert len(items) == 14 and all("GB/T 22239" in i.source for i in items)
    assert BaselineItem.objects.filter(baseline="neokylin-v7").count() == 14
    for item in items[:10]:
        baseline.record_check(actor=eng, asset=server, item=item, result="pass", evidence="ok")
    baseline.record_check(actor=eng, asset=server, item=items[10], result="fail", evidence="PermitRootLogin yes")
    baseline.record_check(actor=eng, asset=server, item=items[11], result="na")
    with pytest.raises(ServiceError):
        baseline.record_check(actor=eng, asset=server, item=items[12], result="fail", evidence="")
    v7_item = BaselineItem.objects.filter(baseline="neokylin-v7").first()
    with pytest.raises(ServiceError):
        baseline.record_check(actor=eng, asset=server, item=v7_item, result="pass")
    with pytest.raises(ServiceError):
        baseline.record_check(actor=inventory["stranger"], asset=server, item=items[0], result="pass")
    result = baseline.compliance([server])
    row = result["servers"][0]
    assert (row["passed"], row["failed"], row["na"], row["unchecked"], row["applicable"]) == (10, 1, 1, 2, 13)
    assert row["rate"] == round(100 * 10 / 13, 1)
    overall = baseline.compliance(Asset.objects.filter(asset_class="server"))["overall"]
    assert overall["servers"] == 69 and overall["passed"] == 10 and overall["applicable"] == 69 * 14 - 1
    # a re-check replaces the result, audited before → after
    baseline.record_check(actor=eng, asset=server, item=items[10], result="pass", evidence="已改为 no")
    assert baseline.compliance([server])["servers"][0]["passed"] == 11
    entry = AuditEntry.objects.filter(action="ops.baseline.check").order_by("-seq").first()
    assert entry.changes["before"]["result"] == "fail" and entry.changes["after"]["result"] == "pass"


def test_the_daily_task_and_the_cli(inventory, settings):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from govcenter.ops.cmdb.tasks import cmdb_expiry_alerts_daily

    Asset.objects.filter(code="MW-TW6-003").update(licence_expires_on=dt.date.today() + dt.timedelta(days=3))
    result = cmdb_expiry_alerts_daily.call_local()
    assert len(result["opened"]) == 1
    assert cmdb_expiry_alerts_daily.call_local() == {"opened": [], "existing": result["opened"]}
    out = io.StringIO()
    call_command("ops", "cmdb", "seed-inventory", "--unit", "OM-ZHITONG", stdout=out)
    assert '"created": 0' in out.getvalue()
    with pytest.raises(CommandError) as exc:
        call_command("ops", "cmdb", "seed-inventory", "--unit", "NOPE")
    assert exc.value.returncode == 2


def test_builtin_roles_get_the_cmdb_permissions(db):
    from govcenter.core.models import Role
    from govcenter.core.roles import ensure_builtin_roles

    ensure_builtin_roles()

    def perms(code):
        role = Role.objects.get(code=code)
        return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")}

    assert {"ops.import_scan", "ops.plan_remediation", "ops.execute_remediation", "ops.add_asset"} <= perms("om_engineer")
    assert "ops.approve_remediation" not in perms("om_engineer")
    assert {"ops.approve_remediation", "ops.verify_remediation", "ops.view_asset"} <= perms("secadmin")
    assert "ops.approve_remediation" in perms("center_leader") and "ops.verify_remediation" not in perms("center_leader")
