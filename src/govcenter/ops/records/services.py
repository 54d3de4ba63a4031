"""Writes of the work records: daily O&M logs, changes and releases, training sessions.

Every write runs in a transaction and is audited. An engineer writes and edits only their own
logs; a log is edited freely on its own day, afterwards only with a reason (kept in the audit
entry). Changes are approved by the Center (``ops.approve_changerecord``) before they are
executed. A training session lists its invited attendees; attendance and feedback (score 1–5)
are recorded per attendee; its material is a kernel attachment.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import (
    ChangeKind,
    ChangeRecord,
    ChangeResult,
    TrainingAttendance,
    TrainingSession,
    WorkCategory,
    WorkLog,
)

WORKLOG_FIELDS = ["engineer_id", "date", "category", "start_time", "end_time", "summary", "details", "incident_id",
                  "change_id"]  # fmt: skip
CHANGE_FIELDS = ["number", "title", "kind", "version", "planned_start", "planned_end", "approved_by_id",
                 "executed_at", "result"]  # fmt: skip


def _need(actor, permission: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_perm(permission):
        raise PermissionDenied(_("没有权限。"))


def _invalid(message: str, **details) -> ServiceError:
    return ServiceError(message, code="invalid", details={k: [str(v)] for k, v in details.items()})


def _check_worklog(data: dict, actor) -> dict:
    clean = dict(data)
    if clean.get("category") not in WorkCategory.values:
        raise _invalid(_("未知的类别。"), category=clean.get("category"))
    clean["summary"] = (clean.get("summary") or "").strip()
    if not clean["summary"]:
        raise _invalid(_("请填写摘要。"), summary=_("必填"))
    if not clean.get("start_time") or not clean.get("end_time") or clean["end_time"] <= clean["start_time"]:
        raise _invalid(_("结束时间须晚于开始时间。"), end_time=clean.get("end_time"))
    if clean.get("date") is None or clean["date"] > timezone.localdate():
        raise _invalid(_("日期不能晚于今天。"), date=clean.get("date"))
    for name in ("incident", "change"):
        obj = clean.get(name)
        if obj is not None and not type(obj).objects.restrict(actor).filter(pk=obj.pk).exists():
            raise _invalid(_("关联对象不在您的数据范围内。"), **{name: obj.pk})
    return clean


@transaction.atomic
def worklog_create(
    *, actor, date: dt.date, category: str, start_time: dt.time, end_time: dt.time, summary: str,
    details: str = "", incident=None, change=None, demo: bool = False,
) -> WorkLog:  # fmt: skip
    """The actor's own log entry, in the actor's unit."""
    _need(actor, "ops.add_worklog")
    if actor.unit_id is None:
        raise _invalid(_("您没有所属单位，不能填写工作日志。"), unit="—")
    data = _check_worklog({"date": date, "category": category, "start_time": start_time, "end_time": end_time,
                           "summary": summary, "incident": incident, "change": change}, actor)  # fmt: skip
    log = WorkLog.objects.create(engineer=actor, unit_id=actor.unit_id, date=data["date"], category=category,
                                 start_time=start_time, end_time=end_time, summary=data["summary"][:200],
                                 details=details or "", incident=incident, change=change, demo=demo)  # fmt: skip
    audit.record(action="ops.worklog.create", obj=log, changes=audit.diff({}, audit.snapshot(log, WORKLOG_FIELDS)))
    return log


def worklog_editable(log: WorkLog, actor, *, today: dt.date | None = None) -> tuple[bool, bool]:
    """(may edit at all, needs a reason): own logs only; after their day, with a reason."""
    if actor is None or log.engineer_id != actor.pk or not actor.has_perm("ops.change_worklog"):
        return False, False
    return True, log.date != (today or timezone.localdate())


@transaction.atomic
def worklog_update(*, actor, log: WorkLog, reason: str = "", **changes) -> WorkLog:
    """Edit one's own log: on its day freely, later only with a reason (audited)."""
    log = WorkLog.objects.select_for_update().get(pk=log.pk)
    allowed, needs_reason = worklog_editable(log, actor)
    if not allowed:
        raise PermissionDenied(_("只能修改本人的工作日志。"))
    reason = (reason or "").strip()
    if needs_reason and not reason:
        raise _invalid(_("修改以前日期的工作日志须填写原因。"), reason=_("必填"))
    unknown = set(changes) - {"date", "category", "start_time", "end_time", "summary", "details", "incident", "change"}
    if unknown:
        raise _invalid(_("不能修改这些字段。"), fields=", ".join(sorted(unknown)))
    before = audit.snapshot(log, WORKLOG_FIELDS)
    current = {"date": log.date, "category": log.category, "start_time": log.start_time, "end_time": log.end_time,
               "summary": log.summary, "details": log.details, "incident": log.incident, "change": log.change}
    current.update(changes)
    data = _check_worklog(current, actor)
    for name, value in data.items():
        setattr(log, name, value)
    log.save()
    audit.record(action="ops.worklog.update", obj=log, changes=audit.diff(before, audit.snapshot(log, WORKLOG_FIELDS)),
                 reason=reason)  # fmt: skip
    return log


