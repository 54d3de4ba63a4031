"""Built-in roles: one per persona of the house plan, plus the three separated administrators.

A role's permission set is its *function permission* (功能权限); its scope kind with the
district set or operator is its *data scope* (数据资源权限); ``own_unit`` is the *unit
access permission* (单位访问权限). Built-in roles are (re)written by
:func:`ensure_builtin_roles`, which is idempotent: it creates missing roles and brings
the name, scope and permission set of existing built-in roles back to this table, so a
new module's permissions reach the personas on the next ``govcenter seed``.

三权分立 (separation of the three administrator duties): the system administrator
manages units, users and roles but cannot read the audit log; the security administrator
manages security policy and sees login/lockout state but edits no users; the auditor
reads and exports the audit log (and the application logs the O&M console collects beside
it) and nothing else. :data:`SEPARATED_DUTIES` is enforced by
the services for every role and every user, not only for these three.

Django's ``is_superuser`` is not used for people: the only superuser is a break-glass
account created with ``govcenter createsuperuser`` and kept sealed (see docs); it is the
one that appoints the first security administrator and auditor, because nobody else may
grant a duty they do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db import transaction

from .scope import ScopeKind

# Each duty is a set of permissions; a role or a user may hold permissions of one duty only.
SEPARATED_DUTIES: dict[str, frozenset[str]] = {
    "accounts": frozenset({"core.manage_accounts"}),
    "security": frozenset({"core.manage_security"}),
    "audit": frozenset({"core.view_audit", "core.export_audit"}),
}

ORG_READ = ("core.view_unit", "core.view_user", "core.view_district")


@dataclass(frozen=True)
class RoleSpec:
    code: str
    name_zh: str
    name_en: str
    description: str
    scope_kind: str
    permissions: tuple[str, ...]


BUILTIN_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec(
        "sysadmin",
        "系统管理员",
        "System administrator",
        "管理单位、用户和角色；不能查看审计日志。",
        ScopeKind.ALL,
        (
            "core.manage_accounts",
            "core.reveal_personal_data",
            "core.manage_calendar",
            "core.view_role",
            *ORG_READ,
        ),
    ),
    RoleSpec(
        "secadmin",
        "安全管理员",
        "Security administrator",
        "管理安全策略，查看登录与锁定状态、解除锁定；不能编辑用户，不能删除审计记录。",
        ScopeKind.ALL,
        ("core.manage_security", "core.read_sms_outbox", "core.view_user", "core.view_unit"),
    ),
    RoleSpec(
        "auditor",
        "审计员",
        "Auditor",
        "查看和导出审计日志；不能编辑用户。",
        ScopeKind.ALL,
        ("core.view_audit", "core.export_audit"),
    ),
    RoleSpec(
        "data_staff",
        "中心数据科人员",
        "Center data staff",
        "统计、报表、基础数据；可查看未脱敏的个人信息（每次查看均审计）。",
        ScopeKind.ALL,
        ("core.reveal_personal_data", *ORG_READ),
    ),
    RoleSpec(
        "center_leader",
        "中心领导",
        "Center leader",
        "只读查看全市数据。",
        ScopeKind.ALL,
        ORG_READ,
    ),
    RoleSpec(
        "om_engineer",
        "运维工程师",
        "O&M engineer",
        "监控、故障、工作记录、备份、安全加固；本单位数据。",
        ScopeKind.OWN_UNIT,
        ("core.view_unit",),
    ),
    RoleSpec(
        "district_manager",
        "区停车管理员",
        "District parking manager",
        "本区的道路、路段、泊位、设备、订单和投诉；不含其他区。",
        ScopeKind.DISTRICTS,
        ORG_READ,
    ),
    RoleSpec(
        "parking_patrol",
        "停车巡查员",
        "Parking patrol",
        "本区设备事件（地磁、视频、手持终端）和设备状态。",
        ScopeKind.DISTRICTS,
        ("core.view_district",),
    ),
    RoleSpec(
        "device_integrator",
        "设备集成商",
        "Device integrator",
        "指定区的设备事件和设备状态。",
        ScopeKind.DISTRICTS,
        ("core.view_district",),
    ),
    RoleSpec(
        "operator_staff",
        "运营企业人员",
        "Bike-share operator staff",
        "推送骑行和车辆状态，查看本企业的考核和通知。",
        ScopeKind.OPERATOR,
        ("core.view_unit",),
    ),
    RoleSpec(
        "field_inspector",
        "现场核查员",
        "Field inspector",
        "扫码核查车辆并记录核查结果；本单位数据。",
        ScopeKind.OWN_UNIT,
        (),
    ),
    RoleSpec(
        "congestion_coordinator",
        "缓堵统筹人员",
        "Congestion-relief coordinator",
        "登记、交办、审核、发布和催办缓堵事项（建议、提案、项目、督办任务、交通影响评价、宣传）；全市数据。",
        ScopeKind.ALL,
        ORG_READ,
    ),
    RoleSpec(
        "congestion_staff",
        "治堵单位人员",
        "Congestion-relief unit staff",
        "建议、提案、项目、督办任务和交通影响评价；本单位数据。",
        ScopeKind.OWN_UNIT,
        ("core.view_unit",),
    ),
)

BUILTIN_CODES = frozenset(spec.code for spec in BUILTIN_ROLES)

# Function permissions domain apps add to built-in roles (core never imports them): an app
# calls contribute_permissions() from its AppConfig.ready(); ensure_builtin_roles() adds them.
CONTRIBUTED_PERMISSIONS: dict[str, set[str]] = {}


def contribute_permissions(role_code: str, permissions) -> None:
    """Add ``["app.codename", …]`` to the built-in role ``role_code`` (idempotent)."""
    if role_code not in BUILTIN_CODES:
        raise LookupError(f"unknown built-in role: {role_code}")
    CONTRIBUTED_PERMISSIONS.setdefault(role_code, set()).update(permissions)


def role_permissions(spec: RoleSpec) -> tuple[str, ...]:
    """The built-in role's own permissions plus those the apps contributed."""
    return tuple(sorted({*spec.permissions, *CONTRIBUTED_PERMISSIONS.get(spec.code, ())}))


