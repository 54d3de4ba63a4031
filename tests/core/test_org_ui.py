"""Organisation UI: CRUD through the services, 403 without the function, 404 out of scope."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from govcenter.core.models import AuditEntry, Role, Unit, User
from govcenter.core.roles import permission_objects
from tests.factories import RoleFactory, UserFactory
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db
GOOD = "Init#Pass2026"


@pytest.fixture
def org():
    return build_org()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_unit_tree_list_indents_and_filters_by_kind(org):
    client = client_for(org.sysadmin)
    html = client.get(reverse("core:unit_list")).content.decode()
    assert "东城一所" in html and "└" in html  # the sub-unit is indented under its parent
    html = client.get(reverse("core:unit_list") + "?kind=operator").content.decode()
    assert f'href="{reverse("core:unit_detail", args=[org.op_a.pk])}"' in html
    assert f'href="{reverse("core:unit_detail", args=[org.unit_dc.pk])}"' not in html


def test_unit_create_edit_and_deactivate_through_the_ui(org):
    client = client_for(org.sysadmin)
    assert client.get(reverse("core:unit_create")).status_code == 200
    response = client.post(
        reverse("core:unit_create"),
        {"code": "UI-1", "name_zh": "界面单位", "kind": "department", "parent": org.center.pk},
    )
    unit = Unit.objects.get(code="UI-1")
    assert response.status_code == 302 and response["Location"] == reverse("core:unit_detail", args=[unit.pk])
    response = client.post(
        reverse("core:unit_edit", args=[unit.pk]),
        {"code": "UI-1", "name_zh": "界面单位（改）", "kind": "department", "parent": org.center.pk},
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.name_zh == "界面单位（改）"
    assert AuditEntry.objects.filter(action="unit.update", object_id=str(unit.pk)).exists()
    client.post(reverse("core:unit_toggle_active", args=[unit.pk]), {"reason": "合并"})
    unit.refresh_from_db()
    assert not unit.is_active


def test_unit_cycle_shows_on_the_form(org):
    client = client_for(org.sysadmin)
    response = client.post(
        reverse("core:unit_edit", args=[org.unit_dc.pk]),
        {"code": org.unit_dc.code, "name_zh": "x", "kind": "district_unit", "parent": org.sub_dc.pk},
    )
    # The subtree is not even offered as a parent; forcing it is a form error, nothing saved.
    assert response.status_code == 200 and "parent" in response.context["form"].errors
    org.unit_dc.refresh_from_db()
    assert org.unit_dc.parent_id is None


def test_deactivating_a_unit_with_users_shows_an_error(org):
    client = client_for(org.sysadmin)
    response = client.post(
        reverse("core:unit_toggle_active", args=[org.unit_xc.pk]), {"reason": ""}, follow=True
    )
    assert "启用的用户" in response.content.decode()
    org.unit_xc.refresh_from_db()
    assert org.unit_xc.is_active


def test_user_create_and_edit_with_roles(org):
    client = client_for(org.sysadmin)
    assert client.get(reverse("core:user_create")).status_code == 200
    data = {
        "username": "ui.user",
        "full_name": "赵六",
        "phone": "13612345678",
        "email": "",
        "unit": org.unit_dc.pk,
        "roles": [org.roles["district_manager"].pk],
        "password1": GOOD,
        "password2": GOOD,
    }
    response = client.post(reverse("core:user_create"), data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    user = User.objects.get(username="ui.user")
    assert user.must_change_password and list(user.roles.values_list("code", flat=True)) == [
        "district_manager"
    ]
    response = client.post(
        reverse("core:user_edit", args=[user.pk]),
        {
            "full_name": "赵六六",
            "phone": "13612345678",
            "email": "",
            "unit": org.unit_dc.pk,
            "roles": [org.roles["center_leader"].pk],
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "赵六六" and list(user.roles.values_list("code", flat=True)) == ["center_leader"]


def test_user_create_password_mismatch_and_policy(org):
    client = client_for(org.sysadmin)
    base = {"username": "u2", "unit": org.unit_dc.pk, "phone": "", "full_name": "", "email": ""}
    response = client.post(reverse("core:user_create"), {**base, "password1": GOOD, "password2": GOOD + "x"})
    assert "password2" in response.context["form"].errors
    response = client.post(reverse("core:user_create"), {**base, "password1": "abc", "password2": "abc"})
    assert response.status_code == 200 and response.context["form"].errors
    assert not User.objects.filter(username="u2").exists()


def test_separation_of_duties_refusal_shows_on_the_user_form(org):
    client = client_for(org.sysadmin)
    response = client.post(
        reverse("core:user_edit", args=[org.sysadmin.pk]),
        {
            "full_name": "x",
            "phone": "",
            "email": "",
            "unit": org.office.pk,
            "roles": [org.roles["sysadmin"].pk, org.roles["auditor"].pk],
        },
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert not org.sysadmin.roles.filter(code="auditor").exists()
    # Nothing was half-written: the name change rolled back with the refused roles.
    org.sysadmin.refresh_from_db()
    assert org.sysadmin.full_name != "x"


def test_role_form_groups_permissions_by_app_with_chinese_labels(org):
    client = client_for(org.sysadmin)
    response = client.get(reverse("core:role_create"))
    html = response.content.decode()
    assert 'data-permission-group="平台"' in html
    assert "查看单位" in html and "管理单位、用户和角色" in html
    assert "Can view" not in html and "auth" not in [
        g for g, _ in response.context["form"].permission_groups()
    ]


def test_role_create_and_edit_with_scope(org):
    client = client_for(org.sysadmin)
    perms = permission_objects(["core.view_unit", "core.view_user"])
    response = client.post(
        reverse("core:role_create"),
        {
            "code": "ui-role",
            "name_zh": "界面角色",
            "name_en": "",
            "description": "",
            "permissions": [p.pk for p in perms],
            "scope_kind": "districts",
            "districts": [org.dongcheng.pk, org.xicheng.pk],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    role = Role.objects.get(code="ui-role")
    assert set(role.districts.values_list("code", flat=True)) == {"110101", "110102"}
    response = client.post(
        reverse("core:role_edit", args=[role.pk]),
        {
            "name_zh": "界面角色2",
            "name_en": "",
            "description": "",
            "permissions": [perms[0].pk],
            "scope_kind": "operator",
            "operator": org.op_a.pk,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    role.refresh_from_db()
    assert role.scope_kind == "operator" and role.operator == org.op_a and not role.districts.exists()
    detail = client.get(reverse("core:role_detail", args=[role.pk])).content.decode()
    assert "查看单位" in detail and "甲单车" in detail


def test_role_with_districts_for_operator_scope_is_refused(org):
    client = client_for(org.sysadmin)
    response = client.post(
        reverse("core:role_create"),
        {
            "code": "bad",
            "name_zh": "bad",
            "scope_kind": "all",
            "districts": [org.dongcheng.pk],
            "permissions": [],
        },
    )
    assert response.status_code == 200 and "districts" in response.context["form"].errors


def test_builtin_role_has_no_edit_button_and_edit_is_refused(org):
    client = client_for(org.sysadmin)
    role = org.roles["auditor"]
    assert (
        reverse("core:role_edit", args=[role.pk])
        not in client.get(reverse("core:role_detail", args=[role.pk])).content.decode()
    )
    response = client.post(reverse("core:role_edit", args=[role.pk]), {"name_zh": "x", "scope_kind": "all"})
    assert response.status_code == 200 and response.context["form"].non_field_errors()


@pytest.mark.parametrize("name", ["core:unit_create", "core:user_create", "core:role_create"])
def test_writes_need_manage_accounts(org, name):
    assert client_for(org.manager_dc).get(reverse(name)).status_code == 403
    assert client_for(org.manager_dc).post(reverse(name), {}).status_code == 403


def test_edit_of_out_of_scope_object_is_404_even_with_manage_accounts(org):
    role = RoleFactory(code="dc-admin", scope_kind="districts", perms=["core.manage_accounts"])
    org.manager_dc.roles.add(role)
    client = client_for(org.manager_dc)
    for name, obj in (
        ("core:unit_edit", org.unit_xc),
        ("core:user_edit", org.plain_xc),
        ("core:user_toggle_active", org.plain_xc),
    ):
        assert client.get(reverse(name, args=[obj.pk])).status_code in (404, 405)
        assert client.post(reverse(name, args=[obj.pk]), {}).status_code == 404
    assert client.get(reverse("core:unit_edit", args=[org.unit_dc.pk])).status_code == 200
    # The unit choices offered are the caller's scope only.
    html = client.get(reverse("core:user_create")).content.decode()
    assert "东城一所" in html and "西城停车单位" not in html


def test_personal_data_masked_in_ui_lists(org):
    UserFactory(username="ui.masked", unit=org.unit_dc, full_name="张三丰", phone="13812345678")
    html = client_for(org.manager_dc).get(reverse("core:user_list") + "?q=ui.masked").content.decode()
    assert "138****5678" in html and "张**" in html and "13812345678" not in html
    # The sysadmin holds reveal_personal_data: still masked by default, in the list and the detail.
    holder = client_for(org.sysadmin)
    html = holder.get(reverse("core:user_list") + "?q=ui.masked").content.decode()
    assert "138****5678" in html and "13812345678" not in html and "张三丰" not in html
    # Searching by phone is a lookup (holders only), not a display: the hit stays masked.
    # (A fragment, so the echoed search box is not mistaken for a leak.)
    html = holder.get(reverse("core:user_list") + "?q=81234567").content.decode()
    assert "ui.masked" in html and "138****5678" in html and "13812345678" not in html


def test_navigation_shows_org_section_to_readers_only(org):
    html = client_for(org.sysadmin).get(reverse("core:dashboard")).content.decode()
    assert reverse("core:unit_list") in html and reverse("core:role_list") in html
    html = client_for(org.nobody).get(reverse("core:dashboard")).content.decode()
    assert reverse("core:unit_list") not in html


def test_admin_pages_and_audited_admin_saves(org):
    admin = UserFactory(username="breakglass", unit=org.office, is_staff=True, is_superuser=True)
    client = client_for(admin)
    for path in ("unit", "user", "role", "district", "calendarday"):
        assert client.get(f"/admin/core/{path}/").status_code == 200, path
    assert client.get(f"/admin/core/district/{org.dongcheng.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/core/unit/{org.op_b.pk}/change/",
        {
            "code": org.op_b.code,
            "name_zh": "乙单车（改）",
            "name_en": "",
            "kind": "operator",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    entry = AuditEntry.objects.filter(action="unit.update", object_id=str(org.op_b.pk)).get()
    assert entry.reason == "admin" and entry.changes["after"]["name_zh"] == "乙单车（改）"
    assert "updated_at" not in entry.changes["after"]


def test_ui_list_pages_are_followed_by_the_scope_helper(org):
    from tests.helpers.scope import assert_scoped

    extra = [UserFactory(unit=org.unit_dc) for _ in range(55)]  # more than one page (50)
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url=reverse("core:user_list"),
        detail_url_for=lambda u: reverse("core:user_detail", args=[u.pk]),
        visible=[org.manager_dc, *extra],
        hidden=[org.plain_xc],
        expected_count=58,
    )


def test_admin_password_reset_forces_a_change(org):
    client = client_for(org.sysadmin)
    url = reverse("core:user_password_reset", args=[org.plain_dc.pk])
    response = client.post(url, {"password1": "weak", "password2": "weak"})
    assert response.status_code == 200 and "password1" in response.context["form"].errors
    response = client.post(url, {"password1": "Temp#Pass2026", "password2": "Temp#Pass2026"})
    assert response.status_code == 302
    org.plain_dc.refresh_from_db()
    assert org.plain_dc.check_password("Temp#Pass2026") and org.plain_dc.must_change_password
    assert client_for(org.manager_dc).post(url, {}).status_code == 403
    own = reverse("core:user_password_reset", args=[org.sysadmin.pk])
    response = client.post(own, {"password1": "Temp#Pass2026", "password2": "Temp#Pass2026"})
    assert response.status_code == 200 and response.context["form"].non_field_errors()


# ---- explicit, audited reveal of personal data ---------------------------------------------


@pytest.fixture
def person(org):
    return UserFactory(username="reveal.me", unit=org.unit_dc, full_name="张三丰", phone="13812345678")


def reveals():
    return AuditEntry.objects.filter(action="reveal")


def test_holder_sees_masked_details_and_the_reveal_form(org, person):
    html = client_for(org.sysadmin).get(reverse("core:user_detail", args=[person.pk])).content.decode()
    assert "张**" in html and "138****5678" in html
    assert "张三丰" not in html and "13812345678" not in html
    assert "显示完整信息" in html and reverse("core:user_reveal", args=[person.pk]) in html
    # A reader without the permission is not offered the form.
    html = client_for(org.manager_dc).get(reverse("core:user_detail", args=[person.pk])).content.decode()
    assert "138****5678" in html and "显示完整信息" not in html
    assert not reveals().exists()


def test_reveal_with_a_reason_shows_clear_values_once_and_audits(org, person):
    client = client_for(org.sysadmin)
    url = reverse("core:user_reveal", args=[person.pk])
    response = client.post(url, {"category": "处理投诉", "detail": "工单 42"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "张三丰" in html and "13812345678" in html
    assert "no-store" in response["Cache-Control"]
    (entry,) = reveals()
    assert entry.user_id == org.sysadmin.pk and entry.object_id == str(person.pk)
    assert entry.changes == {"fields": ["full_name", "phone"]} and entry.reason == "处理投诉：工单 42"
    stored = f"{entry.changes} {entry.object_repr} {entry.reason}"
    assert "张三丰" not in stored and "13812345678" not in stored
    # Nothing kept: the next look (a reload) is masked again and audits nothing.
    html = client.get(reverse("core:user_detail", args=[person.pk])).content.decode()
    assert "138****5678" in html and "13812345678" not in html
    assert "13812345678" not in str(dict(client.session)) and reveals().count() == 1


@pytest.mark.parametrize(
    "data", [{}, {"category": ""}, {"category": "其他", "detail": "  "}, {"category": "随便"}]
)
def test_reveal_without_a_reason_is_a_form_error_and_audits_nothing(org, person, data):
    response = client_for(org.sysadmin).post(reverse("core:user_reveal", args=[person.pk]), data)
    html = response.content.decode()
    assert response.status_code == 200 and "invalid-feedback" in html
    assert "13812345678" not in html and "张三丰" not in html and "138****5678" in html
    assert not reveals().exists()


def test_reveal_needs_the_permission(org, person):
    # manager_dc reads users of Dongcheng but may not reveal: 403, nothing audited.
    response = client_for(org.manager_dc).post(
        reverse("core:user_reveal", args=[person.pk]), {"category": "核实身份"}
    )
    assert response.status_code == 403 and b"13812345678" not in response.content
    # Without even read access to users it is 403 too.
    response = client_for(org.nobody).post(
        reverse("core:user_reveal", args=[person.pk]), {"category": "核实身份"}
    )
    assert response.status_code == 403
    assert not reveals().exists()


def test_reveal_out_of_scope_is_404(org, person):
    xc_holder = UserFactory(
        unit=org.unit_xc,
        role_set=[
            RoleFactory(
                scope_kind="districts",
                district_set=[org.xicheng],
                perms=["core.view_user", "core.reveal_personal_data"],
            )
        ],
    )
    client = client_for(xc_holder)
    assert (
        client.post(reverse("core:user_reveal", args=[person.pk]), {"category": "核实身份"}).status_code
        == 404
    )
    assert (
        client.post(reverse("core:user_reveal", args=[org.plain_xc.pk]), {"category": "核实身份"}).status_code
        == 200
    )
    assert list(reveals().values_list("object_id", flat=True)) == [str(org.plain_xc.pk)]


def test_reveal_url_takes_no_get(org, person):
    assert client_for(org.sysadmin).get(reverse("core:user_reveal", args=[person.pk])).status_code == 405
