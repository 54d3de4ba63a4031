"""缓堵工作督查督办 services: the annual plan and its tasks (drafted by the Center, or imported from
Excel), decomposition into one sub-task per responsible unit, issue (下发: units assigned and
notified in-app + SMS), progress reports (进展报告), extension requests (延期申请, only before the due
date) and their decision, the completion report (完成情况报告), review (accept / send back) and
close-out (销号); and the units' scores (考核评分) and the dashboard's counts.

Scoring
-------
Each *item* is one unit's part in one issued task of the year (its ``CaseUnit``, with the unit's
own deadline); a responsible unit's part in a task decomposed for it is scored on the sub-task
instead (not twice). On the day ``on`` an item is

* **on time** — the task's completion report was accepted (accepted / closed) and was handed in
  no later than the unit's deadline; **late** — accepted, handed in after it;
* **overdue open** — not accepted and the deadline has passed; otherwise it is not yet assessed.

Per unit, with ``assessed = on_time + late + overdue_open`` and the weights of
``GOVCENTER_CONGESTION_SUPERVISION_SCORE``::

    completion = 100 × (on_time + late × late_credit_pct / 100) / assessed   (100 when assessed = 0)
    score = completion − missing_report × missing_reports − send_back × sends_back
                       − extension × approved_extensions,   clamped to 0–100, one decimal

``missing_reports`` counts, per item, the whole report periods
(``GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS``) since the unit was assigned — until the
completion report, or ``on`` — in which the unit sent no progress report; ``sends_back`` the
completion reports sent back on the item's task; ``approved_extensions`` the unit's approved
extension requests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from govcenter.core import audit, search, tabular
from govcenter.core.api.errors import ServiceError
from govcenter.core.attachments import attach
from govcenter.core.calendar import as_local_date
from govcenter.core.models import Unit
from govcenter.core.scope import scope_for

from ..models import (
    CaseUnit,
    ExtensionDecision,
    SupervisionExtension,
    SupervisionPlan,
    SupervisionReport,
    SupervisionState,
    SupervisionTask,
    UnitRole,
)
from ..models.supervision import RUNNING
from .cases import advance, assign_unit, deadline_for, next_number, now, refuse

PREFIX = "DB"
AUDIT_FIELDS = ["state", "deadline", "progress", "completed_at", "sends_back", "review_comment", "closed_at"]
MAX_BODY = 5000
NOTIFY_PERM = "congestion.report_supervisiontask"
DONE = (SupervisionState.ACCEPTED, SupervisionState.CLOSED)


def task_document(t: SupervisionTask) -> tuple[str, str]:
    """Title and body for the search index."""
    parts = [t.number, t.item_no, t.body, t.target, t.completion_text]
    return t.title, "\n".join(p for p in parts if p)


def _text(value, field: str, *, required: bool = True, limit: int = MAX_BODY) -> str:
    value = (value or "").strip()
    if required and not value:
        raise refuse(_("该项必填。"), "required", field)
    if len(value) > limit:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": limit}, "too_long", field, len(value))
    return value


def _files(task_or_row, actor, files) -> None:
    for upload in files or ():
        attach(task_or_row, actor=actor, name=getattr(upload, "name", ""), upload=upload)


def _actor_unit(actor, task: SupervisionTask) -> CaseUnit:
    link = task.units.filter(unit_id=getattr(actor, "unit_id", None)).first()
    if link is None:  # the transition's own permission refuses first; kept for direct calls
        raise ServiceError(_("您无权执行该操作。"), code="transition_forbidden", status=403)
    return link


# -- plans and tasks -----------------------------------------------------------------------------


def plan_create(*, actor, year: int, title: str) -> SupervisionPlan:
    """A year's action plan (年度行动计划); its tasks are added one by one or imported."""
    title = _text(title, "title", limit=200)
    if not 2000 <= int(year) <= 2100:
        raise refuse(_("年度无效。"), "invalid", "year", year)
    if SupervisionPlan.objects.filter(year=year, title=title).exists():
        raise refuse(_("该年度已有同名计划。"), "duplicate", "title", title, status=409)
    with transaction.atomic():
        plan = SupervisionPlan.objects.create(
            year=year, title=title, created_by=actor if getattr(actor, "pk", None) else None, created_at=now()
        )
        audit.record(
            action="congestion.supervisionplan.create",
            obj=plan,
            changes={"after": {"year": year, "title": title}},
        )
    return plan


