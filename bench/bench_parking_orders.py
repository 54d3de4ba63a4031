"""The citizen "my orders" endpoint with 1,000,000 orders in PostgreSQL: p50/p95 latency.

Creates a fresh PostgreSQL database ``govcenter_bench_orders_<pid>`` (on
``postgres://postgres@127.0.0.1:5432``), migrates it, seeds the districts and the Beijing
standard tariff, and loads the Beijing-scale demo (parking/demo_scale.py: 90,000 spaces, 3
days at 3.9 stays per space per day ≈ 1.0 million orders priced by the tariff engine, with
their payments; no device events). Then 60 citizens get app tokens and 1–3 bound plates
each: plates of randomly drawn orders (so frequent parkers are drawn more often, as they
are among app users), and one heavy citizen holds the three plates with the most orders.

Measured in the same run, ``GET /api/v1/parking/citizen/orders`` (Django test client, token
authentication, JSON out, pages 1–2 of 50, a fifth of them ``state=unpaid``):

* ``parking.citizen_orders.p95`` / ``.p50``: with the schema's indexes (migration
  0014_scale: ``parking_order_plate_started`` on (plate, started_at DESC, id DESC));
* baseline: the same requests after ``DROP INDEX parking_order_plate_started`` — what the
  endpoint costs without a plate index.

``EXPLAIN ANALYZE`` of the heavy citizen's page query is printed. The database is dropped
at the end. Without PostgreSQL the benchmark is skipped with a printed reason (returns
``[]``). If Django is already configured in this process (``bench/run.py``), the
measurement runs in a subprocess. Run alone: ``python bench/bench_parking_orders.py``.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from pathlib import Path

try:
    from bench.common import main, record, run_isolated, scratch_postgres
except ImportError:
    from common import main, record, run_isolated, scratch_postgres  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
SPACES, DAYS, PER_SPACE = 90_000, 3, 3.9
TARGET_ORDERS = 1_000_000
CITIZENS, REQUESTS, BASELINE_REQUESTS = 60, 400, 60
INDEX = "parking_order_plate_started"
URL = "/api/v1/parking/citizen/orders"


def _citizens(rng: random.Random) -> list[str]:
    """Citizens with tokens and bound plates; returns their raw tokens (the heavy one first)."""
    from django.db import connection
    from django.utils import timezone

    from govcenter.parking.models import Citizen, CitizenToken, PlateBinding
    from govcenter.parking.services.citizens import TOKEN_PREFIX, token_digest

    with connection.cursor() as cursor:
        cursor.execute("SELECT plate FROM parking_order GROUP BY plate ORDER BY count(*) DESC LIMIT 3")
        heavy = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT max(id) FROM parking_order")
        top = cursor.fetchone()[0]
        cursor.execute(
            "SELECT plate FROM parking_order WHERE id = ANY(%s)", [rng.sample(range(1, top), 2000)]
        )
        drawn = [row[0] for row in cursor.fetchall() if row[0] not in heavy]
    rng.shuffle(drawn)
    tokens, used = [], set(heavy)
    expires = timezone.now() + dt.timedelta(days=1)
    for k in range(CITIZENS):
        if k == 0:
            plates = heavy
        else:
            plates = []
            while len(plates) < rng.choice((1, 1, 2, 3)) and drawn:
                plate = drawn.pop()
                if plate not in used:
                    used.add(plate)
                    plates.append(plate)
        citizen = Citizen.objects.create(phone=f"1990000{k:04d}")
        PlateBinding.objects.bulk_create(PlateBinding(citizen=citizen, plate=p) for p in plates)
        raw = f"{TOKEN_PREFIX}bench-{k:04d}-{rng.getrandbits(64):016x}"
        CitizenToken.objects.create(
            citizen=citizen, prefix=raw[:10], digest=token_digest(raw), expires_at=expires
        )
        tokens.append(raw)
    return tokens


def _latencies(client, tokens: list[str], n: int, rng: random.Random) -> list[float]:
    out = []
    for i in range(n):
        token = tokens[0] if i % 10 == 0 else rng.choice(tokens)  # the heavy citizen: a tenth of the calls
        params = {"page": rng.choice((1, 1, 1, 2))} if i % 5 else {"state": "unpaid"}
        if params.get("page") == 2 and token != tokens[0]:
            params = {}  # most citizens have one page
        t0 = time.perf_counter()
        response = client.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {token}")
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
    return out


def _p(values: list[float], pct: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def _explain(tokens: list[str]) -> str:
    from django.db import connection

    from govcenter.parking.models import Citizen, CitizenToken
    from govcenter.parking.services.citizens import token_digest
    from govcenter.parking.services.payments import citizen_orders

    citizen = Citizen.objects.get(pk=CitizenToken.objects.get(digest=token_digest(tokens[0])).citizen_id)
    query = citizen_orders(citizen=citizen)[:50]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def measure() -> list[dict]:
    with scratch_postgres("bench_orders", debug=True) as ready:
        if not ready:
            return []
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        from govcenter.core.context import acting_as
        from govcenter.core.districts import load_districts
        from govcenter.parking.demo_scale import Progress, load_scale_demo
        from govcenter.parking.services.tariffs import tariff_seed_beijing_standard

        with acting_as(None, channel="bench"):
            load_districts()
            tariff_seed_beijing_standard()
        t0 = time.perf_counter()
        counts = load_scale_demo(
            spaces=SPACES, days=DAYS, orders_per_space=PER_SPACE, event_days=0, seed=1, progress=Progress()
        )
        load_seconds = time.perf_counter() - t0
        assert counts["orders"] >= TARGET_ORDERS, counts
        print(f"loaded {counts['orders']:,} orders in {load_seconds:.0f} s ({counts})")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        rng = random.Random(7)
        tokens = _citizens(rng)
        settings.DEBUG = False  # no query log in the measured requests
        client = Client()
        _latencies(client, tokens, 30, rng)  # warm-up: imports, plan cache, buffers
        indexed = _latencies(client, tokens, REQUESTS, rng)
        plan = _explain(tokens)
        print(plan)
        assert INDEX in plan, "the page query does not use the plate index"

        with connection.cursor() as cursor:
            cursor.execute(f'DROP INDEX "{INDEX}"')
            cursor.execute("ANALYZE parking_order")
        _latencies(client, tokens, 5, rng)
        baseline = _latencies(client, tokens, BASELINE_REQUESTS, rng)
        connection.close()
    base = f"same requests without the {INDEX} index"
    return [
        record(
            name="parking.citizen_orders.p95",
            value=_p(indexed, 95),
            unit="ms",
            baseline_name=base,
            baseline_value=_p(baseline, 95),
            target="<= 50 ms p95 with 1,000,000 orders (PostgreSQL)",
        ),
        record(
            name="parking.citizen_orders.p50",
            value=_p(indexed, 50),
            unit="ms",
            baseline_name=base,
            baseline_value=_p(baseline, 50),
        ),
    ]


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=1800)


if __name__ == "__main__":
    main(measure)
