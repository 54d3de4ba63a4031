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
# Where the bytes live: "local" (files under GOVCENTER_ATTACHMENT_DIR) or "s3" (a bucket of an
# S3-compatible object store, keys <prefix><SM3 hex>). The access key and secret are never
# settings: boto3 reads them itself (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
# environment, or its other credential sources). An empty endpoint URL means AWS itself.
GOVCENTER_ATTACHMENT_STORAGE = env_str("GOVCENTER_ATTACHMENT_STORAGE", "local")
GOVCENTER_ATTACHMENT_S3_BUCKET = env_str("GOVCENTER_ATTACHMENT_S3_BUCKET", "")
GOVCENTER_ATTACHMENT_S3_PREFIX = env_str("GOVCENTER_ATTACHMENT_S3_PREFIX", "attachments/")
GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL = env_str("GOVCENTER_ATTACHMENT_S3_ENDPOINT_URL", "")
GOVCENTER_ATTACHMENT_S3_REGION = env_str("GOVCENTER_ATTACHMENT_S3_REGION", "")
# "auto" (boto3 decides), "path" (most self-hosted stores: MinIO, Ceph) or "virtual".
GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE = env_str("GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE", "auto")
# Connect / read timeout of one request and the attempts per call before the storage is
# reported unavailable (503 storage_unavailable).
GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS = env_int("GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS", 10)
GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS = env_int("GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS", 3)
if GOVCENTER_ATTACHMENT_STORAGE not in {"local", "s3"}:
    raise ConfigError(f"GOVCENTER_ATTACHMENT_STORAGE={GOVCENTER_ATTACHMENT_STORAGE!r}: use local or s3")
if GOVCENTER_ATTACHMENT_STORAGE == "s3" and not GOVCENTER_ATTACHMENT_S3_BUCKET:
    raise ConfigError("GOVCENTER_ATTACHMENT_STORAGE=s3 needs GOVCENTER_ATTACHMENT_S3_BUCKET")
if GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE not in {"auto", "path", "virtual"}:
    raise ConfigError("GOVCENTER_ATTACHMENT_S3_ADDRESSING_STYLE: use auto, path or virtual")
if GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS <= 0 or GOVCENTER_ATTACHMENT_S3_MAX_ATTEMPTS <= 0:
    raise ConfigError("GOVCENTER_ATTACHMENT_S3_TIMEOUT_SECONDS and _MAX_ATTEMPTS must be positive integers")

# Congestion relief (govcenter.congestion): working days a lead unit has to answer a suggestion.
GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS = env_int("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS", 15)
if GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_SUGGESTION_WORKDAYS must be a positive integer")
# The public suggestion form (no login): submissions per source address (DRF rate syntax).
GOVCENTER_CONGESTION_PUBLIC_RATE = env_str("GOVCENTER_CONGESTION_PUBLIC_RATE", "10/hour")

# Congestion relief, across the subsystems: no second urging notice (催办) to the same unit for
# the same case within this many hours; the largest Excel export of a list.
GOVCENTER_CONGESTION_URGE_MIN_HOURS = env_int("GOVCENTER_CONGESTION_URGE_MIN_HOURS", 24)
GOVCENTER_CONGESTION_EXPORT_MAX_ROWS = env_int("GOVCENTER_CONGESTION_EXPORT_MAX_ROWS", 50_000)
if GOVCENTER_CONGESTION_URGE_MIN_HOURS < 0 or GOVCENTER_CONGESTION_EXPORT_MAX_ROWS <= 0:
    raise ConfigError("GOVCENTER_CONGESTION_URGE_MIN_HOURS must be ≥ 0 and _EXPORT_MAX_ROWS positive")