def _planned(lead: Unit, responsible, deadline: dt.date) -> list[dict]:
    if lead is None:
        raise refuse(_("请指定牵头单位。"), "required", "lead")
    seen, rows = {lead.pk}, [{"unit": lead.pk, "role": UnitRole.LEAD.value, "deadline": deadline.isoformat()}]
    for unit in responsible or ():
        if unit.pk in seen:
            continue
        seen.add(unit.pk)
        rows.append({"unit": unit.pk, "role": UnitRole.RESPONSIBLE.value, "deadline": deadline.isoformat()})
    for unit in [lead, *(responsible or ())]:
        if not unit.is_active:
            raise refuse(
                _("该单位已停用。"), "unit_inactive", "lead" if unit is lead else "responsible", unit.pk
            )
    return rows


def task_create(
    *, actor, plan: SupervisionPlan, title: str, lead: Unit, deadline: dt.date, responsible=(), body: str = "",
    item_no: str = "", target: str = "", parent: SupervisionTask | None = None,
) -> SupervisionTask:  # fmt: skip
    """A drafted task of ``plan`` (``DB-<year>-NNNNN``): its lead and responsible units are planned
    (assigned and notified at issue), ``deadline`` a working day (refused otherwise, naming the
    next working day)."""
    title = _text(title, "title", limit=200)
    body, target = _text(body, "body", required=False), _text(target, "target", required=False)
    item_no = _text(item_no, "item_no", required=False, limit=30)
    at = now()
    due = deadline_for(at, day=deadline)
    planned = _planned(lead, responsible, due)
    year = as_local_date(at).year
    with transaction.atomic():
        task = SupervisionTask.objects.create(
            number=next_number(PREFIX, year), year=plan.year, title=title, body=body, deadline=due, plan=plan,
            parent=parent, item_no=item_no, target=target, planned_units=planned,
            created_by=actor if getattr(actor, "pk", None) else None, created_at=at,
        )  # fmt: skip
        audit.record(
            action="congestion.supervisiontask.create",
            obj=task,
            changes={"after": {"number": task.number, "plan": plan.pk, "item_no": item_no, "units": planned}},
        )
        search.index(task)
    return task


def _assign_planned(task: SupervisionTask, actor) -> None:
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[p["unit"] for p in task.planned_units])}
    for planned in task.planned_units:
        link = assign_unit(
            task, actor=actor, unit=units[planned["unit"]], role=planned["role"],
            deadline=dt.date.fromisoformat(planned["deadline"]),
            title=_("新下发督办任务：%(t)s") % {"t": task.title}, notify_perm=NOTIFY_PERM,
        )  # fmt: skip
        # assign_unit stamps the real time; a replayed issue keeps the services' clock.
        CaseUnit.objects.filter(pk=link.pk).update(assigned_at=now())


def task_issue(*, actor, task: SupervisionTask, comment: str = "") -> SupervisionTask:
    """下发: the planned units are assigned with their deadlines and notified (in-app + SMS); the
    task's drafted sub-tasks are issued with it."""
    with transaction.atomic():
        task = advance(task, "issue", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, at=now())
        _assign_planned(task, actor)
        for sub in task.subtasks.filter(state=SupervisionState.DRAFTED):
            sub = advance(sub, "issue", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, at=now())
            _assign_planned(sub, actor)
            search.index(sub)
        search.index(task)
    return task


