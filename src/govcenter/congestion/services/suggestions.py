"""缓堵意见建议 services: submit (public form or staff), assign to a lead unit with a working-day
deadline, answer, rate (不满意 → another round), close, merge a duplicate. Every step goes through
the kernel's workflow runner (history + audit) and keeps the search index current."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from govcenter.core import audit, search
from govcenter.core.calendar import as_local_date
from govcenter.core.masking import mask
from govcenter.core.models import District, Unit

from ..models import Channel, Satisfaction, Suggestion, SuggestionState, Topic, UnitRole
from .cases import advance, assign_unit, check_location, deadline_for, next_number, now, refuse, renew_units

PREFIX = "JY"
AUDIT_FIELDS = ["state", "deadline", "reply", "satisfaction", "rounds", "merged_into_id", "closed_at"]
MAX_BODY = 5000


def suggestion_document(s: Suggestion) -> tuple[str, str]:
    """Title and body for the search index (the proposer's name and phone never enter it)."""
    parts = [s.number, s.get_topic_display(), s.body, s.reply]
    return s.title, "\n".join(p for p in parts if p)


def _choice(value, choices, field: str):
    if value not in choices.values:
        raise refuse(_("“%(v)s”不是有效的选项。") % {"v": value}, "invalid_choice", field, value)
    return value


def suggestion_submit(
    *,
    actor=None,
    channel: str,
    topic: str,
    title: str,
    body: str = "",
    location=None,
    district: District | None = None,
    proposer_name: str = "",
    proposer_phone: str = "",
) -> Suggestion:
    """Register a suggestion (``submitted``), numbered ``JY-<year>-NNNNN``; audited, indexed."""
    _choice(channel, Channel, "channel")
    _choice(topic, Topic, "topic")
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > 200:
        raise refuse(_("标题必填，最多 200 字。"), "required", "title", title[:40])
    if len(body) > MAX_BODY:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": MAX_BODY}, "too_long", "body", len(body))
    if channel == Channel.PUBLIC_FORM and not proposer_phone:
        raise refuse(_("网上征集的建议须留联系电话，以便答复。"), "required", "proposer_phone")
    location, located = check_location(location)
    at = now()
    year = as_local_date(at).year
    with transaction.atomic():
        suggestion = Suggestion(
            number=next_number(PREFIX, year),
            year=year,
            title=title,
            body=body,
            channel=channel,
            topic=topic,
            location=location,
            district=district or located,
            proposer_name=(proposer_name or "").strip()[:50],
            proposer_phone=(proposer_phone or "").strip(),
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=at,
        )
        try:
            suggestion.full_clean(exclude=["number", "state"])
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise refuse(messages[0], "invalid", field, getattr(suggestion, field, "")) from None
        suggestion.save()
        audit.record(
            action="congestion.suggestion.submit",
            obj=suggestion,
            changes={"after": {"number": suggestion.number, "channel": channel, "topic": topic,
                               "proposer_phone": mask(suggestion.proposer_phone, "phone")}},
        )  # fmt: skip
        search.index(suggestion)
    return suggestion


def suggestion_assign(
    *, actor, suggestion: Suggestion, unit: Unit, workdays: int | None = None, deadline: dt.date | None = None,
    comment: str = "",
) -> Suggestion:  # fmt: skip
    """Assign to ``unit`` as lead (主办) with a deadline (``workdays`` working days from now,
    default ``GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS``, or a working ``deadline``); the unit's
    people are notified in-app and by SMS."""
    at = now()
    if deadline is None and workdays is None:
        workdays = settings.GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS
    due = deadline_for(at, workdays=workdays, day=deadline)
    with transaction.atomic():
        suggestion = advance(
            suggestion, "assign", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, deadline=due
        )
        assign_unit(
            suggestion, actor=actor, unit=unit, role=UnitRole.LEAD, deadline=due,
            title=_("新交办意见建议：%(t)s") % {"t": suggestion.title}, notify_perm="congestion.reply_suggestion",
        )  # fmt: skip
        search.index(suggestion)
    return suggestion


def suggestion_answer(*, actor, suggestion: Suggestion, text: str) -> Suggestion:
    """The lead unit's reply (答复)."""
    text = (text or "").strip()
    if not text:
        raise refuse(_("答复内容必填。"), "required", "text")
    if len(text) > MAX_BODY:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": MAX_BODY}, "too_long", "text", len(text))
    with transaction.atomic():
        suggestion = advance(
            suggestion, "answer", actor=actor, audit_fields=AUDIT_FIELDS, text=text, by=actor, at=now()
        )
        search.index(suggestion)
    return suggestion


def suggestion_rate(*, actor, suggestion: Suggestion, satisfaction: str, comment: str = "") -> Suggestion:
    """The proposer's rating, entered after the return visit: 满意 / 基本满意 close it, 不满意
    sends it back to the lead unit (another round, a new deadline)."""
    _choice(satisfaction, Satisfaction, "satisfaction")
    due = deadline_for(now(), workdays=settings.GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS)
    with transaction.atomic():
        suggestion = advance(
            suggestion, "rate", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
            satisfaction=satisfaction, at=now(), deadline=due,
        )  # fmt: skip
        if suggestion.state == SuggestionState.ASSIGNED:
            renew_units(
                suggestion, actor=actor, role=UnitRole.LEAD, deadline=due,
                title=_("意见建议退回重办：%(t)s") % {"t": suggestion.title}, notify_perm="congestion.reply_suggestion",
            )  # fmt: skip
    return suggestion


def suggestion_close(*, actor, suggestion: Suggestion, comment: str) -> Suggestion:
    """Close a replied suggestion without a rating (e.g. the proposer could not be reached)."""
    if not (comment or "").strip():
        raise refuse(_("请说明办结理由。"), "required", "comment")
    return advance(suggestion, "close", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, at=now())


def suggestion_merge(*, actor, suggestion: Suggestion, into: Suggestion, comment: str = "") -> Suggestion:
    """Merge a duplicate into ``into`` (which goes on; this one ends as ``merged``)."""
    if into.pk == suggestion.pk:
        raise refuse(_("不能合并到自身。"), "invalid_merge", "into", into.pk)
    if into.state == SuggestionState.MERGED:
        raise refuse(
            _("目标建议本身已被合并，请合并到 %(n)s。") % {"n": into.merged_into.number},
            "invalid_merge",
            "into",
            into.pk,
        )
    with transaction.atomic():
        suggestion = advance(
            suggestion,
            "merge",
            actor=actor,
            comment=comment or into.number,
            audit_fields=AUDIT_FIELDS,
            into=into,
            at=now(),
        )
        search.index(suggestion)
    return suggestion
