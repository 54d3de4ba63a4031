"""Query parameters the bike-share staff APIs share."""

from __future__ import annotations

import datetime as dt

from govcenter.core.api.errors import ServiceError

# No bike-share data exists before dockless bikes came to Beijing (2016); a bound keeps date
# arithmetic (a day before, a week after) far from datetime's year 1 and 9999.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2100, 12, 31)


def query_date(value: str | None, name: str, default: dt.date, *, last: dt.date = LAST_DATE) -> dt.date:
    """An ISO date parameter, ``default`` when absent; 400 ``bad_period`` naming it when malformed
    or outside ``FIRST_DATE``–``last`` (``last`` e.g. today, for data that cannot exist yet)."""
    if not value:
        return default
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ServiceError("Bad date.", code="bad_period", details={name: [value]}) from None
    last = min(last, LAST_DATE)
    if not FIRST_DATE <= day <= last:
        raise ServiceError(
            f"Date out of range ({FIRST_DATE}–{last}).", code="bad_period", details={name: [value]}
        )
    return day
