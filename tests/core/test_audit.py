"""The tamper-evident audit chain: record(), checkpoints, verify, purge, database guard.

Tamper tests change rows directly in the database (raw SQL, as an attacker with database
access would). The append-only triggers would refuse most of that, so those tests drop
the triggers first (fixture ``unguarded``); other tests prove the triggers themselves.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from govcenter.core import audit, context, crypto
from govcenter.core.models import AuditCheckpoint, AuditEntry
from govcenter.core.models.audit import CheckpointKind
from tests.factories import UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def _fill(n: int, *, start_days_ago: float | None = None) -> list[AuditEntry]:
    entries = []
    for i in range(n):
        at = (
            timezone.now() - timedelta(days=start_days_ago) + timedelta(minutes=i) if start_days_ago else None
        )
        entries.append(
            audit.record(
                action="thing.update",
                object_type="tests.thing",
                object_id=i,
                changes={"before": {"n": i}, "after": {"n": i + 1}},
                at=at,
            )
        )
    return entries


def _sql(sql: str, params=None) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.rowcount


def _verify(*args: str) -> tuple[int, str]:
    """Run ``audit verify``; returns (exit status, the output or error line)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue().strip()


def _shift(from_seq: int, by: int) -> None:
    # Two steps: the unique index on seq would trip over an in-place shift.
    _sql("UPDATE core_auditentry SET seq = -(seq + %s) WHERE seq >= %s", [by, from_seq])
    _sql("UPDATE core_auditentry SET seq = -seq WHERE seq < 0")


@pytest.fixture
def unguarded():
    """Drop the append-only triggers for a tamper test; put them back afterwards."""
    audit.uninstall_guard(connection)
    yield
    audit.install_guard(connection)


@pytest.fixture(autouse=True)
def _no_count_checkpoints(settings):
    # Tests opt in to count checkpoints explicitly.
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 0


# ---------------------------------------------------------------------------- record()


def test_record_fills_actor_unit_ip_and_request_id_from_context():
    unit = UnitFactory(name_zh="数据科")
    user = UserFactory(username="zhang", unit=unit)
    with context.acting_as(user, channel="web", ip="10.1.2.3") as ctx:
        entry = audit.record(action="user.update", obj=user, changes={"before": {"a": 1}, "after": {"a": 2}})
    entry.refresh_from_db()
    assert (entry.user_id, entry.username, entry.unit_id) == (user.pk, "zhang", unit.pk)
    assert entry.unit_name == str(unit) and entry.ip == "10.1.2.3" and entry.channel == "web"
    assert entry.request_id == ctx.request_id and len(ctx.request_id) == 32
    assert (entry.object_type, entry.object_id) == ("core.user", str(user.pk))
    assert entry.changes == {"before": {"a": 1}, "after": {"a": 2}}


def test_record_normalises_ipv6_so_the_stored_row_still_hashes():
    with context.acting_as(None, channel="web", ip="2001:0DB8:0000:0000:0000:0000:0000:0001"):
        entry = audit.record(action="x")
    entry.refresh_from_db()
    assert entry.ip == "2001:db8::1"
    assert audit.chain_hash(entry.prev_hash, entry) == entry.hash


def test_entries_chain_by_sm3_of_prev_hash_and_canonical_bytes():
    a, b, c = _fill(3)
    assert a.seq == 1 and a.prev_hash == audit.GENESIS_HASH
    assert (b.prev_hash, c.prev_hash) == (a.hash, b.hash)
    for entry in (a, b, c):
        entry.refresh_from_db()
        assert entry.hash == crypto.sm3_hex(entry.prev_hash.encode() + audit.canonical(entry))
    assert len({a.hash, b.hash, c.hash}) == 3


def test_record_signs_a_checkpoint_every_n_entries_in_the_same_transaction(settings):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 4
    entries = _fill(9)
    cps = list(AuditCheckpoint.objects.order_by("seq"))
    assert [cp.seq for cp in cps] == [4, 8]
    assert cps[1].entry_hash == entries[7].hash and cps[1].kind == CheckpointKind.COUNT
    assert (
        audit.checkpoint_problem(
            (
                cps[1].seq,
                cps[1].entry_hash,
                cps[1].created_at,
                cps[1].kind,
                cps[1].signature,
                cps[1].public_key,
            ),
            audit.trusted_public_keys(),
        )
        == ""
    )
    # A rolled-back change takes its entry and its checkpoint with it.
    with pytest.raises(RuntimeError), transaction.atomic():
        for _ in range(3):
            audit.record(action="doomed")
        raise RuntimeError
    assert AuditCheckpoint.objects.count() == 2 and AuditEntry.objects.count() == 9


