"""The audit chain: the one place that writes history.

Every write and every reveal/export of personal data calls :func:`record` inside the
same transaction as the change. Each entry stores ``SM3(prev_hash ‖ canonical(entry))``
so editing, deleting, inserting or reordering rows breaks the chain, which
``govcenter audit verify`` (:func:`verify_chain`) detects.

Three layers protect the chain:

1. **Detection** (every database): the hash chain, plus checkpoints — every
   ``GOVCENTER_AUDIT_CHECKPOINT_EVERY`` entries (inside :func:`record`, same transaction)
   and daily (:func:`audit_checkpoint_daily`) the head ``(seq, hash)`` is signed with the
   system SM2 key. SM3 is public, so someone able to write the table could recompute the
   hashes after an edit; they cannot re-sign the checkpoints, and they cannot remove
   entries from the end of the chain that a checkpoint already names.
2. **Prevention** (database triggers, installed by migration ``0002_audit_chain`` and
   re-installed after every ``migrate`` if a table rebuild dropped them):

   * PostgreSQL: a PL/pgSQL trigger refuses UPDATE and DELETE on ``core_auditentry`` and
     ``core_auditcheckpoint``, and TRUNCATE always. DELETE passes only when the
     transaction-local setting ``govcenter.audit_purge`` is ``'on'`` (``SET LOCAL``, so it
     dies with the transaction) *and* the row is older than
     :data:`MIN_RETENTION_DAYS` by the database clock.
   * SQLite: triggers too (``RAISE(ABORT, …)``), with the same rule; SQLite has no
     session settings, so the escape is a one-row table (:class:`AuditPurgeGate`) that
     :func:`audit_purge` opens and closes inside its own write transaction. SQLite
     serialises writers and readers never see an uncommitted row, so no other
     connection can observe the gate open. We chose triggers on SQLite as well, although
     anyone with write access to the database file can drop them: the embedded default
     is what most installs run, and the triggers stop every accidental or casual edit
     through the application's own connections, ORM bulk updates and ad-hoc SQL shells.
     Against a deliberate attacker with file access, layer 1 still detects the change.
   The 180-day floor is written into the triggers (the law's minimum); a longer
   ``GOVCENTER_AUDIT_RETENTION_DAYS`` is enforced by :func:`audit_purge`.
3. **No UI path**: the audit UI and the Django admin only read.

After a legitimate purge the chain starts at the first kept entry, whose ``prev_hash``
is the hash of the last purged entry; a ``purge`` checkpoint signed at that seq anchors it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.validators import validate_ipv46_address
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models.signals import post_migrate
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import context, crypto
from .crypto import sm3_hex
from .models import AuditEntry
from .models.audit import AuditCheckpoint, AuditPurgeGate, CheckpointKind

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
MIN_RETENTION_DAYS = 180
"""Nothing younger can be purged, whatever the settings say (also written into the triggers)."""

VERIFY_BATCH = 5000
PURGE_BATCH = 10_000
_UTC = UTC


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------

# The columns verify streams, in this order: the canonical fields, then prev_hash and hash.
CANONICAL_FIELDS = (
    "seq",
    "created_at",
    "user_id",
    "username",
    "unit_id",
    "unit_name",
    "ip",
    "request_id",
    "channel",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "success",
    "changes",
    "reason",
)
ROW_FIELDS = (*CANONICAL_FIELDS, "prev_hash", "hash")

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode


def _canonical_values(values) -> bytes:
    """Canonical bytes from the 16 canonical values in :data:`CANONICAL_FIELDS` order
    (``created_at`` a datetime, or already the canonical UTC ISO string)."""
    payload = dict(zip(CANONICAL_FIELDS, values, strict=False))
    created = payload["created_at"]
    if not isinstance(created, str):
        payload["created_at"] = created.astimezone(_UTC).isoformat(timespec="microseconds")
    return _dumps(payload).encode()


def canonical(entry: AuditEntry) -> bytes:
    """The bytes that are hashed: every recorded field, in a fixed order and format."""
    return _canonical_values([getattr(entry, name) for name in CANONICAL_FIELDS])


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    return sm3_hex(prev_hash.encode() + canonical(entry))


def _row_hash(row: tuple, seq: int | None = None) -> str:
    """Hash of a streamed row (ROW_FIELDS order), optionally as if it had another ``seq``."""
    values = row[:16] if seq is None else (seq, *row[1:16])
    return sm3_hex(row[16].encode() + _canonical_values(values))


def _lock_chain_head() -> tuple[int, str] | None:
    """The current head ``(seq, hash)``, locked so concurrent writers append one at a time."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One advisory lock for the chain; released at the end of the transaction.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x6A0D17])
        # SQLite: transaction_mode=IMMEDIATE already serialises writers.
        # Plain SQL: this runs once per audited change, and the ORM's query compilation would
        # cost more than the indexed look-up itself.
        cur.execute("SELECT seq, hash FROM core_auditentry ORDER BY seq DESC LIMIT 1")
        row = cur.fetchone()
    return (row[0], row[1]) if row else None