def task_decompose(*, actor, task: SupervisionTask, comment: str = "") -> SupervisionTask:
    """分解: one sub-task for each responsible unit that has none yet — a case of its own, planned
    for that unit alone with its deadline (issued at once when the task already is)."""
    if task.parent_id is not None:
        raise refuse(_("分解任务不能再分解。"), "invalid", "task", task.number)
    have = set()
    for sub in task.subtasks.all():
        have.update(p["unit"] for p in sub.planned_units)
    todo = [p for p in task.planned_units if p["role"] == UnitRole.RESPONSIBLE and p["unit"] not in have]
    if not todo:
        raise refuse(_("没有待分解的责任单位。"), "nothing_to_decompose", "task", task.number, status=409)
    with transaction.atomic():
        task = advance(task, "decompose", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS)
        units = Unit.objects.in_bulk([p["unit"] for p in todo])
        for k, planned in enumerate(todo, start=len(have) + 1):
            unit = units[planned["unit"]]
            at = now()
            sub = SupervisionTask.objects.create(
                number=next_number(PREFIX, as_local_date(at).year), year=task.year,
                title=f"{task.title}（{unit.name_zh}）", body=task.body, target=task.target, plan=task.plan,
                parent=task, item_no=f"{task.item_no}-{k}" if task.item_no else str(k),
                deadline=dt.date.fromisoformat(planned["deadline"]),
                planned_units=[{**planned, "role": UnitRole.RESPONSIBLE.value}],
                created_by=actor if getattr(actor, "pk", None) else None, created_at=at,
            )  # fmt: skip
            audit.record(
                action="congestion.supervisiontask.create", obj=sub,
                changes={"after": {"number": sub.number, "parent": task.pk, "unit": unit.pk}},
            )  # fmt: skip
            if task.state != SupervisionState.DRAFTED:
                sub = advance(sub, "issue", actor=actor, audit_fields=AUDIT_FIELDS, at=now())
                _assign_planned(sub, actor)
            search.index(sub)
    return task


# -- the units' steps ----------------------------------------------------------------------------


def task_report_progress(
    *, actor, task: SupervisionTask, text: str, percent: int, files=(), comment: str = ""
) -> SupervisionTask:
    """进展报告 of the actor's unit: text, percent done (0–100), attachments."""
    text = _text(text, "text")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise refuse(_("完成进度须为 0–100 的整数。"), "invalid", "percent", percent)
    at = now()
    with transaction.atomic():
        task = advance(task, "report_progress", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                       percent=percent, at=at)  # fmt: skip
        report = SupervisionReport.objects.create(
            task=task, unit_id=actor.unit_id, text=text, percent=percent, reported_by=actor, reported_at=at
        )
        _files(report, actor, files)
        search.index(task)
    return task


def task_request_extension(
    *, actor, task: SupervisionTask, reason: str, deadline: dt.date, files=()
) -> SupervisionTask:
    """延期申请 of the actor's unit, only before its due date; the new date a working day after it."""
    reason = _text(reason, "reason")
    link = _actor_unit(actor, task) if task.state in RUNNING else None
    at = now()
    if link is not None:
        due = link.deadline or task.deadline
        if as_local_date(at) >= due:
            raise refuse(
                _("延期申请须在期限（%(d)s）之前提出。") % {"d": due.isoformat()},
                "extension_too_late",
                "deadline",
                due,
            )
        new = deadline_for(at, day=deadline)
        if new <= due:
            raise refuse(_("申请延期的日期须晚于原期限。"), "invalid", "deadline", new)
    with transaction.atomic():
        task = advance(task, "request_extension", actor=actor, comment=reason, audit_fields=AUDIT_FIELDS)
        row = SupervisionExtension.objects.create(
            task=task, unit_id=link.unit_id, reason=reason, old_deadline=due, new_deadline=new,
            requested_by=actor, requested_at=at,
        )  # fmt: skip
        _files(row, actor, files)
    return task


def _pending_extension(task: SupervisionTask) -> SupervisionExtension | None:
    """The open request (None when there is none: the transition then refuses, 409)."""
    pending = task.extensions.select_for_update().filter(decision=ExtensionDecision.PENDING)
    return pending.order_by("-requested_at", "-id").first()


