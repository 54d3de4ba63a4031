"""政策研究信息, 科研项目信息, 宣传 on the case machinery: versions that keep the old ones readable,
tags and full-text search (attachment text included), the project's stages and budget rule,
deliverables, the publicity review, scope, statistics, and every bad input refused cleanly."""

from __future__ import annotations

import datetime as dt
import io

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from govcenter.congestion.models import (
    PolicyDocument,
    PolicyState,
    PolicyVersion,
    ProjectExpense,
    ProjectState,
    PublicityItem,
    PublicityState,
    ResearchProject,
)
from govcenter.congestion.services import library as svc
from govcenter.congestion.services.cases import clock
from govcenter.core import search, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import is_workday, seed_calendar
from govcenter.core.models import AuditEntry
from tests.factories import UserFactory
from tests.helpers.org import build_org


@pytest.fixture
def lib(db, settings, tmp_path):
    settings.GOVCENTER_ATTACHMENT_DIR = str(tmp_path / "files")
    seed_calendar()
    o = build_org()
    o.staff = UserFactory(username="lib_staff", unit=o.office, role_set=[o.roles["data_staff"]])
    o.handler_dc = UserFactory(username="lib_dc", unit=o.unit_dc, role_set=[o.roles["congestion_staff"]])
    o.handler_xc = UserFactory(username="lib_xc", unit=o.unit_xc, role_set=[o.roles["congestion_staff"]])
    return o


def docx_file(name: str, text: str) -> SimpleUploadedFile:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def new_policy(o, **kw):
    args = {"actor": o.staff, "title": "关于加强学校周边交通综合治理的意见", "issuer": "北京市交通委员会",
            "issued_on": dt.date(2025, 9, 1), "category": "policy", "tags": ["学校周边", "护学"],
            "doc_number": "京交发〔2025〕12号", "abstract": "治理学校周边拥堵。", "body": "一、总体要求……",
            "unit": o.unit_dc}  # fmt: skip
    args.update(kw)
    return svc.policy_create(**args)


def test_a_document_keeps_its_versions_and_is_found_by_tag_and_text(lib):
    doc = new_policy(lib, files=[docx_file("v1.docx", "潮汐车道试点方案")])
    assert doc.state == PolicyState.DRAFT and doc.number.startswith("ZC-") and doc.version == 1
    assert {t.name for t in doc.tags.all()} == {"学校周边", "护学"}
    assert [h.object_id for h in search.query(lib.staff, "潮汐车道")[1]] == [doc.pk]  # the file's text

    doc = svc.policy_add_version(actor=lib.handler_dc, document=doc, body="修订后的正文：错峰放学。", note="修订",
                                 files=[docx_file("v2.docx", "错峰放学接送方案")])  # fmt: skip
    assert doc.version == 2 and doc.state == PolicyState.DRAFT
    v1, v2 = PolicyVersion.objects.filter(document=doc).order_by("number")
    assert (v1.number, v1.body, v1.attachment.name) == (1, "一、总体要求……", "v1.docx")  # still readable
    assert (v2.number, v2.attachment.name, v2.note) == (2, "v2.docx", "修订")
    assert search.query(lib.staff, "潮汐车道")[0] == 0  # only the current version is indexed
    assert [h.object_id for h in search.query(lib.staff, "错峰放学")[1]] == [doc.pk]

    other = new_policy(
        lib, title="停车治理标准", category="standard", tags=["停车"], doc_number="", unit=lib.unit_xc
    )
    assert [d.pk for d in svc.policy_search(lib.staff, tag="护学")] == [doc.pk]
    assert [d.pk for d in svc.policy_search(lib.staff, "停车治理")] == [other.pk]
    assert [
        d.pk for d in svc.policy_search(lib.handler_xc, "错峰放学")
    ] == []  # 东城's document: out of scope
    assert list(PolicyDocument.objects.restrict(lib.handler_dc)) == [doc]

    doc = svc.policy_publish(actor=lib.staff, document=doc)
    assert doc.state == PolicyState.PUBLISHED and doc.published_at is not None
    doc = svc.policy_archive(actor=lib.staff, document=doc)
    doc = svc.policy_withdraw(actor=lib.staff, document=doc, reason="已被新文件替代")
    assert (doc.state, doc.withdraw_reason) == (PolicyState.WITHDRAWN, "已被新文件替代")
    assert [r.transition for r in workflow.history(doc)] == ["add_version", "publish", "archive", "withdraw"]
    assert (
        AuditEntry.objects.filter(action__startswith="congestion.policydocument.").count() == 6
    )  # 2 creates + 4


