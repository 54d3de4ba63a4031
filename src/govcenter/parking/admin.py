"""Django admin of parking: read-only.

The admin is the break-glass tool; base data changes go through the services (versioning,
scope checks, audit), which the admin's generic save would bypass. The same holds for the
ledgers and case files of the other areas (orders, payments, receipts, fee adjustments,
refunds, complaints, tickets, permits, arrears, statistics): viewable, never added,
changed or deleted here. Personal data (core.masking's registered fields, plus the plates and
phones of rows that do not register theirs) is shown masked in lists and details; a holder
of ``core.reveal_personal_data`` may search those fields by exact value (a lookup, not a
display) and reveals clear values in the staff UI, with a reason, never here.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist

from govcenter.core.masking import can_reveal, mask, personal_fields

from .models import (
    Device,
    DeviceBinding,
    DeviceOfflinePeriod,
    Road,
    RoadVersion,
    Segment,
    SegmentVersion,
    Space,
    SpaceVersion,
)


class NoWritesMixin:
    """Nothing is added, changed or deleted through the admin (the services do that)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWritesMixin, admin.ModelAdmin):
    pass


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


@admin.register(RoadVersion, SegmentVersion, SpaceVersion, DeviceBinding, DeviceOfflinePeriod)
class HistoryAdmin(ReadOnlyAdmin):
    pass


# -- the other areas: read-only, personal data masked --------------------------------------------


class ReadOnlyInline(NoWritesMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class MaskedReadOnlyAdmin(ReadOnlyAdmin):
    """Read-only; the fields in ``masked`` (``{field: mask kind}``) only ever appear masked."""

    masked: dict[str, str] = {}
    hidden: tuple[str, ...] = ()  # never shown (signed blobs, evidence JSON holding plates)
    exact_search: tuple[str, ...] = ()  # masked fields searchable by exact value with reveal
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        fields = [
            f for f in super().get_fields(request, obj) if f not in self.masked and f not in self.hidden
        ]
        return [*fields, *(f"masked_{name}" for name in self.masked)]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *(f"masked_{name}" for name in self.masked)]

    def get_search_fields(self, request):
        fields = list(super().get_search_fields(request))
        if can_reveal(request.user):
            fields += [f"={name}" for name in self.exact_search]
        return fields


def _field_names(model) -> set[str]:
    return {f.name for f in model._meta.get_fields()}


def _present(model, names) -> tuple[str, ...]:
    """Keep the names whose first part is a field of ``model`` (admin checks fail on others)."""
    known = _field_names(model)
    return tuple(n for n in names if not isinstance(n, str) or n.lstrip("=^@").split("__")[0] in known)


def _masked_column(name: str, kind: str, label):
    def column(self, obj):
        value = getattr(obj, name, "")
        return mask(value, kind) if value else ""

    column.__name__ = f"masked_{name}"
    return admin.display(description=label)(column)


def register_read_only(
    model,
    *,
    list_display,
    list_filter=(),
    search_fields=(),
    masked=None,
    hidden=(),
    inlines=(),
    date_hierarchy=None,
) -> None:
    """Register ``model`` read-only with its personal fields masked (in lists and details)."""
    kinds = {**(masked or {}), **personal_fields(model)}
    kinds = {name: kind for name, kind in kinds.items() if name in _field_names(model)}
    attrs = {
        "masked": kinds,
        "hidden": _present(model, hidden),
        "exact_search": tuple(kinds),
        "list_display": tuple(f"masked_{n}" if n in kinds else n for n in _present(model, list_display)),
        "list_filter": _present(model, list_filter),
        "search_fields": tuple(n for n in _present(model, search_fields) if n.lstrip("=^@") not in kinds),
        "inlines": list(inlines),
    }
    try:
        if date_hierarchy and model._meta.get_field(date_hierarchy):
            attrs["date_hierarchy"] = date_hierarchy
    except FieldDoesNotExist:
        pass
    for name, kind in kinds.items():
        attrs[f"masked_{name}"] = _masked_column(name, kind, model._meta.get_field(name).verbose_name)
    admin.site.register(model, type(f"{model.__name__}Admin", (MaskedReadOnlyAdmin,), attrs))


def _inline(model, fields):
    return type(
        f"{model.__name__}Inline", (ReadOnlyInline,), {"model": model, "fields": _present(model, fields)}
    )


