"""Case machinery shared by the apps (docs/decisions/0006-case-machinery.md): deadline warnings."""

from __future__ import annotations

from .base import MEDIA_ROOT
from .env import ConfigError, env_int, env_list, env_str

# Deadline warning colours (core/deadlines.py): blue when this few working days are left;
# yellow when behind schedule — the share of working time used exceeds the reported progress
# by more than BEHIND_MARGIN_PCT points (or a planned milestone slipped); red when overdue.
GOVCENTER_DEADLINE_NEAR_WORKDAYS = env_int("GOVCENTER_DEADLINE_NEAR_WORKDAYS", 3)
GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT = env_int("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT", 20)
if GOVCENTER_DEADLINE_NEAR_WORKDAYS < 0:
    raise ConfigError("GOVCENTER_DEADLINE_NEAR_WORKDAYS must be 0 or more")
if not 0 <= GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT <= 100:
    raise ConfigError("GOVCENTER_DEADLINE_BEHIND_MARGIN_PCT must be a percentage, 0–100")

# Attachments (core/attachments.py): where the bytes live, the largest file, the kinds allowed
# (by their content, not their name): pdf, docx, xlsx, png, jpeg, txt.
GOVCENTER_ATTACHMENT_DIR = env_str("GOVCENTER_ATTACHMENT_DIR", str(MEDIA_ROOT / "attachments"))
GOVCENTER_ATTACHMENT_MAX_BYTES = env_int("GOVCENTER_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
GOVCENTER_ATTACHMENT_KINDS = env_list("GOVCENTER_ATTACHMENT_KINDS", ["pdf", "docx", "xlsx", "png", "jpeg", "txt"])
if GOVCENTER_ATTACHMENT_MAX_BYTES <= 0:
    raise ConfigError("GOVCENTER_ATTACHMENT_MAX_BYTES must be a positive integer")

# Congestion relief (govcenter.congestion): working days a lead unit has to answer a suggestion.
GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS = env_int("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS", 15)
if GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS must be a positive integer")
# The public suggestion form (no login): submissions per source address (DRF rate syntax).
GOVCENTER_CONGESTION_PUBLIC_RATE = env_str("GOVCENTER_CONGESTION_PUBLIC_RATE", "10/hour")
