"""故障 pages: the list (state, severity, overdue; colours by the SLA clock), reporting a fault,
and its page — the clock (policy, deadlines, met or not, pauses, the 12-hour rule), the
timeline, and a form for each step the caller may take now. Rows come from the caller's data
scope (another unit's incident is 404); every write goes through ``incidents``."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.filters import ALL, yes_no_filter
from govcenter.core.models import Unit
from govcenter.core.views.base import ScopedListView

from . import incidents
from .duty import escalation
from .models import OPEN_STATES, Incident, IncidentState, Severity

T = "ops/"


class IncidentFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=IncidentState.choices, label=_("状态"), empty_label=ALL)
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label=_("级别"), empty_label=ALL)
    overdue = yes_no_filter(_("超时未解决"), method="filter_overdue")

    class Meta:
        model = Incident
        fields = ["state", "severity"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        late = {"state__in": OPEN_STATES, "resolve_by__lt": timezone.now()}
        return queryset.filter(**late) if value else queryset.exclude(**late)


class IncidentListView(ScopedListView):
    permission_required = ("ops.view_incident",)
    filterset_class = IncidentFilterSet
    template_name = T + "incident_list.html"

    def base_queryset(self):
        return Incident.objects.select_related("unit")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context["rows"] = [(i, _level(i, now)) for i in context["object_list"]]
        context["can_add"] = self.request.user.has_perm("ops.add_incident")
        return context


def _level(incident: Incident, now: dt.datetime) -> str:
    """red: open past its resolve deadline (or a breach); yellow: not responded past the
    respond deadline; "" otherwise."""
    if incident.breach or (incident.state in OPEN_STATES and incident.resolve_by < now):
        return "red"
    if incident.responded_at is None and incident.state in OPEN_STATES and incident.respond_by < now:
        return "yellow"
    return ""


class IncidentOpenForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200)
    severity = forms.ChoiceField(label=_("级别"), choices=Severity.choices)
    unit = forms.ModelChoiceField(label=_("运维单位"), queryset=Unit.objects.none())
    reported_at = forms.DateTimeField(label=_("报告时间"), required=False, help_text=_("不填为现在（北京时间）"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))  # fmt: skip
    description = forms.CharField(label=_("描述"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.restrict(user).order_by("code")
        if user.unit_id:
            self.fields["unit"].initial = user.unit_id
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")


STEP_FORMS = {
    "respond": {"comment": forms.CharField(label=_("说明"), required=False, max_length=500)},
    "pause": {"reason": forms.CharField(label=_("挂起原因"), max_length=300)},
    "resume": {"comment": forms.CharField(label=_("说明"), required=False, max_length=500)},
    "resolve": {
        "root_cause": forms.CharField(label=_("根本原因"), widget=forms.Textarea(attrs={"rows": 3})),
        "resolution": forms.CharField(label=_("处理措施"), widget=forms.Textarea(attrs={"rows": 3})),
        "contractor_caused": forms.BooleanField(label=_("运维方原因"), required=False, initial=True),
    },
    "close": {"review": forms.CharField(label=_("复盘结论"), widget=forms.Textarea(attrs={"rows": 3}))},
}
STEP_LABELS = {"respond": _("响应"), "pause": _("挂起"), "resume": _("恢复计时"), "resolve": _("解决"), "close": _("复盘关闭")}


def _step_form(name: str, data=None) -> forms.Form:
    form = type(f"{name.title()}Form", (forms.Form,), dict(STEP_FORMS[name]))(data, prefix=name)
    for field in form.fields.values():
        if not isinstance(field, forms.BooleanField):
            field.widget.attrs.setdefault("class", "form-control")
    return form


@login_required
def incident_new(request):
    if not request.user.has_perm("ops.add_incident"):
        raise PermissionDenied
    form = IncidentOpenForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incidents.incident_open(
                actor=request.user, title=data["title"], severity=data["severity"], unit=data["unit"],
                reported_at=data["reported_at"] or None, description=data["description"],
            )  # fmt: skip
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            return HttpResponseRedirect(reverse("ops:incident_detail", args=[incident.pk]))
    return render(request, T + "incident_form.html", {"form": form}, status=400 if form.errors else 200)


def _incident(request, pk) -> Incident:
    if not request.user.has_perm("ops.view_incident"):
        raise PermissionDenied
    return get_object_or_404(Incident.objects.restrict(request.user).select_related("unit", "reported_by"), pk=pk)


@login_required
def incident_detail(request, pk, forms_with_errors=None, status=200):
    incident = _incident(request, pk)
    clock = incidents.clock(incident)
    steps = [
        {"name": name, "label": STEP_LABELS[name], "form": (forms_with_errors or {}).get(name) or _step_form(name)}
        for name in workflow.available(incident, request.user)
        if name in STEP_FORMS
    ]
    context = {
        "incident": incident,
        "clock": clock,
        "level": _level(incident, timezone.now()),
        "pauses": incident.pauses.all(),
        "history": [(row, STEP_LABELS.get(row.transition, row.transition)) for row in workflow.history(incident)],
        "steps": steps,
    }
    context["escalation"] = escalation.chain_for(incident) if request.user.has_perm("ops.view_escalationevent") else []
    return render(request, T + "incident_detail.html", context, status=status)


@login_required
@require_POST
def incident_step(request, pk, step):
    incident = _incident(request, pk)
    if step not in STEP_FORMS:
        raise Http404
    form = _step_form(step, request.POST)
    if not form.is_valid():
        return incident_detail(request, pk, forms_with_errors={step: form}, status=400)
    data, user = form.cleaned_data, request.user
    calls = {
        "respond": lambda: incidents.incident_respond(actor=user, incident=incident, comment=data["comment"]),
        "pause": lambda: incidents.incident_pause(actor=user, incident=incident, reason=data["reason"]),
        "resume": lambda: incidents.incident_resume(actor=user, incident=incident, comment=data["comment"]),
        "resolve": lambda: incidents.incident_resolve(actor=user, incident=incident, root_cause=data["root_cause"],
                                                      resolution=data["resolution"],
                                                      contractor_caused=data["contractor_caused"]),
        "close": lambda: incidents.incident_close(actor=user, incident=incident, review=data["review"]),
    }  # fmt: skip
    try:
        calls[step]()
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, STEP_LABELS[step])
    return HttpResponseRedirect(reverse("ops:incident_detail", args=[pk]))
