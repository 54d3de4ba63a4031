"""Pages of the work records, training, the contract ledger and the reports.

Rows come from the caller's data scope (``restrict``): an engineer sees their unit's logs,
the Center sees all. Every write goes through the services (audited)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from govcenter.core import attachments
from govcenter.core.api.errors import ServiceError
from govcenter.core.filters import ALL
from govcenter.core.models import Unit, User
from govcenter.core.views.base import ScopedListView

from ..ledger.services import penalties, yuan
from ..models import (
    ChangeKind,
    ChangeRecord,
    ChangeResult,
    Contract,
    Incident,
    Report,
    ReportKind,
    TrainingAttendance,
    TrainingSession,
    WorkCategory,
    WorkLog,
)
from ..reports import services as report_svc
from . import services

T = "ops/records/"


def _style(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        if not isinstance(field, forms.BooleanField):
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")
    return form


def _form_page(request, form, title, back, status=None):
    return render(request, T + "form.html", {"form": form, "title": title, "back": back},
                  status=status or (400 if form.errors else 200))  # fmt: skip


# ------------------------------------------------------------------ work logs


class WorkLogFilterSet(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=WorkCategory.choices, label=_("类别"), empty_label=ALL)
    engineer = django_filters.ModelChoiceFilter(queryset=User.objects.all(), label=_("工程师"), empty_label=ALL)
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", label=_("开始日期"))
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", label=_("结束日期"))

    class Meta:
        model = WorkLog
        fields = ["category", "engineer"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        units = Unit.objects.restrict(request.user).values("pk") if request else Unit.objects.none()
        self.filters["engineer"].queryset = User.objects.filter(unit__in=units).order_by("username")


class WorkLogListView(ScopedListView):
    """My day, the unit's logs with filters, and a calendar of who logged what this month."""

    permission_required = ("ops.view_worklog",)
    filterset_class = WorkLogFilterSet
    template_name = T + "worklog_list.html"

    def base_queryset(self):
        return WorkLog.objects.select_related("engineer", "incident", "change")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, today = self.request.user, timezone.localdate()
        scoped = WorkLog.objects.restrict(user)
        context["today"] = today
        context["my_day"] = scoped.filter(engineer=user, date=today).order_by("start_time")
        try:
            month = dt.date.fromisoformat(self.request.GET.get("month", "") + "-01")
        except ValueError:
            month = today.replace(day=1)
        last = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        days = [month + dt.timedelta(days=k) for k in range((last - month).days + 1)]
        grid: dict[str, dict[dt.date, int]] = defaultdict(dict)
        for name, username, day in scoped.filter(date__gte=month, date__lte=last).values_list(
            "engineer__full_name", "engineer__username", "date"
        ):
            key = name or username
            grid[key][day] = grid[key].get(day, 0) + 1
        context["calendar"] = {"month": month, "days": days,
                               "rows": [(k, [grid[k].get(d, 0) for d in days]) for k in sorted(grid)]}  # fmt: skip
        context["can_add"] = user.has_perm("ops.add_worklog")
        return context


