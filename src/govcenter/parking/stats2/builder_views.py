"""The query builder page ``/parking/stats/query/`` (statistic 10 临时数据统计) and its actions.

The form is a GET (so the page's address is itself a link to the query); ``spec=<JSON>`` in
the address overrides the form fields (saved queries and share links use it). A bad spec shows
its message and code with status 400; ``too_large`` / ``query_timeout`` show the button of a
background export. Excel of what is on screen: ``export.xlsx`` with the same address (audited).
Share links ``/parking/stats/query/s/<token>/`` need login and apply the viewer's scope.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models.stats_query import Cadence, QueryExport, SavedQuery, ScheduledExport, StatArea
from ..models.tariff import AreaClass, VehicleClass
from ..services import stats_query as services
from . import builder
from .common import district_choices
from .framework import display

PERM = "parking.view_dailydistrictstat"
T = "parking/stats2/"


def spec_from_params(params) -> dict:
    """The spec of the page's GET parameters (``spec`` JSON wins over the form fields)."""
    if params.get("spec"):
        try:
            return json.loads(params["spec"])
        except ValueError:
            raise builder.bad(
                "invalid_spec", _("查询条件不是有效的 JSON。"), spec=params["spec"][:60]
            ) from None
    source = builder.SOURCES.get(params.get("source") or "orders")
    spec: dict = {
        "source": params.get("source") or "orders",
        # No measure ticked: the source's first (an unknown source is refused by parse_spec).
        "measures": params.getlist("measures") or ([source.measures[0].key] if source else []),
        "dimensions": [d for d in params.getlist("dimensions") if d],
        "window": {k: params.get(k) for k in ("start", "end") if params.get(k)},
    }
    filters: dict = {
        k: params.get(k)
        for k in ("district", "road", "segment", "area_class", "vehicle_class")
        if params.get(k)
    }
    if params.get("hour_from") or params.get("hour_to"):
        try:
            filters["hours"] = [int(params.get("hour_from") or 0), int(params.get("hour_to") or 24)]
        except ValueError:
            filters["hours"] = [params.get("hour_from"), params.get("hour_to")]
    if params.getlist("weekdays"):
        filters["weekdays"] = params.getlist("weekdays")
    if params.getlist("pay_channels"):
        filters["pay_channels"] = params.getlist("pay_channels")
    if filters:
        spec["filters"] = filters
    kind = params.get("area_kind") or ""
    if kind == "polygon" and params.get("polygon"):
        spec["area"] = {"kind": "polygon", "polygon": params["polygon"]}
    elif kind == "segments" and params.get("segment_codes"):
        spec["area"] = {"kind": "segments", "codes": params["segment_codes"]}
    elif kind == "saved" and params.get("area_id"):
        spec["area"] = {"kind": "saved", "id": params["area_id"]}
    if params.get("sort"):
        spec["sort"] = {"by": params["sort"], "desc": params.get("desc") == "1"}
    return spec


def _chart(result) -> dict | None:
    """One ECharts spec (data only): the first dimension's values × the first one or two measures."""
    dims = [c for c in result.columns if c["kind"] == "dimension"]
    measures = [c for c in result.columns if c["kind"] == "measure"][:2]
    if not dims or not result.rows or len(result.rows) > 400:
        return None
    d = dims[0]["key"]
    kind = "line" if d in ("date", "week", "month", "hour") else "bar"
    categories = [" / ".join(r[f"{c['key']}_label"] for c in dims) for r in result.rows]
    return {
        "id": "query",
        "title": _("查询结果"),
        "type": kind,
        "categories": categories,
        "series": [
            {"name": m["label"], "data": [display(r[m["key"]], m["unit"]) for r in result.rows]}
            for m in measures
        ],
    }


