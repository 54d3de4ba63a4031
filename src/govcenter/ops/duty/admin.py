"""Admin of the duty configuration: shifts and escalation chains (edits audited). Registered
from ``OpsConfig.ready``; rosters, plans and drills are edited through their pages."""

from __future__ import annotations

from django.contrib import admin

from govcenter.core.admin import AuditedAdminMixin

from ..models import EscalationLevel, EscalationPolicy, Shift


@admin.register(Shift)
class ShiftAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "starts", "ends", "is_night", "active")


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0
    fields = ("level", "after_minutes", "basis", "target", "role_code", "user", "sms")
    raw_id_fields = ("user",)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("severity", "name", "active")
    inlines = [EscalationLevelInline]
