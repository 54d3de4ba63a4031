"""Services of the organisation: tree rules, 三权分立, no escalation, audit with diffs."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from govcenter.core import services
from govcenter.core.models import AuditEntry, Role, Unit, User
from govcenter.core.roles import BUILTIN_ROLES, ensure_builtin_roles, permission_objects
from tests.factories import RoleFactory, UnitFactory
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db
GOOD = "Init#Pass2026"


@pytest.fixture
def org():
    return build_org()


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).order_by("-seq").first()


# --- built-in roles -------------------------------------------------------------------------


def test_ensure_builtin_roles_is_idempotent_and_repairs_drift():
    first = ensure_builtin_roles()
    assert first["created"] == len(BUILTIN_ROLES)
    assert ensure_builtin_roles() == {"created": 0, "updated": 0}
    sysadmin = Role.objects.get(code="sysadmin")
    sysadmin.permissions.add(*permission_objects(["core.view_audit"]))
    Role.objects.filter(code="auditor").update(scope_kind="own_unit")
    assert ensure_builtin_roles() == {"created": 0, "updated": 2}
    assert not sysadmin.permissions.filter(codename="view_audit").exists()
    assert Role.objects.get(code="auditor").scope_kind == "all"
    entry = AuditEntry.objects.get(action="role.update", object_id=str(sysadmin.pk))
    assert "core.view_audit" in entry.changes["before"]["permissions"]
    assert "core.view_audit" not in entry.changes["after"]["permissions"]


def test_builtin_roles_keep_the_three_duties_apart():
    from govcenter.core.roles import duties_of

    ensure_builtin_roles()
    for spec in BUILTIN_ROLES:
        assert len(duties_of(set(spec.permissions))) <= 1, spec.code
    auditor = {p.codename for p in Role.objects.get(code="auditor").permissions.all()}
    # The audit log and the O&M console's central log audit (its search unites the two).
    assert auditor == {"view_audit", "export_audit", "view_logrecord", "export_logrecord"}
    secadmin = {f"core.{p.codename}" for p in Role.objects.get(code="secadmin").permissions.all()}
    assert "core.manage_accounts" not in secadmin and "core.view_audit" not in secadmin


# --- units ----------------------------------------------------------------------------------


def test_unit_create_and_update_are_audited_with_diffs(org):
    unit = services.unit_create(
        actor=org.sysadmin, code="NEW-1", name_zh="新单位", kind="department", parent=org.center
    )
    assert unit.path == f"{org.center.path}{unit.pk}/"
    entry = last("unit.create")
    assert entry.object_id == str(unit.pk) and entry.changes["after"]["name_zh"] == "新单位"
    services.unit_update(actor=org.sysadmin, unit=unit, name_zh="改名单位", contact_name="张三")
    entry = last("unit.update")
    assert entry.changes == {
        "before": {"contact_name": "", "name_zh": "新单位"},
        "after": {"contact_name": "张三", "name_zh": "改名单位"},
    }
    count = AuditEntry.objects.count()
    services.unit_update(actor=org.sysadmin, unit=unit, name_zh="改名单位")  # no change, no entry
    assert AuditEntry.objects.count() == count


def test_unit_cannot_move_under_itself_or_its_subtree(org):
    with pytest.raises(ValidationError) as exc:
        services.unit_update(actor=org.sysadmin, unit=org.unit_dc, parent=org.sub_dc)
    assert "parent" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.unit_update(actor=org.sysadmin, unit=org.unit_dc, parent=org.unit_dc)
    org.unit_dc.refresh_from_db()
    assert org.unit_dc.parent_id is None


def test_moving_a_unit_moves_its_subtree_paths(org):
    services.unit_update(actor=org.sysadmin, unit=org.unit_dc, parent=org.center)
    org.sub_dc.refresh_from_db()
    assert org.sub_dc.path.startswith(org.center.path) and org.sub_dc.depth == 2


def test_unit_with_active_users_cannot_be_deactivated(org):
    with pytest.raises(ValidationError) as exc:
        services.unit_deactivate(actor=org.sysadmin, unit=org.unit_xc)
    assert exc.value.code == "has_active_users"
    with pytest.raises(ValidationError) as exc:
        services.unit_deactivate(actor=org.sysadmin, unit=org.unit_dc)  # sub_dc is an active child too
    empty = UnitFactory(kind="department")
    services.unit_deactivate(actor=org.sysadmin, unit=empty, reason="撤销")
    empty.refresh_from_db()
    assert not empty.is_active and last("unit.deactivate").reason == "撤销"
    services.unit_activate(actor=org.sysadmin, unit=empty)
    empty.refresh_from_db()
    assert empty.is_active


def test_unit_duplicate_code_is_refused(org):
    with pytest.raises(ValidationError) as exc:
        services.unit_create(actor=org.sysadmin, code=org.center.code, name_zh="重复", kind="department")
    assert "code" in exc.value.message_dict


def test_district_scoped_actor_cannot_create_units_outside_scope(org):
    with pytest.raises(ValidationError):
        services.unit_create(
            actor=org.manager_dc, code="X1", name_zh="越权", kind="department", parent=org.unit_xc
        )
    with pytest.raises(ValidationError):
        services.unit_create(actor=org.manager_dc, code="X2", name_zh="越权根", kind="department")
    unit = services.unit_create(
        actor=org.manager_dc, code="X3", name_zh="本区", kind="department", parent=org.unit_dc
    )
    assert unit.parent == org.unit_dc


# --- users ----------------------------------------------------------------------------------


def test_user_create_sets_policy_password_and_forces_change(org):
    user = services.user_create(
        actor=org.sysadmin,
        username="zhang.san",
        unit=org.unit_dc,
        password=GOOD,
        full_name="张三",
        phone="13912345678",
        roles=[org.roles["district_manager"]],
    )
    user.refresh_from_db()
    assert user.check_password(GOOD) and user.must_change_password and user.password_changed_at
    entry = last("user.create")
    assert entry.changes["after"]["roles"] == ["district_manager"]
    assert GOOD not in str(entry.changes) and user.password not in str(entry.changes)


@pytest.mark.parametrize("password", ["short1A", "alllowercase", "12345678", "Zhang.San1"])
def test_user_create_refuses_weak_passwords_and_writes_nothing(org, password):
    before = User.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.user_create(actor=org.sysadmin, username="zhang.san", unit=org.unit_dc, password=password)
    assert "password" in exc.value.message_dict
    assert User.objects.count() == before


def test_usernames_are_unique_without_regard_to_case(org):
    with pytest.raises(ValidationError):
        services.user_create(actor=org.sysadmin, username="T_SYSADMIN", unit=org.office, password=GOOD)


def test_user_phone_must_be_a_mainland_mobile(org):
    with pytest.raises(ValidationError) as exc:
        services.user_update(actor=org.sysadmin, user=org.plain_dc, phone="12345")
    assert "phone" in exc.value.message_dict


def test_user_update_and_role_assignment_are_audited(org):
    services.user_update(actor=org.sysadmin, user=org.plain_dc, full_name="李四")
    assert last("user.update").changes["after"] == {"full_name": "李四"}
    services.user_assign_roles(actor=org.sysadmin, user=org.plain_dc, roles=[org.roles["center_leader"]])
    entry = last("user.assign_roles")
    assert entry.changes == {"before": {"roles": []}, "after": {"roles": ["center_leader"]}}


def test_user_deactivate_and_activate(org):
    services.user_deactivate(actor=org.sysadmin, user=org.plain_dc, reason="离职")
    org.plain_dc.refresh_from_db()
    assert not org.plain_dc.is_active and org.plain_dc.disabled_reason == "离职"
    services.user_activate(actor=org.sysadmin, user=org.plain_dc)
    org.plain_dc.refresh_from_db()
    assert org.plain_dc.is_active and org.plain_dc.disabled_reason == "" and org.plain_dc.last_activity_at
    with pytest.raises(ValidationError):
        services.user_deactivate(actor=org.sysadmin, user=org.sysadmin)


def test_user_cannot_be_placed_in_an_inactive_or_out_of_scope_unit(org):
    gone = UnitFactory(kind="department", is_active=False)
    with pytest.raises(ValidationError):
        services.user_create(actor=org.sysadmin, username="u1", unit=gone, password=GOOD)
    with pytest.raises(ValidationError):
        services.user_update(actor=org.manager_dc, user=org.plain_dc, unit=org.unit_xc)


# --- 三权分立 and escalation -------------------------------------------------------------------


def test_sysadmin_cannot_give_themselves_auditor_rights(org):
    with pytest.raises(ValidationError) as exc:
        services.user_assign_roles(
            actor=org.sysadmin, user=org.sysadmin, roles=[org.roles["sysadmin"], org.roles["auditor"]]
        )
    assert exc.value.code in {"self_grant", "separation_of_duties", "privilege_escalation"}
    assert not org.sysadmin.roles.filter(code="auditor").exists()


def test_no_user_holds_accounts_and_audit_duties_even_granted_by_the_system(org):
    with pytest.raises(ValidationError) as exc:
        services.user_assign_roles(
            actor=None, user=org.plain_dc, roles=[org.roles["sysadmin"], org.roles["auditor"]]
        )
    assert exc.value.code == "separation_of_duties" and "三权分立" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        services.user_assign_roles(
            actor=None, user=org.plain_dc, roles=[org.roles["secadmin"], org.roles["auditor"]]
        )
    assert exc.value.code == "separation_of_duties"


def test_no_role_holds_accounts_and_audit_duties(org):
    with pytest.raises(ValidationError) as exc:
        services.role_create(
            actor=None,
            code="bad-mix",
            name_zh="混合",
            scope_kind="all",
            permissions=permission_objects(["core.manage_accounts", "core.view_audit"]),
        )
    assert exc.value.code == "separation_of_duties"
    assert not Role.objects.filter(code="bad-mix").exists()


def test_role_update_may_not_break_separation_for_its_holders(org):
    role = services.role_create(actor=None, code="reader", name_zh="读者", scope_kind="all", permissions=[])
    services.user_assign_roles(actor=None, user=org.plain_dc, roles=[role, org.roles["sysadmin"]])
    with pytest.raises(ValidationError) as exc:
        services.role_update(actor=None, role=role, permissions=permission_objects(["core.view_audit"]))
    assert exc.value.code == "separation_of_duties"


def test_sysadmin_cannot_grant_privileged_permissions_they_do_not_hold(org):
    with pytest.raises(ValidationError) as exc:
        services.user_assign_roles(actor=org.sysadmin, user=org.plain_dc, roles=[org.roles["auditor"]])
    assert exc.value.code == "privilege_escalation"
    with pytest.raises(ValidationError) as exc:
        services.role_create(
            actor=org.sysadmin,
            code="sec2",
            name_zh="安全2",
            scope_kind="all",
            permissions=permission_objects(["core.manage_security"]),
        )
    assert exc.value.code == "privilege_escalation"
    # What the sysadmin holds, it may hand out.
    role = services.role_create(
        actor=org.sysadmin,
        code="reveal-reader",
        name_zh="数据查看",
        scope_kind="all",
        permissions=permission_objects(["core.reveal_personal_data", "core.view_unit"]),
    )
    services.user_assign_roles(actor=org.sysadmin, user=org.plain_dc, roles=[role])


def test_narrow_scope_actor_cannot_grant_wider_scope(org):
    manager_perms = RoleFactory(code="mgr-acc", scope_kind="districts", perms=["core.manage_accounts"])
    org.manager_dc.roles.add(manager_perms)
    actor = User.objects.get(pk=org.manager_dc.pk)
    with pytest.raises(ValidationError) as exc:
        services.user_assign_roles(actor=actor, user=org.plain_dc, roles=[org.roles["center_leader"]])
    assert exc.value.code == "scope_escalation"
    with pytest.raises(ValidationError):
        services.role_create(
            actor=actor, code="xc-only", name_zh="西城", scope_kind="districts", districts=[org.xicheng]
        )


def test_builtin_roles_cannot_be_edited(org):
    with pytest.raises(ValidationError) as exc:
        services.role_update(actor=None, role=org.roles["auditor"], name_zh="改名")
    assert exc.value.code == "builtin_role"


def test_role_scope_shape_is_checked(org):
    with pytest.raises(ValidationError):
        services.role_create(actor=None, code="r1", name_zh="r1", scope_kind="all", districts=[org.dongcheng])
    with pytest.raises(ValidationError):
        services.role_create(actor=None, code="r2", name_zh="r2", scope_kind="operator", operator=org.unit_dc)
    role = services.role_create(actor=None, code="r3", name_zh="r3", scope_kind="operator", operator=org.op_a)
    services.role_update(actor=None, role=role, name_zh="r3b")
    entry = last("role.update")
    assert entry.changes == {"before": {"name_zh": "r3"}, "after": {"name_zh": "r3b"}}


def test_role_create_and_update_audit_permissions_and_districts(org):
    role = services.role_create(
        actor=None,
        code="dc-view",
        name_zh="东城查看",
        scope_kind="districts",
        districts=[org.dongcheng],
        permissions=permission_objects(["core.view_unit"]),
    )
    assert last("role.create").changes["after"]["districts"] == ["110101"]
    services.role_update(
        actor=None,
        role=role,
        districts=[org.dongcheng, org.xicheng],
        permissions=permission_objects(["core.view_user"]),
    )
    changes = last("role.update").changes
    assert changes["before"]["permissions"] == ["core.view_unit"]
    assert changes["after"]["permissions"] == ["core.view_user"]
    assert changes["after"]["districts"] == ["110101", "110102"]


def test_a_failed_service_leaves_no_audit_entry(org):
    count = AuditEntry.objects.count()
    with pytest.raises(ValidationError):
        services.user_assign_roles(
            actor=None, user=org.plain_dc, roles=[org.roles["sysadmin"], org.roles["auditor"]]
        )
    assert AuditEntry.objects.count() == count
    assert Unit.objects.filter(pk=org.unit_dc.pk).exists()
