"""Audit UI and Django admin: read-only, all-or-nothing permission, audited export.

The audit UI is a *function* permission with no data scope: ``core.view_audit`` shows
every unit's entries (an auditor audits everybody), without it the page is 403.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import include, path, reverse
from django.utils import timezone
from openpyxl import load_workbook

import govcenter.core.admin_audit  # noqa: F401  (registers the read-only audit admin)
from govcenter.core import audit, context
from govcenter.core.admin_audit import AuditCheckpointAdmin, AuditEntryAdmin
from govcenter.core.models import AuditCheckpoint, AuditEntry
from tests.factories import RoleFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

# This module doubles as a URLconf (for the admin tests): the shell and the admin, with the
# audit models registered whether or not the project admin imports admin_audit yet.
urlpatterns = [
    path("", include("govcenter.core.urls")),
    path("admin/", admin.site.urls),
]

LIST = "core:audit_list"


@pytest.fixture
def auditor():
    return UserFactory(
        username="auditor1", role_set=[RoleFactory(perms=["core.view_audit", "core.export_audit"])]
    )


@pytest.fixture
def viewer():
    """May read the log, not export it."""
    return UserFactory(username="viewer1", role_set=[RoleFactory(perms=["core.view_audit"])])


@pytest.fixture
def entries():
    unit_a, unit_b = UnitFactory(name_zh="甲科"), UnitFactory(name_zh="乙科")
    alice = UserFactory(username="alice", unit=unit_a)
    bob = UserFactory(username="bob", unit=unit_b, phone="13912345678", full_name="王小明")
    with context.acting_as(alice, channel="web", ip="10.0.0.1"):
        for i in range(3):
            audit.record(
                action="unit.update",
                obj=unit_a,
                changes={"before": {"name": f"a{i}"}, "after": {"name": f"a{i + 1}"}},
            )
    with context.acting_as(bob, channel="web", ip="10.0.0.2") as bob_ctx:
        audit.record(
            action="user.update",
            obj=bob,
            changes={
                "before": {"phone": "13912345678", "email": ""},
                "after": {"phone": "13800001111", "email": "b@x.cn"},
            },
        )
        audit.record(action="login", success=False, at=timezone.now() - timedelta(days=10))
    return {"alice": alice, "bob": bob, "unit_a": unit_a, "bob_request": bob_ctx.request_id}


def _seqs(response) -> list[int]:
    return [int(s) for s in __import__("re").findall(r'data-seq="(\d+)"', response.content.decode())]


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse(LIST))
    assert response.status_code == 302 and reverse("core:login") in response.url


@pytest.mark.parametrize("name", ["core:audit_list", "core:audit_export"])
def test_without_view_audit_the_audit_ui_is_403(client, name, entries):
    # A system administrator (all scope, manages accounts) is no auditor.
    sysadmin = UserFactory(role_set=[RoleFactory(scope_kind="all", perms=["core.manage_accounts"])])
    client.force_login(sysadmin)
    assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("core:audit_detail", args=[1])).status_code == 403


def test_auditor_sees_every_unit_newest_first(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    # seq 6 is the auditor's own login (force_login sends user_logged_in).
    assert _seqs(response) == [6, 5, 4, 3, 2, 1]
    assert AuditEntry.objects.get(seq=6).action == "login"
    text = response.content.decode()
    assert "甲科" in text and "乙科" in text
    assert "bob" in text and "王小明" not in text  # a user is named by username, never by name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"user": "alice"}, [3, 2, 1]),
        ({"action": "user.update"}, [4]),
        ({"object_type": "core.unit"}, [3, 2, 1]),
        ({"success": "0"}, [5]),
        ({"success": "1", "user": "bob"}, [4]),
    ],
)
def test_filters(client, auditor, entries, query, expected):
    client.force_login(auditor)
    assert _seqs(client.get(reverse(LIST), query)) == expected


def test_filters_by_unit_object_id_request_id_and_time(client, auditor, entries):
    client.force_login(auditor)
    assert _seqs(client.get(reverse(LIST), {"unit": entries["unit_a"].pk})) == [3, 2, 1]
    assert _seqs(
        client.get(reverse(LIST), {"object_id": str(entries["bob"].pk), "object_type": "core.user"})
    ) == [4]
    assert _seqs(client.get(reverse(LIST), {"request_id": entries["bob_request"]})) == [5, 4]
    today = timezone.localdate()
    assert _seqs(client.get(reverse(LIST), {"start": today.isoformat()})) == [6, 4, 3, 2, 1]
    old = (today - timedelta(days=10)).isoformat()
    assert _seqs(client.get(reverse(LIST), {"start": old, "end": old})) == [5]
    bad = client.get(reverse(LIST), {"start": today.isoformat(), "end": old})
    assert bad.status_code == 200 and _seqs(bad) == []


def test_keyset_pagination_and_htmx_partial(client, auditor):
    for i in range(120):
        audit.record(action="bulk", object_id=i)
    client.force_login(auditor)  # seq 121: the login
    first = client.get(reverse(LIST))
    assert _seqs(first) == list(range(121, 71, -1))
    assert "?before=72" in first.content.decode() and 'rel="prev"' not in first.content.decode()
    second = client.get(reverse(LIST), {"before": 72})
    assert _seqs(second) == list(range(71, 21, -1)) and "after=71" in second.content.decode()
    back = client.get(reverse(LIST), {"after": 71})
    assert _seqs(back) == list(range(121, 71, -1))
    last = client.get(reverse(LIST), {"before": 22})
    assert _seqs(last) == list(range(21, 0, -1)) and 'rel="next"' not in last.content.decode()
    partial = client.get(reverse(LIST), {"action": "bulk"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and body.lstrip().startswith('<div class="card" id="audit-results"')
    assert "<html" not in body


def test_detail_shows_masked_before_after_diff(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse("core:audit_detail", args=[4]))
    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-key="phone"' in text and 'data-key="email"' in text
    assert "139****5678" in text and "138****1111" in text and "13912345678" not in text
    assert "b@x.cn" in text
    assert client.get(reverse("core:audit_detail", args=[999])).status_code == 404


def test_log_stays_masked_for_a_viewer_who_may_reveal(client, entries):
    # Holding reveal_personal_data reveals nothing by itself: not in the detail, the list
    # or the export (clear values only through an explicit, audited reveal of the object).
    perms = ["core.view_audit", "core.export_audit", "core.reveal_personal_data"]
    client.force_login(UserFactory(role_set=[RoleFactory(perms=perms)]))
    html = client.get(reverse("core:audit_detail", args=[4])).content.decode()
    assert "139****5678" in html and "13912345678" not in html
    html = client.get(reverse("core:audit_list")).content.decode()
    assert "bob" in html and "王小明" not in html
    response = client.get(reverse("core:audit_export"), {"action": "user.update"})
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    cells = " ".join(str(c) for row in book.active.iter_rows(values_only=True) for c in row)
    assert "139****5678" in cells and "13912345678" not in cells


def test_export_is_an_xlsx_of_the_filtered_list_and_is_audited(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse("core:audit_export"), {"user": "alice"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [3, 2, 1] and rows[1][2] == "alice"
    export = AuditEntry.objects.get(action="export")
    assert export.user_id == auditor.pk and export.username == "auditor1"
    assert export.changes == {"filters": {"user": "alice"}, "rows": 3, "truncated": False}
    assert audit.verify_chain().ok


def test_export_masks_personal_data_in_changes(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse("core:audit_export"), {"action": "user.update"})
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    cells = " ".join(str(c) for row in book.active.iter_rows(values_only=True) for c in row)
    assert "139****5678" in cells and "13912345678" not in cells


def test_export_needs_export_audit(client, viewer, entries):
    client.force_login(viewer)
    assert client.get(reverse(LIST)).status_code == 200
    assert "audit-export" not in client.get(reverse(LIST)).content.decode()
    assert client.get(reverse("core:audit_export")).status_code == 403
    assert not AuditEntry.objects.filter(action="export").exists()


def test_audit_ui_is_read_only(client, auditor, entries):
    client.force_login(auditor)
    for name, args in (("core:audit_list", []), ("core:audit_detail", [1]), ("core:audit_export", [])):
        assert client.post(reverse(name, args=args)).status_code == 405
    assert AuditEntry.objects.count() == 6  # the five, and the auditor's login


# ---------------------------------------------------------------------------- Django admin


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.mark.parametrize("model_admin", [AuditEntryAdmin, AuditCheckpointAdmin])
def test_admin_permissions_are_false_for_everyone_even_superuser(superuser, model_admin):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    ma = model_admin(model_admin is AuditEntryAdmin and AuditEntry or AuditCheckpoint, admin.site)
    assert not ma.has_add_permission(request)
    assert not ma.has_change_permission(request)
    assert not ma.has_delete_permission(request)
    assert ma.has_view_permission(request)
    assert not ma.get_actions(request)


@pytest.mark.urls(__name__)
def test_admin_refuses_change_and_delete_for_superuser(client, superuser, entries):
    audit.checkpoint_create()
    client.force_login(superuser)
    entry = AuditEntry.objects.get(seq=2)
    change = reverse("admin:core_auditentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200  # a read-only view
    response = client.post(change, {"action": "forged", "seq": 2})
    assert response.status_code == 403
    assert (
        client.post(reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert client.get(reverse("admin:core_auditentry_add")).status_code == 403
    cp = AuditCheckpoint.objects.get()
    assert (
        client.post(reverse("admin:core_auditcheckpoint_delete", args=[cp.pk]), {"post": "yes"}).status_code
        == 403
    )
    changelist = client.post(
        reverse("admin:core_auditentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk]},
    )
    assert changelist.status_code in (200, 302, 400, 403)
    entry.refresh_from_db()
    assert entry.action == "unit.update" and AuditCheckpoint.objects.count() == 1
    assert AuditEntry.objects.count() == 6  # the five, and the superuser's login
    assert audit.verify_chain().ok


@pytest.mark.urls(__name__)
def test_admin_audit_pages_need_view_audit(client, entries):
    staff = UserFactory(is_staff=True, role_set=[RoleFactory(perms=["core.manage_accounts"])])
    client.force_login(staff)
    assert client.get(reverse("admin:core_auditentry_changelist")).status_code == 403
