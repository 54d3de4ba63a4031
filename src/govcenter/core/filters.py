"""FilterSets of the kernel's models, shared by the UI lists and the API.

Choice filters take their choices from the caller's scope (a callable queryset), so a
filter form never lists a unit the caller may not see.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import District, Role, Unit, UnitKind, User
from .scope import ScopeKind

ALL = _("全部")
BIGINT_MAX = 2**63 - 1


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within bounds (default: a positive id). django-filter's NumberFilter takes
    any decimal — ``1.5e-83`` or ``-1.8e308`` reached the database and failed there (500); here
    they are a 400 naming the parameter. Years: ``IntegerFilter(min_value=2000, max_value=2100)``."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value: int = 1, max_value: int = BIGINT_MAX, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)


def yes_no_filter(label, yes=None, no=None, **kwargs) -> django_filters.BooleanFilter:
    """A yes/no filter whose empty choice reads 全部 (Django's reads 未知)."""
    yes, no = yes or _("是"), no or _("否")
    return django_filters.BooleanFilter(
        label=label, widget=forms.Select(choices=[("", ALL), ("true", yes), ("false", no)]), **kwargs
    )


def _active_filter(label=None, yes=None, no=None) -> django_filters.BooleanFilter:
    return yes_no_filter(label or _("状态"), yes or _("启用"), no or _("停用"))


def _scoped_units(request):
    if request is None:
        return Unit.objects.none()
    return Unit.objects.restrict(request.user).order_by("path")


def _districts(request):
    if request is None:
        return District.objects.none()
    return District.objects.all()


class UnitFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="search")
    kind = django_filters.ChoiceFilter(label=_("单位类型"), choices=UnitKind.choices, empty_label=ALL)
    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=ALL)
    parent = django_filters.ModelChoiceFilter(label=_("上级单位"), queryset=_scoped_units, empty_label=ALL)
    is_active = _active_filter()

    class Meta:
        model = Unit
        fields = ["q", "kind", "district", "parent", "is_active"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name_zh__icontains=value) | Q(name_en__icontains=value) | Q(code__icontains=value)
        )


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="search")
    unit = django_filters.ModelChoiceFilter(label=_("所属单位"), queryset=_scoped_units, empty_label=ALL)
    role = django_filters.ModelChoiceFilter(label=_("角色"), field_name="roles", queryset=Role.objects.all(), empty_label=ALL)
    is_active = _active_filter()

    class Meta:
        model = User
        fields = ["q", "unit", "role", "is_active"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q(username__icontains=value)
        user = getattr(self.request, "user", None)
        # Searching by a masked field would reveal it one character at a time.
        if user is not None and user.has_perm("core.reveal_personal_data"):
            q |= Q(full_name__icontains=value) | Q(phone__icontains=value)
        return queryset.filter(q)


class RoleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="search")
    scope_kind = django_filters.ChoiceFilter(label=_("数据范围"), choices=ScopeKind.choices, empty_label=ALL)
    is_builtin = _active_filter(_("内置角色"), _("是"), _("否"))

    class Meta:
        model = Role
        fields = ["q", "scope_kind", "is_builtin"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name_zh__icontains=value) | Q(name_en__icontains=value) | Q(code__icontains=value)
        )


class DistrictFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("搜索"), method="search")
    kind = django_filters.ChoiceFilter(label=_("类型"), choices=District.Kind.choices, empty_label=ALL)

    class Meta:
        model = District
        fields = ["q", "kind"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name_zh__icontains=value) | Q(name_en__icontains=value) | Q(code__icontains=value)
        )
