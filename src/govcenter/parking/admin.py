"""Django admin of the parking base data: read-only.

The admin is the break-glass tool; base data changes go through the services (versioning,
scope checks, audit), which the admin's generic save would bypass.
"""

from __future__ import annotations

from django.contrib import admin

from .models import Device, DeviceOfflinePeriod, Road, Segment, SegmentVersion, Space, SpaceVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Road)
class RoadAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "district", "managing_unit", "status")
    list_filter = ("district", "status")
    search_fields = ("code", "name")


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "road", "district", "area_class", "capacity", "status", "version")
    list_filter = ("district", "area_class", "status")
    search_fields = ("code", "name")


@admin.register(Space)
class SpaceAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "district", "space_type", "status", "version")
    list_filter = ("district", "status", "space_type")
    search_fields = ("number", "segment__code")
    list_select_related = ("segment", "district")


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ("serial", "kind", "district", "status", "last_heartbeat_at", "battery_pct")
    list_filter = ("district", "kind", "status")
    search_fields = ("serial",)
    exclude = ("secret_enc", "token_digest")


@admin.register(SegmentVersion, SpaceVersion, DeviceOfflinePeriod)
class HistoryAdmin(ReadOnlyAdmin):
    pass
