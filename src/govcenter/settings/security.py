"""Security baseline (MLPS 2.0 level 3, application layer). Every limit is a setting."""

from __future__ import annotations

from .base import DEBUG, GOVCENTER_VAR_DIR
from .env import env_bool, env_int, env_str, generated_secret

INSECURE_SECRET_PREFIX = "django-insecure"
SECRET_KEY = env_str("GOVCENTER_SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = generated_secret(GOVCENTER_VAR_DIR / "secret.key")

# TLS terminates at nginx in production; these follow from one switch.
GOVCENTER_TLS = env_bool("GOVCENTER_TLS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("GOVCENTER_BEHIND_PROXY", False) else None
SECURE_SSL_REDIRECT = GOVCENTER_TLS and env_bool("GOVCENTER_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("GOVCENTER_HSTS_SECONDS", 31536000) if GOVCENTER_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = GOVCENTER_TLS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = GOVCENTER_TLS
CSRF_COOKIE_SECURE = GOVCENTER_TLS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = GOVCENTER_TLS

# Session idle timeout: the cookie age is renewed on every request.
GOVCENTER_SESSION_IDLE_MINUTES = env_int("GOVCENTER_SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = GOVCENTER_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Content-Security-Policy: no inline script anywhere, every asset from our own origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Passwords: ≥ 8 characters, 3 of 4 classes, last N not reusable, expiry for staff.
GOVCENTER_PASSWORD_MIN_LENGTH = env_int("GOVCENTER_PASSWORD_MIN_LENGTH", 8)
GOVCENTER_PASSWORD_MIN_CLASSES = env_int("GOVCENTER_PASSWORD_MIN_CLASSES", 3)
GOVCENTER_PASSWORD_HISTORY = env_int("GOVCENTER_PASSWORD_HISTORY", 5)
GOVCENTER_PASSWORD_MAX_AGE_DAYS = env_int("GOVCENTER_PASSWORD_MAX_AGE_DAYS", 90)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": GOVCENTER_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "govcenter.core.passwords.CharacterClassValidator"},
    {"NAME": "govcenter.core.passwords.PasswordHistoryValidator"},
    {"NAME": "govcenter.core.passwords.DefaultPasswordValidator"},
]

# Lockout: N failures within the window, per account and per source IP, then a cool-off.
GOVCENTER_LOCKOUT_THRESHOLD = env_int("GOVCENTER_LOCKOUT_THRESHOLD", 5)
GOVCENTER_LOCKOUT_WINDOW_MINUTES = env_int("GOVCENTER_LOCKOUT_WINDOW_MINUTES", 15)
GOVCENTER_LOCKOUT_COOLOFF_MINUTES = env_int("GOVCENTER_LOCKOUT_COOLOFF_MINUTES", 30)
GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS = env_int("GOVCENTER_ACCOUNT_IDLE_DISABLE_DAYS", 90)

# SMS one-time codes.
GOVCENTER_SMS_CODE_TTL_SECONDS = env_int("GOVCENTER_SMS_CODE_TTL_SECONDS", 300)
GOVCENTER_SMS_MIN_INTERVAL_SECONDS = env_int("GOVCENTER_SMS_MIN_INTERVAL_SECONDS", 60)
GOVCENTER_SMS_DAILY_LIMIT = env_int("GOVCENTER_SMS_DAILY_LIMIT", 10)
GOVCENTER_SMS_MAX_ATTEMPTS = env_int("GOVCENTER_SMS_MAX_ATTEMPTS", 5)
GOVCENTER_SMS_GATEWAY = env_str("GOVCENTER_SMS_GATEWAY", "govcenter.core.sms.OutboxGateway")

# Audit chain.
GOVCENTER_AUDIT_CHECKPOINT_EVERY = env_int("GOVCENTER_AUDIT_CHECKPOINT_EVERY", 1000)
GOVCENTER_AUDIT_RETENTION_DAYS = max(180, env_int("GOVCENTER_AUDIT_RETENTION_DAYS", 180))
# Public keys (PEM, separated by ";") of earlier system keys, still trusted for checkpoints
# signed before a key rotation. The current system key is always trusted.
GOVCENTER_AUDIT_TRUSTED_PUBLIC_KEYS = [
    k.strip() for k in env_str("GOVCENTER_AUDIT_TRUSTED_PUBLIC_KEYS", "").split(";") if k.strip()
]


def insecure_reasons(*, debug: bool, secret_key: str, allowed_hosts: list[str]) -> list[str]:
    """Why this configuration must not serve with DEBUG off (empty list: fine)."""
    if debug:
        return []
    reasons = []
    if not secret_key:
        reasons.append("GOVCENTER_SECRET_KEY is not set (secrets come only from the environment)")
    elif secret_key.startswith(INSECURE_SECRET_PREFIX) or len(secret_key) < 40 or len(set(secret_key)) < 10:
        reasons.append("GOVCENTER_SECRET_KEY is a default or weak value (use 50 random characters)")
    if not allowed_hosts or "*" in allowed_hosts:
        reasons.append("GOVCENTER_ALLOWED_HOSTS must list real host names, not a wildcard")
    return reasons
