"""Reading configuration from the environment, the only source of settings.

Every setting of govcenter comes from a ``GOVCENTER_*`` environment variable with a
documented default (docs/configuration.md). Helpers here parse and validate them so a
typo fails at start-up with a one-line reason instead of surfacing later.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(Exception):
    """A configuration value is missing, malformed or insecure (one-line message)."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def generated_secret(path: Path) -> str:
    """The embedded default secret: generated once under ``var/`` and reused.

    Only used when DEBUG is on; production refuses to start without
    ``GOVCENTER_SECRET_KEY`` (secrets come only from the environment).
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def env_json(name: str, default):
    """A JSON value (object, list, number); ``default`` when unset or blank."""
    import json

    raw = env_str(name, "")
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} is not valid JSON") from None
