"""Vulnerability register: scanner CSV import (happy path, BOM, GB18030, malformed → nothing
imported, with line numbers; idempotent re-import), the remediation workflow (approval by
another person, one rollback per step, a failed verification loops back) and the report."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.ops.cmdb import remediation_report, vulns
from govcenter.ops.models import ExecutionRecord, RemediationPlan, Vulnerability

TZ = ZoneInfo("Asia/Shanghai")
HEADER = "Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,Synopsis,Description,Solution\n"
ROWS = (
    '97861,CVE-2017-7494,7.5,High,10.10.6.1,tcp,445,Samba 远程代码执行,"远程执行",Samba is_known_pipename,升级 Samba\n'
    '97861,CVE-2017-7495,7.5,High,10.10.6.1,tcp,445,Samba 远程代码执行,"远程执行",Samba is_known_pipename,升级 Samba\n'
    "10881,,,None,10.10.6.1,tcp,22,SSH Protocol Versions Supported,,,\n"
    "70658,CVE-2008-5161,2.6,Low,ky7-003,tcp,22,SSH 服务器 CBC 模式,,,禁用 CBC 密码\n"
    "51192,,6.4,Medium,10.10.7.5,tcp,443,SSL 证书不受信任,,,更换证书\n"
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def test_nessus_import_merges_cves_and_matches_ip_and_hostname(inventory):
    counts = vulns.import_scan(actor=inventory["engineer"], data=(HEADER + ROWS).encode(), scanner="nessus")
    assert counts == {"created": 3, "unchanged": 0, "reopened": 0, "informational": 1}
    samba = Vulnerability.objects.get(plugin_id="97861")
    assert samba.asset.code == "SRV-KY6-001" and samba.port == 445 and samba.severity == "high"
    assert samba.cves == ["CVE-2017-7494", "CVE-2017-7495"] and str(samba.cvss) == "7.5" and samba.state == "registered"
    assert Vulnerability.objects.get(plugin_id="70658").asset.code == "SRV-KY7-003"  # by host name
    again = vulns.import_scan(actor=inventory["engineer"], data=(HEADER + ROWS).encode(), scanner="nessus")
    assert again["created"] == 0 and again["unchanged"] == 3 and Vulnerability.objects.count() == 3


@pytest.mark.parametrize("encode", [
    lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),
    lambda text: text.encode("gb18030"),
], ids=["utf8-bom", "gb18030"])  # fmt: skip
def test_bom_and_gb18030_files(inventory, encode):
    text = "host,vuln_id,port,severity,name,cve,solution\n10.10.6.2,KY-SSH-01,22,高危,OpenSSH 用户枚举漏洞,CVE-2018-15473,升级 OpenSSH\n"
    counts = vulns.import_scan(actor=inventory["engineer"], data=encode(text), scanner="generic")
    assert counts["created"] == 1
    v = Vulnerability.objects.get()
    assert v.title == "OpenSSH 用户枚举漏洞" and v.severity == "high" and v.solution == "升级 OpenSSH"


def test_malformed_files_import_nothing_and_name_the_lines(inventory):
    eng = inventory["engineer"]
    bad = HEADER + ROWS + "11111,,5.0,Severe,10.10.6.3,tcp,80,X,,,\n" + "22222,,5.0,High,10.99.99.99,tcp,80,Y,,,\n"
    with pytest.raises(ServiceError) as exc:
        vulns.import_scan(actor=eng, data=bad.encode(), scanner="nessus")
    lines = exc.value.details["lines"]
    assert set(lines) == {"7", "8"}
    assert "bad severity 'Severe'" in lines["7"][0] and "unknown host '10.99.99.99'" in lines["8"][0]
    assert Vulnerability.objects.count() == 0
    with pytest.raises(ServiceError) as missing:
        vulns.import_scan(actor=eng, data=b"Plugin ID,Risk,Port,Name\n1,High,22,x\n", scanner="nessus")
    assert missing.value.details == {"lines": {"1": ["missing column: host"]}}
    with pytest.raises(ServiceError) as encoding:
        vulns.import_scan(actor=eng, data=b"host,vuln_id\n\xff\xfe\xfa\n", scanner="generic")
    assert encoding.value.error_code == "invalid_scan"
    # another unit's server is an unknown host for this engineer
    with pytest.raises(ServiceError) as scope:
        vulns.import_scan(actor=inventory["stranger"], data=(HEADER + ROWS).encode(), scanner="nessus")
    assert "2" in scope.value.details["lines"]
    assert Vulnerability.objects.count() == 0


def test_cli_import_exit_2_on_bad_file(inventory, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,,5.0,High,10.1.1.1,tcp,22,X,,,\n", encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("ops", "vulns", "import", str(bad), "--scanner", "nessus", "--as", "eng1")
    assert exc.value.returncode == 2 and "line 2" in str(exc.value) and "nothing imported" in str(exc.value)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + ROWS, encoding="utf-8")
    out = io.StringIO()
    call_command("ops", "vulns", "import", str(good), "--scanner", "nessus", "--as", "eng1", stdout=out)
    assert '"created": 3' in out.getvalue()


def _plan(inventory, **overrides):
    vulns.import_scan(actor=inventory["engineer"], data=(HEADER + ROWS).encode(), scanner="nessus")
    samba = Vulnerability.objects.get(plugin_id="97861")
    args = {
        "actor": inventory["engineer"], "vulnerabilities": [samba], "title": "Samba 漏洞整改",
        "window_start": at("2026-11-20T22:00"), "window_end": at("2026-11-21T02:00"), "risk": "medium",
        "at": at("2026-11-20T12:00"),
        "steps": [("yum update samba", "yum downgrade samba-4.6.2"), ("systemctl restart smb", "systemctl restart smb")],
    }  # fmt: skip
    args.update(overrides)
    return vulns.plan_create(**args), samba


def test_every_step_needs_its_rollback(inventory):
    with pytest.raises(ServiceError) as exc:
        _plan(inventory, steps=[("yum update samba", "yum downgrade samba"), ("关闭 445 端口", "  ")])
    assert exc.value.error_code == "rollback_required" and exc.value.details == {"steps": {"2": ["每个加固步骤必须有对应的回退步骤"]}}
    assert RemediationPlan.objects.count() == 0 and Vulnerability.objects.get(plugin_id="97861").state == "registered"


def test_remediation_from_plan_to_close_with_a_failed_verification(inventory):
    eng, eng2, sec = inventory["engineer"], inventory["engineer2"], inventory["secadmin"]
    plan, samba = _plan(inventory)
    assert Vulnerability.objects.get(pk=samba.pk).state == "planned" and plan.number.startswith("ZG-")
    with pytest.raises(ServiceError) as own:
        vulns.plan_approve(actor=eng, plan=plan)
    assert own.value.error_code == "self_approval"
    with pytest.raises(ServiceError) as no_right:  # another engineer lacks approve_remediation
        vulns.plan_approve(actor=eng2, plan=plan)
    assert no_right.value.error_code == "transition_forbidden"
    vulns.plan_approve(actor=sec, plan=plan, comment="同意，窗口内实施", at=at("2026-11-20T18:00"))
    assert Vulnerability.objects.get(pk=samba.pk).state == "approved"
    # a failed step: the record is kept, the finding stays approved
    vulns.plan_execute(actor=eng, plan=plan, started_at=at("2026-11-20T22:00"), finished_at=at("2026-11-20T22:30"),
                       outcomes=[{"order": 1, "outcome": "failed", "output": "依赖冲突"},
                                 {"order": 2, "outcome": "rolled_back", "output": "已回退"}])  # fmt: skip
    assert Vulnerability.objects.get(pk=samba.pk).state == "approved"
    with pytest.raises(ServiceError):  # every step needs an outcome
        vulns.plan_execute(actor=eng, plan=plan, started_at=at("2026-11-20T23:00"), finished_at=at("2026-11-20T23:10"),
                           outcomes=[{"order": 1, "outcome": "done"}])  # fmt: skip
    vulns.plan_execute(actor=eng, plan=plan, started_at=at("2026-11-20T23:00"), finished_at=at("2026-11-20T23:40"),
                       outcomes=[{"order": 1, "outcome": "done", "output": "samba-4.6.16"},
                                 {"order": 2, "outcome": "done", "output": "active (running)"}])  # fmt: skip
    assert Vulnerability.objects.get(pk=samba.pk).state == "executed" and ExecutionRecord.objects.count() == 2
    with pytest.raises(ServiceError):  # the engineer may not verify
        vulns.plan_verify(actor=eng, plan=plan, passed=True, result="复扫未发现")
    vulns.plan_verify(actor=sec, plan=plan, passed=False, result="复扫仍发现 CVE-2017-7494", at=at("2026-11-21T09:00"))
    assert Vulnerability.objects.get(pk=samba.pk).state == "planned"
    plan = RemediationPlan.objects.get(pk=plan.pk)
    assert plan.status == "failed"
    with pytest.raises(ServiceError):  # the revised plan still needs a rollback per step
        vulns.plan_revise(actor=eng, plan=plan, steps=[("yum update samba", "")])
    plan = vulns.plan_revise(actor=eng, plan=plan, steps=[
        ("yum update samba", "yum downgrade samba-4.6.2"), ("systemctl restart smb nmb", "systemctl restart smb nmb")])
    assert plan.status == "submitted" and plan.steps.count() == 2
    vulns.plan_approve(actor=sec, plan=plan, comment="补充重启后再验证", at=at("2026-11-21T10:00"))
    vulns.plan_execute(actor=eng, plan=plan, started_at=at("2026-11-21T22:00"), finished_at=at("2026-11-21T22:20"),
                       outcomes=[{"order": 1, "outcome": "done"}, {"order": 2, "outcome": "done"}])  # fmt: skip
    vulns.plan_verify(actor=sec, plan=plan, passed=True, result="复扫未发现该漏洞", at=at("2026-11-22T09:00"))
    vulns.plan_close(actor=sec, plan=plan, at=at("2026-11-22T10:00"))
    samba = Vulnerability.objects.get(pk=samba.pk)
    assert samba.state == "closed" and samba.closed_at == at("2026-11-22T10:00")
    assert [r.transition for r in workflow.history(samba)] == [
        "plan_it", "approve", "execute", "fail_verification", "approve", "execute", "verify", "close"]
    # the report: Word read back, PDF with the plan's number
    from docx import Document

    doc = Document(io.BytesIO(remediation_report.render_docx(RemediationPlan.objects.get(pk=plan.pk))))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        c.text for t in doc.tables for row in t.rows for c in row.cells)
    for expected in ("漏洞整改报告", plan.number, "Samba 远程代码执行", "CVE-2017-7494", "yum downgrade samba-4.6.2",
                     "复扫仍发现 CVE-2017-7494", "复扫未发现该漏洞", "samba-4.6.16", "SRV-KY6-001"):  # fmt: skip
        assert expected in text, expected
    pdf = remediation_report.render_pdf(RemediationPlan.objects.get(pk=plan.pk))
    from pypdf import PdfReader

    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF") and plan.number in pdf_text and "CVE-2017-7494" in pdf_text and "SRV-KY6-001" in pdf_text
    # found again by a later scan: reopened
    counts = vulns.import_scan(actor=eng, data=(HEADER + ROWS).encode(), scanner="nessus")
    assert counts["reopened"] == 1 and Vulnerability.objects.get(pk=samba.pk).state == "registered"


def test_rejected_plan_sends_findings_back(inventory):
    plan, samba = _plan(inventory)
    with pytest.raises(ServiceError):
        vulns.plan_reject(actor=inventory["secadmin"], plan=plan, comment="")
    vulns.plan_reject(actor=inventory["secadmin"], plan=plan, comment="窗口与保障期冲突")
    samba = Vulnerability.objects.get(pk=samba.pk)
    assert samba.state == "registered" and samba.plan is None
    assert RemediationPlan.objects.get(pk=plan.pk).status == "rejected"
