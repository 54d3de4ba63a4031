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
# Sandbox provider: how many times it delivers a payment notification our callback does not
# acknowledge, and the first retry delay in seconds (doubled after each failed attempt).
GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS = env_int("GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS", 8)
GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS = env_int("GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS", 15)

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
    "GOVCENTER_PARKING_SANDBOX_NOTIFY_ATTEMPTS",
    "GOVCENTER_PARKING_SANDBOX_NOTIFY_BACKOFF_SECONDS",
):
    if globals()[_name] <= 0:
        raise ConfigError(f"{_name} must be a positive integer")
# Complaints and appeals (投诉/申诉): the reply deadline in working days of China's calendar
# (调休 included) after the day a complaint is received; "near" colour when this few are left.
GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS = env_int("GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS", 5)
GOVCENTER_PARKING_COMPLAINT_NEAR_WORKDAYS = env_int("GOVCENTER_PARKING_COMPLAINT_NEAR_WORKDAYS", 1)
if GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS <= 0 or GOVCENTER_PARKING_COMPLAINT_NEAR_WORKDAYS < 0:
    raise ConfigError("GOVCENTER_PARKING_COMPLAINT_DEADLINE_WORKDAYS must be > 0, _NEAR_WORKDAYS >= 0")
if not GOVCENTER_MQTT_URL.startswith(("mqtt://", "mqtts://")):
    raise ConfigError(f"GOVCENTER_MQTT_URL={GOVCENTER_MQTT_URL!r}: use mqtt://host:port or mqtts://host:port")

# Residential permits (居住停车认证, services/permits.py): segments per permit, longest period
# applied for at once, days before the end when the SMS reminder goes out, and the default
# monthly fee in fen per area class (一类/二类/三类; the reviewer may set another per permit).
GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS = env_int("GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS", 3)
GOVCENTER_PARKING_PERMIT_MAX_MONTHS = env_int("GOVCENTER_PARKING_PERMIT_MAX_MONTHS", 12)
GOVCENTER_PARKING_PERMIT_REMINDER_DAYS = env_int("GOVCENTER_PARKING_PERMIT_REMINDER_DAYS", 15)
GOVCENTER_PARKING_PERMIT_MONTHLY_FEE_FEN = {
    1: env_int("GOVCENTER_PARKING_PERMIT_FEE_CLASS1_FEN", 15000),
    2: env_int("GOVCENTER_PARKING_PERMIT_FEE_CLASS2_FEN", 10000),
    3: env_int("GOVCENTER_PARKING_PERMIT_FEE_CLASS3_FEN", 5000),
}
for _name in (
    "GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS",
    "GOVCENTER_PARKING_PERMIT_MAX_MONTHS",
    "GOVCENTER_PARKING_PERMIT_REMINDER_DAYS",
):
    if globals()[_name] <= 0:
        raise ConfigError(f"{_name} must be a positive integer")
if min(GOVCENTER_PARKING_PERMIT_MONTHLY_FEE_FEN.values()) < 0:
    raise ConfigError("GOVCENTER_PARKING_PERMIT_FEE_CLASS<n>_FEN must not be negative")

# Statistics (services/stats.py): how far back a stay may have started and still count in a
# day's occupancy (bounds the scan of the started_at index; longer stays are left out).
GOVCENTER_PARKING_STATS_MAX_STAY_DAYS = env_int("GOVCENTER_PARKING_STATS_MAX_STAY_DAYS", 7)
if GOVCENTER_PARKING_STATS_MAX_STAY_DAYS <= 0:
    raise ConfigError("GOVCENTER_PARKING_STATS_MAX_STAY_DAYS must be a positive integer")