def _decide(ext: SupervisionExtension | None, decision: str, actor, comment: str) -> None:
    if ext is not None:
        ext.decision, ext.decided_by, ext.decided_at, ext.comment = decision, actor, now(), comment
        ext.save(update_fields=["decision", "decided_by", "decided_at", "comment"])


def task_approve_extension(*, actor, task: SupervisionTask, comment: str = "") -> SupervisionTask:
    """The Center approves: the unit's deadline (and the task's, when later) moves to the date asked."""
    comment = _text(comment, "comment", required=False, limit=1000)
    with transaction.atomic():
        ext = _pending_extension(task)
        new_task_deadline = max(task.deadline, ext.new_deadline) if ext else task.deadline
        task = advance(task, "approve_extension", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS,
                       deadline=new_task_deadline)  # fmt: skip
        task.units.filter(unit_id=ext.unit_id).update(deadline=ext.new_deadline)
        _decide(ext, ExtensionDecision.APPROVED, actor, comment)
    return task


def task_refuse_extension(*, actor, task: SupervisionTask, comment: str) -> SupervisionTask:
    """The Center refuses (the reason is required); the deadline stays."""
    comment = _text(comment, "comment", limit=1000)
    with transaction.atomic():
        ext = _pending_extension(task)
        task = advance(task, "refuse_extension", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS)
        _decide(ext, ExtensionDecision.REFUSED, actor, comment)
    return task


def task_report_completion(*, actor, task: SupervisionTask, text: str, files=()) -> SupervisionTask:
    """完成情况报告 (with its files): the task goes to the Center's review."""
    text = _text(text, "text")
    with transaction.atomic():
        task = advance(task, "report_completion", actor=actor, audit_fields=AUDIT_FIELDS, text=text, at=now())
        _files(task, actor, files)
        search.index(task)
    return task


def task_accept(*, actor, task: SupervisionTask, comment: str = "") -> SupervisionTask:
    """审核通过."""
    comment = _text(comment, "comment", required=False, limit=1000)
    return advance(task, "accept", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, remark=comment)


def task_send_back(*, actor, task: SupervisionTask, reason: str) -> SupervisionTask:
    """审核退回 with a reason: the task is in progress again."""
    reason = _text(reason, "reason", limit=1000)
    return advance(task, "send_back", actor=actor, comment=reason, audit_fields=AUDIT_FIELDS, reason=reason)


def task_close_out(*, actor, task: SupervisionTask, comment: str = "") -> SupervisionTask:
    """销号."""
    with transaction.atomic():
        task = advance(task, "close_out", actor=actor, comment=comment, audit_fields=AUDIT_FIELDS, at=now())
        search.index(task)
    return task


# -- warnings ------------------------------------------------------------------------------------


def report_missing(task: SupervisionTask, *, at: dt.datetime | None = None) -> bool:
    """A running task whose last progress report (or issue) is older than the report period."""
    if task.state not in RUNNING or task.issued_at is None:
        return False
    last = task.last_report_at or task.issued_at
    return (at or now()) - last > dt.timedelta(days=settings.GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS)


# -- import --------------------------------------------------------------------------------------

IMPORT_COLUMNS = [
    tabular.Column("item_no", "序号", example="一、3"),
    tabular.Column("title", "任务名称", True, example="推进重点区域交通综合治理"),
    tabular.Column("body", "任务内容", example="完成学校周边交通秩序整治"),
    tabular.Column("lead", "牵头单位", True, example="BTCGC-COORD"),
    tabular.Column("responsible", "责任单位", example="东城区交通委、西城区交通委"),
    tabular.Column("deadline", "完成时限", True, type="date", example="2026-06-30"),
    tabular.Column("target", "工作目标", example="高峰时段平均车速提高 5%"),
]
IMPORT_MAX_ROWS = 2000
IMPORT_MAX_BYTES = 5 * 1024 * 1024


def _unit_lookup() -> dict[str, Unit]:
    units = {}
    for unit in Unit.objects.filter(is_active=True):
        units.setdefault(unit.name_zh, unit)
        units[unit.code] = unit
    return units


