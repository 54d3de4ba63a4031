"""Parking orders (停车订单): one stay of one vehicle in one space, and its corrections.

State machine (django-fsm-2, protected: the state changes only through the transitions)::

    open ──close──▶ closed ──bill──▶ billed ──pay──▶ paid
                                        └──mark_arrears──▶ arrears ──pay──▶ paid
    open / closed / billed / arrears ──void──▶ void   (corrections: a stay that never was)

An order of amount 0 (a stay inside the grace time) is settled at once: ``billed → paid``
with ``amount_paid_fen = 0`` so it never turns into arrears.

An order keeps what it ran under: the :class:`SpaceVersion` valid at its start and the
:class:`TariffPlan` in force at its start. A space never holds two open orders (a partial
unique constraint, so the database refuses it even under concurrent writers).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from govcenter.core.scope import ScopedModel

from .tariff import VehicleClass

# What is still owed, as a query expression (the same rule as Order.payable_fen, without the floor).
PAYABLE_FEN = F("amount_due_fen") + F("amount_adjustment_fen") - F("amount_paid_fen")


class OrderState(models.TextChoices):
    OPEN = "open", _("停车中")
    CLOSED = "closed", _("已驶离")
    BILLED = "billed", _("待支付")
    PAID = "paid", _("已支付")
    ARREARS = "arrears", _("欠费")
    VOID = "void", _("已作废")


class Order(FSMModelMixin, ScopedModel):
    """One parking stay (停车订单) in a district, billed with the tariff engine when it ends."""

    # db_index=False on district, segment and space: the composite indexes below start with
    # each of them, so a single-column index would only cost writes (migration 0014_scale).
    # district, managing_unit and segment are the space's, copied for scope filtering: no
    # database FK (db_constraint=False; the space FK carries the integrity — migration
    # 0015_ingest_constraints, docs/decisions/0004).
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        on_delete=models.PROTECT,
        related_name="parking_orders",
        db_index=False,
        db_constraint=False,
    )
    managing_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("管理单位"),
        on_delete=models.PROTECT,
        related_name="parking_orders",
        db_constraint=False,
    )
    segment = models.ForeignKey(
        "parking.Segment",
        verbose_name=_("路段"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    space = models.ForeignKey(
        "parking.Space",
        verbose_name=_("泊位"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    space_version = models.ForeignKey(
        "parking.SpaceVersion", verbose_name=_("泊位版本"), on_delete=models.PROTECT, related_name="orders"
    )
    tariff_plan = models.ForeignKey(
        "parking.TariffPlan",
        verbose_name=_("收费标准"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    plate = models.CharField(_("车牌号"), max_length=12, blank=True)  # indexed with started_at (Meta)
    plate_confidence = models.FloatField(_("识别置信度"), null=True, blank=True)
    vehicle_class = models.CharField(
        _("车型"), max_length=8, choices=VehicleClass.choices, default=VehicleClass.SMALL
    )
    started_at = models.DateTimeField(_("驶入时间"))
    ended_at = models.DateTimeField(_("驶离时间"), null=True, blank=True)
    state = FSMField(_("状态"), max_length=10, choices=OrderState.choices, default=OrderState.OPEN, protected=True)
    amount_due_fen = models.PositiveIntegerField(_("应收（分）"), default=0)
    amount_paid_fen = models.PositiveIntegerField(_("实收（分）"), default=0)
    # Sum of the fee adjustments (费用调整, each its own FeeAdjustment entry: complaints,
    # appeals): negative lowers what is owed. amount_due_fen stays what the tariff billed.
    amount_adjustment_fen = models.IntegerField(_("调整（分）"), default=0, db_default=0)
    quote_lines = models.JSONField(_("计费明细"), default=list, blank=True)
    billed_at = models.DateTimeField(_("计费时间"), null=True, blank=True)
    # Read forwards only (order → its events; the reverse is DeviceEvent.order, indexed):
    # no index of their own.
    start_event = models.ForeignKey(
        "parking.DeviceEvent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    end_event = models.ForeignKey(
        "parking.DeviceEvent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("停车订单")
        verbose_name_plural = _("停车订单")
        permissions = [("correct_order", _("可更正停车订单（巡检）"))]
        constraints = [
            models.UniqueConstraint(
                fields=["space"], condition=Q(state="open"), name="parking_order_one_open_per_space"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="parking_order_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(state="open") | Q(state="void") | Q(ended_at__isnull=False),
                name="parking_order_closed_has_end",
            ),
        ]
        indexes = [
            models.Index(fields=["district", "state", "started_at"]),
            models.Index(fields=["segment", "started_at"]),
            models.Index(fields=["space", "started_at"]),
            models.Index(fields=["started_at"]),
            # The lake exporter's watermark scan (parking/lake/sync.py): updated_at > watermark.
            models.Index(fields=["updated_at"], name="parking_order_updated"),
            # A citizen's orders and a plate's arrears: plate = / IN (…), newest first.
            models.Index(fields=["plate", "-started_at", "-id"], name="parking_order_plate_started"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.space_id} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def payable_fen(self) -> int:
        """What is still owed: billed amount plus adjustments minus what was paid (never < 0)."""
        return max(self.amount_due_fen + self.amount_adjustment_fen - self.amount_paid_fen, 0)

    # -- transitions (the only way the state changes) ------------------------------------

    @transition(field=state, source=OrderState.OPEN, target=OrderState.CLOSED)
    def close(self, *, ended_at, end_event_id=None) -> None:
        self.ended_at = ended_at
        if end_event_id is not None:
            self.end_event_id = end_event_id

    @transition(field=state, source=OrderState.CLOSED, target=OrderState.BILLED)
    def bill(self, *, amount_fen: int, lines: list, plan_id: int | None, at) -> None:
        self.amount_due_fen = amount_fen
        self.quote_lines = lines
        self.tariff_plan_id = plan_id
        self.billed_at = at

    @transition(field=state, source=OrderState.BILLED, target=OrderState.CLOSED)
    def rebill(self) -> None:
        """Back to closed so a correction can price it again (only before any payment)."""

    @transition(field=state, source=[OrderState.BILLED, OrderState.ARREARS], target=OrderState.PAID)
    def pay(self, *, amount_fen: int) -> None:
        self.amount_paid_fen = amount_fen

    @transition(field=state, source=OrderState.BILLED, target=OrderState.ARREARS)
    def mark_arrears(self) -> None:
        pass

    @transition(
        field=state,
        source=[OrderState.OPEN, OrderState.CLOSED, OrderState.BILLED, OrderState.ARREARS],
        target=OrderState.VOID,
    )
    def void(self) -> None:
        self.amount_due_fen = 0


class OrderCorrection(ScopedModel):
    """One audited patrol (PDA) correction of an order: plate or times, with an evidence photo."""

    class Field(models.TextChoices):
        PLATE = "plate", _("车牌号")
        STARTED_AT = "started_at", _("驶入时间")
        ENDED_AT = "ended_at", _("驶离时间")
        VEHICLE_CLASS = "vehicle_class", _("车型")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="corrections")
    field = models.CharField(_("更正项"), max_length=16, choices=Field.choices)
    before = models.CharField(_("更正前"), max_length=64, blank=True)
    after = models.CharField(_("更正后"), max_length=64)
    evidence_photo_ref = models.CharField(_("取证照片编号"), max_length=200)
    reason = models.CharField(_("理由"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(_("操作人"), max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"district": "order__district", "unit": "order__managing_unit"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("订单更正")
        verbose_name_plural = _("订单更正")
        constraints = [
            models.CheckConstraint(condition=~Q(evidence_photo_ref=""), name="parking_correction_has_evidence")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.field}"


def _register_personal_fields() -> None:
    from govcenter.core.masking import register_personal_fields

    # The plate is personal data: masked in lists, details and exports; revealed with a reason.
    register_personal_fields("parking.order", {"plate": "plate"})
    register_personal_fields("parking.deviceevent", {"plate": "plate"})


_register_personal_fields()
