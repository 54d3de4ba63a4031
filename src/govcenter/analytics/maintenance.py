"""Lake upkeep: nightly compaction and slimming (系统瘦身), audited, with a status summary.

The lake modules (``lake.compaction``, ``lake.retention``) do the work on an explicit root;
this module runs them on the configured lake (``lake.config``) for the CLI
(``govcenter lake``) and the nightly Huey task (``analytics.tasks``), and records each run
that changed something in the audit chain with its bytes before and after.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone

from govcenter.core import audit

from .lake.compaction import compact
from .lake.config import lake_root, raw_telemetry_days
from .lake.files import data_files, dataset_bytes, partitions
from .lake.retention import slim
from .lake.schemas import DATASETS, get_spec

AUDIT_OBJECT = "analytics.lake"


def _root(root: Path | str | None) -> Path:
    return Path(root) if root is not None else lake_root()


def lake_status(root: Path | str | None = None) -> dict:
    """Per data set: partitions, data files, bytes, first and last date."""
    root = _root(root)
    result = {}
    for name in DATASETS:
        parts = partitions(root, name)
        dates = sorted({p.date for p in parts})
        result[name] = {
            "partitions": len(parts),
            "files": sum(len(data_files(p.path)) for p in parts),
            "bytes": dataset_bytes(root, name),
            "first_date": dates[0] if dates else None,
            "last_date": dates[-1] if dates else None,
        }
    return {"root": str(root), "datasets": result}


def lake_compact(
    dataset: str | None = None, date: str | dt.date | None = None, *, root: Path | str | None = None
) -> dict:
    """Compact one data set (or all) for one Beijing date (or all dates); audited if it changed files."""
    root = _root(root)
    names = [get_spec(dataset).name] if dataset else list(DATASETS)
    reports = {name: compact(root, name, date).as_dict() for name in names}
    summary = {
        name: {k: r[k] for k in ("files_before", "files_after", "bytes_before", "bytes_after", "rows_after")}
        for name, r in reports.items()
    }
    if any(s["files_before"] != s["files_after"] for s in summary.values()):
        audit.record(
            action="lake.compact",
            object_type=AUDIT_OBJECT,
            object_id=dataset or "*",
            object_repr=f"lake compaction {date or 'all dates'}",
            changes={"date": str(date) if date else None, "datasets": summary},
        )
    return {"root": str(root), "date": str(date) if date else None, "datasets": reports}


def lake_slim(
    *, today: dt.date | None = None, days: int | None = None, root: Path | str | None = None
) -> dict:
    """Downsample raw telemetry older than ``days`` Beijing dates to hourly rows; audited if it did."""
    root = _root(root)
    today = today or timezone.localdate()
    days = raw_telemetry_days() if days is None else days
    report = slim(root, today=today, raw_telemetry_days=days).as_dict()
    if report["partitions_downsampled"]:
        audit.record(
            action="lake.slim",
            object_type=AUDIT_OBJECT,
            object_id="telemetry",
            object_repr=f"raw telemetry before {report['cutoff']} downsampled",
            changes={k: v for k, v in report.items() if k != "partitions_downsampled"}
            | {"partitions": len(report["partitions_downsampled"])},
        )
    return {"root": str(root), "raw_telemetry_days": days, **report}


def lake_nightly(today: dt.date | None = None, *, root: Path | str | None = None) -> dict:
    """What the nightly task runs: compact every data set (partitions with one file are skipped), then slim."""
    return {"compact": lake_compact(root=root), "slim": lake_slim(today=today, root=root)}
