"""Operations & maintenance (govcenter.ops): the SLA clocks of the O&M contract."""

from __future__ import annotations

import re

from .env import ConfigError, env_int, env_list, env_str

# A fault reported on a non-working day must be resolved before the next working day begins:
# at this local time (HH:MM) of the next working day on China's calendar (调休 included).
GOVCENTER_OPS_WORKDAY_START = env_str("GOVCENTER_OPS_WORKDAY_START", "09:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", GOVCENTER_OPS_WORKDAY_START):
    raise ConfigError("GOVCENTER_OPS_WORKDAY_START must be HH:MM (00:00–23:59)")
# A fault longer than this (its clock, pauses excluded) is a breach of the contract.
GOVCENTER_OPS_BREACH_HOURS = env_int("GOVCENTER_OPS_BREACH_HOURS", 12)
if GOVCENTER_OPS_BREACH_HOURS <= 0:
    raise ConfigError("GOVCENTER_OPS_BREACH_HOURS must be a positive number of hours")

# CMDB: the unit that maintains the contract's inventory (`govcenter ops cmdb seed-inventory`).
GOVCENTER_OPS_CMDB_UNIT = env_str("GOVCENTER_OPS_CMDB_UNIT", "OM-ZHITONG")
# Licence / certificate expiry alerts: days before expiry, comma-separated (an incident per threshold).
try:
    GOVCENTER_OPS_CMDB_EXPIRY_DAYS = sorted({int(d) for d in env_list("GOVCENTER_OPS_CMDB_EXPIRY_DAYS", ["60", "30", "7"])},
                                            reverse=True)  # fmt: skip
except ValueError:
    raise ConfigError("GOVCENTER_OPS_CMDB_EXPIRY_DAYS must be comma-separated whole numbers of days") from None
if not GOVCENTER_OPS_CMDB_EXPIRY_DAYS or min(GOVCENTER_OPS_CMDB_EXPIRY_DAYS) <= 0:
    raise ConfigError("GOVCENTER_OPS_CMDB_EXPIRY_DAYS must be positive numbers of days")
