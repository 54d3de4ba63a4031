"""The monthly supervision report: the figures equal what the analyses and services return on
the same lake and database, the Word file has headings, tables and PNG charts, the Excel file
has one sheet per section with native charts, chart labels are covered by the vendored font,
generation is deterministic, audited, and stored; the CLI refuses bad input with exit 2."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from govcenter.analytics.engine import connect
from govcenter.bikeshare import analyses as an
from govcenter.bikeshare.demo_scale import UNIT_CODES, load_day
from govcenter.bikeshare.models import ScanCheck, Vehicle
from govcenter.bikeshare.models.reports import MonthlyReport
from govcenter.bikeshare.reports import charts, layout
from govcenter.bikeshare.reports.generate import data_digest, monthlyreport_generate
from govcenter.bikeshare.reports.monthly import SYSTEM, gather, parse_month
from govcenter.bikeshare.selectors.quotas import quota_usage
from govcenter.bikeshare.services.quotas import quota_set
from govcenter.bikeshare.services.scanchecks import scancheck_stats
from govcenter.core import context
from govcenter.core.api.errors import ServiceError
from govcenter.core.audit import AuditEntry
from govcenter.core.models import Unit
from tests.factories import RoleFactory, UnitFactory, UserFactory

from .conftest import PROVIDER_A

DAYS = (dt.date(2026, 10, 30), dt.date(2026, 11, 2))  # two months: month-on-month has a base
YEAR, MONTH = 2026, 11
NAMES = {"OP-MEITUAN": "美团单车", "OP-HELLO": "哈啰单车", "OP-QINGJU": "青桔单车"}
PERMS = ["bikeshare.view_monthlyreport", "bikeshare.add_monthlyreport", "bikeshare.view_scancheck"]

_BUILT: dict[str, object] = {}


@pytest.fixture
def lake(db, tmp_path_factory):
    """Two synthetic days in the lake, built once per session."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("reports") / "lake"
        with transaction.atomic():
            for code in UNIT_CODES.values():
                UnitFactory(code=code, kind="operator")
            for k, day in enumerate(DAYS):  # different seeds: the two months differ
                load_day(day, scale=0.001, seed=11 + k, lake_root=root, register=False)
            transaction.set_rollback(True)
        _BUILT["root"] = root
    return _BUILT["root"]


@pytest.fixture
def world(org, lake, settings, tmp_path):
    """Operators with Chinese names, quotas (one exceeded), scan checks, Center users."""
    settings.GOVCENTER_LAKE_DIR = lake
    settings.GOVCENTER_VAR_DIR = tmp_path / "var"
    ops = {code: UnitFactory(code=code, name_zh=name, kind="operator") for code, name in NAMES.items()}
    now = timezone.now()
    for i in range(5):
        Vehicle.objects.create(operator=ops["OP-MEITUAN"], device_id=uuid.uuid4(), provider_id=uuid.UUID(PROVIDER_A),
                               vehicle_id=f"MT-{i}", district=org.dongcheng, registered_at=now - timedelta(days=3))  # fmt: skip
    Vehicle.objects.create(operator=ops["OP-HELLO"], device_id=uuid.uuid4(), provider_id=uuid.UUID(PROVIDER_A),
                           vehicle_id="HB-0", district=org.xicheng, registered_at=now - timedelta(days=3))  # fmt: skip
    quota_set(None, operator=ops["OP-MEITUAN"], district=org.dongcheng, quota=3)  # 5 registered: over
    quota_set(None, operator=ops["OP-HELLO"], district=org.xicheng, quota=10)
    center_role = RoleFactory(code="t-rep-center", scope_kind="all", perms=PERMS)
    op_role = RoleFactory(code="t-rep-op", scope_kind="operator", perms=PERMS)
    world = type("World", (), {})()
    world.org, world.ops = org, ops
    world.staff = UserFactory(username="t_rep_staff", unit=org.center, role_set=[center_role])
    world.op_user = UserFactory(username="t_rep_op", unit=ops["OP-MEITUAN"], role_set=[op_role])
    checked = timezone.make_aware(dt.datetime(YEAR, MONTH, 3, 10))
    for i, (op, district, result, vehicle) in enumerate(
        [("OP-MEITUAN", org.dongcheng, "compliant", True), ("OP-MEITUAN", org.dongcheng, "unregistered", False),
         ("OP-HELLO", org.xicheng, "damaged", True), (None, org.xicheng, "unregistered", False)]
    ):  # fmt: skip
        ScanCheck.objects.create(
            inspector=world.staff, unit=org.center, checked_at=checked + timedelta(minutes=i),
            vehicle_code=f"C-{i}", vehicle=Vehicle.objects.filter(operator=ops["OP-MEITUAN"]).first() if vehicle else None,
            operator=ops[op] if op else None, district=district, result=result,
        )  # fmt: skip
    return world