def _object_type(obj) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}" if isinstance(obj, models.Model) else ""


def _normalise_ip(ip: str | None) -> str | None:
    # Hash what the database will give back: GenericIPAddressField stores IPv6 compressed.
    if not ip:
        return None
    try:
        validate_ipv46_address(ip)
    except Exception:  # noqa: BLE001  (a spoofed header must not break the write it audits)
        return None
    return clean_ipv6_address(ip) if ":" in ip else ip


def _parse_float(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def _jsonable(data: dict) -> dict:
    """``data`` as the database will hand it back, so that its hash survives the round trip.

    Non-JSON values become strings; integral floats become integers and NaN/Infinity strings,
    because PostgreSQL's jsonb respells numbers (``1e16`` comes back as
    ``10000000000000000``, ``-0.0`` as ``0``) and refuses NaN.
    """
    return _clean(json.loads(json.dumps(data, default=str), parse_float=_parse_float, parse_constant=str))


def _clean_text(text: str) -> str:
    # PostgreSQL stores no NUL character in text or jsonb, and a lone surrogate cannot be
    # encoded for hashing: neither may make the audited change fail.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _clean(value):
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


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
    Every ``GOVCENTER_AUDIT_CHECKPOINT_EVERY``-th entry also gets a signed checkpoint, in
    the same transaction.
    """
    ctx = context.current()
    # No savepoint of our own: a failed append must fail the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        head = _lock_chain_head()
        entry = AuditEntry(
            seq=(head[0] + 1) if head else 1,
            created_at=(at or timezone.now()),
            user_id=ctx.user_id,
            username=_clean_text(ctx.username[:150]),
            unit_id=ctx.unit_id,
            unit_name=_clean_text(ctx.unit_name[:100]),
            ip=_normalise_ip(ctx.ip),
            request_id=(ctx.request_id or "")[:64],
            channel=(ctx.channel or "")[:10],
            action=_clean_text(action[:40]),
            object_type=_clean_text((object_type or _object_type(obj))[:60]),
            object_id=_clean_text(str(object_id or (obj.pk if obj is not None else ""))[:64]),
            object_repr=_clean_text((object_repr or (str(obj) if obj is not None else ""))[:200]),
            success=bool(success),
            changes=_jsonable(changes or {}),
            reason=_clean_text(reason or ""),
            prev_hash=head[1] if head else GENESIS_HASH,
        )
        entry.hash = chain_hash(entry.prev_hash, entry)
        entry.save(force_insert=True)
        every = settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY
        if every > 0 and entry.seq % every == 0:
            _sign_checkpoint(seq=entry.seq, entry_hash=entry.hash, kind=CheckpointKind.COUNT)
    return entry


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict:
    """A JSON-able picture of ``obj``'s concrete fields, for before/after diffs."""
    names = fields or [f.attname for f in obj._meta.concrete_fields if f.attname != "password"]
    return {name: getattr(obj, name) for name in names}


def diff(before: dict, after: dict) -> dict:
    """Only the keys whose values changed: ``{"before": {...}, "after": {...}}``."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def checkpoint_message(*, seq: int, entry_hash: str, kind: str, created_at: datetime) -> bytes:
    """The bytes an SM2 checkpoint signature covers."""
    stamp = created_at.astimezone(_UTC).isoformat(timespec="microseconds")
    return f"govcenter-audit-checkpoint:v1:{seq}:{entry_hash}:{kind}:{stamp}".encode()


def _sign_checkpoint(*, seq: int, entry_hash: str, kind: str) -> AuditCheckpoint:
    private_pem, public_pem = crypto.system_keypair()
    created_at = timezone.now()
    message = checkpoint_message(seq=seq, entry_hash=entry_hash, kind=kind, created_at=created_at)
    checkpoint = AuditCheckpoint(
        seq=seq,
        entry_hash=entry_hash,
        created_at=created_at,
        kind=kind,
        signature=crypto.sm2_sign(private_pem, message).hex(),
        public_key=public_pem,
    )
    checkpoint.save(force_insert=True)
    return checkpoint


def trusted_public_keys() -> set[str]:
    """Public keys whose checkpoint signatures verify accepts: the system key, plus
    ``GOVCENTER_AUDIT_TRUSTED_PUBLIC_KEYS`` (earlier keys kept after a rotation).

    A checkpoint carries its public key for convenience only; trusting it blindly would let
    anyone who can write the table sign forged checkpoints with a key of their own.
    """
    keys = {crypto.system_keypair()[1].strip()}
    keys.update(k.strip() for k in getattr(settings, "GOVCENTER_AUDIT_TRUSTED_PUBLIC_KEYS", ()) if k.strip())
    return keys


def checkpoint_problem(cp: tuple, trusted: set[str]) -> str:
    """Why checkpoint row ``(seq, entry_hash, created_at, kind, signature, public_key)`` is not
    valid, or ``""``."""
    seq, entry_hash, created_at, kind, signature, public_key = cp
    if public_key.strip() not in trusted:
        return "signed by a key that is not the system key"
    try:
        sig = bytes.fromhex(signature)
    except ValueError:
        return "signature is not hex"
    message = checkpoint_message(seq=seq, entry_hash=entry_hash, kind=kind, created_at=created_at)
    try:
        ok = crypto.sm2_verify(public_key, message, sig)
    except crypto.CryptoError:
        return "unreadable public key"
    return "" if ok else "SM2 signature does not verify"


def checkpoint_create(*, kind: str = CheckpointKind.MANUAL) -> AuditCheckpoint | None:
    """Sign the current chain head now; returns the checkpoint (an existing one if the head is
    already signed) or None when the chain is empty."""
    with transaction.atomic():
        head = _lock_chain_head()
        if head is None:
            return None
        existing = AuditCheckpoint.objects.filter(seq=head[0]).first()
        if existing is not None:
            return existing
        return _sign_checkpoint(seq=head[0], entry_hash=head[1], kind=kind)


@db_periodic_task(crontab(hour="16", minute="5"))  # 00:05 Asia/Shanghai (Huey's crontab is UTC)
def audit_checkpoint_daily() -> int | None:
    """Daily signed checkpoint of the chain head (bounds what an undetected tail cut can hide)."""
    with context.acting_as(None, channel="task"):
        cp = checkpoint_create(kind=CheckpointKind.DAILY)
    return cp.seq if cp else None


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

PROBLEM_KINDS = ("edited", "missing", "inserted", "out of order", "bad checkpoint")


@dataclass
class ChainProblem:
    seq: int
    kind: str  # one of PROBLEM_KINDS
    detail: str


@dataclass
class VerifyResult:
    entries: int = 0
    checkpoints: int = 0
    first_seq: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    problem: ChainProblem | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem:
            p = self.problem
            return f"audit chain broken at seq {p.seq}: {p.kind} ({p.detail})"
        return (
            f"audit chain intact: {self.entries} entries, {self.checkpoints} checkpoints, "
            f"head seq {self.head_seq if self.head_seq is not None else '-'} hash {self.head_hash or '-'}"
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        data["ok"] = self.ok
        data["summary"] = self.summary()
        return data


def _stream(qs, fields: tuple[str, ...], *, start: int, stop: int | None, batch: int) -> Iterator[tuple]:
    """Rows of ``qs`` with ``start <= seq (<= stop)`` in seq order, fetched in keyset batches
    (constant memory, each batch one index range scan). ``seq`` must be the first field."""
    last = start - 1
    while True:
        page = qs.filter(seq__gt=last)
        if stop is not None:
            page = page.filter(seq__lte=stop)
        rows = list(page.order_by("seq").values_list(*fields)[:batch])
        if not rows:
            return
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


_CP_FIELDS = ("seq", "entry_hash", "created_at", "kind", "signature", "public_key")
_ROW_SQL = (
    f"SELECT {', '.join(ROW_FIELDS)} FROM core_auditentry "  # noqa: S608  (constant column names)
    "WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s"
)


def _utc_iso(value) -> str:
    """The canonical text of a ``created_at`` read with a plain cursor.

    Django stores aware datetimes in SQLite as naive UTC text and its SQLite connection
    parses them back as *naive* datetimes; PostgreSQL gives aware ones. Naive means UTC here.
    """
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC).isoformat(timespec="microseconds")


def _stream_rows(*, start: int, stop: int, batch: int) -> Iterator[tuple]:
    """Entries ``start <= seq <= stop`` as :data:`ROW_FIELDS` tuples, in seq order.

    The hot loop of verify: plain SQL with keyset batches (each one index range scan,
    constant memory), and only the conversions the canonical form needs instead of the
    ORM's per-field converters (roughly halves the time per row).
    """
    last = start - 1
    loads = json.loads
    while True:
        with connection.cursor() as cur:
            cur.execute(_ROW_SQL, [last, stop, batch])
            rows = cur.fetchall()
        for r in rows:
            changes = loads(r[14]) if isinstance(r[14], str | bytes) else r[14]
            yield (r[0], _utc_iso(r[1]), *r[2:13], bool(r[13]), changes, *r[15:])
        if len(rows) < batch:
            return
        last = rows[-1][0]


def _diagnose(row: tuple, expected: int, prev: str) -> ChainProblem:
    """Name what is wrong with ``row``, the first row at ``expected`` seq that does not chain
    onto ``prev`` (error path only: these look-ups scan the table)."""
    seq, prev_hash, stored = row[0], row[16], row[17]
    link_ok = prev_hash == prev
    hash_ok = _row_hash(row) == stored
    entries = AuditEntry.objects
    # The row the verified prefix really continues with, if it sits further down.
    successor = (
        entries.filter(seq__gt=seq, prev_hash=prev).order_by("seq").values_list("seq", flat=True).first()
    )
    pred = (seq - 1) if link_ok else entries.filter(hash=prev_hash).values_list("seq", flat=True).first()
    if successor is not None:
        if pred is not None and pred >= seq:
            return ChainProblem(
                seq,
                "out of order",
                f"entry was chained after seq {pred}; seq {seq - 1} continues at seq {successor}",
            )
        return ChainProblem(
            seq, "inserted", f"entry is not part of the chain; seq {seq - 1} continues at seq {successor}"
        )
    if link_ok:
        return ChainProblem(seq, "edited", "content does not match its hash")
    if pred is not None:
        if pred == seq - 2:
            return ChainProblem(seq - 1, "inserted", f"seq {seq} was chained directly after seq {seq - 2}")
        return ChainProblem(seq, "out of order", f"entry was chained after seq {pred}")
    if hash_ok:
        return ChainProblem(seq - 1, "edited", f"changed after seq {seq} was chained to it (hash recomputed)")
    for original in range(seq + 1, seq + 1001):
        if _row_hash(row, seq=original) == stored:
            gap = original - seq
            return ChainProblem(
                seq,
                "missing",
                f"{gap} entr{'y' if gap == 1 else 'ies'} deleted here and later entries renumbered",
            )
    return ChainProblem(seq, "edited", "content and chain link do not match")


def _gone(first: int, last: int) -> str:
    return f"entry {first} is gone" if first == last else f"entries {first}..{last} are gone"


def verify_chain(*, from_seq: int | None = None, batch_size: int = VERIFY_BATCH) -> VerifyResult:
    """Walk the chain in seq order and report the first bad entry.

    Checks every entry's hash, its link to the previous entry, that seqs are contiguous, and
    every checkpoint: trusted key, valid SM2 signature, and equal to the entry at its seq.
    Streams in keyset batches, so memory stays constant for any chain length. With
    ``from_seq`` the entry before it is trusted as the starting point.
    """
    result = VerifyResult()
    trusted = trusted_public_keys()
    bounds = AuditEntry.objects.aggregate(lo=models.Min("seq"), hi=models.Max("seq"))
    first, head = bounds["lo"], bounds["hi"]
    checkpoints = _stream(
        AuditCheckpoint.objects.all(), _CP_FIELDS, start=-(2**62), stop=None, batch=batch_size
    )
    next_cp = next(checkpoints, None)

    def fail(seq: int, kind: str, detail: str) -> VerifyResult:
        result.problem = ChainProblem(seq, kind, detail)
        return result

    if first is None:
        if next_cp is not None:
            return fail(next_cp[0], "missing", "the chain is empty but a checkpoint signs this seq")
        return result

    # Where to start and which hash the first entry must name.
    start = max(first, from_seq or first)
    if start == 1:
        prev = GENESIS_HASH
    else:
        before = AuditEntry.objects.filter(seq=start - 1).values_list("hash", flat=True).first()
        if before is not None:
            prev = before
        else:
            anchor = (
                AuditCheckpoint.objects.filter(seq__lt=start)
                .order_by("-seq")
                .values_list(*_CP_FIELDS)
                .first()
            )
            if anchor is None:
                return fail(
                    1,
                    "missing",
                    f"entries 1..{start - 1} are gone and no purge checkpoint anchors seq {start}",
                )
            if anchor[0] != start - 1:
                return fail(
                    anchor[0] + 1,
                    "missing",
                    f"entries {anchor[0] + 1}..{start - 1} are gone (last anchor at seq {anchor[0]})",
                )
            why = checkpoint_problem(anchor, trusted)
            if why:
                return fail(anchor[0], "bad checkpoint", f"purge anchor: {why}")
            prev = anchor[1]
    result.first_seq = start
    if start > head:
        result.head_seq, result.head_hash = start - 1, prev
        return result
    last_cp_ok = start - 1

    expected = start
    for row in _stream_rows(start=start, stop=head, batch=batch_size):
        seq = row[0]
        # Checkpoints before the walked range (purged entries, trusted prefix, the anchor):
        # their signatures still have to verify.
        while next_cp is not None and next_cp[0] < expected:
            why = checkpoint_problem(next_cp, trusted)
            if why:
                return fail(next_cp[0], "bad checkpoint", why)
            result.checkpoints += 1
            next_cp = next(checkpoints, None)
        if seq != expected:
            return fail(expected, "missing", _gone(expected, seq - 1))
        if row[16] != prev or _row_hash(row) != row[17]:
            result.problem = _diagnose(row, expected, prev)
            return result
        if next_cp is not None and next_cp[0] == seq:
            why = checkpoint_problem(next_cp, trusted)
            if why:
                return fail(seq, "bad checkpoint", why)
            if next_cp[1] != row[17]:
                return fail(
                    seq,
                    "edited",
                    f"hash differs from the signed checkpoint: entries {last_cp_ok + 1}..{seq} were rewritten",
                )
            last_cp_ok = seq
            result.checkpoints += 1
            next_cp = next(checkpoints, None)
        prev = row[17]
        expected = seq + 1
        result.entries += 1
    result.head_seq, result.head_hash = expected - 1, prev
    # Checkpoints beyond the head prove that entries were cut from the end.
    while next_cp is not None:
        why = checkpoint_problem(next_cp, trusted)
        if why:
            return fail(next_cp[0], "bad checkpoint", why)
        if next_cp[0] > result.head_seq:
            gone = result.head_seq + 1
            return fail(
                gone, "missing", f"entries {gone}..{next_cp[0]} are gone (checkpoint at seq {next_cp[0]})"
            )
        result.checkpoints += 1
        next_cp = next(checkpoints, None)
    return result


# --------------------------------------------------------------------------------------------
# Purge: the only way rows leave the chain
# --------------------------------------------------------------------------------------------


class AuditPurgeRefusedError(Exception):
    """The requested purge would remove entries younger than the retention period."""


@dataclass
class PurgeResult:
    deleted: int
    first_kept_seq: int | None
    anchor_seq: int | None


def retention_limit(now: datetime | None = None) -> datetime:
    days = max(MIN_RETENTION_DAYS, settings.GOVCENTER_AUDIT_RETENTION_DAYS)
    return (now or timezone.now()) - timedelta(days=days)


def _gate(open_: bool) -> None:
    """Open/close the database's purge escape for the current transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('govcenter.audit_purge', %s, true)", ["on" if open_ else "off"])
    else:
        AuditPurgeGate.objects.update_or_create(id=1, defaults={"is_open": open_})


def audit_purge(*, before: date, batch_size: int = PURGE_BATCH) -> PurgeResult:
    """Delete the oldest entries, those created before ``before`` (local midnight).

    Refuses (:class:`AuditPurgeRefusedError`) when ``before`` is younger than the retention
    period. Writes an ``audit.purge`` entry first, then deletes in batches; each batch runs
    in its own transaction and leaves a signed ``purge`` checkpoint at its last deleted seq,
    so the chain verifies after every batch (an interrupted purge is still consistent).
    Only a prefix of the chain is removed: an old entry after a younger one stays.
    """
    cutoff = timezone.make_aware(datetime.combine(before, time.min))
    limit = retention_limit()
    if cutoff > limit:
        raise AuditPurgeRefusedError(
            f"refusing to purge audit entries younger than {max(MIN_RETENTION_DAYS, settings.GOVCENTER_AUDIT_RETENTION_DAYS)} days: "
            f"--before must be on or before {timezone.localdate(limit).isoformat()}"
        )
    with transaction.atomic():
        head = _lock_chain_head()
        if head is None:
            return PurgeResult(0, None, None)
        first = AuditEntry.objects.order_by("seq").values_list("seq", flat=True).first()
        young = (
            AuditEntry.objects.filter(created_at__gte=cutoff)
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        last = (young - 1) if young is not None else head[0]
        count = max(0, last - first + 1)
        record(
            action="audit.purge",
            object_type="core.auditentry",
            object_repr=f"#{first}–#{last}" if count else "",
            changes={
                "before": before.isoformat(),
                "from_seq": first if count else None,
                "to_seq": last if count else None,
                "count": count,
            },
            reason=f"retention {max(MIN_RETENTION_DAYS, settings.GOVCENTER_AUDIT_RETENTION_DAYS)} days",
        )
    if not count:
        return PurgeResult(0, first, None)
    # Checkpoints of purged entries go too, when old enough for the triggers (the margin
    # covers the clock difference between this process and the database).
    cp_limit = limit - timedelta(days=1)
    boundary = first - 1
    deleted = 0
    while boundary < last:
        boundary = min(boundary + batch_size, last)
        with transaction.atomic():
            _lock_chain_head()
            boundary_hash = AuditEntry.objects.filter(seq=boundary).values_list("hash", flat=True).get()
            anchor = AuditCheckpoint.objects.filter(seq=boundary).first()
            if anchor is None:
                _sign_checkpoint(seq=boundary, entry_hash=boundary_hash, kind=CheckpointKind.PURGE)
            elif anchor.entry_hash != boundary_hash:
                raise RuntimeError(
                    f"audit chain damaged at seq {boundary}: run `govcenter audit verify` before purging"
                )
            _gate(True)
            deleted += AuditEntry.objects.filter(seq__lte=boundary).delete()[0]
            AuditCheckpoint.objects.filter(seq__lt=boundary, created_at__lt=cp_limit).delete()
            _gate(False)
    logger.info(
        "audit purge before %s: %d entries deleted, chain now starts at seq %d", before, deleted, last + 1
    )
    return PurgeResult(deleted, last + 1, last)


# --------------------------------------------------------------------------------------------
# Database guard (append-only triggers)
# --------------------------------------------------------------------------------------------

GUARDED_TABLES = ("core_auditentry", "core_auditcheckpoint")

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION govcenter_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('govcenter.audit_purge', true) = 'on'
       AND OLD.created_at < now() - interval '{MIN_RETENTION_DAYS} days' THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'govcenter: % on % refused: the audit chain is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def _trigger_sql(vendor: str, table: str) -> dict[str, str]:
    """Trigger name → CREATE statement for ``table``."""
    if vendor == "postgresql":
        return {
            f"{table}_append_only": (
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION govcenter_audit_append_only()"
            ),
            f"{table}_no_truncate": (
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION govcenter_audit_append_only()"
            ),
        }
    # SQLite stores datetimes as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]', which sorts as time.
    return {
        f"{table}_no_update": (
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'govcenter: UPDATE on {table} refused: the audit chain is append-only'); END"
        ),
        f"{table}_no_delete": (
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "  # noqa: S608  (constant names)
            "WHEN NOT (COALESCE((SELECT is_open FROM core_auditpurgegate WHERE id = 1), 0) = 1 "
            f"AND OLD.created_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{MIN_RETENTION_DAYS} days')) "
            f"BEGIN SELECT RAISE(ABORT, 'govcenter: DELETE on {table} refused: the audit chain is append-only'); END"
        ),
    }


def installed_guard_triggers(conn=None) -> set[str]:
    """Names of the append-only triggers present in the database of ``conn``."""
    conn = conn or connection
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s)",
                [list(GUARDED_TABLES)],
            )
        elif conn.vendor == "sqlite":
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                list(GUARDED_TABLES),
            )
        else:
            return set()
        return {name for (name,) in cur.fetchall()}


