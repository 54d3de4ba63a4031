"""Complaints and appeals (投诉/申诉), fee adjustments (费用调整) and customer-service tickets (客服工单).

Complaint state machine (django-fsm-2, protected: the status changes only through the
transitions, called by ``services/complaints.py``)::

    received ──accept──▶ accepted ──reply──▶ replied ──close──▶ closed
        │                   └──────────close (with the reply)──────▶ closed
        ├──reject──▶ rejected
        └──transfer──▶ transferred   (also from accepted: handed to a body outside parking)

The reply deadline is ``add_workdays(received date, GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS)``
on China's working calendar (调休 included); the clock stops once replied (or ended).
A complaint is scoped by the district and handling unit it is routed to.

A fee adjustment is its own entry (:class:`FeeAdjustment`): the order's ``amount_due_fen``
(what the tariff billed) is never edited; ``Order.amount_adjustment_fen`` is the running
sum, written only by ``services.complaints.fee_adjust``.

Tickets (:class:`ServiceTicket`) are the Center's customer service (hotline, mailbox, app):
Center-wide rows whose only scope field is the district a ticket concerns or was referred to,
so Center roles (scope ``all``) see every ticket and a district manager only those of their
district.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from govcenter.core.scope import ScopedModel


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    APPEAL = "appeal", _("申诉")


class ComplaintChannel(models.TextChoices):
    APP = "app", _("北京交通App")
    HOTLINE = "hotline", _("热线电话")
    MAILBOX = "mailbox", _("信箱")
    STAFF = "staff", _("工作人员登记")
    OTHER = "other", _("其他渠道")


class ComplaintCategory(models.TextChoices):
    WRONG_PLATE = "wrong_plate", _("车牌识别错误")
    WRONG_TIMES = "wrong_times", _("停车时间不符")
    NOT_PARKED = "not_parked", _("未停车被计费")
    TARIFF = "tariff_dispute", _("收费标准争议")
    DEVICE = "device_fault", _("设备故障")
    ATTITUDE = "attitude", _("服务态度")
    OTHER = "other", _("其他")


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("已登记")
    ACCEPTED = "accepted", _("已受理")
    REPLIED = "replied", _("已答复")
    CLOSED = "closed", _("已办结")
    REJECTED = "rejected", _("不予受理")
    TRANSFERRED = "transferred", _("已转办")


class ComplaintOutcome(models.TextChoices):
    UPHELD = "upheld", _("属实")
    PARTLY_UPHELD = "partly_upheld", _("部分属实")
    NOT_UPHELD = "not_upheld", _("不属实")


# The reply clock runs while a complaint is in one of these.
OPEN_STATUSES = (ComplaintStatus.RECEIVED, ComplaintStatus.ACCEPTED)
ENDED_STATUSES = (ComplaintStatus.CLOSED, ComplaintStatus.REJECTED, ComplaintStatus.TRANSFERRED)


class Complaint(FSMModelMixin, ScopedModel):
    """One complaint or appeal, routed to a district's handling unit, with a working-day deadline."""

    number = models.CharField(_("编号"), max_length=20, unique=True, null=True, blank=True, editable=False)
    kind = models.CharField(_("类型"), max_length=10, choices=ComplaintKind.choices)
    channel = models.CharField(_("来源渠道"), max_length=10, choices=ComplaintChannel.choices)
    citizen = models.ForeignKey(
        "parking.Citizen",
        verbose_name=_("公众用户"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
    )
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    plate = models.CharField(_("车牌号"), max_length=12, blank=True)
    order = models.ForeignKey(
        "parking.Order",
        verbose_name=_("相关订单"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
    )
    category = models.CharField(_("问题分类"), max_length=16, choices=ComplaintCategory.choices)
    subject = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("诉求内容"), max_length=4000)
    district = models.ForeignKey(
        "core.District", verbose_name=_("承办区"), on_delete=models.PROTECT, related_name="parking_complaints"
    )
    handling_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("承办单位"), on_delete=models.PROTECT, related_name="parking_complaints"
    )
    status = FSMField(
        _("状态"),
        max_length=12,
        choices=ComplaintStatus.choices,
        default=ComplaintStatus.RECEIVED,
        protected=True,
    )
    received_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    deadline = models.DateField(_("答复期限"))
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    reply_text = models.TextField(_("答复内容"), max_length=4000, blank=True)
    outcome = models.CharField(_("核查结论"), max_length=16, choices=ComplaintOutcome.choices, blank=True)
    reject_reason = models.CharField(_("不予受理理由"), max_length=500, blank=True)
    transferred_to = models.CharField(_("转办单位"), max_length=100, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True)
    satisfaction_comment = models.CharField(_("评价说明"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "handling_unit"}

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("投诉申诉")
        verbose_name_plural = _("投诉申诉")
        permissions = [("route_complaint", _("可改派投诉申诉的承办区和承办单位"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="appeal") | Q(order__isnull=False),
                name="parking_complaint_appeal_has_order",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="parking_complaint_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["district", "status", "received_at"]),
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["channel", "received_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["updated_at"], name="parking_complaint_updated"),
        ]

    def __str__(self) -> str:
        return self.number or f"complaint:{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def deadline_state(self, today=None) -> str:
        """``done`` (replied or ended), ``overdue``, ``near`` (few working days left) or ``ok``."""
        from govcenter.core.calendar import as_local_date, workdays_between

        if not self.is_open:
            return "done"
        today = as_local_date(today or timezone.now())
        if today > self.deadline:
            return "overdue"
        if workdays_between(today, self.deadline) <= settings.GOVCENTER_PARKING_COMPLAINT_NEAR_WORKDAYS:
            return "near"
        return "ok"

    # -- transitions (the only way the status changes; the services validate and audit) -----

    @transition(field=status, source=ComplaintStatus.RECEIVED, target=ComplaintStatus.ACCEPTED)
    def accept(self, *, at) -> None:
        self.accepted_at = at

    @transition(field=status, source=ComplaintStatus.RECEIVED, target=ComplaintStatus.REJECTED)
    def reject(self, *, reason: str, at) -> None:
        self.reject_reason = reason
        self.closed_at = at

    @transition(
        field=status,
        source=[ComplaintStatus.RECEIVED, ComplaintStatus.ACCEPTED],
        target=ComplaintStatus.TRANSFERRED,
    )
    def transfer(self, *, to: str, at) -> None:
        self.transferred_to = to
        self.closed_at = at

    @transition(field=status, source=ComplaintStatus.ACCEPTED, target=ComplaintStatus.REPLIED)
    def reply(self, *, text: str, outcome: str, at) -> None:
        self.reply_text = text
        self.outcome = outcome
        self.replied_at = at

    @transition(
        field=status,
        source=[ComplaintStatus.ACCEPTED, ComplaintStatus.REPLIED],
        target=ComplaintStatus.CLOSED,
    )
    def close(self, *, at, text: str = "", outcome: str = "") -> None:
        if self.replied_at is None:  # closed straight from accepted: the reply is given now
            self.reply_text, self.outcome, self.replied_at = text, outcome, at
        self.closed_at = at


# Timeline steps (ComplaintAction.action) as shown to staff.
ACTION_LABELS = {
    "create": _("登记"),
    "accept": _("受理"),
    "reject": _("不予受理"),
    "transfer": _("转办"),
    "reply": _("答复"),
    "close": _("办结"),
    "route": _("改派"),
    "rate": _("评价"),
    "adjust_fee": _("调整费用"),
    "refund": _("退款"),
}


class ComplaintAction(ScopedModel):
    """One step of a complaint's timeline (登记, 受理, 改派, 答复, 调整费用, 办结, 评价 …)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(_("操作"), max_length=20)
    from_status = models.CharField(_("原状态"), max_length=12, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12, blank=True)
    note = models.CharField(_("说明"), max_length=1000, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    scope_fields = {"district": "complaint__district", "unit": "complaint__handling_unit"}

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("投诉办理记录")
        verbose_name_plural = _("投诉办理记录")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.action}"

    def get_action_display(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))

    def get_to_status_display(self) -> str:
        return str(dict(ComplaintStatus.choices).get(self.to_status, self.to_status))


class FeeAdjustment(ScopedModel):
    """One signed change of what an order owes (negative lowers it); the order's bill stays as billed."""

    order = models.ForeignKey(
        "parking.Order", verbose_name=_("订单"), on_delete=models.PROTECT, related_name="fee_adjustments"
    )
    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("投诉申诉"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fee_adjustments",
    )
    amount_fen = models.IntegerField(_("调整金额（分）"))
    reason = models.CharField(_("调整理由"), max_length=500)
    adjustment_before_fen = models.IntegerField(_("调整前累计（分）"))
    adjustment_after_fen = models.IntegerField(_("调整后累计（分）"))
    # What the citizen paid beyond the new amount because of this entry (a refund is due).
    refund_due_fen = models.PositiveIntegerField(_("应退金额（分）"), default=0)
    refund_ref = models.CharField(_("退款单号"), max_length=40, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("调整时间"), auto_now_add=True)

    scope_fields = {"district": "order__district", "unit": "order__managing_unit"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("费用调整")
        verbose_name_plural = _("费用调整")
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="parking_feeadj_nonzero"),
            models.CheckConstraint(
                condition=Q(adjustment_after_fen=models.F("adjustment_before_fen") + models.F("amount_fen")),
                name="parking_feeadj_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} {self.amount_fen:+d}"


class TicketChannel(models.TextChoices):
    HOTLINE = "hotline", _("热线电话")
    MAILBOX = "mailbox", _("信箱")
    APP = "app", _("北京交通App")


class TicketCategory(models.TextChoices):
    INQUIRY = "inquiry", _("咨询")
    PAYMENT = "payment", _("缴费")
    RECEIPT = "receipt", _("发票")
    REFERRAL = "complaint_referral", _("投诉转办")
    SUGGESTION = "suggestion", _("建议")
    OTHER = "other", _("其他")


class TicketStatus(models.TextChoices):
    OPEN = "open", _("待答复")
    ANSWERED = "answered", _("已答复")
    CLOSED = "closed", _("已关闭")


class ServiceTicket(FSMModelMixin, ScopedModel):
    """A customer-service ticket (客服工单): open → answered → closed; a closed ticket may reopen."""

    number = models.CharField(_("编号"), max_length=20, unique=True, null=True, blank=True, editable=False)
    channel = models.CharField(_("来源渠道"), max_length=10, choices=TicketChannel.choices)
    category = models.CharField(_("工单分类"), max_length=20, choices=TicketCategory.choices)
    caller_phone = models.CharField(_("来电号码"), max_length=20, blank=True)
    plate = models.CharField(_("车牌号"), max_length=12, blank=True)
    subject = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("内容"), max_length=4000)
    # The district the ticket concerns or was referred to (empty: Center only).
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("相关区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parking_tickets",
    )
    status = FSMField(
        _("状态"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN, protected=True
    )
    first_answer_at = models.DateTimeField(_("首次答复时间"), null=True, blank=True)
    # Wall-clock minutes from creation to the first public answer (kept for the statistics).
    answer_minutes = models.PositiveIntegerField(_("答复用时（分钟）"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    complaint = models.OneToOneField(
        Complaint,
        verbose_name=_("转办的投诉申诉"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ticket",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("客服工单")
        verbose_name_plural = _("客服工单")
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="parking_ticket_satisfaction_1_5",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["district", "created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return self.number or f"ticket:{self.pk}"

    @transition(field=status, source=TicketStatus.OPEN, target=TicketStatus.ANSWERED)
    def answer(self, *, at) -> None:
        if self.first_answer_at is None:
            self.first_answer_at = at
            self.answer_minutes = max(int((at - self.created_at).total_seconds() // 60), 0)

    @transition(field=status, source=[TicketStatus.OPEN, TicketStatus.ANSWERED], target=TicketStatus.CLOSED)
    def close(self, *, at) -> None:
        self.closed_at = at

    @transition(field=status, source=TicketStatus.CLOSED, target=TicketStatus.OPEN)
    def reopen(self) -> None:
        self.closed_at = None


class TicketReply(ScopedModel):
    """A reply on a ticket: public (told to the caller) or an internal note."""

    ticket = models.ForeignKey(ServiceTicket, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(_("答复内容"), max_length=4000)
    public = models.BooleanField(_("答复来电人"), default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(_("答复人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("答复时间"), default=timezone.now)

    scope_fields = {"district": "ticket__district"}

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("工单答复")
        verbose_name_plural = _("工单答复")

    def __str__(self) -> str:
        return f"{self.ticket_id} reply {self.pk}"


def _register_personal_fields() -> None:
    from govcenter.core.masking import register_personal_fields

    register_personal_fields("parking.complaint", {"contact_phone": "phone", "plate": "plate"})
    register_personal_fields("parking.serviceticket", {"caller_phone": "phone", "plate": "plate"})


def _register_sms_templates() -> None:
    from govcenter.core.models import SmsCategory
    from govcenter.core.sms import register_template

    register_template(
        "complaint_replied",
        name="投诉申诉答复通知",
        category=SmsCategory.OTHER,
        body="【北京交通】您的投诉申诉（编号 {number}）已答复：{outcome}。详情请在“北京交通”App 中查看。",
    )


_register_personal_fields()
_register_sms_templates()
