"""Django admin of the kernel: units, users, roles, districts, calendar days.

The admin is the break-glass tool (the only superuser is a sealed emergency account);
day-to-day administration uses the organisation UI, which goes through the services.
Admin writes are still audited: every save and delete lands in the audit chain with a
before/after diff in the same transaction. District geometry is read-only here (it comes
from the vendored boundary files through ``govcenter seed``).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from . import audit
from .models import CalendarDay, District, Role, Unit, User


class AuditedAdminMixin:
    """Saves and deletes from the admin are recorded in the audit chain."""

    audit_exclude = ("password", "geometry", "updated_at")

    def _snap(self, obj) -> dict:
        if obj is None or obj.pk is None:
            return {}
        fields = [f.attname for f in obj._meta.concrete_fields if f.attname not in self.audit_exclude]
        return audit.snapshot(obj, fields)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = self._snap(type(obj)._default_manager.filter(pk=obj.pk).first()) if change else {}
            super().save_model(request, obj, form, change)
            label = obj._meta.model_name
            audit.record(
                action=f"{label}.{'update' if change else 'create'}",
                obj=obj,
                changes=audit.diff(before, self._snap(obj)),
                reason="admin",
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            before = self._snap(obj)
            pk, label, text = obj.pk, obj._meta.label_lower, str(obj)
            super().delete_model(request, obj)
            audit.record(
                action=f"{obj._meta.model_name}.delete",
                object_type=label,
                object_id=pk,
                object_repr=text,
                changes={"before": before, "after": {}},
                reason="admin",
            )

    def delete_queryset(self, request, queryset):
        # One audited delete per row: a bulk delete must not bypass the chain.
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Unit)
class UnitAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name_zh", "code", "kind", "parent", "district", "is_active")
    list_filter = ("kind", "is_active", "district")
    search_fields = ("name_zh", "name_en", "code")
    ordering = ("path",)
    autocomplete_fields = ("parent",)
    readonly_fields = ("path", "created_at", "updated_at")


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    list_display = ("username", "full_name", "unit", "is_active", "must_change_password", "last_login")
    list_filter = ("is_active", "must_change_password", "roles", "unit__kind")
    search_fields = ("username", "full_name", "email")
    autocomplete_fields = ("unit",)
    filter_horizontal = ("roles", "user_permissions")
    readonly_fields = ("last_login", "date_joined", "password_changed_at", "last_activity_at")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("个人信息"), {"fields": ("full_name", "phone", "email", "unit")}),
        (_("角色与权限"), {"fields": ("roles", "is_active", "is_staff", "is_superuser", "user_permissions")}),
        (
            _("安全状态"),
            {
                "fields": (
                    "must_change_password",
                    "disabled_reason",
                    "password_changed_at",
                    "last_activity_at",
                )
            },
        ),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "unit", "password1", "password2")}),
    )


@admin.register(Role)
class RoleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "scope_kind", "operator", "is_builtin")
    list_filter = ("scope_kind", "is_builtin")
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("permissions", "districts")
    readonly_fields = ("is_builtin", "created_at", "updated_at")


@admin.register(District)
class DistrictAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "kind", "datum", "sort_order")
    list_filter = ("kind",)
    search_fields = ("code", "name_zh", "name_en")
    readonly_fields = ("datum", "geometry", "min_lon", "min_lat", "max_lon", "max_lat")


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("date", "is_workday", "kind", "name", "source", "updated_by")
    list_filter = ("kind", "source", "is_workday")
    date_hierarchy = "date"
    search_fields = ("name",)
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


from . import admin_audit  # noqa: E402, F401  (the read-only audit chain admin)
