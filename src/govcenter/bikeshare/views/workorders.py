"""Work order pages (派单) under /bikeshare/work-orders/.

* ``work-orders/`` — orders in the caller's scope with filters (status, kind, operator,
  district, overdue); orders past their deadline without a response are highlighted. The
  Center (``bikeshare.add_workorder`` with a city-wide scope) gets the "generate from the
  current violations" button (POST ``work-orders/generate/``) and "new order".
* ``work-orders/new/`` — a manual order (``bikeshare.add_workorder``).
* ``work-orders/<id>/`` — one order with its system evidence, the response and the history;
  the forms shown are the ones the caller may use: respond (the order's operator,
  ``bikeshare.respond_workorder``), close / reopen / cancel (``bikeshare.change_workorder``).
  Each form posts to ``work-orders/<id>/<action>/``; the service's refusal is shown as a
  message.
* ``work-orders/stats/`` — response figures per operator in scope for a period.

Every read goes through the caller's scope (an order out of scope is 404).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for

from ..models.workorders import OPEN_STATUSES, WorkOrderKind, WorkOrderStatus
from ..services import workorders as services

T = "bikeshare/workorders/"
PAGE_SIZE = 50


def _select(**attrs):
    return forms.Select(attrs={"class": "form-select", **attrs})


class FilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *WorkOrderStatus.choices], widget=_select()
    )
    kind = forms.ChoiceField(
        label=_("派单类型"),
        required=False,
        choices=[("", _("全部")), *WorkOrderKind.choices],
        widget=_select(),
    )
    operator = forms.ModelChoiceField(
        label=_("运营企业"),
        queryset=Unit.objects.none(),
        required=False,
        empty_label=_("全部"),
        widget=_select(),
    )
    district = forms.ModelChoiceField(
        label=_("所属区"),
        queryset=District.objects.none(),
        required=False,
        empty_label=_("全部"),
        widget=_select(),
    )
    overdue = forms.ChoiceField(
        label=_("超期"),
        required=False,
        choices=[("", _("全部")), ("late", _("已超期未响应")), ("ever", _("曾超期"))],
        widget=_select(),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        scope = scope_for(user)
        operators = Unit.objects.filter(kind=UnitKind.OPERATOR).order_by("code")
        districts = District.objects.order_by("sort_order", "code")
        if not scope.all:
            operators = operators.filter(pk__in=scope.operator_ids) if scope.operator_ids else operators
            districts = (
                districts.filter(pk__in=scope.district_ids) if scope.district_ids else districts.none()
            )
        self.fields["operator"].queryset = operators
        self.fields["district"].queryset = districts


class CreateForm(forms.Form):
    operator = forms.ModelChoiceField(
        label=_("运营企业"), queryset=Unit.objects.none(), widget=_select(), empty_label=None
    )
    kind = forms.ChoiceField(
        label=_("派单类型"), choices=WorkOrderKind.choices, initial=WorkOrderKind.MANUAL, widget=_select()
    )
    district = forms.ModelChoiceField(
        label=_("所属区"),
        queryset=District.objects.none(),
        required=False,
        empty_label=_("（不限）"),
        widget=_select(),
    )
    title = forms.CharField(
        label=_("标题"),
        max_length=services.MAX_TITLE,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    subject = forms.CharField(
        label=_("对象"),
        max_length=services.MAX_SUBJECT,
        required=False,
        help_text=_("车辆编号、围栏/站点或配额"),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    description = forms.CharField(
        label=_("说明"),
        max_length=services.MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )
    due_hours = forms.FloatField(
        label=_("响应时限（小时）"),
        required=False,
        min_value=0.1,
        max_value=services.MAX_DUE_HOURS,
        help_text=_("留空按派单类型的默认时限"),
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.5"}),
    )
    lon = forms.FloatField(
        label=_("经度（GCJ-02）"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "any"}),
    )
    lat = forms.FloatField(
        label=_("纬度（GCJ-02）"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "any"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = Unit.objects.filter(
            kind=UnitKind.OPERATOR, is_active=True
        ).order_by("code")
        self.fields["district"].queryset = District.objects.order_by("sort_order", "code")

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            self.add_error("lat", _("经度和纬度需同时填写。"))
        return data


def _textarea(label, rows=3, required=True):
    return forms.CharField(
        label=label,
        max_length=services.MAX_NOTE,
        required=required,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": rows}),
    )


class RespondForm(forms.Form):
    note = _textarea(label=_("处置说明"), required=False)
    evidence = forms.CharField(
        label=_("证据"),
        required=False,
        help_text=_("照片编号或文字，每行一条"),
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class CloseForm(forms.Form):
    note = _textarea(rows=2, required=False, label=_("核查意见"))


class ReopenForm(forms.Form):
    note = _textarea(rows=2, label=_("退回原因"))
    due_hours = forms.FloatField(
        label=_("新的响应时限（小时）"),
        required=False,
        min_value=0.1,
        max_value=services.MAX_DUE_HOURS,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.5"}),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("撤销原因"),
        max_length=services.MAX_NOTE,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )


ACTION_FORMS = {"respond": RespondForm, "close": CloseForm, "reopen": ReopenForm, "cancel": CancelForm}


def _can_generate(user) -> bool:
    return services.can_issue(user) and scope_for(user).all


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def workorder_list(request):
    """Orders in scope with filters and overdue highlighting."""
    form = FilterForm(request.GET or None, user=request.user)
    orders = services.workorder_list(user=request.user)
    now = timezone.now()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            orders = orders.filter(status=data["status"])
        if data["kind"]:
            orders = orders.filter(kind=data["kind"])
        if data["operator"]:
            orders = orders.filter(operator=data["operator"])
        if data["district"]:
            orders = orders.filter(district=data["district"])
        if data["overdue"] == "late":
            orders = orders.filter(status=WorkOrderStatus.ISSUED, due_at__lt=now)
        elif data["overdue"] == "ever":
            orders = orders.filter(overdue_at__isnull=False)
    page = Paginator(orders.order_by("-issued_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    for order in page.object_list:
        order.late = order.status == WorkOrderStatus.ISSUED and order.due_at < now
    query = request.GET.copy()
    query.pop("page", None)
    counts = services.workorder_list(user=request.user).filter(status__in=OPEN_STATUSES)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_issue": services.can_issue(request.user),
        "can_generate": _can_generate(request.user),
        "open_count": counts.count(),
        "late_count": counts.filter(status=WorkOrderStatus.ISSUED, due_at__lt=now).count(),
    }
    return render(request, T + "list.html", context)


@login_required
@permission_required(services.ISSUE_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def workorder_new(request):
    """A manual order by the Center."""
    form = CreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.workorder_create(
                request.user,
                operator=data["operator"],
                kind=data["kind"],
                district=data["district"],
                title=data["title"],
                subject=data["subject"],
                description=data["description"],
                due_hours=data["due_hours"],
                lon=data["lon"],
                lat=data["lat"],
                datum="GCJ-02",
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _g("没有派单的操作权限。"))
        else:
            messages.success(request, _g("已派单：%(number)s") % {"number": order.number})
            return redirect("bikeshare:workorder_detail", pk=order.pk)
    return render(request, T + "new.html", {"form": form})


def _get(request, pk):
    try:
        return services.workorder_get(request.user, pk)
    except ServiceError:
        raise Http404 from None


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def workorder_detail(request, pk: int):
    """One order, its evidence and history, and the forms the caller may use."""
    order = _get(request, pk)
    return render(request, T + "detail.html", _detail_context(request, order))


EVIDENCE_LABELS = {
    "count": _("车辆数"),
    "listed": _("列出车辆数"),
    "district_code": _("区代码"),
    "operator_code": _("企业代码"),
    "operator_name": _("运营企业"),
    "district_name": _("所属区"),
    "quota": _("配额"),
    "registered": _("登记车辆数"),
    "live": _("实时车辆数"),
    "excess": _("超出数量"),
    "station": _("站点"),
    "station_id": _("站点编号"),
    "date": _("日期"),
    "hour": _("小时"),
    "net_inflow": _("净流入"),
    "threshold": _("阈值"),
    "bikes_nearby": _("周边车辆数"),
    "radius_m": _("半径（米）"),
    "scan_check": _("核查记录"),
    "checked_at": _("核查时间"),
    "problems": _("问题"),
    "photo_ref": _("照片编号"),
    "vehicle_code": _("车辆编码"),
    "manual": _("人工创建"),
    "demo": _("演示数据。"),
}


def _detail_context(request, order, **bound) -> dict:
    user = request.user
    may_respond = services.can_respond(user, order) and order.status == WorkOrderStatus.ISSUED
    may_verify = services.can_verify(user, order)
    vehicles = order.evidence.get("vehicles") if isinstance(order.evidence, dict) else None
    raw = order.evidence if isinstance(order.evidence, dict) else {}
    facts = {str(EVIDENCE_LABELS.get(k, k)): v for k, v in raw.items() if k != "vehicles"}
    return {
        "order": order,
        "late": order.status == WorkOrderStatus.ISSUED and order.due_at < timezone.now(),
        "events": order.events.select_related("actor").order_by("at", "id"),
        "vehicles": vehicles or [],
        "facts": facts,
        "respond_form": bound.get("respond") or (RespondForm() if may_respond else None),
        "close_form": bound.get("close")
        or (CloseForm() if may_verify and order.status == WorkOrderStatus.RESPONDED else None),
        "reopen_form": bound.get("reopen")
        or (ReopenForm() if may_verify and order.status == WorkOrderStatus.RESPONDED else None),
        "cancel_form": bound.get("cancel") or (CancelForm() if may_verify and order.is_open else None),
    }


ACTION_MESSAGES = {
    "respond": _("已提交响应。"),
    "close": _("派单已办结。"),
    "reopen": _("派单已退回，运营企业需重新处置。"),
    "cancel": _("派单已撤销。"),
}


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_POST
def workorder_action(request, pk: int, action: str):
    """Respond / close / reopen / cancel from the detail page."""
    if action not in ACTION_FORMS:
        raise Http404
    order = _get(request, pk)
    form = ACTION_FORMS[action](request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "respond":
                services.workorder_respond(request.user, order, note=data["note"], evidence=data["evidence"])
            elif action == "close":
                services.workorder_close(request.user, order, note=data["note"])
            elif action == "reopen":
                services.workorder_reopen(request.user, order, note=data["note"], due_hours=data["due_hours"])
            else:
                services.workorder_cancel(request.user, order, reason=data["reason"])
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        except PermissionDenied:
            raise
        else:
            messages.success(request, str(ACTION_MESSAGES[action]))
            return redirect("bikeshare:workorder_detail", pk=order.pk)
    order.refresh_from_db()
    context = _detail_context(request, order, **{action: form})
    return render(request, T + "detail.html", context, status=400)


@login_required
@permission_required(services.ISSUE_PERMISSION, raise_exception=True)
@require_POST
def workorder_generate(request):
    """The Center's button: issue orders for the current violations."""
    try:
        result = services.generate_from_violations(request.user)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request,
            _g("已生成派单 %(created)s 件；%(existing)s 项违规已有未办结派单。")
            % {"created": result["created"], "existing": result["existing"]},
        )
        for error in result["errors"]:
            messages.warning(request, _g("部分数据源不可用：%(error)s") % {"error": error})
    return redirect("bikeshare:workorders")


