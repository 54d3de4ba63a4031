"""UI of parking orders, anomalies and device status (per district).

Lists and details come from the selectors through the scoped base views (an object outside
the caller's scope is 404). Plates are masked everywhere; the order page offers the
audited reveal (``core.reveal_personal_data``) and shows the corrections.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from govcenter.core.models import District
from govcenter.core.views.base import ScopedDetailView, ScopedListView
from govcenter.core.views.reveal import no_store, reveal_context

from ..selectors import monitoring
from ..selectors import orders as selectors

T = "parking/orders/"


class OrderListView(ScopedListView):
    permission_required = ("parking.view_order",)
    filterset_class = selectors.OrderFilterSet
    template_name = T + "order_list.html"

    def base_queryset(self):
        return selectors.order_list(user=self.request.user)


class OrderDetailView(ScopedDetailView):
    permission_required = ("parking.view_order",)
    template_name = T + "order_detail.html"
    http_method_names = ["get", "post"]

    def base_queryset(self):
        return selectors.order_list(user=self.request.user).select_related("space_version", "managing_unit")

    def post(self, request, *args, **kwargs):
        """The reveal form posts here; the page is rendered once with the clear plate."""
        return self.get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["events"] = selectors.order_events(user=user, order=self.object)
        context["corrections"] = selectors.order_corrections(user=user, order=self.object)
        context["anomalies"] = self.object.anomalies.all()
        url = self.request.path
        context.update(reveal_context(self.request, self.object, fields=["plate"], reveal_url=url, masked_url=url))
        return context

    def render_to_response(self, context, **kwargs):
        return no_store(super().render_to_response(context, **kwargs))


class AnomalyListView(ScopedListView):
    permission_required = ("parking.view_parkinganomaly",)
    filterset_class = selectors.AnomalyFilterSet
    template_name = T + "anomaly_list.html"

    def base_queryset(self):
        return selectors.anomaly_list(user=self.request.user)


@login_required
@permission_required("parking.view_device", raise_exception=True)
@require_http_methods(["GET"])
def device_status(request, district: int | None = None):
    """Availability per district over the last 24 hours and, for one district, its devices."""
    end = timezone.now()
    start = end - dt.timedelta(hours=24)
    chosen = None
    if district is not None:
        chosen = get_object_or_404(District.objects.restrict(request.user), pk=district)
    rows = monitoring.device_availability(user=request.user, start=start, end=end)
    devices = monitoring.device_status_rows(user=request.user, district=chosen) if chosen else None
    return render(
        request,
        T + "device_status.html",
        {"rows": rows, "district": chosen, "devices": devices, "start": start, "end": end},
    )
