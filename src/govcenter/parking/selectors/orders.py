"""Reads of parking orders, device events and anomalies — always through the caller's scope.

The filter sets are shared by the API and the UI; their choice filters take choices from
the caller's scope, so a filter never lists, nor accepts, a district or segment the caller
may not see. The plate filter matches the whole plate (a look-up, not a display: the plate
stays masked in the answer).
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from govcenter.core.models import District

from ..models import DeviceEvent, Order, OrderState, ParkingAnomaly, Segment

ALL = _("全部")


def _districts(request):
    return District.objects.none() if request is None else District.objects.restrict(request.user)


def _segments(request):
    return Segment.objects.none() if request is None else Segment.objects.restrict(request.user)


class OrderFilterSet(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=ALL)
    segment = django_filters.ModelChoiceFilter(label=_("路段"), queryset=_segments, empty_label=ALL)
    state = django_filters.ChoiceFilter(label=_("状态"), choices=OrderState.choices, empty_label=ALL)
    plate = django_filters.CharFilter(label=_("车牌号"), method="filter_plate")
    started_after = django_filters.IsoDateTimeFilter(label=_("驶入不早于"), field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(label=_("驶入早于"), field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["district", "segment", "state", "plate", "started_after", "started_before"]

    def filter_plate(self, queryset, name, value):
        from ..services.orders import normalise_plate

        value = (value or "").strip()
        if not value:
            return queryset
        try:
            value = normalise_plate(value)
        except ValueError:
            value = value.upper()
        return queryset.filter(plate=value)


class AnomalyFilterSet(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=ALL)
    kind = django_filters.ChoiceFilter(label=_("异常类型"), choices=ParkingAnomaly.Kind.choices, empty_label=ALL)
    status = django_filters.ChoiceFilter(label=_("状态"), choices=ParkingAnomaly.Status.choices, empty_label=ALL)

    class Meta:
        model = ParkingAnomaly
        fields = ["district", "kind", "status"]


def order_list(*, user) -> QuerySet[Order]:
    """Orders in the caller's scope, newest first, with what lists show."""
    return (
        Order.objects.restrict(user)
        .select_related("district", "segment", "space", "tariff_plan")
        .order_by("-started_at", "-id")
    )


def order_detail(*, user, pk: int) -> Order:
    return order_list(user=user).select_related("space_version", "managing_unit").get(pk=pk)


def order_events(*, user, order: Order) -> QuerySet[DeviceEvent]:
    return DeviceEvent.objects.restrict(user).filter(order=order).select_related("device").order_by("event_time")


def order_corrections(*, user, order: Order):
    from ..models import OrderCorrection

    return OrderCorrection.objects.restrict(user).filter(order=order).order_by("created_at", "id")


def anomaly_list(*, user) -> QuerySet[ParkingAnomaly]:
    """Anomalies in the caller's scope, newest first."""
    return (
        ParkingAnomaly.objects.restrict(user)
        .select_related("district", "space", "space__segment", "event", "event__device")
        .order_by("-event_time", "-id")
    )
