"""The SMS outbox: what the embedded gateway "sent" (for core.read_sms_outbox holders),
delivery counts by template and status, and the template admin (system administrators).

Phones are masked for every reader; one message's page offers holders of
``core.reveal_personal_data`` the explicit, audited reveal of its phone (views/reveal.py).
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from ..api.errors import ServiceError
from ..masking import can_reveal
from ..models import SmsCategory, SmsMessage, SmsTemplate
from ..sms import builtin_template, sms_template_update, sms_templates_sync
from .reveal import no_store, reveal_context

PAGE_SIZE = 50
# The templates are system configuration: edited by the system administrators (三权分立: the
# accounts duty), not by the security administrator who reads the outbox.
TEMPLATE_ADMIN = "core.manage_accounts"


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_GET
def sms_outbox(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by ``?phone=``.

    Phones show masked for everyone (the ``mask`` filter). Readers who may reveal personal
    data search by part of a number (a lookup, not a display); the others only by a whole
    number they already know, so partial searches cannot unmask a list.
    """
    phone = re.sub(r"[^\d+]", "", request.GET.get("phone", ""))[:20]
    messages = SmsMessage.objects.order_by("-created_at", "-id")
    if phone:
        messages = (
            messages.filter(phone__contains=phone)
            if can_reveal(request.user)
            else messages.filter(phone=phone)
        )
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "core/sms/outbox.html", {"page": page, "phone": phone})


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sms_message(request: HttpRequest, pk: int) -> HttpResponse:
    """One message, phone masked; POST with a reason shows its phone once (audited).

    The outbox is a function permission without data scope (the gateway's own log), so
    every reader of the outbox may open any message; a POST from a reader without
    ``core.reveal_personal_data`` is 403.
    """
    message = get_object_or_404(SmsMessage, pk=pk)
    context = {
        "message": message,
        **reveal_context(
            request,
            message,
            fields=("phone",),
            reveal_url=reverse("core:sms_message", args=[pk]),
            masked_url=reverse("core:sms_message", args=[pk]),
        ),
    }
    response = render(request, "core/sms/message.html", context)
    return no_store(response) if context["revealed"] else response


class SmsStatsForm(forms.Form):
    start = forms.DateField(
        label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("结束日期不能早于开始日期。"))
        return data


STAT_STATUSES = (
    SmsMessage.Status.SENT,
    SmsMessage.Status.DELIVERED,
    SmsMessage.Status.FAILED,
    SmsMessage.Status.QUEUED,
)


def sms_counts(*, start: dt.date, end: dt.date) -> list[dict]:
    """Messages created on the local dates ``start``..``end`` by category, template and status."""
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        SmsMessage.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("category", "template", "status")
        .annotate(n=Count("id"))
        .order_by("category", "template")
    )
    table: dict[tuple, dict] = {}
    labels = dict(SmsCategory.choices)
    for row in rows:
        key = (row["category"], row["template"])
        entry = table.setdefault(
            key,
            {
                "category": row["category"],
                "category_label": labels.get(row["category"], row["category"]),
                "template": row["template"],
                "total": 0,
                **{s: 0 for s in STAT_STATUSES},
            },
        )
        entry[row["status"]] = entry.get(row["status"], 0) + row["n"]
        entry["total"] += row["n"]
    return list(table.values())


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_GET
def sms_stats(request: HttpRequest) -> HttpResponse:
    """Counts by category, template and status (sent, delivered, failed) for a date range."""
    today = timezone.localdate()
    form = SmsStatsForm(request.GET or None)
    start, end = today - dt.timedelta(days=6), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    rows = sms_counts(start=start, end=end)
    totals = {s: sum(r[s] for r in rows) for s in (*STAT_STATUSES, "total")}
    return render(
        request,
        "core/sms/stats.html",
        {"form": form, "rows": rows, "totals": totals, "start": start, "end": end},
    )


@login_required
@permission_required(TEMPLATE_ADMIN, raise_exception=True)
@require_GET
def sms_template_list(request: HttpRequest) -> HttpResponse:
    """Every template (the built-ins are stored on first view), with its placeholders."""
    sms_templates_sync()
    templates = list(SmsTemplate.objects.select_related("updated_by").order_by("category", "code"))
    for template in templates:
        template.allowed = (
            sorted(builtin_template(template.code).placeholders) if _known(template.code) else []
        )
    return render(request, "core/sms/templates.html", {"templates": templates})


def _known(code: str) -> bool:
    try:
        builtin_template(code)
    except ServiceError:
        return False
    return True


class SmsTemplateForm(forms.Form):
    body = forms.CharField(label=_("模板内容"), widget=forms.Textarea(attrs={"rows": 4}), max_length=500)
    active = forms.BooleanField(label=_("启用"), required=False)


@login_required
@permission_required(TEMPLATE_ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def sms_template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit one template's text (placeholders checked against its allowed set; audited)."""
    template = get_object_or_404(SmsTemplate, pk=pk)
    spec = builtin_template(template.code) if _known(template.code) else None
    if request.method == "POST":
        form = SmsTemplateForm(request.POST)
        if form.is_valid() and spec is not None:
            try:
                sms_template_update(
                    actor=request.user,
                    template=template,
                    body=form.cleaned_data["body"],
                    active=form.cleaned_data["active"],
                )
            except ServiceError as exc:
                form.add_error("body", f"{exc.detail} {exc.details}")
            else:
                messages.success(request, _("短信模板已保存。"))
                return redirect("core:sms_template_list")
    else:
        form = SmsTemplateForm(initial={"body": template.body, "active": template.active})
    allowed = sorted(spec.placeholders) if spec else []
    required = sorted(spec.required) if spec else []
    return render(
        request,
        "core/sms/template_edit.html",
        {"template": template, "form": form, "allowed": allowed, "required": required},
    )
