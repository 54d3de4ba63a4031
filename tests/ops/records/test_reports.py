"""The monthly and quarterly reports: Word and PDF from the recorded facts, read back; the
section registry; the schedule; downloads checked and audited."""

from __future__ import annotations

import datetime as dt
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core.crypto import sm3_hex
from govcenter.core.models import AuditEntry
from govcenter.ops import incidents as inc
from govcenter.ops.models import Incident, Report
from govcenter.ops.records import services as rec
from govcenter.ops.reports import registry, tasks
from govcenter.ops.reports import services as svc

from .conftest import at

FAULTS = [  # (reported, severity, hours to resolve)
    ("2026-09-29T10:00", "S2", 2), ("2026-10-01T09:00", "S1", 14), ("2026-10-10T15:00", "S3", 1),
    ("2026-10-17T11:00", "S2", 3), ("2026-10-31T23:30", "S4", 1), ("2026-11-01T00:10", "S3", 1),
]  # fmt: skip


@pytest.fixture
def facts(team):
    for reported, severity, hours in FAULTS:
        incident = inc.incident_open(actor=team["engineer"], title="测试故障", severity=severity, unit=team["unit"],
                                     reported_at=at(reported))  # fmt: skip
        inc.incident_resolve(actor=team["engineer"], incident=incident, root_cause="原因", resolution="处理",
                             at=at(reported) + dt.timedelta(hours=hours))  # fmt: skip
    rec.training_create(actor=team["engineer"], unit=team["unit"], date=dt.date(2026, 10, 15), topic="备份恢复演练",
                        trainer="孙维", duration_minutes=60, attendees=[team["engineer"]])  # fmt: skip
    return team


def docx_text(path: Path) -> str:
    from docx import Document

    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)


def expected_count(first: str, last: str) -> int:
    """Counted here, independently of the report: incidents whose Beijing report date is in range."""
    return sum(1 for reported, _s, _h in FAULTS if first <= reported[:10] <= last)


@pytest.mark.parametrize(("kind", "label", "first", "last", "title"), [
    ("month", "2026-10", "2026-10-01", "2026-10-31", "运维服务月报（2026年10月）"),
    ("quarter", "2026Q3", "2026-07-01", "2026-09-30", "运维服务季度报告（2026年第3季度）"),
])  # fmt: skip
def test_a_report_in_word_and_pdf_from_the_recorded_facts(facts, settings, kind, label, first, last, title):
    report = svc.report_generate(actor=facts["leader"], kind=kind, label=label)
    var = Path(settings.GOVCENTER_VAR_DIR)
    docx_path, pdf_path = var / report.docx_path, var / report.pdf_path
    assert sm3_hex(docx_path.read_bytes()) == report.docx_sm3 and sm3_hex(pdf_path.read_bytes()) == report.pdf_sm3
    text = docx_text(docx_path)
    n = expected_count(first, last)
    assert title in text and "目录" in text
    assert f"本期共报告故障 {n} 起" in text
    breaches = sum(1 for reported, _s, hours in FAULTS if first <= reported[:10] <= last and hours > 12)
    assert f"超过12小时的故障 {breaches} 起" in text
    assert ("每月均有培训" in text) == (kind == "month")  # Q3 had no training at all
    from docx import Document

    doc = Document(str(docx_path))
    assert doc.inline_shapes  # the charts
    east_asia = doc.styles["Normal"].element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
    )
    assert east_asia == "宋体"
    pdf_bytes = pdf_path.read_bytes()
    assert pdf_bytes.startswith(b"%PDF")
    from pypdf import PdfReader

    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages)
    assert title in pdf_text and f"本期共报告故障 {n} 起" in pdf_text
    assert report.summary["incidents"]["figures"]["incidents"] == n
    assert AuditEntry.objects.filter(action="ops.report.generate", object_id=str(report.pk)).exists()


