"""Arrears (欠费/催缴), their SMS reminders and penalty cases (处罚).

An order billed and still unpaid ``GOVCENTER_PARKING_ARREARS_DUE_DAYS`` after the car left
turns ``arrears`` (the daily sweep, services/arrears.py) and gets one :class:`ArrearsRecord`
(what was owed, when its back-payment window ends, how it ended). Every reminder is one
:class:`ReminderLog` row per (order, stage, day) — unique, so a re-run never sends twice. At
the end of the window the plate's unsettled orders of one district become one
:class:`PenaltyCase` with the evidence for enforcement.

Penalty case state machine (django-fsm-2, protected)::

    created ──notify──▶ notified ──pay──▶ paid        (the arrears of the case settled)
       │                   ├──close──▶ closed          (staff, with a reason)
       │                   └──appeal──▶ appealed ──close / pay
       └──pay / close / appeal (no contact: the notice could not be sent)
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from govcenter.core.scope import ScopedModel


class ArrearsRecord(ScopedModel):
    """One order in arrears: amount owed when it became arrears, its window and outcome."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("补缴期内")
        EXEMPT = "exempt", _("已补缴免罚")
        PENALISED = "penalised", _("已立案")
        VOID = "void", _("已作废")

    order = models.OneToOneField(
        "parking.Order", verbose_name=_("停车订单"), on_delete=models.PROTECT, related_name="arrears_record"
    )
    plate = models.CharField(_("车牌号"), max_length=12, db_index=True)
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="+"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="+"
    )
    amount_fen = models.PositiveIntegerField(_("欠费金额（分）"))
    left_at = models.DateTimeField(_("驶离时间"))
    due_at = models.DateTimeField(_("缴费期限"))
    window_ends_at = models.DateTimeField(_("补缴截止"))
    outcome = models.CharField(_("处理结果"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    settled_at = models.DateTimeField(_("补缴时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("转欠费时间"))
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-due_at", "-id"]
        verbose_name = _("欠费记录")
        verbose_name_plural = _("欠费记录")
        indexes = [
            models.Index(fields=["outcome", "window_ends_at"]),
            models.Index(fields=["district", "outcome", "due_at"]),
            models.Index(fields=["updated_at"], name="parking_arrears_updated"),
        ]

    def __str__(self) -> str:
        return f"arrears #{self.order_id}"


class ReminderStage(models.TextChoices):
    ARREARS = "arrears", _("缴费提醒")
    BACKPAY = "backpay", _("补缴提醒")


class NoticeOutcome(models.TextChoices):
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    NO_CONTACT = "no_contact", _("无联系方式")
    DISABLED = "disabled", _("模板已停用")


class ReminderLog(ScopedModel):
    """One reminder of one order at one stage and day (one SMS may cover the plate's orders)."""

    order = models.ForeignKey(
        "parking.Order", verbose_name=_("停车订单"), on_delete=models.PROTECT, related_name="reminders"
    )
    plate = models.CharField(_("车牌号"), max_length=12)
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="+"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(_("阶段"), max_length=10, choices=ReminderStage.choices)
    day_offset = models.PositiveSmallIntegerField(_("提醒日"))
    amount_fen = models.PositiveIntegerField(_("欠费金额（分）"))
    outcome = models.CharField(_("结果"), max_length=12, choices=NoticeOutcome.choices)
    sms_message = models.ForeignKey(
        "core.SmsMessage",
        verbose_name=_("短信"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("提醒时间"))
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("催缴提醒记录")
        verbose_name_plural = _("催缴提醒记录")
        constraints = [
            models.UniqueConstraint(fields=["order", "stage", "day_offset"], name="parking_reminder_once"),
        ]
        indexes = [
            models.Index(fields=["district", "sent_at"]),
            models.Index(fields=["updated_at"], name="parking_reminder_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.stage}+{self.day_offset} #{self.order_id}"


class PenaltyState(models.TextChoices):
    CREATED = "created", _("已立案")
    NOTIFIED = "notified", _("已通知")
    PAID = "paid", _("已补缴")
    CLOSED = "closed", _("已结案")
    APPEALED = "appealed", _("已申诉")


class PenaltyCase(FSMModelMixin, ScopedModel):
    """A penalty case (处罚案件) of one plate in one district: its expired arrears and evidence."""

    number = models.CharField(_("案件编号"), max_length=24, unique=True, null=True, blank=True)
    plate = models.CharField(_("车牌号"), max_length=12, db_index=True)
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="+"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="+"
    )
    state = FSMField(
        _("状态"), max_length=10, choices=PenaltyState.choices, default=PenaltyState.CREATED, protected=True
    )
    amount_fen = models.PositiveIntegerField(_("欠费金额（分）"))
    unpaid_fen = models.PositiveIntegerField(_("立案时未缴（分）"))
    fine_fen = models.PositiveIntegerField(_("罚款（分）"))
    order_count = models.PositiveIntegerField(_("订单数"))
    evidence = models.JSONField(_("证据"), default=list)
    window_ended_at = models.DateTimeField(_("补缴截止"))
    notice_outcome = models.CharField(_("通知结果"), max_length=12, choices=NoticeOutcome.choices, blank=True)
    sms_message = models.ForeignKey(
        "core.SmsMessage",
        verbose_name=_("短信"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("立案时间"))
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)
    paid_at = models.DateTimeField(_("补缴时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    close_reason = models.CharField(_("结案理由"), max_length=200, blank=True)
    appealed_at = models.DateTimeField(_("申诉时间"), null=True, blank=True)
    appeal_reference = models.CharField(_("申诉编号"), max_length=64, blank=True)
    appeal_reason = models.CharField(_("申诉理由"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("处罚案件")
        verbose_name_plural = _("处罚案件")
        permissions = [("manage_penaltycase", _("可处理处罚案件（结案、申诉）"))]
        indexes = [
            models.Index(fields=["district", "state", "created_at"]),
            models.Index(fields=["updated_at"], name="parking_penalty_updated"),
        ]

    def __str__(self) -> str:
        return self.number or f"case #{self.pk}"

    # -- transitions (the only way the state changes) ------------------------------------

    @transition(field=state, source=PenaltyState.CREATED, target=PenaltyState.NOTIFIED)
    def notify(self, *, at) -> None:
        self.notified_at = at

    @transition(
        field=state,
        source=[PenaltyState.CREATED, PenaltyState.NOTIFIED, PenaltyState.APPEALED],
        target=PenaltyState.PAID,
    )
    def pay(self, *, at) -> None:
        self.paid_at = at

    @transition(
        field=state,
        source=[PenaltyState.CREATED, PenaltyState.NOTIFIED, PenaltyState.APPEALED],
        target=PenaltyState.CLOSED,
    )
    def close(self, *, at, reason: str) -> None:
        self.closed_at = at
        self.close_reason = reason

    @transition(
        field=state, source=[PenaltyState.CREATED, PenaltyState.NOTIFIED], target=PenaltyState.APPEALED
    )
    def appeal(self, *, at, reference: str, reason: str) -> None:
        self.appealed_at = at
        self.appeal_reference = reference
        self.appeal_reason = reason


class PenaltyCaseOrder(models.Model):
    """An order of a penalty case; an order is in at most one case (unique)."""

    case = models.ForeignKey(PenaltyCase, on_delete=models.CASCADE, related_name="items")
    order = models.OneToOneField("parking.Order", on_delete=models.PROTECT, related_name="penalty_item")
    amount_fen = models.PositiveIntegerField(_("欠费金额（分）"))

    class Meta:
        verbose_name = _("处罚案件订单")
        verbose_name_plural = _("处罚案件订单")

    def __str__(self) -> str:
        return f"{self.case_id}:{self.order_id}"


def _register() -> None:
    from govcenter.core.masking import register_personal_fields
    from govcenter.core.models import SmsCategory
    from govcenter.core.sms import register_template

    for label in ("parking.arrearsrecord", "parking.reminderlog", "parking.penaltycase"):
        register_personal_fields(label, {"plate": "plate"})
    # Built-in SMS texts of parking (core never imports parking: it gets them from here).
    for code, name, category, body in (
        (
            "arrears_reminder",
            "停车费缴费提醒",
            SmsCategory.REMINDER,
            "【北京交通】您的车辆 {plate} 有 {count} 笔路侧停车费未缴，合计 {amount} 元，"
            "请于 {due_date} 前通过“北京交通”App 缴纳。",
        ),
        (
            "backpay_reminder",
            "停车欠费补缴提醒",
            SmsCategory.REMINDER,
            "【北京交通】您的车辆 {plate} 有 {count} 笔路侧停车欠费，合计 {amount} 元，"
            "请于 {deadline} 前补缴，逾期未缴将依法处理。",
        ),
        (
            "penalty_notice",
            "停车欠费处罚通知",
            SmsCategory.PENALTY,
            "【北京交通】您的车辆 {plate} 有 {count} 笔停车欠费合计 {amount} 元逾期未补缴，"
            "已立案（编号 {case_number}），罚款 {fine} 元。请补缴欠费并依法接受处理。",
        ),
        (
            "permit_approved",
            "居住停车许可通过",
            SmsCategory.PERMIT,
            "【北京交通】您的车辆 {plate} 的居住停车许可已通过，有效期至 {valid_to}。",
        ),
        (
            "permit_expiring",
            "居住停车许可到期提醒",
            SmsCategory.PERMIT,
            "【北京交通】您的车辆 {plate} 的居住停车许可将于 {valid_to} 到期，请及时续办。",
        ),
    ):
        register_template(code, name=name, body=body, category=category)


_register()