def permission_objects(dotted: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> list[Permission]:
    """``["core.view_unit", …]`` → Permission rows (unknown names raise LookupError)."""
    wanted = {tuple(name.split(".", 1)) for name in dotted}
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={a for a, _ in wanted}, codename__in={c for _, c in wanted}
        ).select_related("content_type")
    )
    by_name = {(p.content_type.app_label, p.codename): p for p in found}
    missing = sorted(".".join(key) for key in wanted if key not in by_name)
    if missing:
        raise LookupError(f"unknown permissions: {', '.join(missing)}")
    return [by_name[key] for key in sorted(wanted)]


def dotted_names(permissions) -> set[str]:
    """Permission rows → ``{"app_label.codename", …}``."""
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def duties_of(perms: set[str] | frozenset[str]) -> set[str]:
    """Which separated duties a permission set touches."""
    return {duty for duty, names in SEPARATED_DUTIES.items() if names & perms}


@transaction.atomic
def ensure_builtin_roles() -> dict[str, int]:
    """Create or update the built-in roles; returns ``{"created": n, "updated": m}``.

    Idempotent: a second call changes nothing. Audited as the system, in one transaction.
    """
    from . import audit
    from .models import Role

    created = updated = 0
    for spec in BUILTIN_ROLES:
        spec_permissions = role_permissions(spec)
        perms = permission_objects(spec_permissions)
        role = Role.objects.filter(code=spec.code).first()
        wanted = {
            "name_zh": spec.name_zh,
            "name_en": spec.name_en,
            "description": spec.description,
            "scope_kind": str(spec.scope_kind),
            "is_builtin": True,
        }
        if role is None:
            role = Role(code=spec.code, **wanted)
            role.full_clean()
            role.save()
            role.permissions.set(perms)
            created += 1
            audit.record(
                action="role.create",
                obj=role,
                changes={"before": {}, "after": {**wanted, "permissions": sorted(spec_permissions)}},
            )
            continue
        before = {k: getattr(role, k) for k in wanted}
        before["permissions"] = sorted(dotted_names(role.permissions.select_related("content_type")))
        after = {**wanted, "permissions": sorted(spec_permissions)}
        changes = audit.diff(before, after)
        if not changes["before"] and not changes["after"]:
            continue
        for key, value in wanted.items():
            setattr(role, key, value)
        role.full_clean()
        role.save()
        role.permissions.set(perms)
        updated += 1
        audit.record(action="role.update", obj=role, changes=changes, reason="built-in role definition")
    return {"created": created, "updated": updated}
