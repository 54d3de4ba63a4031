"""Database and cache: SQLite + local memory embedded, PostgreSQL + Redis at scale."""

from __future__ import annotations

import dj_database_url

from .base import GOVCENTER_VAR_DIR
from .env import ConfigError, env_int, env_str

DATABASE_URL = env_str("GOVCENTER_DATABASE_URL", f"sqlite:///{GOVCENTER_VAR_DIR / 'govcenter.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("GOVCENTER_DB_CONN_MAX_AGE", 60))
except ValueError as exc:
    raise ConfigError(f"GOVCENTER_DATABASE_URL is not a database URL: {exc}") from None

if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # WAL lets the web server and the task worker read while the other writes;
        # IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 10,
    }
    _db["TEST"] = {"NAME": None}
DATABASES = {"default": _db}

GOVCENTER_REDIS_URL = env_str("GOVCENTER_REDIS_URL", "")
if GOVCENTER_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": GOVCENTER_REDIS_URL,
            "KEY_PREFIX": env_str("GOVCENTER_CACHE_PREFIX", "govcenter"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "govcenter"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