def plan_import(actor, plan: SupervisionPlan, data: bytes, filename: str) -> tabular.ImportResult:
    """The plan's tasks from an Excel / CSV file (columns :data:`IMPORT_COLUMNS`; units by code or
    name, several responsible units separated by 、 or ,): every row or none. A bad file raises
    ServiceError; bad rows come back in ``result.errors`` (row, column, message) with nothing kept."""
    try:
        table = tabular.read_table(
            data, filename, IMPORT_COLUMNS, max_bytes=IMPORT_MAX_BYTES, max_rows=IMPORT_MAX_ROWS
        )
    except tabular.TableFileError as exc:
        raise ServiceError(
            exc.messages[0], code=exc.code or "bad_file", status=400, details={"file": [filename]}
        ) from None
    result = tabular.ImportResult(kind="supervision_tasks", dry_run=False)
    result.rows = len(table)
    units = _unit_lookup()
    with transaction.atomic():
        for rownum, raw in table:
            values = tabular.parse_cells(IMPORT_COLUMNS, rownum, raw, result)
            lead = units.get(raw.get("lead", "")) if raw.get("lead") else None
            if raw.get("lead") and lead is None:
                result.error(rownum, "lead", _("未知单位：%(u)s") % {"u": raw["lead"]})
            names = [n.strip() for n in re.split(r"[、,，]", raw.get("responsible", "")) if n.strip()]
            for name in names:
                if name not in units:
                    result.error(rownum, "responsible", _("未知单位：%(u)s") % {"u": name})
            if values is None or lead is None or any(name not in units for name in names):
                continue
            responsible = [units[name] for name in names]
            tabular.run_row(
                rownum,
                lambda v=values, ld=lead, rs=responsible: _import_row(actor, plan, v, ld, rs),
                result,
                columns=IMPORT_COLUMNS,
                key_column="title",
            )
        if not result.ok:
            transaction.set_rollback(True)
            result.created = 0
        else:
            audit.record(action="congestion.supervisionplan.import", obj=plan,
                         changes={"file": filename, "rows": result.rows, "created": result.created})  # fmt: skip
    return result


def _import_row(actor, plan, values: dict, lead: Unit, responsible: list[Unit]) -> str:
    try:
        task_create(actor=actor, plan=plan, title=values["title"], body=values.get("body", ""),
                    item_no=values.get("item_no", ""), target=values.get("target", ""), lead=lead,
                    responsible=responsible, deadline=values["deadline"])  # fmt: skip
    except ServiceError as exc:  # as a ValidationError naming the column, for tabular.run_row
        field = next(iter(exc.details or {"title": []}))
        raise ValidationError({field: [str(exc.detail)]}) from None
    return "created"


# -- scoring and the dashboard -------------------------------------------------------------------


def _items(year: int) -> list[tuple[SupervisionTask, CaseUnit]]:
    """(task, unit link) of the year's issued tasks; a responsible unit's part in a task that was
    decomposed for it is scored on its sub-task instead."""
    tasks = {
        t.pk: t for t in SupervisionTask.objects.filter(year=year).exclude(state=SupervisionState.DRAFTED)
    }
    links = CaseUnit.objects.filter(
        content_type=ContentType.objects.get_for_model(SupervisionTask), object_id__in=list(tasks)
    )
    decomposed = {(t.parent_id, link.unit_id) for link in links if (t := tasks[link.object_id]).parent_id}
    return [
        (tasks[link.object_id], link)
        for link in links
        if not (link.role == UnitRole.RESPONSIBLE and (link.object_id, link.unit_id) in decomposed)
    ]


