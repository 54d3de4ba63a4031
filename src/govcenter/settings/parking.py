"""Road parking: device ingest, monitoring and the MQTT transport (docs/configuration.md, "Parking")."""

from __future__ import annotations

from .env import ConfigError, env_bool, env_int, env_str

# A device is marked offline after this many minutes without any accepted event.
GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES = env_int("GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES", 10)
# Most events in one ingest batch (HTTP body or MQTT message); a larger batch is refused whole.
GOVCENTER_PARKING_MAX_BATCH = env_int("GOVCENTER_PARKING_MAX_BATCH", 1000)
# How far in the future an event_time may be (device clock skew) before it is refused.
GOVCENTER_PARKING_EVENT_FUTURE_SKEW_SECONDS = env_int("GOVCENTER_PARKING_EVENT_FUTURE_SKEW_SECONDS", 120)
# How old an event may be when it arrives (devices buffer while offline) before it is refused.
GOVCENTER_PARKING_EVENT_MAX_AGE_HOURS = env_int("GOVCENTER_PARKING_EVENT_MAX_AGE_HOURS", 72)
# Signed requests: allowed clock difference of X-Timestamp, and how long a nonce is remembered.
GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS = env_int("GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS", 300)
# MQTT broker of the device transport (mqtt://host:port, mqtts:// for TLS).
GOVCENTER_MQTT_URL = env_str("GOVCENTER_MQTT_URL", "mqtt://127.0.0.1:1883")
GOVCENTER_MQTT_TOPIC_PREFIX = env_str("GOVCENTER_MQTT_TOPIC_PREFIX", "govcenter/parking/devices")

# Citizen app: token lifetime, plates per account, how long a plate transfer waits.
GOVCENTER_PARKING_CITIZEN_TOKEN_DAYS = env_int("GOVCENTER_PARKING_CITIZEN_TOKEN_DAYS", 30)
GOVCENTER_PARKING_CITIZEN_MAX_PLATES = env_int("GOVCENTER_PARKING_CITIZEN_MAX_PLATES", 5)
GOVCENTER_PARKING_PLATE_TRANSFER_DAYS = env_int("GOVCENTER_PARKING_PLATE_TRANSFER_DAYS", 7)
# Anonymous price quotes (POST /api/v1/parking/quote) per source IP (DRF rate syntax).
GOVCENTER_PARKING_QUOTE_ANON_RATE = env_str("GOVCENTER_PARKING_QUOTE_ANON_RATE", "60/min")
# Bulk import limits (Excel/CSV of roads, segments, spaces, devices).
GOVCENTER_PARKING_IMPORT_MAX_BYTES = env_int("GOVCENTER_PARKING_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
GOVCENTER_PARKING_IMPORT_MAX_ROWS = env_int("GOVCENTER_PARKING_IMPORT_MAX_ROWS", 100_000)
# Payments: the provider (dotted path of a PaymentProvider class), the HMAC-SM3 key that signs
# its notifications (a secret: environment only; empty in DEBUG = derived from SECRET_KEY), whether
# the sandbox payer endpoint is open outside DEBUG, how long an unpaid payment holds its orders.
GOVCENTER_PARKING_PAYMENT_PROVIDER = env_str(
    "GOVCENTER_PARKING_PAYMENT_PROVIDER", "govcenter.parking.payments.sandbox.SandboxProvider"
)
GOVCENTER_PARKING_PAYMENT_NOTIFY_KEY = env_str("GOVCENTER_PARKING_PAYMENT_NOTIFY_KEY", "")
GOVCENTER_PARKING_PAYMENT_SANDBOX = env_bool("GOVCENTER_PARKING_PAYMENT_SANDBOX", False)
GOVCENTER_PARKING_PAYMENT_EXPIRE_MINUTES = env_int("GOVCENTER_PARKING_PAYMENT_EXPIRE_MINUTES", 30)
# Pay by plate without login (临时代缴): look-ups and payments per source IP (DRF rate syntax).
GOVCENTER_PARKING_PUBLIC_PAY_RATE = env_str("GOVCENTER_PARKING_PUBLIC_PAY_RATE", "30/min")

for _name in (
    "GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES",
    "GOVCENTER_PARKING_MAX_BATCH",
    "GOVCENTER_PARKING_SIGNATURE_WINDOW_SECONDS",
    "GOVCENTER_PARKING_EVENT_MAX_AGE_HOURS",
    "GOVCENTER_PARKING_CITIZEN_TOKEN_DAYS",
    "GOVCENTER_PARKING_CITIZEN_MAX_PLATES",
    "GOVCENTER_PARKING_PLATE_TRANSFER_DAYS",
    "GOVCENTER_PARKING_IMPORT_MAX_BYTES",
    "GOVCENTER_PARKING_IMPORT_MAX_ROWS",
    "GOVCENTER_PARKING_PAYMENT_EXPIRE_MINUTES",
):
    if globals()[_name] <= 0:
        raise ConfigError(f"{_name} must be a positive integer")
if not GOVCENTER_MQTT_URL.startswith(("mqtt://", "mqtts://")):
    raise ConfigError(f"GOVCENTER_MQTT_URL={GOVCENTER_MQTT_URL!r}: use mqtt://host:port or mqtts://host:port")
