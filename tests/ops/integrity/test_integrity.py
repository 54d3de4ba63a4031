"""Web anti-tamper on temporary directories (the watched dirs come from settings): a modified
template is restored from the baseline, alerted (incident opened), audited and its tampered
version kept; a missing file comes back; an added file is quarantined; a tampered manifest is
refused and nothing is restored from it; the CLI and the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import seed_calendar
from govcenter.core.models import AuditEntry
from govcenter.ops import services as ops_services
from govcenter.ops.integrity import services as svc
from govcenter.ops.models import Incident, IntegrityBaseline, IntegrityCheck
from tests.factories import RoleFactory, UnitFactory, UserFactory


@pytest.fixture
def site(db, tmp_path, settings):
    seed_calendar()
    ops_services.sla_policies_seed()
    UnitFactory(code="OM-TEST")
    templates, static = tmp_path / "templates", tmp_path / "static"
    (templates / "ops").mkdir(parents=True)
    (static / "css").mkdir(parents=True)
    (templates / "ops" / "page.html").write_text("<h1>{% translate '首页' %}</h1>\n", encoding="utf-8")
    (templates / "ops" / "copy.html").write_text("<h1>{% translate '首页' %}</h1>\n", encoding="utf-8")  # same bytes
    (static / "css" / "site.css").write_bytes(b"body { color: #333; }\n" * 100)
    settings.GOVCENTER_OPS_INTEGRITY_DIRS = [str(templates), str(static)]
    settings.GOVCENTER_OPS_INTEGRITY_STORE = str(tmp_path / "store")
    settings.GOVCENTER_OPS_INTEGRITY_ALERT_UNIT = "OM-TEST"
    settings.GOVCENTER_OPS_INTEGRITY_QUARANTINE_ADDED = True
    return {"templates": templates, "static": static, "store": tmp_path / "store"}


def test_baseline_signs_a_manifest_and_stores_identical_files_once(site):
    baseline = svc.baseline_create(actor=None)
    assert baseline.file_count == 3 and svc.manifest_problem(baseline) == ""
    manifest = json.loads(baseline.manifest)
    assert sorted(rel for _label, rel, _size, _digest in manifest["files"]) == ["css/site.css", "ops/copy.html",
                                                                                 "ops/page.html"]  # fmt: skip
    objects = [p for p in (site["store"] / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 2  # page.html and copy.html have the same content
    assert AuditEntry.objects.filter(action="ops.integrity.baseline", object_id=str(baseline.pk)).exists()


def test_a_modified_template_is_restored_alerted_audited_and_quarantined(site):
    page = site["templates"] / "ops" / "page.html"
    original = page.read_bytes()
    svc.baseline_create(actor=None)
    page.write_text("<h1>hacked by someone</h1>\n", encoding="utf-8")
    check = svc.integrity_check()
    assert check.status == "mismatch" and check.files_checked == 3
    (finding,) = check.mismatches
    assert finding["kind"] == "modified" and finding["restored"] is True and finding["path"] == str(page)
    assert page.read_bytes() == original
    assert Path(finding["quarantined"]).read_text(encoding="utf-8") == "<h1>hacked by someone</h1>\n"
    (incident,) = Incident.objects.all()
    assert incident.source == "alert" and incident.severity == "S2" and incident.unit.code == "OM-TEST"
    assert check.incidents == [incident.number] and str(page) in incident.title
    assert AuditEntry.objects.filter(action="ops.integrity.modified", object_repr=str(page)[-200:]).exists()
    assert AuditEntry.objects.filter(action="ops.integrity.check", object_id=str(check.pk), success=False).exists()
    # The same file tampered again while its incident is open is not a second incident.
    page.write_text("again", encoding="utf-8")
    again = svc.integrity_check()
    assert again.incidents == [incident.number] and Incident.objects.count() == 1
    assert page.read_bytes() == original
    assert svc.integrity_check().status == "ok"


def test_a_missing_file_is_restored_and_no_restore_only_reports(site):
    css = site["static"] / "css" / "site.css"
    original = css.read_bytes()
    svc.baseline_create(actor=None)
    css.unlink()
    reported = svc.integrity_check(restore=False)
    assert [(m["kind"], m["restored"]) for m in reported.mismatches] == [("missing", False)] and not css.exists()
    restored = svc.integrity_check()
    assert [(m["kind"], m["restored"]) for m in restored.mismatches] == [("missing", True)]
    assert css.read_bytes() == original


def test_an_added_file_is_quarantined_or_only_reported(site, settings):
    svc.baseline_create(actor=None)
    shell = site["static"] / "css" / "shell.php"
    shell.write_text("<?php system($_GET['c']); ?>", encoding="utf-8")
    check = svc.integrity_check()
    (finding,) = check.mismatches
    assert finding["kind"] == "added" and finding["restored"] is True and not shell.exists()
    assert Path(finding["quarantined"]).read_text(encoding="utf-8").startswith("<?php")
    assert Incident.objects.get().severity == "S3"
    settings.GOVCENTER_OPS_INTEGRITY_QUARANTINE_ADDED = False
    shell.write_text("x", encoding="utf-8")
    (kept,) = svc.integrity_check().mismatches
    assert kept["kind"] == "added" and kept["restored"] is False and shell.exists()


def test_a_tampered_manifest_is_refused_and_nothing_is_restored(site):
    page = site["templates"] / "ops" / "page.html"
    baseline = svc.baseline_create(actor=None)
    page.write_text("evil", encoding="utf-8")
    # The attacker edits the manifest to bless the evil file (and fixes the digest, but cannot re-sign).
    manifest = json.loads(baseline.manifest)
    for row in manifest["files"]:
        if row[1] == "ops/page.html":
            row[3] = "0" * 64
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    from govcenter.core.crypto import sm3_hex

    IntegrityBaseline.objects.filter(pk=baseline.pk).update(manifest=text, manifest_digest=sm3_hex(text.encode()))
    check = svc.integrity_check()
    assert check.status == "refused" and check.files_checked == 0
    (finding,) = check.mismatches
    assert finding["kind"] == "manifest" and finding["error"] == "SM2 signature does not verify"
    assert page.read_text(encoding="utf-8") == "evil"  # nothing restored from an untrusted manifest
    assert Incident.objects.get().severity == "S1"


def test_a_manifest_signed_by_another_key_is_refused(site):
    from govcenter.core import crypto

    baseline = svc.baseline_create(actor=None)
    private_pem, public_pem = crypto.sm2_generate_keypair()
    IntegrityBaseline.objects.filter(pk=baseline.pk).update(
        public_key=public_pem, signature=crypto.sm2_sign(private_pem, svc.SIGN_PREFIX + baseline.manifest.encode()).hex()
    )
    assert svc.integrity_check().mismatches[0]["error"] == "signed by a key that is not trusted"


def test_a_corrupt_store_copy_is_not_restored(site):
    page = site["templates"] / "ops" / "page.html"
    baseline = svc.baseline_create(actor=None)
    digest = next(row[3] for row in json.loads(baseline.manifest)["files"] if row[1] == "ops/page.html")
    (site["store"] / "objects" / digest[:2] / digest).write_text("poisoned", encoding="utf-8")
    page.write_text("evil", encoding="utf-8")
    (finding,) = svc.integrity_check().mismatches
    assert finding["restored"] is False and finding["error"] == "baseline copy in the store is corrupt"
    assert page.read_text(encoding="utf-8") == "evil"


def test_no_baseline_is_refused(site):
    with pytest.raises(ServiceError) as refused:
        svc.integrity_check()
    assert refused.value.error_code == "no_baseline"


def test_the_cli_baseline_and_check(site, capsys):
    with pytest.raises(CommandError) as no_baseline:
        call_command("ops", "integrity", "check")
    assert no_baseline.value.returncode == 2
    call_command("ops", "integrity", "baseline")
    assert json.loads(capsys.readouterr().out)["files"] == 3
    call_command("ops", "integrity", "check")
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    (site["templates"] / "ops" / "page.html").write_text("evil", encoding="utf-8")
    with pytest.raises(CommandError) as failed:
        call_command("ops", "integrity", "check", "--no-restore")
    assert failed.value.returncode == 1
    assert (site["templates"] / "ops" / "page.html").read_text(encoding="utf-8") == "evil"
    assert IntegrityCheck.objects.first().restore is False


def test_the_periodic_task_checks_and_restores(site):
    from govcenter.ops.integrity.tasks import integrity_check_periodic

    assert integrity_check_periodic.call_local() == "skipped"  # no baseline yet
    svc.baseline_create(actor=None)
    (site["templates"] / "ops" / "copy.html").unlink()
    assert integrity_check_periodic.call_local() == "mismatch"
    assert (site["templates"] / "ops" / "copy.html").exists()
    assert IntegrityCheck.objects.first().trigger == "task"


def test_the_page_and_its_buttons_by_role(site, client):
    managers = RoleFactory(scope_kind="all", perms=["ops.view_integritybaseline", "ops.manage_integrity",
                                                    "ops.run_integrity_check"])  # fmt: skip
    runners = RoleFactory(scope_kind="own_unit", perms=["ops.view_integritybaseline", "ops.run_integrity_check"])
    secadmin = UserFactory(username="sec", role_set=[managers])
    engineer = UserFactory(username="eng", role_set=[runners])
    client.force_login(engineer)
    assert client.get("/ops/integrity/").status_code == 200
    assert client.post("/ops/integrity/baseline/").status_code == 403  # re-baselining is the secadmin's
    client.force_login(secadmin)
    assert client.post("/ops/integrity/baseline/").status_code == 302
    assert IntegrityBaseline.objects.count() == 1
    assert AuditEntry.objects.filter(action="ops.integrity.baseline", username="sec").exists()
    (site["templates"] / "ops" / "page.html").write_text("evil", encoding="utf-8")
    client.force_login(engineer)
    assert client.post("/ops/integrity/check/").status_code == 302
    page = client.get("/ops/integrity/")
    assert "page.html" in page.content.decode() and IntegrityCheck.objects.get().trigger == "web"
    client.force_login(UserFactory(username="nobody"))
    assert client.get("/ops/integrity/").status_code == 403