@pytest.fixture
def data(world):
    return gather(SYSTEM, YEAR, MONTH)


# -- the figures ---------------------------------------------------------------------------


def test_rides_equal_the_analyses(world, data, lake):
    first, last = dt.date(YEAR, MONTH, 1), dt.date(YEAR, MONTH, 30)
    con = connect("duckdb", lake)
    try:
        daily = an.run(an.rides_by_day(con, first, last)).to_pylist()
        monthly = an.run(an.monthly_rides(con, dt.date(2026, 10, 1), last)).to_pylist()
        districts = an.run(an.rides_by_day(con, first, last, by_district=True)).to_pylist()
    finally:
        con.disconnect()
    assert data["rides"]["total"] == sum(r["rides"] for r in daily) > 0
    want = defaultdict(int)
    for r in daily:
        want[r["operator"]] += r["rides"]
    assert {r["operator"]: r["rides"] for r in data["rides"]["by_operator"]} == dict(want)
    for r in monthly:
        if (r["year"], r["month"]) == (YEAR, MONTH):
            mine = next(o for o in data["rides"]["by_operator"] if o["operator"] == r["operator"])
            assert mine["mom_change"] == pytest.approx(r["mom_change"], abs=1e-3)
            assert mine["rides_per_day"] == pytest.approx(r["rides_per_day"], abs=0.01)
    per_district = defaultdict(int)
    for r in districts:
        per_district[r["district"]] += r["rides"]
    assert {r["district"]: r["rides"] for r in data["districts"]} == dict(per_district)
    assert sum(sum(v) for v in data["rides"]["hourly"].values()) == data["rides"]["total"]
    assert data["operators"]["OP-HELLO"] == "哈啰单车"


def test_quotas_quality_scans_and_missing_contracts(world, data):
    usage = quota_usage(dt.date(YEAR, MONTH, 30))
    assert [(q["operator"], q["registered"], q["over"]) for q in data["quotas"]] == [
        (u.operator_code, u.registered, u.excess > 0) for u in usage
    ]
    assert data["summary"]["over_quota"] == 1 and data["fleet"] == {"OP-HELLO": 1, "OP-MEITUAN": 5}
    assert {q["operator"] for q in data["quality"]} == set(UNIT_CODES.values())
    assert all(q["days"] == 1 and 0 <= q["avg_score"] <= 100 for q in data["quality"])
    stats = scancheck_stats(
        world.staff, period=(dt.date(YEAR, MONTH, 1), dt.date(YEAR, MONTH, 30)), group_by="result"
    )
    assert [(r["label"], r["total"]) for r in data["scanchecks"]["result"]] == [
        (r["label"], r["total"]) for r in stats
    ]
    assert data["scanchecks"]["total"] == 4 and data["scanchecks"]["unregistered_share"] == 0.5
    for sec in layout.sections(data):
        if sec.key in ("工单", "考核") and not data["workorders" if sec.key == "工单" else "assessment"]:
            assert sec.paragraphs == ["本月无数据"] and sec.empty


def test_empty_month_says_no_data(world):
    data = gather(SYSTEM, 2025, 3)
    assert data["rides"] is None and data["summary"]["rides"] == 0
    keys = {s.key: s for s in layout.sections(data)}
    assert keys["骑行"].paragraphs == ["本月无数据"] and keys["数据质量"].empty


# -- the files -----------------------------------------------------------------------------


