"""The base viewset: data scope and function permissions enforced once, for every endpoint.

``ScopedViewSet.get_queryset()`` restricts the class's queryset by the caller's scope, so
list, detail (an out-of-scope id is 404, never 403), counts, searches, filters and
exports all start from the same restricted queryset. Subclasses never override
``get_queryset`` to widen it; they narrow with ``scoped_queryset()``.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions, viewsets


class ScopedViewSet(viewsets.GenericViewSet):
    """Base of every viewset. Set ``queryset`` (a ScopedQuerySet) and permissions.

    ``read_permissions``: the caller needs any one of them for GET/HEAD/OPTIONS;
    ``write_permissions``: all of them for other methods. A model that is configuration
    rather than data (roles) sets ``unscoped_reason`` to say why it has no scope.
    """

    read_permissions: tuple[str, ...] = ()
    write_permissions: tuple[str, ...] = ()
    unscoped_reason: str = ""

    def get_queryset(self):
        qs = super().get_queryset()
        if hasattr(qs, "restrict"):
            return self.scoped_queryset(qs.restrict(self.request.user))
        if not self.unscoped_reason:
            raise ImproperlyConfigured(f"{type(self).__name__}: {qs.model.__name__} has no data scope")
        return self.scoped_queryset(qs)

    def scoped_queryset(self, queryset):
        """Hook to narrow (select_related, annotate) the already restricted queryset."""
        return queryset

    def get_permissions(self):
        return [*super().get_permissions(), FunctionPermission()]


class FunctionPermission(permissions.BasePermission):
    """Function permissions declared on the viewset (``read_permissions``/``write_permissions``)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            needed = getattr(view, "read_permissions", ())
            return not needed or any(user.has_perm(p) for p in needed)
        needed = getattr(view, "write_permissions", ())
        if not needed:
            return False  # a write nobody declared is a write nobody may do
        return user.has_perms(needed)
