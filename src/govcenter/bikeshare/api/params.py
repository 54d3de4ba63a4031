"""Query parameters the bike-share staff APIs share."""

from __future__ import annotations

import datetime as dt

from govcenter.core.api.errors import ServiceError


def query_date(value: str | None, name: str, default: dt.date) -> dt.date:
    """An ISO date parameter, ``default`` when absent; 400 ``bad_period`` naming it when malformed."""
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ServiceError("Bad date.", code="bad_period", details={name: [value]}) from None
