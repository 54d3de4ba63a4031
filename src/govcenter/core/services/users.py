"""User services: accounts in units, their roles, activation."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import audit
from ..models import Role, Unit, User
from ..passwords import validate_password
from ..scope import clear_scope_cache
from .guards import check_can_grant, check_role_scope, check_separation, check_unit_in_scope, role_perms

USER_FIELDS = [
    "username",
    "full_name",
    "phone",
    "email",
    "unit_id",
    "is_active",
    "must_change_password",
    "disabled_reason",
]
EDITABLE = frozenset({"full_name", "phone", "email", "unit"})
PHONE = re.compile(r"^1[3-9]\d{9}$")


def _snapshot(user: User, roles: Iterable[Role] | None = None) -> dict:
    data = audit.snapshot(user, USER_FIELDS)
    data["roles"] = sorted(r.code for r in (roles if roles is not None else user.roles.all()))
    return data


def _check_phone(phone: str) -> None:
    if phone and not PHONE.match(phone):
        raise ValidationError({"phone": _("请输入 11 位中国大陆手机号。")}, code="invalid_phone")


def _check_unit(unit: Unit | None) -> None:
    if unit is None:
        raise ValidationError({"unit": _("用户必须属于一个单位。")}, code="required")
    if not unit.is_active:
        raise ValidationError({"unit": _("所选单位已停用。")}, code="inactive_unit")


def _check_roles(actor, user: User, roles: list[Role]) -> None:
    """Grant guard, 三权分立 and scope for a user's complete future role set."""
    perms = role_perms(roles)
    if user.pk:
        perms |= {
            f"{p.content_type.app_label}.{p.codename}"
            for p in user.user_permissions.select_related("content_type")
        }
    current = {r.pk for r in user.roles.all()} if user.pk else set()
    added = [r for r in roles if r.pk not in current]
    check_can_grant(actor, role_perms(added))
    for role in added:
        check_role_scope(
            actor, scope_kind=role.scope_kind, districts=role.districts.all(), operator=role.operator
        )
    check_separation(perms, who=_("同一用户"))


def _set_password(*, user: User, raw_password: str, actor, must_change: bool) -> None:
    # The password policy (validators, history, timestamps, audit) lives in core.security.
    from ..security import user_set_password

    user_set_password(user=user, raw_password=raw_password, actor=actor, must_change=must_change)


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    unit: Unit,
    password: str,
    full_name: str = "",
    phone: str = "",
    email: str = "",
    roles: Iterable[Role] = (),
    must_change_password: bool = True,
) -> User:
    """Create an account in ``unit`` with an initial password that passes the policy.

    The person must change the password at first login (``must_change_password``).
    """
    _check_unit(unit)
    check_unit_in_scope(actor, unit)
    _check_phone(phone)
    roles = list(roles)
    user = User(username=username.strip(), unit=unit, full_name=full_name, phone=phone, email=email)
    _check_roles(actor, user, roles)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}, code="password_policy") from None
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user.roles.set(roles)
    _set_password(user=user, raw_password=password, actor=actor, must_change=must_change_password)
    clear_scope_cache(user)
    audit.record(action="user.create", obj=user, changes={"before": {}, "after": _snapshot(user, roles)})
    return user


@transaction.atomic
def user_update(*, actor: User | None, user: User, **fields) -> User:
    """Change a user's name, phone, e-mail or unit; audited with a diff."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise TypeError(f"user_update() got unexpected fields: {', '.join(sorted(unknown))}")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = _snapshot(user)
    if "unit" in fields and fields["unit"] != user.unit:
        _check_unit(fields["unit"])
        check_unit_in_scope(actor, fields["unit"])
    if "phone" in fields:
        _check_phone(fields["phone"])
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    changes = audit.diff(before, _snapshot(user))
    if changes["after"]:
        user.save()
        clear_scope_cache(user)
        audit.record(action="user.update", obj=user, changes=changes)
    return user


@transaction.atomic
def user_assign_roles(*, actor: User | None, user: User, roles: Iterable[Role]) -> User:
    """Replace a user's roles. Refuses escalation and 三权分立 violations."""
    roles = list(roles)
    user = User.objects.select_for_update().get(pk=user.pk)
    if actor is not None and actor.pk == user.pk and not actor.is_superuser:
        added = {r.pk for r in roles} - set(user.roles.values_list("pk", flat=True))
        if added:
            # Nobody widens their own rights, whatever they hold.
            raise ValidationError(_("不能给自己增加角色。"), code="self_grant")
    before = _snapshot(user)
    _check_roles(actor, user, roles)
    user.roles.set(roles)
    clear_scope_cache(user)
    changes = audit.diff(before, _snapshot(user, roles))
    if changes["after"]:
        audit.record(action="user.assign_roles", obj=user, changes=changes)
    return user


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str = "") -> User:
    """Disable an account (it can no longer log in); audited with the reason."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if actor is not None and actor.pk == user.pk:
        raise ValidationError(_("不能停用自己的账号。"), code="self_deactivate")
    if not user.is_active:
        return user
    before = _snapshot(user)
    user.is_active = False
    user.disabled_reason = (reason or _("管理员停用"))[:200]
    user.save(update_fields=["is_active", "disabled_reason"])
    audit.record(
        action="user.deactivate", obj=user, changes=audit.diff(before, _snapshot(user)), reason=reason
    )
    return user


@transaction.atomic
def user_activate(*, actor: User | None, user: User) -> User:
    """Enable an account again; its idle clock restarts so it is not disabled at once."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        return user
    _check_unit(user.unit)
    before = _snapshot(user)
    user.is_active = True
    user.disabled_reason = ""
    user.last_activity_at = timezone.now()
    user.save(update_fields=["is_active", "disabled_reason", "last_activity_at"])
    audit.record(action="user.activate", obj=user, changes=audit.diff(before, _snapshot(user)))
    return user
