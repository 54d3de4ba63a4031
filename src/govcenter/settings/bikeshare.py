"""Bike-share supervision (docs/configuration.md, "Bike-share")."""

from __future__ import annotations

from .base import GOVCENTER_VAR_DIR
from .env import env_int, env_list, env_str

# Signed operator requests: the X-Timestamp window (seconds either side of the server clock);
# a nonce is remembered for twice this long.
GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS = env_int("GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS", 300)

# MDS Agency ingest (services/ingest.py): how far ahead of / behind the server clock a record's
# time may be, how many records go into one stream message, and the streams' name prefix.
GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS = env_int("GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS", 300)
GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS = env_int("GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS", 7 * 86400)
GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS = env_int("GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS", 500)
GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX = env_str("GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX", "bikeshare")
# The telemetry fast path (services/ingest_fast.py) keeps each operator's registered device ids
# in memory for this long (also dropped when a Vehicle is saved in this process).
GOVCENTER_BIKESHARE_INGEST_VEHICLE_CACHE_SECONDS = env_int("GOVCENTER_BIKESHARE_INGEST_VEHICLE_CACHE_SECONDS", 30)
# A trip longer, farther or faster than this is refused as implausible (trip_implausible).
GOVCENTER_BIKESHARE_TRIP_MAX_DURATION_SECONDS = env_int("GOVCENTER_BIKESHARE_TRIP_MAX_DURATION_SECONDS", 86400)
GOVCENTER_BIKESHARE_TRIP_MAX_DISTANCE_M = env_int("GOVCENTER_BIKESHARE_TRIP_MAX_DISTANCE_M", 100_000)
GOVCENTER_BIKESHARE_TRIP_MAX_SPEED_KMH = env_int("GOVCENTER_BIKESHARE_TRIP_MAX_SPEED_KMH", 45)

# The live picture of the fleet (bikeshare.live): sqlite:///abs/path.db (embedded) or
# redis://host:port/db?prefix=… (at scale). Empty: the consumer writes the lake only.
GOVCENTER_BIKESHARE_LIVE_URL = env_str(
    "GOVCENTER_BIKESHARE_LIVE_URL", f"sqlite://{GOVCENTER_VAR_DIR / 'bikeshare-live.db'}"
)

# GBFS 3.0 feeds the platform publishes (system_information.feed_contact_email: where data
# consumers report problems with the feeds). Set it to the Center's data desk.
GOVCENTER_BIKESHARE_GBFS_CONTACT_EMAIL = env_str("GOVCENTER_BIKESHARE_GBFS_CONTACT_EMAIL", "gbfs@govcenter.localhost")

# Pulling operators' MDS Provider APIs and GBFS feeds (bikeshare/pull.py; task
# bikeshare.pull_operators every 5 minutes). Bearer tokens per operator unit code, from the
# environment only: "OP-MEITUAN=token,OP-HELLO=token".
GOVCENTER_BIKESHARE_PULL_TOKENS = dict(
    item.split("=", 1) for item in env_list("GOVCENTER_BIKESHARE_PULL_TOKENS", []) if "=" in item
)
GOVCENTER_BIKESHARE_PULL_STATE_FILE = env_str(
    "GOVCENTER_BIKESHARE_PULL_STATE_FILE", str(GOVCENTER_VAR_DIR / "bikeshare-pull-state.json")
)
GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS = env_int("GOVCENTER_BIKESHARE_PULL_TIMEOUT_SECONDS", 30)
GOVCENTER_BIKESHARE_PULL_RETRIES = env_int("GOVCENTER_BIKESHARE_PULL_RETRIES", 3)
GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS = env_int("GOVCENTER_BIKESHARE_PULL_BACKOFF_SECONDS", 2)
GOVCENTER_BIKESHARE_PULL_FIRST_HOURS = env_int("GOVCENTER_BIKESHARE_PULL_FIRST_HOURS", 24)
GOVCENTER_BIKESHARE_PULL_MAX_HOURS = env_int("GOVCENTER_BIKESHARE_PULL_MAX_HOURS", 48)
GOVCENTER_BIKESHARE_PULL_KINDS = env_list("GOVCENTER_BIKESHARE_PULL_KINDS", ["trips", "events", "telemetry"])
