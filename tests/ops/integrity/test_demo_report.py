"""The demo loaders (idempotent) and the two report sections, computed from what they recorded."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from govcenter.ops.integrity import demo
from govcenter.ops.integrity.report import section as integrity_section
from govcenter.ops.logaudit.report import section as logaudit_section
from govcenter.ops.models import Incident, IntegrityBaseline, IntegrityCheck, LogRecord
from tests.ops.integrity.test_integrity import site  # noqa: F401  (fixture)


def test_demo_loads_once_and_the_report_counts_it(site):  # noqa: F811
    small = demo.load_small_demo()
    assert small == {"integrity_files": 3, "integrity_checks": 1} and demo.load_small_demo() == {}
    counts = demo.load_demo(days=3)
    assert counts["log_records"] == 180 and counts["tamper_findings"] == 1 and counts["tamper_incidents"] == 1
    assert demo.load_demo(days=3) == {}  # loaded once
    assert LogRecord.objects.count() == 180 and Incident.objects.count() == 1
    demo_check = IntegrityCheck.objects.get(trigger="demo", status="mismatch")
    (finding,) = demo_check.mismatches
    assert finding["restored"] and open(finding["path"], encoding="utf-8").read().startswith("<h1>北京")
    # The real roots are the current baseline again.
    assert "demo:templates" not in IntegrityBaseline.objects.first().manifest

    today = timezone.localdate()
    report = integrity_section(today - dt.timedelta(days=1), today)
    assert report["key"] == "integrity" and report["figures"]["checks"] == 2
    assert report["figures"]["findings"] == 1 and report["figures"]["restored"] == 1
    assert report["tables"][1]["rows"][0][2] == finding["path"]
    logs = logaudit_section(today - dt.timedelta(days=5), today)
    assert logs["figures"]["log_records"] == 180
    assert sum(n for _level, n in logs["tables"][0]["rows"]) == 180
    assert ["ops.logs.ingest", 1] in logs["tables"][2]["rows"]
    empty = integrity_section(today - dt.timedelta(days=30), today - dt.timedelta(days=20))
    assert empty["figures"]["checks"] == 0 and empty["tables"][1]["rows"] == []
