"""Bike-share ingest → live count latency: an operator's accepted POST → the district counts.

The issue's target: a bike's new position is visible in the live store's per-district counts at
most 2 s after the operator's ``POST /api/v1/bikeshare/agency/telemetry`` returned 200, through
the real path — API (signature, validation, publish) → Stream port → the consumer's
micro-batch (lake write, then live update) → live state.

Measured here with the embedded defaults in a temporary ``GOVCENTER_VAR_DIR``: the SQLite
database (migrated), the ``spool://`` stream and the SQLite live store; then, when a Redis
server answers at ``GOVCENTER_REDIS_URL`` (or redis://127.0.0.1:6379/0), again with the
Redis live store (keys under a prefix of this run, removed at the end; never db 15).

* A small synthetic fleet (``synth.generate_day``, scale 0.0005: about 400 bikes) is
  registered for the three operators (GCJ-02 profiles, credentials); ``SAMPLES`` of its bikes
  are used.
* The consumer runs as deployed: ``govcenter bikeshare consume --kind telemetry`` in its own
  process, with its defaults (up to 200 messages per micro-batch, a batch of fewer than 100
  lingering up to 500 ms for more, 1 s blocking read; the spool polls every 50 ms), started
  before the clock and stopped with SIGTERM at the end. A lone record waits out the linger.
* Each sample moves one bike between a point in 东城区 (110101) and one in 海淀区 (110108):
  one signed telemetry record (a new ``telemetry_id``, the current time) POSTed with Django's
  test client; the clock starts when the response (201) is back and stops when the bench
  process, polling ``count_by_district(operator=…)`` of the live store every 2 ms, sees the
  destination district's count reach its expected value. Samples are sequential.

Baseline in the same run: the no-op path — the same move applied by ``live.update`` directly
in the bench process (no API, no stream, no consumer, no lake), timed from the update call
to the count seen the same way: what the store and the polling alone cost. Results: p50, p95
and max over the samples; the record's value is the p95. Run alone:
``python bench/bench_bikeshare_latency.py [--samples 60]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

try:
    from bench.common import main, record, run_isolated
except ImportError:
    from common import main, record, run_isolated  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
URL = "/api/v1/bikeshare/agency/telemetry"
SCALE = 0.0005
SAMPLES = 60
TARGET_S = 2.0
TIMEOUT_S = 30.0
POLL_S = 0.002
DISTRICTS = ("110101", "110108")


def options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=SAMPLES)
    p.add_argument("--no-redis", action="store_true", help="only the embedded SQLite live store")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not 1 <= args.samples <= 10_000:
        p.error("--samples 1–10000")
    return args


def _django(var: Path) -> None:
    """Django on the embedded defaults under ``var`` (SQLite, spool stream, SQLite live store)."""
    os.environ["GOVCENTER_VAR_DIR"] = str(var)
    os.environ.pop("GOVCENTER_DATABASE_URL", None)
    os.environ.pop("GOVCENTER_STREAM_URL", None)
    os.environ.pop("GOVCENTER_BIKESHARE_LIVE_URL", None)
    os.environ.pop("GOVCENTER_LAKE_DIR", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "govcenter.settings"
    os.environ["GOVCENTER_DEBUG"] = "true"
    for p in (str(ROOT), str(ROOT / "src")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # no query log
    import logging

    logging.getLogger("govcenter.access").setLevel(logging.WARNING)  # one line per request otherwise
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)


def _setup():
    """Operator units with credentials and GCJ-02 profiles, a small fleet registered, and a
    point in each of the two districts."""
    import numpy as np

    from govcenter.bikeshare import demo_scale
    from govcenter.bikeshare.services.auth import operator_credential_issue
    from govcenter.bikeshare.services.ingest import operator_profile_set
    from govcenter.bikeshare.synth import OPERATORS, generate_day
    from govcenter.core.districts import DistrictIndex
    from govcenter.core.models import Unit, UnitKind

    units, keys = {}, {}
    for code in demo_scale.UNIT_CODES.values():
        units[code] = Unit.objects.create(code=code, name_zh=f"运营企业{code}", kind=UnitKind.OPERATOR)
        operator_profile_set(actor=None, operator=units[code], datum="GCJ-02")
        cred, secret = operator_credential_issue(actor=None, operator=units[code])
        keys[code] = (cred.key_id, secret)
    index = DistrictIndex.from_files()
    import datetime as dt

    synthetic = generate_day(dt.date.today() - dt.timedelta(days=1), scale=SCALE, index=index)
    devices, vehicles = demo_scale.device_ids(synthetic), demo_scale.vehicle_ids(synthetic)
    op_codes = np.array([demo_scale.UNIT_CODES[c] for c, _n, _s in OPERATORS], dtype=object)
    bike_operator = op_codes[synthetic.bikes["operator_index"]]
    demo_scale._register(synthetic, devices, vehicles, bike_operator, units, index, lambda *a: None)
    lon, lat = synthetic.bikes["home_lon"], synthetic.bikes["home_lat"]
    codes = index.lookup_codes(lon, lat)
    points = {}
    for code in DISTRICTS:
        k = int(np.flatnonzero(codes == code)[0])
        points[code] = (round(float(lon[k]), 7), round(float(lat[k]), 7))
    provider = {c: str(uuid.uuid5(demo_scale._DEVICE_NAMESPACE, f"provider:{c}")) for c in units}
    bikes = [(str(devices[i]), str(vehicles[i]), str(bike_operator[i])) for i in range(len(devices))]
    return bikes, keys, provider, points


def _post(client, keys, op: str, body: bytes):
    from tests.bikeshare.conftest import signed_headers

    return client.post(
        URL, data=body, content_type="application/json", **signed_headers(keys[op], body, path=URL)
    )


def _telemetry(device: str, provider: str, point: tuple[float, float]) -> bytes:
    return json.dumps([{
        "device_id": device, "provider_id": provider, "telemetry_id": str(uuid.uuid4()),
        "timestamp": int(time.time() * 1000), "trip_ids": None, "journey_id": None,
        "location": {"lng": point[0], "lat": point[1]}, "battery_percent": 80,
    }]).encode()  # fmt: skip


def _wait(live, operator: str, district: str, want: int) -> float:
    """Poll the counts until ``district`` has ``want`` bikes of ``operator``; the time it was seen."""
    deadline = time.perf_counter() + TIMEOUT_S
    while True:
        if live.count_by_district(operator=operator).get(district, 0) == want:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{district} never reached {want} bikes of {operator}")
        time.sleep(POLL_S)


def _consumer(env: dict, log: Path) -> subprocess.Popen:
    cli = Path(sys.executable).parent / "govcenter"
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "govcenter.cli"]
    with log.open("ab") as out:
        return subprocess.Popen([*cmd, "bikeshare", "consume", "--kind", "telemetry"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def _summary(samples: list[float]) -> dict:
    return {
        "p50": statistics.median(samples),
        "p95": _pct(samples, 0.95),
        "max": max(samples),
        "n": len(samples),
    }


def _measure_store(live_url: str, bikes, keys, provider, points, n: int) -> tuple[dict, dict]:
    """(end to end, direct live.update) latency summaries on the live store ``live_url``."""
    from django.conf import settings
    from django.test import Client

    from govcenter.bikeshare.live import open_live_state
    from govcenter.core.districts import DistrictIndex

    settings.GOVCENTER_BIKESHARE_LIVE_URL = live_url
    index = DistrictIndex.from_files()
    client = Client()
    sample = bikes[:n]
    env = {**os.environ, "GOVCENTER_BIKESHARE_LIVE_URL": live_url}
    log = Path(os.environ["GOVCENTER_VAR_DIR"]) / "consumer.log"
    worker = _consumer(env, log)
    a, b = DISTRICTS
    try:
        with open_live_state(live_url, districts=index) as live:
            live.clear()
            # Every sample bike in district a first (through the real path; not timed).
            for device, _vehicle, op in sample:
                assert _post(client, keys, op, _telemetry(device, provider[op], points[a])).status_code in (
                    200,
                    201,
                )
            for op in {op for _d, _v, op in sample}:
                _wait(live, op, a, sum(1 for _d, _v, o in sample if o == op))
            e2e: list[float] = []
            for device, _vehicle, op in sample:  # each bike a → b, one after the other
                want = live.count_by_district(operator=op).get(b, 0) + 1
                response = _post(client, keys, op, _telemetry(device, provider[op], points[b]))
                t0 = time.perf_counter()
                assert response.status_code in (200, 201), response.content[:300]
                e2e.append(_wait(live, op, b, want) - t0)
            # Baseline: the same moves (b → a) straight into the store (no API, stream or consumer).
            direct: list[float] = []
            for device, vehicle, op in sample:
                want = live.count_by_district(operator=op).get(a, 0) + 1
                lon, lat = points[a]
                t0 = time.perf_counter()
                live.update({"operator": [op], "device_id": [device], "vehicle_id": [vehicle],
                             "timestamp_ms": [int(time.time() * 1000) + 60_000], "lon": [lon], "lat": [lat],
                             "vehicle_state": ["available"]})  # fmt: skip
                direct.append(_wait(live, op, a, want) - t0)
            live.clear()
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        elif worker.returncode:
            print(log.read_text(errors="replace")[-2000:], file=sys.stderr)
    return _summary(e2e), _summary(direct)


def _redis_url() -> str | None:
    url = os.environ.get("GOVCENTER_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        if client.connection_pool.connection_kwargs.get("db") == 15:
            return None  # the test suite's database
    except Exception:  # noqa: BLE001
        return None
    return url


def measure(argv: list[str] | None = None) -> list[dict]:
    args = options(sys.argv[1:] if argv is None else argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_bikeshare_latency_"))
    t0 = time.perf_counter()
    _django(tmp)
    bikes, keys, provider, points = _setup()
    n = min(args.samples, len(bikes))
    print(
        f"setup: {len(bikes)} bikes registered, {n} samples, var dir {tmp} ({time.perf_counter() - t0:.0f} s)"
    )
    stores = [("sqlite", f"sqlite://{tmp / 'bikeshare-live.db'}")]
    redis_url = None if args.no_redis else _redis_url()
    if redis_url:
        sep = "&" if "?" in redis_url else "?"
        stores.append(("redis", f"{redis_url}{sep}prefix=govcenter-bench-latency-{os.getpid()}"))
    else:
        print("Redis live store skipped: no Redis server answers (or --no-redis)")
    records = []
    try:
        records = _measure_stores(stores, bikes, keys, provider, points, n)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return records


def _measure_stores(stores, bikes, keys, provider, points, n: int) -> list[dict]:
    records = []
    for name, url in stores:
        e2e, direct = _measure_store(url, bikes, keys, provider, points, n)
        met = "yes" if e2e["p95"] <= TARGET_S else "NO"
        print(f"{name} live store, {e2e['n']} samples: POST 201 → count visible p50 {e2e['p50'] * 1000:.0f} ms, "
              f"p95 {e2e['p95'] * 1000:.0f} ms, max {e2e['max'] * 1000:.0f} ms (target ≤ {TARGET_S:g} s: {met}); "
              f"direct live.update → visible p50 {direct['p50'] * 1000:.1f} ms, p95 {direct['p95'] * 1000:.1f} ms, "
              f"max {direct['max'] * 1000:.1f} ms")  # fmt: skip
        records.append(record(
            name=f"bikeshare.live.ingest_to_count_p95_{name}", value=e2e["p95"] * 1000, unit="ms",
            baseline_name="direct live.update → count (no API/stream/consumer), p95",
            baseline_value=direct["p95"] * 1000,
            target=f"p95 <= {TARGET_S:g} s: {met} (p50 {e2e['p50']:.3f} s, max {e2e['max']:.3f} s, "
                   f"{e2e['n']} samples; spool stream, consumer defaults)",
        ))  # fmt: skip
    return records


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=1800)


if __name__ == "__main__":
    main(measure)
