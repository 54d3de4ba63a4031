"""Special-guard plans (重要活动保障方案) and incident response plans (应急预案) with drills.

A guard plan belongs to one guard period: drafted by the O&M unit (scope, objectives,
organisation, checklists before / every day of / after the event), approved by a Center leader
who is not its author, started and closed with a summary — each step through
``core.workflow.advance`` (history, audit). Its roster is the period's duty assignments.

A response plan's text is versioned: an edit is a new draft version; a security administrator
approves it and the version in force before it is superseded. Drills (演练) record a version,
the scenario, per-step timing and outcome, findings and improvements.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, workflow
from govcenter.core.api.errors import ServiceError

from ..models import (
    ChecklistPhase,
    DrillKind,
    DrillRecord,
    DutyAssignment,
    GuardChecklistItem,
    GuardPeriod,
    GuardPlan,
    PlanKind,
    PlanVersionState,
    ResponsePlan,
    ResponsePlanVersion,
)

PLAN_FIELDS = ["event_name", "scope", "objectives", "organisation", "state", "summary", "approved_by", "approved_at"]


def _required(**values) -> None:
    details = {k: [_("必填")] for k, v in values.items() if not (v or "").strip()}
    if details:
        raise ServiceError(_("请填写必填项。"), code="invalid", details=details)


@transaction.atomic
def guard_plan_create(*, actor, guard_period: GuardPeriod, unit, event_name: str, scope: str, objectives: str,
                      organisation: str, items: list[tuple[str, str, object]] = ()) -> GuardPlan:  # fmt: skip
    """A draft plan for ``guard_period`` with checklist ``items`` ``(phase, title, owner)``."""
    if not actor.has_perm("ops.add_guardplan"):
        raise ServiceError(_("您无权编制保障方案。"), code="permission_denied", status=403)
    _required(event_name=event_name, scope=scope, objectives=objectives, organisation=organisation)
    if GuardPlan.objects.filter(guard_period=guard_period).exists():
        raise ServiceError(_("该保障期已有保障方案。"), code="exists", status=409,
                           details={"guard_period": [str(guard_period.pk)]})  # fmt: skip
    plan = GuardPlan.objects.create(unit=unit, guard_period=guard_period, event_name=event_name.strip()[:100],
                                    scope=scope.strip(), objectives=objectives.strip(),
                                    organisation=organisation.strip(), created_by=actor)  # fmt: skip
    for order, (phase, title, owner) in enumerate(items):
        checklist_add(actor=actor, plan=plan, phase=phase, title=title, owner=owner, order=order, audited=False)
    audit.record(action="ops.guard_plan.create", obj=plan,
                 changes={**audit.diff({}, audit.snapshot(plan, PLAN_FIELDS)), "items": len(items)})  # fmt: skip
    return plan


def checklist_add(*, actor, plan: GuardPlan, phase: str, title: str, owner=None, order: int = 0,
                  audited: bool = True) -> GuardChecklistItem:  # fmt: skip
    if phase not in ChecklistPhase.values:
        raise ServiceError(_("未知的阶段。"), code="invalid", details={"phase": [str(phase)]})
    _required(title=title)
    item = GuardChecklistItem.objects.create(plan=plan, phase=phase, title=title.strip()[:200], owner=owner,
                                             order=order)  # fmt: skip
    if audited:
        audit.record(action="ops.guard_plan.item_add", obj=plan, changes={"item": item.pk, "title": item.title})
    return item


@transaction.atomic
def checklist_done(*, actor, item: GuardChecklistItem, evidence: str) -> GuardChecklistItem:
    """Tick an item with its evidence (approved or running plans only; the owner or anyone
    who may run the plan)."""
    item = GuardChecklistItem.objects.select_for_update().select_related("plan").get(pk=item.pk)
    plan = item.plan
    if not GuardPlan.objects.restrict(actor).filter(pk=plan.pk).exists() or not (
        actor.pk == item.owner_id or actor.has_perm("ops.change_guardplan")
    ):
        raise ServiceError(_("您无权勾选该检查项。"), code="permission_denied", status=403)
    if plan.state not in ("approved", "in_progress"):
        raise ServiceError(_("方案批准后、关闭前才能勾选检查项。"), code="illegal_transition", status=409,
                           details={"state": [plan.state]})  # fmt: skip
    _required(evidence=evidence)
    if item.done:
        raise ServiceError(_("该检查项已完成。"), code="state_changed", status=409)
    item.done, item.done_at, item.done_by, item.evidence = True, timezone.now(), actor, evidence.strip()
    item.save(update_fields=["done", "done_at", "done_by", "evidence"])
    audit.record(action="ops.guard_plan.item_done", obj=plan, changes={"item": item.pk, "evidence": item.evidence})
    return item


def guard_plan_step(*, actor, plan: GuardPlan, step: str, summary: str = "") -> GuardPlan:
    """approve (a Center leader, not the author) → start → close (with the summary)."""
    kwargs: dict = {}
    if step == "approve":
        kwargs = {"by": actor, "at": timezone.now()}
    elif step == "close":
        _required(summary=summary)
        kwargs = {"summary": summary.strip()}
    elif step != "start":
        raise ServiceError(_("未知的操作。"), code="invalid", details={"step": [step]})
    return workflow.advance(plan, step, actor=actor, comment=summary[:500], audit_fields=PLAN_FIELDS,
                            action=f"ops.guard_plan.{step}", **kwargs)  # fmt: skip


def plan_roster(plan: GuardPlan):
    period = plan.guard_period
    return (DutyAssignment.objects.filter(unit=plan.unit, starts_at__lt=period.ends_at, ends_at__gt=period.starts_at)
            .select_related("shift", "primary", "backup").order_by("starts_at", "role", "seat"))  # fmt: skip


def checklist_progress(plan: GuardPlan) -> tuple[int, int]:
    items = list(plan.items.values_list("done", flat=True))
    return sum(items), len(items)


# --- response plans ---------------------------------------------------------------------------


def _clean_steps(steps) -> list[dict]:
    out = []
    for index, step in enumerate(steps or []):
        title = str(step.get("title", "")).strip()
        if not title:
            raise ServiceError(_("每个处置步骤须有名称。"), code="invalid", details={"steps": [str(index)]})
        out.append({"title": title[:100], "owner_role": str(step.get("owner_role", "")).strip()[:40],
                    "action": str(step.get("action", "")).strip(), "minutes": int(step.get("minutes") or 0)})  # fmt: skip
    if not out:
        raise ServiceError(_("预案至少须有一个处置步骤。"), code="invalid", details={"steps": [_("必填")]})
    return out


@transaction.atomic
def response_plan_create(*, actor, code: str, kind: str, title: str, triggers: str, steps: list[dict],
                         contacts: list[dict] = ()) -> ResponsePlanVersion:  # fmt: skip
    """A new plan with its first (draft) version."""
    if not actor.has_perm("ops.manage_response_plan"):
        raise ServiceError(_("您无权编制应急预案。"), code="permission_denied", status=403)
    if kind not in PlanKind.values:
        raise ServiceError(_("未知的预案类别。"), code="invalid", details={"kind": [str(kind)]})
    _required(code=code, title=title)
    if ResponsePlan.objects.filter(code=code).exists():
        raise ServiceError(_("预案代码已存在。"), code="exists", status=409, details={"code": [code]})
    plan = ResponsePlan.objects.create(code=code.strip()[:40], kind=kind, title=title.strip()[:100])
    audit.record(action="ops.response_plan.create", obj=plan, changes={"code": plan.code, "kind": kind, "title": plan.title})
    return response_plan_revise(actor=actor, plan=plan, triggers=triggers, steps=steps, contacts=contacts,
                                change_note=_("首次编制"))  # fmt: skip


@transaction.atomic
def response_plan_revise(*, actor, plan: ResponsePlan, triggers: str, steps: list[dict], contacts: list[dict] = (),
                         change_note: str = "") -> ResponsePlanVersion:  # fmt: skip
    """An edit: a new draft version (the one in force stays in force until it is approved)."""
    if not actor.has_perm("ops.manage_response_plan"):
        raise ServiceError(_("您无权编制应急预案。"), code="permission_denied", status=403)
    _required(triggers=triggers)
    ResponsePlan.objects.select_for_update().get(pk=plan.pk)  # one version number at a time
    if plan.versions.filter(state=PlanVersionState.DRAFT).exists():
        raise ServiceError(_("已有待批准的版本，请先批准该版本。"), code="draft_exists", status=409)
    number = (plan.versions.aggregate(m=Max("version"))["m"] or 0) + 1
    version = ResponsePlanVersion.objects.create(
        plan=plan, version=number, triggers=triggers.strip(), steps=_clean_steps(steps),
        contacts=[{k: str(c.get(k, ""))[:60] for k in ("name", "role", "phone")} for c in contacts],
        change_note=(change_note or "").strip()[:300], created_by=actor,
    )  # fmt: skip
    audit.record(action="ops.response_plan.revise", obj=version,
                 changes={"version": number, "steps": len(version.steps), "note": version.change_note})  # fmt: skip
    return version


@transaction.atomic
def response_plan_approve(*, actor, version: ResponsePlanVersion) -> ResponsePlanVersion:
    """A security administrator puts a draft in force; the version before it is superseded."""
    if not actor.has_perm("ops.approve_response_plan"):
        raise ServiceError(_("您无权批准应急预案。"), code="permission_denied", status=403)
    version = ResponsePlanVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != PlanVersionState.DRAFT:
        raise ServiceError(_("只能批准待批准的版本。"), code="illegal_transition", status=409,
                           details={"state": [version.state]})  # fmt: skip
    superseded = list(ResponsePlanVersion.objects.filter(plan_id=version.plan_id, state=PlanVersionState.APPROVED)
                      .values_list("version", flat=True))  # fmt: skip
    ResponsePlanVersion.objects.filter(plan_id=version.plan_id, state=PlanVersionState.APPROVED).update(
        state=PlanVersionState.SUPERSEDED)
    version.state, version.approved_by, version.approved_at = PlanVersionState.APPROVED, actor, timezone.now()
    version.save(update_fields=["state", "approved_by", "approved_at"])
    audit.record(action="ops.response_plan.approve", obj=version,
                 changes={"version": version.version, "superseded": superseded})  # fmt: skip
    return version


@transaction.atomic
def drill_record(*, actor, unit, version: ResponsePlanVersion, held_on: dt.date, kind: str, scenario: str,
                 participants: str, step_results: list[dict], findings: str = "",
                 improvements: str = "") -> DrillRecord:  # fmt: skip
    """Record a drill of an approved (or superseded: held before a revision) version."""
    if not actor.has_perm("ops.add_drillrecord"):
        raise ServiceError(_("您无权记录演练。"), code="permission_denied", status=403)
    if kind not in DrillKind.values:
        raise ServiceError(_("未知的演练形式。"), code="invalid", details={"kind": [str(kind)]})
    _required(scenario=scenario, participants=participants)
    if version.state == PlanVersionState.DRAFT:
        raise ServiceError(_("未批准的预案版本不能演练。"), code="invalid", details={"plan_version": [str(version.pk)]})
    if held_on > timezone.localdate():
        raise ServiceError(_("演练日期不能晚于今天。"), code="invalid", details={"held_on": [held_on.isoformat()]})
    titles = [s["title"] for s in version.steps]
    results = []
    for row in step_results:
        if row.get("step") not in titles:
            raise ServiceError(_("步骤不属于该预案版本。"), code="invalid", details={"step_results": [str(row.get("step"))]})
        minutes = int(row.get("minutes") or 0)
        if minutes < 0:
            raise ServiceError(_("用时不能为负。"), code="invalid", details={"step_results": [str(minutes)]})
        results.append({"step": row["step"], "minutes": minutes, "outcome": str(row.get("outcome", ""))[:300],
                        "met": bool(row.get("met", True))})  # fmt: skip
    drill = DrillRecord.objects.create(unit=unit, plan_version=version, held_on=held_on, kind=kind,
                                       scenario=scenario.strip(), participants=participants.strip(),
                                       step_results=results, findings=findings.strip(),
                                       improvements=improvements.strip(), recorded_by=actor)  # fmt: skip
    audit.record(action="ops.drill.record", obj=drill,
                 changes={"plan_version": str(version), "held_on": held_on.isoformat(), "kind": kind,
                          "steps": len(results)})  # fmt: skip
    return drill
