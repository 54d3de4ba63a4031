"""Django admin for the audit chain: read-only for everybody, the superuser included.

Nobody may add, change or delete audit entries or checkpoints through the admin (三权分立:
no administrator alters the audit record); viewing needs ``core.view_audit``, the same
all-or-nothing function permission as the audit UI. The database triggers refuse such
writes as well; these methods keep the admin from even offering them.
"""

from __future__ import annotations

from django.contrib import admin

from .models import AuditCheckpoint, AuditEntry


class ReadOnlyAuditAdmin(admin.ModelAdmin):
    actions = None  # no "delete selected"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.has_perm("core.view_audit")

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAuditAdmin):
    list_display = (
        "seq",
        "created_at",
        "username",
        "unit_name",
        "action",
        "object_type",
        "object_id",
        "success",
    )
    list_filter = ("success", "channel")
    search_fields = ("=seq", "=username", "=action", "=object_type", "=object_id", "=request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over millions of rows


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAuditAdmin):
    list_display = ("seq", "kind", "created_at", "entry_hash")
    list_filter = ("kind",)
