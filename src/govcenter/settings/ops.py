"""Operations & maintenance (govcenter.ops): the SLA clocks of the O&M contract."""

from __future__ import annotations

import re

from .base import DEBUG as _DEBUG
from .base import GOVCENTER_VAR_DIR
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
# --- records: the contract & SLA ledger and the reports (govcenter.ops.ledger / .reports) ---
# Contract penalty and bond rates in basis points (1 % = 100) of the contract price; the
# defaults are the O&M contract's terms, not law — change them for another contract.
GOVCENTER_OPS_BOND_BP = env_int("GOVCENTER_OPS_BOND_BP", 1000)  # performance bond 10 %
GOVCENTER_OPS_LATE_BP_PER_DAY = env_int("GOVCENTER_OPS_LATE_BP_PER_DAY", 100)  # late service 1 %/day
GOVCENTER_OPS_LATE_CAP_BP = env_int("GOVCENTER_OPS_LATE_CAP_BP", 500)  # … at most 5 %
GOVCENTER_OPS_FAULT_BP = env_int("GOVCENTER_OPS_FAULT_BP", 100)  # each contractor fault > 12 h 1 %
GOVCENTER_OPS_FAULT_CAP_BP = env_int("GOVCENTER_OPS_FAULT_CAP_BP", 1000)  # … at most 10 %
GOVCENTER_OPS_QUALITY_BP = env_int("GOVCENTER_OPS_QUALITY_BP", 1000)  # quality-assessment shortfall 10 %
# Assessment score → grade: 优 ≥ first, 良 ≥ second, 合格 ≥ third, else 不合格 (a shortfall).
GOVCENTER_OPS_GRADE_THRESHOLDS = tuple(
    int(x) for x in env_str("GOVCENTER_OPS_GRADE_THRESHOLDS", "90,80,60").split(",")
)
if len(GOVCENTER_OPS_GRADE_THRESHOLDS) != 3 or list(GOVCENTER_OPS_GRADE_THRESHOLDS) != sorted(
    GOVCENTER_OPS_GRADE_THRESHOLDS, reverse=True
):
    raise ConfigError("GOVCENTER_OPS_GRADE_THRESHOLDS must be three descending scores, e.g. 90,80,60")
# The grades (excellent, good, pass, fail) of the final assessment with which the bond is
# returned (less the penalties); with any other grade it is withheld.
GOVCENTER_OPS_BOND_RETURN_GRADES = tuple(
    g.strip() for g in env_str("GOVCENTER_OPS_BOND_RETURN_GRADES", "excellent,good,pass").split(",") if g.strip()
)
# The sections of the monthly / quarterly report, in order: dotted paths of
# ``section(start, end) -> dict`` functions (an explicit list; an import error is an error).
GOVCENTER_OPS_REPORT_SECTIONS = tuple(
    s.strip()
    for s in env_str(
        "GOVCENTER_OPS_REPORT_SECTIONS",
        "govcenter.ops.monitoring.report.section,"
        "govcenter.ops.records.report.incidents_section,"
        "govcenter.ops.duty.report.section,"
        "govcenter.ops.records.report.worklogs_section,"
        "govcenter.ops.cmdb.report.section,"
        "govcenter.ops.backups.report.section,"
        "govcenter.ops.integrity.report.section,"
        "govcenter.ops.logaudit.report.section,"
        "govcenter.ops.records.report.trainings_section,"
        "govcenter.ops.records.report.ledger_section",
    ).split(",")
    if s.strip()
)
# ``govcenter ops demo``: the areas' ``load_demo(days=…)`` loaders, called in this order.
GOVCENTER_OPS_DEMO_LOADERS = tuple(
    s.strip()
    for s in env_str(
        "GOVCENTER_OPS_DEMO_LOADERS",
        "govcenter.ops.cmdb.demo.load_demo,"
        "govcenter.ops.monitoring.demo.load_demo,"
        "govcenter.ops.records.demo_incidents.load_demo,"
        "govcenter.ops.duty.demo.load_demo,"
        "govcenter.ops.records.demo.load_demo,"
        "govcenter.ops.backups.demo.load_demo,"
        "govcenter.ops.integrity.demo.load_demo",
    ).split(",")
    if s.strip()
)
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
# Duty roster: the rest an engineer on site gets after a night shift before the next on-site
# shift (hours).
GOVCENTER_OPS_DUTY_REST_HOURS = env_int("GOVCENTER_OPS_DUTY_REST_HOURS", 24)
if not 0 <= GOVCENTER_OPS_DUTY_REST_HOURS <= 72:
    raise ConfigError("GOVCENTER_OPS_DUTY_REST_HOURS must be 0–72 hours")
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

# --- Monitoring (govcenter.ops.monitoring) ------------------------------------------------------
# The Huey worker probes the due targets every minute (make run). A deployment runs
# `govcenter ops monitor` under its supervisor instead (drift-free, sub-minute intervals) and
# sets this to false: both at once would probe every target twice.
GOVCENTER_OPS_MONITOR_IN_WORKER = env_bool("GOVCENTER_OPS_MONITOR_IN_WORKER", _DEBUG)
# Raw probe results older than this many days are deleted daily; the hourly rollups behind
# uptime and the reports are kept.
GOVCENTER_OPS_PROBE_RETENTION_DAYS = env_int("GOVCENTER_OPS_PROBE_RETENTION_DAYS", 35)
if GOVCENTER_OPS_PROBE_RETENTION_DAYS < 1:
    raise ConfigError("GOVCENTER_OPS_PROBE_RETENTION_DAYS must be at least 1")
