"""Backups and restore drills against the live test database (SQLite in the default pass,
PostgreSQL in the service pass): a backup restores and matches table by table; a wrong key, a
corrupt byte or a cut file fails the drill clearly (exit 2) and leaves the live database as it
was; a tampered backup fails the drill naming the table; the drill never targets the live DB."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from govcenter.core.models import AuditEntry, Unit
from govcenter.ops.backups import figures, services, stream
from govcenter.ops.models import Backup, RestoreDrill
from tests.factories import UnitFactory

from .conftest import OTHER_KEY

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump sees committed data only


def _live_counts() -> dict[str, int]:
    with connection.cursor() as cur:
        out = {}
        for table in connection.introspection.table_names(cur):
            cur.execute(f'SELECT COUNT(*) FROM "{table}"')
            out[table] = cur.fetchone()[0]
    return out


@pytest.fixture
def units(backup_env):
    return [UnitFactory(name_zh=f"备份演练单位{i}") for i in range(5)]


def test_a_database_backup_restores_and_matches_table_by_table(units, backup_env):
    backup = services.backup_create(kind="database")
    assert backup.state == "ok" and backup.engine == services.live_engine()
    path = Path(services.backup_dir()) / backup.path
    raw = path.read_bytes()
    assert raw[:4] == b"GCBK" and "备份演练单位0".encode() not in raw  # encrypted
    assert backup.size == len(raw) and backup.sm3_ciphertext == stream.file_sm3(path)
    assert backup.key_id == stream.key_id(services.backup_key()) and services.backup_key().hex() not in str(
        Backup.objects.values().get(pk=backup.pk))  # the key id, never the key
    assert backup.tables["core_unit"]["rows"] == Unit.objects.count() >= 5
    assert AuditEntry.objects.filter(action="ops.backup.create", object_id=str(backup.pk), success=True).exists()

    out = []
    call_command("ops", "restore-drill", "--backup", str(backup.pk), stdout=_Sink(out))
    drill = RestoreDrill.objects.get()
    assert drill.result == "passed" and not drill.mismatched and not drill.error, drill.error
    assert {r["table"] for r in drill.tables} == set(backup.tables)
    unit_row = next(r for r in drill.tables if r["table"] == "core_unit")
    assert unit_row["rows_restored"] == unit_row["rows_expected"] == Unit.objects.count()
    assert unit_row["sm3_restored"] == unit_row["sm3_expected"] and unit_row["match"]
    assert str(connection.settings_dict["NAME"]) not in drill.scratch_target
    assert "passed" in out[0]
    assert AuditEntry.objects.filter(action="ops.backup.drill", object_id=str(drill.pk), success=True).exists()


class _Sink:
    def __init__(self, out: list):
        self.out = out

    def write(self, text):
        self.out.append(text)

    def flush(self):
        pass


def _wrong_key(settings, path):
    settings.GOVCENTER_OPS_BACKUP_KEY = OTHER_KEY


def _corrupt_byte(settings, path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))


def _truncated(settings, path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 100])


@pytest.mark.parametrize(("spoil", "message"), [
    (_wrong_key, "wrong key"),
    (_corrupt_byte, "failed authentication"),
    (_truncated, "truncated"),
])  # fmt: skip
def test_a_bad_backup_fails_the_drill_clearly_and_touches_nothing(units, backup_env, settings, spoil, message):
    backup = services.backup_create(kind="database")
    path = Path(services.backup_dir()) / backup.path
    spoil(settings, path)
    spoiled = path.read_bytes()
    before = _live_counts()
    unit_names = sorted(Unit.objects.values_list("name_zh", flat=True))
    with pytest.raises(CommandError) as caught:
        call_command("ops", "restore-drill", "--backup", str(backup.pk))
    assert caught.value.returncode == 2 and message in str(caught.value) and "\n" not in str(caught.value)
    after = _live_counts()
    # The only change anywhere: the failed drill recorded, and its audit entry.
    changed = {t for t in set(before) | set(after) if before.get(t) != after.get(t)}
    assert changed <= {"ops_restoredrill", "core_auditentry", "core_auditcheckpoint"}
    assert after["ops_restoredrill"] == before["ops_restoredrill"] + 1
    assert sorted(Unit.objects.values_list("name_zh", flat=True)) == unit_names
    drill = RestoreDrill.objects.get()
    assert drill.result == "failed" and message in drill.error and not drill.tables
    assert path.read_bytes() == spoiled  # the backup file is not rewritten either
    assert not list((Path(services.backup_dir()) / ".work").iterdir())  # no decrypted leftovers


def test_a_tampered_table_in_the_expected_figures_fails_the_drill_naming_it(units, backup_env):
    backup = services.backup_create(kind="database")
    tables = dict(backup.tables)
    tables["core_unit"] = {"rows": tables["core_unit"]["rows"] + 1, "sm3": tables["core_unit"]["sm3"]}
    Backup.objects.filter(pk=backup.pk).update(tables=tables)
    with pytest.raises(CommandError) as caught:
        call_command("ops", "restore-drill", "--backup", str(backup.pk))
    assert caught.value.returncode == 1 and "core_unit" in str(caught.value)
    drill = RestoreDrill.objects.get()
    assert drill.result == "failed" and drill.mismatched == ["core_unit"] and not drill.error
    row = next(r for r in drill.tables if r["table"] == "core_unit")
    assert row["rows_expected"] == row["rows_restored"] + 1 and not row["match"]


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="re-crafts a SQLite dump")
def test_a_crafted_backup_with_one_altered_row_fails_the_drill_naming_the_table(units, backup_env):
    """A backup re-encrypted with the right key and consistent file checksums, but one row of
    core_unit changed inside the dump: only the per-table content checksum can catch it."""
    backup = services.backup_create(kind="database")
    key = services.backup_key()
    path = Path(services.backup_dir()) / backup.path
    plain, crafted = backup_env / "plain.sqlite3", backup_env / "crafted.gcbk"
    stream.decrypt_file(path, plain, key=key)
    db = sqlite3.connect(plain)
    db.execute("UPDATE core_unit SET name_zh = name_zh || '改' WHERE id = (SELECT MIN(id) FROM core_unit)")
    db.commit()
    db.close()
    sums = stream.encrypt_file(plain, crafted, key=key, chunk_size=4096)
    crafted.replace(path)
    Backup.objects.filter(pk=backup.pk).update(sm3_ciphertext=sums["sm3_ciphertext"],
                                               sm3_plaintext=sums["sm3_plaintext"], size=sums["size"])  # fmt: skip
    drill = services.restore_drill(backup=Backup.objects.get(pk=backup.pk))
    assert drill.result == "failed" and drill.mismatched == ["core_unit"], (drill.error, drill.mismatched)
    row = next(r for r in drill.tables if r["table"] == "core_unit")
    assert row["rows_expected"] == row["rows_restored"] and row["sm3_expected"] != row["sm3_restored"]


def test_a_replaced_backup_file_is_caught_by_its_recorded_checksum(units, backup_env):
    first = services.backup_create(kind="database")
    UnitFactory(name_zh="之后的单位")
    second = services.backup_create(kind="database")
    root = Path(services.backup_dir())
    (root / first.path).write_bytes((root / second.path).read_bytes())  # valid file, same key, wrong backup
    drill = services.restore_drill(backup=first)
    assert drill.result == "failed" and "SM3 differs" in drill.error


def test_the_drill_never_targets_the_live_database(backup_env, monkeypatch, tmp_path):
    live_name = str(connection.settings_dict["NAME"])
    with pytest.raises(services.DrillError, match="refused"):
        services.assert_scratch_target("postgresql", live_name)
    with pytest.raises(services.DrillError, match="refused"):
        services.assert_scratch_target("postgresql", "gc_anything")  # not a scratch name
    services.assert_scratch_target("postgresql", "govcenter_drill_20261127_abc")
    live_file = tmp_path / "live.sqlite3"
    live_file.touch()
    monkeypatch.setitem(connection.settings_dict, "NAME", str(live_file))
    with pytest.raises(services.DrillError, match="refused"):
        services.assert_scratch_target("sqlite", tmp_path / "." / "live.sqlite3")
    services.assert_scratch_target("sqlite", tmp_path / "restored.sqlite3")


def test_backup_of_a_sqlite_file_database_is_an_online_copy_in_one_snapshot(backup_env, monkeypatch, tmp_path):
    """The production path: a live SQLite *file* (WAL), read through a separate read-only
    connection; the copy and the figures agree and the live file is untouched."""
    live = tmp_path / "live.sqlite3"
    db = sqlite3.connect(live)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(1000)])
    db.commit()
    monkeypatch.setitem(connection.settings_dict, "NAME", str(live))
    monkeypatch.setattr(connection, "vendor", "sqlite")
    dump = tmp_path / "dump.sqlite3"
    captured = services._dump_sqlite(dump)
    assert captured == figures.sqlite_figures(sqlite3.connect(dump)) and captured["t"]["rows"] == 1000
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1000
    db.close()


def test_lake_manifest_backup_and_drill(backup_env, settings):
    import pyarrow as pa
    import pyarrow.parquet as pq

    settings.GOVCENTER_OPS_BACKUP_LAKE_DATA = True
    lake = Path(settings.GOVCENTER_LAKE_DIR)
    for dataset, n in (("trips", 30), ("telemetry", 12), ("parking/orders", 7)):
        part = lake / dataset / "date=2026-11-26" / "operator=mt"
        part.mkdir(parents=True)
        pq.write_table(pa.table({"x": list(range(n))}), part / "part-1.parquet")
    (lake / "parking" / "orders" / "_manifest.json").write_text('{"watermark": "2026-11-26T10:00:00+08:00"}')
    backup = services.backup_create(kind="lake")
    assert backup.engine == "lake" and backup.tables["trips"]["rows"] == 30 and backup.tables["telemetry"]["rows"] == 12
    assert backup.tables["parking/orders"]["rows"] == 7  # a nested data set counts on its own
    drill = services.restore_drill(backup=backup)
    assert drill.result == "passed", drill.error
    assert sorted(r["table"] for r in drill.tables) == [
        "(data set manifests)", "(manifest)", "parking/orders", "telemetry", "trips"]
    import shutil

    shutil.rmtree(lake)  # an empty (or absent) lake is a valid state: its manifest still restores
    empty_lake = services.backup_create(kind="lake")
    assert empty_lake.tables == {"(manifest)": {"rows": 0, "sm3": empty_lake.tables["(manifest)"]["sm3"]}}
    assert services.restore_drill(backup=empty_lake).result == "passed"


def test_no_key_in_production_refuses_to_back_up(backup_env, settings):
    settings.GOVCENTER_OPS_BACKUP_KEY = ""
    settings.DEBUG = False
    with pytest.raises(CommandError) as caught:
        call_command("ops", "backup", "--kind", "database")
    assert "GOVCENTER_OPS_BACKUP_KEY is not set" in str(caught.value)
    failed = Backup.objects.get()
    assert failed.state == "failed" and not failed.path and "GOVCENTER_OPS_BACKUP_KEY" in failed.error
    assert not [p for p in Path(services.backup_dir()).rglob("*.gcbk")]


def test_debug_generates_a_local_key_once(backup_env, settings):
    settings.GOVCENTER_OPS_BACKUP_KEY = ""
    settings.DEBUG = True
    settings.GOVCENTER_VAR_DIR = backup_env / "var"
    key = services.backup_key()
    assert len(key) == 16 and services.backup_key() == key
    assert (backup_env / "var" / "ops-backup.key").stat().st_mode & 0o777 == 0o600


def test_restore_drill_cli_bad_input(backup_env):
    for args, text in ((["--backup", "x1"], "must be an id"), (["--backup", "999"], "no backup #999"),
                       ([], "no good database backup")):  # fmt: skip
        with pytest.raises(CommandError) as caught:
            call_command("ops", "restore-drill", *args)
        assert caught.value.returncode == 2 and text in str(caught.value)


@pytest.mark.postgres
def test_postgresql_backup_and_drill_in_a_scratch_database_that_is_dropped(units, backup_env):
    import subprocess

    backup = services.backup_create(kind="database")
    assert backup.engine == "postgresql" and backup.path.endswith(".pgdump.gcbk")
    assert backup.tables["core_unit"]["rows"] == Unit.objects.count()
    drill = services.restore_drill(backup=backup)
    assert drill.result == "passed", (drill.error, drill.mismatched)
    assert drill.scratch_target.startswith("govcenter_drill_")
    params = services._pg_params()
    listed = subprocess.run(["psql", *services._pg_args(params), "-d", params["dbname"], "-tAc",
                             "SELECT datname FROM pg_database"], env=services._pg_env(params),
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert drill.scratch_target not in listed and params["dbname"] in listed
