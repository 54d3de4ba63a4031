"""Customer-service tickets (客服工单) from the hotline, the mailbox and the app.

A ticket is ``open`` until its first public reply (``answered``; the wall-clock minutes from
creation to that reply are the *time to answer*), then ``closed``; a closed ticket may be
reopened (with a reason) and answered again — the first answer time is kept. An internal
note (``public=False``) does not answer. The caller's satisfaction (1–5) is recorded once
the ticket was answered. ``ticket_convert`` turns a ticket into a complaint/appeal (same
channel, caller and text), links both and refers the ticket to the complaint's district.

Scope: tickets are the Center's (roles with scope ``all``); a ticket's only scope field is the
district it concerns or was referred to, so a district manager sees just those.
Every write is audited (``parking.ticket.*``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit

from ..models.complaints import (
    Complaint,
    ServiceTicket,
    TicketCategory,
    TicketChannel,
    TicketReply,
    TicketStatus,
)
from ..models.orders import Order
from .complaints import (
    actor_name,
    assign_number,
    choice,
    complaint_create,
    in_scope,
    normalise_optional_plate,
    rating,
    text_required,
)

TICKET_AUDIT_FIELDS = [
    "number",
    "channel",
    "category",
    "district_id",
    "status",
    "satisfaction",
    "complaint_id",
]


def _transition(ticket: ServiceTicket, name: str, **kwargs) -> None:
    try:
        getattr(ticket, name)(**kwargs)
    except TransitionNotAllowed:
        raise ServiceError(
            _("当前状态下不能执行该操作。"),
            code="illegal_transition",
            status=409,
            details={"status": [ticket.status], "action": [name]},
        ) from None


def _locked(ticket: ServiceTicket, actor) -> ServiceTicket:
    ticket = ServiceTicket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.district_id is not None:
        in_scope(actor, ticket.district_id)
    return ticket


def _record(ticket: ServiceTicket, action: str, before: dict, reason: str = "") -> None:
    audit.record(
        action=f"parking.ticket.{action}",
        obj=ticket,
        changes=audit.diff(before, audit.snapshot(ticket, TICKET_AUDIT_FIELDS)),
        reason=reason[:500],
    )


@transaction.atomic
def ticket_create(
    *,
    actor,
    channel: str,
    category: str,
    subject: str,
    body: str,
    caller_phone: str = "",
    plate: str = "",
    district: District | None = None,
    created_at: dt.datetime | None = None,
) -> ServiceTicket:
    """Open a ticket (the call or letter as received); audited."""
    if district is not None:
        in_scope(actor, district.pk)
    ticket = ServiceTicket(
        channel=choice(channel, TicketChannel, "channel"),
        category=choice(category, TicketCategory, "category"),
        subject=text_required(subject, "subject", max_length=100),
        body=text_required(body, "body", max_length=4000),
        caller_phone=(caller_phone or "").strip()[:20],
        plate=normalise_optional_plate(plate),
        district=district,
        created_at=created_at or timezone.now(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    ticket.save()
    assign_number(ticket, "KF")
    audit.record(
        action="parking.ticket.create",
        obj=ticket,
        changes={"after": audit.snapshot(ticket, TICKET_AUDIT_FIELDS)},
    )
    return ticket


@transaction.atomic
def ticket_reply(*, actor, ticket: ServiceTicket, text: str, public: bool = True) -> TicketReply:
    """Add a reply; the first public reply answers an open ticket. Refused on a closed ticket."""
    ticket = _locked(ticket, actor)
    text = text_required(text, "text", max_length=4000)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(
            _("工单已关闭，请先重新打开。"),
            code="ticket_closed",
            status=409,
            details={"status": [ticket.status]},
        )
    before = audit.snapshot(ticket, TICKET_AUDIT_FIELDS)
    now = timezone.now()
    reply = TicketReply.objects.create(
        ticket=ticket,
        text=text,
        public=bool(public),
        author=actor if getattr(actor, "pk", None) else None,
        author_name=actor_name(actor),
        created_at=now,
    )
    if public and ticket.status == TicketStatus.OPEN:
        _transition(ticket, "answer", at=now)
        ticket.save()
    _record(ticket, "reply", before, reason=_("答复来电人") if public else _("内部备注"))
    return reply


@transaction.atomic
def ticket_close(*, actor, ticket: ServiceTicket, note: str = "") -> ServiceTicket:
    """``open/answered → closed``."""
    ticket = _locked(ticket, actor)
    before = audit.snapshot(ticket, TICKET_AUDIT_FIELDS)
    _transition(ticket, "close", at=timezone.now())
    ticket.save()
    _record(ticket, "close", before, reason=note or "")
    return ticket


@transaction.atomic
def ticket_reopen(*, actor, ticket: ServiceTicket, reason: str) -> ServiceTicket:
    """``closed → open`` (the caller called back); the first answer time is kept."""
    ticket = _locked(ticket, actor)
    reason = text_required(reason, "reason", max_length=500)
    before = audit.snapshot(ticket, TICKET_AUDIT_FIELDS)
    _transition(ticket, "reopen")
    ticket.save()
    _record(ticket, "reopen", before, reason=reason)
    return ticket


@transaction.atomic
def ticket_rate(*, actor, ticket: ServiceTicket, satisfaction: int) -> ServiceTicket:
    """The caller's satisfaction (1–5), once the ticket was answered; once only."""
    ticket = _locked(ticket, actor)
    satisfaction = rating(satisfaction)
    if ticket.first_answer_at is None:
        raise ServiceError(
            _("答复后才能评价。"), code="not_answered", status=409, details={"status": [ticket.status]}
        )
    if ticket.satisfaction is not None:
        raise ServiceError(_("已经评价过。"), code="already_rated", status=409, details={})
    before = audit.snapshot(ticket, TICKET_AUDIT_FIELDS)
    ticket.satisfaction = satisfaction
    ticket.rated_at = timezone.now()
    ticket.save(update_fields=["satisfaction", "rated_at", "updated_at"])
    _record(ticket, "rate", before)
    return ticket