def _register_areas() -> None:
    from . import models as m
    from .models import complaints, permits, receipts

    register_read_only(
        m.Citizen, list_display=("id", "phone", "is_active", "created_at", "last_login_at"), list_filter=("is_active",),
        masked={"phone": "phone"},
    )  # fmt: skip
    register_read_only(
        m.PlateBinding,
        list_display=("plate", "citizen", "vehicle_class", "status", "bound_at", "released_at"),
        list_filter=("status", "vehicle_class"),
        masked={"plate": "plate"},
    )
    register_read_only(
        m.Order,
        list_display=("id", "plate", "district", "segment", "started_at", "ended_at", "state", "amount_due_fen",
                      "amount_adjustment_fen", "amount_paid_fen"),
        list_filter=("state", "district", "vehicle_class"),
        search_fields=("=id", "segment__code"),
        masked={"plate": "plate"},
        date_hierarchy="started_at",
    )  # fmt: skip
    register_read_only(
        m.PaymentIntent,
        list_display=(
            "out_trade_no",
            "citizen",
            "plate",
            "provider",
            "status",
            "total_fen",
            "paid_at",
            "flagged",
        ),
        list_filter=("status", "provider", "flagged"),
        search_fields=("=out_trade_no", "=provider_trade_no"),
        masked={"plate": "plate"},
        inlines=[_inline(m.PaymentItem, ("order", "amount_fen", "live"))],
        date_hierarchy="created_at",
    )
    register_read_only(
        m.PaymentNotification,
        list_display=("id", "provider", "out_trade_no", "verified", "outcome", "received_at"),
        list_filter=("provider", "verified", "outcome"),
        search_fields=("=out_trade_no", "=provider_trade_no"),
        date_hierarchy="received_at",
    )
    register_read_only(
        receipts.Receipt,
        list_display=("number", "district", "payee_unit", "payer_plate", "total_fen", "status", "issued_at"),
        list_filter=("status", "district"),
        search_fields=("=number",),
        masked={"payer_plate": "plate"},
        hidden=("content", "public_key"),
        inlines=[_inline(receipts.ReceiptItem, ("order", "amount_fen", "live"))],
        date_hierarchy="issued_at",
    )
    register_read_only(
        receipts.ReceiptSeries,
        list_display=("district", "year", "prefix", "next_number"),
        list_filter=("year",),
    )
    register_read_only(
        complaints.Complaint,
        list_display=("number", "kind", "channel", "category", "plate", "district", "handling_unit", "status",
                      "deadline", "satisfaction"),
        list_filter=("kind", "status", "channel", "category", "district"),
        search_fields=("=number", "subject"),
        masked={"contact_phone": "phone", "plate": "plate"},
        inlines=[_inline(complaints.ComplaintAction, ("action", "from_status", "to_status", "note", "actor_name",
                                                      "created_at"))],
        date_hierarchy="received_at",
    )  # fmt: skip
    register_read_only(
        complaints.FeeAdjustment,
        list_display=("id", "order", "complaint", "amount_fen", "adjustment_after_fen", "refund_due_fen", "refund_ref",
                      "actor_name", "created_at"),
        search_fields=("=order__id", "=complaint__number", "=refund_ref"),
        date_hierarchy="created_at",
    )  # fmt: skip
    register_read_only(
        complaints.ServiceTicket,
        list_display=("number", "channel", "category", "subject", "district", "status", "answer_minutes",
                      "satisfaction", "created_at"),
        list_filter=("status", "channel", "category", "district"),
        search_fields=("=number", "subject"),
        masked={"caller_phone": "phone", "plate": "plate"},
        inlines=[_inline(complaints.TicketReply, ("text", "public", "author_name", "created_at"))],
        date_hierarchy="created_at",
    )  # fmt: skip
    register_read_only(
        permits.ResidentialPermit,
        list_display=("id", "plate", "applicant_name", "district", "status", "valid_from", "valid_to",
                      "monthly_fee_fen", "reviewer"),
        list_filter=("status", "district"),
        search_fields=("=id",),
        masked={"plate": "plate", "applicant_name": "name", "applicant_phone": "phone",
                "applicant_id_number": "id_number", "address": "name"},
        inlines=[_inline(permits.PermitFee, ("month", "amount_fen", "status", "paid_at"))],
        date_hierarchy="valid_from",
    )  # fmt: skip
    _register_in_progress_areas()


def _register_in_progress_areas() -> None:
    """Refunds, reconciliation, arrears and statistics: registered when their models import."""
    try:
        from .models import refunds
    except ImportError:  # pragma: no cover - the area is optional
        refunds = None
    if refunds is not None and hasattr(refunds, "Refund"):
        register_read_only(
            refunds.Refund,
            list_display=("refund_no", "intent", "order", "district", "amount_fen", "reason_category", "status",
                          "requested_by_username", "approved_by_username", "requested_at"),
            list_filter=("status", "reason_category", "district"),
            search_fields=("=refund_no", "=provider_refund_no", "=intent__out_trade_no"),
            date_hierarchy="requested_at",
        )  # fmt: skip
    if refunds is not None and hasattr(refunds, "ReconciliationRun"):
        register_read_only(
            refunds.ReconciliationRun,
            list_display=("date", "provider", "status", "statement_count", "ledger_count", "matched_count",
                          "difference_count", "run_by_username"),
            list_filter=("status", "provider"),
            date_hierarchy="date",
        )  # fmt: skip
    if refunds is not None and hasattr(refunds, "ReconciliationDifference"):
        register_read_only(
            refunds.ReconciliationDifference,
            list_display=("run", "kind", "out_trade_no", "refund_no", "statement_amount_fen", "ledger_amount_fen",
                          "status", "resolved_by_username"),
            list_filter=("kind", "status"),
            search_fields=("=out_trade_no", "=refund_no"),
        )  # fmt: skip
    try:
        from .models import arrears
    except ImportError:  # pragma: no cover
        arrears = None
    if arrears is not None and hasattr(arrears, "ArrearsRecord"):
        register_read_only(
            arrears.ArrearsRecord,
            list_display=("order", "plate", "district", "amount_fen", "due_at", "window_ends_at", "outcome"),
            list_filter=("outcome", "district"),
            masked={"plate": "plate"},
            date_hierarchy="created_at",
        )
    if arrears is not None and hasattr(arrears, "PenaltyCase"):
        register_read_only(
            arrears.PenaltyCase,
            list_display=("number", "plate", "district", "state", "amount_fen", "fine_fen", "order_count",
                          "created_at"),
            list_filter=("state", "district"),
            search_fields=("=number",),
            masked={"plate": "plate"},
            hidden=("evidence",),
            date_hierarchy="created_at",
        )  # fmt: skip
    try:
        from .models import stats
    except ImportError:  # pragma: no cover
        stats = None
    if stats is not None and hasattr(stats, "DailyDistrictStat"):
        register_read_only(
            stats.DailyDistrictStat,
            list_display=("date", "district", "orders", "amount_due_fen", "amount_paid_fen", "arrears_orders",
                          "complaints", "computed_at"),
            list_filter=("district",),
            date_hierarchy="date",
        )  # fmt: skip


_register_areas()
