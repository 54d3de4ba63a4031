"""Weekly and monthly parking reports (statistics 8 and 9) on generated data.

The figures are read back from the Word tables (python-docx) and the Excel sheets (openpyxl)
and compared with the statistics' own compute for the same window; the district version
holds only its district; the schedule is idempotent; a tampered file is refused; the CLI
refuses bad input with exit 2.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry, Unit
from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, Road
from govcenter.parking.models.reports import ParkingReport
from govcenter.parking.reports import services, tasks
from govcenter.parking.reports.sections import number
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute, display
from govcenter.parking.stats2.orders import order_stats
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(generated, lake, settings, tmp_path):
    settings.GOVCENTER_VAR_DIR = str(tmp_path / "var")
    org = build_org()
    for name in ("orders", "refunds"):
        sync_dataset(name)
    days = sorted({timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True)})
    org.days = days
    org.month = services.month_period(days[0])
    org.week = services.week_period(days[0])
    # "now" after the periods ended (the demo's orders are recent).
    org.now = dt.datetime.combine(
        max(org.month.end, org.week.end) + dt.timedelta(days=1), dt.time(8), timezone.get_default_timezone()
    )
    return org


def docx_tables(data: bytes) -> list[list[list[str]]]:
    from docx import Document

    doc = Document(io.BytesIO(data))
    return [[[cell.text for cell in row.cells] for row in table.rows] for table in doc.tables]


def xlsx_sheets(data: bytes) -> dict[str, list[list]]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), data_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def files(report: ParkingReport) -> dict[str, bytes]:
    from django.conf import settings

    var = Path(settings.GOVCENTER_VAR_DIR)
    return {ext: (var / getattr(report, f"{ext}_path")).read_bytes() for ext in ("docx", "xlsx")}


def sheet_table(rows: list[list], first: str) -> list[list]:
    """The rows of the sheet's table whose header starts with ``first`` (up to the blank line)."""
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    out = []
    for r in rows[start + 1 :]:
        if r[0] is None:
            break
        out.append(r)
    return out


def expected_tables(actor, q: StatQuery) -> list[tuple[str, list[tuple[str, list]]]]:
    """(title, [(row name, values)]) per section, straight from the statistics' compute."""
    from govcenter.parking.reports.sections import ORDER_COLUMNS

    stats = order_stats(actor, q)
    tables = [
        (
            "订单情况统计",
            [(r["name"], [display(r[k], u) for k, _l, u in ORDER_COLUMNS]) for r in stats.rows]
            + [("合计", [display(stats.total[k], u) for k, _l, u in ORDER_COLUMNS])],
        )
    ]
    for stat in sorted(STATISTICS.values(), key=lambda s: (s.number, s.slug)):
        result = compute(stat, actor, StatQuery(q.start, q.end, district=q.district, levels=stat.levels))
        cols = [(m.key, m.unit) for m in stat.measures]
        tables.append(
            (
                str(stat.title),
                [(r["name"], [display(r[k], u) for k, u in cols]) for r in result.rows]
                + [("合计", [display(result.total[k], u) for k, u in cols])],
            )
        )
    return tables


def assert_files_match(report: ParkingReport, actor, q: StatQuery) -> None:
    data = files(report)
    expected = expected_tables(actor, q)
    word = docx_tables(data["docx"])
    assert len(word) == len(expected)
    sheets = xlsx_sheets(data["xlsx"])
    names = [n for n in sheets if n != "封面"]
    assert len(names) == len(expected)
    for (title, rows), table, name in zip(expected, word, names, strict=True):
        assert title in name
        # Word: the header, then one line per drill row and the total, as the page shows them.
        assert [(r[0], r[1:]) for r in table[1:]] == [(n, [number(v) for v in values]) for n, values in rows]
        # Excel: the same numbers as numbers.
        first = table[0][0]
        got = sheet_table(sheets[name], first)
        assert [(r[0], list(r[1 : 1 + len(values)])) for r, (_n, values) in zip(got, rows, strict=True)] == [
            (n, values) for n, values in rows
        ]