def test_daily_task_and_checkpoint_command_sign_the_head():
    assert audit.audit_checkpoint_daily.call_local() is None  # empty chain: nothing to sign
    _fill(3)
    assert audit.audit_checkpoint_daily.call_local() == 3
    cp = AuditCheckpoint.objects.get(seq=3)
    assert cp.kind == CheckpointKind.DAILY and cp.public_key == crypto.system_keypair()[1]
    message = audit.checkpoint_message(
        seq=3, entry_hash=cp.entry_hash, kind=cp.kind, created_at=cp.created_at
    )
    assert crypto.sm2_verify(cp.public_key, message, bytes.fromhex(cp.signature))
    _fill(1)
    from io import StringIO

    out = StringIO()
    call_command("audit", "checkpoint", stdout=out)
    assert out.getvalue().startswith("checkpoint at seq 4 ")
    assert AuditCheckpoint.objects.get(seq=4).kind == CheckpointKind.MANUAL


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(st.text(max_size=8), JSON, max_size=5),
    reason=st.text(max_size=20),
    ip=st.ip_addresses(),
)
def test_any_recorded_entry_survives_the_database_round_trip(changes, reason, ip):
    """Whatever a caller records (odd floats, NUL, any text, IPv4/IPv6), the stored row hashes
    to its stored hash on this database, read by the ORM and by verify's fast stream."""
    with context.acting_as(None, channel="web", ip=str(ip)):
        entry = audit.record(action="prop", object_repr=reason, changes=changes, reason=reason)
    stored = AuditEntry.objects.get(seq=entry.seq)
    assert audit.chain_hash(stored.prev_hash, stored) == stored.hash == entry.hash
    (row,) = audit._stream_rows(start=entry.seq, stop=entry.seq, batch=5)
    assert audit._row_hash(row) == entry.hash


# ---------------------------------------------------------------------------- verify


def test_verify_intact_chain_exit_0_with_summary(settings):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 5
    entries = _fill(12)
    code, line = _verify()
    assert code == 0
    assert line == f"audit chain intact: 12 entries, 2 checkpoints, head seq 12 hash {entries[-1].hash}"
    assert _verify("--from-seq", "6")[1].startswith("audit chain intact: 7 entries")


def test_verify_empty_chain_is_intact():
    assert _verify() == (0, "audit chain intact: 0 entries, 0 checkpoints, head seq - hash -")


def test_verify_streams_in_batches_smaller_than_the_chain(settings):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 7
    _fill(40)
    result = audit.verify_chain(batch_size=3)
    assert result.ok and result.entries == 40 and result.checkpoints == 5


def test_edited_entry_is_named(unguarded):
    _fill(10)
    _sql("UPDATE core_auditentry SET action = 'thing.delete' WHERE seq = 5")
    assert _verify() == (1, "audit chain broken at seq 5: edited (content does not match its hash)")


def test_edited_json_detail_is_detected(unguarded):
    _fill(10)
    entry = AuditEntry.objects.get(seq=7)
    _sql(
        "UPDATE core_auditentry SET changes = %s WHERE seq = 7",
        [json.dumps({"before": {"n": 6}, "after": {"n": 99}})],
    )
    assert entry.changes["after"] == {"n": 7}
    code, line = _verify()
    assert code == 1 and "seq 7: edited" in line


def test_edited_entry_with_recomputed_hash_is_named(unguarded):
    entries = _fill(10)
    forged = AuditEntry.objects.get(seq=4)
    forged.reason = "nothing to see"
    forged.hash = audit.chain_hash(forged.prev_hash, forged)
    _sql("UPDATE core_auditentry SET reason = %s, hash = %s WHERE seq = 4", [forged.reason, forged.hash])
    assert entries[4].prev_hash != forged.hash
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 4: edited")


