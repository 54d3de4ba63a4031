"""``govcenter search reindex [--kind K]`` and ``govcenter search query TEXT --user NAME``.

* ``reindex`` rebuilds the search documents of one registered kind (or all) and prints
  ``{"kind": count, …}``; audited.
* ``query`` prints the hits a user would get (their data scope applies), one JSON object per
  line — for support staff checking why something is (not) found.

Bad input (an unknown kind or user) exits 2 with one line.
"""

from __future__ import annotations

import json

from ... import audit
from ... import search as search_port
from ...context import acting_as
from ...models import User
from ..base import GovcenterCommand, UsageError


class Command(GovcenterCommand):
    help = "Full-text search: rebuild the index, or query it as a user."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        p = sub.add_parser("reindex", help="rebuild the search documents (all kinds, or --kind)")
        p.add_argument("--kind", default=None)
        p = sub.add_parser("query", help="the hits a user gets for TEXT")
        p.add_argument("text")
        p.add_argument("--user", required=True, help="username whose data scope applies")
        p.add_argument("--kind", action="append", default=None)
        p.add_argument("--limit", type=int, default=20)

    def handle(self, *args, **options):
        registered = search_port.kinds()
        for kind in [options.get("kind")] if isinstance(options.get("kind"), str) else options.get("kind") or []:
            if kind not in registered:
                raise UsageError(f"unknown search kind {kind!r}; registered: {', '.join(sorted(registered)) or '-'}")
        if options["action"] == "reindex":
            with acting_as(None, channel="cli"):
                counts = search_port.reindex(options.get("kind"))
                audit.record(action="search.reindex", object_type="search", changes=counts)
            self.stdout.write(json.dumps(counts, ensure_ascii=False))
            return
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise UsageError(f"no user {options['user']!r}")
        if not 1 <= options["limit"] <= 1000:
            raise UsageError("--limit must be 1–1000")
        total, hits = search_port.query(user, options["text"], kinds=options.get("kind"), limit=options["limit"])
        self.stdout.write(json.dumps({"total": total}))
        for hit in hits:
            self.stdout.write(json.dumps(hit.__dict__, ensure_ascii=False))
