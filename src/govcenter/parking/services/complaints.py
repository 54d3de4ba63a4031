"""Complaints and appeals (投诉/申诉) and fee adjustments (费用调整): writes, and the reads the pages use.

Every write is keyword-only, runs in one transaction, re-checks the actor's data scope
inside it, appends a :class:`ComplaintAction` (the timeline shown to staff) and an audit
entry (``parking.complaint.*``). Refusals are :class:`ServiceError` (4xx with a ``code``).

Routing: a complaint about an order goes to the order's district and managing unit; without
an order the district is chosen and the unit defaults to the district's parking unit.
Re-routing (``complaint_route``, ``parking.route_complaint``) is audited with before/after.

Deadline: ``add_workdays(received date, GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS)``. The
default of 5 working days follows Beijing's 12345 接诉即办 practice (general requests answered
within 7 days; 5 working days is one working week and stretches over holidays and 调休).

Fee adjustment (``fee_adjust``): the only code that writes ``Order.amount_adjustment_fen``.
Rules: the order is billed, in arrears or paid; the running sum of adjustments stays within
``[-amount_due_fen, 0]`` — an adjustment can lower the billed fee down to 0 and a positive
entry can only undo earlier reductions of an unpaid order (a fee is raised only by re-pricing,
i.e. a patrol correction, never here); a paid order is only ever lowered (what was refunded is
not taken back here). When an unpaid order's
payable amount reaches 0 it is settled (``pay`` with what was paid, as a 0-fee stay is).
When a paid order is lowered, the entry's ``refund_due_fen`` says what must go back and a
refund request (reason ``fee_adjusted``, four-eyes approval there) is created through
``services.refunds.refund_request`` for the order's paid payment; its number is kept in
``refund_ref`` (see ``_request_refund``).
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import TransitionNotAllowed

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.calendar import add_workdays, as_local_date
from govcenter.core.context import current as current_context
from govcenter.core.filters import yes_no_filter
from govcenter.core.models import District, Unit
from govcenter.core.sms import sms_notify

from ..models.complaints import (
    OPEN_STATUSES,
    Complaint,
    ComplaintAction,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    FeeAdjustment,
    ServiceTicket,
    TicketCategory,
    TicketChannel,
    TicketStatus,
)
from ..models.orders import Order, OrderState
from ..plates import validate_plate
from .base import check_district_in_scope, check_managing_unit, district_parking_unit

COMPLAINT_AUDIT_FIELDS = [
    "number",
    "kind",
    "channel",
    "category",
    "order_id",
    "district_id",
    "handling_unit_id",
    "status",
    "deadline",
    "outcome",
    "transferred_to",
    "satisfaction",
]
ADJUSTABLE_STATES = (OrderState.BILLED, OrderState.ARREARS, OrderState.PAID)


# ------------------------------------------------------------------------------------------
# Helpers shared with services/tickets.py
# ------------------------------------------------------------------------------------------


def actor_name(actor) -> str:
    return ((getattr(actor, "username", "") or current_context().username or "") if actor else "system")[:150]


def text_required(value, field: str, *, max_length: int) -> str:
    """The stripped text, or a 400 ``<field>_required`` / ``too_long`` ServiceError."""
    value = (value or "").strip()
    if not value:
        raise ServiceError(
            _("请填写%(field)s。") % {"field": field},
            code=f"{field}_required",
            details={field: [_("必填。")]},
        )
    if len(value) > max_length:
        raise ServiceError(
            _("内容过长。"), code="too_long", details={field: [_("最多 %(n)d 个字符。") % {"n": max_length}]}
        )
    return value


def choice(value, choices, field: str) -> str:
    if value not in choices.values:
        raise ServiceError(_("取值无效。"), code="invalid", details={field: [str(value)]})
    return value


def normalise_optional_plate(plate: str) -> str:
    plate = (plate or "").strip()
    if not plate:
        return ""
    try:
        return validate_plate(plate)
    except ValueError:
        raise ServiceError(
            _("车牌号格式不正确。"), code="invalid_plate", details={"plate": [_("车牌号格式不正确。")]}
        ) from None


def rating(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise ServiceError(_("满意度须为 1–5。"), code="invalid", details={"satisfaction": [str(value)]})
    return value


def in_scope(actor, district_id: int | None) -> None:
    """The actor's scope covers ``district_id`` (ServiceError 400 ``out_of_scope`` otherwise)."""
    try:
        check_district_in_scope(actor, district_id)
    except ValidationError:
        raise ServiceError(
            _("不在本人数据范围内的区。"), code="out_of_scope", details={"district": [str(district_id)]}
        ) from None


