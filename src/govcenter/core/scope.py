"""Data scope: the one mechanism that restricts every query to what the caller may see.

A role carries a scope kind: ``all``, ``districts`` (a set), ``own_unit`` (the user's unit
and its sub-units) or ``operator`` (one bike-share operator's data). A role may leave its
district set or operator empty to mean "the user's own" — the tokens ``$districts`` and
``$operator`` of NetBox-style constraints — so one 区停车管理员 role serves all 17 units.

Models opt in by subclassing :class:`ScopedModel` and declaring ``scope_fields``: for each
scope kind the lookup path to the field that decides it. A kind a model does not declare
grants nothing on that model (deny by default). Selectors call ``.restrict(user)`` once;
base views and viewsets do it for every list, detail, count, search and export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from django.db import models
from django.db.models import Q


class ScopeKind(models.TextChoices):
    ALL = "all", "全部数据"
    DISTRICTS = "districts", "指定区"
    OWN_UNIT = "own_unit", "本单位"
    OPERATOR = "operator", "指定运营企业"


@dataclass(frozen=True)
class Scope:
    """What one caller may see; the union of the scopes of all their roles."""

    all: bool = False
    district_ids: frozenset[int] = field(default_factory=frozenset)
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    operator_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.all or self.district_ids or self.unit_ids or self.operator_ids)

    def q(self, scope_fields: dict[str, str], model=None) -> Q | None:
        """The filter for a model with ``scope_fields``; None means unrestricted.

        A path through a to-many relation (a case's assigned units: ``assignments__unit``)
        becomes a semi-join, ``pk IN (SELECT pk … WHERE path IN ids)``, when ``model`` is given,
        so a row reached through two of the caller's units is listed and counted once.
        """
        if self.all:
            return None
        q = Q(pk__in=[])
        for kind, ids in (("district", self.district_ids), ("unit", self.unit_ids), ("operator", self.operator_ids)):
            path = scope_fields.get(kind)
            if path and ids:
                lookup = Q(**{f"{path}__in": sorted(ids)})
                if model is not None and _crosses_to_many(model, path):
                    lookup = Q(pk__in=model._base_manager.filter(lookup).values("pk"))
                q |= lookup
        return q


def _crosses_to_many(model, path: str) -> bool:
    """Whether the lookup path from ``model`` goes through a one-to-many or many-to-many relation."""
    current = model
    for name in path.split("__"):
        try:
            field = current._meta.get_field(name)
        except Exception:  # noqa: BLE001  (a lookup such as "pk": not a relation)
            return False
        if field.one_to_many or field.many_to_many:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        current = field.related_model
    return False


NO_SCOPE = Scope()
FULL_SCOPE = Scope(all=True)

_CACHE_ATTR = "_govcenter_scope"


def scope_for(user_or_scope) -> Scope:
    """The :class:`Scope` of a user (cached on the user object for the request)."""
    if isinstance(user_or_scope, Scope):
        return user_or_scope
    user = user_or_scope
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return NO_SCOPE
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    scope = _compute(user)
    setattr(user, _CACHE_ATTR, scope)
    return scope


def clear_scope_cache(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _compute(user) -> Scope:
    from .models import Unit

    if user.is_superuser:
        return FULL_SCOPE
    districts: set[int] = set()
    units: set[int] = set()
    operators: set[int] = set()
    unit = user.unit
    for role in user.roles.all().prefetch_related("districts"):
        if role.scope_kind == ScopeKind.ALL:
            return FULL_SCOPE
        if role.scope_kind == ScopeKind.DISTRICTS:
            explicit = {d.pk for d in role.districts.all()}
            if explicit:
                districts |= explicit
            elif unit is not None and unit.district_id:
                districts.add(unit.district_id)  # the $districts token
        elif role.scope_kind == ScopeKind.OWN_UNIT and unit is not None:
            units |= set(Unit.objects.subtree_ids(unit))
        elif role.scope_kind == ScopeKind.OPERATOR:
            if role.operator_id:
                operators.add(role.operator_id)
            elif unit is not None and unit.kind == "operator":
                operators.add(unit.pk)  # the $operator token
    return Scope(district_ids=frozenset(districts), unit_ids=frozenset(units), operator_ids=frozenset(operators))


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user_or_scope) -> ScopedQuerySet:
        """Only the rows the caller's data scope covers."""
        q = scope_for(user_or_scope).q(self.model.scope_fields, self.model)
        return self if q is None else self.filter(q)


class ScopedModel(models.Model):
    """Base for every model whose rows belong to a district, a unit or an operator."""

    scope_fields: ClassVar[dict[str, str]] = {}

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True
