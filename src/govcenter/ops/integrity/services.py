"""Web anti-tamper (网页防篡改): a signed baseline of the templates and static files, a check
against it, and the restore of every tampered file.

* :func:`baseline_create` walks the watched directories (:func:`watched_roots`), records path,
  size and SM3 of every file in a manifest (canonical JSON), signs it with the system SM2 key
  and copies every file into the baseline store under the var dir, content-addressed by SM3
  (identical files are stored once). Re-baselining is a release step: audited, secadmin only.
* :func:`integrity_check` first verifies the manifest (its SM3 and its SM2 signature, by a
  trusted key only — never the key stored next to it): a tampered manifest is alerted and
  nothing is restored from it. Then it hashes every file — all of them, every time: a tamperer
  can keep mtime and size, so a shortcut on them would be a hole. A modified or missing file is
  restored from the store (temporary file + ``os.replace``, so a reader never sees half a
  file), the tampered version kept in the quarantine for forensics; a file that is not in the
  baseline is moved to the quarantine (or only reported, per setting). Every finding raises an
  alert through ``incidents.incidents_from_alerts`` (one fingerprint per path: the same file
  tampered again while its incident is open is not a second fault) and the check, and every
  restore, is written to the audit chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, crypto
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3_hex

from ..models import CheckStatus, IntegrityBaseline, IntegrityCheck

CHUNK = 1 << 20
SIGN_PREFIX = b"govcenter-integrity-manifest:v1:"
# Alert severity label per finding, and the map incidents_from_alerts takes.
SEVERITY_OF = {"manifest": "critical", "modified": "major", "missing": "major", "added": "warning", "store": "critical"}
SEVERITIES = {"critical": "S1", "major": "S2", "warning": "S3"}


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def watched_roots() -> dict[str, Path]:
    """``{label: directory}`` the baseline covers: ``GOVCENTER_OPS_INTEGRITY_DIRS`` when set,
    else every ``templates/`` and ``static/`` folder of the installed govcenter apps and the
    collected STATIC_ROOT (when present)."""
    configured = list(getattr(settings, "GOVCENTER_OPS_INTEGRITY_DIRS", []) or [])
    if configured:
        return {str(Path(d).resolve()): Path(d).resolve() for d in configured}
    roots: dict[str, Path] = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("govcenter."):
            continue
        for sub in ("templates", "static"):
            path = Path(config.path) / sub
            if path.is_dir():
                roots[f"{config.label}:{sub}"] = path.resolve()
    static_root = getattr(settings, "STATIC_ROOT", None)
    if static_root and Path(static_root).is_dir():
        roots["STATIC_ROOT"] = Path(static_root).resolve()
    return roots


def store_dir() -> Path:
    configured = getattr(settings, "GOVCENTER_OPS_INTEGRITY_STORE", "")
    return Path(configured) if configured else Path(settings.GOVCENTER_VAR_DIR) / "integrity"


def _object_path(digest: str) -> Path:
    return store_dir() / "objects" / digest[:2] / digest


def _walk(root: Path):
    """Every regular file under ``root`` (relative POSIX paths, sorted); symlinks not followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            yield full.relative_to(root).as_posix(), full


def _hash_file(path: Path) -> tuple[str, int]:
    """(SM3 hex, size) of a file, streamed (core.crypto.sm3 takes whole bytes; same library)."""
    h = hashes.Hash(hashes.SM3())
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.finalize().hex(), size


