"""Navigation registry: each built module registers its section; unbuilt ones don't appear."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    permission: str | None = None  # a function permission the user needs to see it
    icon: str = ""


@dataclass(frozen=True)
class NavSection:
    key: str
    label: str | Promise
    items: tuple[NavItem, ...] = field(default_factory=tuple)
    order: int = 100
    icon: str = ""


_registry: dict[str, NavSection] = {}


def register(section: NavSection) -> None:
    """Called from an app's ``AppConfig.ready()``."""
    _registry[section.key] = section


def sections_for(request) -> list[dict]:
    user = request.user
    result = []
    for section in sorted(_registry.values(), key=lambda s: s.order):
        items = [
            {"label": item.label, "url": reverse(item.url_name), "icon": item.icon}
            for item in section.items
            if item.permission is None or user.has_perm(item.permission)
        ]
        if items:
            result.append({"key": section.key, "label": section.label, "items": items, "icon": section.icon})
    return result
