"""Backups and restore drills.

- :func:`backup_create` — the live database (SQLite online backup / ``pg_dump -Fc``) or the lake
  manifest (a tar), with the figures of every table taken in the same snapshot, encrypted into
  the chunked SM4 format (``stream``), checksummed with SM3, recorded (audited) as a ``Backup``.
- :func:`restore_drill` — decrypts a backup into a scratch target (a file in a temporary
  directory, or a fresh ``govcenter_drill_*`` PostgreSQL database, always dropped), compares
  every table with the figures captured at backup time, records a ``RestoreDrill`` (audited).
  A wrong key, a corrupt or truncated file is a failed drill with a clear error; the live
  database is never a target (:func:`assert_scratch_target`).
- :func:`backups_prune` — retention (daily / weekly / monthly), files and rows, audited.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from govcenter.core import audit

from ..models import Backup, BackupEngine, BackupKind, BackupState, DrillResult, RestoreDrill
from . import figures as fig
from . import stream

logger = logging.getLogger(__name__)

KEY_FILENAME = "ops-backup.key"
DRILL_DB_PREFIX = "govcenter_drill_"
LAKE_MANIFEST = "manifest.json"
PG_TIMEOUT_S = 6 * 3600  # a dump or restore that runs longer than this is stuck, not slow


class BackupError(Exception):
    """A backup could not be made, or a drill could not even start (configuration)."""


class DrillError(Exception):
    """A restore drill failed before the comparison: wrong key, corrupt or truncated file …"""


# ------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------


def backup_dir() -> Path:
    """The directory backup files live in (``Backup.path`` is relative to it)."""
    return Path(settings.GOVCENTER_OPS_BACKUP_DIR)


def backup_key() -> bytes:
    """The SM4 key: ``GOVCENTER_OPS_BACKUP_KEY`` (32 hex digits). With DEBUG (the embedded
    default) and no key set, a random key in ``<var>/ops-backup.key`` (0600), created once;
    never in production, where a key that lives next to its backups protects nothing."""
    configured = (getattr(settings, "GOVCENTER_OPS_BACKUP_KEY", "") or "").strip()
    if configured:
        try:
            key = bytes.fromhex(configured)
        except ValueError:
            key = b""
        if len(key) != 16:
            raise BackupError("GOVCENTER_OPS_BACKUP_KEY must be 32 hex digits (a 16-byte SM4 key)")
        return key
    if not settings.DEBUG:
        raise BackupError("GOVCENTER_OPS_BACKUP_KEY is not set (a 16-byte SM4 key as 32 hex digits)")
    path = Path(settings.GOVCENTER_VAR_DIR) / KEY_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a temporary name, then linked: a racing second process uses ours.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(16))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) != 16:
        raise BackupError(f"{path} does not hold a 16-byte key")
    return key


def live_engine() -> str:
    vendor = connection.vendor
    if vendor == "sqlite":
        return BackupEngine.SQLITE
    if vendor == "postgresql":
        return BackupEngine.POSTGRESQL
    raise BackupError(f"backups of a {vendor} database are not supported")


def _pg_params() -> dict:
    db = connection.settings_dict
    return {"host": db.get("HOST") or "", "port": str(db.get("PORT") or ""), "user": db.get("USER") or "",
            "password": db.get("PASSWORD") or "", "dbname": db["NAME"]}  # fmt: skip


def _pg_env(params: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if params["password"]:
        env["PGPASSWORD"] = params["password"]  # never on the command line (ps would show it)
    return env


def _pg_tool(name: str) -> str:
    """The absolute path of a PostgreSQL client program (pg_dump 15 and friends)."""
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (PostgreSQL client programs are needed)")
    return found


def _run(cmd: list[str], params: dict, *, check: bool = False) -> subprocess.CompletedProcess:
    # Our own argument list, no shell; the password travels in the environment only.
    return subprocess.run(cmd, env=_pg_env(params), capture_output=True, text=True, timeout=PG_TIMEOUT_S,  # noqa: S603
                          check=check)  # fmt: skip


def _pg_args(params: dict) -> list[str]:
    args = []
    for flag, name in (("-h", "host"), ("-p", "port"), ("-U", "user")):
        if params[name]:
            args += [flag, params[name]]
    return args


def _sqlite_live_file() -> Path | None:
    """The live SQLite file, or None for an in-memory database (the test suite's)."""
    name = str(connection.settings_dict["NAME"])
    if name.startswith("file:") or name == ":memory:" or "mode=memory" in name:
        return None
    return Path(name).resolve()


def assert_scratch_target(engine: str, target: str | Path) -> None:
    """Refuse a restore target that is (or could be) the live database."""
    if engine == BackupEngine.POSTGRESQL:
        live = {str(db.get("NAME")) for db in settings.DATABASES.values()} | {str(connection.settings_dict["NAME"])}
        if str(target) in live or not str(target).startswith(DRILL_DB_PREFIX):
            raise DrillError(f"refused: the scratch database {target!r} is not a {DRILL_DB_PREFIX}* scratch name "
                             "or is the live database")  # fmt: skip
    else:
        path = Path(target).resolve()
        live = _sqlite_live_file()
        names = {Path(str(db.get("NAME"))).resolve() for db in settings.DATABASES.values() if db.get("NAME")}
        if (live is not None and path == live) or path in names:
            raise DrillError(f"refused: the scratch file {path} is the live database")


# ------------------------------------------------------------------------------------------
# Dumps
# ------------------------------------------------------------------------------------------


def _dump_sqlite(dst: Path) -> dict:
    """Online backup (``sqlite3.Connection.backup``) of the live database into ``dst``, and the
    figures of every table read in the same read transaction as the copy."""
    target = sqlite3.connect(dst)
    try:
        live = _sqlite_live_file()
        if live is not None:
            src = sqlite3.connect(f"file:{quote(str(live))}?mode=ro", uri=True, isolation_level=None)
            try:
                # One read transaction: the figures and the copied pages see the same snapshot
                # (backup() on the source connection reads inside its open transaction).
                src.execute("BEGIN")
                figures = fig.sqlite_figures(src)
                src.backup(target)
                src.execute("COMMIT")
            finally:
                src.close()
        else:
            # An in-memory database (tests) is reachable through this process's connection
            # only. SQLite refuses to back up from a connection that holds a write
            # transaction (backup_step answers SQLITE_LOCKED, forever), and Django's atomic()
            # begins IMMEDIATE here: so a plain deferred read transaction, outside any atomic.
            if connection.in_atomic_block:
                raise BackupError("an in-memory SQLite database cannot be backed up from inside a transaction")
            connection.ensure_connection()
            raw = connection.connection
            raw.execute("BEGIN DEFERRED")
            try:
                figures = fig.sqlite_figures(raw)
                raw.backup(target)
            finally:
                raw.execute("COMMIT")
        target.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
    finally:
        target.close()
    return figures


def _dump_postgres(dst: Path) -> dict:
    """``pg_dump -Fc`` of the live database at a snapshot exported by our own REPEATABLE READ
    transaction, in which the figures of every table are read too: dump and figures agree."""
    import psycopg

    params = _pg_params()
    conn = psycopg.connect(host=params["host"] or None, port=params["port"] or None, user=params["user"] or None,
                           password=params["password"] or None, dbname=params["dbname"])  # fmt: skip
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        figures = fig.postgres_figures(conn)
        cmd = [_pg_tool("pg_dump"), "-Fc", f"--snapshot={snapshot}", "--no-password", *_pg_args(params), "-f", str(dst),
               params["dbname"]]  # fmt: skip
        done = _run(cmd, params)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {(done.stderr or '').strip().splitlines()[-1:] or done.returncode}")
        conn.rollback()
    finally:
        conn.close()
    return figures


def _lake_root() -> Path:
    from govcenter.analytics.lake.config import lake_root

    return lake_root()


def lake_manifest(root: Path) -> dict:
    """Every Parquet file of the lake: dataset, path, size, SM3, rows (from the footer)."""
    import pyarrow.parquet as pq

    files, manifests = [], []
    if root.is_dir():
        for path in sorted(root.rglob("*.parquet")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue  # writers' temporary files
            rel = path.relative_to(root).as_posix()
            files.append({"dataset": _dataset_of(rel), "path": rel, "size": path.stat().st_size,
                          "sm3": stream.file_sm3(path), "rows": pq.ParquetFile(path).metadata.num_rows})  # fmt: skip
        # The data sets' own manifests (which file is live per partition, watermarks): kept whole.
        for path in sorted(root.rglob("_manifest.json")):
            rel = path.relative_to(root).as_posix()
            if not any(part.startswith(".") for part in path.relative_to(root).parts):
                manifests.append({"path": rel, "size": path.stat().st_size, "sm3": stream.file_sm3(path)})
    return {"format": 1, "root": str(root), "files": files, "manifests": manifests}


def _dataset_of(rel: str) -> str:
    """The data set of a lake file: its folders before the first ``key=value`` partition
    (``trips``, ``parking/orders``)."""
    folders = rel.split("/")[:-1]
    head = []
    for folder in folders:
        if "=" in folder:
            break
        head.append(folder)
    return "/".join(head) or (folders[0] if folders else rel)


MANIFESTS = "(data set manifests)"


def lake_figures(manifest: dict) -> dict[str, dict]:
    """Per data set: the rows of its files and SM3 over its sorted file lines; and the same
    over every file as ``(manifest)``."""
    from cryptography.hazmat.primitives import hashes

    everything = hashes.Hash(hashes.SM3())
    for f in sorted(manifest["files"], key=lambda f: f["path"]):
        everything.update(f"{f['path']}\t{f['size']}\t{f['sm3']}\t{f['rows']}\n".encode())
    # "(manifest)": the whole file list, so even an empty lake has one figure to compare.
    out = {"(manifest)": {"rows": len(manifest["files"]), "sm3": everything.finalize().hex()}}
    by_set: dict[str, list[dict]] = {}
    for f in manifest["files"]:
        by_set.setdefault(f["dataset"], []).append(f)
    for name, files in sorted(by_set.items()):
        h = hashes.Hash(hashes.SM3())
        for f in sorted(files, key=lambda f: f["path"]):
            h.update(f"{f['path']}\t{f['size']}\t{f['sm3']}\t{f['rows']}\n".encode())
        out[name] = {"rows": sum(f["rows"] for f in files), "sm3": h.finalize().hex()}
    if manifest.get("manifests"):
        h = hashes.Hash(hashes.SM3())
        for m in sorted(manifest["manifests"], key=lambda m: m["path"]):
            h.update(f"{m['path']}\t{m['size']}\t{m['sm3']}\n".encode())
        out[MANIFESTS] = {"rows": len(manifest["manifests"]), "sm3": h.finalize().hex()}
    return out


def _dump_lake(dst: Path) -> dict:
    root = _lake_root()
    manifest = lake_manifest(root)
    data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    with tarfile.open(dst, "w") as tar:
        info = tarfile.TarInfo(LAKE_MANIFEST)
        info.size, info.mtime = len(data), int(timezone.now().timestamp())
        tar.addfile(info, io.BytesIO(data))
        for m in manifest["manifests"]:
            tar.add(root / m["path"], arcname=f"manifests/{m['path']}", recursive=False)
        if settings.GOVCENTER_OPS_BACKUP_LAKE_DATA:
            for f in manifest["files"]:
                tar.add(root / f["path"], arcname=f"data/{f['path']}", recursive=False)
    return lake_figures(manifest)


# ------------------------------------------------------------------------------------------
# Backups
# ------------------------------------------------------------------------------------------


def _work_dir() -> Path:
    work = backup_dir() / ".work"
    work.mkdir(parents=True, exist_ok=True)
    return work


def backup_create(*, kind: str, actor=None, now: dt.datetime | None = None) -> Backup:
    """Make one backup of ``kind`` (database or lake) and record it (audited). A failure is
    recorded as a failed backup (audited, no file left behind) and raised as BackupError."""
    if kind not in BackupKind.values:
        raise BackupError(f"unknown backup kind {kind!r} (database or lake)")
    started = now or timezone.now()
    engine = live_engine() if kind == BackupKind.DATABASE else BackupEngine.LAKE
    suffix = {"sqlite": "sqlite3", "postgresql": "pgdump", "lake": "tar"}[engine]
    local = timezone.localtime(started)
    rel = Path(kind) / f"{local:%Y}" / f"{kind}-{local:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}.{suffix}.gcbk"
    final = backup_dir() / rel
    key_id = ""
    try:
        key = backup_key()
        key_id = stream.key_id(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=_work_dir(), prefix="backup-") as tmp:
            plain = Path(tmp) / f"plain.{suffix}"
            dump = {"sqlite": _dump_sqlite, "postgresql": _dump_postgres, "lake": _dump_lake}[engine]
            tables = dump(plain)
            sums = stream.encrypt_file(plain, final, key=key,
                                       chunk_size=settings.GOVCENTER_OPS_BACKUP_CHUNK_KIB * 1024)  # fmt: skip
        finished = timezone.now() if now is None else started
        try:
            with transaction.atomic():
                backup = Backup.objects.create(
                    kind=kind, engine=engine, state=BackupState.OK, started_at=started, finished_at=finished,
                    path=rel.as_posix(), size=sums["size"], sm3_ciphertext=sums["sm3_ciphertext"],
                    sm3_plaintext=sums["sm3_plaintext"], key_id=key_id, tables=tables,
                    expires_at=started + dt.timedelta(days=settings.GOVCENTER_OPS_BACKUP_KEEP_DAILY),
                )  # fmt: skip
                audit.record(action="ops.backup.create", obj=backup, changes={"after": {
                    "kind": kind, "engine": engine, "path": backup.path, "size": backup.size,
                    "sm3_ciphertext": backup.sm3_ciphertext, "key_id": key_id, "tables": len(tables)}})  # fmt: skip
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        return backup
    except Exception as exc:
        final.unlink(missing_ok=True)
        message = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            failed = Backup.objects.create(kind=kind, engine=engine, state=BackupState.FAILED, started_at=started,
                                           finished_at=timezone.now() if now is None else started, key_id=key_id,
                                           error=message[:2000],
                                           expires_at=started + dt.timedelta(days=settings.GOVCENTER_OPS_BACKUP_KEEP_DAILY))  # fmt: skip
            audit.record(action="ops.backup.create", obj=failed, success=False, reason=message[:500])
        raise BackupError(message) from exc


# ------------------------------------------------------------------------------------------
# Restore drills
# ------------------------------------------------------------------------------------------


def latest_backup(kind: str = BackupKind.DATABASE) -> Backup | None:
    """The newest good backup of ``kind`` that has a file."""
    return Backup.objects.filter(kind=kind, state=BackupState.OK, historical=False).exclude(path="").first()


def _restore_sqlite(plain: Path, tmp: Path) -> tuple[str, dict]:
    scratch = tmp / "restored.sqlite3"
    assert_scratch_target(BackupEngine.SQLITE, scratch)
    plain.rename(scratch)
    try:
        conn = sqlite3.connect(f"file:{quote(str(scratch))}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise DrillError("the restored SQLite file fails PRAGMA quick_check")
            return str(scratch), fig.sqlite_figures(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DrillError(f"the restored file is not a readable SQLite database: {exc}") from None


def _pg_run(cmd: list[str], params: dict, what: str) -> None:
    try:
        cmd = [_pg_tool(cmd[0]), *cmd[1:]]
    except BackupError as exc:
        raise DrillError(str(exc)) from None
    done = _run(cmd, params)
    if done.returncode != 0:
        last = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise DrillError(f"{what} failed: {last[0]}")


def _restore_postgres(plain: Path, started: dt.datetime) -> tuple[str, dict]:
    import psycopg

    params = _pg_params()
    scratch = f"{DRILL_DB_PREFIX}{timezone.localtime(started):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    assert_scratch_target(BackupEngine.POSTGRESQL, scratch)
    base = _pg_args(params)
    _pg_run(["createdb", "--no-password", *base, scratch], params, "createdb")
    try:
        _pg_run(["pg_restore", "--no-password", "--exit-on-error", "--no-owner", "--no-privileges", *base,
                 "-d", scratch, str(plain)], params, "pg_restore")  # fmt: skip
        conn = psycopg.connect(host=params["host"] or None, port=params["port"] or None,
                               user=params["user"] or None, password=params["password"] or None, dbname=scratch)  # fmt: skip
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            figures = fig.postgres_figures(conn)
            conn.rollback()
        finally:
            conn.close()
    finally:
        # Always: a drill leaves no database behind, passed or failed.
        _run([_pg_tool("dropdb"), "--no-password", "--if-exists", *base, scratch], params)
    return scratch, figures


def _restore_lake(plain: Path, tmp: Path) -> tuple[str, dict]:
    target = tmp / "lake"
    assert_scratch_target(BackupEngine.LAKE, target)
    try:
        with tarfile.open(plain, "r") as tar:
            tar.extractall(target, filter="data")  # refuses absolute paths, .., links out
    except (tarfile.TarError, OSError) as exc:
        raise DrillError(f"the lake archive cannot be unpacked: {exc}") from None
    try:
        manifest = json.loads((target / LAKE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DrillError(f"the lake archive has no readable {LAKE_MANIFEST}: {exc}") from None
    for m in manifest.get("manifests", []):
        # The data sets' manifests always come along: their bytes must be what was listed.
        path = target / "manifests" / m["path"]
        m["sm3"] = stream.file_sm3(path) if path.is_file() else "missing"
    data = target / "data"
    if data.is_dir():
        # The files themselves came along: their bytes must be what the manifest says.
        for f in manifest["files"]:
            path = data / f["path"]
            if not path.is_file() or stream.file_sm3(path) != f["sm3"]:
                f["sm3"] = "missing" if not path.is_file() else stream.file_sm3(path)
    return str(target), lake_figures(manifest)


def restore_drill(*, backup: Backup, actor=None, now: dt.datetime | None = None) -> RestoreDrill:
    """Restore ``backup`` into a scratch target and compare every table with the figures
    captured at backup time; record the drill (audited) whatever happens. Never raises for
    a bad backup: a wrong key, a corrupt or truncated file gives a failed drill with ``error``."""
    started = now or timezone.now()
    scratch, rows, error = "", [], ""
    try:
        if backup.historical or not backup.path:
            raise DrillError("this backup is a metadata record without a file; nothing to restore")
        if backup.state != BackupState.OK:
            raise DrillError("this backup failed; nothing to restore")
        path = backup_dir() / backup.path
        if not path.is_file():
            raise DrillError(f"the backup file {backup.path} is missing")
        try:
            key = backup_key()
        except BackupError as exc:
            raise DrillError(str(exc)) from None
        with tempfile.TemporaryDirectory(dir=_work_dir(), prefix="drill-") as tmp_name:
            tmp = Path(tmp_name)
            plain = tmp / "plain"
            try:
                sums = stream.decrypt_file(path, plain, key=key)
            except stream.BackupFileError as exc:
                raise DrillError(str(exc)) from None
            if sums["sm3_ciphertext"] != backup.sm3_ciphertext:
                raise DrillError("the backup file's SM3 differs from the one recorded at backup time (replaced file)")
            if sums["sm3_plaintext"] != backup.sm3_plaintext:
                raise DrillError("the decrypted dump's SM3 differs from the one recorded at backup time")
            if backup.engine == BackupEngine.SQLITE:
                scratch, restored = _restore_sqlite(plain, tmp)
            elif backup.engine == BackupEngine.POSTGRESQL:
                if live_engine() != BackupEngine.POSTGRESQL:
                    raise DrillError("a PostgreSQL backup needs a PostgreSQL server to restore into")
                scratch, restored = _restore_postgres(plain, started)
            else:
                scratch, restored = _restore_lake(plain, tmp)
        rows = fig.compare(backup.tables or {}, restored)
    except DrillError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 (whatever broke, the drill is recorded as failed)
        logger.exception("restore drill of backup %s failed", backup.pk)
        error = f"{type(exc).__name__}: {exc}"
    mismatched = [r["table"] for r in rows if not r["match"]]
    passed = not error and not mismatched and bool(rows)
    if not error and not rows:
        error = "the backup holds no tables to compare"
    with transaction.atomic():
        drill = RestoreDrill.objects.create(
            backup=backup, backup_label=backup.path or f"#{backup.pk}", started_at=started,
            finished_at=timezone.now() if now is None else started, scratch_target=scratch,
            result=DrillResult.PASSED if passed else DrillResult.FAILED, tables=rows, mismatched=mismatched,
            error=error[:2000],
        )  # fmt: skip
        audit.record(action="ops.backup.drill", obj=drill, success=passed,
                     reason=error[:500] or (f"mismatch: {', '.join(mismatched)}"[:500] if mismatched else ""),
                     changes={"after": {"backup": backup.pk, "result": drill.result, "tables": len(rows),
                                        "mismatched": mismatched, "scratch": scratch}})  # fmt: skip
    return drill


# ------------------------------------------------------------------------------------------
# Retention
# ------------------------------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def retention_expiry(backups: list[Backup]) -> dict[int, dt.datetime]:
    """When each backup expires under the policy: every backup lives KEEP_DAILY days; the
    newest good backup of each day, ISO week and month (per kind) lives until its day, week or
    month is more than KEEP_DAILY days, KEEP_WEEKLY weeks or KEEP_MONTHLY months old."""
    daily, weekly, monthly = (settings.GOVCENTER_OPS_BACKUP_KEEP_DAILY, settings.GOVCENTER_OPS_BACKUP_KEEP_WEEKLY,
                              settings.GOVCENTER_OPS_BACKUP_KEEP_MONTHLY)  # fmt: skip
    tz = timezone.get_current_timezone()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)

    out: dict[int, dt.datetime] = {}
    seen: set = set()
    for b in sorted(backups, key=lambda b: (b.started_at, b.pk), reverse=True):
        expiry = b.started_at + dt.timedelta(days=daily)
        if b.state == BackupState.OK:
            day = timezone.localtime(b.started_at).date()
            week = day - dt.timedelta(days=day.weekday())
            month = day.replace(day=1)
            for key, until in (
                (("d", b.kind, day), midnight(day + dt.timedelta(days=daily))),
                (("w", b.kind, week), midnight(week + dt.timedelta(weeks=weekly))),
                (("m", b.kind, month), midnight(_add_months(month, monthly))),
            ):
                if key not in seen:
                    seen.add(key)
                    expiry = max(expiry, until)
        out[b.pk] = expiry
    return out


def backups_prune(*, actor=None, now: dt.datetime | None = None) -> list[int]:
    """Delete the backups (rows and files) past their retention, audited one by one; update
    the expiry of the others. Returns the ids deleted. Drill records stay (their label too)."""
    moment = now or timezone.now()
    backups = list(Backup.objects.all())
    expiry = retention_expiry(backups)
    doomed = [b for b in backups if expiry[b.pk] <= moment]
    with transaction.atomic():
        for b in backups:
            if expiry[b.pk] > moment and b.expires_at != expiry[b.pk]:
                Backup.objects.filter(pk=b.pk).update(expires_at=expiry[b.pk])
        for b in doomed:
            audit.record(action="ops.backup.prune", obj=b, changes={"before": {
                "kind": b.kind, "state": b.state, "path": b.path, "started_at": b.started_at.isoformat(),
                "size": b.size, "sm3_ciphertext": b.sm3_ciphertext}})  # fmt: skip
        Backup.objects.filter(pk__in=[b.pk for b in doomed]).delete()
        paths = [backup_dir() / b.path for b in doomed if b.path]

        def remove_files() -> None:
            for path in paths:
                path.unlink(missing_ok=True)

        # Files go only once the rows are gone for good: a rollback leaves both in place.
        transaction.on_commit(remove_files)
    return [b.pk for b in doomed]



# ------------------------------------------------------------------------------------------
# Requests from the page (the work itself runs in the task queue, never in the request)
# ------------------------------------------------------------------------------------------


def backup_request(*, kind: str, actor) -> None:
    """立即备份: audit the request, then enqueue the backup (Huey; immediate in tests)."""
    if kind not in (*BackupKind.values, "all"):
        raise BackupError(f"unknown backup kind {kind!r}")
    with transaction.atomic():
        audit.record(action="ops.backup.request", object_type="ops.backup", changes={"after": {"kind": kind}})
    from .tasks import backup_now

    backup_now(kind, getattr(actor, "pk", None))


def drill_request(*, backup: Backup, actor) -> None:
    """恢复演练: audit the request, then enqueue the drill of ``backup``."""
    if backup.state != BackupState.OK or backup.historical or not backup.path:
        raise DrillError("only a good backup with a file can be restored")
    with transaction.atomic():
        audit.record(action="ops.backup.drill_request", obj=backup, changes={"after": {"backup": backup.pk}})
    from .tasks import drill_now

    drill_now(backup.pk, getattr(actor, "pk", None))
