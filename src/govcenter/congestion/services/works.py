"""Services of the two project kinds: 疏堵工程 (relief works) and 交通基础设施项目 (infrastructure).

The shared part (``project_*``) registers a project with its responsible unit, planned
milestones on working days and a working-day completion deadline; records a milestone reached
and a progress report (percent 0–100, never backwards without a reason; an infrastructure
month report once a month). Each kind adds its steps; every step is a workflow transition
(``cases.advance``: history + audit + lock), keeps the search index current and writes
nothing on a refusal. :func:`project_statistics` feeds the dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from govcenter.core import attachments, audit, deadlines, search
from govcenter.core.calendar import as_local_date
from govcenter.core.models import District, Unit

from ..models import (
    OPEN_STAGES,
    Better,
    InfraProject,
    InvestmentPlan,
    Milestone,
    ProgressReport,
    ProjectRisk,
    ReliefWork,
    RiskKind,
    RiskLevel,
    Stage,
    StageApproval,
    UnitRole,
    WorkCategory,
    WorkIndicator,
    WorkState,
)
from .cases import advance, assign_unit, check_location, deadline_for, next_number, now, refuse

WORK_PREFIX, INFRA_PREFIX = "GC", "JS"
WORK_AUDIT = ["state", "deadline", "progress_pct", "suspended_from", "suspend_reason", "closed_at"]
INFRA_AUDIT = ["state", "deadline", "progress_pct", "closed_at"]
MAX_TEXT = 5000
WORK_OPEN = (WorkState.PLANNED, WorkState.CONSTRUCTION)
MAX_MILESTONES = 30
FEN_PER_WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 分


def wan_to_fen(value, field: str) -> int:
    """An amount in 万元 (up to 6 decimals) as exact integer fen; refused if not exact."""
    try:
        fen = Decimal(str(value)) * FEN_PER_WAN
    except InvalidOperation:
        raise refuse(_("金额无效。"), "invalid", field, value) from None
    if fen != fen.to_integral_value():
        raise refuse(_("金额最多精确到分。"), "invalid", field, value)
    return int(fen)


def _choice(value, choices, field: str):
    if value not in choices.values:
        raise refuse(_("“%(v)s”不是有效的选项。") % {"v": value}, "invalid_choice", field, value)
    return value


def _text(value, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise refuse(_("此项必填。"), "required", field)
    if len(value) > limit:
        raise refuse(_("内容过长（最多 %(n)d 字）。") % {"n": limit}, "too_long", field, len(value))
    return value


def _workday(day: dt.date, field: str) -> dt.date:
    """``day`` when it is a working day; refused naming the next working day otherwise."""
    try:
        return deadlines.check_deadline(day)
    except deadlines.DeadlineError as exc:
        raise refuse(str(exc), "not_workday", field, exc.suggestion) from None


def _not_future(day: dt.date, field: str) -> dt.date:
    if day > as_local_date(now()):
        raise refuse(_("日期不能晚于今天。"), "date_in_future", field, day)
    return day


def _check_milestones(milestones, deadline: dt.date) -> list[tuple[str, dt.date]]:
    if len(milestones or []) > MAX_MILESTONES:
        raise refuse(_("里程碑过多（最多 %(n)d 个）。") % {"n": MAX_MILESTONES}, "too_many", "milestones")
    clean = []
    for i, item in enumerate(milestones or []):
        name = _text(item.get("name"), f"milestones[{i}].name", limit=100)
        planned = item.get("planned_on")
        if not isinstance(planned, dt.date):
            try:
                planned = dt.date.fromisoformat(str(planned))
            except ValueError:
                raise refuse(_("日期无效。"), "invalid", f"milestones[{i}].planned_on", planned) from None
        planned = _workday(planned, f"milestones[{i}].planned_on")
        if planned > deadline:
            raise refuse(
                _("里程碑不能晚于项目完成期限。"), "after_deadline", f"milestones[{i}].planned_on", planned
            )
        clean.append((name, planned))
    if len({name for name, _day in clean}) != len(clean):
        raise refuse(_("里程碑名称重复。"), "duplicate", "milestones")
    return clean


def project_register(
    model, *, actor, prefix: str, notify_perm: str, title: str, body: str = "", location=None,
    district: District | None = None, unit: Unit, deadline: dt.date, milestones=(), **fields,
):  # fmt: skip
    """Register a project of ``model``: numbered ``<prefix>-<year>-NNNNN``, its responsible unit
    assigned (and notified), its milestones planned. Call inside the caller's transaction."""
    title, body = _text(title, "title", limit=200), _text(body, "body", required=False)
    location, located = check_location(location)
    at = now()
    due = deadline_for(at, day=deadline)
    planned = _check_milestones(milestones, due)
    year = as_local_date(at).year
    project = model(
        number=next_number(prefix, year), year=year, title=title, body=body, location=location,
        district=district or located, deadline=due, created_by=actor if getattr(actor, "pk", None) else None,
        created_at=at, **fields,
    )  # fmt: skip
    project.save()
    Milestone.objects.bulk_create(
        Milestone(case=project, seq=i + 1, name=name, planned_on=day) for i, (name, day) in enumerate(planned)
    )
    assign_unit(
        project, actor=actor, unit=unit, role=UnitRole.RESPONSIBLE, deadline=due,
        title=_("新交办项目：%(t)s") % {"t": project.title}, notify_perm=notify_perm,
    )  # fmt: skip
    audit.record(
        action=f"congestion.{model._meta.model_name}.register",
        obj=project,
        changes={"after": {"number": project.number, "unit": unit.pk, "deadline": due.isoformat(),
                           "milestones": [[n, d.isoformat()] for n, d in planned], **{
                               k: v for k, v in fields.items() if isinstance(v, int | str)}}},
    )  # fmt: skip
    return project


