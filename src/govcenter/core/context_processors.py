"""What every page of the UI shell needs: navigation, the user's menu and unread notifications."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from .navigation import sections_for
from .notifications import unread_count

logger = logging.getLogger(__name__)


def shell(request):
    user = getattr(request, "user", None)
    try:
        if user is None or not user.is_authenticated:
            return {"nav_sections": []}
        return {"nav_sections": sections_for(request), "unread_notifications": unread_count(user)}
    except DatabaseError:
        # The 500 page renders through this processor too; with the database down it
        # must still render (without navigation) rather than fail a second time.
        logger.warning("navigation unavailable: database error", exc_info=True)
        return {"nav_sections": []}
