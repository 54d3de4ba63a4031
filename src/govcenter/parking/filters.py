"""FilterSets of the parking base data, shared by the UI lists and the API.

Choice filters take their choices from the caller's scope (callable querysets), so a
filter never lists, nor accepts, a district, road or segment the caller may not see.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.models import District

from .models import AreaClass, Device, DeviceKind, Road, Segment, Space

ALL = _("全部")


def _user(request):
    return getattr(request, "user", None)


def _districts(request):
    # a filter lists names: the boundaries (17 GeoJSON polygons) are not loaded
    return (
        District.objects.none()
        if request is None
        else District.objects.restrict(_user(request)).defer("geometry")
    )


def _roads(request):
    return Road.objects.none() if request is None else Road.objects.restrict(_user(request))


def _segments(request):
    return Segment.objects.none() if request is None else Segment.objects.restrict(_user(request))


class _Base(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="search")
    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=ALL)
    search_fields: tuple[str, ...] = ()

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q()
        for field in self.search_fields:
            q |= Q(**{f"{field}__icontains": value})
        return queryset.filter(q)


class RoadFilterSet(_Base):
    status = django_filters.ChoiceFilter(label=_("状态"), choices=Road.Status.choices, empty_label=ALL)
    search_fields = ("code", "name")

    class Meta:
        model = Road
        fields = ["q", "district", "status"]


class SegmentFilterSet(_Base):
    road = django_filters.ModelChoiceFilter(
        label=_("道路"), queryset=_roads, widget=forms.NumberInput(attrs={"placeholder": _("道路 ID")})
    )
    area_class = django_filters.ChoiceFilter(label=_("地区类别"), choices=AreaClass.choices, empty_label=ALL)
    status = django_filters.ChoiceFilter(label=_("状态"), choices=Segment.Status.choices, empty_label=ALL)
    search_fields = ("code", "name", "road__name")

    class Meta:
        model = Segment
        fields = ["q", "district", "road", "area_class", "status"]


class SpaceFilterSet(_Base):
    segment = django_filters.ModelChoiceFilter(
        label=_("路段"), queryset=_segments, widget=forms.NumberInput(attrs={"placeholder": _("路段 ID")})
    )
    area_class = django_filters.ChoiceFilter(
        label=_("地区类别"), field_name="segment__area_class", choices=AreaClass.choices, empty_label=ALL
    )
    space_type = django_filters.ChoiceFilter(label=_("泊位类型"), choices=Space.Type.choices, empty_label=ALL)
    status = django_filters.ChoiceFilter(label=_("状态"), choices=Space.Status.choices, empty_label=ALL)
    search_fields = ("number", "segment__code", "segment__name")

    class Meta:
        model = Space
        fields = ["q", "district", "segment", "area_class", "space_type", "status"]

    def search(self, queryset, name, value):
        value = value.strip()
        # "DC0001-012" (segment code - number) as shown in lists finds the one space.
        if "-" in value:
            code, _sep, number = value.rpartition("-")
            exact = queryset.filter(segment__code__iexact=code, number__iexact=number)
            if exact.exists():
                return exact
        return super().search(queryset, name, value)


class DeviceFilterSet(_Base):
    kind = django_filters.ChoiceFilter(label=_("设备类型"), choices=DeviceKind.choices, empty_label=ALL)
    status = django_filters.ChoiceFilter(label=_("状态"), choices=Device.Status.choices, empty_label=ALL)
    segment = django_filters.ModelChoiceFilter(
        label=_("路段"), queryset=_segments, widget=forms.NumberInput(attrs={"placeholder": _("路段 ID")})
    )
    search_fields = ("serial", "firmware", "segment__code", "space__number")

    class Meta:
        model = Device
        fields = ["q", "district", "kind", "status", "segment"]
