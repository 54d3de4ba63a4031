"""Organisation UI: units (tree), users, roles with function permissions and data scope.

The contract's 数据资源权限 (data scope), 功能权限 (function permissions), 单位访问权限
(own-unit scope) and 角色和组织机构权限 (roles and the unit tree) are managed here.
Reading needs ``core.manage_accounts`` or the model's view permission; writing needs
``core.manage_accounts``. Objects outside the caller's scope are 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from .. import masking, selectors, services
from ..filters import RoleFilterSet, UnitFilterSet, UserFilterSet
from ..forms import (
    PasswordResetForm,
    ReasonForm,
    RoleForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
    permission_label,
)
from ..models import Role, Unit, User
from .base import AnyPermissionRequiredMixin, ScopedDetailView, ScopedListView, ScopedObjectMixin
from .reveal import no_store, reveal_context

MANAGE = ("core.manage_accounts",)
USER_PERSONAL_FIELDS = ("full_name", "phone")  # what the user detail page can reveal


def add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form (unknown fields become form-wide errors)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class _ServiceFormView(AnyPermissionRequiredMixin, FormView):
    """A form whose valid data goes to a service; service refusals show on the form."""

    permission_required = MANAGE
    template_name = "core/org/form.html"
    title = ""
    cancel_url_name = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        try:
            obj = self.perform(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已保存。"))
        return HttpResponseRedirect(self.success_url_for(obj))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        context["cancel_url"] = self.cancel_url()
        return context

    def cancel_url(self) -> str:
        return reverse(self.cancel_url_name)


class _ObjectFormView(ScopedObjectMixin, _ServiceFormView):
    """An edit form of one object fetched through the scope (404 outside it)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_object(self):
        return self.get_scoped_object(self.get_queryset(), self.kwargs["pk"])

    @staticmethod
    def get_scoped_object(queryset, pk):
        from django.shortcuts import get_object_or_404

        return get_object_or_404(queryset, pk=pk)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.object}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "object": self.object}


# ------------------------------------------------------------------------------------------
# Units
# ------------------------------------------------------------------------------------------


class UnitListView(ScopedListView):
    model = Unit
    permission_required = ("core.manage_accounts", "core.view_unit")
    filterset_class = UnitFilterSet
    template_name = "core/org/unit_list.html"
    paginate_by = 100

    def base_queryset(self):
        return selectors.unit_list(user=self.request.user)


class UnitDetailView(ScopedDetailView):
    model = Unit
    permission_required = ("core.manage_accounts", "core.view_unit")
    template_name = "core/org/unit_detail.html"

    def base_queryset(self):
        return selectors.unit_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["children"] = selectors.unit_list(user=user).filter(parent=self.object)
        context["members"] = selectors.user_list(user=user).filter(unit=self.object)[:200]
        context["can_manage"] = user.has_perm("core.manage_accounts")
        context["reason_form"] = ReasonForm()
        return context


class UnitCreateView(_ServiceFormView):
    form_class = UnitForm
    title = gettext_lazy("新建单位")
    cancel_url_name = "core:unit_list"

    def get_initial(self):
        parent = self.request.GET.get("parent")
        return {"parent": parent} if parent and parent.isdigit() else {}

    def perform(self, form):
        return services.unit_create(actor=self.request.user, **form.cleaned_data)

    def success_url_for(self, obj):
        return reverse("core:unit_detail", args=[obj.pk])


class UnitUpdateView(_ObjectFormView):
    model = Unit
    form_class = UnitForm
    title = gettext_lazy("编辑单位")

    def perform(self, form):
        return services.unit_update(actor=self.request.user, unit=self.object, **form.cleaned_data)

    def success_url_for(self, obj):
        return reverse("core:unit_detail", args=[obj.pk])

    def cancel_url(self):
        return reverse("core:unit_detail", args=[self.object.pk])


class UnitToggleActiveView(_ObjectFormView):
    """POST only: deactivate (with a reason) or activate a unit."""

    model = Unit
    form_class = ReasonForm
    http_method_names = ["post"]

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("user")
        kwargs.pop("instance")
        return kwargs

    def perform(self, form):
        if self.object.is_active:
            return services.unit_deactivate(
                actor=self.request.user, unit=self.object, reason=form.cleaned_data["reason"]
            )
        return services.unit_activate(actor=self.request.user, unit=self.object)

    def form_invalid(self, form):
        for error in form.non_field_errors() or form.errors.get(NON_FIELD_ERRORS, []):
            messages.error(self.request, error)
        return redirect("core:unit_detail", pk=self.object.pk)

    def success_url_for(self, obj):
        return reverse("core:unit_detail", args=[obj.pk])


# ------------------------------------------------------------------------------------------
# Users
# ------------------------------------------------------------------------------------------


class UserListView(ScopedListView):
    model = User
    permission_required = ("core.manage_accounts", "core.view_user")
    filterset_class = UserFilterSet
    template_name = "core/org/user_list.html"

    def base_queryset(self):
        return selectors.user_list(user=self.request.user)


class UserDetailView(ScopedDetailView):
    model = User
    permission_required = ("core.manage_accounts", "core.view_user")
    template_name = "core/org/user_detail.html"
    context_object_name = "person"  # "user" is the signed-in user in every template

    def base_queryset(self):
        return selectors.user_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_manage"] = self.request.user.has_perm("core.manage_accounts")
        context["reason_form"] = ReasonForm()
        context.update(
            reveal_context(
                self.request,
                self.object,
                fields=USER_PERSONAL_FIELDS,
                reveal_url=reverse("core:user_reveal", args=[self.object.pk]),
                masked_url=reverse("core:user_detail", args=[self.object.pk]),
            )
        )
        return context


