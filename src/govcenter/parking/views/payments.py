"""Staff pages of payments, refunds and the daily reconciliation.

* 支付单: list (status, flagged, number filters; flagged payments highlighted) and detail
  (items, every notification received — bad signatures and amount mismatches included —,
  refunds, a refund request form and the one-click refund of a flagged payment).
* 退款: list and detail with approve / reject / resubmit (four-eyes: never one's own).
* 对账: runs list (and "reconcile a day" for ``parking.run_reconciliation``), run detail with
  its differences, each resolved with a note or taken into the ledger.

Payments are scoped through their orders, refunds by district (an object outside the caller's
scope is 404); reconciliation is city-wide (the statement has no district) and needs its view
permission. Writes go to the services, whose refusals come back as messages.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.views.base import ScopedDetailView, ScopedListView

from ..models.refunds import ReconciliationDifference, RefundReason
from ..services import reconciliation as reconciliation_services
from ..services import refunds as services

T = "parking/payments/"
UNSCOPED = "scoped through its orders by services.refunds.payment_list()"


class RefundRequestForm(forms.Form):
    amount_fen = forms.IntegerField(label=gettext_lazy("退款金额（分）"), min_value=1)
    reason_category = forms.ChoiceField(label=gettext_lazy("退款原因"), choices=RefundReason.choices)
    reason = forms.CharField(label=gettext_lazy("原因说明"), max_length=500)
    order = forms.TypedChoiceField(
        label=gettext_lazy("停车订单"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, intent=None, **kwargs):
        super().__init__(*args, **kwargs)
        orders = [] if intent is None else list(intent.items.values_list("order_id", flat=True))
        self.fields["order"].choices = [("", _("整笔支付单"))] + [(pk, f"#{pk}") for pk in orders]
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if hasattr(field, "choices") else "form-control"
            )


class NoteForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("说明"), max_length=500, required=False)


class ReconcileForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("对账日期"),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )


def _service_call(request, call) -> bool:
    """Run a service call; its refusal becomes an error message. True when it went through."""
    try:
        call()
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
        return False
    return True


# -- payments -------------------------------------------------------------------------------------


class PaymentListView(ScopedListView):
    permission_required = ("parking.view_paymentintent",)
    filterset_class = services.PaymentIntentFilterSet
    template_name = T + "payment_list.html"
    unscoped_reason = UNSCOPED

    def base_queryset(self):
        return services.payment_list(user=self.request.user)


class PaymentDetailView(ScopedDetailView):
    permission_required = ("parking.view_paymentintent",)
    template_name = T + "payment_detail.html"
    unscoped_reason = UNSCOPED

    def base_queryset(self):
        return services.payment_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        intent = self.object
        context["items"] = intent.items.select_related("order", "order__segment", "order__district").order_by(
            "order_id"
        )
        context["notifications"] = services.notification_list(user=self.request.user).filter(
            Q(intent=intent) | Q(out_trade_no=intent.out_trade_no)
        )
        context["refunds"] = services.refund_list(user=self.request.user).filter(intent=intent)
        context["paid_fen"] = services.paid_fen(intent)
        context["refundable_fen"] = services.refundable_fen(intent)
        context["excess_fen"] = services.excess_fen(intent)
        context["can_request"] = self.request.user.has_perm(services.REQUEST_PERMISSION)
        context["form"] = RefundRequestForm(intent=intent)
        return context


class NotificationListView(ScopedListView):
    """Every provider callback received, bad signatures and amount mismatches included."""

    permission_required = ("parking.view_paymentnotification",)
    filterset_class = services.PaymentNotificationFilterSet
    template_name = T + "notification_list.html"
    unscoped_reason = "scoped through its payment's orders by services.refunds.notification_list()"

    def base_queryset(self):
        return services.notification_list(user=self.request.user)


def _scoped_payment(request, pk: int):
    return get_object_or_404(services.payment_list(user=request.user), pk=pk)


@login_required
@permission_required(services.REQUEST_PERMISSION, raise_exception=True)
@require_POST
def payment_refund_request(request, pk: int):
    """The refund request form of the payment page."""
    intent = _scoped_payment(request, pk)
    form = RefundRequestForm(request.POST, intent=intent)
    if not form.is_valid():
        messages.error(request, _("请检查退款申请的填写：%(errors)s") % {"errors": form.errors.as_text()})
        return redirect("parking:payment_detail", pk=intent.pk)
    data = form.cleaned_data
    order = intent.items.filter(order_id=data["order"]).first().order if data["order"] else None
    done = {}

    def call():
        done["refund"] = services.refund_request(
            actor=request.user,
            intent=intent,
            order=order,
            amount_fen=data["amount_fen"],
            reason_category=data["reason_category"],
            reason=data["reason"],
        )

    if _service_call(request, call):
        messages.success(request, _("退款申请已提交，等待审批。"))
        return redirect("parking:refund_detail", pk=done["refund"].pk)
    return redirect("parking:payment_detail", pk=intent.pk)


@login_required
@permission_required(services.REQUEST_PERMISSION, raise_exception=True)
@require_POST
def payment_refund_flagged(request, pk: int):
    """One click on a flagged payment: ask back what was taken beyond the ledger."""
    intent = _scoped_payment(request, pk)
    done = {}

    def call():
        done["refund"] = services.refund_request_flagged(actor=request.user, intent=intent)

    if _service_call(request, call):
        messages.success(request, _("退款申请已提交，等待审批。"))
        return redirect("parking:refund_detail", pk=done["refund"].pk)
    return redirect("parking:payment_detail", pk=intent.pk)


# -- refunds ----------------------------------------------------------------------------------------


class RefundListView(ScopedListView):
    permission_required = ("parking.view_refund",)
    filterset_class = services.RefundFilterSet
    template_name = T + "refund_list.html"

    def base_queryset(self):
        return services.refund_list(user=self.request.user)


class RefundDetailView(ScopedDetailView):
    permission_required = ("parking.view_refund",)
    template_name = T + "refund_detail.html"

    def base_queryset(self):
        return services.refund_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        refund = self.object
        context["can_decide"] = (
            user.has_perm(services.APPROVE_PERMISSION)
            and refund.status == "requested"
            and refund.requested_by_id != user.pk
        )
        context["own_request"] = refund.requested_by_id == user.pk
        context["can_retry"] = user.has_perm(services.APPROVE_PERMISSION) and refund.status == "approved"
        context["note_form"] = NoteForm()
        return context


@login_required
@permission_required(services.APPROVE_PERMISSION, raise_exception=True)
@require_POST
def refund_action(request, pk: int, verb: str):
    """approve / reject / retry a refund."""
    refund = get_object_or_404(services.refund_list(user=request.user), pk=pk)
    note = NoteForm(request.POST)
    note.is_valid()
    text = note.cleaned_data.get("note", "")
    actions = {
        "approve": (
            lambda: services.refund_approve(actor=request.user, refund=refund, note=text),
            _("已批准，退款已提交支付渠道。"),
        ),
        "reject": (
            lambda: services.refund_reject(actor=request.user, refund=refund, note=text),
            _("已驳回。"),
        ),
        "retry": (
            lambda: services.refund_retry(actor=request.user, refund=refund),
            _("已重新提交支付渠道。"),
        ),
    }
    if verb not in actions:
        return redirect("parking:refund_detail", pk=refund.pk)
    call, done = actions[verb]
    if _service_call(request, call):
        messages.success(request, done)
    return redirect("parking:refund_detail", pk=refund.pk)


# -- reconciliation ------------------------------------------------------------------------------


class RunListView(ScopedListView):
    permission_required = ("parking.view_reconciliationrun",)
    template_name = T + "run_list.html"
    unscoped_reason = "city-wide: the provider statement has no district (view permission only)"

    def base_queryset(self):
        return reconciliation_services.run_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_run"] = self.request.user.has_perm(reconciliation_services.RUN_PERMISSION)
        context["run_form"] = ReconcileForm(initial={"date": reconciliation_services.yesterday()})
        return context


class RunDetailView(ScopedDetailView):
    permission_required = ("parking.view_reconciliationrun",)
    template_name = T + "run_detail.html"
    unscoped_reason = RunListView.unscoped_reason

    def base_queryset(self):
        return reconciliation_services.run_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["differences"] = self.object.differences.select_related("intent", "refund")
        context["can_resolve"] = self.request.user.has_perm(reconciliation_services.RESOLVE_PERMISSION)
        context["missing_in_ledger"] = ReconciliationDifference.Kind.MISSING_IN_LEDGER
        return context


@login_required
@permission_required(reconciliation_services.RUN_PERMISSION, raise_exception=True)
@require_POST
def run_reconcile(request):
    form = ReconcileForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写有效的对账日期。"))
        return redirect("parking:run_list")
    date: dt.date = form.cleaned_data["date"]
    run = reconciliation_services.reconcile(date=date, actor=request.user)
    messages.success(
        request, _("%(date)s 对账完成：%(status)s。") % {"date": date, "status": run.get_status_display()}
    )
    return redirect("parking:run_detail", pk=run.pk)


@login_required
@permission_required(reconciliation_services.RESOLVE_PERMISSION, raise_exception=True)
@require_POST
def difference_action(request, pk: int, verb: str):
    """resolve (with a note) / take (into the ledger) a reconciliation difference."""
    difference = get_object_or_404(ReconciliationDifference.objects.select_related("run"), pk=pk)
    note = NoteForm(request.POST)
    note.is_valid()
    text = note.cleaned_data.get("note", "")
    service = (
        reconciliation_services.difference_take
        if verb == "take"
        else reconciliation_services.difference_resolve
    )

    def call():
        service(actor=request.user, difference=difference, note=text)

    if _service_call(request, call):
        messages.success(request, _("差异已处理。"))
    return redirect(reverse("parking:run_detail", args=[difference.run_id]) + f"#diff-{difference.pk}")


urlpatterns: list = [
    path("payments/", PaymentListView.as_view(), name="payment_list"),
    path("payments/<int:pk>/", PaymentDetailView.as_view(), name="payment_detail"),
    path("payments/notifications/", NotificationListView.as_view(), name="notification_list"),
    path("payments/<int:pk>/refund/", payment_refund_request, name="payment_refund_request"),
    path("payments/<int:pk>/refund-flagged/", payment_refund_flagged, name="payment_refund_flagged"),
    path("refunds/", RefundListView.as_view(), name="refund_list"),
    path("refunds/<int:pk>/", RefundDetailView.as_view(), name="refund_detail"),
    path("refunds/<int:pk>/<slug:verb>/", refund_action, name="refund_action"),
    path("reconciliation/", RunListView.as_view(), name="run_list"),
    path("reconciliation/run/", run_reconcile, name="run_reconcile"),
    path("reconciliation/<int:pk>/", RunDetailView.as_view(), name="run_detail"),
    path("reconciliation/differences/<int:pk>/<slug:verb>/", difference_action, name="difference_action"),
]
