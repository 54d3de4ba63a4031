"""人大建议 / 政协提案 services: register, assign (lead + co-units, reply due 3 months later),
sign for or return (退办) within the set working days, co-units' opinions, the lead's reply letter,
countersign, the Center's review, the proposers' ratings (不满意 → another round), the B-class
second reply, one extension of at most 3 months; and the statistics for the dashboard.

Every step goes through the kernel's workflow runner (history + audit) on the services' clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from govcenter.core import audit, deadlines, search
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attach
from govcenter.core.calendar import as_local_date
from govcenter.core.models import Unit
from govcenter.core.notifications import notify

from ..models import (
    BodyType,
    Classification,
    ExtensionStatus,
    Proposal,
    ProposalProposer,
    ProposalReply,
    ProposalSatisfaction,
    ProposalState,
    ProposalTask,
    ReplyKind,
    UnitRole,
)
from .cases import advance, assign_unit, next_number, now, refuse, unit_users

PREFIXES = {BodyType.NPC: "RDJY", BodyType.CPPCC: "ZXTA"}
OPINION_MONTHS = 1  # co-units' opinions to the lead: within a month of assignment
MAX_EXTENSION_MONTHS = 3
MAX_TEXT = 10000
MAX_PROPOSERS = 50
AUDIT_FIELDS = ["state", "deadline", "rounds", "classification", "followup_due", "extension_status",
                "extension_months", "closed_at"]  # fmt: skip
HANDLE_PERM = "congestion.handle_proposal"


def proposal_document(p: Proposal) -> tuple[str, str]:
    """Title and body for the search index (proposers' names never enter it)."""
    parts = [p.number, p.session, p.assembly_number, p.body, p.reply_text]
    return p.title, "\n".join(x for x in parts if x)


LABELS = {
    "text": gettext_lazy("内容"),
    "reason": gettext_lazy("理由"),
    "note": gettext_lazy("会签意见"),
    "session": gettext_lazy("届次"),
    "assembly_number": gettext_lazy("建议号/提案号"),
    "title": gettext_lazy("标题"),
    "body": gettext_lazy("内容"),
}


def _text(value, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise refuse(_("%(f)s必填。") % {"f": LABELS.get(field, field)}, "required", field)
    if len(value) > limit:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": limit}, "too_long", field, len(value))
    return value


def _choice(value, choices, field: str):
    if value not in choices.values:
        raise refuse(_("“%(v)s”不是有效的选项。") % {"v": value}, "invalid_choice", field, value)
    return value


def _working_day(day: dt.date, field: str) -> dt.date:
    try:
        return deadlines.check_deadline(day)
    except deadlines.DeadlineError as exc:
        raise refuse(str(exc), "deadline_not_workday", field, exc.suggestion) from None


def _my_task(proposal: Proposal, actor, role: str | None = None) -> ProposalTask | None:
    """The caller's unit's active assignment (lead first when the caller's subtree holds both)."""
    unit = getattr(actor, "unit", None)
    if unit is None:
        return None
    tasks = proposal.tasks.filter(active=True, unit_id__in=Unit.objects.subtree_ids(unit))
    if role:
        tasks = tasks.filter(role=role)
    return tasks.order_by("-role").first()  # "lead" > "co"


def _check_task(proposal: Proposal, transition: str, task: ProposalTask | None) -> None:
    """Without an assignment of the caller's unit the step is refused like any other forbidden
    transition — after the state check, so an illegal step still reads as illegal."""
    if task is None and can_proceed(getattr(proposal, transition)):
        raise ServiceError(_("您无权执行该操作。"), code="transition_forbidden", status=403,
                           details={"transition": [transition]})  # fmt: skip


def _clean_proposers(proposers) -> list[dict]:
    rows = []
    for item in proposers or []:
        if isinstance(item, str):
            item = {"name": item}
        name = (item.get("name") or "").strip() if isinstance(item, dict) else ""
        delegation = (item.get("delegation") or "").strip() if isinstance(item, dict) else ""
        if not name or len(name) > 50 or len(delegation) > 60:
            raise refuse(
                _("提案人姓名必填（最多 50 字），代表团/界别最多 60 字。"), "invalid", "proposers", name
            )
        rows.append({"name": name, "delegation": delegation})
    if not rows:
        raise refuse(_("至少填写一名代表或委员。"), "required", "proposers")
    if len(rows) > MAX_PROPOSERS:
        raise refuse(_("提案人过多。"), "too_long", "proposers", len(rows))
    return rows


# -- register and assign ------------------------------------------------------------------------


def proposal_register(
    *, actor, body_type: str, session: str, assembly_number: str, title: str, proposers, body: str = "",
    year: int | None = None,
) -> Proposal:  # fmt: skip
    """Register a proposal (``registered``), numbered ``RDJY-<year>-NNNNN`` / ``ZXTA-<year>-NNNNN``;
    the assembly's own number is unique per type and year."""
    _choice(body_type, BodyType, "body_type")
    session = _text(session, "session", limit=40)
    assembly_number = _text(assembly_number, "assembly_number", limit=30)
    title = _text(title, "title", limit=200)
    body = _text(body, "body", required=False)
    rows = _clean_proposers(proposers)
    at = now()
    year = year or as_local_date(at).year
    if not 2000 <= year <= as_local_date(at).year + 1:
        raise refuse(_("年度无效。"), "invalid", "year", year)
    if Proposal.objects.filter(body_type=body_type, year=year, assembly_number=assembly_number).exists():
        raise refuse(_("该年度已登记此编号。"), "duplicate", "assembly_number", assembly_number, status=409)
    with transaction.atomic():
        proposal = Proposal(
            number=next_number(PREFIXES[body_type], year), year=year, title=title, body=body,
            body_type=body_type, session=session, assembly_number=assembly_number,
            created_by=actor if getattr(actor, "pk", None) else None, created_at=at,
        )  # fmt: skip
        try:
            with transaction.atomic():
                proposal.save()
        except IntegrityError:  # registered by someone else a moment ago
            raise refuse(
                _("该年度已登记此编号。"), "duplicate", "assembly_number", assembly_number, status=409
            ) from None
        ProposalProposer.objects.bulk_create(
            ProposalProposer(proposal=proposal, order=i, **row) for i, row in enumerate(rows)
        )
        audit.record(
            action="congestion.proposal.register",
            obj=proposal,
            changes={"after": {"number": proposal.number, "body_type": body_type, "session": session,
                               "assembly_number": assembly_number, "proposers": len(rows)}},
        )  # fmt: skip
        search.index(proposal)
    return proposal


def _add_task(
    proposal: Proposal, *, actor, unit: Unit, role: str, at: dt.datetime, due: dt.date
) -> ProposalTask:
    opinion_due = deadlines.due_after(at, months=OPINION_MONTHS) if role == UnitRole.CO else None
    title = _("新交办%(k)s：%(t)s") % {"k": proposal.get_body_type_display(), "t": proposal.title}
    assign_unit(proposal, actor=actor, unit=unit, role=role, deadline=due if role == UnitRole.LEAD else opinion_due,
                title=title, notify_perm=HANDLE_PERM)  # fmt: skip
    sign_due = deadlines.due_after(at, workdays=settings.GOVCENTER_CONGESTION_PROPOSAL_SIGN_WORKDAYS)
    return ProposalTask.objects.create(
        proposal=proposal, unit=unit, role=role, assigned_at=at, sign_due=sign_due, opinion_due=opinion_due
    )


def proposal_assign(
    *, actor, proposal: Proposal, lead: Unit, co_units=(), countersign: bool = False, comment: str = ""
) -> Proposal:
    """Assign to ``lead`` (主办) and ``co_units`` (协办): the reply is due
    ``GOVCENTER_CONGESTION_PROPOSAL_REPLY_MONTHS`` calendar months later (moved to the next
    working day), co-units' opinions one month later; each unit signs for it within
    ``GOVCENTER_CONGESTION_PROPOSAL_SIGN_WORKDAYS`` working days. Also the reassignment after the
    lead's return (co-units still on the proposal stay)."""
    co_units = list(co_units or [])
    if lead in co_units:
        raise refuse(_("主办单位不能同时为协办单位。"), "invalid", "co_units", lead.pk)
    if len({u.pk for u in co_units}) != len(co_units):
        raise refuse(_("协办单位重复。"), "invalid", "co_units")
    if countersign and not co_units and not proposal.units.filter(role=UnitRole.CO).exists():
        raise refuse(_("没有协办单位，无需会签。"), "invalid", "countersign", countersign)
    at = now()
    due = deadlines.due_after(at, months=settings.GOVCENTER_CONGESTION_PROPOSAL_REPLY_MONTHS)
    with transaction.atomic():
        proposal = advance(proposal, "assign", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                           due=due, countersign=bool(countersign))  # fmt: skip
        _add_task(proposal, actor=actor, unit=lead, role=UnitRole.LEAD, at=at, due=due)
        for unit in co_units:
            _add_task(proposal, actor=actor, unit=unit, role=UnitRole.CO, at=at, due=due)
        search.index(proposal)
    return proposal


def proposal_sign(*, actor, proposal: Proposal, comment: str = "") -> Proposal:
    """签收 by the caller's unit (late signatures are taken, the history shows the date)."""
    task = _my_task(proposal, actor)
    if task is not None and task.signed_at is not None and can_proceed(proposal.sign):
        raise refuse(_("本单位已签收。"), "already_signed", "unit", task.unit_id, status=409)
    _check_task(proposal, "sign", task)
    with transaction.atomic():
        return advance(proposal, "sign", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                       task=task, by=actor, at=now())  # fmt: skip


def proposal_return(*, actor, proposal: Proposal, reason: str) -> Proposal:
    """退办 by the caller's unit, with a reason, within the sign-for period and before signing.
    The lead's return sends the proposal back to the Center for reassignment."""
    reason = _text(reason, "reason", limit=2000)
    task = _my_task(proposal, actor)
    at = now()
    if task is not None and can_proceed(proposal.give_back):
        if task.signed_at is not None:
            raise refuse(_("已签收的事项不能退办。"), "already_signed", "reason", task.signed_at, status=409)
        if as_local_date(at) > task.sign_due:
            raise refuse(_("已超过退办期限（%(d)s）。") % {"d": task.sign_due}, "return_too_late", "reason",
                         task.sign_due, status=409)  # fmt: skip
    _check_task(proposal, "give_back", task)
    with transaction.atomic():
        proposal = advance(proposal, "give_back", actor=actor, comment=reason, audit_fields=AUDIT_FIELDS,
                           task=task, reason=reason, at=at)  # fmt: skip
        assigners = unit_users(proposal.created_by.unit, "congestion.assign_proposal") if (
            proposal.created_by and proposal.created_by.unit) else []  # fmt: skip
        notify(assigners, verb="returned", title=_("建议提案被退办：%(t)s") % {"t": proposal.title}, body=reason,
               target=proposal)  # fmt: skip
        search.index(proposal)
    return proposal


def proposal_opinion(*, actor, proposal: Proposal, text: str) -> Proposal:
    """协办意见: a co-unit's opinion to the lead (due one month after assignment; once)."""
    text = _text(text, "text")
    task = _my_task(proposal, actor, UnitRole.CO)
    if task is not None and can_proceed(proposal.send_opinion):
        if task.signed_at is None:
            raise refuse(_("请先签收再提交协办意见。"), "not_signed", "text", status=409)
        if task.opinion_at is not None:
            raise refuse(_("本单位已提交协办意见。"), "already_sent", "text", status=409)
    _check_task(proposal, "send_opinion", task)
    with transaction.atomic():
        proposal = advance(proposal, "send_opinion", actor=actor, audit_fields=AUDIT_FIELDS,
                           task=task, text=text, at=now())  # fmt: skip
        lead = proposal.tasks.filter(active=True, role=UnitRole.LEAD).first()
        if lead is not None:
            notify(unit_users(lead.unit, HANDLE_PERM), verb="co_opinion", target=proposal,
                   title=_("收到协办意见：%(t)s") % {"t": proposal.title})  # fmt: skip
    return proposal


# -- the reply ----------------------------------------------------------------------------------


def _attach_letters(proposal: Proposal, *, actor, files) -> list[int]:
    return [attach(proposal, actor=actor, name=f.name, upload=f).pk for f in files]


def proposal_submit_reply(
    *, actor, proposal: Proposal, text: str, classification: str, files=(), followup_due: dt.date | None = None,
    comment: str = "",
) -> Proposal:  # fmt: skip
    """The lead's reply letter (答复函): its text, class A/B/C/D and at least one letter file;
    for a B-class reply the planned date of the solution (the second reply's deadline; a working
    day). Goes to countersign when the Center asked for it, else to review. Every co-unit still on
    the proposal must have sent its opinion."""
    text = _text(text, "text")
    _choice(classification, Classification, "classification")
    files = list(files or [])
    if not files:
        raise refuse(_("请上传答复函文件。"), "required", "files")
    if followup_due is not None:
        if classification != Classification.B:
            raise refuse(_("只有 B 类答复需填写计划解决期限。"), "invalid", "followup_due", followup_due)
        followup_due = _working_day(followup_due, "followup_due")
        if followup_due <= as_local_date(now()):
            raise refuse(_("计划解决期限须晚于今天。"), "deadline_in_past", "followup_due", followup_due)
    if can_proceed(proposal.submit_reply) and _my_task(proposal, actor, UnitRole.LEAD) is not None:
        pending = proposal.tasks.filter(active=True, role=UnitRole.CO, opinion_at__isnull=True)
        if pending.exists():
            raise refuse(_("尚有协办单位未提交协办意见。"), "opinions_pending", "opinions",
                         ", ".join(str(t.unit) for t in pending), status=409)  # fmt: skip
    countersign = (
        proposal.countersign_required and proposal.tasks.filter(active=True, role=UnitRole.CO).exists()
    )
    at = now()
    with transaction.atomic():
        proposal = advance(proposal, "submit_reply", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                           countersign=countersign)  # fmt: skip
        ids = _attach_letters(proposal, actor=actor, files=files)
        ProposalReply.objects.create(
            proposal=proposal, kind=ReplyKind.FIRST, round=proposal.rounds, text=text,
            classification=classification, followup_due=followup_due, files=ids, submitted_by=actor, submitted_at=at,
        )  # fmt: skip
        proposal.tasks.filter(active=True, role=UnitRole.CO).update(
            countersigned_at=None, countersign_agreed=None, countersign_note=""
        )
    return proposal


def proposal_countersign(*, actor, proposal: Proposal, agree: bool, note: str = "") -> Proposal:
    """会签 by a co-unit: all agree → the Center's review; a disagreement (with a note) → back
    to the lead."""
    note = _text(note, "note", required=not agree, limit=2000)
    task = _my_task(proposal, actor, UnitRole.CO)
    if task is not None and task.countersigned_at is not None and can_proceed(proposal.countersign):
        raise refuse(_("本单位已会签。"), "already_signed", "agree", status=409)
    others = proposal.tasks.filter(active=True, role=UnitRole.CO, countersigned_at__isnull=True)
    all_done = task is not None and not others.exclude(pk=task.pk).exists()
    _check_task(proposal, "countersign", task)
    with transaction.atomic():
        return advance(proposal, "countersign", actor=actor, comment=note, audit_fields=AUDIT_FIELDS,
                       task=task, agree=bool(agree), note=note, at=now(), all_done=all_done)  # fmt: skip


def _current_reply(proposal: Proposal, kind: str = ReplyKind.FIRST) -> ProposalReply | None:
    return proposal.replies.filter(kind=kind).order_by("-submitted_at", "-id").first()


def proposal_review(*, actor, proposal: Proposal, approve: bool, reason: str = "") -> Proposal:
    """审核 by the Center: approved → the letter goes out (replied); otherwise back to the lead
    with a reason."""
    reason = _text(reason, "reason", required=not approve, limit=2000)
    reply = _current_reply(proposal)
    at = now()
    followup = None
    if approve and reply is not None and reply.classification == Classification.B:
        followup = reply.followup_due or deadlines.due_after(
            at, months=settings.GOVCENTER_CONGESTION_PROPOSAL_FOLLOWUP_MONTHS
        )
    with transaction.atomic():
        proposal = advance(proposal, "review", actor=actor, comment=reason, audit_fields=AUDIT_FIELDS,
                           reply=reply, approve=bool(approve), at=at, followup_due=followup)  # fmt: skip
        ProposalReply.objects.filter(pk=reply.pk).update(
            decision="approved" if approve else "returned", decision_note=reason
        )
        lead = proposal.tasks.filter(active=True, role=UnitRole.LEAD).first()
        if lead is not None:
            notify(unit_users(lead.unit, HANDLE_PERM), verb="reviewed", target=proposal, body=reason,
                   title=(_("答复已审核通过：%(t)s") if approve else _("答复被退回修改：%(t)s")) % {"t": proposal.title})  # fmt: skip
        search.index(proposal)
    return proposal


def proposal_rate(
    *, actor, proposal: Proposal, proposer: int, satisfaction: str, comment: str = ""
) -> Proposal:
    """One proposer's rating of the reply. 不满意 sends the proposal back to the lead for
    re-handling (a new round, due ``GOVCENTER_CONGESTION_PROPOSAL_REHANDLE_MONTHS`` later); once
    every proposer has rated this round it closes — or, for a B-class reply, waits for the second
    reply."""
    _choice(satisfaction, ProposalSatisfaction, "satisfaction")
    if not can_proceed(proposal.rate):  # not awaiting ratings: refused as illegal, before the proposer check
        return advance(proposal, "rate", actor=actor, audit_fields=AUDIT_FIELDS)
    person = proposal.proposers.filter(pk=getattr(proposer, "pk", proposer)).first()
    if person is None:
        raise refuse(_("不是本件的提案人。"), "invalid", "proposer", getattr(proposer, "pk", proposer))
    if person.rated_round == proposal.rounds:
        raise refuse(_("该提案人本轮已评价。"), "already_rated", "proposer", person.pk, status=409)
    at = now()
    due = None
    if satisfaction == ProposalSatisfaction.UNSATISFIED:
        outcome = ProposalState.HANDLING
        due = deadlines.due_after(at, months=settings.GOVCENTER_CONGESTION_PROPOSAL_REHANDLE_MONTHS)
    elif proposal.proposers.exclude(pk=person.pk).exclude(rated_round=proposal.rounds).exists():
        outcome = ProposalState.REPLIED
    elif proposal.classification == Classification.B and proposal.second_replied_at is None:
        outcome = ProposalState.AWAITING_SECOND
    else:
        outcome = ProposalState.CLOSED
    with transaction.atomic():
        proposal = advance(proposal, "rate", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                           proposer=person, satisfaction=satisfaction, at=at, outcome=outcome, due=due)  # fmt: skip
        if outcome == ProposalState.HANDLING:
            proposal.units.filter(role=UnitRole.LEAD).update(deadline=due)
            lead = proposal.tasks.filter(active=True, role=UnitRole.LEAD).first()
            if lead is not None:
                notify(unit_users(lead.unit, HANDLE_PERM), verb="rehandle", target=proposal,
                       title=_("代表委员不满意，请重新办理：%(t)s") % {"t": proposal.title},
                       sms_template="case_notice", sms_context={"deadline": due.isoformat()})  # fmt: skip
    return proposal


def proposal_second_reply(*, actor, proposal: Proposal, text: str, files=()) -> Proposal:
    """再次答复 of a B-class item once solved (text and a letter file): the proposal closes."""
    text = _text(text, "text")
    files = list(files or [])
    if not files:
        raise refuse(_("请上传答复函文件。"), "required", "files")
    at = now()
    with transaction.atomic():
        proposal = advance(proposal, "second_reply", actor=actor, audit_fields=AUDIT_FIELDS, at=at)
        ids = _attach_letters(proposal, actor=actor, files=files)
        ProposalReply.objects.create(
            proposal=proposal, kind=ReplyKind.SECOND, round=proposal.rounds, text=text,
            classification=Classification.A, files=ids, submitted_by=actor, submitted_at=at, decision="approved",
        )  # fmt: skip
        search.index(proposal)
    return proposal


# -- extension ----------------------------------------------------------------------------------


def proposal_request_extension(*, actor, proposal: Proposal, months: int, reason: str) -> Proposal:
    """The lead asks, before the due date and with a reason, for one extension of at most three
    months; a second request is refused."""
    reason = _text(reason, "reason", limit=2000)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise refuse(
            _("延期最多 %(n)d 个月。") % {"n": MAX_EXTENSION_MONTHS}, "extension_too_long", "months", months
        )
    if proposal.extension_status != ExtensionStatus.NONE and can_proceed(proposal.request_extension):
        raise refuse(
            _("每件只能申请一次延期。"), "extension_used", "months", proposal.extension_status, status=409
        )
    if (
        proposal.deadline is not None
        and as_local_date(now()) > proposal.deadline
        and can_proceed(proposal.request_extension)
    ):
        raise refuse(
            _("已超过办理期限，不能再申请延期。"),
            "extension_too_late",
            "months",
            proposal.deadline,
            status=409,
        )
    with transaction.atomic():
        proposal = advance(proposal, "request_extension", actor=actor, comment=reason, audit_fields=AUDIT_FIELDS,
                           months=months, reason=reason)  # fmt: skip
        approvers = unit_users(proposal.created_by.unit, "congestion.approve_proposal_extension") if (
            proposal.created_by and proposal.created_by.unit) else []  # fmt: skip
        notify(approvers, verb="extension_requested", target=proposal, body=reason,
               title=_("建议提案延期申请：%(t)s") % {"t": proposal.title})  # fmt: skip
    return proposal


def proposal_decide_extension(*, actor, proposal: Proposal, approve: bool, comment: str = "") -> Proposal:
    """The Center approves (the deadline moves by the months asked, to a working day) or
    refuses the pending extension request."""
    due = None
    if approve and proposal.deadline is not None:
        due = deadlines.due_after(proposal.deadline, months=proposal.extension_months or 1)
    with transaction.atomic():
        proposal = advance(proposal, "decide_extension", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                           approve=bool(approve), due=due)  # fmt: skip
        if approve:
            proposal.units.filter(role=UnitRole.LEAD).update(deadline=due)
        lead = proposal.tasks.filter(active=True, role=UnitRole.LEAD).first()
        if lead is not None:
            notify(unit_users(lead.unit, HANDLE_PERM), verb="extension_decided", target=proposal, body=comment,
                   title=(_("延期申请已批准：%(t)s") if approve else _("延期申请未批准：%(t)s")) % {"t": proposal.title})  # fmt: skip
    return proposal


# -- reads --------------------------------------------------------------------------------------


def proposal_statistics(user, *, year: int, body_type: str | None = None) -> dict[str, dict]:
    """Counts of the caller's proposals of ``year`` (their data scope): by state, by lead unit
    (unit id), by reply classification and by the proposers' latest ratings."""
    qs = Proposal.objects.restrict(user).filter(year=year)
    if body_type:
        qs = qs.filter(body_type=_choice(body_type, BodyType, "body_type"))

    def counts(queryset, field):
        return {
            row[field]: row["n"]
            for row in queryset.values(field).annotate(n=Count("pk", distinct=True)).order_by(field)
            if row[field] not in (None, "")
        }

    leads = ProposalTask.objects.filter(proposal__in=qs, active=True, role=UnitRole.LEAD)
    ratings = ProposalProposer.objects.filter(proposal__in=qs).exclude(satisfaction="")
    return {
        "total": {"proposals": qs.count()},
        "by_state": counts(qs, "state"),
        "by_lead_unit": dict(Counter(leads.values_list("unit_id", flat=True))),
        "by_classification": counts(qs, "classification"),
        "by_satisfaction": counts(ratings, "satisfaction"),
    }
