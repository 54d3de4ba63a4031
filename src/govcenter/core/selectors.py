"""Reads of the kernel: units, users, roles, districts — always through the data scope.

Every selector takes the caller (``user``) and starts from ``.restrict(user)``, so a
view, an export or an API endpoint built on it cannot forget the scope. ``filters`` is a
query dict (``request.GET``) applied with the model's FilterSet.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from .filters import DistrictFilterSet, RoleFilterSet, UnitFilterSet, UserFilterSet
from .models import District, Role, Unit, User


def _filtered(filterset_class, queryset, filters, request=None):
    if not filters:
        return queryset
    filterset = filterset_class(data=filters, queryset=queryset, request=request)
    # Invalid filter values narrow nothing: the form shows the error, the list stays scoped.
    return filterset.qs if filterset.is_valid() else queryset


def unit_list(*, user, filters=None, request=None) -> QuerySet[Unit]:
    """Units in the caller's scope, in tree order (materialised path)."""
    qs = (
        Unit.objects.restrict(user)
        .select_related("parent", "district")
        .annotate(user_count=Count("users", distinct=True))
    )
    return _filtered(UnitFilterSet, qs, filters, request).order_by("path")


def unit_get(*, user, pk) -> Unit:
    """One unit in the caller's scope; 404 otherwise (never 403)."""
    return _get(Unit.objects.restrict(user).select_related("parent", "district"), pk)


def user_list(*, user, filters=None, request=None) -> QuerySet[User]:
    """Users of the units in the caller's scope (User.scope_fields), with unit and roles."""
    qs = (
        User.objects.restrict(user)
        .select_related("unit")
        .prefetch_related(Prefetch("roles", queryset=Role.objects.only("id", "code", "name_zh", "name_en")))
    )
    return _filtered(UserFilterSet, qs, filters, request).order_by("username")


def user_get(*, user, pk) -> User:
    """One user in the caller's scope; 404 otherwise."""
    return _get(
        User.objects.restrict(user).select_related("unit", "unit__district").prefetch_related("roles"), pk
    )


def role_list(*, user, filters=None, request=None) -> QuerySet[Role]:
    """Roles are configuration, not data: every caller allowed to see roles sees them all."""
    qs = Role.objects.select_related("operator").annotate(user_count=Count("users", distinct=True))
    return _filtered(RoleFilterSet, qs, filters, request).order_by("-is_builtin", "code")


def role_get(*, user, pk) -> Role:
    return _get(Role.objects.select_related("operator").prefetch_related("districts", "permissions"), pk)


def district_list(*, user, filters=None, request=None) -> QuerySet[District]:
    """Districts in the caller's scope, geometry deferred (it is large)."""
    qs = District.objects.restrict(user).defer("geometry")
    return _filtered(DistrictFilterSet, qs, filters, request)


def _get(queryset, pk):
    try:
        return queryset.get(pk=int(pk))
    except (TypeError, ValueError, queryset.model.DoesNotExist):
        raise Http404 from None