class UserRevealView(UserDetailView):
    """POST a reason → the user detail page once with clear name and phone (audited)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        if not masking.can_reveal(request.user):
            raise PermissionDenied
        self.object = self.get_object()  # through the scope: 404 outside it
        return no_store(self.render_to_response(self.get_context_data(object=self.object)))


class UserCreateView(_ServiceFormView):
    form_class = UserCreateForm
    title = gettext_lazy("新建用户")
    cancel_url_name = "core:user_list"

    def get_initial(self):
        unit = self.request.GET.get("unit")
        return {"unit": unit} if unit and unit.isdigit() else {}

    def perform(self, form):
        data = dict(form.cleaned_data)
        password = data.pop("password1")
        data.pop("password2", None)
        return services.user_create(actor=self.request.user, password=password, **data)

    def success_url_for(self, obj):
        return reverse("core:user_detail", args=[obj.pk])


class UserUpdateView(_ObjectFormView):
    model = User
    form_class = UserEditForm
    title = gettext_lazy("编辑用户")

    def perform(self, form):
        from django.db import transaction

        data = dict(form.cleaned_data)
        roles = data.pop("roles")
        with transaction.atomic():
            user = services.user_update(actor=self.request.user, user=self.object, **data)
            return services.user_assign_roles(actor=self.request.user, user=user, roles=roles)

    def success_url_for(self, obj):
        return reverse("core:user_detail", args=[obj.pk])

    def cancel_url(self):
        return reverse("core:user_detail", args=[self.object.pk])


class UserToggleActiveView(UnitToggleActiveView):
    model = User

    def perform(self, form):
        if self.object.is_active:
            return services.user_deactivate(
                actor=self.request.user, user=self.object, reason=form.cleaned_data["reason"]
            )
        return services.user_activate(actor=self.request.user, user=self.object)

    def form_invalid(self, form):
        for error in form.non_field_errors():
            messages.error(self.request, error)
        return redirect("core:user_detail", pk=self.object.pk)

    def success_url_for(self, obj):
        return reverse("core:user_detail", args=[obj.pk])


class UserPasswordResetView(_ObjectFormView):
    """The administrator sets a temporary password; the person must change it at next login."""

    model = User
    form_class = PasswordResetForm
    title = gettext_lazy("重置密码")

    def perform(self, form):
        from ..security import user_set_password

        if self.object.pk == self.request.user.pk:
            raise ValidationError(_("请通过“修改密码”修改自己的密码。"), code="self_reset")
        try:
            return user_set_password(
                user=self.object,
                raw_password=form.cleaned_data["password1"],
                actor=self.request.user,
                must_change=True,
            )
        except ValidationError as exc:
            raise ValidationError({"password1": exc.messages}) from None

    def success_url_for(self, obj):
        return reverse("core:user_detail", args=[obj.pk])

    def cancel_url(self):
        return reverse("core:user_detail", args=[self.object.pk])


# ------------------------------------------------------------------------------------------
# Roles
# ------------------------------------------------------------------------------------------


class RoleListView(ScopedListView):
    model = Role
    permission_required = ("core.manage_accounts", "core.view_role")
    filterset_class = RoleFilterSet
    template_name = "core/org/role_list.html"
    unscoped_reason = "roles are configuration shared by all units"

    def base_queryset(self):
        return selectors.role_list(user=self.request.user)


class RoleDetailView(ScopedDetailView):
    model = Role
    permission_required = ("core.manage_accounts", "core.view_role")
    template_name = "core/org/role_detail.html"
    unscoped_reason = "roles are configuration shared by all units"

    def base_queryset(self):
        return selectors.role_list(user=self.request.user).prefetch_related(
            "districts", "permissions__content_type"
        )

    def get_context_data(self, **kwargs):
        from django.apps import apps

        context = super().get_context_data(**kwargs)
        groups: dict[str, list[str]] = {}
        for perm in self.object.permissions.all():
            app = apps.get_app_config(perm.content_type.app_label)
            groups.setdefault(str(app.verbose_name), []).append(permission_label(perm))
        context["permission_groups"] = sorted(groups.items())
        context["can_manage"] = self.request.user.has_perm("core.manage_accounts")
        context["members"] = selectors.user_list(user=self.request.user).filter(roles=self.object)[:200]
        return context


class RoleCreateView(_ServiceFormView):
    form_class = RoleForm
    title = gettext_lazy("新建角色")
    template_name = "core/org/role_form.html"
    cancel_url_name = "core:role_list"

    def perform(self, form):
        return services.role_create(actor=self.request.user, **form.cleaned_data)

    def success_url_for(self, obj):
        return reverse("core:role_detail", args=[obj.pk])


class RoleUpdateView(_ObjectFormView):
    model = Role
    form_class = RoleForm
    title = gettext_lazy("编辑角色")
    template_name = "core/org/role_form.html"
    unscoped_reason = "roles are configuration shared by all units"

    def perform(self, form):
        data = dict(form.cleaned_data)
        data.pop("code", None)
        return services.role_update(actor=self.request.user, role=self.object, **data)

    def success_url_for(self, obj):
        return reverse("core:role_detail", args=[obj.pk])

    def cancel_url(self):
        return reverse("core:role_detail", args=[self.object.pk])