def assign_number(obj, prefix: str) -> None:
    """``<prefix><year><pk:06d>``: unique without a counter (the pk is)."""
    year = timezone.localtime(obj.created_at).year
    obj.number = f"{prefix}{year}{obj.pk:06d}"
    type(obj).objects.filter(pk=obj.pk).update(number=obj.number)


def complaint_deadline(received_at: dt.datetime | dt.date) -> dt.date:
    """The reply deadline: N working days after the day received (that day not counted)."""
    return add_workdays(as_local_date(received_at), settings.GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS)


def _log(
    complaint: Complaint, action: str, *, actor, from_status: str = "", note: str = ""
) -> ComplaintAction:
    return ComplaintAction.objects.create(
        complaint=complaint,
        action=action,
        from_status=from_status,
        to_status=complaint.status,
        note=(note or "")[:1000],
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name(actor),
    )


def _route_target(*, order: Order | None, district: District | None, handling_unit: Unit | None):
    if district is None:
        if order is None:
            raise ServiceError(
                _("请选择承办区。"), code="district_required", details={"district": [_("必填。")]}
            )
        district = order.district
    if handling_unit is None:
        if order is not None and order.district_id == district.pk:
            return district, order.managing_unit
        try:
            return district, district_parking_unit(district)
        except ValidationError as exc:
            raise ServiceError(
                _("该区没有启用的停车管理单位。"), code="no_district_unit", details=exc.message_dict
            ) from None
    try:
        check_managing_unit(handling_unit, district.pk)
    except ValidationError as exc:
        raise ServiceError(
            _("承办单位须属于承办区且已启用。"), code="invalid_unit", details=exc.message_dict
        ) from None
    return district, handling_unit


# ------------------------------------------------------------------------------------------
# Complaints
# ------------------------------------------------------------------------------------------


