"""The library kinds through their viewsets (/api/v1/congestion/policy|research|publicity/):
create with files (multipart), steps and their refusals, scope (404), filters by tag and full
text, masking — and the citizens' 宣传 pages and public API: anonymous, published only."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from govcenter.congestion.models import PublicityItem
from govcenter.congestion.services import library as svc
from tests.congestion.helpers import client_for, post
from tests.congestion.test_library import docx_file, lib  # noqa: F401  (fixture)

API = "/api/v1/congestion/"


def test_policy_over_the_api(lib):  # noqa: F811
    staff, dc, xc = client_for(lib.staff), client_for(lib.handler_dc), client_for(lib.handler_xc)
    made = staff.post(API + "policy/", {
        "title": "停车管理条例解读", "issuer": "市交通委", "issued_on": "2025-05-01", "category": "regulation",
        "tags": ["停车", "条例"], "unit": lib.unit_dc.pk, "files": [docx_file("解读.docx", "占道停车收费标准")],
    })  # fmt: skip
    assert made.status_code == 201, made.content[:300]
    body = made.json()
    assert body["state"] == "draft" and sorted(body["tags"]) == ["停车", "条例"]
    assert body["versions"][0]["attachment_name"] == "解读.docx"
    pk = body["id"]
    assert [r["id"] for r in staff.get(API + "policy/?tag=条例").json()["results"]] == [pk]
    assert [r["id"] for r in staff.get(API + "policy/?q=收费标准").json()["results"]] == [pk]
    assert staff.get(API + "policy/?tag=无此标签").json()["results"] == []
    assert dc.get(f"{API}policy/{pk}/").status_code == 200
    assert xc.get(f"{API}policy/{pk}/").status_code == 404  # another unit's document

    bad = staff.post(
        f"{API}policy/{pk}/add-version/", {"note": "v2", "files": [SimpleUploadedFile("a.exe", b"MZ\x00")]}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "file_type_not_allowed"
    assert list(bad.json()["details"]) == ["files"]
    v2 = dc.post(f"{API}policy/{pk}/add-version/", {"note": "修订", "body": "新正文", "tags": "停车，新规"})
    assert v2.status_code == 200 and v2.json()["version"] == 2 and len(v2.json()["versions"]) == 2
    assert sorted(v2.json()["tags"]) == ["停车", "新规"]  # one text box, separated by commas
    for response, status, code in [
        (post(dc, f"{API}policy/{pk}/publish/", {}), 403, "transition_forbidden"),
        (post(staff, f"{API}policy/{pk}/archive/", {}), 409, "illegal_transition"),
        (post(staff, f"{API}policy/{pk}/withdraw/", {}), 400, None),
        (post(staff, API + "policy/", {"title": "缺发文机关", "issued_on": "2025-05-01", "category": "policy"}), 400, None),
    ]:  # fmt: skip
        assert response.status_code == status, response.content[:300]
        assert set(response.json()) == {"code", "message", "details"}
        if code:
            assert response.json()["code"] == code
    assert post(staff, f"{API}policy/{pk}/publish/", {}).json()["state"] == "published"
    history = staff.get(f"{API}policy/{pk}/history/").json()
    assert [h["transition"] for h in history] == ["add_version", "publish"]


def test_research_over_the_api(lib):  # noqa: F811
    staff, dc = client_for(lib.staff), client_for(lib.handler_dc)
    made = post(staff, API + "research/", {"title": "共享单车调度研究", "organisation": "某大学", "investigator_name": "张三",
                                          "investigator_phone": "13900139000", "budget_fen": 1_000_000,
                                          "unit": lib.unit_dc.pk})  # fmt: skip
    assert made.status_code == 201, made.content[:300]
    row = made.json()
    assert row["investigator_name"] != "张三" and row["investigator_phone"] != "13900139000"
    pk = row["id"]
    negative = post(
        dc,
        f"{API}research/{pk}/add-expense/",
        {"category": "travel", "amount_fen": -5, "spent_on": "2026-03-01"},
    )
    assert negative.status_code == 400 and negative.json()["details"] == {"amount_fen": ["-5"]}
    over = post(
        dc,
        f"{API}research/{pk}/add-expense/",
        {"category": "travel", "amount_fen": 1_000_001, "spent_on": "2026-03-01"},
    )
    assert over.status_code == 409 and over.json()["code"] == "budget_exceeded"
    ok = post(
        dc,
        f"{API}research/{pk}/add-expense/",
        {"category": "travel", "amount_fen": 400_000, "spent_on": "2026-03-01"},
    )
    assert ok.status_code == 200 and ok.json()["remaining_fen"] == 600_000
    contract = dc.post(f"{API}research/{pk}/sign-contract/", {"contract_number": "HT-1", "contract_date": "2026-03-02",
                                                             "amount_fen": 900_000})  # fmt: skip
    assert contract.status_code == 200 and contract.json()["state"] == "contracted"
    assert (
        post(dc, f"{API}research/{pk}/midterm/", {"day": "2026-06-01", "conclusion": "pass"}).status_code
        == 403
    )
    assert (
        post(staff, f"{API}research/{pk}/midterm/", {"day": "2026-06-01", "conclusion": "pass"}).json()[
            "state"
        ]
        == "reviewed"
    )
    assert client_for(lib.handler_xc).get(f"{API}research/{pk}/").status_code == 404


def test_publicity_pages_for_citizens(lib):  # noqa: F811
    published = svc.publicity_create(actor=lib.staff, kind="notice", title="关于东四路口施工绕行的通告",
                                     body="施工期间请绕行。", unit=lib.unit_dc,
                                     files=[SimpleUploadedFile("绕行图.txt", "绕行路线".encode())])  # fmt: skip
    published = svc.publicity_approve(
        actor=lib.leader, item=svc.publicity_submit(actor=lib.staff, item=published)
    )
    draft = svc.publicity_create(
        actor=lib.staff, kind="news", title="内部草稿新闻", body="未审核", unit=lib.unit_dc
    )
    submitted = svc.publicity_submit(actor=lib.staff, item=svc.publicity_create(
        actor=lib.staff, kind="news", title="待审核新闻", body="待审", unit=lib.unit_dc))  # fmt: skip
    anon = Client()
    page = anon.get("/congestion/public/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "关于东四路口施工绕行的通告" in html and "内部草稿新闻" not in html and "待审核新闻" not in html
    assert "关于东四路口施工绕行的通告" not in anon.get("/congestion/public/?kind=news").content.decode()
    detail = anon.get(f"/congestion/public/{published.pk}/")
    assert detail.status_code == 200 and "施工期间请绕行" in detail.content.decode()
    file_id = svc.public_attachments(published).get().pk
    download = anon.get(f"/congestion/public/{published.pk}/files/{file_id}")
    assert download.status_code == 200 and download.content == "绕行路线".encode()
    for item in (draft, submitted):
        assert anon.get(f"/congestion/public/{item.pk}/").status_code == 404
        assert anon.get(f"{API}public/publicity/{item.pk}/").status_code == 404
    listed = anon.get(API + "public/publicity/").json()
    assert [r["title"] for r in listed["results"]] == ["关于东四路口施工绕行的通告"]
    assert listed["results"][0]["attachments"][0]["name"] == "绕行图.txt"
    svc.publicity_withdraw(
        actor=lib.staff, item=PublicityItem.objects.get(pk=published.pk), reason="施工结束"
    )
    assert anon.get(f"/congestion/public/{published.pk}/").status_code == 404
    assert anon.get(API + "public/publicity/").json()["results"] == []
    assert anon.get(API + "publicity/").status_code in (401, 403)  # the staff API needs a login