def test_policy_refusals(lib):
    doc = new_policy(lib)
    for kwargs, code, field in [
        ({"title": ""}, "required", "title"),
        ({"issuer": "  "}, "required", "issuer"),
        ({"issued_on": None}, "required", "issued_on"),
        ({"category": "novel"}, "invalid_choice", "category"),
        ({"tags": ["x" * 31]}, "too_long", "tags"),
        ({"files": [SimpleUploadedFile("run.exe", b"MZ\x00\x00binary")]}, "file_type_not_allowed", "files"),
        ({"files": [SimpleUploadedFile("a.pdf", b"plain text")]}, "extension_mismatch", "files"),
    ]:
        with pytest.raises(ServiceError) as info:
            new_policy(lib, **kwargs)
        assert (info.value.error_code, list(info.value.details)) == (code, [field]), kwargs
    assert PolicyDocument.objects.count() == 1  # nothing half-written
    with pytest.raises(ServiceError) as info:
        svc.policy_archive(actor=lib.staff, document=doc)  # a draft is not archived
    assert info.value.error_code == "illegal_transition" and info.value.status_code == 409
    with pytest.raises(ServiceError) as info:
        svc.policy_publish(actor=lib.handler_dc, document=doc)  # handling units do not publish
    assert info.value.error_code == "transition_forbidden" and info.value.status_code == 403
    with pytest.raises(ServiceError) as info:  # 西城 does not keep 东城's document
        svc.policy_add_version(actor=lib.handler_xc, document=doc, body="x", note="越权")
    assert info.value.error_code == "transition_forbidden"
    stale = PolicyDocument.objects.get(pk=doc.pk)
    svc.policy_publish(actor=lib.staff, document=doc)
    with pytest.raises(ServiceError) as info:
        svc.policy_publish(actor=lib.staff, document=stale)
    assert info.value.error_code == "state_changed"
    with pytest.raises(ServiceError) as info:
        svc.policy_withdraw(actor=lib.staff, document=PolicyDocument.objects.get(pk=doc.pk), reason="")
    assert info.value.details == {"reason": [""]}
    with pytest.raises(ServiceError) as info:  # a refused file leaves no new version behind
        svc.policy_add_version(actor=lib.staff, document=PolicyDocument.objects.get(pk=doc.pk), note="v2",
                               files=[SimpleUploadedFile("x.png", b"not a png")])  # fmt: skip
    assert list(info.value.details) == ["files"]
    assert PolicyDocument.objects.get(pk=doc.pk).version == 1 and PolicyVersion.objects.count() == 1


def new_project(o, **kw):
    args = {"actor": o.staff, "title": "城市副中心潮汐交通组织研究", "organisation": "北京交通发展研究院",
            "investigator_name": "张三", "investigator_phone": "13900139000", "budget_fen": 50_000_000,
            "body": "研究通州区早晚高峰潮汐交通。", "unit": o.unit_dc}  # fmt: skip
    args.update(kw)
    return svc.project_create(**args)


