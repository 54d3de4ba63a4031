"""各区数据专题统计 (statistic 14): one district across every statistic, with its ranks.

For each statistic the caller may read (orders + every registered one, :mod:`.sources`) the
page ``/parking/stats/district/<id>/`` shows the district's KPIs for the window, its rank
among the city's districts for each KPI, and a link to the statistic pre-filtered to the
district. Each statistic is computed **once**, at city level (its rows are the districts);
the district's values are its row and the ranks a sort of the rows — not one query per district.

Ranks and data scope (decision): a rank needs every district's value, and a district
manager's scope is their own district. The ranks are therefore computed server-side over all
districts of the city, and a caller whose scope is not the whole city gets **only the rank
position and the count** ("第 3 / 17") — never another district's value; their own values are
inside their scope. The Center's staff (a city-wide scope) also get the full ranking table.
Ranks are competition ranks, highest value first (equal values share a rank; a district with
no rows in the window counts with 0 for counts and sums, and is unranked for rates and means).

The page's Excel export holds the same tables (audited). API: ``GET /api/v1/parking/stats/
district/<id>`` (``parking/api/stats_compare.py``). A district outside the caller's scope is
404 on the page and 400 ``unknown_district`` on the API, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District
from govcenter.core.scope import FULL_SCOPE, scope_for

from .common import StatQuery, bad, check_window, district_choices, parse_date
from .framework import display
from .pages import header, workbook_of
from .sources import FIRST_YEAR, LAST_YEAR, ORDERS_PERMISSION, Source, check_years, visible_sources


def rank_of(value, values: list) -> int | None:
    """Competition rank of ``value`` among ``values``, highest first (None when unranked)."""
    if value is None:
        return None
    return 1 + sum(1 for v in values if v is not None and v > value)


@dataclass
class DistrictStatistic:
    source: Source
    link: str
    values: dict  # the district's row: every measure
    ranks: dict[str, int | None]  # per KPI
    count: int  # districts ranked
    ranking: list[dict] | None = None  # the full table (city-wide scope only)
    rankable: bool = True

    def cards(self) -> list[dict]:
        """The KPIs as shown on the page (fen as yuan, rates as %) with their ranks."""
        return [
            {
                "key": k,
                "label": header(self.source.measure(k)),
                "value": display(self.values.get(k), self.source.measure(k).unit),
                "rank": self.ranks.get(k),
            }
            for k in self.source.kpis
        ]

    def as_dict(self) -> dict:
        return {
            "statistic": self.source.slug,
            "title": str(self.source.title),
            "link": self.link,
            "count": self.count,
            "kpis": [
                {
                    "key": k,
                    "label": str(self.source.measure(k).label),
                    "unit": self.source.measure(k).unit,
                    "value": self.values.get(k),
                    "rank": self.ranks.get(k),
                }
                for k in self.source.kpis
            ],
            "values": self.values,
            "ranking": self.ranking,
        }


@dataclass
class DistrictReport:
    district: District
    start: dt.date
    end: dt.date
    full: bool  # the caller sees the full ranking tables
    statistics: list[DistrictStatistic] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "district": {"id": self.district.pk, "code": self.district.code, "name": self.district.name_zh},
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "full_ranking": self.full,
            "statistics": [s.as_dict() for s in self.statistics],
        }


def district_in_scope(user, pk) -> District:
    """The district ``pk`` if the caller's scope covers it; 400 ``unknown_district`` otherwise."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        pk = 0
    found = District.objects.restrict(user).filter(pk=pk).first()
    if found is None:
        raise bad("unknown_district", _("未知的区或不在数据范围内。"), "district", pk)
    return found


def window(params) -> tuple[dt.date, dt.date]:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    end = parse_date("end", params.get("end"), yesterday)
    if not FIRST_YEAR <= end.year <= LAST_YEAR:
        check_years(end, end)
    start = parse_date("start", params.get("start"), end - dt.timedelta(days=6))
    check_window(start, end)
    check_years(start, end)
    return start, end


def district_report(user, district: District, start: dt.date, end: dt.date) -> DistrictReport:
    """Every readable statistic of ``district`` with its ranks (one city computation each)."""
    full = scope_for(user).all
    # The ranks need every district's row; computed with the city-wide scope, and only the
    # positions (not the values) leave this function for a caller without it.
    runner = user if full else FULL_SCOPE
    all_districts = list(District.objects.defer("geometry").order_by("sort_order", "code"))
    visible = set(District.objects.restrict(user).values_list("pk", flat=True))
    report = DistrictReport(district, start, end, full)
    for source in visible_sources(user).values():
        link = source.url(start=start.isoformat(), end=end.isoformat(), district=district.pk)
        if not source.levels or source.levels[0] != "district":
            # No per-district rows: the district's own numbers, no ranks.
            total, _rows = source.run(user, StatQuery(start, end, district=district, levels=source.levels))
            report.statistics.append(DistrictStatistic(source, link, total, {}, 0, None, rankable=False))
            continue
        _total, rows = source.run(runner, StatQuery(start, end, levels=source.levels))
        by_id = {r["id"]: r for r in rows}
        zero = {m.key: (0 if m.additive else None) for m in source.measures}
        table = [
            {"id": d.pk, "code": d.code, "name": d.name_zh, **{k: by_id.get(d.pk, zero).get(k) for k in zero}}
            for d in all_districts
        ]
        ranks_by_id: dict[int, dict] = {}
        for k in source.kpis:
            values = [r[k] for r in table]
            for r in table:
                ranks_by_id.setdefault(r["id"], {})[k] = rank_of(r[k], values)
        own = next(r for r in table if r["id"] == district.pk)
        count = len(table)
        ranking = None
        if full:
            first = source.kpis[0] if source.kpis else None
            ranking = sorted(
                [{**r, "ranks": ranks_by_id[r["id"]]} for r in table if r["id"] in visible],
                key=lambda r: (r["ranks"].get(first) is None, r["ranks"].get(first) or 0, r["code"]),
            )
        report.statistics.append(
            DistrictStatistic(
                source,
                link,
                {k: own.get(k) for k in zero},
                ranks_by_id[district.pk],
                count,
                ranking,
            )
        )
    return report


