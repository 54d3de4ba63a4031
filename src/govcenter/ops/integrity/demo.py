"""Demo data of web anti-tamper and the log audit.

* ``load_small_demo`` (``make run``): a baseline of the real templates and static files
  (~200 files, a few MB, ~1 s) and one check against it. Loaded once.
* ``load_demo`` (``govcenter ops demo``): a quarter of application log records from four
  hosts (warnings, errors, login failures and API refusals with user, action and object) in
  bulk through the ingest service, and one tampering incident that really happens: a demo web
  root under the var dir is baselined, one page is defaced, the check restores it, quarantines
  the defaced copy, opens the incident and audits it. Then the real baseline is taken again, so
  it stays the current one.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govcenter.core.context import acting_as
from govcenter.core.models import User

from ..logaudit import services as logs
from ..models import IntegrityBaseline, IntegrityCheck, LogRecord
from . import services

DEMO_HOSTS = ("app1", "app2", "web1", "etl1")
DEMO_APP = "govcenter-demo"


def load_small_demo() -> dict[str, int]:
    if IntegrityBaseline.objects.exists():
        return {}
    secadmin = User.objects.filter(username="secadmin").first()
    with acting_as(secadmin, channel="demo"):
        baseline = services.baseline_create(actor=secadmin)
        check = services.integrity_check(restore=True, trigger="demo")
    return {"integrity_files": baseline.file_count, "integrity_checks": 1 if check else 0}


MESSAGES = [
    ("WARNING", "django.request", "Bad Request: /api/v1/parking/orders", "http.400", "", ""),
    ("WARNING", "django.request", "Forbidden: /ops/logs/", "http.403", "", ""),
    ("WARNING", "govcenter.core.auth", "login failed: wrong password", "login.fail", "core.user", ""),
    ("WARNING", "govcenter.parking.payments", "payment callback retried", "payment.retry", "parking.payment", ""),
    ("ERROR", "govcenter.bikeshare.ingest", "operator push rejected: schema violation", "mds.reject", "bikeshare.trip", ""),
    ("ERROR", "django.request", "Internal Server Error: /api/v1/parking/receipts", "http.500", "", ""),
    ("INFO", "govcenter.core.audit", "daily checkpoint signed", "audit.checkpoint", "", ""),
    ("CRITICAL", "govcenter.analytics", "lake compaction failed: disk full", "lake.compact", "", ""),
]
WEIGHTS = [30, 8, 12, 10, 5, 3, 1, 1]


def _log_rows(days: int, now: dt.datetime, per_day: int) -> list[dict]:
    rnd = random.Random(20261127)  # noqa: S311  (repeatable demo data, not a secret)
    users = list(User.objects.values_list("pk", "username")[:20]) or [(None, "")]
    rows = []
    for day in range(days):
        for _ in range(per_day):
            level, logger, message, action, object_type, _oid = rnd.choices(MESSAGES, WEIGHTS)[0]
            uid, uname = rnd.choice(users)
            rows.append({
                "ts": now - dt.timedelta(days=day, seconds=rnd.randrange(86_400)), "level": level, "logger": logger,
                "message": message, "request_id": f"{rnd.getrandbits(64):016x}", "user_id": uid, "username": uname,
                "action": action, "object_type": object_type, "object_id": str(rnd.randrange(1, 5000)) if object_type else "",
                "source_host": rnd.choice(DEMO_HOSTS), "source_app": DEMO_APP, "extra": {"demo": True},
            })  # fmt: skip
    return rows


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    """A quarter of log records and one tampering incident, restored (idempotent)."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    secadmin = User.objects.filter(username="secadmin").first()
    with acting_as(secadmin, channel="demo"):
        if not LogRecord.objects.filter(source_app=DEMO_APP).exists():
            rows = _log_rows(days, now, per_day=60)
            stored = 0
            for i in range(0, len(rows), 5000):  # one audited batch per 5,000 rows
                stored += logs.logs_ingest(actor=secadmin, records=rows[i : i + 5000])
            counts["log_records"] = stored
        if not IntegrityCheck.objects.filter(trigger="demo", status="mismatch").exists():
            root = services.store_dir().parent / "integrity-demo" / "templates"
            (root / "portal").mkdir(parents=True, exist_ok=True)
            page = root / "portal" / "index.html"
            page.write_text("<h1>北京市交通综合治理事务中心</h1>\n", encoding="utf-8")
            services.baseline_create(actor=secadmin, roots={"demo:templates": root})
            page.write_text("<h1>hacked</h1>\n", encoding="utf-8")  # the defacement
            check = services.integrity_check(restore=True, trigger="demo")
            counts["tamper_findings"] = len(check.mismatches)
            counts["tamper_incidents"] = len(check.incidents)
            real = services.baseline_create(actor=secadmin)  # the real baseline is the current one again
            counts["integrity_files"] = real.file_count
    return counts


