"""Structured JSON logs on stdout, each line carrying the request id."""

from __future__ import annotations

from .env import env_str

GOVCENTER_LOG_LEVEL = env_str("GOVCENTER_LOG_LEVEL", "INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "govcenter.core.context.RequestContextLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request"]}},
    "root": {"handlers": ["stdout"], "level": GOVCENTER_LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "huey": {"level": "INFO"},
    },
}
