"""Duty pages: the roster as a month calendar (holidays and guard periods marked, today
highlighted, Excel export) with swap requests and their approval; guard plans (page, steps,
checklist, Word export); response plans with their versions; drills. Rows come from the
caller's data scope; every write goes through the services."""

from __future__ import annotations

import calendar as pycal
import datetime as dt
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from govcenter.core import audit
from govcenter.core import calendar as workcal
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import User

from ..models import (
    DrillKind,
    DrillRecord,
    DutyAssignment,
    DutySwap,
    GuardChecklistItem,
    GuardPeriod,
    GuardPlan,
    PlanVersionState,
    ResponsePlan,
    ResponsePlanVersion,
)
from ..sla import TZ
from . import plans, roster

T = "ops/duty/"


def _need(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _month(request) -> tuple[int, int]:
    today = timezone.localdate()
    try:
        year, month = (int(x) for x in request.GET.get("month", "").split("-"))
        dt.date(year, month, 1)
    except ValueError:
        return today.year, today.month
    return year, month


def _name(user) -> str:
    return (user.full_name or user.username) if user else ""


@login_required
def roster_month(request):
    """The month calendar of the roster in the caller's scope (``?month=YYYY-MM``)."""
    _need(request, "ops.view_dutyassignment")
    year, month = _month(request)
    first = dt.date(year, month, 1)
    last = dt.date(year, month, pycal.monthrange(year, month)[1])
    rows = list(DutyAssignment.objects.restrict(request.user).filter(date__gte=first, date__lte=last)
                .select_related("shift", "primary", "backup", "unit").order_by("date", "shift__starts", "role", "seat"))  # fmt: skip
    by_day: dict[dt.date, list] = {}
    for a in rows:
        by_day.setdefault(a.date, []).append(a)
    begin = dt.datetime.combine(first, dt.time(0), tzinfo=TZ)
    periods = list(GuardPeriod.objects.filter(starts_at__lt=begin + dt.timedelta(days=32), ends_at__gt=begin))
    today = timezone.localdate()
    weeks = []
    for week in pycal.Calendar(firstweekday=0).monthdatescalendar(year, month):
        cells = []
        for day in week:
            start = dt.datetime.combine(day, dt.time(0), tzinfo=TZ)
            guard = [p.name for p in periods if p.starts_at < start + dt.timedelta(days=1) and p.ends_at > start]
            cells.append({
                "date": day, "in_month": day.month == month, "today": day == today,
                "workday": workcal.is_workday(day), "holiday": workcal.is_statutory_holiday(day),
                "guard": guard, "seats": by_day.get(day, []),
            })  # fmt: skip
        weeks.append(cells)
    prev_month = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (last + dt.timedelta(days=1)).strftime("%Y-%m")
    on_duty = list(roster.who_is_on_duty(user=request.user))
    swaps = DutySwap.objects.restrict(request.user).select_related(
        "assignment__shift", "requester", "counterpart", "decided_by")[:20]  # fmt: skip
    mine = [a for a in rows if request.user.pk in (a.primary_id, a.backup_id) and a.starts_at > timezone.now()]
    colleagues = User.objects.filter(unit_id=request.user.unit_id, is_active=True).exclude(pk=request.user.pk)
    context = {
        "weeks": weeks, "month": first, "prev_month": prev_month, "next_month": next_month, "on_duty": on_duty,
        "swaps": swaps, "mine": mine, "colleagues": colleagues if request.user.unit_id else [],
        "can_request": request.user.has_perm("ops.request_duty_swap"),
        "can_approve": request.user.has_perm("ops.approve_duty_swap"),
        "weekdays": [_("一"), _("二"), _("三"), _("四"), _("五"), _("六"), _("日")],
    }  # fmt: skip
    return render(request, T + "roster.html", context)


@login_required
def roster_export(request):
    """The month as an Excel workbook (audited: it carries people's names)."""
    _need(request, "ops.view_dutyassignment")
    from openpyxl import Workbook

    year, month = _month(request)
    first = dt.date(year, month, 1)
    last = dt.date(year, month, pycal.monthrange(year, month)[1])
    rows = (DutyAssignment.objects.restrict(request.user).filter(date__gte=first, date__lte=last)
            .select_related("shift", "primary", "backup", "unit").order_by("date", "shift__starts", "role", "seat"))  # fmt: skip
    book = Workbook()
    sheet = book.active
    sheet.title = f"{year}-{month:02d}"
    sheet.append([_("日期"), _("星期"), _("日期类型"), _("班次"), _("开始"), _("结束"), _("值班角色"), _("席位"),
                  _("主班"), _("备班"), _("运维单位")])  # fmt: skip
    count = 0
    for a in rows:
        count += 1
        sheet.append([a.date.isoformat(), "一二三四五六日"[a.date.weekday()], a.get_day_kind_display(), a.shift.name,
                      a.starts_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M"),
                      a.ends_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M"), a.get_role_display(), a.seat,
                      _name(a.primary), _name(a.backup), a.unit.name])  # fmt: skip
    for column, width in zip("ABCDEFGHIJK", (12, 6, 14, 8, 18, 18, 12, 6, 12, 12, 24), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    audit.record(action="ops.duty.export", object_type="ops.dutyassignment",
                 changes={"month": f"{year}-{month:02d}", "rows": count})  # fmt: skip
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    response["Content-Disposition"] = f'attachment; filename="duty-{year}-{month:02d}.xlsx"'
    return response


@login_required
@require_POST
def swap_new(request):
    _need(request, "ops.request_duty_swap")
    assignment = get_object_or_404(DutyAssignment.objects.restrict(request.user), pk=request.POST.get("assignment") or 0)
    counterpart = get_object_or_404(User, pk=request.POST.get("counterpart") or 0, unit_id=request.user.unit_id)
    try:
        roster.swap_request(actor=request.user, assignment=assignment, counterpart=counterpart,
                            reason=request.POST.get("reason", ""))  # fmt: skip
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("已提交换班申请。"))
    return HttpResponseRedirect(reverse("ops:duty_roster") + f"?month={assignment.date:%Y-%m}")


@login_required
@require_POST
def swap_decide(request, pk):
    _need(request, "ops.approve_duty_swap")
    swap = get_object_or_404(DutySwap.objects.restrict(request.user), pk=pk)
    try:
        roster.swap_decide(actor=request.user, swap=swap, approve=request.POST.get("decision") == "approve",
                           comment=request.POST.get("comment", ""))  # fmt: skip
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("已处理换班申请。"))
    return HttpResponseRedirect(reverse("ops:duty_roster"))


