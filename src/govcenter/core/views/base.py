"""Base class-based views: function permission and data scope enforced once.

``ScopedListView`` and ``ScopedDetailView`` (and the edit views built on
:class:`ScopedObjectMixin`) take their rows from a selector or from
``model.objects.restrict(request.user)``, so an object outside the caller's scope is 404,
never 403, and never appears in a list, a count or a search.

Anonymous callers are redirected to the login page; a signed-in caller without the
function permission gets 403.
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ImproperlyConfigured
from django.views.generic import DetailView, ListView


class AnyPermissionRequiredMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """The caller needs *any one* of ``permission_required`` (a tuple)."""

    def has_permission(self) -> bool:
        perms = self.get_permission_required()
        return any(self.request.user.has_perm(p) for p in perms)


class ScopedObjectMixin:
    """``get_queryset()`` always restricted to the caller's scope."""

    model = None
    unscoped_reason: str = ""

    def base_queryset(self):
        """Override to start from a selector; the result is restricted again (idempotent)."""
        return self.model._default_manager.all()

    def get_queryset(self):
        qs = self.base_queryset()
        if hasattr(qs, "restrict"):
            return qs.restrict(self.request.user)
        if not self.unscoped_reason:
            raise ImproperlyConfigured(f"{type(self).__name__}: {qs.model.__name__} has no data scope")
        return qs


class ScopedListView(AnyPermissionRequiredMixin, ScopedObjectMixin, ListView):
    paginate_by = 50
    filterset_class = None

    def get_queryset(self):
        qs = super().get_queryset()
        self.filterset = None
        if self.filterset_class is not None:
            self.filterset = self.filterset_class(
                data=self.request.GET or None, queryset=qs, request=self.request
            )
            for field in self.filterset.form.fields.values():
                is_select = hasattr(field.widget, "choices") or hasattr(field, "choices")
                field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")
            if self.filterset.is_bound and self.filterset.is_valid():
                qs = self.filterset.qs
        return qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filterset"] = self.filterset
        page = context.get("page_obj")
        context["total_count"] = page.paginator.count if page is not None else len(context["object_list"])
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query_without_page"] = query.urlencode()
        return context


class ScopedDetailView(AnyPermissionRequiredMixin, ScopedObjectMixin, DetailView):
    pass
