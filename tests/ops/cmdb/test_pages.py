"""资产 and 漏洞整改 pages and the API: scope, filters, the upload form and the API's 400 on
a bad file, the report download; the report section and the small demo."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from govcenter.ops.cmdb import report, vulns
from govcenter.ops.models import Asset, Vulnerability
from tests.factories import DEFAULT_PASSWORD

GOOD = b"host,vuln_id,port,severity,name\n10.10.6.1,X-1,22,High,Weak SSH\n"
BAD = b"host,vuln_id,port,severity,name\n10.10.6.1,X-1,22,High,Weak SSH\n10.9.9.9,X-2,22,Urgent,Bad\n"


def login(client, user):
    assert client.login(username=user.username, password=DEFAULT_PASSWORD)
    return client


def test_asset_list_filters_and_scope(client, inventory):
    login(client, inventory["engineer"])
    page = client.get("/ops/assets/", {"asset_class": "signature_server"})
    assert page.status_code == 200 and page.context["total_count"] == 10
    assert client.get("/ops/assets/", {"q": "SRV-KY7"}).context["total_count"] == 18
    Asset.objects.filter(code="MW-TW6-002").update(licence_expires_on=dt.date.today() + dt.timedelta(days=10))
    expiring = client.get("/ops/assets/", {"expiring": "true"})
    assert expiring.context["total_count"] == 1 and b"MW-TW6-002" in expiring.content and b'data-expiring="1"' in expiring.content
    server = Asset.objects.get(code="SRV-KY7-001")
    detail = client.get(f"/ops/assets/{server.pk}/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "MW-TW6-001" in text and "AUD-CLI-052" in text and "KY-06" in text  # relations in, checklist
    client.logout()
    login(client, inventory["stranger"])
    assert client.get(f"/ops/assets/{server.pk}/").status_code == 404
    assert client.get("/ops/assets/").context["total_count"] == 0


def test_asset_form_and_relation_form(client, inventory):
    login(client, inventory["engineer"])
    response = client.post("/ops/assets/new/", {"code": "SRV-X-001", "name": "新服务器", "asset_class": "server",
                                                "unit": inventory["unit"].pk, "status": "in_service", "ip": "10.30.0.1"})  # fmt: skip
    asset = Asset.objects.get(code="SRV-X-001")
    assert response.status_code == 302
    bad = client.post(f"/ops/assets/{asset.pk}/relations/", {"kind": "depends_on", "target": "SRV-X-001"})
    assert bad.status_code == 400 and "不能与自身" in bad.content.decode()
    ok = client.post(f"/ops/assets/{asset.pk}/relations/", {"kind": "depends_on", "target": "SIG-DSVS10K-001"})
    assert ok.status_code == 302 and asset.relations_out.count() == 1


def test_import_form_and_api(client, inventory):
    login(client, inventory["engineer"])
    bad = client.post("/ops/vulns/import/", {"scanner": "generic", "file": SimpleUploadedFile("bad.csv", BAD)})
    assert bad.status_code == 400 and "第 3 行" in bad.content.decode() and Vulnerability.objects.count() == 0
    good = client.post("/ops/vulns/import/", {"scanner": "generic", "file": SimpleUploadedFile("good.csv", GOOD)})
    assert good.status_code == 302 and Vulnerability.objects.count() == 1
    api = APIClient()
    api.force_authenticate(inventory["engineer"])
    refused = api.post("/api/v1/ops/vulns/import", {"scanner": "generic", "file": SimpleUploadedFile("b.csv", BAD)},
                       format="multipart")  # fmt: skip
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "invalid_scan" and set(body["details"]["lines"]) == {"3"}
    assets = api.get("/api/v1/ops/assets/", {"asset_class": "usb_key"})
    assert assets.status_code == 200 and assets.json()["count"] == 175
    server = Asset.objects.get(code="SRV-KY7-001")
    detail = api.get(f"/api/v1/ops/assets/{server.pk}/").json()
    assert {r["source_code"] for r in detail["relations_in"] if r["kind"] == "runs_on"} == {"MW-TW6-001"}
    assert api.get("/api/v1/ops/vulns/").json()["count"] == 1


def test_plan_pages_and_report_download(client, inventory):
    eng, sec = inventory["engineer"], inventory["secadmin"]
    vulns.import_scan(actor=eng, data=GOOD, scanner="generic")
    v = Vulnerability.objects.get()
    login(client, eng)
    response = client.post(f"/ops/vulns/plans/new/?v={v.pk}", {
        "title": "SSH 加固", "window_start": "2026-11-20T22:00", "window_end": "2026-11-21T01:00", "risk": "low",
        "steps": "修改 sshd_config 禁用弱算法 || 恢复 sshd_config 备份\n重启 sshd",
    })  # fmt: skip
    assert response.status_code == 400 and "回退" in response.content.decode()  # the second step has no rollback
    response = client.post(f"/ops/vulns/plans/new/?v={v.pk}", {
        "title": "SSH 加固", "window_start": "2026-11-20T22:00", "window_end": "2026-11-21T01:00", "risk": "low",
        "steps": "修改 sshd_config 禁用弱算法 || 恢复 sshd_config 备份\n重启 sshd || 恢复后重启 sshd",
    })  # fmt: skip
    assert response.status_code == 302
    plan = Vulnerability.objects.get().plan
    page = client.get(f"/ops/vulns/plans/{plan.pk}/")
    assert 'data-step="approve"' not in page.content.decode()  # not for the planner
    client.logout()
    login(client, sec)
    assert 'data-step="approve"' in client.get(f"/ops/vulns/plans/{plan.pk}/").content.decode()
    client.post(f"/ops/vulns/plans/{plan.pk}/step/approve/", {"comment": "同意"})
    assert Vulnerability.objects.get().state == "approved"
    client.logout()
    login(client, eng)
    client.post(f"/ops/vulns/plans/{plan.pk}/step/execute/", {
        "started_at": "2026-11-20T22:10", "finished_at": "2026-11-20T22:40", "outcome_1": "done", "output_1": "ok",
        "outcome_2": "done", "comment": "按方案实施"})  # fmt: skip
    assert Vulnerability.objects.get().state == "executed"
    client.logout()
    login(client, sec)
    client.post(f"/ops/vulns/plans/{plan.pk}/step/verify/", {"passed": "no", "method": "复扫", "comment": "仍存在"})
    assert Vulnerability.objects.get().state == "planned"
    client.logout()
    login(client, eng)
    assert 'data-step="revise"' in client.get(f"/ops/vulns/plans/{plan.pk}/").content.decode()
    client.post(f"/ops/vulns/plans/{plan.pk}/step/revise/", {"steps": "禁用 CBC 与 MD5 MAC || 恢复 sshd_config 备份"})
    assert list(plan.steps.values_list("action", flat=True)) == ["禁用 CBC 与 MD5 MAC"]
    docx = client.get(f"/ops/vulns/plans/{plan.pk}/report.docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"


def test_report_section_counts(inventory):
    eng, sec = inventory["engineer"], inventory["secadmin"]
    vulns.import_scan(actor=eng, data=GOOD, scanner="generic")
    today = dt.date.today()
    result = report.section(today - dt.timedelta(days=30), today)
    assert result["key"] == "cmdb" and result["figures"]["assets"] == 344
    assert result["figures"]["vulns_found"] == 1 and result["figures"]["vulns_open"] == 1
    assert result["figures"]["vulns_fixed"] == 0 and result["figures"]["mttr_days"] == "—"
    rows = {r[0]: r for r in result["tables"][2]["rows"]}
    assert rows["高危"][1:] == [1, 0, 1]
    assert result["figures"]["hardening_rate"] == 0.0  # nothing checked yet
    _ = sec


@pytest.mark.django_db
def test_small_demo_is_idempotent():
    from django.core.management import call_command

    from govcenter.core.management.commands.demo import build_demo
    from govcenter.ops.cmdb.demo import load_small_demo

    call_command("seed", verbosity=0)  # roles (with the permissions ops contributes), calendar, SLA policies
    build_demo()  # the demo units and accounts
    first = load_small_demo()
    assert first["vulnerabilities"] == 3
    states = sorted(Vulnerability.objects.values_list("state", flat=True))
    assert states == ["approved", "closed", "registered"]
    assert load_small_demo() == {"assets": 0} and Vulnerability.objects.count() == 3


@pytest.mark.django_db
def test_quarter_demo_has_every_state_and_checklists():
    from django.core.management import call_command

    from govcenter.core.management.commands.demo import build_demo
    from govcenter.ops.cmdb.demo import load_demo
    from govcenter.ops.models import BaselineCheck

    call_command("seed", verbosity=0)
    build_demo()
    counts = load_demo(days=42)
    states = set(Vulnerability.objects.values_list("state", flat=True))
    assert {"registered", "approved", "closed"} <= states and len(states) >= 5
    assert counts["baseline_checks"] == BaselineCheck.objects.count() == 69 * 14
    today = dt.date.today()
    section = report.section(today - dt.timedelta(days=42), today)
    assert section["figures"]["vulns_fixed"] > 0 and isinstance(section["figures"]["mttr_days"], float)
