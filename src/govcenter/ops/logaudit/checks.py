"""System check: the log retention may not fall below the legal 180 days (ops.E801).

``settings/ops.py`` already refuses such a value at start-up; this check also catches a value
set by other means (a settings override, a local settings module)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from .services import MIN_RETENTION_DAYS


@register("ops")
def check_log_retention(app_configs=None, **kwargs) -> list[Error]:
    days = getattr(settings, "GOVCENTER_OPS_LOG_RETENTION_DAYS", MIN_RETENTION_DAYS)
    if not isinstance(days, int) or days < MIN_RETENTION_DAYS:
        return [Error(f"GOVCENTER_OPS_LOG_RETENTION_DAYS={days!r}: logs must be kept at least {MIN_RETENTION_DAYS} days",
                      hint="Set it to 180 or more (网络安全法 第二十一条).", id="ops.E801")]  # fmt: skip
    return []