class StatsForm(forms.Form):
    start = forms.DateField(
        label=_("开始日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )
    end = forms.DateField(
        label=_("结束日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )


@login_required
@permission_required(services.VIEW_PERMISSION, raise_exception=True)
@require_GET
def workorder_stats(request):
    """Response figures per operator in scope (default: this month so far)."""
    form = StatsForm(request.GET or None)
    end = timezone.localdate()
    start = end.replace(day=1)
    if form.is_bound and form.is_valid():
        end = form.cleaned_data["end"] or end
        start = form.cleaned_data["start"] or end.replace(day=1)
    rows, error = [], None
    try:
        stats = services.response_stats_all(start, end)
    except ServiceError as exc:
        error, stats = str(exc.detail), {}
    scope = scope_for(request.user)
    units = Unit.objects.filter(kind=UnitKind.OPERATOR)
    if not scope.all:
        units = units.filter(pk__in=scope.operator_ids)
    names = dict(units.values_list("code", "name_zh"))
    for code, row in stats.items():
        if code in names:
            pct = None if row["rate_on_time"] is None else round(row["rate_on_time"] * 100, 1)
            rows.append({"code": code, "name": names[code], "pct": pct, **row})
    context = {"form": form, "start": start, "end": end, "rows": rows, "error": error}
    return render(request, T + "stats.html", context)


urlpatterns: list = [
    path("work-orders/", workorder_list, name="workorders"),
    path("work-orders/new/", workorder_new, name="workorder_new"),
    path("work-orders/generate/", workorder_generate, name="workorder_generate"),
    path("work-orders/stats/", workorder_stats, name="workorder_stats"),
    path("work-orders/<int:pk>/", workorder_detail, name="workorder_detail"),
    path("work-orders/<int:pk>/<slug:action>/", workorder_action, name="workorder_action"),
]
