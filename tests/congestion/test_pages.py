"""The pages every kind of case gets from its declaration: list (filters, colours, Excel),
registration form, detail with the caller's steps, comments and attachments (searchable),
urging from the board, the dashboard and the comprehensive query — all in the caller's scope."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from govcenter.congestion.models import CaseUnit, Suggestion
from govcenter.congestion.services import board as board_svc
from govcenter.congestion.services import suggestions as svc
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attachments_of
from govcenter.core.comments import comments_of
from govcenter.core.masking import REVEAL_REASONS
from govcenter.core.models import AuditEntry, Notification, SearchDocument
from tests.congestion.helpers import client_for
from tests.congestion.test_suggestions import POINT_DC, org, submit  # noqa: F401  (fixture)
from tests.factories import RoleFactory, UserFactory

PAGES = "/congestion/"


@pytest.fixture
def urger(org):  # noqa: F811
    role = RoleFactory(scope_kind="all", perms=["congestion.view_suggestion", "congestion.urge_caseunit"])
    org.staff.roles.add(role)
    return org.staff


def test_register_on_the_form_then_step_comment_and_attach(org):  # noqa: F811
    staff = client_for(org.staff)
    form = staff.get(PAGES + "suggestions/new/")
    assert form.status_code == 200 and 'name="topic"' in form.content.decode()
    bad = staff.post(PAGES + "suggestions/new/", {"topic": "parking", "title": ""})
    assert bad.status_code == 400 and "title" in bad.content.decode()
    assert not Suggestion.objects.exists()
    made = staff.post(
        PAGES + "suggestions/new/",
        {"topic": "parking", "title": "胡同停车难", "body": "夜间停车难", "location": '{"type":"Point","coordinates":[116.4166,39.9288]}'},
    )
    s = Suggestion.objects.get()
    assert made.status_code == 302 and made.url == f"{PAGES}suggestions/{s.pk}/"
    assert s.channel == "staff" and s.district == org.dongcheng

    page = staff.get(made.url).content.decode()
    assert 'data-step="assign"' in page and 'data-step="answer"' not in page  # the workflow decides

    holiday = staff.post(f"{PAGES}suggestions/{s.pk}/step/assign/", {"unit": org.unit_dc.pk, "deadline": "2026-10-03"})
    s.refresh_from_db()
    assert holiday.status_code == 302 and s.state == "submitted"  # refused: a day off
    staff.post(f"{PAGES}suggestions/{s.pk}/step/assign/", {"unit": org.unit_dc.pk, "workdays": "10"})
    s.refresh_from_db()
    assert s.state == "assigned" and s.units.get().unit == org.unit_dc

    staff.post(f"{PAGES}suggestions/{s.pk}/comment/", {"kind": "call", "counterpart": "王先生", "body": "电话回访，已告知办理进度。"})
    upload = io.BytesIO("胡同口夜间共享停车位施划方案".encode())
    upload.name = "方案.txt"
    staff.post(f"{PAGES}suggestions/{s.pk}/files/", {"files": [upload]})
    detail = staff.get(f"{PAGES}suggestions/{s.pk}/").content.decode()
    assert "电话回访" in detail and "方案.txt" in detail and "交办" in detail  # history shows the step's label
    assert "施划" in SearchDocument.objects.get(kind="congestion.suggestion", object_id=s.pk).tokens
    found = staff.get(PAGES + "query/", {"q": "共享停车位"}).content.decode()
    assert s.number in found  # found by the attachment's text

    handler = client_for(org.handler_dc)
    assert 'data-step="answer"' in handler.get(f"{PAGES}suggestions/{s.pk}/").content.decode()
    file_id = attachments_of(s).get().pk
    download = handler.get(f"{PAGES}suggestions/{s.pk}/files/{file_id}/")
    assert download.status_code == 200 and download.content == "胡同口夜间共享停车位施划方案".encode()
    handler.post(f"{PAGES}suggestions/{s.pk}/step/answer/", {"text": "已施划夜间共享车位。"})
    s.refresh_from_db()
    assert s.state == "replied" and s.replied_by == org.handler_dc


def test_scope_on_every_page(org):  # noqa: F811
    s = svc.suggestion_assign(actor=org.staff, suggestion=submit(), unit=org.unit_dc)
    other = client_for(org.handler_xc)
    assert other.get(f"{PAGES}suggestions/{s.pk}/").status_code == 404
    assert other.post(f"{PAGES}suggestions/{s.pk}/step/answer/", {"text": "x"}).status_code == 404
    assert other.post(f"{PAGES}suggestions/{s.pk}/comment/", {"body": "x"}).status_code == 404
    listing = other.get(PAGES + "suggestions/")
    assert listing.status_code == 200 and s.number not in listing.content.decode()
    assert s.number not in other.get(PAGES + "query/", {"q": s.title}).content.decode()
    assert client_for(org.handler_dc).get(PAGES + "suggestions/").content.decode().count(s.number) == 1
    assert Client().get(PAGES + "suggestions/").status_code == 302  # to the login page
    assert other.get(PAGES + "nosuchkind/1/").status_code == 404


def test_export_is_the_filtered_scoped_list(org):  # noqa: F811
    a = svc.suggestion_assign(actor=org.staff, suggestion=submit(title="甲"), unit=org.unit_dc)
    submit(title="乙", topic="parking")
    response = client_for(org.staff).get(PAGES + "suggestions/", {"topic": "signal", "export": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("编号", "标题") and rows[1][0] == "number"
    assert [r[1] for r in rows[2:]] == ["甲"] and rows[2][3] == "办理中"
    assert AuditEntry.objects.filter(action="congestion.export").count() == 1
    assert a.number in client_for(org.handler_dc).get(PAGES + "suggestions/").content.decode()


def test_board_colours_and_urging(org, urger):  # noqa: F811
    late = svc.suggestion_assign(actor=org.staff, suggestion=submit(title="逾期的"), unit=org.unit_dc)
    Suggestion.objects.filter(pk=late.pk).update(deadline=dt.date(2020, 3, 2))
    svc.suggestion_assign(actor=org.staff, suggestion=submit(title="正常的"), unit=org.unit_dc, workdays=60)
    page = client_for(urger).get(PAGES + "board/").content.decode()
    assert "逾期的" in page and "正常的" not in page and 'data-total="red">1<' in page

    link = CaseUnit.objects.get(object_id=late.pk)
    response = client_for(urger).post(f"{PAGES}urge/{link.pk}/", {"comment": "请本周内答复"})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.urge_count == 1 and link.urged_at is not None
    notice = Notification.objects.get(verb="urge")
    assert notice.recipient == org.handler_dc and notice.body == "请本周内答复"
    again = client_for(urger).post(f"{PAGES}urge/{link.pk}/")
    link.refresh_from_db()
    assert again.status_code == 302 and link.urge_count == 1  # not twice within the hours set
    assert client_for(org.handler_dc).post(f"{PAGES}urge/{link.pk}/").status_code == 302
    link.refresh_from_db()
    assert link.urge_count == 1  # the handler may not urge
    assert client_for(org.handler_xc).post(f"{PAGES}urge/{link.pk}/").status_code == 404


def test_urging_refuses_closed_cases_and_the_dashboard_counts(org, urger):  # noqa: F811
    s = svc.suggestion_assign(actor=org.staff, suggestion=submit(), unit=org.unit_dc)
    s = svc.suggestion_answer(actor=org.handler_dc, suggestion=s, text="已处理")
    s = svc.suggestion_rate(actor=org.staff, suggestion=s, satisfaction="satisfied")
    link = CaseUnit.objects.get(object_id=s.pk)
    with pytest.raises(ServiceError) as refused:
        board_svc.case_unit_urge(actor=urger, link=link)
    assert refused.value.error_code == "not_urgeable"
    submit(title="另一件")
    page = client_for(org.staff).get(PAGES).content.decode()
    assert 'data-kind="suggestions"' in page and "data-total>2<" in page
    year = timezone.localdate().year
    summary = board_svc.summaries(org.staff, year=year)[0]
    assert summary.total == 2 and summary.open == 1 and dict((s_, n) for s_, _l, n in summary.by_state) == {
        "submitted": 1,
        "closed": 1,
    }
    assert board_svc.summaries(org.handler_xc)[0].total == 0


def test_reveal_is_explicit_and_audited_and_readers_cannot_write(org):  # noqa: F811
    s = svc.suggestion_assign(actor=org.staff, suggestion=submit(), unit=org.unit_dc)
    revealer = RoleFactory(scope_kind="all", perms=["congestion.view_suggestion", "core.reveal_personal_data"])
    reader = RoleFactory(scope_kind="all", perms=["congestion.view_suggestion"])
    org.staff.roles.add(revealer)
    staff = client_for(org.staff)
    url = f"{PAGES}suggestions/{s.pk}/"
    assert "13900139000" not in staff.get(url).content.decode()
    category = REVEAL_REASONS[0][0]
    body = staff.post(url, {"category": category, "detail": "回访建议人"}).content.decode()
    assert "13900139000" in body
    assert AuditEntry.objects.filter(action__contains="reveal").count() == 1

    leader = UserFactory(username="cg_leader", unit=org.office, role_set=[reader])
    page = client_for(leader).get(url).content.decode()
    assert f'action="{url}comment/"' not in page and f'action="{url}comment/"' in staff.get(url).content.decode()
    refused = client_for(leader).post(url + "comment/", {"body": "领导批示"})
    assert refused.status_code == 302 and not comments_of(s).exists()


def test_search_needs_the_kinds_permission_not_only_scope(org):  # noqa: F811
    from govcenter.core import search

    submit(title="东四路口信号灯")
    scoped_only = UserFactory(username="cg_noperm", unit=org.office, role_set=[RoleFactory(scope_kind="all", perms=[])])
    assert search.query(scoped_only, "信号灯")[0] == 0
    assert search.query(org.staff, "信号灯")[0] == 1


def test_the_citizens_suggestion_form(org, settings):  # noqa: F811
    from django.core.cache import cache

    cache.clear()
    settings.GOVCENTER_CONGESTION_PUBLIC_RATE = "3/hour"
    citizen = Client()
    form = citizen.get(PAGES + "public/suggest/")
    assert form.status_code == 200 and 'name="proposer_phone"' in form.content.decode()
    assert citizen.get(PAGES + "public/districts.geojson").json()["type"] == "FeatureCollection"
    missing = citizen.post(PAGES + "public/suggest/", {"topic": "parking", "title": "胡同停车难"})
    assert missing.status_code == 400 and not Suggestion.objects.exists()  # a phone is needed for the answer
    made = citizen.post(PAGES + "public/suggest/", {
        "topic": "parking", "title": "胡同停车难", "body": "夜间停车难",
        "location": '{"type":"Point","coordinates":[116.4166,39.9288]}', "proposer_phone": "13900139000",
    })  # fmt: skip
    s = Suggestion.objects.get()
    assert made.status_code == 200 and f'data-number="{s.number}"' in made.content.decode()
    assert s.channel == "public_form" and s.created_by is None and s.district == org.dongcheng
    assert citizen.post(PAGES + "public/suggest/", {"topic": "parking", "title": "x"}).status_code == 400  # 3rd
    assert citizen.post(PAGES + "public/suggest/", {"topic": "parking", "title": "x"}).status_code == 429  # 4th


@pytest.mark.django_db
def test_every_form_input_has_a_chinese_label_not_a_field_name():
    """DRF names an unlabelled field "Title"; every registration and step input has a real label."""
    import re

    from django.utils import translation

    from govcenter.congestion import kinds
    from govcenter.congestion.views import field_specs

    unlabelled = []
    with translation.override("zh-hans"):
        for kind in kinds.all_kinds():
            serializers = [("create", kind.create.serializer)] if kind.create else []
            serializers += [(step.name, step.serializer) for step in kind.steps]
            for where, serializer in serializers:
                for spec in field_specs(serializer(), kind.model):
                    for f in [spec, *spec.get("columns", [])]:
                        label = re.sub(r"GeoJSON|GCJ-02", "", str(f["label"]))
                        if re.search(r"[A-Za-z]{2,}", label):
                            unlabelled.append(f"{kind.code}.{where}.{f['name']}: {f['label']}")
    assert not unlabelled, unlabelled