@transaction.atomic
def complaint_create(
    *,
    actor,
    kind: str,
    channel: str,
    category: str,
    subject: str,
    body: str,
    order: Order | None = None,
    citizen=None,
    contact_phone: str = "",
    plate: str = "",
    district: District | None = None,
    handling_unit: Unit | None = None,
    received_at: dt.datetime | None = None,
) -> Complaint:
    """Register a complaint or appeal (status ``received``) and route it; audited.

    An appeal needs an order. Staff (``actor``) may only register in their scope's districts;
    a citizen's complaint (``citizen``, actor None) is checked by the caller to concern their own order.
    """
    kind = choice(kind, ComplaintKind, "kind")
    channel = choice(channel, ComplaintChannel, "channel")
    category = choice(category, ComplaintCategory, "category")
    subject = text_required(subject, "subject", max_length=100)
    body = text_required(body, "body", max_length=4000)
    if kind == ComplaintKind.APPEAL and order is None:
        raise ServiceError(_("申诉须关联订单。"), code="order_required", details={"order": [_("必填。")]})
    if order is not None and order.state == OrderState.VOID:
        raise ServiceError(_("订单已作废。"), code="order_void", details={"order": [order.state]})
    district, unit = _route_target(order=order, district=district, handling_unit=handling_unit)
    in_scope(actor, district.pk)
    if order is not None:
        in_scope(actor, order.district_id)
    plate = normalise_optional_plate(plate) or (order.plate if order is not None else "")
    phone = (contact_phone or "").strip()[:20] or (citizen.phone if citizen is not None else "")
    received_at = received_at or timezone.now()
    complaint = Complaint(
        kind=kind,
        channel=channel,
        category=category,
        subject=subject,
        body=body,
        order=order,
        citizen=citizen,
        contact_phone=phone,
        plate=plate,
        district=district,
        handling_unit=unit,
        received_at=received_at,
        deadline=complaint_deadline(received_at),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    complaint.save()
    assign_number(complaint, "TS")
    _log(complaint, "create", actor=actor, note=complaint.get_channel_display())
    audit.record(
        action="parking.complaint.create",
        obj=complaint,
        changes={"after": audit.snapshot(complaint, COMPLAINT_AUDIT_FIELDS)},
    )
    return complaint


def _locked(complaint: Complaint, actor) -> Complaint:
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    in_scope(actor, complaint.district_id)
    return complaint


def _apply(complaint: Complaint, transition: str, *, actor, note: str = "", **kwargs) -> Complaint:
    """Run one FSM transition on a locked complaint, log it on the timeline and audit it."""
    before = audit.snapshot(complaint, COMPLAINT_AUDIT_FIELDS)
    from_status = complaint.status
    try:
        getattr(complaint, transition)(**kwargs)
    except TransitionNotAllowed:
        raise ServiceError(
            _("当前状态下不能执行该操作。"),
            code="illegal_transition",
            status=409,
            details={"status": [from_status], "action": [transition]},
        ) from None
    complaint.save()
    _log(complaint, transition, actor=actor, from_status=from_status, note=note)
    audit.record(
        action=f"parking.complaint.{transition}",
        obj=complaint,
        changes=audit.diff(before, audit.snapshot(complaint, COMPLAINT_AUDIT_FIELDS)),
        reason=(note or "")[:500],
    )
    return complaint


@transaction.atomic
def complaint_accept(*, actor, complaint: Complaint, note: str = "") -> Complaint:
    """``received → accepted`` (受理)."""
    complaint = _locked(complaint, actor)
    return _apply(complaint, "accept", actor=actor, note=note, at=timezone.now())


@transaction.atomic
def complaint_reject(*, actor, complaint: Complaint, reason: str) -> Complaint:
    """``received → rejected`` (不予受理) with a reason."""
    complaint = _locked(complaint, actor)
    reason = text_required(reason, "reason", max_length=500)
    return _apply(complaint, "reject", actor=actor, note=reason, reason=reason, at=timezone.now())


@transaction.atomic
def complaint_transfer(*, actor, complaint: Complaint, to: str, note: str = "") -> Complaint:
    """``received/accepted → transferred`` (转办) to a body outside parking (e.g. 交管部门)."""
    complaint = _locked(complaint, actor)
    to = text_required(to, "to", max_length=100)
    return _apply(complaint, "transfer", actor=actor, note=f"{to} {note}".strip(), to=to, at=timezone.now())


@transaction.atomic
def complaint_reply(*, actor, complaint: Complaint, text: str, outcome: str) -> Complaint:
    """``accepted → replied`` (答复) with the reply and the finding; stops the deadline clock."""
    complaint = _locked(complaint, actor)
    text = text_required(text, "text", max_length=4000)
    outcome = choice(outcome, ComplaintOutcome, "outcome")
    complaint = _apply(
        complaint, "reply", actor=actor, note=text[:200], text=text, outcome=outcome, at=timezone.now()
    )
    _notify_reply(complaint)
    return complaint


def _notify_reply(complaint: Complaint) -> None:
    """Tell the complainant by SMS that the reply is there (after commit: a rolled-back reply
    sends nothing). The contact phone given, else the app account's; none → nothing sent."""
    phone = complaint.contact_phone or (complaint.citizen.phone if complaint.citizen_id else "")
    if not phone:
        return
    with translation.override("zh-hans"):  # the SMS is Chinese whatever the staff UI language
        number, outcome = complaint.number, str(ComplaintOutcome(complaint.outcome).label)
    transaction.on_commit(
        lambda: sms_notify(phone=phone, template_code="complaint_replied", number=number, outcome=outcome)
    )


@transaction.atomic
def complaint_close(*, actor, complaint: Complaint, text: str = "", outcome: str = "") -> Complaint:
    """``replied → closed`` (办结); from ``accepted`` the reply and finding are given here."""
    complaint = _locked(complaint, actor)
    replying = complaint.status == ComplaintStatus.ACCEPTED
    if replying:
        text = text_required(text, "text", max_length=4000)
        outcome = choice(outcome, ComplaintOutcome, "outcome")
    complaint = _apply(
        complaint,
        "close",
        actor=actor,
        note=(text or "")[:200],
        at=timezone.now(),
        text=text,
        outcome=outcome,
    )
    if replying:
        _notify_reply(complaint)
    return complaint


@transaction.atomic
def complaint_route(
    *, actor, complaint: Complaint, district: District, handling_unit: Unit | None = None, reason: str
) -> Complaint:
    """Re-route an open complaint to another district and/or unit (改派); audited before/after."""
    complaint = _locked(complaint, actor)
    reason = text_required(reason, "reason", max_length=500)
    if complaint.status not in OPEN_STATUSES:
        raise ServiceError(
            _("只能改派未答复的投诉申诉。"),
            code="illegal_transition",
            status=409,
            details={"status": [complaint.status]},
        )
    district, unit = _route_target(order=None, district=district, handling_unit=handling_unit)
    if (district.pk, unit.pk) == (complaint.district_id, complaint.handling_unit_id):
        raise ServiceError(_("承办区和承办单位没有变化。"), code="no_change", details={})
    before = audit.snapshot(complaint, COMPLAINT_AUDIT_FIELDS)
    old = f"{complaint.district} / {complaint.handling_unit}"
    complaint.district, complaint.handling_unit = district, unit
    complaint.save(update_fields=["district", "handling_unit", "updated_at"])
    _log(
        complaint,
        "route",
        actor=actor,
        from_status=complaint.status,
        note=f"{old} → {district} / {unit}：{reason}",
    )
    audit.record(
        action="parking.complaint.route",
        obj=complaint,
        changes=audit.diff(before, audit.snapshot(complaint, COMPLAINT_AUDIT_FIELDS)),
        reason=reason,
    )
    return complaint


@transaction.atomic
def complaint_rate(*, complaint: Complaint, satisfaction: int, comment: str = "", actor=None) -> Complaint:
    """The citizen's satisfaction (1–5) once the complaint is closed; once only.

    ``actor`` is the staff member recording a hotline call-back, None for the citizen in the app
    (the caller checked the complaint is theirs).
    """
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if actor is not None:
        in_scope(actor, complaint.district_id)
    satisfaction = rating(satisfaction)
    if complaint.status != ComplaintStatus.CLOSED:
        raise ServiceError(
            _("办结后才能评价。"), code="not_closed", status=409, details={"status": [complaint.status]}
        )
    if complaint.satisfaction is not None:
        raise ServiceError(_("已经评价过。"), code="already_rated", status=409, details={})
    complaint.satisfaction = satisfaction
    complaint.satisfaction_comment = (comment or "").strip()[:500]
    complaint.rated_at = timezone.now()
    complaint.save(update_fields=["satisfaction", "satisfaction_comment", "rated_at", "updated_at"])
    _log(
        complaint,
        "rate",
        actor=actor,
        from_status=complaint.status,
        note=f"{satisfaction} {complaint.satisfaction_comment}",
    )
    audit.record(
        action="parking.complaint.rate", obj=complaint, changes={"after": {"satisfaction": satisfaction}}
    )
    return complaint


# ------------------------------------------------------------------------------------------
# Fee adjustments
# ------------------------------------------------------------------------------------------

ORDER_ADJUST_FIELDS = ["amount_due_fen", "amount_adjustment_fen", "amount_paid_fen", "state"]


def _request_refund(adjustment: FeeAdjustment, *, actor, complaint: Complaint | None) -> None:
    """Ask the refunds desk (``services.refunds.refund_request``, reason ``fee_adjusted``) for
    what the citizen overpaid. The adjustment stands whatever the answer: without a paid
    payment of the order, or when the request is refused (permission, limits), the entry's
    ``refund_due_fen`` is the record and the refusal goes on the complaint's timeline."""
    try:
        from ..models.payments import PaymentIntent, PaymentStatus
        from ..models.refunds import RefundReason
        from . import refunds as refund_services
    except ImportError:  # the refunds area is optional
        return
    intent = (
        PaymentIntent.objects.filter(items__order=adjustment.order, status=PaymentStatus.PAID)
        .order_by("-paid_at", "-pk")
        .first()
    )
    problem = ""
    if intent is None or actor is None:
        problem = _("没有可退款的支付单，请线下退款。")
    else:
        try:
            refund = refund_services.refund_request(
                actor=actor,
                intent=intent,
                amount_fen=adjustment.refund_due_fen,
                reason_category=RefundReason.FEE_ADJUSTED,
                reason=_("投诉申诉 %(number)s 费用调整") % {"number": complaint.number if complaint else "—"},
                order=adjustment.order,
            )
        except ServiceError as exc:
            problem = str(exc.detail)
        else:
            adjustment.refund_ref = refund.refund_no[:40]
            adjustment.save(update_fields=["refund_ref"])
    if problem and complaint is not None:
        _log(
            complaint,
            "refund",
            actor=actor,
            from_status=complaint.status,
            note=_("退款申请未创建：%(why)s") % {"why": problem},
        )


@transaction.atomic
def complaint_fee_adjust(*, actor, complaint: Complaint, amount_fen: int, reason: str) -> FeeAdjustment:
    """A fee adjustment as the outcome of ``complaint``, on its order (400 ``order_required``
    when it has none); otherwise exactly :func:`fee_adjust`."""
    if complaint.order_id is None:
        raise ServiceError(
            _("投诉申诉没有关联订单。"), code="order_required", details={"order": [_("必填。")]}
        )
    return fee_adjust(
        actor=actor, order=complaint.order, complaint=complaint, amount_fen=amount_fen, reason=reason
    )


@transaction.atomic
def fee_adjust(
    *, order: Order, amount_fen: int, reason: str, complaint: Complaint | None = None, actor
) -> FeeAdjustment:
    """Record one fee adjustment entry and update the order's running sum, in one transaction.

    See the module docstring for the rules. Refusals: 400 ``invalid`` / ``reason_required`` /
    ``adjustment_out_of_range`` / ``complaint_mismatch``, 409 ``order_not_billed`` /
    ``order_paid`` / ``complaint_not_open``.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    in_scope(actor, order.district_id)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen == 0:
        raise ServiceError(
            _("调整金额须为非零整数（分）。"), code="invalid", details={"amount_fen": [str(amount_fen)]}
        )
    reason = text_required(reason, "reason", max_length=500)
    if complaint is not None:
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        if complaint.order_id != order.pk:
            raise ServiceError(
                _("投诉申诉与订单不对应。"),
                code="complaint_mismatch",
                details={"complaint": [str(complaint.pk)]},
            )
        if complaint.status not in (ComplaintStatus.ACCEPTED, ComplaintStatus.REPLIED):
            raise ServiceError(
                _("投诉申诉须在受理后、办结前调整费用。"),
                code="complaint_not_open",
                status=409,
                details={"status": [complaint.status]},
            )
    if order.state not in ADJUSTABLE_STATES:
        raise ServiceError(
            _("订单尚未计费或已作废，不能调整费用。"),
            code="order_not_billed",
            status=409,
            details={"state": [order.state]},
        )
    old = order.amount_adjustment_fen
    new = old + amount_fen
    if not -order.amount_due_fen <= new <= 0:
        raise ServiceError(
            _("调整后金额须在 0 与原计费金额之间。"),
            code="adjustment_out_of_range",
            details={
                "amount_fen": [str(amount_fen)],
                "min_amount_fen": -order.amount_due_fen - old,
                "max_amount_fen": -old,
            },
        )
    paid = order.amount_paid_fen
    if order.state == OrderState.PAID and amount_fen > 0:
        raise ServiceError(
            _("已支付的订单只能减免，不能调高费用。"),
            code="order_paid",
            status=409,
            details={"amount_fen": [str(amount_fen)]},
        )
    refund_due = max(0, paid - (order.amount_due_fen + new)) - max(0, paid - (order.amount_due_fen + old))
    before = audit.snapshot(order, ORDER_ADJUST_FIELDS)
    order.amount_adjustment_fen = new
    if order.state in (OrderState.BILLED, OrderState.ARREARS) and order.amount_due_fen + new <= paid:
        order.pay(amount_fen=paid)  # nothing left to pay: settled, as a 0-fee stay is
    order.save(update_fields=["amount_adjustment_fen", "state", "amount_paid_fen", "updated_at"])
    adjustment = FeeAdjustment.objects.create(
        order=order,
        complaint=complaint,
        amount_fen=amount_fen,
        reason=reason,
        adjustment_before_fen=old,
        adjustment_after_fen=new,
        refund_due_fen=max(refund_due, 0),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name(actor),
    )
    audit.record(
        action="parking.order.adjust",
        obj=order,
        changes=audit.diff(before, audit.snapshot(order, ORDER_ADJUST_FIELDS)),
        reason=reason,
    )
    audit.record(
        action="parking.feeadjustment.create",
        obj=adjustment,
        changes={
            "after": audit.snapshot(
                adjustment,
                [
                    "order_id",
                    "complaint_id",
                    "amount_fen",
                    "adjustment_before_fen",
                    "adjustment_after_fen",
                    "refund_due_fen",
                ],
            )
        },
        reason=reason,
    )
    if complaint is not None:
        # The complaint's adjustment totals are in the lake's complaints data set: re-export it.
        Complaint.objects.filter(pk=complaint.pk).update(updated_at=timezone.now())
        _log(
            complaint,
            "adjust_fee",
            actor=actor,
            from_status=complaint.status,
            note=f"{amount_fen:+d} {reason}",
        )
    if adjustment.refund_due_fen:
        _request_refund(adjustment, actor=actor, complaint=complaint)
    return adjustment


# ------------------------------------------------------------------------------------------
# Reads (selectors) used by the API, the pages and the statistics
# ------------------------------------------------------------------------------------------


def complaint_list(*, user) -> QuerySet[Complaint]:
    """Complaints in the caller's scope, newest first."""
    return (
        Complaint.objects.restrict(user)
        .select_related("district", "handling_unit", "order")
        .order_by("-received_at", "-id")
    )


def overdue_q(today: dt.date | None = None) -> Q:
    """Still waiting for a reply and past the deadline."""
    today = as_local_date(today or timezone.now())
    return Q(status__in=OPEN_STATUSES, deadline__lt=today)


def complaint_counts(*, user, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Rows ``{"district", "day", "status", "count"}`` of complaints received in ``[start, end)``."""
    return list(
        Complaint.objects.restrict(user)
        .filter(received_at__gte=start, received_at__lt=end)
        .annotate(day=TruncDate("received_at"))
        .values("district", "day", "status")
        .annotate(count=Count("pk"))
        .order_by("day", "district", "status")
    )


def complaint_summary(*, user, start: dt.datetime, end: dt.datetime) -> dict:
    """Totals of ``[start, end)``: received, overdue now, replied in time, average satisfaction."""
    qs = Complaint.objects.restrict(user).filter(received_at__gte=start, received_at__lt=end)
    return qs.aggregate(
        received=Count("pk"),
        overdue=Count("pk", filter=overdue_q()),
        replied_in_time=Count("pk", filter=Q(replied_at__isnull=False, replied_at__date__lte=F("deadline"))),
        satisfaction=Avg("satisfaction"),
    )


# Filter sets shared by the API and the pages: choices come from the caller's scope.

ALL = gettext_lazy("全部")


def _districts(request):
    return District.objects.none() if request is None else District.objects.restrict(request.user)


class ComplaintFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("状态"), choices=ComplaintStatus.choices, empty_label=ALL
    )
    district = django_filters.ModelChoiceFilter(
        label=gettext_lazy("承办区"), queryset=_districts, empty_label=ALL
    )
    channel = django_filters.ChoiceFilter(
        label=gettext_lazy("来源渠道"), choices=ComplaintChannel.choices, empty_label=ALL
    )
    kind = django_filters.ChoiceFilter(
        label=gettext_lazy("类型"), choices=ComplaintKind.choices, empty_label=ALL
    )
    category = django_filters.ChoiceFilter(
        label=gettext_lazy("问题分类"), choices=ComplaintCategory.choices, empty_label=ALL
    )
    overdue = yes_no_filter(gettext_lazy("已超期"), method="filter_overdue")
    number = django_filters.CharFilter(label=gettext_lazy("编号"), field_name="number", lookup_expr="iexact")

    class Meta:
        model = Complaint
        fields = ["status", "district", "channel", "kind", "category", "overdue", "number"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        q = overdue_q()
        return queryset.filter(q) if value else queryset.exclude(q)


class TicketFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("状态"), choices=TicketStatus.choices, empty_label=ALL
    )
    channel = django_filters.ChoiceFilter(
        label=gettext_lazy("来源渠道"), choices=TicketChannel.choices, empty_label=ALL
    )
    category = django_filters.ChoiceFilter(
        label=gettext_lazy("工单分类"), choices=TicketCategory.choices, empty_label=ALL
    )
    district = django_filters.ModelChoiceFilter(
        label=gettext_lazy("相关区"), queryset=_districts, empty_label=ALL
    )
    number = django_filters.CharFilter(label=gettext_lazy("编号"), field_name="number", lookup_expr="iexact")

    class Meta:
        model = ServiceTicket
        fields = ["status", "channel", "category", "district", "number"]