# Arrears (services/arrears.py): an unpaid order is due this many days after the car left; SMS
# reminders on these days after leaving (before the due day); then a back-payment window with
# reminders on these days into it; still unpaid at its end → a penalty case. Arrears of at most
# PENALTY_EXEMPT_FEN paid inside the window are not penalised (larger ones are, even when paid);
# the fine of a case (违法停车, 200 元 in Beijing practice) is recorded on it.
GOVCENTER_PARKING_ARREARS_DUE_DAYS = env_int("GOVCENTER_PARKING_ARREARS_DUE_DAYS", 30)
GOVCENTER_PARKING_BACKPAY_DAYS = env_int("GOVCENTER_PARKING_BACKPAY_DAYS", 45)
GOVCENTER_PARKING_PENALTY_EXEMPT_FEN = env_int("GOVCENTER_PARKING_PENALTY_EXEMPT_FEN", 5000)
GOVCENTER_PARKING_PENALTY_FINE_FEN = env_int("GOVCENTER_PARKING_PENALTY_FINE_FEN", 20000)


def _reminder_days(name: str, default: str, limit: int) -> tuple[int, ...]:
    """A comma-separated list of distinct whole days in 1..limit-1, sorted."""
    raw = env_str(name, default)
    try:
        days = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: use comma-separated whole days, e.g. {default!r}") from None
    if any(not 0 < day < limit for day in days):
        raise ConfigError(f"{name}={raw!r}: each day must be between 1 and {limit - 1}")
    return days


for _name in ("GOVCENTER_PARKING_ARREARS_DUE_DAYS", "GOVCENTER_PARKING_BACKPAY_DAYS"):
    if globals()[_name] <= 0:
        raise ConfigError(f"{_name} must be a positive integer")
for _name in ("GOVCENTER_PARKING_PENALTY_EXEMPT_FEN", "GOVCENTER_PARKING_PENALTY_FINE_FEN"):
    if globals()[_name] < 0:
        raise ConfigError(f"{_name} must be an amount in fen (0 or more)")
GOVCENTER_PARKING_ARREARS_REMINDER_DAYS = _reminder_days(
    "GOVCENTER_PARKING_ARREARS_REMINDER_DAYS", "1,7,20,29", GOVCENTER_PARKING_ARREARS_DUE_DAYS
)
GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS = _reminder_days(
    "GOVCENTER_PARKING_BACKPAY_REMINDER_DAYS", "1,15,30,44", GOVCENTER_PARKING_BACKPAY_DAYS
)

# Receipts (电子收费票据): the number prefix before "<district code>-<year>-", and public verify
# look-ups (GET /api/v1/parking/receipts/{number}/verify) per source IP (DRF rate syntax).
GOVCENTER_PARKING_RECEIPT_PREFIX = env_str("GOVCENTER_PARKING_RECEIPT_PREFIX", "京停")
GOVCENTER_PARKING_RECEIPT_VERIFY_RATE = env_str("GOVCENTER_PARKING_RECEIPT_VERIFY_RATE", "30/min")
if not 1 <= len(GOVCENTER_PARKING_RECEIPT_PREFIX) <= 12 or "/" in GOVCENTER_PARKING_RECEIPT_PREFIX:
    raise ConfigError("GOVCENTER_PARKING_RECEIPT_PREFIX: 1–12 characters, no '/'")
# The query builder (statistic 10): a page/API query is interrupted after this many seconds
# (→ 503 query_timeout with the offer of a background export); a background export after the second.
GOVCENTER_PARKING_QUERY_TIMEOUT_S = env_int("GOVCENTER_PARKING_QUERY_TIMEOUT_S", 20)
GOVCENTER_PARKING_QUERY_EXPORT_TIMEOUT_S = env_int("GOVCENTER_PARKING_QUERY_EXPORT_TIMEOUT_S", 600)
if GOVCENTER_PARKING_QUERY_TIMEOUT_S <= 0 or GOVCENTER_PARKING_QUERY_EXPORT_TIMEOUT_S <= 0:
    raise ConfigError("GOVCENTER_PARKING_QUERY_TIMEOUT_S / _EXPORT_TIMEOUT_S: positive seconds")