def test_download_checks_the_digest_and_is_audited(facts, client, settings):
    report = svc.report_generate(actor=facts["leader"], kind="month", label="2026-10")
    client.force_login(facts["auditor"])
    response = client.get(f"/ops/reports/{report.pk}/pdf/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert AuditEntry.objects.filter(action="ops.report.download", object_id=str(report.pk)).count() == 1
    (Path(settings.GOVCENTER_VAR_DIR) / report.docx_path).write_bytes(b"tampered")
    assert client.get(f"/ops/reports/{report.pk}/docx/").status_code == 500
    client.force_login(facts["engineer"])
    assert client.get(f"/ops/reports/{report.pk}/pdf/").status_code == 403


def test_the_page_generates_on_demand_and_refuses_a_bad_period(facts, client):
    client.force_login(facts["leader"])
    assert client.post("/ops/reports/", {"kind": "month", "period": "2026-13"}).status_code == 400
    assert client.post("/ops/reports/", {"kind": "quarter", "period": "2026Q3"}).status_code == 302
    assert Report.objects.get().label == "2026Q3"
    client.force_login(facts["auditor"])  # may read, not generate
    assert "2026Q3" in client.get("/ops/reports/").content.decode()
    assert client.post("/ops/reports/", {"kind": "month", "period": "2026-10"}).status_code == 403


@pytest.mark.parametrize(("today", "due"), [
    (dt.date(2026, 11, 1), [("month", "2026-10")]),
    (dt.date(2026, 10, 1), [("month", "2026-09"), ("quarter", "2026Q3")]),
    (dt.date(2027, 1, 1), [("month", "2026-12"), ("quarter", "2026Q4")]),
    (dt.date(2026, 11, 2), []),
])  # fmt: skip
def test_the_schedule_picks_the_previous_month_and_quarter(today, due):
    assert tasks.due_reports(today) == due


def test_the_scheduled_job_generates_once(facts):
    now = at("2026-11-01T01:30")
    made = tasks.generate_due(now)
    assert [(r.kind, r.label, r.generated_by_id) for r in made] == [("month", "2026-10", None)]
    assert tasks.generate_due(now) == []


def test_the_command(facts):
    out = StringIO()
    call_command("ops", "report", "--month", "2026-10", stdout=out)
    data = json.loads(out.getvalue())
    assert data["label"] == "2026-10" and data["pdf"].endswith(".pdf")
    with pytest.raises(CommandError, match="期间格式有误"):
        call_command("ops", "report", "--quarter", "2026Q5")
    with pytest.raises((CommandError, SystemExit)):  # argparse: exit 2 with one line
        call_command("ops", "report")


def test_the_registry_is_an_explicit_list_and_import_errors_are_errors(facts, settings):
    paths = ["govcenter.ops.records.report.trainings_section"]
    sections = registry.gather(dt.date(2026, 10, 1), dt.date(2026, 10, 31), paths)
    assert [s["key"] for s in sections] == ["trainings"]
    with pytest.raises(ImportError):
        registry.gather(dt.date(2026, 10, 1), dt.date(2026, 10, 31), ["govcenter.ops.nowhere.report.section"])
    with pytest.raises(registry.SectionError):
        registry.check({"key": "x", "title": "x", "summary": [], "figures": {},
                        "tables": [{"title": "t", "columns": ["a"], "rows": [[1, 2]]}]}, "x")  # fmt: skip


def test_the_incident_section_counts_by_severity_and_breaches(facts):
    from govcenter.ops.records.report import incidents_section

    section = incidents_section(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    october = [i for i in Incident.objects.all() if "2026-10-01" <= f"{i.reported_at.astimezone(at('2026-01-01T00:00').tzinfo):%Y-%m-%d}" <= "2026-10-31"]
    assert section["figures"]["incidents"] == len(october) == 4
    assert section["figures"]["severity_S1"] == 1 and section["figures"]["breaches"] == 1
    assert section["figures"]["resolved_on_time_pct"] == round(
        100 * sum(1 for i in october if i.resolved_at <= i.resolve_by) / len(october), 1
    )
