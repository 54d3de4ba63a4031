"""The page and Excel export of every registered statistic (``/parking/stats/<slug>/``).

One view for all: the statistic's definition (:mod:`.framework`) says its filters, KPIs,
charts and tables; :func:`.framework.compute` gives the numbers the API and the reports give.
Bad input (an inverted window, an unknown district, a filter the statistic cannot honour)
shows the error on the page with status 400. Drill-down: each row links one level down,
breadcrumbs link back up. The Excel export holds exactly the page's tables.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import re_path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..lake.sync import lake_status
from ..models.tariff import AreaClass, VehicleClass
from .catalog import STATISTICS
from .common import district_choices, level_label, parse_query
from .framework import Statistic, StatResult, compute, display

T = "parking/stats2/"
SUFFIX = {"fen": "（元）", "percent": "（%）", "minutes": "（分钟）", "hours": "（小时）", "days": "（天）"}


def header(measure) -> str:
    return f"{measure.label}{SUFFIX.get(measure.unit, '')}"


def link(params: dict, **change) -> str:
    q = QueryDict(mutable=True)
    for key, value in {**params, **change}.items():
        if value not in (None, ""):
            q[key] = str(value)
    return "?" + q.urlencode()


def _statistic(slug: str, user) -> Statistic:
    stat = STATISTICS.get(slug)
    if stat is None:
        raise Http404
    if not user.has_perm(stat.permission):
        raise PermissionDenied
    return stat


def tables(stat: Statistic, result: StatResult, base: dict) -> list[dict]:
    """The page's tables, in order — the same list the Excel export writes, sheet by sheet."""
    q = result.query
    level = q.level
    columns = [(m.key, header(m), m.unit) for m in stat.measures]
    main = {
        "key": "rows",
        "title": _("按%(level)s") % {"level": level_label(level)} if level else _("合计"),
        "first": level_label(level),
        "columns": columns,
        "rows": [
            {
                "name": r["name"],
                "code": r["code"],
                "href": link(base, **{level: r["id"]}) if level else "",
                "values": [display(r[k], u) for k, _l, u in columns],
            }
            for r in result.rows
        ],
        "total": [display(result.total[k], u) for k, _l, u in columns],
    }
    out = [main]
    for b in stat.breakdowns:
        cols = [(k, header(stat.measure(k)), stat.measure(k).unit) for k in b.measures]
        out.append(
            {
                "key": b.key,
                "title": str(b.label),
                "first": str(b.label),
                "columns": cols,
                "rows": [
                    {
                        "name": g["label"],
                        "code": "",
                        "href": "",
                        "values": [display(g[k], u) for k, _l, u in cols],
                    }
                    for g in result.breakdowns[b.key]
                ],
                "total": None,
            }
        )
    for extra in result.extra:
        cols = [(k, label, unit) for k, label, unit in extra["columns"]]
        out.append(
            {
                "key": extra["key"],
                "title": str(extra["title"]),
                "first": str(cols[0][1]),
                "columns": cols[1:],
                "rows": [
                    {
                        "name": r[cols[0][0]],
                        "code": "",
                        "href": "",
                        "values": [display(r.get(k), u) for k, _l, u in cols[1:]],
                    }
                    for r in extra["rows"]
                ],
                "total": None,
            }
        )
    return out


def charts(stat: Statistic, result: StatResult) -> list[dict]:
    """ECharts specs (data only; the script draws them): the drill rows, then each breakdown."""
    out = []
    keys = stat.chart_measures or stat.kpis[:1]
    if result.rows:
        out.append(
            {
                "id": "rows",
                "title": _("按%(level)s") % {"level": level_label(result.query.level)},
                "type": "bar",
                "categories": [r["name"] for r in result.rows],
                "series": [
                    {
                        "name": header(stat.measure(k)),
                        "data": [display(r[k], stat.measure(k).unit) for r in result.rows],
                    }
                    for k in keys
                ],
                "shared": len({stat.measure(k).unit for k in keys}) == 1,  # one unit: one axis
            }
        )
    for b in stat.breakdowns:
        groups = result.breakdowns[b.key]
        out.append(
            {
                "id": b.key,
                "title": str(b.label),
                "type": b.chart,
                "categories": [g["label"] for g in groups],
                "series": [
                    {
                        "name": header(stat.measure(k)),
                        "data": [display(g[k], stat.measure(k).unit) for g in groups],
                    }
                    for k in (b.measures[:1] if b.chart == "pie" else b.measures[:2])
                ],
                "shared": len({stat.measure(k).unit for k in b.measures[:2]}) == 1,
            }
        )
    return out


