"""The monthly report page (/bikeshare/reports/): login and permission, generating through the
form (one action → both files listed), a bad month shown on the form, audited downloads of
the stored bytes, 404 for unknown files and 403 for operator staff."""

from __future__ import annotations

import hashlib

import pytest

from govcenter.bikeshare.models.reports import MonthlyReport
from govcenter.core.audit import AuditEntry
from govcenter.core.navigation import sections_for
from tests.factories import RoleFactory, UserFactory

from . import test_reports as base
from .conftest import client_for
from .test_reports import MONTH, PERMS, YEAR

lake = base.lake  # the fixtures of test_reports.py
world = base.world

pytestmark = pytest.mark.django_db

URL = "/bikeshare/reports/"


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_generate_list_and_download(world, settings):
    client = client_for(world.staff)
    html = client.get(URL).content.decode()
    assert "月度监管报告" in html and "data-report-form" in html and "尚未生成报告" in html
    response = client.post(URL, {"month": f"{YEAR}-{MONTH:02d}"})
    assert response.status_code == 302 and response["Location"] == URL
    report = MonthlyReport.objects.get()
    html = client.get(URL).content.decode()
    assert f'data-report="{report.pk}"' in html and "2026-11" in html and "t_rep_staff" in html
    assert f"{URL}{report.pk}/docx/" in html and f"{URL}{report.pk}/xlsx/" in html
    assert (
        AuditEntry.objects.filter(action="bikeshare.monthlyreport.generate", username="t_rep_staff").count()
        == 1
    )

    for kind in ("docx", "xlsx"):
        response = client.get(f"{URL}{report.pk}/{kind}/")
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == getattr(report, f"{kind}_sha256")
        assert f"bikeshare-monthly-2026-11.{kind}" in response["Content-Disposition"]
    downloads = AuditEntry.objects.filter(action="bikeshare.monthlyreport.download", object_id=str(report.pk))
    assert sorted(e.changes["kind"] for e in downloads) == ["docx", "xlsx"]
    assert client.get(f"{URL}{report.pk}/pdf/").status_code == 404
    assert client.get(f"{URL}{report.pk + 1}/docx/").status_code == 404

    # A file changed on disk is refused, not served.
    path = settings.GOVCENTER_VAR_DIR / report.docx_path
    path.write_bytes(path.read_bytes() + b"x")
    assert client.get(f"{URL}{report.pk}/docx/").status_code == 409


@pytest.mark.parametrize("month", ["2026-13", "nonsense", "2999-01"])
def test_bad_month_is_shown_on_the_form(world, month):
    response = client_for(world.staff).post(URL, {"month": month})
    assert response.status_code == 400
    assert "data-error" in response.content.decode()
    assert not MonthlyReport.objects.exists()


def _nav_urls(rf, user) -> set[str]:
    request = rf.get("/")
    request.user = user
    return {i["url"] for s in sections_for(request) if s["key"] == "bikeshare" for i in s["items"]}


def test_operator_staff_and_readers(world, rf):
    client = client_for(world.op_user)  # has the permissions but only its operator's scope
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"month": "2026-11"}).status_code == 403
    assert not MonthlyReport.objects.exists()
    assert client_for(world.org.operator_a).get(URL).status_code == 403  # no permission at all

    reader = UserFactory(
        username="t_rep_reader",
        unit=world.org.center,
        role_set=[RoleFactory(code="t-rep-reader", scope_kind="all", perms=["bikeshare.view_monthlyreport"])],
    )
    client = client_for(reader)
    html = client.get(URL).content.decode()
    assert "data-report-form" not in html  # may read and download, not generate
    assert client.post(URL, {"month": "2026-11"}).status_code == 403
    assert URL in _nav_urls(rf, reader)
    assert URL not in _nav_urls(rf, world.org.operator_a)
    assert PERMS  # the Center role of the fixtures holds both report permissions