def test_monthly_city_report_equals_the_statistics(world):
    started = time.monotonic()
    report = services.parkingreport_generate(
        actor=world.leader, kind="monthly", label=world.month.label, now=world.now
    )
    elapsed = time.monotonic() - started
    print(f"monthly city report: {elapsed:.2f} s ({report.duration_ms} ms recorded)")
    assert report.status == "done" and report.version == 1 and report.district is None
    assert elapsed < 30
    q = StatQuery(world.month.start, world.month.end)
    assert_files_match(report, world.leader, q)
    totals = order_stats(world.leader, q).total
    assert totals["orders"] > 100  # the demo's orders are in the window
    assert report.summary["orders"]["kpis"][0]["value"] == totals["orders"]
    assert report.parameters["start"] == world.month.start.isoformat()
    assert AuditEntry.objects.filter(action="parking.report.generate", object_id=str(report.pk)).exists()


def test_weekly_report_compares_with_the_previous_week(world):
    report = services.parkingreport_generate(
        actor=world.leader, kind="weekly", label=world.week.label, now=world.now
    )
    assert (report.period_start, report.period_end) == (world.week.start, world.week.end)
    assert world.week.start.isoweekday() == 1 and (world.week.end - world.week.start).days == 6
    assert_files_match(report, world.leader, StatQuery(world.week.start, world.week.end))
    previous = order_stats(
        world.leader,
        StatQuery(world.week.start - dt.timedelta(days=7), world.week.end - dt.timedelta(days=7)),
    )
    kpi = report.summary["orders"]["kpis"][0]
    assert kpi["previous"] == previous.total["orders"]
    # Every registered statistic's KPIs against its own compute over the week before.
    before = StatQuery(world.week.start - dt.timedelta(days=7), world.week.end - dt.timedelta(days=7))
    for stat in STATISTICS.values():
        total = compute(stat, world.leader, before).total
        for k in report.summary[stat.slug]["kpis"]:
            assert k["previous"] == display(total[k["key"]], stat.measure(k["key"]).unit), (stat.slug, k)


def test_district_version_shows_only_that_district(world):
    dc = world.dongcheng
    report = services.parkingreport_generate(
        actor=None, kind="monthly", label=world.month.label, district=dc, now=world.now
    )
    q = StatQuery(world.month.start, world.month.end, district=dc)
    assert_files_match(report, world.manager_dc, q)
    city = order_stats(world.leader, StatQuery(world.month.start, world.month.end))
    own = order_stats(world.manager_dc, q)
    by_district = {r["code"]: r["orders"] for r in city.rows}
    assert own.total["orders"] == by_district.get("110101", 0)
    # The rows are Dongcheng's roads, and no other district's name appears anywhere.
    word = docx_tables(files(report)["docx"])
    roads = set(Road.objects.filter(district=dc).values_list("name", flat=True))
    assert {r[0] for r in word[0][1:-1]} <= roads
    text = "".join(c for t in word for row in t for c in row)
    assert "西城区" not in text and "朝阳区" not in text
    # A district manager may generate their district's version, not another's, nor the city's.
    with pytest.raises(ServiceError) as exc:
        services.parkingreport_generate(
            actor=world.manager_dc,
            kind="monthly",
            label=world.month.label,
            district=world.xicheng,
            now=world.now,
        )
    assert exc.value.error_code == "unknown_district"
    with pytest.raises(ServiceError) as exc:
        services.parkingreport_generate(
            actor=world.manager_dc, kind="monthly", label=world.month.label, now=world.now
        )
    assert exc.value.error_code == "city_not_permitted"


def test_schedule_is_idempotent_and_on_demand_replaces(world):
    # The demo made a unit in every district: keep the test org's two active (an inactive unit gets no version).
    Unit.objects.filter(kind="district_unit").exclude(code__in=["T-PK-DC", "T-PK-XC"]).update(is_active=False)
    made = services.generate_due("monthly", world.now)
    districts = {r.district.code if r.district else None for r in made}
    assert districts == {None, "110101", "110102"}  # the city and each district unit
    digests = {r.pk: (r.version, r.docx_sm3) for r in made}
    again = services.generate_due("monthly", world.now + dt.timedelta(hours=1))
    assert {r.pk: (r.version, r.docx_sm3) for r in again} == digests
    assert ParkingReport.objects.count() == 3
    city = next(r for r in made if r.district is None)
    old = files(city)
    replaced = services.parkingreport_generate(
        actor=world.leader, kind="monthly", label=world.month.label, now=world.now + dt.timedelta(hours=2)
    )
    assert replaced.pk == city.pk and replaced.version == 2 and ParkingReport.objects.count() == 3
    assert files(replaced)["xlsx"] != old["xlsx"] or replaced.xlsx_path != city.xlsx_path
    # The periodic job: due only on the 1st (monthly) / a Monday (weekly), Beijing time.
    assert tasks.due_kinds(dt.date(2026, 6, 1)) == ["weekly", "monthly"]
    assert tasks.due_kinds(dt.date(2026, 6, 2)) == []
    first = dt.datetime(2026, 6, 1, 6, tzinfo=timezone.get_default_timezone())
    assert tasks.run_due("monthly", first - dt.timedelta(days=1)) == 0


