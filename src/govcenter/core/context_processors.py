"""What every page of the UI shell needs: navigation and the user's menu."""

from __future__ import annotations

from .navigation import sections_for


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    return {"nav_sections": sections_for(request)}
