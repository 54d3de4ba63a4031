"""Django admin of bike-share: read-only.

The admin is the break-glass tool; registrations and credentials go through the services
(validation, scope checks, audit), which the admin's generic save would bypass. Secrets are
never shown: a credential lists its public key id and dates only.
"""

from __future__ import annotations

from django.contrib import admin

from .models import (
    Fence,
    FenceVersion,
    FleetQuota,
    OperatorCredential,
    OperatorProfile,
    OperatorRejection,
    ScanCheck,
    Vehicle,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing is added, changed or deleted through the admin (the services do that)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Vehicle)
class VehicleAdmin(ReadOnlyAdmin):
    list_display = (
        "vehicle_id",
        "operator",
        "device_id",
        "vehicle_type",
        "state",
        "district",
        "registered_at",
    )
    list_filter = ("operator", "vehicle_type", "state", "district")
    search_fields = ("vehicle_id", "=device_id", "e_tag")
    exclude = ("mds_record",)


@admin.register(OperatorCredential)
class OperatorCredentialAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "operator", "issued_at", "revoked_at")
    list_filter = ("operator",)
    search_fields = ("=key_id",)
    fields = ("operator", "key_id", "issued_at", "revoked_at")


@admin.register(OperatorRejection)
class OperatorRejectionAdmin(ReadOnlyAdmin):
    list_display = ("source", "reason", "count", "first_at", "last_at")
    list_filter = ("reason",)
    search_fields = ("source",)


@admin.register(OperatorProfile)
class OperatorProfileAdmin(ReadOnlyAdmin):
    list_display = ("operator", "datum", "provider_id", "updated_at")


@admin.register(Fence)
class FenceAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "station", "district", "version", "valid_from", "valid_to", "retired_at")
    list_filter = ("kind", "district")
    search_fields = ("name", "station")


@admin.register(FenceVersion)
class FenceVersionAdmin(ReadOnlyAdmin):
    list_display = ("fence", "version", "kind", "valid_from", "valid_to", "created_at")
    list_filter = ("kind",)


@admin.register(FleetQuota)
class FleetQuotaAdmin(ReadOnlyAdmin):
    list_display = ("operator", "district", "quota", "valid_from", "valid_to", "set_by")
    list_filter = ("operator", "district")


@admin.register(ScanCheck)
class ScanCheckAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "vehicle_code", "operator", "district", "result", "inspector")
    list_filter = ("result", "operator", "district")
    search_fields = ("vehicle_code",)
