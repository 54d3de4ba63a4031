"""订单情况统计 page ``/parking/stats/orders/`` and its Excel export (exactly what is on screen).

Both call :func:`govcenter.parking.stats2.orders.order_stats` with the query of the page's
GET parameters, as the API does; bad input (an inverted window, an unknown district …) shows
the error on the page with status 400 and nothing else. Drill-down: each table row links to
the same page one level down (city → district → road → segment), breadcrumbs link back up.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..lake.sync import lake_status
from ..models.tariff import AreaClass, VehicleClass
from .common import district_choices
from .orders import as_dict, order_stats, parse_query

PERM = "parking.view_dailydistrictstat"
T = "parking/stats2/"


def _yuan(fen: int) -> float:
    return round(fen / 100, 2)


def _columns() -> list[tuple[str, str]]:
    return [
        ("orders", _("订单数")),
        ("completed", _("已结束订单数")),
        ("day_orders", _("白天订单数（07–21时）")),
        ("night_orders", _("夜间订单数（21–07时）")),
        ("average_minutes", _("平均停车时长（分钟）")),
        ("due_fen", _("应收（分）")),
        ("paid_fen", _("实收（分）")),
        ("adjustment_fen", _("调整（分）")),
        ("spaces", _("泊位数")),
        ("turnover", _("周转率（次/泊位/日）")),
    ]


def _level_label(level: str | None) -> str:
    return {"district": _("所属区"), "road": _("道路"), "segment": _("路段")}.get(level or "", _("路段"))


def _link(params: dict, **change) -> str:
    q = QueryDict(mutable=True)
    for key, value in {**params, **change}.items():
        if value not in (None, ""):
            q[key] = str(value)
    return "?" + q.urlencode()


def _context(request):
    query = parse_query(request.user, request.GET)
    stats = order_stats(request.user, query)
    data = as_dict(stats)
    base = {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "area_class": query.area_class or "",
    }
    crumbs = [(_("全市"), _link(base))]
    if query.district:
        crumbs.append((query.district.name_zh, _link(base, district=query.district.pk)))
    if query.road:
        crumbs.append((query.road.name, _link(base, road=query.road.pk)))
    if query.segment:
        crumbs.append((query.segment.name, _link(base, segment=query.segment.pk)))
    for row in data["rows"]:
        row["href"] = _link(base, **{data["level"]: row["id"]})
    columns = _columns()
    return (
        query,
        data,
        {
            "query": query,
            "data": data,
            "columns": columns,
            "table": [
                {
                    "name": r["name"],
                    "code": r["code"],
                    "href": r["href"],
                    "values": [r[k] for k, _l in columns],
                }
                for r in data["rows"]
            ],
            "total_values": [data["total"][k] for k, _l in columns],
            "crumbs": crumbs,
            "level_label": _level_label(data["level"]),
            "chart_data": {
                "hours": [f"{h['hour']:02d}" for h in data["by_hour"]],
                "hour_orders": [h["orders"] for h in data["by_hour"]],
                "hour_occupancy": [
                    None if h["occupancy"] is None else round(h["occupancy"] * 100, 2)
                    for h in data["by_hour"]
                ],
                "buckets": [b["bucket"] for b in data["duration"]],
                "bucket_orders": [b["orders"] for b in data["duration"]],
                "rows": [r["name"] for r in data["rows"]],
                "row_orders": [r["orders"] for r in data["rows"]],
                "row_paid_yuan": [_yuan(r["paid_fen"]) for r in data["rows"]],
                "day_night": [data["total"]["day_orders"], data["total"]["night_orders"]],
                "labels": {
                    "orders": _("订单数"),
                    "occupancy": _("泊位占用率（%）"),
                    "paid": _("实收（元）"),
                    "day": _("白天"),
                    "night": _("夜间"),
                },
            },
            "export_query": request.GET.urlencode(),
            "lake": next((d for d in lake_status() if d["dataset"] == "orders"), None),
        },
    )


def _choices(request):
    return {
        "districts": district_choices(request.user),
        "area_classes": AreaClass.choices,
        "vehicle_classes": VehicleClass.choices,
        "has": {"district": True, "area_class": True, "vehicle_class": True},  # every filter
    }


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def orders_page(request):
    """Filters, KPI cards, ECharts charts and the drill-down table of the orders statistic."""
    try:
        _query, _data, context = _context(request)
    except ServiceError as exc:
        context = {"error": exc.detail, "error_code": exc.error_code, "error_details": exc.details}
        return render(
            request, T + "orders.html", {**context, **_choices(request), "params": request.GET}, status=400
        )
    return render(request, T + "orders.html", {**context, **_choices(request), "params": request.GET})


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def orders_export(request):
    """The page's table (rows + total), hours and durations as .xlsx — the same numbers."""
    from openpyxl import Workbook

    try:
        query, data, context = _context(request)
    except ServiceError as exc:
        return HttpResponse(str(exc.detail), status=400, content_type="text/plain; charset=utf-8")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("订单情况统计"))
    sheet.append([_("时间窗口"), f"{query.start.isoformat()} — {query.end.isoformat()}"])
    sheet.append([_("范围"), " / ".join(str(name) for name, _href in context["crumbs"])])
    sheet.append([str(context["level_label"]), _("编码"), *[str(label) for _k, label in context["columns"]]])
    for row in context["table"]:
        sheet.append([row["name"], row["code"], *row["values"]])
    sheet.append([_("合计"), "", *context["total_values"]])
    sheet = workbook.create_sheet(_("分时段"))
    sheet.append([_("时段"), _("订单数"), _("占用泊位秒数"), _("泊位占用率")])
    for h in data["by_hour"]:
        sheet.append([h["hour"], h["orders"], h["occupied_seconds"], h["occupancy"]])
    sheet = workbook.create_sheet(_("停车时长分布"))
    sheet.append([_("时长"), _("订单数")])
    for b in data["duration"]:
        sheet.append([b["bucket"], b["orders"]])
    audit.record(
        action="parking.stats.orders.export",
        object_type="parking.order",
        object_id="stats",
        object_repr=f"{query.start.isoformat()}..{query.end.isoformat()}",
        changes={**data["filters"], "rows": len(data["rows"])},
    )
    response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = (
        f'attachment; filename="parking-orders-{query.start.isoformat()}-{query.end.isoformat()}.xlsx"'
    )
    workbook.save(response)
    return response


urlpatterns: list = [
    path("stats/orders/", orders_page, name="stats_orders"),
    path("stats/orders/export.xlsx", orders_export, name="stats_orders_export"),
]