# ---- the page and its export ---------------------------------------------------------------


def page_tables(report: DistrictReport) -> list[dict]:
    """The page's tables (the Excel export writes the same): KPIs and ranks, then the rankings."""
    rows = []
    for s in report.statistics:
        for k in s.source.kpis:
            m = s.source.measure(k)
            rank = s.ranks.get(k)
            rows.append(
                {
                    "name": f"{s.source.title} · {header(m)}",
                    "code": f"{s.source.slug}.{k}",
                    "href": s.link,
                    "values": [
                        display(s.values.get(k), m.unit),
                        f"{rank} / {s.count}" if rank is not None else "—",
                    ],
                }
            )
    out = [
        {
            "key": "kpis",
            "title": _("%(district)s 各项指标") % {"district": report.district.name_zh},
            "first": _("统计 · 指标"),
            "columns": [("value", _("数值"), ""), ("rank", _("全市排名"), "")],
            "rows": rows,
            "total": None,
        }
    ]
    for s in report.statistics:
        if s.ranking is None:
            continue
        cols = []
        for k in s.source.kpis:
            cols += [(k, header(s.source.measure(k)), ""), (f"{k}.rank", _("排名"), "")]
        out.append(
            {
                "key": f"ranking-{s.source.slug}",
                "title": _("%(title)s 各区排名") % {"title": s.source.title},
                "first": _("所属区"),
                "columns": cols,
                "rows": [
                    {
                        "name": r["name"],
                        "code": r["code"],
                        "href": "",
                        "current": r["id"] == report.district.pk,
                        "values": [
                            v
                            for k in s.source.kpis
                            for v in (display(r.get(k), s.source.measure(k).unit), r["ranks"].get(k))
                        ],
                    }
                    for r in s.ranking
                ],
                "total": None,
            }
        )
    return out


def _report(request, pk):
    try:
        district = district_in_scope(request.user, pk)
    except ServiceError:
        raise Http404 from None
    start, end = window(request.GET)
    return district_report(request.user, district, start, end)


def _choices(request) -> dict:
    return {
        "districts": district_choices(request.user),
        "params": request.GET,
    }


@login_required
@permission_required(ORDERS_PERMISSION, raise_exception=True)
@require_GET
def district_index(request):
    """The caller's own district (a single-district scope), else a picker."""
    districts = list(district_choices(request.user))
    if len(districts) == 1:
        return redirect("parking:stats_district", district_id=districts[0].pk)
    return render(request, "parking/stats2/district_index.html", {"districts": districts})


@login_required
@permission_required(ORDERS_PERMISSION, raise_exception=True)
@require_GET
def district_page(request, district_id: int):
    """One district across every statistic: KPIs, ranks, links; the full ranking for the Center."""
    ctx = _choices(request)
    try:
        report = _report(request, district_id)
    except ServiceError as exc:
        ctx.update(error=exc.detail, error_code=exc.error_code, district_id=district_id)
        return render(request, "parking/stats2/district.html", ctx, status=400)
    ctx.update(report=report, tables=page_tables(report), export_query=request.GET.urlencode())
    return render(request, "parking/stats2/district.html", ctx)


@login_required
@permission_required(ORDERS_PERMISSION, raise_exception=True)
@require_GET
def district_export(request, district_id: int):
    """The page's tables as .xlsx (audited)."""
    try:
        report = _report(request, district_id)
    except ServiceError as exc:
        return HttpResponse(str(exc.detail), status=400, content_type="text/plain; charset=utf-8")
    tables = page_tables(report)
    title = _("各区数据专题统计")
    workbook = workbook_of(
        title, StatQuery(report.start, report.end), [(report.district.name_zh, "")], tables
    )
    audit.record(
        action="parking.stats.district.export",
        object_type="core.district",
        object_id=report.district.pk,
        object_repr=f"{report.district.name_zh} {report.start.isoformat()}..{report.end.isoformat()}",
        changes={
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "full_ranking": report.full,
        },
    )
    response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = (
        f'attachment; filename="parking-district-{report.district.code}-'
        f'{report.start.isoformat()}-{report.end.isoformat()}.xlsx"'
    )
    workbook.save(response)
    return response


urlpatterns = [
    path("stats/district/", district_index, name="stats_district_index"),
    path("stats/district/<int:district_id>/", district_page, name="stats_district"),
    path("stats/district/<int:district_id>/export.xlsx", district_export, name="stats_district_export"),
]
