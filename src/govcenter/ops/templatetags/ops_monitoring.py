"""``{{ value|probe_value:kind }}``: a probe's measured value with its unit (per kind, as
``ops.monitoring.probes`` defines the value), rounded for reading."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def probe_value(value, kind: str) -> str:
    if value is None:
        return "—"
    number = float(value)
    if kind == "disk":
        return _("可用 %(pct).1f%%") % {"pct": number}
    if kind == "tls":
        return _("剩 %(days)d 天") % {"days": int(number)}
    if kind == "freshness":
        seconds = int(round(number))
        if seconds < 120:
            return _("%(s)d 秒前") % {"s": seconds}
        if seconds < 7200:
            return _("%(m)d 分钟前") % {"m": seconds // 60}
        return _("%(h).1f 小时前") % {"h": seconds / 3600}
    return f"{number:.0f}" if number == int(number) else f"{number:.2f}"
