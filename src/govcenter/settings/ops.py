"""Operations & maintenance (govcenter.ops): the SLA clocks of the O&M contract."""

from __future__ import annotations

import re

from .base import DEBUG as _DEBUG
from .env import ConfigError, env_bool, env_int, env_list, env_str
from .logging import LOGGING as _LOGGING

# A fault reported on a non-working day must be resolved before the next working day begins:
# at this local time (HH:MM) of the next working day on China's calendar (调休 included).
GOVCENTER_OPS_WORKDAY_START = env_str("GOVCENTER_OPS_WORKDAY_START", "09:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", GOVCENTER_OPS_WORKDAY_START):
    raise ConfigError("GOVCENTER_OPS_WORKDAY_START must be HH:MM (00:00–23:59)")
# A fault longer than this (its clock, pauses excluded) is a breach of the contract.
GOVCENTER_OPS_BREACH_HOURS = env_int("GOVCENTER_OPS_BREACH_HOURS", 12)
if GOVCENTER_OPS_BREACH_HOURS <= 0:
    raise ConfigError("GOVCENTER_OPS_BREACH_HOURS must be a positive number of hours")

# --- Web anti-tamper (govcenter.ops.integrity) -----------------------------------------------
# Minutes between two periodic integrity checks of the templates and static files (0: off).
# Off by default with DEBUG: on a developer's checkout the check would restore (undo) every
# template they edit since the last baseline.
GOVCENTER_OPS_INTEGRITY_INTERVAL = env_int("GOVCENTER_OPS_INTEGRITY_INTERVAL", 0 if _DEBUG else 15)
if GOVCENTER_OPS_INTEGRITY_INTERVAL < 0:
    raise ConfigError("GOVCENTER_OPS_INTEGRITY_INTERVAL must be 0 (off) or a positive number of minutes")
# The watched directories (comma-separated); empty: every templates/ and static/ folder of the
# installed govcenter apps, plus STATIC_ROOT when it exists.
GOVCENTER_OPS_INTEGRITY_DIRS = env_list("GOVCENTER_OPS_INTEGRITY_DIRS", [])
# Baseline store (pristine copies by SM3) and quarantine; empty: <var dir>/integrity.
GOVCENTER_OPS_INTEGRITY_STORE = env_str("GOVCENTER_OPS_INTEGRITY_STORE", "")
# A file that is not in the baseline is moved to the quarantine (and alerted) — or only alerted.
GOVCENTER_OPS_INTEGRITY_QUARANTINE_ADDED = env_bool("GOVCENTER_OPS_INTEGRITY_QUARANTINE_ADDED", True)
# The unit (code) the tamper incidents are opened for: the O&M contractor.
GOVCENTER_OPS_INTEGRITY_ALERT_UNIT = env_str("GOVCENTER_OPS_INTEGRITY_ALERT_UNIT", "OM-ZHITONG")

# --- Central log audit (govcenter.ops.logaudit) ----------------------------------------------
# Days application log records are kept; the law (网络安全法 第二十一条) asks for at least 180.
GOVCENTER_OPS_LOG_RETENTION_DAYS = env_int("GOVCENTER_OPS_LOG_RETENTION_DAYS", 180)
if GOVCENTER_OPS_LOG_RETENTION_DAYS < 180:
    raise ConfigError(
        f"GOVCENTER_OPS_LOG_RETENTION_DAYS={GOVCENTER_OPS_LOG_RETENTION_DAYS}: logs must be kept at least 180 days"
    )
# Collect this process's log records into the database (default: on in production, off with DEBUG,
# where stderr is enough and the test suite must not write from a background thread).
GOVCENTER_OPS_LOG_COLLECT = env_bool("GOVCENTER_OPS_LOG_COLLECT", not _DEBUG)
GOVCENTER_OPS_LOG_COLLECT_LEVEL = env_str("GOVCENTER_OPS_LOG_COLLECT_LEVEL", "WARNING").upper()
if GOVCENTER_OPS_LOG_COLLECT_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ConfigError("GOVCENTER_OPS_LOG_COLLECT_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
# The search page: the longest time range one search may cover, and the export cap (rows).
GOVCENTER_OPS_LOG_SEARCH_MAX_DAYS = env_int("GOVCENTER_OPS_LOG_SEARCH_MAX_DAYS", 31)
GOVCENTER_OPS_LOG_EXPORT_MAX_ROWS = env_int("GOVCENTER_OPS_LOG_EXPORT_MAX_ROWS", 50_000)

if GOVCENTER_OPS_LOG_COLLECT:
    # Batched into LogRecord from a queue by a background thread: never blocks the caller,
    # never recurses (see govcenter.ops.logaudit.handler).
    _LOGGING["handlers"]["central"] = {
        "()": "govcenter.ops.logaudit.handler.DatabaseLogHandler",
        "level": GOVCENTER_OPS_LOG_COLLECT_LEVEL,
        "filters": ["request"],
    }
    _LOGGING["root"]["handlers"].append("central")
    _LOGGING["loggers"]["huey"]["handlers"].append("central")