def _atomic_write(target: Path, source: Path) -> None:
    """Copy ``source`` over ``target`` through a temporary file in the same folder + os.replace."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.restore")
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive():
    """One baseline or check at a time (the periodic task and a manual run may meet)."""
    store_dir().mkdir(parents=True, exist_ok=True)
    with open(store_dir() / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(_("另一个完整性检查或基线任务正在运行。"), code="busy", status=409) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# Baseline
# --------------------------------------------------------------------------------------------


def _canonical(manifest: dict) -> str:
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def baseline_create(*, actor, roots: dict[str, Path] | None = None) -> IntegrityBaseline:
    """Walk the watched directories (or ``roots``), store a pristine copy of every file and a
    signed manifest (audited). A release step: run it after deploying new templates or static
    files. The newest baseline is the one checks use."""
    roots = roots if roots is not None else watched_roots()
    if not roots:
        raise ServiceError(_("没有需要监控的目录。"), code="invalid")
    with _exclusive():
        files, total = [], 0
        for label, root in roots.items():
            if not root.is_dir():
                raise ServiceError(_("监控目录不存在：%(path)s") % {"path": root}, code="invalid")
            for rel, full in _walk(root):
                digest, size = _hash_file(full)
                obj = _object_path(digest)
                if not obj.exists():
                    _atomic_write(obj, full)
                    if _hash_file(obj)[0] != digest:  # the file changed while we copied it
                        obj.unlink(missing_ok=True)
                        raise ServiceError(_("文件在建立基线时被修改：%(path)s") % {"path": full}, code="conflict",
                                           status=409)  # fmt: skip
                files.append([label, rel, size, digest])
                total += size
        created = timezone.now()
        manifest = {"version": 1, "created_at": created.isoformat(), "roots": {k: str(v) for k, v in roots.items()},
                    "files": files}  # fmt: skip
        text = _canonical(manifest)
        private_pem, public_pem = crypto.system_keypair()
        signature = crypto.sm2_sign(private_pem, SIGN_PREFIX + text.encode()).hex()
        with transaction.atomic():
            baseline = IntegrityBaseline.objects.create(
                created_at=created, created_by=actor if getattr(actor, "pk", None) else None, file_count=len(files),
                total_bytes=total, manifest=text, manifest_digest=sm3_hex(text.encode()), signature=signature,
                public_key=public_pem,
            )  # fmt: skip
            audit.record(action="ops.integrity.baseline", obj=baseline,
                         changes={"after": {"files": len(files), "bytes": total, "roots": sorted(roots),
                                            "manifest_digest": baseline.manifest_digest}})  # fmt: skip
    return baseline


def manifest_problem(baseline: IntegrityBaseline) -> str:
    """Why the baseline's manifest cannot be trusted, or ``""``."""
    if sm3_hex(baseline.manifest.encode()) != baseline.manifest_digest:
        return "manifest digest mismatch"
    if baseline.public_key.strip() not in audit.trusted_public_keys():
        return "signed by a key that is not trusted"
    try:
        ok = crypto.sm2_verify(baseline.public_key, SIGN_PREFIX + baseline.manifest.encode(),
                               bytes.fromhex(baseline.signature))  # fmt: skip
    except (ValueError, crypto.CryptoError):
        return "unreadable signature or key"
    return "" if ok else "SM2 signature does not verify"


# --------------------------------------------------------------------------------------------
# Check
# --------------------------------------------------------------------------------------------


@dataclass
class _Finding:
    path: str
    kind: str
    expected: str = ""
    found: str = ""
    restored: bool = False
    quarantined: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _quarantine(source: Path, label: str, rel: str, stamp: str, *, move: bool) -> str:
    """Keep the tampered (or unknown) file for forensics; returns its quarantine path."""
    safe_label = label.replace("/", "_").replace(":", "_").strip("_") or "root"
    target = store_dir() / "quarantine" / stamp / safe_label / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        shutil.move(source, target)
    else:
        shutil.copy2(source, target)
    return str(target)


def _restore(full: Path, digest: str) -> str:
    """Restore ``full`` from the store; returns an error text or ``""``."""
    obj = _object_path(digest)
    if not obj.is_file():
        return "baseline copy missing from the store"
    if _hash_file(obj)[0] != digest:
        return "baseline copy in the store is corrupt"
    _atomic_write(full, obj)
    return ""


def _alert(findings: list[_Finding], *, started: dt.datetime) -> tuple[list[str], str]:
    """One firing alert per finding, fingerprint per path; returns (incident numbers, error)."""
    from govcenter.ops import incidents

    unit = getattr(settings, "GOVCENTER_OPS_INTEGRITY_ALERT_UNIT", "")
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "WebTamper", "severity": SEVERITY_OF[f.kind], "unit": unit, "path": f.path[:300]},
            "annotations": {
                "summary": (_("网页防篡改：%(kind)s %(path)s") % {"kind": f.kind, "path": f.path})[:200],
                "description": json.dumps(f.as_dict(), ensure_ascii=False)[:2000],
            },
            "startsAt": started,
            "fingerprint": "integrity-" + sm3_hex(f.path.encode())[:32],
        }
        for f in findings
    ]
    try:
        # The system raises the alert: full scope, the contractor's unit from the setting.
        opened, existing = incidents.incidents_from_alerts(actor=incidents.SYSTEM, alerts=alerts, severities=SEVERITIES)
    except ServiceError as exc:
        return [], f"{exc.detail} {json.dumps(exc.details, ensure_ascii=False)}"[:300]
    return opened + existing, ""


