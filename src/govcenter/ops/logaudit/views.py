"""日志审计 page: application logs and (for the auditor) the kernel audit events in one search
(time range required and bounded; user, action, object, level, text), paginated, and the
export to Excel/CSV of exactly the rows the search finds (capped; audited). Read-only: the
auditor and the security administrator hold ``ops.view_logrecord``. No data scope applies —
like the kernel audit log, log audit is an all-or-nothing function permission (the auditor's
job is to see everybody's actions)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from govcenter.core.api.errors import ServiceError

from . import services

PAGE_SIZE = 50
FILTERS = ("start", "end", "user", "action", "object_type", "object_id", "level", "text")


def _dt_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M")


class LogSearchForm(forms.Form):
    start = forms.DateTimeField(label=_("开始时间"), widget=_dt_input())
    end = forms.DateTimeField(label=_("结束时间"), widget=_dt_input())
    user = forms.CharField(label=_("用户"), required=False, max_length=150)
    action = forms.CharField(label=_("操作"), required=False, max_length=40)
    object_type = forms.CharField(label=_("对象类型"), required=False, max_length=60)
    object_id = forms.CharField(label=_("对象ID"), required=False, max_length=64)
    level = forms.ChoiceField(label=_("级别"), required=False,
                              choices=[("", _("全部"))] + [(v, v) for v in services.LEVELS])  # fmt: skip
    text = forms.CharField(label=_("关键词"), required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control")

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services.validate_range(cleaned.get("start"), cleaned.get("end"))
            except ServiceError as exc:
                raise forms.ValidationError(str(exc.detail)) from None
        return cleaned


def _search(request):
    """(form, rows or None, filters) for the GET parameters; the last 24 hours by default."""
    user = request.user
    if not user.has_perm("ops.view_logrecord"):
        raise PermissionDenied
    if "start" in request.GET or "end" in request.GET:
        form = LogSearchForm(request.GET)
    else:
        now = timezone.localtime().replace(second=0, microsecond=0)
        form = LogSearchForm({"start": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
                              "end": (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")})  # fmt: skip
    if not form.is_valid():
        return form, None, {}
    data = form.cleaned_data
    rows = services.log_search(user=user, start=data["start"], end=data["end"], username=data["user"],
                               action=data["action"], object_type=data["object_type"], object_id=data["object_id"],
                               level=data["level"], text=data["text"])  # fmt: skip
    filters = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in data.items() if v}
    return form, rows, filters


@require_GET
@login_required
def log_search_page(request):
    form, rows, _filters = _search(request)
    context = {"form": form, "columns": services.column_labels(), "sees_audit": services.sees_audit_events(request.user),
               "can_export": request.user.has_perm("ops.export_logrecord")}  # fmt: skip
    if rows is not None:
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context.update(page_obj=page, is_paginated=page.paginator.num_pages > 1, total_count=page.paginator.count,
                       rows=[(r["kind"], services.row_cells(r)) for r in page.object_list],
                       query_without_page=query.urlencode())  # fmt: skip
    return render(request, "ops/logaudit/search.html", context, status=200 if rows is not None else 400)


@require_GET
@login_required
def log_export_view(request):
    form, rows, filters = _search(request)
    if rows is None:
        return render(request, "ops/logaudit/search.html", {"form": form, "columns": services.column_labels()}, status=400)
    fmt = request.GET.get("format", "xlsx")
    try:
        content, content_type, ext = services.log_export(user=request.user, rows=rows, filters=filters, fmt=fmt)
    except ServiceError as exc:
        if exc.status_code == 403:
            raise PermissionDenied from None
        return render(request, "ops/logaudit/search.html",
                      {"form": form, "columns": services.column_labels(), "export_error": str(exc.detail)},
                      status=exc.status_code)  # fmt: skip
    response = HttpResponse(content, content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="logs-{stamp}.{ext}"'
    return response
