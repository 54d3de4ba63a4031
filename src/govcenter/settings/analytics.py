"""Analytics: the Stream port and the lake (docs/configuration.md, "Analytics")."""

from __future__ import annotations

from pathlib import Path

from .base import GOVCENTER_VAR_DIR
from .env import env_int, env_str

# Where bike-share records flow between the API and the consumers. ``spool://<dir>`` (the
# embedded default: fsync'd local segment files), ``redis://…`` (Redis Streams consumer
# groups) or ``nats://…`` (NATS JetStream durable consumers).
GOVCENTER_STREAM_URL = env_str("GOVCENTER_STREAM_URL", f"spool://{GOVCENTER_VAR_DIR / 'stream'}")

# The Parquet lake (analytics.lake): <dir>/<dataset>/date=YYYY-MM-DD/operator=<code>/part-*.parquet
GOVCENTER_LAKE_DIR = Path(env_str("GOVCENTER_LAKE_DIR", str(GOVCENTER_VAR_DIR / "lake")))
# 系统瘦身: Beijing dates of raw bike-share telemetry kept before hourly downsampling (≥ 1).
GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS = env_int("GOVCENTER_BIKESHARE_RAW_TELEMETRY_DAYS", 90)