def test_a_research_project_from_initiation_to_closure(lib):
    p = new_project(lib)
    assert p.state == ProjectState.INITIATED and p.number.startswith("KY-")
    assert (
        search.query(lib.staff, "张三")[0] == 0 and search.query(lib.staff, "13900139000")[0] == 0
    )  # personal data
    p = svc.project_sign_contract(actor=lib.handler_dc, project=p, contract_number="HT-2026-001",
                                  contract_date=dt.date(2026, 3, 2), amount_fen=48_000_000,
                                  files=[docx_file("合同.docx", "甲方 乙方 研究任务书")])  # fmt: skip
    assert p.state == ProjectState.CONTRACTED
    assert [h.object_id for h in search.query(lib.staff, "研究任务书")[1]] == [p.pk]

    p = svc.project_add_expense(actor=lib.handler_dc, project=p, category="travel", amount_fen=30_000_000,
                                spent_on=dt.date(2026, 4, 1))  # fmt: skip
    with pytest.raises(ServiceError) as info:  # over the budget: refused, not written
        svc.project_add_expense(actor=lib.handler_dc, project=p, category="equipment", amount_fen=20_000_001,
                                spent_on=dt.date(2026, 4, 2))  # fmt: skip
    assert (info.value.error_code, info.value.status_code) == ("budget_exceeded", 409)
    assert info.value.details["remaining_fen"] == ["20000000"]
    for amount in (-100, 0):
        with pytest.raises(ServiceError) as info:
            svc.project_add_expense(actor=lib.handler_dc, project=p, category="travel", amount_fen=amount,
                                    spent_on=dt.date(2026, 4, 2))  # fmt: skip
        assert (info.value.error_code, list(info.value.details)) == ("invalid_amount", ["amount_fen"])
    with pytest.raises(ServiceError) as info:  # the unit may not raise its own budget
        svc.project_adjust_budget(actor=lib.handler_dc, project=p, budget_fen=60_000_000, reason="增加实验")
    assert info.value.error_code == "transition_forbidden"
    leader = lib.leader
    p = svc.project_adjust_budget(actor=leader, project=p, budget_fen=60_000_000, reason="增加实地实验")
    p = svc.project_add_expense(actor=lib.handler_dc, project=p, category="equipment", amount_fen=20_000_001,
                                spent_on=dt.date(2026, 4, 2))  # fmt: skip
    assert svc.project_budget(p) == {"budget_fen": 60_000_000, "spent_fen": 50_000_001, "remaining_fen": 9_999_999,
                                     "by_category": {"travel": 30_000_000, "equipment": 20_000_001}}  # fmt: skip

    with pytest.raises(ServiceError) as info:
        svc.project_accept(
            actor=lib.staff, project=p, day=dt.date(2026, 9, 1), conclusion="passed", experts="李四"
        )
    assert info.value.error_code == "illegal_transition"  # no acceptance before the mid-term review
    with pytest.raises(ServiceError) as info:
        svc.project_midterm(actor=lib.staff, project=p, day=dt.date(2026, 6, 1), conclusion="rectify")
    assert info.value.details == {"opinion": [""]}  # 整改 needs the opinion
    p = svc.project_midterm(actor=lib.staff, project=p, day=dt.date(2026, 6, 1), conclusion="rectify",
                            opinion="数据采集不足，补充调查。")  # fmt: skip
    assert p.state == ProjectState.RECTIFYING
    p = svc.project_midterm(actor=lib.staff, project=p, day=dt.date(2026, 7, 1), conclusion="pass")
    p = svc.project_add_deliverable(actor=lib.handler_dc, project=p, kind="report", title="潮汐交通组织研究报告",
                                    day=dt.date(2026, 8, 1), files=[docx_file("报告.docx", "可变车道")])  # fmt: skip
    with pytest.raises(ServiceError) as info:
        svc.project_add_deliverable(
            actor=lib.handler_dc, project=p, kind="novel", title="x", day=dt.date(2026, 8, 1)
        )
    assert info.value.error_code == "invalid_choice"
    p = svc.project_accept(actor=lib.staff, project=p, day=dt.date(2026, 9, 1), conclusion="postponed",
                           experts="李四、王五")  # fmt: skip
    assert p.state == ProjectState.REVIEWED and p.acceptance_conclusion == "postponed"
    p = svc.project_accept(
        actor=lib.staff, project=p, day=dt.date(2026, 10, 9), conclusion="passed", experts="李四"
    )
    p = svc.project_close(actor=lib.staff, project=p)
    assert p.state == ProjectState.CLOSED and p.closed_at is not None
    assert [r.state for r in workflow.history(p)] == [
        "contracted", "contracted", "contracted", "contracted", "rectifying", "reviewed", "reviewed", "reviewed",
        "accepted", "closed",
    ]  # fmt: skip
    assert ProjectExpense.objects.filter(project=p).count() == 2
    with pytest.raises(ServiceError) as info:  # closed: no more spending
        svc.project_add_expense(actor=lib.handler_dc, project=p, category="travel", amount_fen=1,
                                spent_on=dt.date(2026, 11, 2))  # fmt: skip
    assert info.value.error_code == "illegal_transition"


