"""The report pages under /parking/stats/reports/.

* ``stats/reports/`` — GET: the stored reports the caller may see (scoped) and, for holders of
  ``add_parkingreport``, the generate form; POST (kind + period + district): queue it (a Huey
  job generates it as the requesting user) and come back to the list, which refreshes itself
  while a report is queued or running (bad input: the form again, status 400, nothing queued).
* ``stats/reports/<id>/<docx|xlsx>/`` — a stored file after its SM3 check (a tampered file is
  refused with 409); every download audited by the service. Another district's report is 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District

from ..models.reports import ParkingReportKind
from . import services

T = "parking/reports/"


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def report_list(request):
    """The stored reports (scoped) and the generate form; POST generates one."""
    status, error = 200, None
    form = {"kind": request.POST.get("kind", ParkingReportKind.MONTHLY), "period": request.POST.get("period", ""),
            "district": request.POST.get("district", "")}  # fmt: skip
    if request.method == "POST":
        if not request.user.has_perm(services.ADD_PERMISSION):
            raise PermissionDenied(_("没有生成停车统计报告的权限。"))
        try:
            report = services.parkingreport_request(
                actor=request.user,
                kind=form["kind"],
                label=form["period"],
                district=services.district_of(request.user, form["district"]),
            )
        except ServiceError as exc:
            status, error = 400, str(exc.detail)
        else:
            messages.success(
                request, _("已加入生成队列：%(report)s，完成后可在下方下载。") % {"report": report.label}
            )
            return redirect("parking:stats_reports")
    reports = list(services.parkingreport_list(request.user)[:200])
    context = {
        "reports": reports,
        "pending": any(r.status in services.PENDING for r in reports),
        "can_generate": request.user.has_perm(services.ADD_PERMISSION),
        "districts": District.objects.restrict(request.user).defer("geometry").order_by("sort_order", "code"),
        "kinds": ParkingReportKind.choices,
        "form": form,
        "error": error,
    }
    return render(request, T + "list.html", context, status=status)


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def report_download(request, pk: int, ext: str):
    """One stored file of a report (SM3 checked, audited)."""
    report = get_object_or_404(services.parkingreport_list(request.user), pk=pk)
    try:
        data, name, content_type = services.parkingreport_file(actor=request.user, report=report, ext=ext)
    except ServiceError as exc:
        if exc.error_code in ("bad_kind", "file_missing"):
            raise Http404(str(exc.detail)) from None
        return HttpResponse(str(exc.detail), status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list = [
    path("stats/reports/", report_list, name="stats_reports"),
    path("stats/reports/<int:pk>/<str:ext>/", report_download, name="stats_report_download"),
]
