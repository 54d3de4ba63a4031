"""The supervision API: tasks through the kind's viewset (steps, refusals, scope), the plans with
their Excel import (all rows or none, each bad row named), and the dashboard's figures."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.congestion.models import SupervisionTask
from govcenter.congestion.services import cases
from govcenter.congestion.services import supervision as svc
from govcenter.core import tabular
from govcenter.core.models import AuditEntry
from tests.congestion.helpers import client_for, post
from tests.congestion.test_supervision import at, draft, org  # noqa: F401  (fixture)

API = "/api/v1/congestion/"


def test_a_task_through_the_api_and_scope(org):  # noqa: F811
    o = org
    staff, dc, xc, opa = (client_for(u) for u in (o.staff, o.dc, o.xc, o.opa))
    made = post(staff, API + "supervision/", {
        "plan": o.plan.pk, "item_no": "一、1", "title": "优化公交线网", "lead": o.unit_dc.pk,
        "responsible": [o.unit_xc.pk, o.op_a.pk], "deadline": "2026-12-31"})  # fmt: skip
    assert made.status_code == 201, made.content
    pk = made.json()["id"]
    assert made.json()["state"] == "drafted" and made.json()["units"] == []
    assert dc.get(f"{API}supervision/{pk}/").status_code == 404  # a draft: not the unit's yet
    assert post(dc, f"{API}supervision/{pk}/issue/", {}).status_code == 404
    assert post(staff, f"{API}supervision/{pk}/decompose/", {}).json()["subtasks"] != []
    issued = post(staff, f"{API}supervision/{pk}/issue/", {})
    assert issued.status_code == 200 and issued.json()["state"] == "issued"
    sub_xc, sub_a = (SupervisionTask.objects.get(parent_id=pk, planned_units__0__unit=u).pk
                     for u in (o.unit_xc.pk, o.op_a.pk))  # fmt: skip
    assert {r["id"] for r in xc.get(API + "supervision/").json()["results"]} == {pk, sub_xc}
    assert xc.get(f"{API}supervision/{sub_a}/").status_code == 404  # another unit's sub-task
    assert (
        post(xc, f"{API}supervision/{sub_a}/report-progress/", {"text": "x", "percent": 5}).status_code == 404
    )

    upload = SimpleUploadedFile("进展.txt", "已完成方案".encode(), content_type="text/plain")
    reported = xc.post(f"{API}supervision/{sub_xc}/report-progress/",
                       {"text": "方案已完成", "percent": 40, "files": [upload]})  # fmt: skip
    assert reported.status_code == 200, reported.content
    assert (reported.json()["state"], reported.json()["progress"]) == ("in_progress", 40)
    assert reported.json()["reports"][0]["percent"] == 40
    for response, status, code in [
        (post(xc, f"{API}supervision/{sub_xc}/report-progress/", {"text": "x", "percent": 140}), 400, None),
        (post(xc, f"{API}supervision/{sub_xc}/accept/", {}), 409, "illegal_transition"),
        (post(xc, f"{API}supervision/{sub_xc}/request-extension/", {"reason": "x", "deadline": "2026-12-27"}),
         400, "deadline_not_workday"),  # a Sunday
        (post(xc, f"{API}supervision/{sub_xc}/report-completion/", {"text": "完成"}), 200, None),
        (post(xc, f"{API}supervision/{sub_xc}/accept/", {}), 403, "transition_forbidden"),
        (post(staff, f"{API}supervision/{sub_xc}/send-back/", {}), 400, None),
        (post(staff, f"{API}supervision/{sub_xc}/send-back/", {"reason": "数据不全"}), 200, None),
        (post(dc, API + "supervision/", {"plan": o.plan.pk, "title": "x", "lead": o.unit_dc.pk,
                                         "deadline": "2026-12-31"}), 403, None),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        if status != 200:
            assert set(response.json()) == {"code", "message", "details"}
        if code:
            assert response.json()["code"] == code
    history = staff.get(f"{API}supervision/{sub_xc}/history/").json()
    assert [h["transition"] for h in history] == [
        "issue",
        "report_progress",
        "report_completion",
        "send_back",
    ]
    assert [r["id"] for r in staff.get(f"{API}supervision/?unit={o.op_a.pk}").json()["results"]] == [
        pk,
        sub_a,
    ]
    assert staff.get(f"{API}supervision/?state=drafted").json()["results"] == []


def _xlsx(rows: list[list[str]]) -> bytes:
    return tabular.render_xlsx(svc.IMPORT_COLUMNS, rows)


GOOD = [
    [
        "一、1",
        "优化学校周边交通组织",
        "完成20所学校周边治理",
        "T-PK-DC",
        "西城停车单位、T-OP-A",
        "2026-12-31",
        "",
    ],
    ["一、2", "推进停车治理", "", "东城停车单位", "", "2026-12-30", "新增错时共享车位"],
]


def test_plan_import_all_or_nothing_with_each_bad_row_named(org):  # noqa: F811
    o = org
    bad = [
        GOOD[0],
        ["一、3", "", "缺标题", "T-PK-DC", "", "2026-12-31", ""],
        ["一、4", "未知单位", "", "T-NOPE", "西城停车单位,不存在的单位", "2026-12-31", ""],
        ["一、5", "节假日期限", "", "T-PK-DC", "", "2026-10-03", ""],
        ["一、6", "日期错", "", "T-PK-DC", "", "2026/12/31", ""],
    ]
    result = svc.plan_import(actor=o.staff, plan=o.plan, data=_xlsx(bad), filename="计划.xlsx")
    assert not result.ok and result.created == 0 and SupervisionTask.objects.count() == 0
    errors = {(e["row"], e["column"]) for e in result.errors}
    assert errors == {(4, "title"), (5, "lead"), (5, "responsible"), (6, "deadline"), (7, "deadline")}
    assert any("2026-10-08" in e["message"] for e in result.errors if e["row"] == 6)  # the next working day
    with cases.clock(at("2026-01-05")):
        result = svc.plan_import(actor=o.staff, plan=o.plan, data=_xlsx(GOOD), filename="计划.xlsx")
    assert (result.ok, result.created) == (True, 2)
    first = SupervisionTask.objects.get(item_no="一、1")
    assert [(p["unit"], p["role"]) for p in first.planned_units] == [
        (o.unit_dc.pk, "lead"), (o.unit_xc.pk, "responsible"), (o.op_a.pk, "responsible")]  # fmt: skip
    assert AuditEntry.objects.filter(action="congestion.supervisionplan.import").count() == 1


def test_plan_api_import_and_stats(org):  # noqa: F811
    o = org
    staff, xc = client_for(o.staff), client_for(o.xc)
    plan = post(staff, API + "supervision-plans/", {"year": 2026, "title": "2026年第二批任务"})
    assert plan.status_code == 201
    url = f"{API}supervision-plans/{plan.json()['id']}/import/"
    refused = staff.post(
        url, {"file": SimpleUploadedFile("p.xlsx", _xlsx([GOOD[0][:5] + ["2026-10-01", ""]]))}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "import_invalid"
    assert list(refused.json()["details"]) == ["row 3: deadline"]
    assert staff.post(url, {"file": SimpleUploadedFile("p.txt", b"not a table")}).status_code == 400
    assert xc.post(url, {"file": SimpleUploadedFile("p.xlsx", _xlsx(GOOD))}).status_code in (403, 404)
    done = staff.post(url, {"file": SimpleUploadedFile("p.xlsx", _xlsx(GOOD))})
    assert done.status_code == 200 and done.json()["created"] == 2
    assert xc.get(API + "supervision-plans/").json()["results"] == []  # nothing issued to 西城 yet
    for task in SupervisionTask.objects.all():
        svc.task_issue(actor=o.staff, task=task)
    assert [p["tasks"] for p in xc.get(API + "supervision-plans/").json()["results"]] == [1]
    stats = staff.get(API + "supervision-stats/?year=2026").json()
    assert stats["by_state"]["issued"] == 2
    assert {r["unit_code"]: r["tasks"] for r in stats["by_unit"]} == {"T-PK-DC": 2, "T-PK-XC": 1, "T-OP-A": 1}
    assert {r["unit_code"] for r in stats["scores"]} == {"T-PK-DC", "T-PK-XC", "T-OP-A"}
    mine = xc.get(API + "supervision-stats/?year=2026").json()
    assert mine["by_state"]["issued"] == 1 and [r["unit_code"] for r in mine["scores"]] == ["T-PK-XC"]
    assert [r["unit_code"] for r in mine["by_unit"]] == ["T-PK-XC"]
    assert staff.get(API + "supervision-stats/?year=abc").status_code == 400
    assert draft  # the helper is shared with the service tests
