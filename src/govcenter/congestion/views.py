"""Pages of the congestion-relief subsystems, built from the kinds' declarations (``kinds.py``):
one list (filters, colours, Excel export), one registration form, one detail page (fields,
handling units and their urging, the workflow steps the caller may take now as forms,
history, comments and communication logs, attachments) for every kind; the warning board,
the dashboard and the comprehensive query across all of them.

Every read goes through the caller's data scope (an out-of-scope case is 404); every write
goes to a service, whose refusal comes back as a message naming the field.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as DRFValidationError

from govcenter.core import attachments, comments, deadlines, masking, search, workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import Comment
from govcenter.core.tabular import XLSX_MIME
from govcenter.core.views.base import ScopedListView
from govcenter.core.views.reveal import no_store, reveal_context

from . import kinds as kind_registry
from .api.cases import run_step
from .models import CaseUnit
from .models.cases import DISTRICT_BOUNDARY
from .services import board as board_services
from .services import cases as case_services
from .services import imports as import_services
from .services import statistics as stat_services

T = "congestion/"
QUERY_LIMIT = 200  # rows the comprehensive query shows (the best matches of a text search)
ROWS_SHOWN = 3  # empty rows a list input starts with ("添加一行" adds more)
COMMON_LABELS = {  # inputs that are not model fields
    "comment": gettext_lazy("说明"),
    "text": gettext_lazy("内容"),
    "reason": gettext_lazy("理由"),
    "files": gettext_lazy("附件"),
    "workdays": gettext_lazy("办理时限（工作日）"),
    "deadline": gettext_lazy("办理期限"),
    "unit": gettext_lazy("单位"),
    "units": gettext_lazy("单位"),
    "into": gettext_lazy("合并至"),
    "milestones": gettext_lazy("里程碑"),
    "indicators": gettext_lazy("指标"),
    "location": gettext_lazy("位置"),
    "date": gettext_lazy("日期"),
    "photos": gettext_lazy("照片"),
    "actual_on": gettext_lazy("实际完成日期"),
    "agree": gettext_lazy("同意"),
    "amount_fen": gettext_lazy("金额（分）"),
    "approve": gettext_lazy("批准"),
    "category": gettext_lazy("类别"),
    "co_units": gettext_lazy("协办单位"),
    "comments": gettext_lazy("修改意见"),
    "conclusion": gettext_lazy("结论"),
    "conditions": gettext_lazy("附加条件"),
    "countersign": gettext_lazy("会签单位"),
    "day": gettext_lazy("日期"),
    "description": gettext_lazy("描述"),
    "document_date": gettext_lazy("文件日期"),
    "document_number": gettext_lazy("文号"),
    "experts": gettext_lazy("专家"),
    "invested_wan": gettext_lazy("完成投资（万元）"),
    "kind": gettext_lazy("类型"),
    "lead": gettext_lazy("主办单位"),
    "level": gettext_lazy("等级"),
    "material": gettext_lazy("材料"),
    "milestone": gettext_lazy("里程碑"),
    "month": gettext_lazy("月份"),
    "months": gettext_lazy("延期月数"),
    "note": gettext_lazy("备注"),
    "notes": gettext_lazy("审查意见"),
    "opinion": gettext_lazy("意见"),
    "owner": gettext_lazy("责任人"),
    "percent": gettext_lazy("完成进度（%）"),
    "planned_wan": gettext_lazy("计划投资（万元）"),
    "proposer": gettext_lazy("代表委员"),
    "proposers": gettext_lazy("代表委员"),
    "reasons": gettext_lazy("理由"),
    "resolution": gettext_lazy("处理结果"),
    "responsible": gettext_lazy("责任单位"),
    "risk": gettext_lazy("风险"),
    "satisfaction": gettext_lazy("满意度"),
    "spent_on": gettext_lazy("支出日期"),
    "total_investment_wan": gettext_lazy("总投资（万元）"),
}


def _kind(code: str, user) -> kind_registry.Kind:
    kind = kind_registry.get(code)
    if kind is None:
        raise Http404
    if not user.has_perm(kind.view_permission):
        raise PermissionDenied
    return kind


def _case(kind, user, pk):
    return get_object_or_404(kind.model.objects.restrict(user).select_related("district").defer(*DISTRICT_BOUNDARY), pk=pk)


def _detail_url(kind, case) -> str:
    return reverse("congestion:case_detail", args=[kind.code, case.pk])


def _error_text(exc) -> str:
    if isinstance(exc, ServiceError):
        details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in (exc.details or {}).items())
        return f"{exc.detail}（{details}）" if details else str(exc.detail)
    if isinstance(exc, DRFValidationError):
        return "; ".join(_error_lines(exc.detail))
    return str(exc)


def _item(n: int) -> str:
    return _("第%(n)d项") % {"n": n}


def _error_lines(detail, where: str = "") -> list[str]:
    """DRF's nested error detail as lines "field: message" ("milestones 第2项 planned_on: …");
    a list's items are counted from 1 among those submitted (empty rows are not items)."""
    if isinstance(detail, dict):
        return [
            line
            for key, value in detail.items()
            for line in _error_lines(value, f"{where} {_item(key + 1) if isinstance(key, int) else key}".strip())
        ]
    if isinstance(detail, list) and any(isinstance(v, dict | list) for v in detail):
        return [line for i, value in enumerate(detail, start=1) for line in _error_lines(value, f"{where} {_item(i)}")]
    messages = " ".join(map(str, detail)) if isinstance(detail, list) else str(detail)
    return [f"{where}: {messages}" if where else messages] if messages else []


