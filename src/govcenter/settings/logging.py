"""Observability: structured JSON logs on stderr (each line with the request id), metrics access.

stderr, not stdout: command output (`govcenter token create` prints a token, `calendar
is-workday` prints true/false) must stay clean for scripts; process managers collect both.
"""

from __future__ import annotations

from .env import env_str

GOVCENTER_LOG_LEVEL = env_str("GOVCENTER_LOG_LEVEL", "INFO").upper()
# /metrics answers loopback callers, and anyone presenting this bearer token (when set).
GOVCENTER_METRICS_TOKEN = env_str("GOVCENTER_METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "govcenter.core.context.RequestContextLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            # ISO 8601 in UTC with microseconds, under the key "time".
            "timestamp": "time",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": GOVCENTER_LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # run_huey adds its own plain-text handler unless the logger already has one.
        "huey": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "waitress": {"level": "INFO"},
        # Font subsetting (PDF and chart rendering of the reports) logs every table it prunes.
        "fontTools": {"level": "WARNING"},
    },
}
