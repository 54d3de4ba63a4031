"""``govcenter parking lake-sync [--dataset NAME] [--full]`` and ``govcenter parking lake-status``.

``lake-sync`` brings the parking data sets of the lake up to date with the OLTP tables
(parking/lake/sync.py: incremental by watermark, idempotent, partitions rewritten atomically)
and prints one JSON object per data set. ``lake-status`` prints the watermarks, lag and rows.
Bad input exits 2 with one line.
"""

from __future__ import annotations

import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("lake-sync", help="export changed parking facts to the lake (Parquet)")
    p.add_argument("--dataset", action="append", default=None, help="data set (repeatable; default all)")
    p.add_argument("--full", action="store_true", help="rebuild every partition, ignoring the watermark")
    p.add_argument("--no-cubes", action="store_true", help="do not refresh the statistics' daily cubes")
    p.set_defaults(handler=handle_sync)
    s = subparsers.add_parser("lake-status", help="watermark, lag and rows of the parking lake data sets")
    s.set_defaults(handler=handle_status)


def handle_sync(command, options: dict) -> None:
    from ...lake.sync import DATASETS, sync_all

    names = options.get("dataset") or list(DATASETS)
    for name in names:
        if name not in DATASETS:
            raise UsageError(f"--dataset {name!r}: use one of {', '.join(sorted(DATASETS))}")
    results = sync_all(full=bool(options.get("full")), datasets=names)
    command.stdout.write(json.dumps([r.as_dict() for r in results], ensure_ascii=False))
    if not options.get("no_cubes"):
        from ...stats2.cubes import refresh_all

        # The statistics' daily cubes follow the partitions just written (stderr: a summary).
        command.stderr.write("cubes: " + json.dumps(refresh_all(), ensure_ascii=False))


def handle_status(command, options: dict) -> None:
    from ...lake.sync import lake_status

    command.stdout.write(json.dumps(lake_status(), ensure_ascii=False))