def test_project_deadlines_on_the_official_calendar(lib):
    assert is_workday(dt.date(2026, 2, 14)) and is_workday(dt.date(2026, 10, 10))  # make-up Saturdays (调休)
    assert not is_workday(dt.date(2026, 2, 17)) and not is_workday(dt.date(2026, 10, 5))
    with clock(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)):
        assert new_project(lib, deadline=dt.date(2026, 2, 14)).deadline == dt.date(2026, 2, 14)
        assert new_project(lib, deadline=dt.date(2026, 10, 10)).deadline == dt.date(2026, 10, 10)
        for day, suggestion in [(dt.date(2026, 2, 17), "2026-02-24"), (dt.date(2026, 10, 5), "2026-10-08")]:
            with pytest.raises(ServiceError) as info:
                new_project(lib, deadline=day)
            assert (info.value.error_code, info.value.details) == (
                "deadline_not_workday",
                {"deadline": [suggestion]},
            )
    assert ResearchProject.objects.count() == 2
    for kwargs, field in [({"budget_fen": -1}, "budget_fen"), ({"investigator_name": ""}, "investigator_name"),
                          ({"organisation": ""}, "organisation"), ({"investigator_phone": "12-ab"}, "investigator_phone")]:  # fmt: skip
        with pytest.raises(ServiceError) as info:
            new_project(lib, **kwargs)
        assert list(info.value.details) == [field]


def test_publicity_review_before_publishing(lib):
    item = svc.publicity_create(actor=lib.handler_dc, kind="news", title="东城区学校周边交通治理见成效",
                                body="开学以来……", files=[SimpleUploadedFile("说明.txt", "附件说明文字".encode())])  # fmt: skip
    assert item.state == PublicityState.DRAFT and item.units.get().unit == lib.unit_dc
    assert [h.object_id for h in search.query(lib.handler_dc, "附件说明文字")[1]] == [item.pk]
    with pytest.raises(ServiceError) as info:
        svc.publicity_approve(actor=lib.staff, item=item)
    assert info.value.error_code == "illegal_transition"
    with pytest.raises(ServiceError) as info:
        svc.publicity_submit(actor=lib.handler_xc, item=item)
    assert info.value.error_code == "transition_forbidden"
    item = svc.publicity_submit(actor=lib.handler_dc, item=item)
    with pytest.raises(ServiceError) as info:
        svc.publicity_approve(actor=lib.handler_dc, item=item)  # a unit does not approve its own news
    assert info.value.error_code == "transition_forbidden"
    item = svc.publicity_send_back(actor=lib.staff, item=item, reason="标题需更具体")
    assert (item.state, item.return_reason) == (PublicityState.DRAFT, "标题需更具体")
    with pytest.raises(ServiceError) as info:
        svc.publicity_add_files(
            actor=lib.handler_dc, item=item, files=[SimpleUploadedFile("x.gif", b"GIF89a\x00\x01")]
        )
    assert (info.value.error_code, list(info.value.details)) == ("file_type_not_allowed", ["files"])
    item = svc.publicity_submit(actor=lib.handler_dc, item=item)
    item = svc.publicity_approve(actor=lib.leader, item=item)
    assert item.state == PublicityState.PUBLISHED and list(svc.published_items()) == [item]
    item = svc.publicity_withdraw(actor=lib.staff, item=item, reason="信息有误")
    assert item.state == PublicityState.WITHDRAWN and list(svc.published_items()) == []
    with pytest.raises(ServiceError) as info:
        svc.publicity_create(actor=lib.handler_dc, kind="news", title="无正文", body="")
    assert list(info.value.details) == ["body"]
    assert PublicityItem.objects.count() == 1


def test_statistics_follow_the_scope(lib):
    new_policy(lib)
    new_policy(lib, title="停车标准", category="standard", unit=lib.unit_xc)
    new_project(lib)
    svc.publicity_create(actor=lib.handler_xc, kind="notice", title="通知", body="正文")
    city = svc.library_statistics(lib.staff)
    assert city["policy"]["total"] == 2 and city["policy"]["by_category"] == {"policy": 1, "standard": 1}
    assert city["research"]["by_state"] == {"initiated": 1} and city["research"]["budget_fen"] == 50_000_000
    assert city["publicity"]["by_kind"] == {"notice": 1}
    dc = svc.library_statistics(lib.handler_dc)
    assert (dc["policy"]["total"], dc["research"]["total"], dc["publicity"]["total"]) == (1, 1, 0)
    assert dc["policy"]["by_issued_year"] == {"2025": 1}