def test_download_checks_the_digest_and_is_scoped(world):
    dc = services.parkingreport_generate(
        actor=None, kind="weekly", label=world.week.label, district=world.dongcheng, now=world.now
    )
    xc = services.parkingreport_generate(
        actor=None, kind="weekly", label=world.week.label, district=world.xicheng, now=world.now
    )
    city = services.parkingreport_generate(actor=None, kind="weekly", label=world.week.label, now=world.now)
    client = Client()
    client.force_login(world.manager_dc)
    page = client.get("/parking/stats/reports/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-report="{dc.pk}"' in body
    assert f'data-report="{xc.pk}"' not in body and f'data-report="{city.pk}"' not in body
    assert client.get(f"/parking/stats/reports/{xc.pk}/docx/").status_code == 404
    response = client.get(f"/parking/stats/reports/{dc.pk}/docx/")
    assert response.status_code == 200 and response.content == files(dc)["docx"]
    assert AuditEntry.objects.filter(action="parking.report.download", object_id=str(dc.pk)).exists()
    api = client.get("/api/v1/parking/stats/reports")
    assert api.status_code == 200 and [r["id"] for r in api.json()] == [dc.pk]
    # Tamper with the stored Excel file: refused (409), by the page and the API.
    from django.conf import settings

    path = Path(settings.GOVCENTER_VAR_DIR) / dc.xlsx_path
    path.write_bytes(path.read_bytes() + b"x")
    assert client.get(f"/parking/stats/reports/{dc.pk}/xlsx/").status_code == 409
    refused = client.get(f"/api/v1/parking/stats/reports/{dc.pk}/xlsx")
    assert refused.status_code == 409 and refused.json()["code"] == "file_corrupt"
    # The leader sees all three.
    leader = Client()
    leader.force_login(world.leader)
    assert {r["id"] for r in leader.get("/api/v1/parking/stats/reports").json()} == {dc.pk, xc.pk, city.pk}


def test_generate_on_demand_through_the_page_and_the_api(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    """On demand a report is queued and a Huey job builds it as the requester (immediate in the tests)."""
    # The page and API generate "now": pin the date so the demo's month has ended.
    monkeypatch.setattr(timezone, "now", lambda: world.now)
    client = Client()
    client.force_login(world.manager_dc)
    form = {"kind": "weekly", "period": world.week.label, "district": world.dongcheng.pk}
    with django_capture_on_commit_callbacks() as queued:
        response = client.post("/parking/stats/reports/", form)
        assert client.post("/parking/stats/reports/", form).status_code == 302  # a double click
    assert response.status_code == 302 and len(queued) == 1  # one job
    report = ParkingReport.objects.get(kind="weekly", district=world.dongcheng)
    assert report.status == "queued" and report.requested_by == world.manager_dc and not report.docx_path
    page = client.get("/parking/stats/reports/").content.decode()
    assert 'data-status="queued"' in page and 'http-equiv="refresh"' in page
    assert AuditEntry.objects.filter(action="parking.report.request", object_id=str(report.pk)).count() == 1
    queued[0]()  # the worker runs the job
    report.refresh_from_db()
    assert report.status == "done" and report.version == 1 and report.generated_by == world.manager_dc
    assert (
        docx_tables(files(report)["docx"])
        and 'http-equiv="refresh"' not in client.get("/parking/stats/reports/").content.decode()
    )
    assert tasks.report_generate.call_local(report.pk) == "done"  # a second run of the job: nothing new
    report.refresh_from_db()
    assert report.version == 1
    bad = client.post("/parking/stats/reports/", {"kind": "weekly", "period": "2026-W60"})
    assert bad.status_code == 400 and "data-error" in bad.content.decode()
    api = client.post(
        "/api/v1/parking/stats/reports",
        {"kind": "monthly", "period": world.month.label, "district": world.xicheng.pk},
        content_type="application/json",
    )
    assert api.status_code == 400 and api.json()["code"] == "unknown_district"
    assert ParkingReport.objects.count() == 1  # bad input queues nothing
    leader = Client()
    leader.force_login(world.leader)
    with django_capture_on_commit_callbacks(execute=True):
        made = leader.post(
            "/api/v1/parking/stats/reports",
            {"kind": "monthly", "period": world.month.label},
            content_type="application/json",
        )
    assert made.status_code == 202 and made.json()["district"] is None and made.json()["status"] == "queued"
    polled = leader.get(f"/api/v1/parking/stats/reports/{made.json()['id']}").json()
    assert (
        polled["status"] == "done"
        and polled["version"] == 1
        and polled["generated_by_name"] == world.leader.username
    )
    assert client.get(f"/api/v1/parking/stats/reports/{made.json()['id']}").status_code == 404  # the city's
    # Asking again replaces it: the stored version stays downloadable while the job waits.
    with django_capture_on_commit_callbacks() as queued:
        again = leader.post("/parking/stats/reports/", {"kind": "monthly", "period": world.month.label})
    assert again.status_code == 302
    waiting = leader.get(f"/api/v1/parking/stats/reports/{made.json()['id']}").json()
    assert waiting["status"] == "queued" and waiting["version"] == 1
    assert leader.get(f"/parking/stats/reports/{made.json()['id']}/docx/").status_code == 200
    queued[0]()
    assert leader.get(f"/api/v1/parking/stats/reports/{made.json()['id']}").json()["version"] == 2


def test_a_failed_job_is_on_the_row(world, monkeypatch, django_capture_on_commit_callbacks):
    """The requester lost their account before the job ran: failed, with the reason; a stored
    version is kept (done, with the error); a request after the job was lost queues it again."""
    monkeypatch.setattr(timezone, "now", lambda: world.now)
    user = world.manager_dc
    with django_capture_on_commit_callbacks() as queued:
        report = services.parkingreport_request(actor=user, kind="weekly", district=world.dongcheng)
    user.is_active = False
    user.save(update_fields=["is_active"])
    queued[0]()
    report.refresh_from_db()
    assert report.status == "failed" and "停用" in report.error and not report.docx_path
    user.is_active = True
    user.save(update_fields=["is_active"])
    stored = services.parkingreport_generate(actor=user, kind="weekly", district=world.dongcheng)
    assert stored.pk == report.pk and stored.status == "done" and stored.version == 1 and stored.error == ""
    with django_capture_on_commit_callbacks() as queued:
        services.parkingreport_request(actor=user, kind="weekly", district=world.dongcheng)
    # A job lost with its worker: after STALE_JOB a new request queues it again.
    later = world.now + services.STALE_JOB + dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks() as requeued:
        services.parkingreport_request(actor=user, kind="weekly", district=world.dongcheng, now=later)
    assert len(queued) == len(requeued) == 1
    user.is_active = False
    user.save(update_fields=["is_active"])
    requeued[0]()
    report.refresh_from_db()
    assert report.status == "done" and report.version == 1 and "停用" in report.error
    assert (
        services.parkingreport_file(actor=world.leader, report=report, ext="docx")[0] == files(report)["docx"]
    )


def test_cli_generates_and_refuses_bad_input_with_exit_2(world):
    out = io.StringIO()
    week = services.previous_period("weekly", timezone.localdate())
    call_command("parking", "report", "weekly", "--week", week.label, "--district", "110101", stdout=out)
    assert '"district": "110101"' in out.getvalue()
    for args in (
        ("weekly", "--week", "2026-W60"),
        ("monthly", "--period", "2026-13"),
        ("monthly", "--week", "2026-W01"),
        ("monthly", "--district", "999999"),
        ("monthly", "--period", "2999-01"),
    ):
        with pytest.raises(CommandError) as exc:
            call_command("parking", "report", *args, stdout=io.StringIO())
        assert exc.value.returncode == 2, args
    with pytest.raises(SystemExit) as stop:
        call_command("parking", "report", "daily", stdout=io.StringIO(), stderr=io.StringIO())
    assert stop.value.code == 2
