"""Who is acting, from where, in which request: carried in contextvars.

The middleware sets it for web requests; CLI commands and tasks set it with
:func:`acting_as`. The audit chain and the structured logs read it, so services never
need a ``request`` argument to know their caller.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_id: int | None = None
    username: str = ""
    unit_id: int | None = None
    unit_name: str = ""
    ip: str | None = None
    channel: str = "system"  # web, api, cli, task, system


_current: ContextVar[RequestContext | None] = ContextVar("govcenter_request_context", default=None)


def current() -> RequestContext:
    """The active context; a fresh system context when none was set."""
    ctx = _current.get()
    if ctx is None:
        ctx = RequestContext()
        _current.set(ctx)
    return ctx


def set_context(ctx: RequestContext):
    return _current.set(ctx)


def reset_context(token) -> None:
    _current.reset(token)


def context_for_user(user, *, base: RequestContext | None = None, channel: str | None = None) -> RequestContext:
    """A copy of ``base`` (or the current context) that names ``user`` as the actor."""
    base = base or current()
    unit = getattr(user, "unit", None) if user is not None else None
    return RequestContext(
        request_id=base.request_id,
        user_id=getattr(user, "pk", None),
        username=getattr(user, "username", "") or "",
        unit_id=getattr(unit, "pk", None),
        unit_name=str(unit) if unit is not None else "",
        ip=base.ip,
        channel=channel or base.channel,
    )


@contextlib.contextmanager
def acting_as(user=None, *, channel: str = "cli", ip: str | None = None) -> Iterator[RequestContext]:
    """Run a block (CLI command, task) on behalf of ``user`` (None: the system)."""
    base = RequestContext(channel=channel, ip=ip)
    ctx = context_for_user(user, base=base, channel=channel) if user is not None else base
    token = set_context(ctx)
    try:
        yield ctx
    finally:
        reset_context(token)


class RequestContextLogFilter(logging.Filter):
    """Adds request_id and user_id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _current.get()
        record.request_id = ctx.request_id if ctx else None
        record.user_id = ctx.user_id if ctx else None
        return True
