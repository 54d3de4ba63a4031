"""Guard rails shared by the account services: no privilege escalation, 三权分立, scope.

* Nobody grants a privileged permission they do not hold themselves. Privileged means
  the permissions that also demand the SMS second factor (personal data, account,
  security, audit, SMS outbox, calendar administration). Ordinary function permissions
  are the system administrator's to distribute: that is what ``manage_accounts`` means.
* No role and no user may hold two of the separated duties (accounts, security, audit).
* An actor whose data scope is narrower than ``all`` can neither grant a wider scope nor
  place people or units outside it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..auth import SECOND_FACTOR_PERMISSIONS
from ..roles import SEPARATED_DUTIES, dotted_names, duties_of
from ..scope import ScopeKind, scope_for

DUTY_LABELS = {"accounts": "系统管理", "security": "安全管理", "audit": "安全审计"}


def unrestricted(actor) -> bool:
    """The system (None) and the break-glass superuser pass the grant guards."""
    return actor is None or actor.is_superuser


def check_can_grant(actor, perms: set[str]) -> None:
    """Refuse granting privileged permissions the actor does not hold."""
    if unrestricted(actor):
        return
    missing = sorted((perms & SECOND_FACTOR_PERMISSIONS) - actor.get_all_permissions())
    if missing:
        raise ValidationError(
            _("不能授予本人未持有的权限：%(perms)s") % {"perms": ", ".join(missing)},
            code="privilege_escalation",
        )


def check_separation(perms: set[str], *, who: str) -> None:
    """Refuse a permission set that spans two separated duties (三权分立)."""
    duties = duties_of(perms)
    if len(duties) > 1:
        names = "、".join(DUTY_LABELS[d] for d in SEPARATED_DUTIES if d in duties)
        raise ValidationError(
            _("三权分立：%(who)s不能同时拥有%(duties)s职责。") % {"who": who, "duties": names},
            code="separation_of_duties",
        )


def role_perms(roles: Iterable) -> set[str]:
    perms: set[str] = set()
    for role in roles:
        perms |= dotted_names(role.permissions.select_related("content_type"))
    return perms


def check_role_scope(actor, *, scope_kind: str, districts: Iterable, operator) -> None:
    """An actor with a narrower scope cannot define or hand out a wider one."""
    if unrestricted(actor):
        return
    scope = scope_for(actor)
    if scope.all:
        return
    if scope_kind == ScopeKind.ALL:
        raise ValidationError(_("不能授予超出本人数据范围的“全部数据”范围。"), code="scope_escalation")
    if scope_kind == ScopeKind.DISTRICTS:
        outside = {d.pk for d in districts} - set(scope.district_ids)
        if outside:
            raise ValidationError(_("指定区超出了本人的数据范围。"), code="scope_escalation")
    if scope_kind == ScopeKind.OPERATOR and operator is not None:
        if operator.pk not in scope.operator_ids | scope.unit_ids:
            raise ValidationError(_("指定运营企业超出了本人的数据范围。"), code="scope_escalation")


def check_unit_in_scope(actor, unit, *, field: str = "unit") -> None:
    """People and units can only be placed inside the actor's scope."""
    if unrestricted(actor) or unit is None:
        return
    from ..models import Unit

    if not Unit.objects.restrict(actor).filter(pk=unit.pk).exists():
        raise ValidationError({field: _("所选单位不在本人的数据范围内。")}, code="scope_escalation")