def _next_change_number(planned: dt.datetime) -> str:
    prefix = f"BG-{timezone.localtime(planned).year}-"
    last = ChangeRecord.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True).first()
    return f"{prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:05d}"


@transaction.atomic
def change_create(
    *, actor, title: str, kind: str, unit, planned_start: dt.datetime, planned_end: dt.datetime,
    description: str = "", version: str = "", demo: bool = False,
) -> ChangeRecord:  # fmt: skip
    """Register a planned change or release (not yet approved)."""
    _need(actor, "ops.add_changerecord")
    title = (title or "").strip()
    if not title:
        raise _invalid(_("请填写标题。"), title=_("必填"))
    if kind not in ChangeKind.values:
        raise _invalid(_("未知的类型。"), kind=kind)
    if planned_end <= planned_start:
        raise _invalid(_("计划结束须晚于计划开始。"), planned_end=planned_end.isoformat())
    from govcenter.core.models import Unit

    if not Unit.objects.restrict(actor).filter(pk=unit.pk).exists():
        raise _invalid(_("单位不在您的数据范围内。"), unit=unit.pk)
    row = ChangeRecord.objects.create(number=_next_change_number(planned_start), title=title[:200], kind=kind,
                                      unit=unit, description=description, version=version[:50],
                                      planned_start=planned_start, planned_end=planned_end,
                                      created_by=actor, demo=demo)  # fmt: skip
    audit.record(action="ops.change.create", obj=row, changes=audit.diff({}, audit.snapshot(row, CHANGE_FIELDS)))
    return row


def _locked_change(actor, change: ChangeRecord) -> ChangeRecord:
    row = ChangeRecord.objects.restrict(actor).select_for_update().filter(pk=change.pk).first()
    if row is None:
        raise PermissionDenied(_("变更不在您的数据范围内。"))
    return row


@transaction.atomic
def change_approve(*, actor, change: ChangeRecord, at: dt.datetime | None = None) -> ChangeRecord:
    """The Center approves a planned change (once, before it is executed)."""
    _need(actor, "ops.approve_changerecord")
    row = _locked_change(actor, change)
    if row.approved_at is not None:
        raise ServiceError(_("变更已批准。"), code="conflict", status=409)
    before = audit.snapshot(row, CHANGE_FIELDS)
    row.approved_by, row.approved_at = actor, at or timezone.now()
    row.save(update_fields=["approved_by", "approved_at"])
    audit.record(action="ops.change.approve", obj=row, changes=audit.diff(before, audit.snapshot(row, CHANGE_FIELDS)))
    return row


