"""The monthly report page (月度监管报告) under /bikeshare/reports/.

* ``reports/`` — GET: the month form and the stored reports (newest month first); POST:
  generate the chosen month (Word + Excel) through the service and come back to the list.
  Viewing needs ``bikeshare.view_monthlyreport``, generating ``bikeshare.add_monthlyreport``;
  both need the full data scope (the report covers the whole city).
* ``reports/<id>/<docx|xlsx>/`` — the stored file, checked against its SHA-256; every
  download is audited by the service.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from govcenter.core.api.errors import ServiceError

from ..reports import generate as services
from ..reports.monthly import parse_month

T = "bikeshare/reports/"


def _last_month() -> str:
    first = timezone.localdate().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


class MonthForm(forms.Form):
    month = forms.CharField(
        label=_("报告月份"),
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "class": "form-control", "placeholder": "YYYY-MM"}),
    )

    def clean_month(self):
        try:
            return parse_month(self.cleaned_data["month"])
        except ServiceError as exc:
            raise forms.ValidationError(str(exc.detail)) from None


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def report_list(request):
    """The month form and the stored reports; POST generates one."""
    reports = services.monthlyreport_list(request.user)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(services.ADD_PERMISSION):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied(_g("没有生成月度报告的权限。"))
        form = MonthForm(request.POST)
        if form.is_valid():
            year, month = form.cleaned_data["month"]
            try:
                report = services.monthlyreport_generate(request.user, year=year, month=month)
            except ServiceError as exc:
                form.add_error(None, str(exc.detail))
            else:
                messages.success(request, _g("已生成 %(month)s 月度报告。") % {"month": report.label})
                return redirect("bikeshare:reports")
        status = 400
    else:
        form = MonthForm(initial={"month": _last_month()})
    context = {
        "form": form,
        "reports": reports[:100],
        "can_generate": request.user.has_perm(services.ADD_PERMISSION),
    }
    return render(request, T + "list.html", context, status=status)


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def report_download(request, pk: int, kind: str):
    """One stored file of a report (audited)."""
    report = get_object_or_404(services.monthlyreport_list(request.user), pk=pk)
    try:
        found = services.monthlyreport_file(request.user, report=report, kind=kind)
    except ServiceError as exc:
        if exc.status_code == 404 or exc.error_code == "bad_kind":
            raise Http404(str(exc.detail)) from None
        return render(request, T + "error.html", {"error": str(exc.detail), "report": report},
                      status=exc.status_code)  # fmt: skip
    response = FileResponse(open(found.path, "rb"), as_attachment=True, filename=found.name,  # noqa: SIM115
                            content_type=found.content_type)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [
    path("reports/", report_list, name="reports"),
    path("reports/<int:pk>/<str:kind>/", report_download, name="report_download"),
]
