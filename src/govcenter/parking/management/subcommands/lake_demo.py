"""``govcenter parking lake-demo``: a year of synthetic parking facts straight into the lake, DEBUG only.

``govcenter parking lake-demo [--days 365] [--orders-per-space 4.0] [--seed 0] [--end YYYY-MM-DD]
[--root DIR] [--dataset NAME …] [--replace] [--quiet]`` writes the data sets of
``parking/lake/synthetic.py`` over the network of the loaded scale demo (load it first with
``govcenter parking demo --spaces 90000 --days 1``): the layout and manifests ``lake-sync``
writes, so the statistics pages read them. ``--root`` defaults to the configured lake's
``parking`` directory; a data set that already has files there is refused unless
``--replace`` (which deletes them: a ``lake-sync --full`` would replace the synthetic files
with the OLTP rows anyway). Prints one JSON object (rows, partitions, bytes per data set).
"""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings

from govcenter.core.management.base import UsageError

MAX_DAYS, MAX_ORDERS_PER_SPACE = 731, 30.0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lake-demo",
        help="write a year of synthetic parking facts into the lake over the scale demo's network (DEBUG only)",
    )
    p.add_argument("--days", type=int, default=365, help="days of facts (default 365)")
    p.add_argument("--end", default=None, help="last day YYYY-MM-DD (default yesterday)")
    p.add_argument(
        "--orders-per-space", type=float, default=4.0, help="stays per space per day (default 4.0)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--root", default=None, help="the lake's parking directory (default the configured lake's)"
    )
    p.add_argument("--dataset", action="append", default=None, help="data set (repeatable; default all)")
    p.add_argument("--replace", action="store_true", help="delete the data sets' files there first")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=handle_lake_demo)


def handle_lake_demo(command, options: dict) -> None:
    from ...lake.synthetic import GENERATORS, SyntheticLakeExistsError, generate_year, network_from_db

    if not settings.DEBUG:
        raise UsageError("parking lake-demo: refusing to write demo data while DEBUG is off")
    days, per_space = options["days"], options["orders_per_space"]
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days {days}: give 1 to {MAX_DAYS}")
    if not 0 < per_space <= MAX_ORDERS_PER_SPACE:
        raise UsageError(
            f"--orders-per-space {per_space}: give more than 0 and at most {MAX_ORDERS_PER_SPACE:g}"
        )
    end = None
    if options["end"]:
        try:
            end = dt.date.fromisoformat(options["end"])
        except ValueError:
            raise UsageError(f"--end {options['end']!r}: use YYYY-MM-DD") from None
    for name in options["dataset"] or []:
        if name not in GENERATORS:
            raise UsageError(f"--dataset {name!r}: use one of {', '.join(sorted(GENERATORS))}")
    try:
        net = network_from_db()
        counts = generate_year(
            net,
            root=options["root"],
            days=days,
            end=end,
            orders_per_space=per_space,
            seed=options["seed"],
            datasets=options["dataset"],
            replace=options["replace"],
            progress=None if options["quiet"] else (lambda text: command.stderr.write(text)),
        )
    except (SyntheticLakeExistsError, ValueError) as exc:
        raise UsageError(f"parking lake-demo: {exc}") from None
    command.stdout.write(json.dumps({"spaces": len(net), **counts}, ensure_ascii=False))
