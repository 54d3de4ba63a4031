"""The statistics dashboard (统计看板) under /parking/stats/, its chart script and its Excel export.

Everything is read from DailyDistrictStat through the caller's scope (a district manager
sees only their district: other districts are neither listed, charted, summed nor exported).
The charts are Apache ECharts (vendored); the page carries its data as ``json_script`` and
the script is served by ``stats_charts_js`` (the CSP allows scripts from 'self' only).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from govcenter.core import audit
from govcenter.core.models import District

from ..services.stats import stat_summary, stats_rows, stats_total, stats_trend

T = "parking/stats/"
PERM = "parking.view_dailydistrictstat"
TREND_DAYS = 30


class StatsFilterForm(forms.Form):
    date = forms.DateField(
        label=_("统计日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    district = forms.ModelChoiceField(label=_("所属区"), queryset=District.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = District.objects.restrict(user).defer("geometry").order_by("sort_order", "code")
        self.fields["district"].empty_label = _("全部（数据范围内）")


def _filters(request) -> tuple[StatsFilterForm, dt.date, District | None]:
    form = StatsFilterForm(request.GET or None, user=request.user)
    day, district = timezone.localdate() - dt.timedelta(days=1), None
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["date"] or day
        district = form.cleaned_data["district"]
    return form, day, district


def _yuan(fen: int) -> float:
    return round(fen / 100, 2)


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def _chart_data(rows, trend) -> dict:
    return {
        "trend": {
            "dates": [r.date.isoformat() for r in trend],
            "orders": [r.orders for r in trend],
            "due": [_yuan(r.amount_due_fen) for r in trend],
            "paid": [_yuan(r.amount_paid_fen) for r in trend],
            "payment_rate": [_pct(r.payment_rate) for r in trend],
            "arrears": [r.new_arrears_orders for r in trend],
            "penalties": [r.penalty_cases for r in trend],
            "complaints": [r.complaints for r in trend],
        },
        "districts": {
            "names": [r.district.name_zh for r in rows],
            "occupancy": [_pct(r.occupancy_rate) for r in rows],
            "turnover": [r.turnover for r in rows],
            "arrears": [r.arrears_orders for r in rows],
            "complaints": [r.complaints for r in rows],
        },
        "labels": {
            "orders": _g("订单数"),
            "due": _g("应收（元）"),
            "paid": _g("实收（元）"),
            "payment_rate": _g("缴费率（%）"),
            "occupancy": _g("泊位占用率（%）"),
            "turnover": _g("周转率（次/泊位/日）"),
            "arrears": _g("新增欠费订单数"),
            "penalties": _g("处罚立案数"),
            "complaints": _g("投诉数"),
        },
    }


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def stats_dashboard(request):
    """KPI cards of the chosen day and district, 30-day trend, per-district charts and table."""
    form, day, district = _filters(request)
    rows = list(stats_rows(user=request.user, date=day, district=district))
    total = stats_total(stats_rows(user=request.user, date=day, district=district))
    trend = stats_trend(user=request.user, end=day, days=TREND_DAYS, district=district)
    context = {
        "form": form,
        "day": day,
        "district": district,
        "rows": rows,
        "total": total,
        "total_due_yuan": _yuan(total.amount_due_fen),
        "total_paid_yuan": _yuan(total.amount_paid_fen),
        "payment_pct": _pct(total.payment_rate),
        "occupancy_pct": _pct(total.occupancy_rate),
        "chart_data": _chart_data(rows, trend),
        "export_query": request.GET.urlencode(),
    }
    return render(request, T + "dashboard.html", context)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def stats_charts_js(request):
    """The dashboard's chart script (a template, so it lives beside the page; static content)."""
    response = render(request, T + "charts.js", content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


EXPORT_COLUMNS = (
    ("date", _("统计日期")),
    ("district_name", _("所属区")),
    ("orders", _("订单数")),
    ("sessions", _("完成停车次数")),
    ("amount_due_fen", _("应收（分）")),
    ("amount_paid_fen", _("实收（分）")),
    ("payment_rate", _("缴费率")),
    ("arrears_orders", _("欠费订单数")),
    ("arrears_fen", _("欠费金额（分）")),
    ("complaints", _("投诉数")),
    ("new_arrears_orders", _("新增欠费订单数")),
    ("new_arrears_fen", _("新增欠费金额（分）")),
    ("penalty_cases", _("处罚立案数")),
    ("available_space_hours", _("可用泊位小时")),
    ("occupied_space_hours", _("占用泊位小时")),
    ("unknown_space_hours", _("未知泊位小时")),
    ("occupancy_rate", _("泊位占用率")),
    ("turnover", _("周转率（次/泊位/日）")),
    ("average_duration_minutes", _("平均停车时长（分钟）")),
)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def stats_export(request):
    """The dashboard's table (the chosen day, per district in scope) and the 30-day trend as .xlsx."""
    from openpyxl import Workbook

    _form, day, district = _filters(request)
    rows = list(stats_rows(user=request.user, date=day, district=district))
    trend = stats_trend(user=request.user, end=day, days=TREND_DAYS, district=district)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_g("分区统计"))
    sheet.append([str(label) for _key, label in EXPORT_COLUMNS])
    for row in rows:
        data = stat_summary(row)
        sheet.append([data[key] for key, _label in EXPORT_COLUMNS])
    sheet = workbook.create_sheet(_g("近30日趋势"))
    keys = [k for k, _label in EXPORT_COLUMNS if k not in ("district_name",)]
    sheet.append([str(label) for k, label in EXPORT_COLUMNS if k in keys])
    for row in trend:
        data = stat_summary(row)
        sheet.append([data[key] for key in keys])
    audit.record(
        action="parking.stats.export",
        object_type="parking.dailydistrictstat",
        object_id=day.isoformat(),
        object_repr=f"{day.isoformat()} {district.code if district else '*'}",
        changes={"date": day.isoformat(), "district": district.code if district else None, "rows": len(rows)},
    )
    response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="parking-stats-{day.isoformat()}.xlsx"'
    workbook.save(response)
    return response


urlpatterns: list = [
    path("stats/", stats_dashboard, name="stats_dashboard"),
    path("stats/charts.js", stats_charts_js, name="stats_charts_js"),
    path("stats/export.xlsx", stats_export, name="stats_export"),
]