@transaction.atomic
def change_execute(*, actor, change: ChangeRecord, executed_at: dt.datetime, result: str) -> ChangeRecord:
    """Record the execution and its result (an approved change only)."""
    _need(actor, "ops.change_changerecord")
    row = _locked_change(actor, change)
    if row.approved_at is None:
        raise ServiceError(_("变更未经批准，不能执行。"), code="not_approved", status=409)
    if row.result:
        raise ServiceError(_("变更已执行。"), code="conflict", status=409)
    if result not in {ChangeResult.SUCCESS, ChangeResult.ROLLED_BACK, ChangeResult.FAILED}:
        raise _invalid(_("未知的结果。"), result=result)
    if executed_at > timezone.now() + dt.timedelta(minutes=5):
        raise _invalid(_("执行时间不能晚于现在。"), executed_at=executed_at.isoformat())
    before = audit.snapshot(row, CHANGE_FIELDS)
    row.executed_at, row.result = executed_at, result
    row.save(update_fields=["executed_at", "result"])
    audit.record(action="ops.change.execute", obj=row, changes=audit.diff(before, audit.snapshot(row, CHANGE_FIELDS)))
    return row


@transaction.atomic
def training_create(
    *, actor, unit, date: dt.date, topic: str, trainer: str, duration_minutes: int, attendees=(),
    demo: bool = False,
) -> TrainingSession:  # fmt: skip
    """A training session with its invited attendees (users of the session's unit)."""
    _need(actor, "ops.add_trainingsession")
    topic, trainer = (topic or "").strip(), (trainer or "").strip()
    if not topic or not trainer:
        raise ServiceError(_("请填写主题和讲师。"), code="invalid",
                           details={k: [_("必填")] for k, v in (("topic", topic), ("trainer", trainer)) if not v})  # fmt: skip
    if not isinstance(duration_minutes, int) or duration_minutes <= 0:
        raise _invalid(_("时长须为正整数（分钟）。"), duration_minutes=duration_minutes)
    from govcenter.core.models import Unit

    if not Unit.objects.restrict(actor).filter(pk=unit.pk).exists():
        raise _invalid(_("单位不在您的数据范围内。"), unit=unit.pk)
    session = TrainingSession.objects.create(unit=unit, date=date, topic=topic[:200], trainer=trainer[:100],
                                             duration_minutes=duration_minutes, created_by=actor, demo=demo)  # fmt: skip
    users = list(attendees)
    for user in users:
        TrainingAttendance.objects.create(session=session, user=user)
    audit.record(action="ops.training.create", obj=session,
                 changes={"after": {**audit.snapshot(session, ["unit_id", "date", "topic", "trainer",
                                                               "duration_minutes"]),
                                    "attendees": [u.pk for u in users]}})  # fmt: skip
    return session


@transaction.atomic
def training_feedback(
    *, actor, session: TrainingSession, user, attended: bool, score: int | None = None, comment: str = ""
) -> TrainingAttendance:
    """Attendance and feedback of one attendee: by the attendee, or by whoever may edit sessions."""
    if actor.pk != user.pk:
        _need(actor, "ops.change_trainingsession")
    if not TrainingSession.objects.restrict(actor).filter(pk=session.pk).exists() and actor.pk != user.pk:
        raise PermissionDenied(_("培训不在您的数据范围内。"))
    if score is not None and (not isinstance(score, int) or not 1 <= score <= 5):
        raise _invalid(_("评分须为 1–5。"), score=score)
    row = TrainingAttendance.objects.select_for_update().filter(session=session, user=user).first()
    if row is None:
        raise _invalid(_("不是本次培训的参训人。"), user=user.pk)
    before = audit.snapshot(row, ["attended", "score", "comment"])
    row.attended, row.score, row.comment = bool(attended), score, (comment or "").strip()[:500]
    row.save()
    audit.record(action="ops.training.feedback", obj=session,
                 changes=audit.diff(before, audit.snapshot(row, ["attended", "score", "comment"])))  # fmt: skip
    return row


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months [start, end] touches."""
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(cursor)
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    return months


def training_completeness(sessions, start: dt.date, end: dt.date) -> list[dict]:
    """Per month of [start, end]: the sessions held; a month without one is flagged."""
    by_month: dict[dt.date, int] = {}
    for day in sessions.filter(date__gte=start.replace(day=1), date__lte=end).values_list("date", flat=True):
        by_month[day.replace(day=1)] = by_month.get(day.replace(day=1), 0) + 1
    return [{"month": m, "label": f"{m:%Y-%m}", "sessions": by_month.get(m, 0), "missing": not by_month.get(m)}
            for m in month_starts(start, end)]  # fmt: skip