def context(request, stat: Statistic) -> dict:
    query = parse_query(request.user, request.GET, filters=stat.filters, levels=stat.levels)
    result = compute(stat, request.user, query)
    base = {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "area_class": query.area_class or "",
        "vehicle_class": query.vehicle_class or "",
    }
    crumbs = [(_("全市"), link(base))]
    if query.district and "district" in stat.levels:
        crumbs.append((query.district.name_zh, link(base, district=query.district.pk)))
    if query.road:
        crumbs.append((query.road.name, link(base, road=query.road.pk)))
    if query.segment:
        crumbs.append((query.segment.name, link(base, segment=query.segment.pk)))
    status = {d["dataset"]: d for d in lake_status()}
    return {
        "stat": stat,
        "query": query,
        "result": result,
        "data": result.as_dict(),
        "kpis": [
            {
                "key": k,
                "label": header(stat.measure(k)),
                "value": display(result.total[k], stat.measure(k).unit),
            }
            for k in stat.kpis
        ],
        "tables": tables(stat, result, base),
        "charts": charts(stat, result),
        "crumbs": crumbs,
        "export_query": request.GET.urlencode(),
        "lake": [status[name] for name in stat.datasets if name in status],
    }


def choices(request, stat: Statistic) -> dict:
    return {
        "districts": district_choices(request.user),
        "area_classes": AreaClass.choices,
        "vehicle_classes": VehicleClass.choices,
        "has": {name: name in stat.filters for name in ("area_class", "vehicle_class", "district")},
        "params": request.GET,
        "stat": stat,
    }


@login_required
@require_GET
def statistic_page(request, slug: str):
    """Filters, KPI cards, charts and tables of one statistic."""
    stat = _statistic(slug, request.user)
    try:
        ctx = context(request, stat)
    except ServiceError as exc:
        ctx = {"error": exc.detail, "error_code": exc.error_code, "error_details": exc.details}
        return render(request, T + "statistic.html", {**ctx, **choices(request, stat)}, status=400)
    return render(request, T + "statistic.html", {**ctx, **choices(request, stat)})


def workbook_of(title: str, query, crumbs, table_list) -> object:
    """An openpyxl workbook with one sheet per table (the page's tables, same numbers)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for i, table in enumerate(table_list):
        name = str(title if i == 0 else table["title"])[:31]
        for bad in "[]:*?/\\":
            name = name.replace(bad, " ")
        sheet = workbook.create_sheet(name)
        if i == 0:
            sheet.append([_("时间窗口"), f"{query.start.isoformat()} — {query.end.isoformat()}"])
            sheet.append([_("范围"), " / ".join(str(n) for n, _h in crumbs)])
        sheet.append([str(table["first"]), *[str(label) for _k, label, _u in table["columns"]]])
        for row in table["rows"]:
            sheet.append([row["name"], *row["values"]])
        if table.get("total") is not None:
            sheet.append([_("合计"), *table["total"]])
    return workbook


@login_required
@require_GET
def statistic_export(request, slug: str):
    """The page's tables as .xlsx — one sheet each, the same numbers."""
    stat = _statistic(slug, request.user)
    try:
        ctx = context(request, stat)
    except ServiceError as exc:
        return HttpResponse(str(exc.detail), status=400, content_type="text/plain; charset=utf-8")
    query = ctx["query"]
    workbook = workbook_of(str(stat.title), query, ctx["crumbs"], ctx["tables"])
    audit.record(
        action=f"parking.stats.{stat.slug}.export",
        object_type="parking.statistic",
        object_id=stat.slug,
        object_repr=f"{query.start.isoformat()}..{query.end.isoformat()}",
        changes={**ctx["data"]["filters"], "rows": len(ctx["data"]["rows"])},
    )
    response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = (
        f'attachment; filename="parking-{stat.slug}-{query.start.isoformat()}-{query.end.isoformat()}.xlsx"'
    )
    workbook.save(response)
    return response


# Only the registered slugs match, so other pages under /parking/stats/ keep their paths.
_SLUGS = "|".join(sorted(STATISTICS))
urlpatterns: list = [
    re_path(rf"^stats/(?P<slug>{_SLUGS})/$", statistic_page, name="stats_statistic"),
    re_path(rf"^stats/(?P<slug>{_SLUGS})/export\.xlsx$", statistic_export, name="stats_statistic_export"),
]
