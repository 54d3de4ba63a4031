"""Template helpers of the UI shell: inline icons from the vendored Tabler icon set."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

ICON_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "tabler-icons"
_ICON_NAME = re.compile(r"^[a-z0-9-]+$")


@functools.lru_cache(maxsize=128)
def _icon_svg(name: str) -> str:
    if not _ICON_NAME.match(name):
        return ""
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8").strip()


@register.simple_tag
def icon(name: str, css_class: str = "") -> str:
    """``{% icon "home" %}``: the vendored SVG inline (inherits the text colour).

    Inline, not <img>: an SVG in an <img> cannot take ``currentColor``. The SVGs are
    decorative, so they are hidden from screen readers. An unknown name renders nothing.
    """
    svg = _icon_svg(name or "")
    if not svg:
        return ""
    extra = f" {escape(css_class)}" if css_class else ""
    svg = svg.replace('class="icon ', f'aria-hidden="true" focusable="false" class="icon{extra} ', 1)
    return mark_safe(svg)  # noqa: S308  (our own vendored file, the only insertion is escaped)