# -- forms from serializers --------------------------------------------------------------------


def field_specs(serializer, model=None) -> list[dict]:
    """The writable fields of a DRF serializer as form inputs for the templates."""
    specs = []
    for name, f in serializer.fields.items():
        if f.read_only or isinstance(f, serializers.HiddenField):
            continue
        # DRF fills a missing label with the capitalised field name ("Title"): not a label for a
        # Chinese page, so the model's verbose name (or a common label) is preferred to it.
        auto = {name, name.replace("_", " "), name.replace("_", " ").capitalize()}  # names, not labels
        label = f.label if f.label and f.label not in auto else None
        if not label and model is not None:
            try:
                label = model._meta.get_field(name).verbose_name
            except Exception:  # noqa: BLE001 - not a model field
                label = None
            label = None if label is None or str(label) in auto else label
        label = label or COMMON_LABELS.get(name, name)
        spec = {
            "name": name,
            "label": label,
            "required": f.required,
            "help": f.help_text or "",
            "choices": [],
        }
        if isinstance(f, serializers.ListField) and isinstance(f.child, serializers.FileField):
            spec["type"] = "files"
        elif isinstance(f, serializers.FileField):
            spec["type"] = "file"
        elif isinstance(f, serializers.MultipleChoiceField):
            spec.update(type="multi", choices=list(f.choices.items()))
        elif isinstance(f, serializers.ChoiceField):
            spec.update(type="select", choices=list(f.choices.items()))
        elif isinstance(f, serializers.ManyRelatedField):
            spec.update(type="multi", choices=_related_choices(f.child_relation))
        elif isinstance(f, serializers.RelatedField):
            spec.update(type="select", choices=_related_choices(f))
        elif isinstance(f, serializers.BooleanField):
            spec["type"] = "checkbox"
        elif isinstance(f, serializers.DateTimeField):
            spec["type"] = "datetime-local"
        elif isinstance(f, serializers.DateField):
            spec["type"] = "date"
        elif isinstance(f, serializers.IntegerField | serializers.DecimalField | serializers.FloatField):
            spec["type"] = "number"
            spec["step"] = "any" if not isinstance(f, serializers.IntegerField) else "1"
        elif isinstance(f, serializers.ListSerializer) and isinstance(f.child, serializers.Serializer):
            # One row of inputs per item, named ``name[i]field`` (DRF's form encoding of a list).
            spec.update(type="rows", columns=field_specs(f.child), rows=range(ROWS_SHOWN))
        elif isinstance(f, serializers.ListField) and isinstance(f.child, serializers.CharField):
            spec.update(type="strings", rows=range(ROWS_SHOWN), max_length=f.child.max_length)
        elif isinstance(f, serializers.JSONField):
            spec["type"] = "location" if name == "location" else "json"
        elif isinstance(f, serializers.ListField):
            spec["type"] = "list"
        else:
            max_length = getattr(f, "max_length", None)
            spec["type"] = "textarea" if max_length is None or max_length > 300 else "text"
            spec["max_length"] = max_length
        specs.append(spec)
    return specs