def test_rewritten_chain_is_caught_by_its_signed_checkpoint(settings, unguarded):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 5
    _fill(12)
    # The attacker edits seq 3 and recomputes every hash after it: links and hashes agree again.
    prev = AuditEntry.objects.get(seq=2).hash
    for entry in AuditEntry.objects.filter(seq__gte=3).order_by("seq"):
        if entry.seq == 3:
            entry.action = "thing.nothing"
        entry.prev_hash = prev
        entry.hash = audit.chain_hash(prev, entry)
        _sql(
            "UPDATE core_auditentry SET action = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            [entry.action, entry.prev_hash, entry.hash, entry.seq],
        )
        prev = entry.hash
    code, line = _verify()
    assert code == 1
    assert line.startswith("audit chain broken at seq 5: edited (hash differs from the signed checkpoint")


def test_deleted_entry_is_named_missing(unguarded):
    _fill(10)
    assert _sql("DELETE FROM core_auditentry WHERE seq = 6") == 1
    assert _verify() == (1, "audit chain broken at seq 6: missing (entry 6 is gone)")


def test_deleted_and_renumbered_entries_are_named_missing(unguarded):
    _fill(10)
    _sql("DELETE FROM core_auditentry WHERE seq IN (4, 5)")
    _shift(6, -2)
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 9))
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 4: missing (2 entries deleted here")


def test_deleted_first_entries_without_purge_anchor_are_missing(unguarded):
    _fill(6)
    _sql("DELETE FROM core_auditentry WHERE seq <= 2")
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 1: missing")


def test_cut_tail_is_caught_by_a_checkpoint_beyond_the_head(settings, unguarded):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 4
    _fill(9)
    _sql("DELETE FROM core_auditentry WHERE seq >= 7")
    assert _verify() == (
        1,
        "audit chain broken at seq 7: missing (entries 7..8 are gone (checkpoint at seq 8))",
    )


@pytest.mark.parametrize("recompute", [False, True], ids=["garbage-hash", "well-forged-hash"])
def test_inserted_entry_is_named(unguarded, recompute):
    _fill(10)
    _shift(5, 1)
    template = AuditEntry.objects.get(seq=4)
    forged = AuditEntry(**{f: getattr(template, f) for f in audit.CANONICAL_FIELDS})
    forged.seq, forged.action, forged.prev_hash = 5, "user.grant_superuser", template.hash
    forged.hash = audit.chain_hash(forged.prev_hash, forged) if recompute else "f" * 64
    forged.save(force_insert=True)
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 5: inserted"), line


def test_reordered_entries_are_named(unguarded):
    _fill(10)
    _sql("UPDATE core_auditentry SET seq = -1 WHERE seq = 5")
    _sql("UPDATE core_auditentry SET seq = 5 WHERE seq = 6")
    _sql("UPDATE core_auditentry SET seq = 6 WHERE seq = -1")
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 5: out of order"), line


def test_entry_moved_far_away_is_out_of_order(unguarded):
    _fill(10)
    _sql("UPDATE core_auditentry SET seq = 100 WHERE seq = 3")
    _sql("UPDATE core_auditentry SET seq = 3 WHERE seq = 8")
    _sql("UPDATE core_auditentry SET seq = 8 WHERE seq = 100")
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 3: out of order"), line


def test_tampered_checkpoint_signature_is_a_bad_checkpoint(settings, unguarded):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 3
    _fill(7)
    cp = AuditCheckpoint.objects.get(seq=6)
    sig = bytearray(bytes.fromhex(cp.signature))
    sig[-1] ^= 0x01
    _sql("UPDATE core_auditcheckpoint SET signature = %s WHERE seq = 6", [sig.hex()])
    assert _verify() == (1, "audit chain broken at seq 6: bad checkpoint (SM2 signature does not verify)")


def test_checkpoint_moved_to_another_hash_is_a_bad_checkpoint(settings, unguarded):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 3
    _fill(7)
    _sql("UPDATE core_auditcheckpoint SET entry_hash = %s WHERE seq = 3", ["a" * 64])
    code, line = _verify()
    assert (code, line) == (1, "audit chain broken at seq 3: bad checkpoint (SM2 signature does not verify)")


def test_checkpoint_resigned_with_an_attackers_key_is_a_bad_checkpoint(settings, unguarded):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 3
    _fill(7)
    private_pem, public_pem = crypto.sm2_generate_keypair()
    cp = AuditCheckpoint.objects.get(seq=3)
    message = audit.checkpoint_message(seq=3, entry_hash="b" * 64, kind=cp.kind, created_at=cp.created_at)
    _sql(
        "UPDATE core_auditcheckpoint SET entry_hash = %s, signature = %s, public_key = %s WHERE seq = 3",
        ["b" * 64, crypto.sm2_sign(private_pem, message).hex(), public_pem],
    )
    assert _verify() == (
        1,
        "audit chain broken at seq 3: bad checkpoint (signed by a key that is not the system key)",
    )


def test_verify_json_output(unguarded):
    entries = _fill(4)
    from io import StringIO

    out = StringIO()
    call_command("audit", "verify", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["ok"] is True and data["entries"] == 4 and data["head_hash"] == entries[-1].hash
    _sql("UPDATE core_auditentry SET username = 'mallory' WHERE seq = 2")
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", "--json", stdout=out)
    assert exc.value.returncode == 1
    data = json.loads(out.getvalue())
    assert data["ok"] is False and data["problem"] == {
        "seq": 2,
        "kind": "edited",
        "detail": "content does not match its hash",
    }


def test_verify_bad_options_exit_2():
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", "--from-seq", "0")
    assert exc.value.returncode == 2


# ---------------------------------------------------------------------------- purge


def test_purge_refuses_anything_younger_than_retention():
    _fill(3, start_days_ago=170)
    too_young = (timezone.localdate() - timedelta(days=179)).isoformat()
    with pytest.raises(CommandError) as exc:
        call_command("audit", "purge", "--before", too_young)
    assert exc.value.returncode == 2 and "younger than 180 days" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("audit", "purge", "--before", "2025-02-30")
    assert exc.value.returncode == 2
    assert AuditEntry.objects.count() == 3 and not AuditEntry.objects.filter(action="audit.purge").exists()


def test_purge_keeps_retention_setting_longer_than_180_days(settings):
    settings.GOVCENTER_AUDIT_RETENTION_DAYS = 365
    with pytest.raises(audit.AuditPurgeRefusedError):
        audit.audit_purge(before=timezone.localdate() - timedelta(days=200))


def test_purge_then_verify_passes_and_the_purge_is_audited(settings):
    settings.GOVCENTER_AUDIT_CHECKPOINT_EVERY = 4
    old = _fill(10, start_days_ago=400)
    _fill(3)
    before = (timezone.localdate() - timedelta(days=200)).isoformat()
    from io import StringIO

    out = StringIO()
    call_command("audit", "purge", "--before", before, stdout=out)
    assert "purged 10 audit entries; chain starts at seq 11" in out.getvalue()
    assert AuditEntry.objects.order_by("seq").first().seq == 11
    anchor = AuditCheckpoint.objects.get(seq=10)
    assert anchor.kind == CheckpointKind.PURGE and anchor.entry_hash == old[-1].hash
    entry = AuditEntry.objects.get(action="audit.purge")
    assert entry.changes == {"before": before, "from_seq": 1, "to_seq": 10, "count": 10}
    code, line = _verify()
    assert code == 0 and line.startswith("audit chain intact: 4 entries"), line
    # Afterwards the gate is closed again: the triggers refuse even an old row's deletion.
    if connection.vendor in ("sqlite", "postgresql"):
        with pytest.raises(DatabaseError), transaction.atomic():
            _sql("DELETE FROM core_auditentry WHERE seq = 11")


def test_purge_in_batches_leaves_a_verifiable_chain_after_each_batch():
    _fill(10, start_days_ago=400)
    _fill(2)
    result = audit.audit_purge(before=timezone.localdate() - timedelta(days=300), batch_size=3)
    assert (result.deleted, result.first_kept_seq, result.anchor_seq) == (10, 11, 10)
    assert audit.verify_chain().ok
    assert AuditEntry.objects.order_by("seq").first().seq == 11


def test_purge_does_not_hide_later_deletion_of_kept_entries(unguarded):
    _fill(6, start_days_ago=400)
    _fill(4)
    audit.audit_purge(before=timezone.localdate() - timedelta(days=300))
    _sql("DELETE FROM core_auditentry WHERE seq = 7")
    code, line = _verify()
    assert code == 1 and line.startswith("audit chain broken at seq 7: missing")


# ---------------------------------------------------------------------------- database guard


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the SQLite variant of the guard")
def test_sqlite_triggers_refuse_update_and_delete():
    _fill(3, start_days_ago=400)
    audit.checkpoint_create()
    assert len(audit.installed_guard_triggers()) == 4
    for sql in (
        "UPDATE core_auditentry SET action = 'x' WHERE seq = 1",
        "DELETE FROM core_auditentry WHERE seq = 1",
        "DELETE FROM core_auditentry",
        "UPDATE core_auditcheckpoint SET seq = 1",
        "DELETE FROM core_auditcheckpoint",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql(sql)
    # An open gate alone does not let young rows go.
    _fill(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        audit._gate(True)
        _sql("DELETE FROM core_auditentry WHERE seq = 4")
    assert AuditEntry.objects.count() == 4 and AuditCheckpoint.objects.count() == 1


@pytest.mark.postgres
def test_postgres_refuses_update_delete_truncate():
    _fill(2, start_days_ago=400)
    _fill(1)
    audit.checkpoint_create()
    assert len(audit.installed_guard_triggers()) == 4
    for sql in (
        "UPDATE core_auditentry SET action = 'x' WHERE seq = 1",
        "DELETE FROM core_auditentry WHERE seq = 1",
        "TRUNCATE core_auditentry",
        "UPDATE core_auditcheckpoint SET entry_hash = 'x'",
        "DELETE FROM core_auditcheckpoint",
        "TRUNCATE core_auditcheckpoint CASCADE",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql(sql)
    # The purge escape: transaction-local, and only for rows older than 180 days.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("SET LOCAL govcenter.audit_purge = 'on'")
        _sql("DELETE FROM core_auditentry WHERE seq = 3")
    with transaction.atomic():
        _sql("SET LOCAL govcenter.audit_purge = 'on'")
        assert _sql("DELETE FROM core_auditentry WHERE seq = 1") == 1
        # SET LOCAL outlives a released savepoint: audit_purge closes the gate itself.
        _sql("SET LOCAL govcenter.audit_purge = 'off'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql("DELETE FROM core_auditentry WHERE seq = 2")
    assert AuditEntry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_flush_of_the_test_database_still_works_and_restores_the_guard():
    _fill(3)
    audit.checkpoint_create()
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEntry.objects.count() == 0 and AuditCheckpoint.objects.count() == 0
    assert len(audit.installed_guard_triggers()) == 4


def test_migrate_reinstalls_triggers_a_table_rebuild_dropped():
    audit.uninstall_guard(connection)
    assert audit.installed_guard_triggers() == set()
    from django.apps import apps

    audit._reinstall_guard(apps.get_app_config("core"), using="default")
    assert len(audit.installed_guard_triggers()) == 4


# ---------------------------------------------------------------------------- the real CLI


@pytest.mark.django_db(transaction=False)
def test_cli_verify_exit_codes_in_a_subprocess(tmp_path):
    """``.venv/bin/govcenter audit verify`` on its own SQLite file: 0 intact, 1 tampered."""
    exe = REPO / ".venv" / "bin" / "govcenter"
    if not exe.exists():
        exe = Path(sys.executable).with_name("govcenter")
    db = tmp_path / "cli.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GOVCENTER_", "DJANGO_"))},
        "GOVCENTER_DEBUG": "1",
        "GOVCENTER_VAR_DIR": str(tmp_path),
        "GOVCENTER_DATABASE_URL": f"sqlite:///{db}",
        "GOVCENTER_TASKS_IMMEDIATE": "1",
    }

    def run(*args):
        return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=600)  # a hang guard: migrating a fresh database takes ~35 s quiet, minutes on a loaded CI machine

    assert run("migrate", "-v0").returncode == 0
    filled = run(
        "shell",
        "-c",
        "from govcenter.core import audit\nfor i in range(6): audit.record(action='cli.test', object_id=i)",
    )
    assert filled.returncode == 0, filled.stderr
    ok = run("audit", "verify")
    assert ok.returncode == 0 and ok.stdout.splitlines()[-1].startswith("audit chain intact: 6 entries"), (
        ok.stderr
    )
    with sqlite3.connect(db) as raw:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE core_auditentry SET action = 'x' WHERE seq = 3")
        raw.execute("DROP TRIGGER core_auditentry_no_update")
        raw.execute("UPDATE core_auditentry SET action = 'x' WHERE seq = 3")
    bad = run("audit", "verify")
    assert bad.returncode == 1 and "audit chain broken at seq 3: edited" in bad.stderr
    young = run("audit", "purge", "--before", timezone.localdate().isoformat())
    assert young.returncode == 2 and len(young.stderr.strip().splitlines()) == 1