@transaction.atomic
def ticket_convert(
    *,
    actor,
    ticket: ServiceTicket,
    kind: str,
    category: str,
    order: Order | None = None,
    district: District | None = None,
    handling_unit: Unit | None = None,
) -> Complaint:
    """Turn the ticket into a complaint/appeal (投诉转办): linked, routed, the ticket referred there."""
    ticket = _locked(ticket, actor)
    if ticket.complaint_id is not None:
        raise ServiceError(
            _("工单已转为投诉申诉。"),
            code="already_converted",
            status=409,
            details={"complaint": [str(ticket.complaint_id)]},
        )
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(
            _("工单已关闭。"), code="ticket_closed", status=409, details={"status": [ticket.status]}
        )
    complaint = complaint_create(
        actor=actor,
        kind=kind,
        channel=ticket.channel,  # hotline / mailbox / app exist in both choice sets
        category=category,
        subject=ticket.subject,
        body=ticket.body,
        order=order,
        contact_phone=ticket.caller_phone,
        plate=ticket.plate,
        district=district,
        handling_unit=handling_unit,
        received_at=ticket.created_at,
    )
    before = audit.snapshot(ticket, TICKET_AUDIT_FIELDS)
    ticket.complaint = complaint
    ticket.district = complaint.district
    ticket.category = TicketCategory.REFERRAL
    ticket.save(update_fields=["complaint", "district", "category", "updated_at"])
    _record(ticket, "convert", before, reason=complaint.number or "")
    return complaint


# ------------------------------------------------------------------------------------------
# Reads
# ------------------------------------------------------------------------------------------


def ticket_list(*, user) -> QuerySet[ServiceTicket]:
    """Tickets in the caller's scope (all for the Center; a district's referred ones otherwise)."""
    return (
        ServiceTicket.objects.restrict(user)
        .select_related("district", "complaint")
        .order_by("-created_at", "-id")
    )


def ticket_stats(*, user, start: dt.datetime, end: dt.datetime) -> dict:
    """Tickets created in ``[start, end)``: per day and category, and time to answer.

    ``{"total", "answered", "avg_answer_minutes", "avg_satisfaction", "by_day": [{"day", "category", "count"}]}``
    """
    qs = ServiceTicket.objects.restrict(user).filter(created_at__gte=start, created_at__lt=end)
    totals = qs.aggregate(
        total=Count("pk"),
        answered=Count("first_answer_at"),
        avg_answer_minutes=Avg("answer_minutes"),
        avg_satisfaction=Avg("satisfaction"),
    )
    totals["by_day"] = list(
        qs.annotate(day=TruncDate("created_at"))
        .values("day", "category")
        .annotate(count=Count("pk"))
        .order_by("day", "category")
    )
    return totals
