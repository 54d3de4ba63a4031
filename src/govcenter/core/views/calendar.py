"""Working-calendar administration: a month grid, the year's overrides, add/edit/delete a day.

Only holders of ``core.manage_calendar`` reach these pages (others signed in get 403).
The calendar is configuration shared by every unit, so it has no data scope. Every change
goes through the calendar services, which audit it.
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from .. import calendar as workcal
from ..models import CalendarDay

PERMISSION = "core.manage_calendar"
WEEKDAY_LABELS = (
    gettext_lazy("一"),
    gettext_lazy("二"),
    gettext_lazy("三"),
    gettext_lazy("四"),
    gettext_lazy("五"),
    gettext_lazy("六"),
    gettext_lazy("日"),
)


class CalendarDayForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=CalendarDay.Kind.choices)
    name = forms.CharField(label=gettext_lazy("节日名称"), max_length=40, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


def _today() -> dt.date:
    return timezone.localdate()


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError):
        raise Http404 from None
    if not low <= value <= high:
        raise Http404
    return value


@login_required
@permission_required(PERMISSION, raise_exception=True)
def calendar_month(request):
    """One month as a grid (status of every day) and the month's overrides."""
    today = _today()
    year = _int_param(request, "year", today.year, 1900, 2999)
    month = _int_param(request, "month", today.month, 1, 12)
    overrides = {row.date: row for row in workcal.overrides_in_month(year, month)}
    weeks = []
    for week in pycal.Calendar(firstweekday=0).monthdatescalendar(year, month):
        cells = []
        for day in week:
            row = overrides.get(day)
            cells.append(
                {
                    "date": day,
                    "in_month": day.month == month,
                    "is_workday": workcal.is_workday(day),
                    "override": row,
                    "is_today": day == today,
                }
            )
        weeks.append(cells)
    first = dt.date(year, month, 1)
    previous = first - dt.timedelta(days=1)
    following = first + dt.timedelta(days=32)
    context = {
        "year": year,
        "month": month,
        "weeks": weeks,
        "weekday_labels": WEEKDAY_LABELS,
        "overrides": list(overrides.values()),
        "previous": {"year": previous.year, "month": previous.month},
        "next": {"year": following.year, "month": following.month},
        "warnings": workcal.calendar_warnings(today),
        "last_covered_year": workcal.last_covered_year(),
    }
    return render(request, "core/calendar/month.html", context)


@login_required
@permission_required(PERMISSION, raise_exception=True)
def calendar_year(request):
    """Every override of one year, by month."""
    today = _today()
    year = _int_param(request, "year", today.year, 1900, 2999)
    rows = list(CalendarDay.objects.filter(date__year=year).select_related("updated_by").order_by("date"))
    months = []
    for month in range(1, 13):
        in_month = [row for row in rows if row.date.month == month]
        if in_month:
            months.append({"month": month, "rows": in_month})
    context = {
        "year": year,
        "months": months,
        "count": len(rows),
        "holidays": sum(1 for row in rows if row.kind == CalendarDay.Kind.HOLIDAY),
        "warnings": workcal.calendar_warnings(today),
    }
    return render(request, "core/calendar/year.html", context)


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def calendar_day_edit(request):
    """Add or change the override of one day (``?date=YYYY-MM-DD`` pre-fills an existing one)."""
    existing = None
    if request.method == "GET":
        initial = {}
        if request.GET.get("date"):
            try:
                day = dt.date.fromisoformat(request.GET["date"])
            except ValueError:
                raise Http404 from None
            existing = CalendarDay.objects.filter(date=day).first()
            initial = {"date": day}
            if existing:
                initial.update(kind=existing.kind, name=existing.name)
        form = CalendarDayForm(initial=initial)
    else:
        form = CalendarDayForm(request.POST)
        if form.is_valid():
            row = workcal.calendar_day_save(
                date=form.cleaned_data["date"],
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
                user=request.user,
            )
            messages.success(request, _("已保存 %(date)s 的日历调整") % {"date": row.date.isoformat()})
            return redirect(f"{reverse('core:calendar')}?year={row.date.year}&month={row.date.month}")
    context = {"form": form, "existing": existing}
    return render(request, "core/calendar/day_form.html", context)


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def calendar_day_delete(request, pk: int):
    """Confirm (GET) and remove (POST) one override."""
    row = get_object_or_404(CalendarDay, pk=pk)
    if request.method == "POST":
        day = row.date
        workcal.calendar_day_delete(day=row)
        messages.success(request, _("已删除 %(date)s 的日历调整") % {"date": day.isoformat()})
        return redirect(f"{reverse('core:calendar')}?year={day.year}&month={day.month}")
    return render(request, "core/calendar/day_delete.html", {"row": row})