def project_milestone(
    *, actor, case, milestone: Milestone, actual_on: dt.date, audit_fields, comment: str = ""
):
    """Record that ``milestone`` of ``case`` was reached on ``actual_on`` (not in the future)."""
    if (milestone.content_type.model_class(), milestone.object_id) != (type(case), case.pk):
        raise refuse(_("该里程碑不属于此项目。"), "invalid", "milestone", milestone.pk)
    _not_future(actual_on, "actual_on")
    with transaction.atomic():
        case = advance(case, "milestone", actor=actor, comment=comment or f"{milestone.name} {actual_on}",
                       audit_fields=audit_fields)  # fmt: skip
        Milestone.objects.filter(pk=milestone.pk).update(actual_on=actual_on)
        search.index(case)
    return case


def project_report(
    *, actor, case, percent: int, note: str, reason: str = "", audit_fields, month: dt.date | None = None,
    invested_fen: int | None = None,
) -> tuple:  # fmt: skip
    """A progress report: ``percent`` 0–100, lower than the last one only with a ``reason``; a
    month report (``month``) once per project and month, its investment not negative."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise refuse(_("完成百分比须在 0 到 100 之间。"), "out_of_range", "percent", percent)
    note, reason = _text(note, "note"), _text(reason, "reason", required=False, limit=500)
    if percent < case.progress_pct and not reason:
        raise refuse(
            _("完成百分比低于上次报告的 %(p)d%%，请说明原因。") % {"p": case.progress_pct},
            "progress_backwards", "reason", percent,
        )  # fmt: skip
    if invested_fen is not None and invested_fen < 0:
        raise refuse(_("完成投资不能为负数。"), "negative_amount", "invested_fen", invested_fen)
    if month is not None:
        month = month.replace(day=1)
        if month > as_local_date(now()):
            raise refuse(_("不能填报未来月份的月报。"), "date_in_future", "month", month)
        if case.reports.filter(month=month).exists():
            raise refuse(_("%(m)s 的月报已填报。") % {"m": f"{month:%Y-%m}"}, "duplicate_report", "month",
                         f"{month:%Y-%m}", status=409)  # fmt: skip
    with transaction.atomic():
        case = advance(case, "report", actor=actor, comment=reason or note[:200], audit_fields=audit_fields,
                       percent=percent)  # fmt: skip
        try:
            with transaction.atomic():
                report = ProgressReport.objects.create(
                    case=case, percent=percent, note=note, reason=reason, month=month, invested_fen=invested_fen,
                    reported_by=actor if getattr(actor, "pk", None) else None, reported_at=now(),
                )  # fmt: skip
        except IntegrityError:  # the same month reported at the same moment by someone else
            raise refuse(_("%(m)s 的月报已填报。") % {"m": f"{month:%Y-%m}"}, "duplicate_report", "month",
                         f"{month:%Y-%m}", status=409) from None  # fmt: skip
        search.index(case)
    return case, report


def project_document(project) -> tuple[str, str]:
    """Title and body for the search index."""
    parts = [project.number, project.body, *(m.name for m in project.milestones.all())]
    parts += [r.note for r in project.reports.all()]
    return project.title, "\n".join(p for p in parts if p)


def _attach_all(obj, files, actor) -> None:
    for upload in files or ():
        attachments.attach(obj, actor=actor, name=upload.name, upload=upload)


# --- 疏堵工程 ----------------------------------------------------------------------------


def _indicator(item: dict, i: int, *, after: bool) -> dict:
    prefix = f"indicators[{i}]"
    clean = {}
    for key in (
        ("after_value", "after_on") if after else ("name", "unit", "better", "before_value", "before_on")
    ):
        value = item.get(key)
        if value in (None, ""):
            raise refuse(_("此项必填。"), "required", f"{prefix}.{key}")
        clean[key] = value
    if not after:
        clean["name"], clean["unit"] = (
            _text(clean["name"], f"{prefix}.name", limit=60),
            str(clean["unit"])[:20],
        )
        _choice(clean["better"], Better, f"{prefix}.better")
    key = "after" if after else "before"
    try:
        clean[f"{key}_value"] = Decimal(str(clean[f"{key}_value"])).quantize(Decimal("0.01"))
        day = clean[f"{key}_on"]
        clean[f"{key}_on"] = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
    except (InvalidOperation, ValueError):
        raise refuse(_("指标数值或日期无效。"), "invalid", prefix, item) from None
    if clean[f"{key}_value"] < 0:
        raise refuse(
            _("指标数值不能为负数。"), "negative_amount", f"{prefix}.{key}_value", clean[f"{key}_value"]
        )
    _not_future(clean[f"{key}_on"], f"{prefix}.{key}_on")
    return clean


def work_register(
    *, actor, category: str, title: str, unit: Unit, deadline: dt.date, body: str = "", location=None,
    district: District | None = None, milestones=(), indicators=(),
) -> ReliefWork:  # fmt: skip
    """Register a relief work (``planned``) with its responsible unit, milestones and the
    indicators measured before it (name, unit, better lower/higher, value, date)."""
    _choice(category, WorkCategory, "category")
    before = [_indicator(item, i, after=False) for i, item in enumerate(indicators or ())]
    if len({b["name"] for b in before}) != len(before):
        raise refuse(_("指标名称重复。"), "duplicate", "indicators")
    with transaction.atomic():
        work = project_register(
            ReliefWork, actor=actor, prefix=WORK_PREFIX, notify_perm="congestion.report_reliefwork", title=title,
            body=body, location=location, district=district, unit=unit, deadline=deadline, milestones=milestones,
            category=category,
        )  # fmt: skip
        WorkIndicator.objects.bulk_create(WorkIndicator(work=work, **b) for b in before)
        search.index(work)
    return work


def work_start(*, actor, work: ReliefWork, comment: str = "") -> ReliefWork:
    with transaction.atomic():
        return advance(work, "start", actor=actor, comment=comment, audit_fields=WORK_AUDIT, at=now())


def work_milestone(*, actor, work: ReliefWork, milestone: Milestone, actual_on: dt.date, comment: str = ""):
    return project_milestone(actor=actor, case=work, milestone=milestone, actual_on=actual_on,
                             audit_fields=WORK_AUDIT, comment=comment)  # fmt: skip


def work_report(*, actor, work: ReliefWork, percent: int, note: str, reason: str = "") -> ReliefWork:
    return project_report(actor=actor, case=work, percent=percent, note=note, reason=reason,
                          audit_fields=WORK_AUDIT)[0]  # fmt: skip


def work_complete(*, actor, work: ReliefWork, comment: str = "") -> ReliefWork:
    with transaction.atomic():
        return advance(work, "complete", actor=actor, comment=comment, audit_fields=WORK_AUDIT, at=now())


def work_evaluate(*, actor, work: ReliefWork, indicators, comment: str = "") -> ReliefWork:
    """Enter the after values (by indicator name); every indicator must then have one."""
    known = {i.name: i for i in work.indicators.all()}
    if not known:
        raise refuse(_("该工程没有实施前指标，无法评估。"), "required", "indicators")
    after = {}
    for i, item in enumerate(indicators or ()):
        name = (item.get("name") or "").strip()
        if name not in known:
            raise refuse(_("未知的指标：%(n)s") % {"n": name}, "invalid", f"indicators[{i}].name", name)
        after[name] = _indicator(item, i, after=True)
    missing = sorted(set(known) - set(after))
    if missing:
        raise refuse(
            _("缺少实施后指标：%(n)s") % {"n": "、".join(missing)}, "required", "indicators", missing
        )
    with transaction.atomic():
        work = advance(work, "evaluate", actor=actor, comment=comment, audit_fields=WORK_AUDIT)
        for name, values in after.items():
            WorkIndicator.objects.filter(pk=known[name].pk).update(**values)
        audit.record(action="congestion.reliefwork.indicators", obj=work,
                     changes={"after": {n: str(v["after_value"]) for n, v in after.items()}})  # fmt: skip
    return work


def work_close(*, actor, work: ReliefWork, comment: str = "") -> ReliefWork:
    with transaction.atomic():
        return advance(work, "close", actor=actor, comment=comment, audit_fields=WORK_AUDIT, at=now())


def work_suspend(*, actor, work: ReliefWork, reason: str) -> ReliefWork:
    reason = _text(reason, "reason", limit=500)
    with transaction.atomic():
        return advance(work, "suspend", actor=actor, comment=reason, audit_fields=WORK_AUDIT, reason=reason)


def work_resume(*, actor, work: ReliefWork, reason: str) -> ReliefWork:
    reason = _text(reason, "reason", limit=500)
    with transaction.atomic():
        return advance(work, "resume", actor=actor, comment=reason, audit_fields=WORK_AUDIT)


# --- 交通基础设施项目 ------------------------------------------------------------------------


def _approval(
    project, stage: str, *, actor, document_number: str, document_date: dt.date, files
) -> StageApproval:
    number = _text(document_number, "document_number", limit=80)
    _not_future(document_date, "document_date")
    approval = StageApproval.objects.create(
        project=project, stage=stage, document_number=number, document_date=document_date,
        recorded_by=actor if getattr(actor, "pk", None) else None, recorded_at=now(),
    )  # fmt: skip
    _attach_all(approval, files, actor)
    return approval


def infra_register(
    *, actor, title: str, unit: Unit, deadline: dt.date, document_number: str, document_date: dt.date,
    body: str = "", location=None, district: District | None = None, builder: str = "",
    total_investment_fen: int = 0, milestones=(), files=(),
) -> InfraProject:  # fmt: skip
    """Register an approved project (stage 立项, with its approval document and files)."""
    if total_investment_fen < 0:
        raise refuse(_("总投资不能为负数。"), "negative_amount", "total_investment_fen", total_investment_fen)
    with transaction.atomic():
        project = project_register(
            InfraProject, actor=actor, prefix=INFRA_PREFIX, notify_perm="congestion.report_infraproject",
            title=title, body=body, location=location, district=district, unit=unit, deadline=deadline,
            milestones=milestones, builder=(builder or "").strip()[:100], total_investment_fen=total_investment_fen,
        )  # fmt: skip
        _approval(project, Stage.INITIATION, actor=actor, document_number=document_number,
                  document_date=document_date, files=files)  # fmt: skip
        search.index(project)
    return project


STAGE_OF = {"feasibility": Stage.FEASIBILITY, "design": Stage.DESIGN, "construction": Stage.CONSTRUCTION,
            "acceptance": Stage.ACCEPTANCE}  # fmt: skip


def infra_stage(
    *, actor, project: InfraProject, transition: str, document_number: str, document_date: dt.date, files=(),
    comment: str = "",
) -> InfraProject:  # fmt: skip
    """Move to the next stage with its approval (文号, date, files); a skipped stage (施工
    before 初设) is an illegal transition."""
    stage = STAGE_OF[transition]
    kwargs = {"at": now()} if stage == Stage.ACCEPTANCE else {}
    with transaction.atomic():
        project = advance(project, transition, actor=actor, comment=comment or document_number,
                          audit_fields=INFRA_AUDIT, **kwargs)  # fmt: skip
        _approval(project, stage, actor=actor, document_number=document_number, document_date=document_date,
                  files=files)  # fmt: skip
        search.index(project)
    return project


def stage_step(transition: str):
    def run(*, actor, project: InfraProject, **data) -> InfraProject:
        return infra_stage(actor=actor, project=project, transition=transition, **data)

    run.__name__ = f"infra_{transition}"
    return run


def infra_plan_investment(*, actor, project: InfraProject, year: int, planned_fen: int, comment: str = ""):
    """Set (or change) the project's 计划投资 for ``year``."""
    if planned_fen < 0:
        raise refuse(_("计划投资不能为负数。"), "negative_amount", "planned_fen", planned_fen)
    if not 2000 <= year <= 2100:
        raise refuse(_("年度无效。"), "invalid", "year", year)
    with transaction.atomic():
        project = advance(project, "plan_investment", actor=actor, comment=comment or f"{year}: {planned_fen}",
                          audit_fields=INFRA_AUDIT)  # fmt: skip
        plan, _created = InvestmentPlan.objects.update_or_create(
            project=project, year=year, defaults={"planned_fen": planned_fen}
        )
        audit.record(action="congestion.infraproject.investment_plan", obj=project,
                     changes={"after": {"year": year, "planned_fen": planned_fen}})  # fmt: skip
    return project