def unit_scores(*, year: int, on: dt.date | None = None, units=None) -> list[dict]:
    """Each unit's score for ``year`` as of ``on`` (default today), best first: the counts and the
    score of the module docstring. ``units`` (ids) narrows the result."""
    weights = settings.GOVCENTER_CONGESTION_SUPERVISION_SCORE
    period = dt.timedelta(days=settings.GOVCENTER_CONGESTION_SUPERVISION_REPORT_DAYS)
    moment = now()
    on = on or as_local_date(moment)
    items = _items(year)
    task_ids = {t.pk for t, _link in items}
    reports = defaultdict(list)
    for task_id, unit_id, at in SupervisionReport.objects.filter(task_id__in=task_ids).values_list(
        "task_id", "unit_id", "reported_at"
    ):
        reports[(task_id, unit_id)].append(at)
    extensions = Counter(
        SupervisionExtension.objects.filter(
            task_id__in=task_ids, decision=ExtensionDecision.APPROVED
        ).values_list("unit_id", flat=True)
    )
    rows: dict[int, Counter] = defaultdict(Counter)
    for task, link in items:
        row = rows[link.unit_id]
        row["tasks"] += 1
        due = link.deadline or task.deadline
        if task.state in DONE and task.completed_at is not None:
            row["on_time" if as_local_date(task.completed_at) <= due else "late"] += 1
        elif due is not None and due < on:
            row["overdue_open"] += 1
        row["sends_back"] += task.sends_back
        start, end = task.issued_at or link.assigned_at, task.completed_at or moment
        seen = sorted(reports[(task.pk, link.unit_id)])
        k = 0
        while start + (k + 1) * period <= end:
            lo, hi = start + k * period, start + (k + 1) * period
            if not any(lo <= at < hi for at in seen):
                row["missing_reports"] += 1
            k += 1
    names = Unit.objects.in_bulk(list(rows))
    out = []
    for unit_id, row in rows.items():
        if units is not None and unit_id not in units:
            continue
        row["extensions"] = extensions.get(unit_id, 0)
        assessed = row["on_time"] + row["late"] + row["overdue_open"]
        completion = (
            100.0 * (row["on_time"] + row["late"] * weights["late_credit_pct"] / 100) / assessed
            if assessed
            else 100.0
        )
        score = (
            completion
            - weights["missing_report"] * row["missing_reports"]
            - weights["send_back"] * row["sends_back"]
            - weights["extension"] * row["extensions"]
        )
        keys = ("tasks", "on_time", "late", "overdue_open", "missing_reports", "sends_back", "extensions")
        out.append({
            "unit": unit_id, "unit_code": names[unit_id].code, "unit_name": names[unit_id].name_zh,
            **{key: row[key] for key in keys}, "score": round(min(100.0, max(0.0, score)), 1),
        })  # fmt: skip
    return sorted(out, key=lambda r: (-r["score"], r["unit_code"]))


def supervision_stats(*, user, year: int, on: dt.date | None = None) -> dict:
    """The dashboard's figures for ``year`` within the user's scope: counts by state, by unit (with
    the overdue ones) and the scores — of every unit for a city-wide scope, else of the user's
    own unit(s)."""
    on = on or as_local_date(now())
    visible = SupervisionTask.objects.restrict(user).filter(year=year)
    by_state = dict(visible.values_list("state").annotate(n=Count("id")).order_by())
    links = CaseUnit.objects.filter(
        content_type=ContentType.objects.get_for_model(SupervisionTask), object_id__in=visible.values("pk")
    )
    overdue = Q(object_id__in=SupervisionTask.objects.filter(state__in=RUNNING, deadline__lt=on).values("pk"))
    by_unit = list(
        links.values("unit", "unit__code", "unit__name_zh")
        .annotate(tasks=Count("id"), overdue=Count("id", filter=overdue))
        .order_by("unit__code")
    )
    scope = scope_for(user)
    if not scope.all:  # a unit sees its own figures, not those of the units it works beside
        by_unit = [row for row in by_unit if row["unit"] in scope.unit_ids]
    unit_ids = {row["unit"] for row in by_unit}
    return {
        "year": year,
        "by_state": {state: by_state.get(state, 0) for state in SupervisionState.values},
        "by_unit": [
            {
                "unit": r["unit"],
                "unit_code": r["unit__code"],
                "unit_name": r["unit__name_zh"],
                "tasks": r["tasks"],
                "overdue": r["overdue"],
            }
            for r in by_unit
        ],  # fmt: skip
        "scores": unit_scores(year=year, on=on, units=unit_ids),
    }
