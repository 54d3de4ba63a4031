"""Pages of complaints/appeals (投诉/申诉) and customer-service tickets (客服工单) under /parking/.

Lists and details come through the caller's scope (out of scope is 404). The deadline colour
of a complaint: red overdue, orange near (``GOVCENTER_PARKING_COMPLAINT_NEAR_WORKDAYS``), green
in time. Actions post to one URL per verb, call the service and come back with its refusal
as a message; phone and plate are masked, revealed with a reason (audited).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.generic import FormView

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit
from govcenter.core.views.base import AnyPermissionRequiredMixin, ScopedDetailView, ScopedListView
from govcenter.core.views.reveal import no_store, reveal_context

from ..models.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintKind,
    ComplaintOutcome,
    TicketCategory,
    TicketChannel,
)
from ..models.orders import Order
from ..services import complaints as services
from ..services import tickets as ticket_services

T = "parking/complaints/"
TT = "parking/tickets/"


def _message(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        details = "; ".join(f"{k}: {v}" for k, v in exc.details.items()) if exc.details else ""
        return f"{exc.detail}（{details}）" if details else str(exc.detail)
    return "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _int(value, field: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceError(_("须为整数。"), code="invalid", details={field: [str(value)]}) from None


def _optional(model, request, name: str, *, scoped: bool = True):
    raw = (request.POST.get(name) or "").strip()
    if not raw:
        return None
    qs = (
        model.objects.restrict(request.user)
        if scoped and hasattr(model.objects, "restrict")
        else model.objects
    )
    obj = qs.filter(pk=_int(raw, name)).first()
    if obj is None:
        raise ServiceError(_("不存在。"), code="not_found", details={name: [raw]})
    return obj


# ------------------------------------------------------------------------------------------
# Complaints
# ------------------------------------------------------------------------------------------


class ComplaintListView(ScopedListView):
    permission_required = ("parking.view_complaint",)
    filterset_class = services.ComplaintFilterSet
    template_name = T + "complaint_list.html"

    def base_queryset(self):
        return services.complaint_list(user=self.request.user)


class ComplaintDetailView(ScopedDetailView):
    permission_required = ("parking.view_complaint",)
    template_name = T + "complaint_detail.html"
    http_method_names = ["get", "post"]

    def base_queryset(self):
        return services.complaint_list(user=self.request.user)

    def post(self, request, *args, **kwargs):
        """The reveal form posts here; the page is rendered once with the clear values."""
        return self.get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj, user = self.object, self.request.user
        context["actions"] = obj.actions.all()
        context["adjustments"] = obj.fee_adjustments.all()
        context["available"] = {t.name for t in obj.get_available_status_transitions()}
        context["can_change"] = user.has_perm("parking.change_complaint")
        context["can_adjust"] = (
            context["can_change"] and user.has_perm("parking.add_feeadjustment") and obj.order_id is not None
        )
        context["can_route"] = user.has_perm("parking.route_complaint") and obj.is_open
        context["outcomes"] = ComplaintOutcome.choices
        context["districts"] = District.objects.defer("geometry")
        context["deadline_state"] = obj.deadline_state()
        url = self.request.path
        context.update(
            reveal_context(
                self.request, obj, fields=["contact_phone", "plate"], reveal_url=url, masked_url=url
            )
        )
        return context

    def render_to_response(self, context, **kwargs):
        return no_store(super().render_to_response(context, **kwargs))


def _complaint_call(verb: str, user, complaint, post):
    text = post.get
    if verb == "accept":
        return services.complaint_accept(actor=user, complaint=complaint, note=text("note", ""))
    if verb == "reject":
        return services.complaint_reject(actor=user, complaint=complaint, reason=text("reason", ""))
    if verb == "transfer":
        return services.complaint_transfer(
            actor=user, complaint=complaint, to=text("to", ""), note=text("note", "")
        )
    if verb == "reply":
        return services.complaint_reply(
            actor=user, complaint=complaint, text=text("text", ""), outcome=text("outcome", "")
        )
    if verb == "close":
        return services.complaint_close(
            actor=user, complaint=complaint, text=text("text", ""), outcome=text("outcome", "")
        )
    if verb == "rate":
        return services.complaint_rate(
            actor=user,
            complaint=complaint,
            satisfaction=_int(text("satisfaction"), "satisfaction"),
            comment=text("comment", ""),
        )
    if verb == "route":
        district = District.objects.filter(pk=_int(text("district"), "district")).first()
        if district is None:
            raise ServiceError(
                _("请选择承办区。"), code="district_required", details={"district": [_("必填。")]}
            )
        unit = (
            Unit.objects.filter(pk=_int(text("handling_unit"), "handling_unit")).first()
            if text("handling_unit")
            else None
        )
        return services.complaint_route(
            actor=user, complaint=complaint, district=district, handling_unit=unit, reason=text("reason", "")
        )
    if verb == "adjust-fee":
        return services.complaint_fee_adjust(
            actor=user,
            complaint=complaint,
            amount_fen=_int(text("amount_fen"), "amount_fen"),
            reason=text("reason", ""),
        )
    raise Http404


COMPLAINT_VERBS = {
    "accept": ("parking.change_complaint",),
    "reject": ("parking.change_complaint",),
    "transfer": ("parking.change_complaint",),
    "reply": ("parking.change_complaint",),
    "close": ("parking.change_complaint",),
    "rate": ("parking.change_complaint",),
    "route": ("parking.change_complaint", "parking.route_complaint"),
    "adjust-fee": ("parking.change_complaint", "parking.add_feeadjustment"),
}


@require_POST
@login_required
def complaint_action(request, pk, verb):
    if verb not in COMPLAINT_VERBS:
        raise Http404
    if not request.user.has_perms(COMPLAINT_VERBS[verb]):
        raise PermissionDenied
    complaint = get_object_or_404(services.complaint_list(user=request.user), pk=pk)
    try:
        _complaint_call(verb, request.user, complaint, request.POST)
    except (ServiceError, ValidationError) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, _("已保存。"))
    if not services.complaint_list(user=request.user).filter(pk=pk).exists():
        return HttpResponseRedirect(reverse("parking:complaint_list"))  # routed out of the caller's scope
    return HttpResponseRedirect(reverse("parking:complaint_detail", args=[pk]))


def _select(choices):
    return forms.ChoiceField(choices=choices, widget=forms.Select(attrs={"class": "form-select"}))


class ComplaintForm(forms.Form):
    kind = _select(ComplaintKind.choices)
    channel = _select([c for c in ComplaintChannel.choices if c[0] != ComplaintChannel.APP])
    category = _select(ComplaintCategory.choices)
    subject = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"class": "form-control"}))
    body = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"class": "form-control", "rows": 5}))
    contact_phone = forms.CharField(
        max_length=20, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    plate = forms.CharField(
        max_length=16, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    order = forms.IntegerField(
        required=False, min_value=1, widget=forms.NumberInput(attrs={"class": "form-control"})
    )
    district = forms.ModelChoiceField(
        queryset=District.objects.none(), required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        labels = {
            "kind": gettext_lazy("类型"),
            "channel": gettext_lazy("来源渠道"),
            "category": gettext_lazy("问题分类"),
            "subject": gettext_lazy("标题"),
            "body": gettext_lazy("诉求内容"),
            "contact_phone": gettext_lazy("联系电话"),
            "plate": gettext_lazy("车牌号"),
            "order": gettext_lazy("相关订单号"),
            "district": gettext_lazy("承办区"),
        }
        for name, label in labels.items():
            self.fields[name].label = label
        self.fields["district"].queryset = District.objects.restrict(user)
        self.fields["district"].help_text = gettext_lazy("有订单时按订单所属区自动分派。")

    def clean_order(self):
        pk = self.cleaned_data.get("order")
        if not pk:
            return None
        order = Order.objects.restrict(self.user).filter(pk=pk).first()
        if order is None:
            raise forms.ValidationError(_("订单不存在。"))
        return order


class TicketForm(forms.Form):
    channel = _select(TicketChannel.choices)
    category = _select(TicketCategory.choices)
    subject = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"class": "form-control"}))
    body = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"class": "form-control", "rows": 5}))
    caller_phone = forms.CharField(
        max_length=20, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    plate = forms.CharField(
        max_length=16, required=False, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    district = forms.ModelChoiceField(
        queryset=District.objects.none(), required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {
            "channel": gettext_lazy("来源渠道"),
            "category": gettext_lazy("工单分类"),
            "subject": gettext_lazy("标题"),
            "body": gettext_lazy("内容"),
            "caller_phone": gettext_lazy("来电号码"),
            "plate": gettext_lazy("车牌号"),
            "district": gettext_lazy("相关区"),
        }
        for name, label in labels.items():
            self.fields[name].label = label
        self.fields["district"].queryset = District.objects.restrict(user)


class _CreateView(AnyPermissionRequiredMixin, FormView):
    template_name = T + "form.html"
    title = ""
    cancel_url_name = ""

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        try:
            obj = self.perform(form.cleaned_data)
        except (ServiceError, ValidationError) as exc:
            form.add_error(None, _message(exc))
            return self.form_invalid(form)
        messages.success(self.request, _("已登记：%(number)s") % {"number": obj.number})
        return HttpResponseRedirect(reverse(self.detail_url_name, args=[obj.pk]))

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "title": self.title,
            "cancel_url": reverse(self.cancel_url_name),
        }


class ComplaintCreateView(_CreateView):
    permission_required = ("parking.add_complaint",)
    form_class = ComplaintForm
    title = gettext_lazy("登记投诉申诉")
    cancel_url_name = "parking:complaint_list"
    detail_url_name = "parking:complaint_detail"

    def perform(self, data):
        return services.complaint_create(actor=self.request.user, **data)


# ------------------------------------------------------------------------------------------
# Tickets
# ------------------------------------------------------------------------------------------


class TicketListView(ScopedListView):
    permission_required = ("parking.view_serviceticket",)
    filterset_class = services.TicketFilterSet
    template_name = TT + "ticket_list.html"

    def base_queryset(self):
        return ticket_services.ticket_list(user=self.request.user)


class TicketDetailView(ScopedDetailView):
    permission_required = ("parking.view_serviceticket",)
    template_name = TT + "ticket_detail.html"
    http_method_names = ["get", "post"]

    def base_queryset(self):
        return ticket_services.ticket_list(user=self.request.user)

    def post(self, request, *args, **kwargs):
        return self.get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["replies"] = self.object.replies.all()
        context["can_change"] = user.has_perm("parking.change_serviceticket")
        context["can_convert"] = (
            context["can_change"]
            and user.has_perm("parking.add_complaint")
            and self.object.complaint_id is None
        )
        context["kinds"] = ComplaintKind.choices
        context["categories"] = ComplaintCategory.choices
        context["districts"] = District.objects.restrict(user).defer("geometry")
        url = self.request.path
        context.update(
            reveal_context(
                self.request, self.object, fields=["caller_phone", "plate"], reveal_url=url, masked_url=url
            )
        )
        return context

    def render_to_response(self, context, **kwargs):
        return no_store(super().render_to_response(context, **kwargs))


class TicketCreateView(_CreateView):
    permission_required = ("parking.add_serviceticket",)
    form_class = TicketForm
    title = gettext_lazy("登记客服工单")
    cancel_url_name = "parking:ticket_list"
    detail_url_name = "parking:ticket_detail"

    def perform(self, data):
        return ticket_services.ticket_create(actor=self.request.user, **data)


def _ticket_call(verb: str, request, ticket):
    user, post = request.user, request.POST
    if verb == "reply":
        return ticket_services.ticket_reply(
            actor=user, ticket=ticket, text=post.get("text", ""), public=post.get("public") == "on"
        )
    if verb == "close":
        return ticket_services.ticket_close(actor=user, ticket=ticket, note=post.get("note", ""))
    if verb == "reopen":
        return ticket_services.ticket_reopen(actor=user, ticket=ticket, reason=post.get("reason", ""))
    if verb == "rate":
        return ticket_services.ticket_rate(
            actor=user, ticket=ticket, satisfaction=_int(post.get("satisfaction"), "satisfaction")
        )
    if verb == "convert":
        return ticket_services.ticket_convert(
            actor=user,
            ticket=ticket,
            kind=post.get("kind", ""),
            category=post.get("category", ""),
            order=_optional(Order, request, "order"),
            district=_optional(District, request, "district"),
        )
    raise Http404


TICKET_VERBS = {
    "reply": ("parking.change_serviceticket",),
    "close": ("parking.change_serviceticket",),
    "reopen": ("parking.change_serviceticket",),
    "rate": ("parking.change_serviceticket",),
    "convert": ("parking.change_serviceticket", "parking.add_complaint"),
}


@require_POST
@login_required
def ticket_action(request, pk, verb):
    if verb not in TICKET_VERBS:
        raise Http404
    if not request.user.has_perms(TICKET_VERBS[verb]):
        raise PermissionDenied
    ticket = get_object_or_404(ticket_services.ticket_list(user=request.user), pk=pk)
    try:
        result = _ticket_call(verb, request, ticket)
    except (ServiceError, ValidationError) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, _("已保存。"))
        if verb == "convert":
            return HttpResponseRedirect(reverse("parking:complaint_detail", args=[result.pk]))
    return HttpResponseRedirect(reverse("parking:ticket_detail", args=[pk]))


urlpatterns: list = [
    path("complaints/", ComplaintListView.as_view(), name="complaint_list"),
    path("complaints/new/", ComplaintCreateView.as_view(), name="complaint_create"),
    path("complaints/<int:pk>/", ComplaintDetailView.as_view(), name="complaint_detail"),
    path("complaints/<int:pk>/<slug:verb>/", complaint_action, name="complaint_action"),
    path("tickets/", TicketListView.as_view(), name="ticket_list"),
    path("tickets/new/", TicketCreateView.as_view(), name="ticket_create"),
    path("tickets/<int:pk>/", TicketDetailView.as_view(), name="ticket_detail"),
    path("tickets/<int:pk>/<slug:verb>/", ticket_action, name="ticket_action"),
]
