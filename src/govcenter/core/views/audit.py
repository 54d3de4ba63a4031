"""Audit UI: the filtered log, one entry with its before/after diff, and the Excel export.

Access is an all-or-nothing *function* permission: ``core.view_audit`` shows the whole
chain (the auditor's job is to see everybody's actions, so no data scope applies here,
unlike every other list), ``core.export_audit`` adds the Excel export. Every view only
reads; the one write is the ``export`` entry the export itself appends to the chain.
Personal data inside diffs (phone, names, plates, ID numbers) is masked for every viewer,
holders of ``core.reveal_personal_data`` too: clear values come only from an explicit,
audited reveal of the object itself (masking.reveal_fields), never from the log.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from .. import audit
from ..masking import mask
from ..models import AuditCheckpoint, AuditEntry, Unit

PAGE_SIZE = 50
SHOW_CLEAR = False  # personal data in the log is masked for every viewer (see the docstring)
EXPORT_MAX_ROWS = 100_000
# Keys of recorded snapshots that hold personal data, and how to mask them.
PERSONAL_KEYS = {
    "phone": "phone",
    "mobile": "phone",
    "full_name": "name",
    "name": "name",
    "owner_name": "name",
    "plate": "plate",
    "plate_number": "plate",
    "id_number": "id_number",
}
NAME_OBJECT_TYPES = {"core.user"}  # their object_repr is the person's name


def _input(attrs: dict | None = None) -> dict:
    return {"class": "form-control", **(attrs or {})}


class AuditFilterForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("开始日期"), required=False, widget=forms.DateInput(attrs=_input({"type": "date"}))
    )
    end = forms.DateField(
        label=gettext_lazy("结束日期"), required=False, widget=forms.DateInput(attrs=_input({"type": "date"}))
    )
    user = forms.CharField(
        label=gettext_lazy("用户"), required=False, max_length=150, widget=forms.TextInput(attrs=_input())
    )
    unit = forms.ModelChoiceField(
        label=gettext_lazy("单位"),
        queryset=Unit.objects.none(),
        required=False,
        empty_label=gettext_lazy("全部"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    action = forms.CharField(
        label=gettext_lazy("操作"), required=False, max_length=40, widget=forms.TextInput(attrs=_input())
    )
    object_type = forms.CharField(
        label=gettext_lazy("对象类型"), required=False, max_length=60, widget=forms.TextInput(attrs=_input())
    )
    object_id = forms.CharField(
        label=gettext_lazy("对象ID"), required=False, max_length=64, widget=forms.TextInput(attrs=_input())
    )
    success = forms.ChoiceField(
        label=gettext_lazy("结果"),
        required=False,
        choices=[("", gettext_lazy("全部")), ("1", gettext_lazy("成功")), ("0", gettext_lazy("失败"))],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    request_id = forms.CharField(
        label=gettext_lazy("请求ID"), required=False, max_length=64, widget=forms.TextInput(attrs=_input())
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # All units: the audit permission is not scoped (see the module docstring).
        self.fields["unit"].queryset = Unit.objects.all().order_by("path")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        return cleaned


def audit_entry_list(
    *,
    start=None,
    end=None,
    user: str = "",
    unit: Unit | None = None,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    success: str = "",
    request_id: str = "",
) -> QuerySet[AuditEntry]:
    """Audit entries matching the filters, newest first (every filter uses an index)."""
    qs = AuditEntry.objects.all()
    if start:
        qs = qs.filter(created_at__gte=timezone.make_aware(datetime.combine(start, time.min)))
    if end:
        qs = qs.filter(
            created_at__lt=timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
        )
    if user:
        qs = qs.filter(user_id=int(user)) if user.isdigit() else qs.filter(username__iexact=user.strip())
    if unit is not None:
        qs = qs.filter(unit_id=unit.pk)
    if action:
        qs = qs.filter(action=action.strip())
    if object_type:
        qs = qs.filter(object_type=object_type.strip())
    if object_id:
        qs = qs.filter(object_id=object_id.strip())
    if success in ("0", "1"):
        qs = qs.filter(success=success == "1")
    if request_id:
        qs = qs.filter(request_id=request_id.strip())
    return qs.order_by("-seq")


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEntry]]:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, audit_entry_list(**form.cleaned_data)
    if form.is_bound:
        return form, AuditEntry.objects.none()
    return form, audit_entry_list()


def _mask_value(key, value, reveal: bool):
    if reveal:
        return value
    if isinstance(value, dict):
        return {k: _mask_value(k, v, reveal) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(key, v, reveal) for v in value]
    kind = PERSONAL_KEYS.get(str(key))
    if kind and value not in (None, ""):
        return mask(value, kind)
    return value


def _object_repr(entry: AuditEntry, reveal: bool) -> str:
    if not reveal and entry.object_type in NAME_OBJECT_TYPES and entry.object_repr:
        return mask(entry.object_repr, "name")
    return entry.object_repr


def _diff_rows(changes: dict, reveal: bool) -> list[dict]:
    """``{"before": {...}, "after": {...}}`` as rows ``{key, before, after, changed}``."""
    before, after = changes.get("before"), changes.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    rows = []
    for key in sorted(set(before) | set(after)):
        rows.append(
            {
                "key": key,
                "before": _mask_value(key, before.get(key), reveal),
                "after": _mask_value(key, after.get(key), reveal),
                "changed": before.get(key) != after.get(key),
                "added": key not in before,
                "removed": key not in after,
            }
        )
    return rows


def _query(request: HttpRequest, **replace) -> str:
    params = request.GET.copy()
    for name in ("before", "after"):
        params.pop(name, None)
    for name, value in replace.items():
        params[name] = value
    return params.urlencode()


@require_GET
@login_required
@permission_required("core.view_audit", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Newest first, keyset-paginated by seq: constant cost on a chain of millions of rows
    (no COUNT(*), no OFFSET)."""
    form, qs = _filtered(request)
    before, after = request.GET.get("before", ""), request.GET.get("after", "")
    if after.isdigit():
        rows = list(qs.filter(seq__gt=int(after)).order_by("seq")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = bool(rows) and qs.filter(seq__lt=rows[-1].seq).exists()
    else:
        if before.isdigit():
            qs = qs.filter(seq__lt=int(before))
        rows = list(qs[: PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before.isdigit() and bool(rows)
    reveal = SHOW_CLEAR
    for entry in rows:
        entry.display_repr = _object_repr(entry, reveal)
    context = {
        "form": form,
        "entries": rows,
        "newer_query": _query(request, after=rows[0].seq) if has_newer and rows else "",
        "older_query": _query(request, before=rows[-1].seq) if has_older and rows else "",
        "export_query": _query(request),
        "can_export": request.user.has_perm("core.export_audit"),
    }
    template = "core/audit/_results.html" if getattr(request, "htmx", False) else "core/audit/list.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required("core.view_audit", raise_exception=True)
def audit_detail(request: HttpRequest, seq: int) -> HttpResponse:
    entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise Http404
    reveal = SHOW_CLEAR
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    diff = _diff_rows(changes, reveal)
    extra = {k: v for k, v in changes.items() if k not in ("before", "after")} if diff else changes
    prev_hash = AuditEntry.objects.filter(seq=seq - 1).values_list("hash", flat=True).first()
    context = {
        "entry": entry,
        "object_repr": _object_repr(entry, reveal),
        "diff": diff,
        "extra": json.dumps(_mask_value("", extra, reveal), ensure_ascii=False, indent=2, default=str)
        if extra
        else "",
        "hash_ok": audit.chain_hash(entry.prev_hash, entry) == entry.hash,
        # The link to the previous entry (None: purged or the first entry).
        "link_ok": None
        if prev_hash is None and seq != 1
        else (entry.prev_hash == (prev_hash or audit.GENESIS_HASH)),
        "checkpoint": AuditCheckpoint.objects.filter(seq=seq).first(),
    }
    return render(request, "core/audit/detail.html", context)


EXPORT_COLUMNS = (
    ("seq", gettext_lazy("序号")),
    ("created_at", gettext_lazy("时间")),
    ("username", gettext_lazy("用户")),
    ("unit_name", gettext_lazy("单位")),
    ("ip", gettext_lazy("来源IP")),
    ("action", gettext_lazy("操作")),
    ("object_type", gettext_lazy("对象类型")),
    ("object_id", gettext_lazy("对象ID")),
    ("object_repr", gettext_lazy("对象")),
    ("success", gettext_lazy("结果")),
    ("reason", gettext_lazy("理由")),
    ("changes", gettext_lazy("变更")),
    ("request_id", gettext_lazy("请求ID")),
    ("hash", gettext_lazy("哈希")),
)


@require_GET
@login_required
@permission_required("core.export_audit", raise_exception=True)
def audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as .xlsx (write-only workbook, at most EXPORT_MAX_ROWS rows);
    the export is itself audited (action ``export``) with its filters and row count."""
    from openpyxl import Workbook

    form, qs = _filtered(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse(_("筛选条件无效。"), status=400, content_type="text/plain; charset=utf-8")
    reveal = SHOW_CLEAR
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("审计日志"))
    sheet.append([str(label) for _name, label in EXPORT_COLUMNS])
    count = 0
    fields = [name for name, _label in EXPORT_COLUMNS]
    tz = timezone.get_current_timezone()
    for entry in qs.only(*fields, "seq").iterator(chunk_size=2000):
        if count >= EXPORT_MAX_ROWS:
            break
        row = []
        for name in fields:
            value = getattr(entry, name)
            if name == "created_at":
                value = value.astimezone(tz).replace(tzinfo=None)
            elif name == "changes":
                value = json.dumps(_mask_value("", value, reveal), ensure_ascii=False, default=str)
            elif name == "object_repr":
                value = _object_repr(entry, reveal)
            elif name == "success":
                value = _("成功") if value else _("失败")
            row.append(value)
        sheet.append(row)
        count += 1
    filters = {k: v for k, v in request.GET.items() if v and k not in ("before", "after")}
    with transaction.atomic():
        audit.record(
            action="export",
            object_type="core.auditentry",
            object_repr=_("审计日志"),
            changes={"filters": filters, "rows": count, "truncated": count >= EXPORT_MAX_ROWS},
        )
    response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.xlsx"'
    book.save(response)
    return response
