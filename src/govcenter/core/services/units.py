"""Unit services: the organisation tree (create, update, deactivate, activate)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .. import audit
from ..models import District, Unit, User
from .guards import check_unit_in_scope, unrestricted

UNIT_FIELDS = [
    "code",
    "name_zh",
    "name_en",
    "kind",
    "parent_id",
    "district_id",
    "contact_name",
    "contact_phone",
    "is_active",
]
EDITABLE = frozenset(
    {"code", "name_zh", "name_en", "kind", "parent", "district", "contact_name", "contact_phone"}
)


def _check_parent(actor, unit: Unit | None, parent: Unit | None) -> None:
    if parent is None:
        if not unrestricted(actor):
            from ..scope import scope_for

            if not scope_for(actor).all:
                raise ValidationError(
                    {"parent": _("只能在本人数据范围内的单位下建立单位。")}, code="scope_escalation"
                )
        return
    check_unit_in_scope(actor, parent, field="parent")
    if (
        unit is not None
        and unit.pk is not None
        and (parent.pk == unit.pk or parent.path.startswith(unit.path))
    ):
        # The tree must stay a tree: a unit cannot move under itself or its own sub-units.
        raise ValidationError({"parent": _("上级单位不能是本单位或其下级单位。")}, code="cycle")
    if not parent.is_active:
        raise ValidationError({"parent": _("上级单位已停用。")}, code="inactive_parent")


@transaction.atomic
def unit_create(
    *,
    actor: User | None,
    code: str,
    name_zh: str,
    kind: str,
    parent: Unit | None = None,
    district: District | None = None,
    name_en: str = "",
    contact_name: str = "",
    contact_phone: str = "",
) -> Unit:
    """Create a unit under ``parent`` (inside the actor's scope); audited."""
    _check_parent(actor, None, parent)
    unit = Unit(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        kind=kind,
        parent=parent,
        district=district,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    unit.full_clean()
    unit.save()
    audit.record(
        action="unit.create", obj=unit, changes={"before": {}, "after": audit.snapshot(unit, UNIT_FIELDS)}
    )
    return unit


@transaction.atomic
def unit_update(*, actor: User | None, unit: Unit, **fields) -> Unit:
    """Change a unit's fields (``parent`` moves it with its subtree); audited with a diff."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise TypeError(f"unit_update() got unexpected fields: {', '.join(sorted(unknown))}")
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = audit.snapshot(unit, UNIT_FIELDS)
    if "parent" in fields and fields["parent"] != unit.parent:
        _check_parent(actor, unit, fields["parent"])
    for name, value in fields.items():
        setattr(unit, name, value)
    unit.full_clean()
    changes = audit.diff(before, audit.snapshot(unit, UNIT_FIELDS))
    if changes["after"]:
        unit.save()
        audit.record(action="unit.update", obj=unit, changes=changes)
    return unit


@transaction.atomic
def unit_deactivate(*, actor: User | None, unit: Unit, reason: str = "") -> Unit:
    """Switch a unit off. Refused while it has active users or active sub-units."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    if not unit.is_active:
        return unit
    active_users = User.objects.filter(unit=unit, is_active=True).count()
    if active_users:
        raise ValidationError(
            _("该单位还有 %(n)d 个启用的用户，请先调整或停用这些用户。") % {"n": active_users},
            code="has_active_users",
        )
    if Unit.objects.filter(parent=unit, is_active=True).exists():
        raise ValidationError(_("该单位还有启用的下级单位，请先停用下级单位。"), code="has_active_children")
    before = audit.snapshot(unit, UNIT_FIELDS)
    unit.is_active = False
    unit.save(update_fields=["is_active", "updated_at"])
    audit.record(
        action="unit.deactivate",
        obj=unit,
        changes=audit.diff(before, audit.snapshot(unit, UNIT_FIELDS)),
        reason=reason,
    )
    return unit


@transaction.atomic
def unit_activate(*, actor: User | None, unit: Unit) -> Unit:
    """Switch a unit back on (its parent must be active)."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    if unit.is_active:
        return unit
    if unit.parent_id and not unit.parent.is_active:
        raise ValidationError(_("上级单位已停用。"), code="inactive_parent")
    before = audit.snapshot(unit, UNIT_FIELDS)
    unit.is_active = True
    unit.save(update_fields=["is_active", "updated_at"])
    audit.record(
        action="unit.activate", obj=unit, changes=audit.diff(before, audit.snapshot(unit, UNIT_FIELDS))
    )
    return unit
