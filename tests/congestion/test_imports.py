"""台账导入: an existing suggestions register from Excel — replayed at its dates, all or nothing,
every bad cell and every refusal named by row and column."""

from __future__ import annotations

import io

import openpyxl
from django.test import Client
from django.utils import timezone

from govcenter.congestion.models import Suggestion
from govcenter.congestion.services.imports import import_register, register_template
from govcenter.core.models import AuditEntry
from tests.congestion.test_suggestions import org  # noqa: F401  (fixture)


def workbook(rows: list[list]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(register_template("suggestions")))
    sheet = book.worksheets[0]
    for r, row in enumerate(rows, start=3):  # as a person fills it: from row 3 (the template formats 1,000 rows)
        for c, value in enumerate(row, start=1):
            sheet.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = ["东四路口左转排队过长", "早高峰排队溢出", "信号灯与交通组织", "热线电话", 116.4166, 39.9288, "", "王先生", "13900139000", "2026-03-02"]


def test_a_good_register_is_replayed_at_its_dates(org):  # noqa: F811
    data = workbook([GOOD, ["学校周边接送拥堵", "", "学校医院周边", "来信", "", "", "西城区", "", "", "2026-05-11"]])
    dry = import_register(actor=org.staff, kind="suggestions", data=data, filename="台账.xlsx", dry_run=True)
    assert dry.ok and dry.created == 2 and not Suggestion.objects.exists()
    result = import_register(actor=org.staff, kind="suggestions", data=data, filename="台账.xlsx")
    assert result.ok and result.created == 2
    first, second = Suggestion.objects.order_by("created_at")
    assert timezone.localdate(first.created_at).isoformat() == "2026-03-02" and first.number == "JY-2026-00001"
    assert first.district == org.dongcheng and first.channel == "hotline"
    assert second.district.name_zh == "西城区" and second.location is None
    assert AuditEntry.objects.filter(action="congestion.suggestions.import").count() == 1


def test_one_bad_row_keeps_nothing_and_every_error_is_named(org):  # noqa: F811
    bad = [
        GOOD,
        ["", "", "天气", "热线电话", "", "", "", "", "", ""],  # title missing, topic unknown
        ["路口", "", "停车", "热线电话", 121.47, 31.23, "", "", "", ""],  # 上海
        ["路口", "", "停车", "网上征集", "", "", "", "", "", ""],  # public form without a phone
        ["路口", "", "停车", "热线电话", "", "", "朝阳", "", "", "2999-01-01"],  # unknown district, future date
        ["路口", "", "停车", "热线电话", 116.4, "", "", "", "", ""],  # only one coordinate
    ]
    result = import_register(actor=org.staff, kind="suggestions", data=workbook(bad), filename="台账.xlsx")
    assert not result.ok and result.created == 0 and not Suggestion.objects.exists()
    cells = {(e["row"], e["column"]) for e in result.errors}
    assert {(4, "title"), (4, "topic")} <= cells
    assert (5, "lon") in cells and (6, "proposer_phone") in cells and (8, "lat") in cells
    assert (7, "district") in cells or (7, "received") in cells
    broken = import_register(actor=org.staff, kind="suggestions", data=b"not a workbook", filename="x.xlsx")
    assert not broken.ok and broken.errors[0]["row"] == 0


def test_the_import_page(org):  # noqa: F811
    staff = Client()
    staff.force_login(org.staff)
    template = staff.get("/congestion/suggestions/import/", {"template": 1})
    assert template.status_code == 200 and template.content[:2] == b"PK"
    upload = io.BytesIO(workbook([GOOD, ["", "", "", "", "", "", "", "", "", ""]] + [["x", "", "天气", "来信"]]))
    upload.name = "台账.xlsx"
    page = staff.post("/congestion/suggestions/import/", {"file": upload})
    assert page.status_code == 400 and 'data-error-row="5"' in page.content.decode()
    upload = io.BytesIO(workbook([GOOD]))
    upload.name = "台账.xlsx"
    assert staff.post("/congestion/suggestions/import/", {"file": upload}).status_code == 302
    assert Suggestion.objects.count() == 1
    handler = Client()
    handler.force_login(org.handler_dc)
    assert handler.get("/congestion/suggestions/import/").status_code == 403
