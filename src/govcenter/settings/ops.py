"""Operations & maintenance (govcenter.ops): the SLA clocks of the O&M contract."""

from __future__ import annotations

import re

from .env import ConfigError, env_int, env_str

# A fault reported on a non-working day must be resolved before the next working day begins:
# at this local time (HH:MM) of the next working day on China's calendar (调休 included).
GOVCENTER_OPS_WORKDAY_START = env_str("GOVCENTER_OPS_WORKDAY_START", "09:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", GOVCENTER_OPS_WORKDAY_START):
    raise ConfigError("GOVCENTER_OPS_WORKDAY_START must be HH:MM (00:00–23:59)")
# A fault longer than this (its clock, pauses excluded) is a breach of the contract.
GOVCENTER_OPS_BREACH_HOURS = env_int("GOVCENTER_OPS_BREACH_HOURS", 12)
if GOVCENTER_OPS_BREACH_HOURS <= 0:
    raise ConfigError("GOVCENTER_OPS_BREACH_HOURS must be a positive number of hours")
# Duty roster: the rest an engineer on site gets after a night shift before the next on-site
# shift (hours).
GOVCENTER_OPS_DUTY_REST_HOURS = env_int("GOVCENTER_OPS_DUTY_REST_HOURS", 24)
if not 0 <= GOVCENTER_OPS_DUTY_REST_HOURS <= 72:
    raise ConfigError("GOVCENTER_OPS_DUTY_REST_HOURS must be 0–72 hours")
