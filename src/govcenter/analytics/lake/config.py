"""Where the lake lives and how long raw telemetry stays, from Django settings.

The lake modules themselves take explicit arguments (a root, a number of days) so they
run without Django; this is the one place that reads the project's settings, with defaults
that work on a fresh checkout:

- ``GOVCENTER_LAKE_DIR`` — the lake's root (default ``<GOVCENTER_VAR_DIR>/lake``);
- ``GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS`` — Beijing dates of raw telemetry kept by
  :func:`govcenter.analytics.lake.retention.slim` (default 90).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

DEFAULT_RAW_TELEMETRY_DAYS = 90


def lake_root() -> Path:
    """The configured lake root directory."""
    configured = getattr(settings, "GOVCENTER_LAKE_DIR", None)
    if configured:
        return Path(configured)
    return Path(settings.GOVCENTER_VAR_DIR) / "lake"


def raw_telemetry_days() -> int:
    """The configured raw-telemetry retention in days (ValueError if not a whole number ≥ 1)."""
    value = getattr(settings, "GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS", DEFAULT_RAW_TELEMETRY_DAYS)
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS must be a whole number, got {value!r}"
        ) from None
    if days < 1:
        raise ValueError(f"GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS must be ≥ 1, got {days}")
    return days
