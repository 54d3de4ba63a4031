"""Operations & maintenance (govcenter.ops): the SLA clocks of the O&M contract."""

from __future__ import annotations

import re

from .base import GOVCENTER_VAR_DIR
from .env import ConfigError, env_bool, env_int, env_str

# A fault reported on a non-working day must be resolved before the next working day begins:
# at this local time (HH:MM) of the next working day on China's calendar (调休 included).
GOVCENTER_OPS_WORKDAY_START = env_str("GOVCENTER_OPS_WORKDAY_START", "09:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", GOVCENTER_OPS_WORKDAY_START):
    raise ConfigError("GOVCENTER_OPS_WORKDAY_START must be HH:MM (00:00–23:59)")
# A fault longer than this (its clock, pauses excluded) is a breach of the contract.
GOVCENTER_OPS_BREACH_HOURS = env_int("GOVCENTER_OPS_BREACH_HOURS", 12)
if GOVCENTER_OPS_BREACH_HOURS <= 0:
    raise ConfigError("GOVCENTER_OPS_BREACH_HOURS must be a positive number of hours")

# Backups (ops.backups, docs/ops/backups.md). Files live under GOVCENTER_OPS_BACKUP_DIR; the
# SM4 key is 32 hex digits from the environment (DEBUG only: generated in var/ when unset).
GOVCENTER_OPS_BACKUP_DIR = env_str("GOVCENTER_OPS_BACKUP_DIR", str(GOVCENTER_VAR_DIR / "backups"))
GOVCENTER_OPS_BACKUP_KEY = env_str("GOVCENTER_OPS_BACKUP_KEY", "")
if GOVCENTER_OPS_BACKUP_KEY and not re.fullmatch(r"[0-9a-fA-F]{32}", GOVCENTER_OPS_BACKUP_KEY):
    raise ConfigError("GOVCENTER_OPS_BACKUP_KEY must be 32 hex digits (a 16-byte SM4 key)")
# Retention (grandfather-father-son): the newest good backup of each of the last N days, M ISO
# weeks and K months is kept; everything else older than GOVCENTER_OPS_BACKUP_KEEP_DAILY days goes.
GOVCENTER_OPS_BACKUP_KEEP_DAILY = env_int("GOVCENTER_OPS_BACKUP_KEEP_DAILY", 7)
GOVCENTER_OPS_BACKUP_KEEP_WEEKLY = env_int("GOVCENTER_OPS_BACKUP_KEEP_WEEKLY", 4)
GOVCENTER_OPS_BACKUP_KEEP_MONTHLY = env_int("GOVCENTER_OPS_BACKUP_KEEP_MONTHLY", 6)
if min(GOVCENTER_OPS_BACKUP_KEEP_DAILY, GOVCENTER_OPS_BACKUP_KEEP_WEEKLY, GOVCENTER_OPS_BACKUP_KEEP_MONTHLY) < 0 or (
    GOVCENTER_OPS_BACKUP_KEEP_DAILY < 1
):
    raise ConfigError("GOVCENTER_OPS_BACKUP_KEEP_DAILY must be ≥ 1 and KEEP_WEEKLY/KEEP_MONTHLY ≥ 0")
# Plaintext bytes per SM4-GCM chunk of a backup file (each chunk authenticated on its own).
GOVCENTER_OPS_BACKUP_CHUNK_KIB = env_int("GOVCENTER_OPS_BACKUP_CHUNK_KIB", 1024)
if not 1 <= GOVCENTER_OPS_BACKUP_CHUNK_KIB <= 65536:
    raise ConfigError("GOVCENTER_OPS_BACKUP_CHUNK_KIB must be 1–65536")
# Include the lake's Parquet files in the lake backup (default: only the manifest).
GOVCENTER_OPS_BACKUP_LAKE_DATA = env_bool("GOVCENTER_OPS_BACKUP_LAKE_DATA", False)
