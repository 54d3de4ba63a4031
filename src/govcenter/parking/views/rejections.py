"""Staff page of the rejection counters (接入拒收计数): every refused input per source and reason.

Device ingest (HTTP, MQTT), Excel/CSV imports, the citizen app and payment notifications
(services/rejections.py), filtered by kind of source, reason and source. City-wide
operational telemetry with the view permission ``parking.view_ingestrejection``; the same
rows are served by ``GET /api/v1/parking/rejections/`` (api/rejections.py).
"""

from __future__ import annotations

import django_filters
from django.urls import path
from django.utils.translation import gettext_lazy

from govcenter.core.views.base import ScopedListView

from ..models import IngestRejection
from ..services import rejections as services

# The kinds of source as the filter shows them (the key is the source prefix).
KIND_LABELS = {
    "device": gettext_lazy("设备（HTTP）"),
    "mqtt": gettext_lazy("设备（MQTT）"),
    "serial": gettext_lazy("未认证设备"),
    "ip": gettext_lazy("IP 地址（未登录）"),
    "import": gettext_lazy("批量导入"),
    "citizen": gettext_lazy("公众用户"),
    "provider": gettext_lazy("支付渠道"),
}


class IngestRejectionFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(
        label=gettext_lazy("来源类型"),
        choices=[(k, KIND_LABELS[k]) for k in services.SOURCE_KINDS],
        empty_label=gettext_lazy("全部"),
        method="filter_kind",
    )
    reason = django_filters.CharFilter(label=gettext_lazy("原因代码"))
    source = django_filters.CharFilter(label=gettext_lazy("来源"), lookup_expr="icontains")

    class Meta:
        model = IngestRejection
        fields = ["kind", "reason", "source"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(source__startswith=f"{value}:") if value else queryset


class IngestRejectionListView(ScopedListView):
    permission_required = ("parking.view_ingestrejection",)
    filterset_class = IngestRejectionFilterSet
    template_name = "parking/rejections/rejection_list.html"
    unscoped_reason = "operational telemetry of every input channel, not district data (view permission only)"

    def base_queryset(self):
        return services.rejection_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for row in context["object_list"]:
            row.kind_label = KIND_LABELS.get(
                services.source_kind(row.source), services.source_kind(row.source)
            )
        return context


urlpatterns: list = [
    path("rejections/", IngestRejectionListView.as_view(), name="rejection_list"),
]