def _related_choices(field, limit: int = 500) -> list[tuple]:
    queryset = field.get_queryset()
    if queryset is None:
        return []
    return [(obj.pk, str(obj)) for obj in queryset[:limit]]


def _form_data(request) -> dict:
    """POST data for a serializer: empty inputs dropped (so defaults apply), files merged in."""
    data = request.POST.copy()
    data.pop("csrfmiddlewaretoken", None)
    for key in list(data.keys()):
        values = [v for v in data.getlist(key) if v.strip()]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    for key in request.FILES:
        data.setlist(key, request.FILES.getlist(key))
    return data


# -- pages -------------------------------------------------------------------------------------


class CaseListView(ScopedListView):
    template_name = T + "case_list.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.kind = _kind(kwargs["code"], request.user)
            self.filterset_class = self.kind.filterset
        return super().dispatch(request, *args, **kwargs)

    def has_permission(self) -> bool:
        return self.request.user.has_perm(self.kind.view_permission)

    def base_queryset(self):
        qs = self.kind.model.objects.all().select_related("district").defer(*DISTRICT_BOUNDARY).prefetch_related("units__unit")
        warning = self.request.GET.get("warning")
        if warning == "red":
            qs = qs.filter(self.kind.overdue_q())
        elif warning == "open":
            qs = qs.filter(state__in=self.kind.open_states)
        text = (self.request.GET.get("q") or "").strip()
        if text:
            qs = qs.filter(title__icontains=text[:100])
        return qs.order_by(*self.kind.ordering)

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "xlsx":
            queryset = self.get_queryset()
            filters = {k: v for k, v in request.GET.items() if k not in ("export", "page")}
            try:
                data = board_services.export_xlsx(self.kind, queryset, actor=request.user, filters=filters)
            except ServiceError as exc:
                messages.error(request, _error_text(exc))
                return HttpResponseRedirect(request.path)
            response = HttpResponse(data, content_type=XLSX_MIME)
            name = f"{self.kind.code}-{deadlines.today().isoformat()}.xlsx"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return no_store(response)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        kind = self.kind
        today = deadlines.today()
        columns = [(c.key, c.label) for c in board_services.export_columns(kind) if c.key != "warning"]
        rows = []
        for case in context["object_list"]:
            cells = []
            for key, _label in columns:
                display = getattr(case, f"get_{key}_display", None)
                cells.append(display() if display else getattr(case, key))
            rows.append({"case": case, "cells": cells, "level": kind.warning(case, on=today)})
        context.update(
            kind=kind,
            columns=columns,
            rows=rows,
            can_create=kind.create is not None and self.request.user.has_perm(kind.create.permission),
            can_import=kind.code in import_services.REGISTERS,
            warning=self.request.GET.get("warning", ""),
            q=self.request.GET.get("q", ""),
        )
        return context


