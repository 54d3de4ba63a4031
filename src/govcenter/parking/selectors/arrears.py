"""Reads of arrears, reminders and penalty cases — always through the caller's scope.

The filter sets are shared by the API and the UI; the district filter offers (and accepts)
only districts in the caller's scope; the plate filter matches the whole plate (a look-up:
the plate stays masked in the answer).
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ..models.arrears import (
    ArrearsRecord,
    NoticeOutcome,
    PenaltyCase,
    PenaltyState,
    ReminderLog,
    ReminderStage,
)
from .orders import ALL, OrderFilterSet, _districts


class _PlateFilterSet(django_filters.FilterSet):
    district = django_filters.ModelChoiceFilter(label=_("所属区"), queryset=_districts, empty_label=ALL)
    plate = django_filters.CharFilter(label=_("车牌号"), method="filter_plate")

    filter_plate = OrderFilterSet.filter_plate


class ArrearsRecordFilterSet(_PlateFilterSet):
    outcome = django_filters.ChoiceFilter(
        label=_("处理结果"), choices=ArrearsRecord.Outcome.choices, empty_label=ALL
    )

    class Meta:
        model = ArrearsRecord
        fields = ["district", "outcome", "plate"]


class ReminderLogFilterSet(_PlateFilterSet):
    stage = django_filters.ChoiceFilter(label=_("阶段"), choices=ReminderStage.choices, empty_label=ALL)
    outcome = django_filters.ChoiceFilter(label=_("结果"), choices=NoticeOutcome.choices, empty_label=ALL)

    class Meta:
        model = ReminderLog
        fields = ["district", "stage", "outcome", "plate"]


class PenaltyCaseFilterSet(_PlateFilterSet):
    state = django_filters.ChoiceFilter(label=_("状态"), choices=PenaltyState.choices, empty_label=ALL)

    class Meta:
        model = PenaltyCase
        fields = ["district", "state", "plate"]


def arrears_list(*, user) -> QuerySet[ArrearsRecord]:
    """Arrears records in the caller's scope, latest due first, with their order."""
    return (
        ArrearsRecord.objects.restrict(user)
        .select_related("district", "order", "order__segment", "order__space")
        .order_by("-due_at", "-id")
    )


def reminder_list(*, user) -> QuerySet[ReminderLog]:
    """Reminder log rows in the caller's scope, newest first."""
    return (
        ReminderLog.objects.restrict(user)
        .select_related("district", "sms_message")
        .order_by("-sent_at", "-id")
    )


def penalty_list(*, user) -> QuerySet[PenaltyCase]:
    """Penalty cases in the caller's scope, newest first."""
    return (
        PenaltyCase.objects.restrict(user)
        .select_related("district", "managing_unit")
        .order_by("-created_at", "-id")
    )
