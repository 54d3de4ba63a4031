"""Assessment pages (考核) under /bikeshare/assessment/.

* ``assessment/?month=YYYY-MM`` — the month's scores per operator (newest visible revision),
  a stacked bar chart of the weighted points per indicator (``static/bikeshare/js/assessment.js``),
  compute and publish buttons for the Center.
* ``assessment/result/<id>/`` — one score explained: every indicator's value, points, weights
  and raw inputs with their sources.
* ``assessment/quarter/?quarter=YYYY-Qn`` — grades, quota recommendations, adopt button.
* ``assessment/sets/`` — the indicator set versions (edited through the API).

Every read goes through the service's scope (operators: their own published results).
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.views.decorators.http import require_GET, require_POST

from govcenter.core.api.errors import ServiceError

from ..models.assessment import IndicatorSet
from ..services import assessment as services

T = "bikeshare/assessment/"


def _default_month(user) -> tuple[int, int]:
    """The newest month with results the caller may see; without any, the previous month."""
    newest = services.visible_assessments(user).order_by("-month").values_list("month", flat=True).first()
    last = newest or timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    return last.year, last.month


def _default_quarter() -> tuple[int, int]:
    today = timezone.localdate()
    q = (today.month - 1) // 3  # the previous quarter
    return (today.year, q) if q else (today.year - 1, 4)


def _month_param(request) -> tuple[tuple[int, int], str | None]:
    text = request.GET.get("month") or request.POST.get("month")
    if not text:
        return _default_month(request.user), None
    try:
        return services.parse_month(text), None
    except ServiceError as exc:
        return _default_month(request.user), str(exc.detail)


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def month_page(request):
    (year, month), error = _month_param(request)
    rows = [services.assessment_as_dict(r) for r in services.month_results(request.user, year, month)]
    chart = {
        "operators": [r["operator_name"] for r in rows],
        "series": [
            {"name": ind["name"], "data": [next((i["weighted"] for i in r["indicators"] if i["code"] == ind["code"]), 0)
                                           for r in rows]}
            for ind in (rows[0]["indicators"] if rows else [])
        ],
        "total_label": _g("总分"),
    }  # fmt: skip
    context = {
        "month": f"{year:04d}-{month:02d}",
        "rows": rows,
        "error": error,
        "chart": chart,
        "can_compute": request.user.has_perm(services.COMPUTE_PERMISSION),
        "can_publish": request.user.has_perm(services.PUBLISH_PERMISSION),
    }
    return render(request, T + "month.html", context)


@login_required
@permission_required(services.COMPUTE_PERMISSION, raise_exception=True)
@require_POST
def month_compute(request):
    (year, month), error = _month_param(request)
    if error:
        messages.error(request, error)
    else:
        try:
            rows = services.assessment_compute_month(request.user, year=year, month=month)
        except ServiceError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, _g("已计算 %(n)d 家运营企业的考核得分。") % {"n": len(rows)})
    return redirect(reverse("bikeshare:assessment") + f"?month={year:04d}-{month:02d}")


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def result_page(request, pk: int):
    row = get_object_or_404(services.visible_assessments(request.user), pk=pk)
    data = services.assessment_as_dict(row)
    for ind in data["indicators"]:
        ind["input_items"] = sorted(
            (k, v) for k, v in (ind["inputs"] or {}).items() if not isinstance(v, dict | list)
        )
        ind["input_tables"] = [(k, v) for k, v in (ind["inputs"] or {}).items() if isinstance(v, dict | list)]
    revisions = services.visible_assessments(request.user).filter(operator=row.operator, month=row.month)
    context = {
        "a": data,
        "row": row,
        "revisions": revisions.order_by("-revision"),
        "can_publish": request.user.has_perm(services.PUBLISH_PERMISSION) and row.status == "draft",
    }
    return render(request, T + "result.html", context)


@login_required
@permission_required(services.PUBLISH_PERMISSION, raise_exception=True)
@require_POST
def result_publish(request, pk: int):
    row = get_object_or_404(services.visible_assessments(request.user), pk=pk)
    try:
        services.assessment_publish(request.user, row)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _g("考核结果已发布。"))
    return redirect("bikeshare:assessment_result", pk=row.pk)


def _quarter_param(request) -> tuple[tuple[int, int], str | None]:
    text = request.GET.get("quarter") or request.POST.get("quarter")
    if not text:
        return _default_quarter(), None
    try:
        return services.parse_quarter(text), None
    except ServiceError as exc:
        return _default_quarter(), str(exc.detail)


@login_required
@permission_required(services.GRADE_VIEW_PERMISSION, raise_exception=True)
@require_GET
def quarter_page(request):
    (year, quarter), error = _quarter_param(request)
    grades = services.visible_grades(request.user).filter(year=year, quarter=quarter).order_by("-mean_total")
    context = {
        "quarter": f"{year}-Q{quarter}",
        "grades": grades,
        "error": error,
        "can_compute": request.user.has_perm(services.GRADE_COMPUTE_PERMISSION),
        "can_adopt": request.user.has_perms(services.ADOPT_PERMISSIONS),
    }
    return render(request, T + "quarter.html", context)


@login_required
@permission_required(services.GRADE_COMPUTE_PERMISSION, raise_exception=True)
@require_POST
def quarter_compute(request):
    (year, quarter), error = _quarter_param(request)
    if error:
        messages.error(request, error)
    else:
        try:
            grades = services.quarter_grade_compute(request.user, year=year, quarter=quarter)
        except ServiceError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, _g("已计算 %(n)d 家运营企业的季度等级。") % {"n": len(grades)})
    return redirect(reverse("bikeshare:assessment_quarter") + f"?quarter={year}-Q{quarter}")


@login_required
@permission_required(services.ADOPT_PERMISSIONS, raise_exception=True)
@require_POST
def grade_adopt(request, pk: int):
    grade = get_object_or_404(services.visible_grades(request.user), pk=pk)
    try:
        services.quarter_grade_adopt(request.user, grade)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _g("已采纳总量调整建议。"))
    return redirect(reverse("bikeshare:assessment_quarter") + f"?quarter={grade.year}-Q{grade.quarter}")


@login_required
@permission_required(services.SET_VIEW_PERMISSION, raise_exception=True)
@require_GET
def sets_page(request):
    sets = list(IndicatorSet.objects.all())
    for s in sets:
        s.used = services.indicator_set_in_use(s)
    return render(request, T + "sets.html", {"sets": sets})


urlpatterns: list = [
    path("assessment/", month_page, name="assessment"),
    path("assessment/compute/", month_compute, name="assessment_compute"),
    path("assessment/result/<int:pk>/", result_page, name="assessment_result"),
    path("assessment/result/<int:pk>/publish/", result_publish, name="assessment_publish"),
    path("assessment/quarter/", quarter_page, name="assessment_quarter"),
    path("assessment/quarter/compute/", quarter_compute, name="assessment_quarter_compute"),
    path("assessment/grade/<int:pk>/adopt/", grade_adopt, name="assessment_adopt"),
    path("assessment/sets/", sets_page, name="assessment_sets"),
]
