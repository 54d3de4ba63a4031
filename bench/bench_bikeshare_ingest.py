"""Bike-share telemetry through the whole path: signed API batches → stream → consumer → lake.

The issue's target: one Beijing day of telemetry (about 30 million points) through
``POST /api/v1/bikeshare/agency/telemetry`` → Stream → ``bikeshare.consumer`` → Parquet lake in
at most 10 minutes on this 2-core machine. Measured here, in one run, on a fresh PostgreSQL
database ``govcenter_bench_bikeshare_ingest_<pid>`` (dropped at the end) and a spool stream and
lake in a temporary directory:

* the synthetic day of ``bikeshare.synth.generate_day`` at a small scale (its three operators
  and their bikes registered with the demo's bulk path ``demo_scale._register``, each operator's
  profile declaring GCJ-02, the datum synth writes); its first :data:`POINTS` telemetry points
  become MDS 2.0 telemetry records (one ``telemetry_id`` each, the trip's id as ``trip_ids``),
  grouped per operator into requests of 10,000 records, each signed (HMAC-SM3) as an operator
  signs (tests/bikeshare/conftest.py). JSON bodies are built and signed before the clock starts;
  the server-side work (signature check, parse, validation, publish) is timed with the Django
  test client, then the consumer drains the stream into the lake (timed too);
* ``bikeshare.ingest.telemetry_e2e`` — records/s of that whole path, single process (one worker:
  requests and consumer one after the other), and the extrapolated time for 30 million points;
* ``bikeshare.ingest.telemetry_e2e_pipelined`` — the same requests again into a fresh stream and
  lake with the consumer in its own process, draining while the requests go on (as deployed:
  API worker and consumer are separate processes; this machine has two cores);
* ``bikeshare.ingest.telemetry_validate_10k`` — one 10,000-record batch classified by the fast
  path (``services/ingest_fast.py``) vs the per-record jsonschema path (``ingest._classify``);
* ``bikeshare.ingest.telemetry_http`` — the API with the fast path vs the same API with the
  fast path switched off (two requests each): what the change bought end to end at the door.

Baseline of the first record (the issue asks for "a row-by-row ORM insert"): there is no
telemetry ORM model, so a throw-away table ``bench_telemetry_point`` (device, time, position,
battery, trip) is created with ``connection.schema_editor()`` in the scratch database and
:data:`BASELINE_POINTS` of the same records are inserted with ``Model.objects.create`` one by one
(autocommit: one transaction each). That baseline is generous to itself — no HTTP, no signature,
no validation, no lake — it is only the cost of "one row per point in the database", the design
the lake replaces. Without PostgreSQL the benchmark prints why and returns ``[]``. Run alone:
``python bench/bench_bikeshare_ingest.py`` (a larger sample:
``GOVCENTER_BENCH_TELEMETRY_POINTS=2000000``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

try:
    from bench.common import main, record, run_isolated, scratch_postgres
except ImportError:
    from common import main, record, run_isolated, scratch_postgres  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
# The sample: GOVCENTER_BENCH_TELEMETRY_POINTS points (default 200,000) of a synthetic day at
# the scale that holds them (0.01 ≈ 7,900 bikes and 300,000 points; more points, more bikes).
POINTS = int(os.environ.get("GOVCENTER_BENCH_TELEMETRY_POINTS", "200000"))
SCALE = max(0.01, round(POINTS / 25_000_000, 3))
BATCH = 10_000
BASELINE_POINTS = 3_000
SLOW_HTTP_BATCHES = 2
DAY_POINTS = 30_000_000
TARGET_S = 600
URL = "/api/v1/bikeshare/agency/telemetry"


def _setup():
    """Operators with credentials and GCJ-02 profiles, the synthetic day, its bikes registered."""
    import numpy as np

    from govcenter.bikeshare import demo_scale
    from govcenter.bikeshare.services.auth import operator_credential_issue
    from govcenter.bikeshare.services.ingest import operator_profile_set
    from govcenter.bikeshare.synth import OPERATORS, generate_day
    from govcenter.core.districts import DistrictIndex
    from govcenter.core.models import Unit, UnitKind

    units = {
        code: Unit.objects.create(code=code, name_zh=f"运营企业{code}", kind=UnitKind.OPERATOR)
        for code in demo_scale.UNIT_CODES.values()
    }
    keys = {}
    for code, unit in units.items():
        operator_profile_set(actor=None, operator=unit, datum="GCJ-02")
        cred, secret = operator_credential_issue(actor=None, operator=unit)
        keys[code] = (cred.key_id, secret)
    # Yesterday in Beijing: every point is in the past and well inside the 7-day window.
    day = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=1)).date()
    index = DistrictIndex.from_files()
    synthetic = generate_day(day, scale=SCALE, index=index)
    devices, vehicles = demo_scale.device_ids(synthetic), demo_scale.vehicle_ids(synthetic)
    op_codes = np.array([demo_scale.UNIT_CODES[c] for c, _n, _s in OPERATORS], dtype=object)
    bike_operator = op_codes[synthetic.bikes["operator_index"]]
    demo_scale._register(synthetic, devices, vehicles, bike_operator, units, index, lambda *a: None)
    return synthetic, devices, bike_operator, units, keys


def _batches(synthetic, devices, bike_operator) -> list[tuple[str, list[dict]]]:
    """The first POINTS telemetry points as MDS records, per operator in batches of BATCH."""
    import numpy as np

    from govcenter.bikeshare.demo_scale import _DEVICE_NAMESPACE, _TRIP_NAMESPACE, UNIT_CODES

    provider = {code: str(uuid.uuid5(_DEVICE_NAMESPACE, f"provider:{code}")) for code in UNIT_CODES.values()}
    pending: dict[str, list[dict]] = {code: [] for code in UNIT_CODES.values()}
    out: list[tuple[str, list[dict]]] = []
    taken = 0
    for chunk in synthetic.telemetry_chunks():
        n = min(len(chunk["timestamp_ms"]), POINTS - taken)
        dev, trip = chunk["device_index"][:n], chunk["trip_index"][:n]
        ts, lon, lat = chunk["timestamp_ms"][:n], chunk["lon"][:n], chunk["lat"][:n]
        battery = np.random.default_rng(n).integers(5, 101, n)
        for i in range(n):
            op = bike_operator[dev[i]]
            t = int(trip[i])
            pending[op].append({
                "device_id": devices[dev[i]], "provider_id": provider[op], "telemetry_id": str(uuid.uuid4()),
                "timestamp": int(ts[i]),
                "trip_ids": [str(uuid.uuid5(_TRIP_NAMESPACE, f"{synthetic.seed}:{t}"))] if t >= 0 else None,
                "journey_id": None, "location": {"lng": round(float(lon[i]), 7), "lat": round(float(lat[i]), 7)},
                "battery_percent": int(battery[i]),
            })  # fmt: skip
            if len(pending[op]) == BATCH:
                out.append((op, pending[op]))
                pending[op] = []
        taken += n
        if taken >= POINTS:
            break
    out += [(op, records) for op, records in pending.items() if records]
    return out


def _sign(keys, bodies) -> list[tuple[str, bytes, dict]]:
    """Each body with its signature headers (fresh timestamp and nonce: sign just before a round)."""
    sys.path.insert(0, str(HERE.parent.parent))
    from tests.bikeshare.conftest import signed_headers

    return [(op, body, signed_headers(keys[op], body, path=URL)) for op, body in bodies]


def _post(client, keys, op: str, body: bytes, headers: dict | None = None):
    """POST a body, signed here unless ``headers`` (signed before the clock) are given."""
    if headers is None:
        ((_op, _body, headers),) = _sign(keys, [(op, body)])
    return client.post(URL, data=body, content_type="application/json", **headers)


CONSUMER_SCRIPT = """
import os, sys
import django
django.setup()
from govcenter.bikeshare.consumer import consume
from govcenter.bikeshare.consumer import rows_table  # noqa: F401 (imports done before the clock)
stream_url, lake_root, marker, ready = sys.argv[1:5]
consume("telemetry", stream_url=stream_url, lake_root=lake_root, block_ms=10)  # opens the stream: warm
open(ready, "w").close()
# As deployed: one long-running consumer (its settings' batch size and linger) until everything
# is published; then it drains what is left.
consume("telemetry", stream_url=stream_url, lake_root=lake_root, block_ms=100, stop=lambda: os.path.exists(marker))
consume("telemetry", stream_url=stream_url, lake_root=lake_root, block_ms=10)
"""


def _pipelined(client, keys, bodies, n_points: int, tmp: Path) -> float:
    """Records/s with the consumer in its own process while the requests go on (two cores: the
    deployment runs the API worker and the consumer as separate processes). A fresh stream and
    lake; the clock stops when the consumer has drained everything into the lake."""
    stream_url, lake_root, marker = f"spool://{tmp / 'stream2'}", tmp / "lake2", tmp / "published"
    from django.conf import settings

    settings.GOVCENTER_STREAM_URL = stream_url
    ready = tmp / "consumer-ready"
    # A running consumer is a long-lived process: its start-up (Django, pyarrow) is not timed.
    worker = subprocess.Popen(
        [sys.executable, "-c", CONSUMER_SCRIPT, stream_url, str(lake_root), str(marker), str(ready)]
    )
    try:
        while not ready.exists():
            assert worker.poll() is None, "the consumer process ended before it was ready"
            time.sleep(0.05)
        signed = _sign(keys, bodies)  # the operators' work: before the clock
        t0 = time.perf_counter()
        for op, body, headers in signed:
            assert _post(client, keys, op, body, headers).status_code in (200, 201)
        requests_s = time.perf_counter() - t0
        marker.touch()
        assert worker.wait(timeout=900) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    total_s = time.perf_counter() - t0
    print(f"pipelined: requests done after {requests_s:.1f} s, consumer drained after {total_s:.1f} s")
    return n_points / total_s


def _orm_baseline(records: list[dict]) -> float:
    """Records/s of a row-by-row ORM insert into a throw-away table (see the module docstring)."""
    from django.db import connection, models

    class BenchTelemetryPoint(models.Model):
        device_id = models.UUIDField()
        timestamp = models.DateTimeField()
        lon = models.FloatField()
        lat = models.FloatField()
        battery_pct = models.FloatField(null=True)
        trip_id = models.UUIDField(null=True)

        class Meta:
            app_label = "bench"
            db_table = "bench_telemetry_point"

        def __str__(self) -> str:
            return f"{self.device_id}@{self.timestamp}"

    with connection.schema_editor() as editor:
        editor.create_model(BenchTelemetryPoint)
    t0 = time.perf_counter()
    for r in records:
        BenchTelemetryPoint.objects.create(
            device_id=r["device_id"],
            timestamp=dt.datetime.fromtimestamp(r["timestamp"] / 1000, tz=dt.UTC),
            lon=r["location"]["lng"],
            lat=r["location"]["lat"],
            battery_pct=r["battery_percent"],
            trip_id=(r["trip_ids"] or [None])[0],
        )
    return len(records) / (time.perf_counter() - t0)


def measure() -> list[dict]:
    with scratch_postgres("bench_bikeshare_ingest", debug=False) as ready:
        if not ready:
            return []
        from django.conf import settings
        from django.test import Client
        from django.utils import timezone

        from govcenter.bikeshare.consumer import consume
        from govcenter.bikeshare.services import ingest as slow
        from govcenter.bikeshare.services import ingest_fast

        tmp = Path(tempfile.mkdtemp(prefix="bench_bikeshare_"))
        settings.GOVCENTER_STREAM_URL = stream_url = f"spool://{tmp / 'stream'}"
        lake_root = tmp / "lake"
        t0 = time.perf_counter()
        synthetic, devices, bike_operator, units, keys = _setup()
        batches = _batches(synthetic, devices, bike_operator)
        bodies = [(op, json.dumps(records).encode()) for op, records in batches]
        n_points = sum(len(r) for _, r in batches)
        print(f"setup: {synthetic.n_bikes} bikes, {n_points} points in {len(bodies)} requests "
              f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip

        # Validation alone, one full batch: fast vs slow (same records, same clock).
        op, sample = next((op, r) for op, r in batches if len(r) == BATCH)
        now_ms = int(timezone.now().timestamp() * 1000)
        ingest_fast.classify_telemetry(
            units[op], sample, now_ms
        )  # warm: vehicle map, district index, imports
        fast_s = float("inf")
        for _ in range(3):  # best of 3 (the slow path is timed once: it is 10x longer anyway)
            t = time.perf_counter()
            fast = ingest_fast.classify_telemetry(units[op], sample, now_ms)
            fast_s = min(fast_s, time.perf_counter() - t)
        t = time.perf_counter()
        reference = slow._classify(units[op], "telemetry", sample, now_ms)
        slow_s = time.perf_counter() - t
        assert fast.as_dict() == reference.as_dict() and fast.rows == reference.rows

        client = Client()
        _post(client, keys, op, json.dumps(sample[:10]).encode())  # warm-up: URLconf, API modules
        # End to end: every request, then the consumer drains the stream into the lake.
        accepted = 0
        t = time.perf_counter()
        signed = _sign(keys, bodies)  # the operators' work: before the clock (as the docstring says)
        sign_s = time.perf_counter() - t
        print(f"client-side signing of the {len(bodies)} bodies: {sign_s:.2f} s (not timed)")
        t0 = time.perf_counter()
        for op, body, headers in signed:
            response = _post(client, keys, op, body, headers)
            assert response.status_code in (200, 201), response.content[:300]
            accepted += response.json()["success"]
        http_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        consume("telemetry", stream_url=stream_url, lake_root=lake_root, block_ms=10)
        consume_s = time.perf_counter() - t1
        e2e_s = time.perf_counter() - t0
        e2e_rate = n_points / e2e_s
        piped_rate = _pipelined(client, keys, bodies, n_points, tmp)

        # The API with the fast path off (the per-record jsonschema path), same batches again.
        real = ingest_fast.classify_telemetry
        ingest_fast.classify_telemetry = lambda operator, records, now: slow._classify(
            operator, "telemetry", records, now
        )
        try:
            signed = _sign(keys, bodies[:SLOW_HTTP_BATCHES])
            t = time.perf_counter()
            for op, body, headers in signed:
                assert _post(client, keys, op, body, headers).status_code in (200, 201)
            slow_http_rate = sum(len(r) for _, r in batches[:SLOW_HTTP_BATCHES]) / (time.perf_counter() - t)
        finally:
            ingest_fast.classify_telemetry = real
        signed = _sign(keys, bodies[:SLOW_HTTP_BATCHES])
        t = time.perf_counter()
        for op, body, headers in signed:
            assert _post(client, keys, op, body, headers).status_code in (200, 201)
        fast_http_rate = sum(len(r) for _, r in batches[:SLOW_HTTP_BATCHES]) / (time.perf_counter() - t)

        orm_rate = _orm_baseline([r for _, records in batches for r in records][:BASELINE_POINTS])
        day_s = DAY_POINTS / e2e_rate
        piped_day_s = DAY_POINTS / piped_rate
        print(f"validate one batch of {BATCH}: fast {fast_s:.3f} s, slow {slow_s:.3f} s "
              f"({len(fast.failures)} refused by both)")  # fmt: skip
        print(f"end to end: {n_points} points, {accepted} accepted; requests {http_s:.1f} s, "
              f"consumer → lake {consume_s:.1f} s; {e2e_rate:,.0f} records/s")  # fmt: skip
        print(f"one day of {DAY_POINTS:,} points extrapolated: {day_s:,.0f} s ({day_s / 60:.1f} min), "
              f"target ≤ {TARGET_S} s: {'met' if day_s <= TARGET_S else 'NOT met'} (one process)")  # fmt: skip
        print(f"pipelined (consumer in its own process): {piped_rate:,.0f} records/s; one day "
              f"{piped_day_s:,.0f} s ({piped_day_s / 60:.1f} min): {'met' if piped_day_s <= TARGET_S else 'NOT met'}")  # fmt: skip
        print(f"API fast path {fast_http_rate:,.0f} records/s vs slow path {slow_http_rate:,.0f} records/s; "
              f"row-by-row ORM insert {orm_rate:,.0f} records/s")  # fmt: skip
    return [
        record(name="bikeshare.ingest.telemetry_e2e", value=e2e_rate, unit="records/s",
               baseline_name="row-by-row ORM insert into a throw-away table (PostgreSQL)", baseline_value=orm_rate,
               target=f"30M points/day in <= {TARGET_S} s (>= {DAY_POINTS // TARGET_S:,} records/s); "
                      f"extrapolated {day_s:,.0f} s"),
        record(name="bikeshare.ingest.telemetry_e2e_pipelined", value=piped_rate, unit="records/s",
               baseline_name="row-by-row ORM insert into a throw-away table (PostgreSQL)", baseline_value=orm_rate,
               target=f"30M points/day in <= {TARGET_S} s; extrapolated {piped_day_s:,.0f} s "
                      "(API worker and consumer in two processes)"),
        record(name="bikeshare.ingest.telemetry_validate_10k", value=BATCH / fast_s, unit="records/s",
               baseline_name="per-record jsonschema classification (ingest._classify)",
               baseline_value=BATCH / slow_s, target="same result, fewer seconds"),
        record(name="bikeshare.ingest.telemetry_http", value=fast_http_rate, unit="records/s",
               baseline_name="same API, fast path off", baseline_value=slow_http_rate),
    ]  # fmt: skip


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=1800)


if __name__ == "__main__":
    main(measure)
