"""Admin of the ops app: the SLA policy table (edits audited) and special-guard periods
(added through the service, which refuses overlaps; a period is not edited once added)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from govcenter.core.admin import AuditedAdminMixin

from . import services
from .models import GuardPeriod, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("severity", "day_kind", "respond_minutes", "resolve_minutes", "resolve_by_next_workday")
    list_filter = ("day_kind", "severity")
    readonly_fields = ("severity", "day_kind", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False  # twelve rows, seeded: one per severity and kind of day

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class GuardPeriodForm(forms.ModelForm):
    class Meta:
        model = GuardPeriod
        fields = ("name", "starts_at", "ends_at", "note")

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:  # a clean form error; the service checks again under its lock
            if ends <= starts:
                raise forms.ValidationError(_("结束须晚于开始。"))
            clash = GuardPeriod.objects.filter(starts_at__lt=ends, ends_at__gt=starts).first()
            if clash is not None:
                raise forms.ValidationError(_("与保障期「%(name)s」时间重叠。") % {"name": clash.name})
        return data


@admin.register(GuardPeriod)
class GuardPeriodAdmin(admin.ModelAdmin):
    form = GuardPeriodForm
    list_display = ("name", "starts_at", "ends_at")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None

    def save_model(self, request, obj, form, change):
        created = services.guard_period_create(
            name=obj.name, starts_at=obj.starts_at, ends_at=obj.ends_at, note=obj.note
        )
        obj.pk = created.pk
