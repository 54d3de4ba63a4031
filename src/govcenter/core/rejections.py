"""Refusal counters: one row per (source, reason) with a ``count``, incremented by the request
that refused the input (parking's ``IngestRejection``, bikeshare's ``OperatorRejection``).

The counter model has the fields ``source`` (max 100 characters), ``reason``, ``count`` and
``last_at``, unique on (source, reason); the app's own link (device, operator …) is set only
when the row is first created, through ``defaults``.
"""

from __future__ import annotations

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

__all__ = ["rejection_count"]


def rejection_count(
    model: type[models.Model], *, source: str, reason: str, n: int = 1, defaults: dict | None = None
) -> None:
    """Add ``n`` to ``model``'s counter of (source, reason): one UPDATE, or an INSERT the first
    time (``defaults`` are the new row's other fields). Runs in the caller's transaction, or in
    autocommit when the caller counts after its own transaction rolled back."""
    source = source[:100]
    rows = model._default_manager
    updated = rows.filter(source=source, reason=reason).update(count=F("count") + n, last_at=timezone.now())
    if not updated:
        with transaction.atomic():
            row, created = rows.select_for_update().get_or_create(
                source=source, reason=reason, defaults={**(defaults or {}), "count": n}
            )
            if not created:
                rows.filter(pk=row.pk).update(count=F("count") + n, last_at=timezone.now())