# --- guard plans ------------------------------------------------------------------------------

STEP_LABELS = {"approve": _("批准"), "start": _("开始保障"), "close": _("总结关闭")}


@login_required
def guard_list(request):
    _need(request, "ops.view_guardplan")
    rows = GuardPlan.objects.restrict(request.user).select_related("guard_period", "unit")
    planned = set(GuardPlan.objects.values_list("guard_period_id", flat=True))
    open_periods = [p for p in GuardPeriod.objects.filter(ends_at__gt=timezone.now()) if p.pk not in planned]
    return render(request, T + "guard_list.html", {
        "rows": [(p, plans.checklist_progress(p)) for p in rows], "open_periods": open_periods,
        "can_add": request.user.has_perm("ops.add_guardplan") and request.user.unit_id is not None,
    })  # fmt: skip


class GuardPlanForm(forms.Form):
    guard_period = forms.ModelChoiceField(label=_("保障期"), queryset=GuardPeriod.objects.none())
    event_name = forms.CharField(label=_("活动名称"), max_length=100)
    scope = forms.CharField(label=_("保障范围"), widget=forms.Textarea(attrs={"rows": 3}))
    objectives = forms.CharField(label=_("保障目标"), widget=forms.Textarea(attrs={"rows": 3}))
    organisation = forms.CharField(label=_("组织机构"), widget=forms.Textarea(attrs={"rows": 3}))
    pre_items = forms.CharField(label=_("保障前检查项（每行一项）"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    daily_items = forms.CharField(label=_("每日检查项（每行一项）"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    post_items = forms.CharField(label=_("保障后检查项（每行一项）"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guard_period"].queryset = GuardPeriod.objects.filter(plan__isnull=True).order_by("starts_at")
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")


@login_required
def guard_new(request):
    _need(request, "ops.add_guardplan")
    if request.user.unit_id is None:
        raise PermissionDenied
    form = GuardPlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        items = [(phase, line.strip(), None) for phase in ("pre", "daily", "post")
                 for line in data[f"{phase}_items"].splitlines() if line.strip()]  # fmt: skip
        try:
            plan = plans.guard_plan_create(actor=request.user, guard_period=data["guard_period"],
                                           unit=request.user.unit, event_name=data["event_name"], scope=data["scope"],
                                           objectives=data["objectives"], organisation=data["organisation"],
                                           items=items)  # fmt: skip
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:duty_guard_detail", args=[plan.pk]))
    return render(request, T + "form.html", {"form": form, "title": _("编制保障方案")}, status=400 if form.errors else 200)


def _plan(request, pk) -> GuardPlan:
    _need(request, "ops.view_guardplan")
    return get_object_or_404(GuardPlan.objects.restrict(request.user).select_related("guard_period", "unit"), pk=pk)


@login_required
def guard_detail(request, pk):
    from govcenter.core import workflow

    plan = _plan(request, pk)
    items = plan.items.select_related("owner", "done_by")
    return render(request, T + "guard_detail.html", {
        "plan": plan, "items": items, "roster": plans.plan_roster(plan), "progress": plans.checklist_progress(plan),
        "steps": [(s, STEP_LABELS[s]) for s in workflow.available(plan, request.user) if s in STEP_LABELS],
        "history": workflow.history(plan), "can_tick": plan.state in ("approved", "in_progress"),
    })  # fmt: skip


@login_required
@require_POST
def guard_step(request, pk, step):
    plan = _plan(request, pk)
    try:
        plans.guard_plan_step(actor=request.user, plan=plan, step=step, summary=request.POST.get("summary", ""))
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, str(STEP_LABELS.get(step, step)))
    return HttpResponseRedirect(reverse("ops:duty_guard_detail", args=[pk]))


@login_required
@require_POST
def guard_item_done(request, pk, item):
    plan = _plan(request, pk)
    row = get_object_or_404(GuardChecklistItem, pk=item, plan=plan)
    try:
        plans.checklist_done(actor=request.user, item=row, evidence=request.POST.get("evidence", ""))
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    return HttpResponseRedirect(reverse("ops:duty_guard_detail", args=[pk]))


@login_required
def guard_docx(request, pk):
    """The plan as a Word document (python-docx)."""
    from .documents import guard_plan_docx

    plan = _plan(request, pk)
    data = guard_plan_docx(plan)
    audit.record(action="ops.guard_plan.export", obj=plan, changes={"format": "docx"})
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    response["Content-Disposition"] = f'attachment; filename="guard-plan-{plan.pk}.docx"'
    return response


# --- response plans and drills ----------------------------------------------------------------


@login_required
def plan_list(request):
    _need(request, "ops.view_responseplan")
    rows = [(p, p.current(), p.versions.filter(state=PlanVersionState.DRAFT).first())
            for p in ResponsePlan.objects.prefetch_related("versions")]  # fmt: skip
    drills = DrillRecord.objects.restrict(request.user).select_related("plan_version__plan")[:20] if request.user.has_perm(
        "ops.view_drillrecord") else []  # fmt: skip
    return render(request, T + "plan_list.html", {"rows": rows, "drills": drills})


def _steps_text(steps) -> str:
    return "\n".join(f"{s['title']}|{s.get('owner_role', '')}|{s.get('minutes', 0)}|{s.get('action', '')}" for s in steps)


def _parse_steps(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")] + ["", "", ""]
        minutes = int(parts[2]) if parts[2].isdigit() else 0
        out.append({"title": parts[0], "owner_role": parts[1], "minutes": minutes, "action": "|".join(parts[3:]).strip("|")})
    return out


class RevisionForm(forms.Form):
    triggers = forms.CharField(label=_("启动条件"), widget=forms.Textarea(attrs={"rows": 4}))
    steps = forms.CharField(label=_("处置步骤（每行：名称|责任角色|时限分钟|措施）"), widget=forms.Textarea(attrs={"rows": 8}))
    contacts = forms.CharField(label=_("联系人（每行：姓名|角色|电话）"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    change_note = forms.CharField(label=_("修订说明"), max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


@login_required
def plan_detail(request, pk):
    _need(request, "ops.view_responseplan")
    plan = get_object_or_404(ResponsePlan, pk=pk)
    versions = list(plan.versions.select_related("created_by", "approved_by"))
    shown = next((v for v in versions if str(v.version) == request.GET.get("v")), None) or plan.current() or (
        versions[0] if versions else None)  # fmt: skip
    form = None
    if request.user.has_perm("ops.manage_response_plan"):
        base = versions[0] if versions else None
        initial = {"triggers": base.triggers, "steps": _steps_text(base.steps),
                   "contacts": "\n".join(f"{c['name']}|{c['role']}|{c['phone']}" for c in base.contacts)} if base else {}  # fmt: skip
        form = RevisionForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            contacts = [dict(zip(("name", "role", "phone"), [p.strip() for p in line.split("|")] + ["", ""], strict=False))
                        for line in data["contacts"].splitlines() if line.strip()]  # fmt: skip
            try:
                plans.response_plan_revise(actor=request.user, plan=plan, triggers=data["triggers"],
                                           steps=_parse_steps(data["steps"]), contacts=contacts,
                                           change_note=data["change_note"])  # fmt: skip
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
            else:
                return HttpResponseRedirect(reverse("ops:duty_plan_detail", args=[pk]))
    drills = DrillRecord.objects.restrict(request.user).filter(plan_version__plan=plan).select_related("plan_version")
    return render(request, T + "plan_detail.html", {
        "plan": plan, "versions": versions, "shown": shown, "form": form, "drills": drills,
        "can_approve": request.user.has_perm("ops.approve_response_plan"),
        "can_drill": request.user.has_perm("ops.add_drillrecord") and request.user.unit_id is not None,
    }, status=400 if form is not None and form.errors else 200)  # fmt: skip


@login_required
@require_POST
def plan_approve(request, pk, version):
    _need(request, "ops.approve_response_plan")
    row = get_object_or_404(ResponsePlanVersion, plan_id=pk, version=version)
    try:
        plans.response_plan_approve(actor=request.user, version=row)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("已批准。"))
    return HttpResponseRedirect(reverse("ops:duty_plan_detail", args=[pk]))


class DrillForm(forms.Form):
    held_on = forms.DateField(label=_("演练日期"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("形式"), choices=DrillKind.choices)
    scenario = forms.CharField(label=_("演练场景"), widget=forms.Textarea(attrs={"rows": 3}))
    participants = forms.CharField(label=_("参演人员"), max_length=500)
    findings = forms.CharField(label=_("发现问题"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    improvements = forms.CharField(label=_("改进措施"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, steps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.step_titles = [s["title"] for s in steps]
        for index, title in enumerate(self.step_titles):
            self.fields[f"minutes_{index}"] = forms.IntegerField(label=_("%(step)s 用时（分钟）") % {"step": title},
                                                                 min_value=0, required=False)  # fmt: skip
            self.fields[f"outcome_{index}"] = forms.CharField(label=_("%(step)s 结果") % {"step": title},
                                                              required=False, max_length=300)  # fmt: skip
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")


@login_required
def drill_new(request, pk):
    _need(request, "ops.add_drillrecord")
    plan = get_object_or_404(ResponsePlan, pk=pk)
    version = plan.current()
    if version is None or request.user.unit_id is None:
        raise PermissionDenied
    form = DrillForm(request.POST or None, steps=version.steps)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        results = [{"step": title, "minutes": data.get(f"minutes_{i}") or 0, "outcome": data.get(f"outcome_{i}", "")}
                   for i, title in enumerate(form.step_titles) if data.get(f"minutes_{i}") is not None]  # fmt: skip
        try:
            drill = plans.drill_record(actor=request.user, unit=request.user.unit, version=version,
                                       held_on=data["held_on"], kind=data["kind"], scenario=data["scenario"],
                                       participants=data["participants"], step_results=results,
                                       findings=data["findings"], improvements=data["improvements"])  # fmt: skip
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:duty_drill_detail", args=[drill.pk]))
    return render(request, T + "form.html", {"form": form, "title": _("记录演练：%(plan)s") % {"plan": version}},
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
def drill_detail(request, pk):
    _need(request, "ops.view_drillrecord")
    drill = get_object_or_404(DrillRecord.objects.restrict(request.user).select_related("plan_version__plan"), pk=pk)
    return render(request, T + "drill_detail.html", {"drill": drill})
