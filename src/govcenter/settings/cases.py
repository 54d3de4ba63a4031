"""Case machinery shared by the apps (docs/decisions/0006-case-machinery.md): deadline warnings."""

from __future__ import annotations

from .env import ConfigError, env_int

# Deadline warning colours (core/deadlines.py): blue when this few working days are left;
# yellow when behind schedule — the share of working time used exceeds the reported progress
# by more than BEHIND_MARGIN_PCT points (or a planned milestone slipped); red when overdue.
GOVCENTER_DEADLINE_NEAR_WORKDAYS = env_int("GOVCENTER_DEADLINE_NEAR_WORKDAYS", 3)
GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT = env_int("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT", 20)
if GOVCENTER_DEADLINE_NEAR_WORKDAYS < 0:
    raise ConfigError("GOVCENTER_DEADLINE_NEAR_WORKDAYS must be 0 or more")
if not 0 <= GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT <= 100:
    raise ConfigError("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT must be a percentage, 0–100")
