"""Role services: named sets of function permissions plus one data scope."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .. import audit
from ..models import District, Role, Unit, User
from ..roles import dotted_names
from ..scope import ScopeKind
from .guards import check_can_grant, check_role_scope, check_separation, role_perms

ROLE_FIELDS = ["code", "name_zh", "name_en", "description", "scope_kind", "operator_id"]
EDITABLE = frozenset(
    {"name_zh", "name_en", "description", "permissions", "scope_kind", "districts", "operator"}
)


def _snapshot(role: Role, permissions=None, districts=None) -> dict:
    data = audit.snapshot(role, ROLE_FIELDS)
    perms = permissions if permissions is not None else role.permissions.select_related("content_type")
    data["permissions"] = sorted(dotted_names(perms))
    data["districts"] = sorted(d.code for d in (districts if districts is not None else role.districts.all()))
    return data


def _check_scope_shape(scope_kind: str, districts: list[District], operator: Unit | None) -> None:
    if scope_kind not in ScopeKind.values:
        raise ValidationError({"scope_kind": _("未知的数据范围。")}, code="invalid")
    if districts and scope_kind != ScopeKind.DISTRICTS:
        raise ValidationError({"districts": _("只有“指定区”范围才能选择区。")}, code="invalid")
    if operator is not None:
        if scope_kind != ScopeKind.OPERATOR:
            raise ValidationError({"operator": _("只有“指定运营企业”范围才能选择运营企业。")}, code="invalid")
        if operator.kind != "operator":
            raise ValidationError({"operator": _("所选单位不是运营企业。")}, code="invalid")


def _check_permissions(actor, role: Role | None, permissions: list[Permission]) -> None:
    perms = dotted_names(permissions)
    check_separation(perms, who=_("同一角色"))
    held = dotted_names(role.permissions.select_related("content_type")) if role is not None else set()
    check_can_grant(actor, perms - held)
    if role is not None:
        # Every holder keeps 三权分立 with the role's new permission set.
        for user in User.objects.filter(roles=role).prefetch_related("roles"):
            others = [r for r in user.roles.all() if r.pk != role.pk]
            check_separation(role_perms(others) | perms, who=_("用户 %(name)s ") % {"name": user.username})


@transaction.atomic
def role_create(
    *,
    actor: User | None,
    code: str,
    name_zh: str,
    scope_kind: str,
    permissions: Iterable[Permission] = (),
    districts: Iterable[District] = (),
    operator: Unit | None = None,
    name_en: str = "",
    description: str = "",
) -> Role:
    """Define a role; the actor cannot grant what they do not hold nor a wider scope."""
    permissions = list(
        Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related("content_type")
    )
    districts = list(districts)
    _check_scope_shape(scope_kind, districts, operator)
    _check_permissions(actor, None, permissions)
    check_role_scope(actor, scope_kind=scope_kind, districts=districts, operator=operator)
    role = Role(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        description=description,
        scope_kind=scope_kind,
        operator=operator,
        is_builtin=False,
    )
    role.full_clean()
    role.save()
    role.permissions.set(permissions)
    role.districts.set(districts)
    audit.record(
        action="role.create",
        obj=role,
        changes={"before": {}, "after": _snapshot(role, permissions, districts)},
    )
    return role


@transaction.atomic
def role_update(*, actor: User | None, role: Role, **fields) -> Role:
    """Change a custom role's names, permission set or scope; audited with a diff.

    Built-in roles are kept by ``ensure_builtin_roles`` and cannot be edited here: copy
    one into a new role instead.
    """
    unknown = set(fields) - EDITABLE
    if unknown:
        raise TypeError(f"role_update() got unexpected fields: {', '.join(sorted(unknown))}")
    role = Role.objects.select_for_update().get(pk=role.pk)
    if role.is_builtin:
        raise ValidationError(_("内置角色由系统维护，不能修改；请新建角色。"), code="builtin_role")
    before = _snapshot(role)
    permissions = fields.pop("permissions", None)
    districts = fields.pop("districts", None)
    if permissions is not None:
        permissions = list(
            Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related("content_type")
        )
    districts = list(districts) if districts is not None else list(role.districts.all())
    for name, value in fields.items():
        setattr(role, name, value)
    _check_scope_shape(role.scope_kind, districts, role.operator)
    if permissions is not None:
        _check_permissions(actor, role, permissions)
    check_role_scope(actor, scope_kind=role.scope_kind, districts=districts, operator=role.operator)
    role.full_clean()
    after = _snapshot(role, permissions if permissions is not None else None, districts)
    changes = audit.diff(before, after)
    if changes["after"]:
        role.save()
        if permissions is not None:
            role.permissions.set(permissions)
        role.districts.set(districts)
        audit.record(action="role.update", obj=role, changes=changes)
    return role