def infra_report(
    *, actor, project: InfraProject, month: dt.date, text: str, percent: int, invested_fen: int,
    reason: str = "", photos=(),
) -> InfraProject:  # fmt: skip
    """The month report (月报): progress, percent, investment done that month, photos."""
    with transaction.atomic():
        project, report = project_report(
            actor=actor, case=project, percent=percent, note=text, reason=reason, audit_fields=INFRA_AUDIT,
            month=month, invested_fen=invested_fen,
        )  # fmt: skip
        _attach_all(report, photos, actor)
    return project


def infra_milestone(
    *, actor, project: InfraProject, milestone: Milestone, actual_on: dt.date, comment: str = ""
):
    return project_milestone(actor=actor, case=project, milestone=milestone, actual_on=actual_on,
                             audit_fields=INFRA_AUDIT, comment=comment)  # fmt: skip


def infra_add_risk(*, actor, project: InfraProject, kind: str, description: str, level: str, owner: str):
    _choice(kind, RiskKind, "kind")
    _choice(level, RiskLevel, "level")
    description, owner = _text(description, "description"), _text(owner, "owner", limit=50)
    with transaction.atomic():
        project = advance(
            project, "add_risk", actor=actor, comment=description[:200], audit_fields=INFRA_AUDIT
        )
        ProjectRisk.objects.create(project=project, kind=kind, description=description, level=level, owner=owner,
                                   raised_at=now())  # fmt: skip
    return project


