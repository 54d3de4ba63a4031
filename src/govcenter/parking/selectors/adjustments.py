"""Reads of temporary occupations and change sets; "was this space closed at t".

Lists and details go through the caller's data scope. :func:`space_closed_at` and
:func:`spaces_closed_at` are not scoped: the order engine asks them about spaces it
already holds, at ingest, to bill nothing on closed spaces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from ..models import ChangeSet, ChangeSetItem, Space, SpaceVersion, TemporaryOccupation

# Statuses that bill nothing: a space closed by hand or by an occupation, or retired.
CLOSED_SPACE_STATUSES = (Space.Status.TEMPORARILY_CLOSED, Space.Status.RETIRED)


def _ids(spaces: Iterable[Space | int]) -> list[int]:
    return [s if isinstance(s, int) else s.pk for s in spaces]


def spaces_closed_at(spaces: Iterable[Space | int], at: datetime) -> set[int]:
    """The ids among ``spaces`` that were closed at ``at`` (two queries for any number of spaces).

    Closed means either an occupation covered the space then — from the occupation rows'
    actual start/end (``started_at ≤ at < ended_at``, still-active ones open-ended), so it
    is right for past times as well — or the space's version valid at ``at`` had a closed
    status (closed by hand, or retired).
    """
    ids = _ids(spaces)
    if not ids:
        return set()
    occupied = set(
        TemporaryOccupation.spaces.through.objects.filter(
            space_id__in=ids,
            temporaryoccupation__status__in=(
                TemporaryOccupation.Status.ACTIVE,
                TemporaryOccupation.Status.ENDED,
            ),
            temporaryoccupation__started_at__lte=at,
        )
        .filter(Q(temporaryoccupation__ended_at__isnull=True) | Q(temporaryoccupation__ended_at__gt=at))
        .values_list("space_id", flat=True)
    )
    versioned = set(
        SpaceVersion.objects.filter(space_id__in=ids, valid_from__lte=at, status__in=CLOSED_SPACE_STATUSES)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .values_list("space_id", flat=True)
    )
    return occupied | versioned


def space_closed_at(space: Space | int, at: datetime) -> bool:
    """True when ``space`` was closed at ``at`` (see :func:`spaces_closed_at`); nothing is billed then."""
    space_id = space if isinstance(space, int) else space.pk
    return space_id in spaces_closed_at([space_id], at)


def occupation_list(*, user) -> QuerySet[TemporaryOccupation]:
    """Temporary occupations in the caller's scope, with their space count."""
    return (
        TemporaryOccupation.objects.restrict(user)
        .select_related("district", "segment", "created_by")
        .annotate(space_count=Count("spaces", distinct=True))
    )


def occupation_detail(*, user, pk: int) -> TemporaryOccupation:
    return occupation_list(user=user).get(pk=pk)


def changeset_list(*, user) -> QuerySet[ChangeSet]:
    """Change sets in the caller's scope, with their item count."""
    return (
        ChangeSet.objects.restrict(user)
        .select_related("district", "author", "reviewer")
        .annotate(item_count=Count("items", distinct=True))
    )


def changeset_detail(*, user, pk: int) -> ChangeSet:
    return changeset_list(user=user).get(pk=pk)


def changeset_items(*, user, change_set: ChangeSet) -> QuerySet[ChangeSetItem]:
    return (
        ChangeSetItem.objects.restrict(user)
        .filter(change_set=change_set)
        .select_related("segment", "space", "space__segment")
        .order_by("position")
    )