def test_generate_writes_word_and_excel_with_real_content(world, settings):
    import docx
    import openpyxl

    with context.acting_as(world.staff, channel="web"):
        report = monthlyreport_generate(world.staff, year=YEAR, month=MONTH)
    data = gather(world.staff, YEAR, MONTH)
    var = settings.GOVCENTER_VAR_DIR
    assert report.data_sha256 == data_digest(data)
    assert str(report.docx_path).startswith("reports/bikeshare/2026-11/")

    doc = docx.Document(str(var / report.docx_path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "2026年11月互联网租赁自行车监管月报" in text and "一、总体情况" in text and "九、考核评分" in text
    assert f"骑行{data['summary']['rides']:,}次" in text
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "二、骑行量" in headings and "六、扫码核查" in headings
    images = [r for r in doc.part.rels.values() if "image" in r.reltype]
    assert len(images) >= 6
    assert all(r.target_part.blob[:8] == b"\x89PNG\r\n\x1a\n" for r in images)
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert "美团单车" in cells and "哈啰单车" in cells
    assert f"{data['rides']['total']:,}" in {c for c in cells} or any(
        f"{r['rides']:,}" in cells for r in data["rides"]["by_operator"]
    )
    assert 'w:instrText xml:space="preserve">PAGE' in doc.sections[0].footer._element.xml

    wb = openpyxl.load_workbook(var / report.xlsx_path)
    assert wb.sheetnames == [
        "封面",
        "概况",
        "骑行",
        "分区",
        "配额",
        "数据质量",
        "扫码核查",
        "轨交站点",
        "工单",
        "考核",
    ]
    ws = wb["骑行"]
    assert ws.freeze_panes is not None
    rows = list(ws.iter_rows(values_only=True))
    by_op = {r[0]: r[1] for r in rows if r and r[0] in NAMES.values() and isinstance(r[1], int)}
    assert by_op == {NAMES[o["operator"]]: o["rides"] for o in data["rides"]["by_operator"]}
    kinds = [type(c).__name__ for c in ws._charts]
    assert "LineChart" in kinds and "BarChart" in kinds
    assert wb["配额"]._charts and wb["分区"]._charts
    # Over-quota rows are filled red; numbers carry formats.
    quota_rows = [r for r in wb["配额"].iter_rows() if r[0].value == "美团单车" and r[1].value == "东城区"]
    assert quota_rows and quota_rows[0][0].fill.fgColor.rgb.endswith("F8D7DA")
    assert quota_rows[0][2].number_format == "#,##0"
    assert report.summary["over_quota"] == 1
    entries = AuditEntry.objects.filter(action="bikeshare.monthlyreport.generate", object_id=str(report.pk))
    assert entries.count() == 1 and entries.get().username == "t_rep_staff"


def test_generation_is_deterministic(world):
    first = monthlyreport_generate(SYSTEM, year=YEAR, month=MONTH)
    second = monthlyreport_generate(SYSTEM, year=YEAR, month=MONTH)
    assert first.pk != second.pk and first.data_sha256 == second.data_sha256
    assert first.docx_path != second.docx_path
    assert MonthlyReport.objects.filter(year=YEAR, month=MONTH).count() == 2


def test_every_chart_label_is_in_the_font(world, data):
    from fontTools.ttLib import TTFont

    cmap = set(TTFont(str(charts.FONT_PATH)).getBestCmap())
    found = 0
    for sec in layout.sections(data):
        for chart in sec.charts:
            found += 1
            for label in chart.labels():
                missing = [ch for ch in label if ord(ch) not in cmap and not ch.isspace()]
                assert not missing, (label, missing)
    assert found >= 5
    # 啰 is outside GB2312: the chart falls back to the operator code instead of a blank box.
    assert charts.safe_label("哈啰单车", "OP-HELLO") == "OP-HELLO"
    png = charts.render(layout.sections(data)[1].charts[0])
    assert png == charts.render(layout.sections(data)[1].charts[0])  # same data, same bytes


# -- refusals ------------------------------------------------------------------------------


def test_operator_staff_and_bad_months_are_refused(world):
    with pytest.raises(PermissionDenied):
        gather(world.op_user, YEAR, MONTH)
    with pytest.raises(PermissionDenied):
        monthlyreport_generate(world.op_user, year=YEAR, month=MONTH)
    with pytest.raises(PermissionDenied):
        monthlyreport_generate(world.org.manager_dc, year=YEAR, month=MONTH)  # a district role: no report permission
    for bad in ("2026-13", "2026-1", "26-11", "", "2999-01", "2026-11-01"):
        with pytest.raises(ServiceError):
            parse_month(bad)
    assert parse_month("2026-11") == (2026, 11)


def test_cli_generates_and_copies(world, tmp_path, capsys):
    out = tmp_path / "out"
    call_command("bikeshare", "report", "--month", "2026-11", "--out", str(out))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["month"] == "2026-11"
    assert (out / "bikeshare-monthly-2026-11.docx").exists() and (
        out / "bikeshare-monthly-2026-11.xlsx"
    ).exists()
    report = MonthlyReport.objects.get(pk=result["id"])
    assert report.generated_by is None and report.generated_by_name == "system"
    entry = AuditEntry.objects.get(action="bikeshare.monthlyreport.generate", object_id=str(report.pk))
    assert entry.channel == "cli"


@pytest.mark.parametrize("month", ["2026-13", "abc", "2999-01"])
def test_cli_bad_month_exits_2(world, month):
    with pytest.raises(CommandError) as exc:
        call_command("bikeshare", "report", "--month", month)
    assert exc.value.returncode == 2
    assert "\n" not in str(exc.value) and "--month" in str(exc.value)
    assert not MonthlyReport.objects.exists()


def test_cli_unknown_user_exits_2(world):
    with pytest.raises(CommandError) as exc:
        call_command("bikeshare", "report", "--month", "2026-11", "--user", "nobody-here")
    assert exc.value.returncode == 2
    assert not Unit.objects.filter(code="nobody-here").exists()


def test_stations_equal_the_analyses(world, data, lake):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    con = connect("duckdb", lake)
    try:
        flows = an.station_flows(
            con, dt.datetime(YEAR, MONTH, 1, tzinfo=tz), dt.datetime(YEAR, MONTH + 1, 1, tzinfo=tz)
        )
        daily = an.run(an.station_imbalance(flows)).to_pylist()
    finally:
        con.disconnect()
    net = defaultdict(int)
    for r in daily:
        net[r["station_id"]] += r["net"]
    want = sorted(((-n, s) for s, n in net.items() if n > 0))[:10]
    assert [(-r["net"], r["station_id"]) for r in data["stations"]] == want
    keys = {s.key: s for s in layout.sections(data)}
    assert keys["轨交站点"].empty == (not want)


def test_workorder_and_assessment_sections_follow_the_contracts(world, data, settings):
    """The two contracts' shapes (services.workorders / services.assessment) laid out in both files."""
    import docx
    import openpyxl

    from govcenter.bikeshare.reports import docx as word
    from govcenter.bikeshare.reports import xlsx as excel

    data = {
        **data,
        "workorders": [{"operator": "OP-MEITUAN", "issued": 12, "responded": 10, "responded_on_time": 9,
                        "closed": 8, "overdue": 2, "rate_on_time": 0.75}],
        "assessment": [{"operator_code": "OP-HELLO", "operator_name": "哈啰单车", "total": 87.5,
                        "status": "published", "status_label": "已发布",
                        "indicators": [{"code": "q", "name": "数据质量", "weight": 30, "value": 0.91, "points": 91.0,
                                        "weighted": 27.3, "inputs": {}, "missing": False}]}],
    }  # fmt: skip
    secs = {s.key: s for s in layout.sections(data)}
    assert secs["工单"].tables[0].rows == [["美团单车", 12, 10, 9, 8, 2, 0.75]]
    assert secs["考核"].tables[0].rows == [["哈啰单车", 87.5, "已发布"]]
    assert secs["考核"].tables[1].rows[0][1:] == ["数据质量", 30, 0.91, 91.0, 27.3]
    doc = docx.Document(io.BytesIO(word.render(data)))
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert {"75.0%", "87.5", "已发布", "27.30"} <= cells
    wb = openpyxl.load_workbook(io.BytesIO(excel.render(data)))
    rows = list(wb["工单"].iter_rows(values_only=True))
    assert ("美团单车", 12, 10, 9, 8, 2, 0.75) in [tuple(r[:7]) for r in rows]
    assert wb["工单"]._charts and wb["考核"]._charts