def infra_close_risk(*, actor, project: InfraProject, risk: ProjectRisk, resolution: str) -> InfraProject:
    if risk.project_id != project.pk:
        raise refuse(_("该风险不属于此项目。"), "invalid", "risk", risk.pk)
    if not risk.is_open:
        raise refuse(_("该风险已关闭。"), "already_closed", "risk", risk.pk, status=409)
    resolution = _text(resolution, "resolution", limit=500)
    with transaction.atomic():
        project = advance(project, "close_risk", actor=actor, comment=resolution, audit_fields=INFRA_AUDIT)
        ProjectRisk.objects.filter(pk=risk.pk).update(is_open=False, closed_at=now(), resolution=resolution)
    return project


def investment_by_year(project: InfraProject) -> list[dict]:
    """Plan against actual per year with cumulative figures (all fen)."""
    planned = dict(project.investment_plans.values_list("year", "planned_fen"))
    done: Counter = Counter()
    for month, fen in project.reports.filter(month__isnull=False).values_list("month", "invested_fen"):
        done[month.year] += fen or 0
    rows, cum_p, cum_d = [], 0, 0
    for year in sorted(set(planned) | set(done)):
        cum_p, cum_d = cum_p + planned.get(year, 0), cum_d + done[year]
        rows.append({"year": year, "planned_fen": planned.get(year, 0), "done_fen": done[year],
                     "cumulative_planned_fen": cum_p, "cumulative_done_fen": cum_d})  # fmt: skip
    return rows