def _context(request, spec: dict, *, allow_area_ids=(), saved=None) -> tuple[dict, int]:
    ctx = {
        "whitelist": builder.whitelist(),
        "districts": district_choices(request.user),
        "area_classes": AreaClass.choices,
        "vehicle_classes": VehicleClass.choices,
        "areas": StatArea.objects.visible_to(request.user),
        "saved_queries": SavedQuery.objects.visible_to(request.user).select_related("owner"),
        "cadences": Cadence.choices,
        "params": request.GET,
        "spec": spec,
        "spec_json": json.dumps(spec, ensure_ascii=False),
        "saved": saved,
        "hours": range(25),
        "users": get_user_model().objects.filter(is_active=True).order_by("username")[:500],
    }
    if not request.GET and saved is None:
        return ctx, 200
    try:
        result = builder.query(request.user, spec, allow_area_ids=allow_area_ids)
    except ServiceError as exc:
        ctx.update(error=exc.detail, error_code=exc.error_code, error_details=exc.details)
        ctx["offer_export"] = exc.error_code in ("too_large", "query_timeout")
        return ctx, exc.status_code
    data = result.as_dict()
    ctx.update(
        result=result,
        data=data,
        table=[
            [
                r[f"{c['key']}_label"] if c["kind"] == "dimension" else display(r[c["key"]], c["unit"])
                for c in result.columns
            ]
            for r in result.rows
        ],
        total=[display(result.total[c["key"]], c["unit"]) for c in result.columns if c["kind"] == "measure"],
        dim_count=len(result.spec.dimensions),
        chart=[c for c in [_chart(result)] if c],
        export_query=request.GET.urlencode(),
    )
    return ctx, 200


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_page(request):
    """The form, the map for drawing an area, the result table and chart, save / share / schedule."""
    try:
        spec = spec_from_params(request.GET) if request.GET else {"source": "orders", "measures": ["orders"]}
    except ServiceError as exc:
        spec = {}
        return render(
            request,
            T + "query.html",
            {
                "error": exc.detail,
                "error_code": exc.error_code,
                "spec_json": "{}",
                "whitelist": builder.whitelist(),
            },
            status=400,
        )
    ctx, status = _context(request, spec)
    return render(request, T + "query.html", ctx, status=status)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_shared(request, token: str):
    """A share link: the saved query, run with the viewer's own scope."""
    try:
        saved = services.saved_query_by_token(viewer=request.user, token=token)
    except ServiceError as exc:
        return render(
            request,
            T + "query.html",
            {
                "error": exc.detail,
                "error_code": exc.error_code,
                "spec_json": "{}",
                "whitelist": builder.whitelist(),
            },
            status=404,
        )
    ctx, status = _context(request, saved.spec, allow_area_ids=services._area_ids(saved.spec), saved=saved)
    return render(request, T + "query.html", ctx, status=status)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_export(request):
    """What is on screen as .xlsx (≤ the page's row limit; larger → the background export)."""
    try:
        result = builder.query(request.user, spec_from_params(request.GET))
    except ServiceError as exc:
        return HttpResponse(
            f"{exc.error_code}: {exc.detail}",
            status=exc.status_code,
            content_type="text/plain; charset=utf-8",
        )
    content = builder.workbook_bytes(result)
    audit.record(
        action="parking.stats.query.export_page",
        object_type="parking.statistic",
        object_id="query",
        object_repr=f"{result.spec.query.start.isoformat()}..{result.spec.query.end.isoformat()}",
        changes={"spec": result.spec.raw, "rows": len(result.rows)},
    )
    response = HttpResponse(content, content_type=services.XLSX)
    response["Content-Disposition"] = (
        f'attachment; filename="parking-query-{result.spec.query.start.isoformat()}-{result.spec.query.end.isoformat()}.xlsx"'
    )
    return response


def _posted_spec(request) -> dict:
    try:
        spec = json.loads(request.POST.get("spec") or "{}")
    except ValueError:
        raise builder.bad("invalid_spec", _("查询条件不是有效的 JSON。"), spec="") from None
    return spec


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def query_save(request):
    try:
        saved = services.saved_query_create(
            actor=request.user,
            name=request.POST.get("name", ""),
            spec=_posted_spec(request),
            shared=request.POST.get("shared") == "1",
        )
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
        return redirect("parking:stats_query")
    messages.success(request, _("查询已保存。"))
    return redirect(reverse("parking:stats_query_shared", args=[saved.share_token]))


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def query_background(request):
    """Queue a background Excel export of the posted spec and show its status page."""
    try:
        job = services.export_start(
            actor=request.user, spec=_posted_spec(request), title=request.POST.get("title", "")
        )
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
        return redirect("parking:stats_query")
    return redirect("parking:stats_query_job", pk=job.pk)


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_job(request, pk: int):
    job = get_object_or_404(QueryExport, pk=pk, user=request.user)
    return render(
        request,
        T + "query_job.html",
        {"job": job, "jobs": QueryExport.objects.filter(user=request.user)[:20]},
    )


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_job_file(request, pk: int):
    job = get_object_or_404(QueryExport, pk=pk, user=request.user)
    try:
        data, name = services.export_file(actor=request.user, job=job)
    except ServiceError as exc:
        return HttpResponse(str(exc.detail), status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type=services.XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def query_schedule(request, pk: int):
    saved = get_object_or_404(SavedQuery.objects.visible_to(request.user), pk=pk)
    users = get_user_model().objects.filter(
        pk__in=[int(v) for v in request.POST.getlist("recipients") if v.isdigit()]
    )
    try:
        services.schedule_create(
            actor=request.user, saved=saved, cadence=request.POST.get("cadence", ""), recipients=users
        )
    except (ServiceError, PermissionDenied) as exc:
        messages.error(request, str(getattr(exc, "detail", exc)))
    else:
        messages.success(request, _("已设置定时导出。"))
    return redirect(reverse("parking:stats_query_shared", args=[saved.share_token]))


@login_required
@permission_required(PERM, raise_exception=True)
@require_GET
def query_schedules(request):
    return render(
        request,
        T + "query_job.html",
        {
            "schedules": ScheduledExport.objects.filter(owner=request.user).select_related("query"),
            "jobs": QueryExport.objects.filter(user=request.user)[:50],
        },
    )


urlpatterns: list = [
    path("stats/query/", query_page, name="stats_query"),
    path("stats/query/export.xlsx", query_export, name="stats_query_export"),
    path("stats/query/save/", query_save, name="stats_query_save"),
    path("stats/query/background/", query_background, name="stats_query_background"),
    path("stats/query/exports/", query_schedules, name="stats_query_exports"),
    path("stats/query/exports/<int:pk>/", query_job, name="stats_query_job"),
    path("stats/query/exports/<int:pk>/file", query_job_file, name="stats_query_job_file"),
    path("stats/query/<int:pk>/schedule/", query_schedule, name="stats_query_schedule"),
    path("stats/query/s/<str:token>/", query_shared, name="stats_query_shared"),
]
