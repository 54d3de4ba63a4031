"""The congestion-relief list and search pages with 100,000 cases in PostgreSQL: p50/p95.

Creates a fresh PostgreSQL database ``govcenter_bench_congestion_<pid>``, migrates it, seeds
the roles, districts and calendar, and writes 100,000 cases over five years in bulk
(congestion/demo_scale.py: suggestions at real places, assigned to the municipal bureaus and
district transport commissions, with their search documents). Measured in the same run with
the Django test client (pages rendered as the browser gets them, session login):

* ``congestion.list_page.p95`` / ``.p50``: ``/congestion/suggestions/`` pages 1–3 and filtered
  (state, topic, district, overdue, title contains), as the Center's staff (city-wide scope) and
  as a district transport commission's handler (own-unit scope: the unit semi-join);
* ``congestion.search_page.p95``: ``/congestion/query/?q=…`` (jieba words, FTS over the
  documents in the caller's scope, then the cases) as both;
* baseline: the same requests after dropping the case indexes (the list's order index, the
  (state, deadline) index and the unit-part index) — what the pages cost without them.

The target is ≤ 300 ms p95. The database is dropped at the end; without PostgreSQL the bench
is skipped with a printed reason. Run alone: ``python bench/bench_congestion_pages.py``.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

try:
    from bench.common import main, record, run_isolated, scratch_postgres
except ImportError:
    from common import main, record, run_isolated, scratch_postgres  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
CASES = 100_000
REQUESTS, BASELINE_REQUESTS = 200, 60
INDEXES = ("congestion_sugg_created", "congestion_sugg_state_due", "congestion_caseunit_unit")
WORDS = ("信号配时", "停车难", "公交接驳", "西直门 标志", "学校 接送", "施工围挡", "望京", "非机动车道")


def _users():
    from govcenter.core.models import User

    staff = User.objects.get(username="bench-staff")
    handler = User.objects.get(username="cg-110105")  # 朝阳区交通委员会: many cases
    return staff, handler


def _list_params(rng: random.Random) -> dict:
    choice = rng.randrange(8)
    if choice < 3:
        return {"page": choice + 1}
    return [
        {"state": "assigned"},
        {"topic": rng.choice(("signal", "parking", "transit"))},
        {"district": rng.choice(("110105", "110108", "110102"))},
        {"warning": "red"},
        {"q": rng.choice(("西直门", "望京", "信号"))},
    ][choice - 3]


def _latencies(clients, n: int, rng: random.Random, *, search: bool) -> list[float]:
    out = []
    for i in range(n):
        client = clients[i % 2]
        if search:
            url, params = "/congestion/query/", {"q": rng.choice(WORDS)}
        else:
            url, params = "/congestion/suggestions/", _list_params(rng)
        t0 = time.perf_counter()
        response = client.get(url, params)
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    return out


def _p(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def measure() -> list[dict]:
    with scratch_postgres("bench_congestion", debug=True) as ready:
        if not ready:
            return []
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from govcenter.congestion.demo_scale import load_scale_cases
        from govcenter.core.context import acting_as
        from govcenter.core.models import Role, Unit, User

        call_command("seed", verbosity=0)
        with acting_as(None, channel="bench"):
            t0 = time.perf_counter()
            counts = load_scale_cases(cases=CASES, seed=1)
        print(f"loaded {counts} in {time.perf_counter() - t0:.0f} s")
        center = Unit.objects.filter(code="CG-UNITS").first()
        staff = User.objects.create(username="bench-staff", unit=center)
        staff.roles.add(Role.objects.get(code="data_staff"))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        settings.DEBUG = False
        clients = []
        for user in _users():
            client = Client()
            client.force_login(user)
            clients.append(client)
        rng = random.Random(7)
        _latencies(clients, 20, rng, search=False)  # warm-up
        _latencies(clients, 10, rng, search=True)
        listed = _latencies(clients, REQUESTS, rng, search=False)
        searched = _latencies(clients, REQUESTS // 2, rng, search=True)

        with connection.cursor() as cursor:
            for name in INDEXES:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            cursor.execute("ANALYZE")
        _latencies(clients, 5, rng, search=False)
        base_listed = _latencies(clients, BASELINE_REQUESTS, rng, search=False)
        base_searched = _latencies(clients, BASELINE_REQUESTS // 2, rng, search=True)
        connection.close()
    base = "same requests without the case indexes"
    target = "<= 300 ms p95 with 100,000 cases (PostgreSQL)"
    return [
        record(name="congestion.list_page.p95", value=_p(listed, 95), unit="ms", baseline_name=base,
               baseline_value=_p(base_listed, 95), target=target),
        record(name="congestion.list_page.p50", value=_p(listed, 50), unit="ms", baseline_name=base,
               baseline_value=_p(base_listed, 50)),
        record(name="congestion.search_page.p95", value=_p(searched, 95), unit="ms", baseline_name=base,
               baseline_value=_p(base_searched, 95), target=target),
    ]  # fmt: skip


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=1800)


if __name__ == "__main__":
    main(measure)