def integrity_check(*, restore: bool = True, trigger: str = "cli") -> IntegrityCheck:
    """Verify the manifest, hash every watched file, restore what was tampered (unless
    ``restore`` is False), quarantine added files, alert and audit. Returns the check row."""
    baseline = IntegrityBaseline.objects.first()
    if baseline is None:
        raise ServiceError(_("还没有防篡改基线，请先建立基线。"), code="no_baseline", status=409)
    started = timezone.now()
    clock = time.perf_counter()
    findings: list[_Finding] = []
    checked = hashed = 0
    with _exclusive():
        problem = manifest_problem(baseline)
        if problem:
            findings.append(_Finding(path=f"baseline #{baseline.pk}", kind="manifest", expected=baseline.manifest_digest,
                                     found=sm3_hex(baseline.manifest.encode()), error=problem))  # fmt: skip
        else:
            stamp = started.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
            manifest = json.loads(baseline.manifest)
            roots = {label: Path(path) for label, path in manifest["roots"].items()}
            known: dict[str, set[str]] = {label: set() for label in roots}
            for label, rel, size, digest in manifest["files"]:
                known[label].add(rel)
                full = roots[label] / rel
                checked += 1
                if not full.is_file():
                    finding = _Finding(path=str(full), kind="missing", expected=digest)
                else:
                    found, found_size = _hash_file(full)
                    hashed += found_size
                    if found == digest and found_size == size:
                        continue
                    finding = _Finding(path=str(full), kind="modified", expected=digest, found=found)
                    finding.quarantined = _quarantine(full, label, rel, stamp, move=False)
                if restore:
                    finding.error = _restore(full, digest)
                    finding.restored = not finding.error
                findings.append(finding)
            move_added = bool(getattr(settings, "GOVCENTER_OPS_INTEGRITY_QUARANTINE_ADDED", True))
            for label, root in roots.items():
                if not root.is_dir():
                    continue
                for rel, full in _walk(root):
                    # No exemption by name (not even our own temporary files): a name is no proof.
                    if rel in known[label]:
                        continue
                    found, found_size = _hash_file(full)
                    hashed += found_size
                    finding = _Finding(path=str(full), kind="added", found=found)
                    finding.quarantined = _quarantine(full, label, rel, stamp, move=move_added and restore)
                    finding.restored = move_added and restore  # removed from the served folder
                    findings.append(finding)
    finished = timezone.now()
    status = CheckStatus.REFUSED if problem else (CheckStatus.MISMATCH if findings else CheckStatus.OK)
    with transaction.atomic():
        check = IntegrityCheck.objects.create(
            baseline=baseline, started_at=started, finished_at=finished, status=status, trigger=trigger[:10],
            restore=restore, files_checked=checked, bytes_hashed=hashed,
            duration_ms=int((time.perf_counter() - clock) * 1000), mismatches=[f.as_dict() for f in findings],
        )  # fmt: skip
        audit.record(action="ops.integrity.check", obj=check, success=not findings,
                     changes={"after": {"status": status, "files": checked, "bytes": hashed,
                                        "mismatches": len(findings), "duration_ms": check.duration_ms}})  # fmt: skip
        for f in findings:
            if f.kind in ("modified", "missing", "added", "manifest"):
                audit.record(action=f"ops.integrity.{f.kind}", object_type="ops.webfile", object_id=sm3_hex(f.path.encode())[:64],
                             object_repr=f.path[-200:], success=f.restored, changes={"after": f.as_dict()},
                             reason=f.error)  # fmt: skip
    if findings:
        numbers, error = _alert(findings, started=started)
        IntegrityCheck.objects.filter(pk=check.pk).update(incidents=numbers, alert_error=error)
        check.incidents, check.alert_error = numbers, error
    return check


def integrity_overview(*, checks: int = 20) -> dict:
    """The current baseline, the last ``checks`` checks (read)."""
    return {
        "baseline": IntegrityBaseline.objects.select_related("created_by").first(),
        "checks": list(IntegrityCheck.objects.select_related("baseline")[:checks]),
    }