class WorkLogForm(forms.Form):
    date = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ChoiceField(label=_("类别"), choices=WorkCategory.choices)
    start_time = forms.TimeField(label=_("开始时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(label=_("结束时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    summary = forms.CharField(label=_("摘要"), max_length=200)
    details = forms.CharField(label=_("详情"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    incident = forms.ModelChoiceField(label=_("相关故障"), queryset=Incident.objects.none(), required=False)
    change = forms.ModelChoiceField(label=_("相关变更"), queryset=ChangeRecord.objects.none(), required=False)
    reason = forms.CharField(label=_("修改原因"), required=False, max_length=300,
                             help_text=_("修改以前日期的日志时必填"))  # fmt: skip


def _worklog_form(request, **kwargs) -> WorkLogForm:
    """The form with the caller's incidents and changes of the last 90 days to link."""
    form = WorkLogForm(request.POST or None, **kwargs)
    since = timezone.now() - dt.timedelta(days=90)
    form.fields["incident"].queryset = Incident.objects.restrict(request.user).filter(reported_at__gte=since)
    form.fields["change"].queryset = ChangeRecord.objects.restrict(request.user).filter(planned_start__gte=since)
    return _style(form)


@login_required
def worklog_new(request):
    if not request.user.has_perm("ops.add_worklog"):
        raise PermissionDenied
    form = _worklog_form(request, initial={"date": timezone.localdate()})
    del form.fields["reason"]
    if request.method == "POST" and form.is_valid():
        try:
            services.worklog_create(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:worklog_list"))
    return _form_page(request, form, _("填写工作日志"), reverse("ops:worklog_list"))


@login_required
def worklog_edit(request, pk):
    log = get_object_or_404(WorkLog.objects.restrict(request.user), pk=pk)
    allowed, _needs_reason = services.worklog_editable(log, request.user)
    if not allowed:
        raise PermissionDenied
    initial = {k: getattr(log, k) for k in ("date", "category", "start_time", "end_time", "summary", "details",
                                            "incident", "change")}  # fmt: skip
    form = _worklog_form(request, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        try:
            services.worklog_update(actor=request.user, log=log, reason=reason, **data)
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:worklog_list"))
    return _form_page(request, form, _("修改工作日志"), reverse("ops:worklog_list"))


# ------------------------------------------------------------------ changes


class ChangeRecordFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ChangeKind.choices, label=_("类型"), empty_label=ALL)
    result = django_filters.ChoiceFilter(choices=ChangeResult.choices, label=_("结果"), empty_label=ALL)

    class Meta:
        model = ChangeRecord
        fields = ["kind", "result"]


class ChangeRecordListView(ScopedListView):
    permission_required = ("ops.view_changerecord",)
    filterset_class = ChangeRecordFilterSet
    template_name = T + "change_list.html"

    def base_queryset(self):
        return ChangeRecord.objects.select_related("unit", "approved_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(can_add=user.has_perm("ops.add_changerecord"), can_approve=user.has_perm("ops.approve_changerecord"),
                       can_execute=user.has_perm("ops.change_changerecord"), results=ChangeResult.choices)  # fmt: skip
        return context


class ChangeRecordForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200)
    kind = forms.ChoiceField(label=_("类型"), choices=ChangeKind.choices)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    version = forms.CharField(label=_("版本"), required=False, max_length=50)
    planned_start = forms.DateTimeField(label=_("计划开始"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    planned_end = forms.DateTimeField(label=_("计划结束"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 4}))


@login_required
def change_new(request):
    if not request.user.has_perm("ops.add_changerecord"):
        raise PermissionDenied
    form = ChangeRecordForm(request.POST or None, initial={"unit": request.user.unit_id})
    form.fields["unit"].queryset = Unit.objects.restrict(request.user).order_by("code")
    _style(form)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_create(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:change_list"))
    return _form_page(request, form, _("登记变更与发布"), reverse("ops:change_list"))


@login_required
@require_POST
def change_step(request, pk, step):
    change = get_object_or_404(ChangeRecord.objects.restrict(request.user), pk=pk)
    try:
        if step == "approve":
            services.change_approve(actor=request.user, change=change)
        elif step == "execute":
            services.change_execute(actor=request.user, change=change, executed_at=timezone.now(),
                                    result=request.POST.get("result", ""))  # fmt: skip
        else:
            raise PermissionDenied
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    return HttpResponseRedirect(reverse("ops:change_list"))


# ------------------------------------------------------------------ training


class TrainingSessionListView(ScopedListView):
    permission_required = ("ops.view_trainingsession",)
    template_name = T + "training_list.html"

    def base_queryset(self):
        return TrainingSession.objects.select_related("unit")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        start = (today.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
        context["months"] = services.training_completeness(TrainingSession.objects.restrict(self.request.user),
                                                           start, today)  # fmt: skip
        context["can_add"] = self.request.user.has_perm("ops.add_trainingsession")
        return context


class TrainingSessionForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    date = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}))
    topic = forms.CharField(label=_("主题"), max_length=200)
    trainer = forms.CharField(label=_("讲师"), max_length=100)
    duration_minutes = forms.IntegerField(label=_("时长（分钟）"), min_value=1)
    attendees = forms.ModelMultipleChoiceField(label=_("参训人"), queryset=User.objects.none(), required=False)
    material = forms.FileField(label=_("培训材料"), required=False)


@login_required
def training_new(request):
    if not request.user.has_perm("ops.add_trainingsession"):
        raise PermissionDenied
    form = TrainingSessionForm(request.POST or None, request.FILES or None, initial={"unit": request.user.unit_id})
    units = Unit.objects.restrict(request.user)
    form.fields["unit"].queryset = units.order_by("code")
    form.fields["attendees"].queryset = User.objects.filter(unit__in=units.values("pk")).order_by("username")
    _style(form)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        material = data.pop("material")
        try:
            from django.db import transaction

            with transaction.atomic():
                session = services.training_create(actor=request.user, **data)
                if material is not None:
                    attachments.attach(session, actor=request.user, name=material.name, upload=material)
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:training_detail", args=[session.pk]))
    return _form_page(request, form, _("登记培训"), reverse("ops:training_list"))


@login_required
def training_detail(request, pk):
    if not request.user.has_perm("ops.view_trainingsession"):
        raise PermissionDenied
    session = get_object_or_404(TrainingSession.objects.restrict(request.user).select_related("unit"), pk=pk)
    if request.method == "POST":
        user = get_object_or_404(User, pk=request.POST.get("user"))
        score = request.POST.get("score") or None
        try:
            services.training_feedback(actor=request.user, session=session, user=user,
                                       attended=request.POST.get("attended") == "on",
                                       score=int(score) if score and score.isdigit() else None,
                                       comment=request.POST.get("comment", ""))  # fmt: skip
        except ServiceError as exc:
            messages.error(request, str(exc.detail))
        return HttpResponseRedirect(reverse("ops:training_detail", args=[pk]))
    context = {
        "session": session,
        "attendances": TrainingAttendance.objects.filter(session=session).select_related("user"),
        "files": attachments.attachments_of(session),
        "can_edit": request.user.has_perm("ops.change_trainingsession"),
    }
    return render(request, T + "training_detail.html", context)


# ------------------------------------------------------------------ ledger


@login_required
def ledger(request):
    """Every contract in scope with its penalty lines as of a date; each figure links to the
    incidents and records it comes from."""
    if not request.user.has_perm("ops.view_contract"):
        raise PermissionDenied
    try:
        as_of = dt.date.fromisoformat(request.GET.get("as_of", ""))
    except ValueError:
        as_of = timezone.localdate()
    contracts = Contract.objects.restrict(request.user).select_related("contractor").prefetch_related("milestones")
    rows = []
    for contract in contracts:
        result = penalties(contract, as_of)
        rows.append({"contract": contract, "result": result, "lines": [line.as_dict() for line in result.lines],
                     "price": yuan(contract.price_fen), "bond": yuan(contract.bond_fen),
                     "total": yuan(result.total_fen), "bond_return": yuan(result.bond_return_fen),
                     "milestones": [(m, yuan(m.amount_fen)) for m in contract.milestones.all()]})  # fmt: skip
    for row in rows:
        for line in row["lines"]:
            line["amount"] = yuan(line["amount_fen"])
    return render(request, T + "ledger.html", {"rows": rows, "as_of": as_of})


# ------------------------------------------------------------------ reports


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=ReportKind.choices)
    period = forms.CharField(label=_("期间"), max_length=10, help_text=_("月：2026-10；季度：2026Q3"))


@login_required
def report_list(request):
    if not request.user.has_perm("ops.view_report"):
        raise PermissionDenied
    form = _style(ReportForm(request.POST or None))
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("ops.add_report"):
            raise PermissionDenied
        if form.is_valid():
            try:
                report_svc.report_generate(actor=request.user, kind=form.cleaned_data["kind"],
                                           label=form.cleaned_data["period"])  # fmt: skip
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
            else:
                return HttpResponseRedirect(reverse("ops:report_list"))
        status = 400
    context = {"reports": Report.objects.all()[:100], "form": form, "can_add": request.user.has_perm("ops.add_report")}
    return render(request, T + "report_list.html", context, status=status)


@login_required
def report_download(request, pk, ext):
    report = get_object_or_404(Report, pk=pk)
    try:
        data, name, content_type = report_svc.report_file(actor=request.user, report=report, ext=ext)
    except ServiceError as exc:
        return HttpResponse(str(exc.detail), status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
