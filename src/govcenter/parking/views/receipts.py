"""UI of parking e-receipts (电子票据): list, detail with the verify result, void (红冲), PDF.

Rows come from the caller's data scope (an out-of-scope receipt is 404). Reading needs
``parking.view_receipt``; voiding ``parking.void_receipt`` and a reason (audited). Receipts
hold masked plates only, so there is nothing to reveal here.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.views.base import ScopedDetailView, ScopedListView

from ..api.receipts import pdf_response
from ..services import receipts as services

T = "parking/receipts/"


class ReceiptListView(ScopedListView):
    permission_required = ("parking.view_receipt",)
    filterset_class = services.ReceiptFilterSet
    template_name = T + "receipt_list.html"

    def base_queryset(self):
        return services.receipt_list(user=self.request.user)


class ReceiptDetailView(ScopedDetailView):
    permission_required = ("parking.view_receipt",)
    template_name = T + "receipt_detail.html"

    def base_queryset(self):
        return services.receipt_list(user=self.request.user).prefetch_related("items__order")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        result = services.receipt_verify(number=self.object.number)
        context["verification"] = result
        context["verification_message"] = services.REASONS[result.reason]
        context["items"] = (
            self.object.content.get("items", []) if isinstance(self.object.content, dict) else []
        )
        context["total_yuan"] = services.format_yuan(self.object.total_fen)
        context["total_capital"] = services.rmb_capital(self.object.total_fen)
        context["can_void"] = (
            self.request.user.has_perm("parking.void_receipt") and self.object.status == "issued"
        )
        return context


@require_POST
@login_required
@permission_required("parking.void_receipt", raise_exception=True)
def receipt_void(request, pk: int):
    receipt = get_object_or_404(services.receipt_list(user=request.user), pk=pk)
    try:
        services.receipt_void(
            actor=request.user, receipt=receipt, reason=request.POST.get("reason", "")[:200]
        )
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("票据已红冲。"))
    return redirect("parking:receipt_detail", pk=receipt.pk)


@require_GET
@login_required
@permission_required("parking.view_receipt", raise_exception=True)
def receipt_pdf(request, pk: int):
    return pdf_response(request, get_object_or_404(services.receipt_list(user=request.user), pk=pk))


urlpatterns: list = [
    path("receipts/", ReceiptListView.as_view(), name="receipt_list"),
    path("receipts/<int:pk>/", ReceiptDetailView.as_view(), name="receipt_detail"),
    path("receipts/<int:pk>/void/", receipt_void, name="receipt_void"),
    path("receipts/<int:pk>/pdf/", receipt_pdf, name="receipt_pdf"),
]
