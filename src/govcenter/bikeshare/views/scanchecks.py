"""Scan verification pages (扫码核查) under /bikeshare/scan/.

* ``scan/`` — the inspector's mobile page: a code field (typed, or filled by a scanner that
  types into it) → registry and live status (``scan/lookup/``, an HTMX partial; without
  HTMX the same form reloads the page with the lookup) → a result form that posts here.
  The position is read by ``static/bikeshare/js/scancheck.js`` (``navigator.geolocation``,
  WGS-84; the CSP forbids inline scripts). Saving goes through the service; its refusal is
  shown on the form. Needs ``bikeshare.add_scancheck``.
* ``scan/stats/`` — counts per operator, district, inspector and result with the share of
  unregistered bikes, through the caller's scope. Needs ``bikeshare.view_scancheck``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Unit, UnitKind

from ..models.scanchecks import PROBLEMS, ScanResult
from ..services import scanchecks as services

T = "bikeshare/scanchecks/"


def _operators():
    return Unit.objects.filter(kind=UnitKind.OPERATOR, is_active=True).order_by("code")


class LookupForm(forms.Form):
    vehicle_code = forms.CharField(
        label=_("车辆编码"),
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-lg",
                "inputmode": "text",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "enterkeyhint": "search",
                "autofocus": True,
                "placeholder": _("扫码或输入车身编码"),
            }
        ),
    )


class ResultForm(forms.Form):
    vehicle_code = forms.CharField(max_length=255, widget=forms.HiddenInput)
    operator = forms.ModelChoiceField(
        label=_("运营企业"), queryset=Unit.objects.none(), required=False, empty_label=_("（按车身品牌选择）")
    )
    result = forms.ChoiceField(
        label=_("核查结果"),
        choices=ScanResult.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    flags = forms.MultipleChoiceField(
        label=_("其他问题"),
        choices=[(k, v) for k, v in ScanResult.choices if k in PROBLEMS],
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    note = forms.CharField(label=_("备注"), required=False, max_length=services.MAX_NOTE, widget=forms.Textarea(
        attrs={"rows": 2, "class": "form-control"}))  # fmt: skip
    photo_ref = forms.CharField(
        label=_("照片编号"),
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    lon = forms.FloatField(required=False, widget=forms.HiddenInput(attrs={"data-geo": "lon"}))
    lat = forms.FloatField(required=False, widget=forms.HiddenInput(attrs={"data-geo": "lat"}))
    accuracy_m = forms.FloatField(required=False, widget=forms.HiddenInput(attrs={"data-geo": "accuracy"}))
    client_ref = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = _operators()
        self.fields["operator"].widget.attrs["class"] = "form-select"


def _lookup_context(request, code: str, operator: str | None) -> dict:
    """The registry/live status of ``code`` and a fresh result form (or the lookup's refusal)."""
    try:
        found = services.scancheck_lookup(request.user, vehicle_code=code, operator=operator or None)
    except ServiceError as exc:
        return {"lookup_error": str(exc.detail)}
    initial = {"vehicle_code": found.code, "client_ref": uuid.uuid4().hex}
    if found.operator is not None:
        initial["operator"] = found.operator.pk
    if found.vehicle is None and not found.candidates:
        initial["result"] = ScanResult.UNREGISTERED
    return {"found": found, "result_form": ResultForm(initial=initial)}


@login_required
@permission_required(services.ADD_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def scan_page(request):
    """The inspector's page; GET ``?vehicle_code=`` shows the lookup without HTMX; POST saves."""
    context: dict = {"lookup_form": LookupForm(request.GET or None)}
    if request.method == "POST":
        form = ResultForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                check = services.scancheck_record(
                    request.user,
                    vehicle_code=data["vehicle_code"],
                    operator=data["operator"],
                    result=data["result"],
                    flags=data["flags"],
                    lon=data["lon"],
                    lat=data["lat"],
                    datum="WGS-84",  # navigator.geolocation
                    accuracy_m=data["accuracy_m"],
                    note=data["note"],
                    photo_ref=data["photo_ref"],
                    client_ref=data["client_ref"],
                )
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
            else:
                messages.success(
                    request,
                    _g("已记录：%(code)s · %(result)s")
                    % {"code": check.vehicle_code, "result": check.get_result_display()},
                )
                return redirect("bikeshare:scan")
        code = request.POST.get("vehicle_code", "")
        lookup = _lookup_context(request, code, request.POST.get("operator"))
        lookup["result_form"] = form
        context.update(lookup, lookup_form=LookupForm(initial={"vehicle_code": code}))
    elif context["lookup_form"].is_bound and context["lookup_form"].is_valid():
        code = context["lookup_form"].cleaned_data["vehicle_code"]
        context.update(_lookup_context(request, code, request.GET.get("operator")))
    response = render(request, T + "scan.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(services.ADD_PERMISSION, raise_exception=True)
@require_GET
def scan_lookup(request):
    """The HTMX partial: registry record, live status and the result form of one code."""
    form = LookupForm(request.GET)
    if not form.is_valid():
        context = {"lookup_error": _g("请输入车辆编码。")}
    else:
        context = _lookup_context(request, form.cleaned_data["vehicle_code"], request.GET.get("operator"))
    response = render(request, T + "_lookup.html", context)
    response["Cache-Control"] = "no-store"
    return response


class StatsForm(forms.Form):
    start = forms.DateField(
        label=_("开始日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )
    end = forms.DateField(
        label=_("结束日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )


DIMENSIONS = (
    ("operator", _("按运营企业")),
    ("district", _("按区")),
    ("inspector", _("按核查员")),
    ("result", _("按核查结果")),
)


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def scan_stats(request):
    """One table per dimension for the chosen period (default: the last 30 days)."""
    form = StatsForm(request.GET or None)
    end = timezone.localdate()
    start = end - dt.timedelta(days=29)
    if form.is_bound and form.is_valid():
        end = form.cleaned_data["end"] or end
        start = form.cleaned_data["start"] or (end - dt.timedelta(days=29))
    tables, error = [], None
    try:
        for key, label in DIMENSIONS:
            rows = services.scancheck_stats(request.user, period=(start, end), group_by=key)
            for row in rows:
                row["unregistered_pct"] = round(row["unregistered_share"] * 100, 1)
            tables.append({"key": key, "label": label, "rows": rows, "total": sum(r["total"] for r in rows)})
    except ServiceError as exc:
        error, tables = str(exc.detail), []
    context = {
        "form": form,
        "start": start,
        "end": end,
        "tables": tables,
        "error": error,
        "results": ScanResult.choices,
    }
    return render(request, T + "stats.html", context)


urlpatterns: list = [
    path("scan/", scan_page, name="scan"),
    path("scan/lookup/", scan_lookup, name="scan_lookup"),
    path("scan/stats/", scan_stats, name="scan_stats"),
]
