"""Rejection counters beyond device ingest: imports, the citizen app and payment notifications.

Every refusal of bad input is counted per source and reason in
:class:`~govcenter.parking.models.IngestRejection` with one increment helper,
:func:`rejection_count` (device ingest uses it too). The ``source`` says who sent the input,
its prefix the *kind* of source:

* ``device:<serial>``, ``mqtt:<serial>``, ``serial:<claimed>``, ``ip:<address>`` — device
  ingest (services/events.py, mqtt.py); ``ip:<address>`` is also a caller of the citizen
  API that is not logged in (SMS login, pay by plate);
* ``import:<username>`` — a refused Excel/CSV import (reason: the error code — the file's
  ``bad_file``, ``empty_file``, ``file_too_large`` …, or ``import_invalid`` for row errors);
* ``citizen:<id>`` — a refusal in the citizen app (invalid plate, bad or duplicate payment
  request …; reason: the API error code);
* ``provider:<name>`` — a payment notification refused or not applied (bad signature, stale,
  wrong amount, unknown trade, replayed callback).

Callers count *after* the refusing transaction is gone (rolled back or never opened), so a
counter survives the rollback of the work it refused; :func:`rejection_count` itself runs in
autocommit then.
"""

from __future__ import annotations

from django.db.models import QuerySet

from govcenter.core import rejections as counters

from ..models import Device, IngestRejection

__all__ = [
    "SOURCE_KINDS",
    "citizen_source",
    "import_source",
    "ip_source",
    "provider_source",
    "rejection_count",
    "rejection_list",
    "source_kind",
]

# The kinds of source, as the staff filter offers them (the prefix before the first colon).
SOURCE_KINDS = ("device", "mqtt", "serial", "ip", "import", "citizen", "provider")


def rejection_count(*, source: str, reason: str, device: Device | None = None, n: int = 1) -> None:
    """Add ``n`` to the counter of (source, reason) (:func:`govcenter.core.rejections.rejection_count`).

    Called in the caller's transaction for per-event rejections, and on its own for
    refusals of a whole request (authentication, batch too large) so they are kept even
    though the request fails.
    """
    counters.rejection_count(IngestRejection, source=source, reason=reason, n=n, defaults={"device": device})


def import_source(user) -> str:
    return f"import:{getattr(user, 'username', '') or 'anonymous'}"


def citizen_source(citizen) -> str:
    return f"citizen:{citizen.pk}"


def ip_source(ip: str | None) -> str:
    return f"ip:{ip or 'unknown'}"


def provider_source(name: str) -> str:
    return f"provider:{name}"


def source_kind(source: str) -> str:
    return source.split(":", 1)[0]


def rejection_list(*, kind: str = "", reason: str = "", source: str = "") -> QuerySet[IngestRejection]:
    """The counters, most recent first; ``kind`` filters by source kind (``import``, ``citizen`` …)."""
    rows = IngestRejection.objects.all()
    if kind:
        rows = rows.filter(source__startswith=f"{kind}:")
    if reason:
        rows = rows.filter(reason=reason)
    if source:
        rows = rows.filter(source=source)
    return rows.order_by("-last_at", "source", "reason")