@login_required
def case_create(request, code: str):
    kind = _kind(code, request.user)
    if kind.create is None or not request.user.has_perm(kind.create.permission):
        raise PermissionDenied
    serializer = kind.create.serializer(context={"request": request})
    error = ""
    if request.method == "POST":
        serializer = kind.create.serializer(data=_form_data(request), context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
            case = kind.create.run(actor=request.user, **serializer.validated_data)
        except (ServiceError, DRFValidationError) as exc:
            error = _error_text(exc)
        else:
            messages.success(request, _("已登记：%(n)s") % {"n": case.number})
            return HttpResponseRedirect(_detail_url(kind, case))
    fields = field_specs(serializer, kind.model)
    if error:  # give the user back what they typed
        for spec in fields:
            spec["value"] = request.POST.get(spec["name"], "")
    context = {"kind": kind, "fields": fields, "error": error}
    return render(request, T + "case_form.html", context, status=400 if error else 200)


@login_required
def case_detail(request, code: str, pk: int):
    kind = _kind(code, request.user)
    case = _case(kind, request.user, pk)
    user = request.user
    available = set(workflow.available(case, user))
    steps = [
        {"step": s, "fields": field_specs(s.serializer(context={"request": request}), kind.model)}
        for s in kind.steps
        if s.name in available
    ]
    personal = list(masking.personal_fields(kind.model))
    url = request.path
    reveal = (
        reveal_context(request, case, fields=personal, reveal_url=url, masked_url=url) if personal else {}
    )
    revealed = reveal.get("revealed", {})
    data = kind.serializer(case, context={"request": request}).data
    skip = {"id", "number", "title", "body", "state", "units", "location", "warning"}
    fields, tables = [], []  # scalars as a list of terms; lists of records as tables
    for name, value in data.items():
        if name in skip or value in (None, "", [], {}):
            continue
        try:
            model_field = kind.model._meta.get_field(name)
            label = model_field.verbose_name
            display = getattr(case, f"get_{name}_display", None)
            value = display() if display and not isinstance(value, list) else value
        except Exception:  # noqa: BLE001 - a serializer-only field
            label = kind.serializer().fields[name].label or COMMON_LABELS.get(name, name)
        value = revealed.get(name, value)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = list(dict.fromkeys(k for row in value for k in row))
            tables.append({"label": label, "keys": keys, "rows": [[_cell(row.get(k)) for k in keys] for row in value]})
            continue
        fields.append((label, _cell(value)))
    links = list(case.units.select_related("unit").order_by("role", "unit_id"))
    context = {
        "kind": kind,
        "case": case,
        "level": kind.warning(case),
        "fields": fields,
        "tables": tables,
        "links": links,
        "can_urge": user.has_perm("congestion.urge_caseunit") and kind.is_open(case) and case.deadline,
        "steps": steps,
        "history": _history(kind, case),
        "comments": comments.comments_of(case),
        "can_contribute": case_services.may_contribute(user, case),
        "comment_kinds": Comment.Kind.choices,
        "files": attachments.attachments_of(case),
        "location": case.location,
        "personal": personal,
        **reveal,
    }
    return no_store(render(request, T + "case_detail.html", context))


def _cell(value) -> str:
    """A serializer value as page text: lists joined, records as ``key: value`` pairs."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def _history(kind, case) -> list[dict]:
    states = dict(kind.model._meta.get_field("state").choices)
    rows = []
    for h in workflow.history(case):
        step = kind.step(h.transition)
        rows.append(
            {
                "at": h.at,
                "actor_name": h.actor_name,
                "unit_name": h.unit_name,
                "label": step.label if step else h.transition,
                "source": states.get(h.source, h.source),
                "state": states.get(h.state, h.state),
                "comment": h.comment,
            }
        )
    return rows


@login_required
@require_POST
def case_step(request, code: str, pk: int, step: str):
    kind = _kind(code, request.user)
    case = _case(kind, request.user, pk)
    declared = kind.step(step)
    if declared is None:
        raise Http404
    body = declared.serializer(data=_form_data(request), context={"request": request})
    try:
        body.is_valid(raise_exception=True)
        run_step(kind, declared, actor=request.user, case=case, data=body.validated_data)
    except (ServiceError, DRFValidationError) as exc:
        messages.error(request, f"{declared.label}：{_error_text(exc)}")
    else:
        messages.success(request, _("%(step)s：已完成。") % {"step": declared.label})
    return HttpResponseRedirect(_detail_url(kind, case))


@login_required
@require_POST
def case_comment(request, code: str, pk: int):
    kind = _kind(code, request.user)
    case = _case(kind, request.user, pk)
    try:
        case_services.case_comment(
            actor=request.user,
            case=case,
            body=request.POST.get("body", ""),
            kind=request.POST.get("kind") or Comment.Kind.COMMENT,
            counterpart=request.POST.get("counterpart", ""),
        )
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    return HttpResponseRedirect(_detail_url(kind, case) + "#comments")


@login_required
@require_POST
def case_attach(request, code: str, pk: int):
    kind = _kind(code, request.user)
    case = _case(kind, request.user, pk)
    try:
        rows = case_services.case_attach(
            actor=request.user, case=case, uploads=request.FILES.getlist("files")
        )
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("已上传 %(n)d 个文件。") % {"n": len(rows)})
    return HttpResponseRedirect(_detail_url(kind, case) + "#files")


@login_required
def case_file(request, code: str, pk: int, file_pk: int):
    kind = _kind(code, request.user)
    case = _case(kind, request.user, pk)
    attachment = get_object_or_404(attachments.attachments_of(case), pk=file_pk)
    try:
        data = attachments.attachment_read(attachment, actor=request.user)
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return HttpResponseRedirect(_detail_url(kind, case) + "#files")
    response = HttpResponse(data, content_type=attachment.mime)
    disposition = (
        "inline" if attachment.mime in ("application/pdf", "image/png", "image/jpeg") else "attachment"
    )
    from urllib.parse import quote

    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


@login_required
@require_POST
def case_unit_urge(request, link_pk: int):
    link = get_object_or_404(CaseUnit, pk=link_pk)
    kind = kind_registry.for_model(link.content_type.model_class())
    if kind is None or not request.user.has_perm(kind.view_permission):
        raise Http404
    case = _case(kind, request.user, link.object_id)
    try:
        board_services.case_unit_urge(actor=request.user, link=link, comment=request.POST.get("comment", ""))
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("已向%(u)s发出催办通知。") % {"u": link.unit})
    back = request.POST.get("next") or ""
    return HttpResponseRedirect(back if back.startswith("/congestion/") else _detail_url(kind, case))


@login_required
def warning_board(request):
    visible = [k for k in kind_registry.all_kinds() if request.user.has_perm(k.view_permission)]
    if not visible:
        raise PermissionDenied
    chosen = [c for c in request.GET.getlist("kind") if kind_registry.get(c)]
    lines = board_services.board(request.user, kind_codes=chosen or None)
    totals = {level: sum(line.counts[level] for line in lines) for level in ("red", "yellow", "blue")}
    context = {
        "lines": lines,
        "kinds": visible,
        "chosen": chosen,
        "totals": totals,
        "can_urge": request.user.has_perm("congestion.urge_caseunit"),
    }
    return render(request, T + "board.html", context)


@login_required
def dashboard(request):
    visible = [k for k in kind_registry.all_kinds() if request.user.has_perm(k.view_permission)]
    if not visible:
        raise PermissionDenied
    year = request.GET.get("year", "")
    year_int = int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else None
    context = {
        "summaries": board_services.summaries(request.user, year=year_int),
        "units": board_services.unit_counts(request.user, year=year_int)[:30],
        "year": year_int or "",
        "board_lines": board_services.board(request.user)[:10],
    }
    return render(request, T + "dashboard.html", context)


@login_required
def statistics(request):
    """统计分析: each subsystem's figures for a year (those the caller may see, in their scope)."""
    year = request.GET.get("year", "")
    this_year = deadlines.today().year
    year_int = int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else this_year
    sections = stat_services.sections(request.user, year=year_int)
    if not sections:
        raise PermissionDenied
    return render(request, T + "statistics.html", {"sections": sections, "year": year_int})


@login_required
def comprehensive_query(request):
    """综合查询: full text over every kind the caller may see (titles, bodies, attachment text),
    narrowed by kind, district, year and state; results on a list and a map."""
    visible = {k.code: k for k in kind_registry.all_kinds() if request.user.has_perm(k.view_permission)}
    if not visible:
        raise PermissionDenied
    text = (request.GET.get("q") or "").strip()[:100]
    chosen = [c for c in request.GET.getlist("kind") if c in visible] or list(visible)
    district = request.GET.get("district", "")
    only_open = request.GET.get("open") == "1"
    year = request.GET.get("year", "")
    hits_by_model: dict = {}
    truncated = False
    if text:  # one ranked search over every chosen kind (the best QUERY_LIMIT matches)
        names = {name: k.model for name, k in search.kinds().items() if any(k.model is visible[c].model for c in chosen)}
        _none, hits = search.query(request.user, text, kinds=list(names), limit=QUERY_LIMIT, count=False)
        truncated = len(hits) >= QUERY_LIMIT  # there may be more matches than are shown
        for hit in hits:
            hits_by_model.setdefault(names[hit.kind], []).append(hit.object_id)
    rows = []
    for code in chosen:
        kind = visible[code]
        if text and kind.model not in hits_by_model:
            continue
        qs = kind.model.objects.restrict(request.user).select_related("district").defer(*DISTRICT_BOUNDARY)
        if text:
            qs = qs.filter(pk__in=hits_by_model[kind.model])
        if district:
            qs = qs.filter(district__code=district)
        if only_open:
            qs = qs.filter(state__in=kind.open_states)
        if year.isdigit():
            qs = qs.filter(year=int(year))
        rows += [{"kind": kind, "case": case} for case in qs.order_by(*kind.ordering)[:QUERY_LIMIT]]
    found = len(rows)
    rows.sort(key=lambda r: r["case"].created_at, reverse=True)
    rows = rows[:QUERY_LIMIT]
    for row in rows:  # colours and links only for the rows shown
        row["level"] = row["kind"].warning(row["case"])
        row["url"] = _detail_url(row["kind"], row["case"])
    points = [
        {
            "name": f"{r['case'].number} {r['case'].title}",
            "url": r["url"],
            "level": str(r["level"]),
            "geometry": r["case"].location,
        }
        for r in rows
        if r["case"].location
    ]
    from govcenter.core.models import District

    context = {
        "rows": rows,
        "total": found + 1 if truncated else found,
        "limit": QUERY_LIMIT,
        "kinds": list(visible.values()),
        "chosen": chosen if request.GET.getlist("kind") else [],
        "q": text,
        "district": district,
        "districts": District.objects.defer("geometry").order_by("sort_order"),
        "only_open": only_open,
        "year": year,
        "points": points,
    }
    return render(request, T + "query.html", context)


@login_required
def case_import(request, code: str):
    """台账导入: the template, a dry run, the import — all or nothing, every bad cell named."""
    kind = _kind(code, request.user)
    if code not in import_services.REGISTERS or kind.create is None or not request.user.has_perm(kind.create.permission):
        raise PermissionDenied
    if request.GET.get("template"):
        response = HttpResponse(import_services.register_template(code), content_type=XLSX_MIME)
        response["Content-Disposition"] = f'attachment; filename="{code}-template.xlsx"'
        return response
    result = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("请选择要导入的文件。"))
        else:
            result = import_services.import_register(
                actor=request.user, kind=code, data=upload.read(), filename=upload.name,
                dry_run=bool(request.POST.get("dry_run")),
            )  # fmt: skip
            if result.ok and not result.dry_run:
                messages.success(request, _("已导入 %(n)d 条。") % {"n": result.created})
                return HttpResponseRedirect(reverse(f"congestion:{code}"))
    context = {"kind": kind, "result": result.as_dict() if result else None}
    return render(request, T + "case_import.html", context, status=400 if result and not result.ok else 200)
