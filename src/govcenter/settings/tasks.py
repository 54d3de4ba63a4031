"""Background and periodic jobs with Huey (docs/decisions/0001-task-queue.md).

Embedded default: SqliteHuey in ``var/`` (no server). Scale-out: RedisHuey, selected by
pointing ``GOVCENTER_TASKS_URL`` at Redis. The task code is the same in both.
"""

from __future__ import annotations

from .base import GOVCENTER_VAR_DIR
from .env import ConfigError, env_bool, env_int, env_str

GOVCENTER_TASKS_URL = env_str("GOVCENTER_TASKS_URL", f"sqlite:///{GOVCENTER_VAR_DIR / 'tasks.sqlite3'}")
_immediate = env_bool("GOVCENTER_TASKS_IMMEDIATE", False)
_workers = env_int("GOVCENTER_TASKS_WORKERS", 2)

if GOVCENTER_TASKS_URL.startswith(("redis://", "rediss://", "unix://")):
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "govcenter",
        "url": GOVCENTER_TASKS_URL,
        "immediate": _immediate,
        "consumer": {"workers": _workers, "worker_type": "thread"},
    }
elif GOVCENTER_TASKS_URL.startswith("sqlite:///"):
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "govcenter",
        "filename": GOVCENTER_TASKS_URL.removeprefix("sqlite:///"),
        "immediate": _immediate,
        "consumer": {"workers": _workers, "worker_type": "thread"},
    }
else:
    raise ConfigError(f"GOVCENTER_TASKS_URL={GOVCENTER_TASKS_URL!r}: use sqlite:///path or redis://host:port/db")
