"""Bike-share supervision (docs/configuration.md, "Bike-share")."""

from __future__ import annotations

from .base import GOVCENTER_VAR_DIR
from .env import env_bool, env_int, env_list, env_str

# Signed operator requests: the X-Timestamp window (seconds either side of the server clock);
# a nonce is remembered for twice this long.
GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS = env_int("GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS", 300)

# MDS Agency ingest (services/ingest.py): how far ahead of / behind the server clock a record's
# time may be, how many records go into one stream message, and the streams' name prefix.
GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS = env_int("GOVCENTER_BIKESHARE_INGEST_MAX_SKEW_SECONDS", 300)
GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS = env_int("GOVCENTER_BIKESHARE_INGEST_MAX_AGE_SECONDS", 7 * 86400)
GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS = env_int("GOVCENTER_BIKESHARE_INGEST_MESSAGE_RECORDS", 500)
GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX = env_str("GOVCENTER_BIKESHARE_INGEST_STREAM_PREFIX", "bikeshare")
# The consumer (bikeshare/consumer.py) writes a micro-batch of at most MAX_MESSAGES stream
# messages to the lake; a batch short of MIN_MESSAGES waits up to LINGER_MS for more, so a
# steady stream of API requests becomes fewer, larger lake writes (each write has a fixed cost).
GOVCENTER_BIKESHARE_CONSUMER_MAX_MESSAGES = env_int("GOVCENTER_BIKESHARE_CONSUMER_MAX_MESSAGES", 200)
GOVCENTER_BIKESHARE_CONSUMER_MIN_MESSAGES = env_int("GOVCENTER_BIKESHARE_CONSUMER_MIN_MESSAGES", 100)
GOVCENTER_BIKESHARE_CONSUMER_LINGER_MS = env_int("GOVCENTER_BIKESHARE_CONSUMER_LINGER_MS", 500)
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

# 派单 (work orders to operators): response deadline in hours per kind, generation limits.
GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS = {
    "outside_fence": env_int("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS_OUTSIDE_FENCE", 2),
    "accumulation": env_int("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS_ACCUMULATION", 2),
    "over_quota": env_int("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS_OVER_QUOTA", 24),
    "scan_violation": env_int("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS_SCAN_VIOLATION", 24),
    "manual": env_int("GOVCENTER_BIKESHARE_WORKORDER_DUE_HOURS_MANUAL", 24),
}
# Periodic generation of orders from current violations (task bikeshare.workorders_generate).
GOVCENTER_BIKESHARE_WORKORDER_AUTO = env_bool("GOVCENTER_BIKESHARE_WORKORDER_AUTO", True)
# Vehicles listed per outside-fence order; outside-fence bikes read per operator per run.
GOVCENTER_BIKESHARE_WORKORDER_MAX_VEHICLES = env_int("GOVCENTER_BIKESHARE_WORKORDER_MAX_VEHICLES", 50)
GOVCENTER_BIKESHARE_WORKORDER_SCAN_LIMIT = env_int("GOVCENTER_BIKESHARE_WORKORDER_SCAN_LIMIT", 20_000)
# A station accumulation order: net inflow per peak hour at least this, and at least this many
# of the operator's parked bikes near the station.
GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_THRESHOLD = env_int(
    "GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_THRESHOLD", 30
)
GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_MIN_BIKES = env_int(
    "GOVCENTER_BIKESHARE_WORKORDER_ACCUMULATION_MIN_BIKES", 10
)