def install_guard(conn=None) -> None:
    """Create the append-only triggers that are missing (idempotent)."""
    conn = conn or connection
    if conn.vendor not in ("postgresql", "sqlite"):
        return
    present = installed_guard_triggers(conn)
    with conn.cursor() as cur:
        if conn.vendor == "postgresql":
            cur.execute(_PG_FUNCTION)
        for table in GUARDED_TABLES:
            for name, sql in _trigger_sql(conn.vendor, table).items():
                if name not in present:
                    cur.execute(sql)  # no params: '%' in the SQL must stay literal


def uninstall_guard(conn=None) -> None:
    """Drop the append-only triggers (migration reversal, test-database flush)."""
    conn = conn or connection
    if conn.vendor not in ("postgresql", "sqlite"):
        return
    with conn.cursor() as cur:
        for table in GUARDED_TABLES:
            for name in _trigger_sql(conn.vendor, table):
                cur.execute(
                    f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if conn.vendor == "postgresql" else "")
                )
        if conn.vendor == "postgresql":
            cur.execute("DROP FUNCTION IF EXISTS govcenter_audit_append_only()")


def _reinstall_guard(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """After ``migrate``: SQLite drops a table's triggers when a migration rebuilds it."""
    if getattr(sender, "name", "") != "govcenter.core":
        return
    from django.db.migrations.recorder import MigrationRecorder

    conn = connections[using]
    if ("core", "0002_audit_chain") in MigrationRecorder(conn).applied_migrations():
        install_guard(conn)


post_migrate.connect(_reinstall_guard, dispatch_uid="govcenter.core.audit.reinstall_guard")
