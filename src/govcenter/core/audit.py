"""The audit chain: the one place that writes history.

Every write and every reveal/export of personal data calls :func:`record` inside the
same transaction as the change. Each entry stores ``SM3(prev_hash ‖ canonical(entry))``
so editing, deleting, inserting or reordering rows breaks the chain, which
``govcenter audit verify`` detects.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection, models, transaction
from django.utils import timezone

from . import context
from .crypto import sm3_hex
from .models import AuditEntry

GENESIS_HASH = "0" * 64


def canonical(entry: AuditEntry) -> bytes:
    """The bytes that are hashed: every recorded field, in a fixed order and format."""
    payload = {
        "seq": entry.seq,
        "created_at": entry.created_at.astimezone(timezone.UTC).isoformat(timespec="microseconds"),
        "user_id": entry.user_id,
        "username": entry.username,
        "unit_id": entry.unit_id,
        "unit_name": entry.unit_name,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "channel": entry.channel,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "success": entry.success,
        "changes": entry.changes,
        "reason": entry.reason,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    return sm3_hex(prev_hash.encode() + canonical(entry))


def _lock_chain_head() -> AuditEntry | None:
    """The current head, locked so concurrent writers append one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            # One advisory lock for the chain; released at the end of the transaction.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x6A0D17])
    # SQLite: transaction_mode=IMMEDIATE already serialises writers.
    return AuditEntry.objects.order_by("-seq").first()


def _object_type(obj) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}" if isinstance(obj, models.Model) else ""


def record(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    changes: dict | None = None,
    reason: str = "",
    success: bool = True,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the chain, as the actor of the current request context.

    Call it inside the transaction of the change it records (it opens one if needed);
    ``changes`` is ``{"before": {...}, "after": {...}}`` for writes, or any JSON detail.
    """
    ctx = context.current()
    with transaction.atomic():
        head = _lock_chain_head()
        entry = AuditEntry(
            seq=(head.seq + 1) if head else 1,
            created_at=(at or timezone.now()),
            user_id=ctx.user_id,
            username=ctx.username,
            unit_id=ctx.unit_id,
            unit_name=ctx.unit_name[:100],
            ip=ctx.ip,
            request_id=ctx.request_id,
            channel=ctx.channel,
            action=action,
            object_type=object_type or _object_type(obj),
            object_id=str(object_id or (obj.pk if obj is not None else "")),
            object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
            success=success,
            changes=json.loads(json.dumps(changes or {}, default=str)),
            reason=reason,
            prev_hash=head.hash if head else GENESIS_HASH,
        )
        entry.hash = chain_hash(entry.prev_hash, entry)
        entry.save(force_insert=True)
    return entry


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict:
    """A JSON-able picture of ``obj``'s concrete fields, for before/after diffs."""
    names = fields or [f.attname for f in obj._meta.concrete_fields if f.attname != "password"]
    return {name: getattr(obj, name) for name in names}


def diff(before: dict, after: dict) -> dict:
    """Only the keys whose values changed: ``{"before": {...}, "after": {...}}``."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}