# --- the dashboard ---------------------------------------------------------------------------


def _visible(model, user):
    """``user``'s scoped rows of ``model`` (none without its view permission)."""
    rows = model.objects.restrict(user)
    return rows if user.has_perm(f"congestion.view_{model._meta.model_name}") else rows.none()


def project_statistics(user, *, year: int) -> dict:
    """Counts by state / stage / district of both kinds, investment plan vs actual in ``year``
    (fen), and the slipped milestones — all within ``user``'s data scope."""
    from django.contrib.contenttypes.models import ContentType

    out: dict = {"year": year}
    for key, model in (("works", ReliefWork), ("infra", InfraProject)):
        mine = _visible(model, user)
        out[key] = {
            "by_state": dict(mine.values_list("state").annotate(n=Count("id")).order_by()),
            "by_district": {code or "": n for code, n in
                            mine.values_list("district__code").annotate(n=Count("id")).order_by()},
        }  # fmt: skip
    projects = _visible(InfraProject, user)
    ct = ContentType.objects.get_for_model(InfraProject)
    planned = InvestmentPlan.objects.filter(project__in=projects, year=year).aggregate(s=Sum("planned_fen"))[
        "s"
    ]
    done = ProgressReport.objects.filter(
        content_type=ct, object_id__in=projects.values("pk"), month__year=year
    ).aggregate(s=Sum("invested_fen"))["s"]
    out["investment"] = {"planned_fen": planned or 0, "done_fen": done or 0}
    slipped = []
    today = deadlines.today()
    for model, open_states in ((ReliefWork, WORK_OPEN), (InfraProject, OPEN_STAGES)):
        ids = _visible(model, user).filter(state__in=open_states).values("pk")
        rows = Milestone.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=ids,
            actual_on__isnull=True,
            planned_on__lt=today,
        ).order_by("planned_on")
        numbers = dict(model.objects.filter(pk__in=[m.object_id for m in rows]).values_list("pk", "number"))
        slipped += [{"number": numbers[m.object_id], "milestone": m.name, "planned_on": m.planned_on,
                     "days_late": (today - m.planned_on).days} for m in rows]  # fmt: skip
    out["slipped_milestones"] = sorted(slipped, key=lambda r: r["planned_on"])
    return out
