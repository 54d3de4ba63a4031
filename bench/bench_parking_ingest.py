"""Device-event ingest into PostgreSQL: events/s in batches of 1,000 vs one event per call.

Creates a fresh PostgreSQL database ``govcenter_bench_ingest_<pid>`` (on
``postgres://postgres@127.0.0.1:5432``), migrates it, builds 100 camera-watched segments of
50 spaces (5,000 spaces, one high-position video device per segment, the Beijing standard
tariff) and measures, in the same run:

* ``parking.ingest.batch``: ``events_ingest`` with batches of 1,000 events (park_start then
  park_end on 500 spaces of 10 segments: every end closes and bills an order);
* ``parking.ingest.batch_2_workers``: the same with two threads at once (one connection
  each, other devices), as the waitress server runs concurrent device requests;
* ``parking.ingest.http_batch``: the same through ``POST /api/v1/parking/device-events``
  with the Django test client (token authentication, JSON in and out);
* baseline ``one event per call``: the same service, one event per call (one transaction,
  one audit entry each) — what a naive one-event-per-request device integration costs;
* baseline of ``http_batch``: ``POST /api/v1/parking/device-events`` with one event per
  request (the naive integration the issue names), same client and server path.

The database is dropped at the end. Without PostgreSQL the benchmark is skipped with a
printed reason (returns ``[]``). If Django is already configured in this process, the
measurement runs in a subprocess (as bench_audit.py does). Run alone:
``python bench/bench_parking_ingest.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path

try:
    from bench.common import main, record, run_isolated, scratch_postgres
except ImportError:
    from common import main, record, run_isolated, scratch_postgres  # type: ignore[no-redef]

HERE = Path(__file__).resolve()
SEGMENTS, SPACES_PER_SEGMENT, BATCH, BATCHES, BASELINE_EVENTS = 100, 50, 1000, 20, 600
HTTP_BATCHES = 6  # through the test client, one device token each (device 6: the one-by-one baseline)
PARALLEL = 2  # worker threads of the parallel measurement (these machines have 2 cores)



def _network():
    from django.utils import timezone

    from govcenter.core.models import District, Unit
    from govcenter.parking.models import Device, Road, Segment, SegmentVersion, Space, SpaceVersion
    from govcenter.parking.services.devices import device_credential_issue
    from govcenter.parking.services.tariffs import tariff_seed_beijing_standard

    tariff_seed_beijing_standard()
    district = District.objects.create(code="110101", name_zh="东城区", name_en="Dongcheng")
    unit = Unit.objects.create(code="BENCH-DC", name_zh="东城停车", kind="district_unit", district=district)
    road = Road.objects.create(district=district, managing_unit=unit, code="R1", name="bench road")
    now = timezone.now() - dt.timedelta(days=1)
    segments = Segment.objects.bulk_create(
        Segment(road=road, district=district, managing_unit=unit, code=f"S{i:04d}", name=f"seg {i}", area_class=1 + i % 3)
        for i in range(SEGMENTS)
    )
    SegmentVersion.objects.bulk_create(SegmentVersion(segment=s, version=1, valid_from=now) for s in segments)
    spaces = Space.objects.bulk_create(
        Space(segment=s, district=district, number=f"{j:03d}", lon=116.41, lat=39.91)
        for s in segments
        for j in range(SPACES_PER_SEGMENT)
    )
    SpaceVersion.objects.bulk_create(
        SpaceVersion(space=sp, version=1, valid_from=now, area_class=sp.segment.area_class, status="active") for sp in spaces
    )
    devices = Device.objects.bulk_create(
        Device(kind="high_video", serial=f"CAM{i:04d}", district=district, managing_unit=unit, segment=s, status="online")
        for i, s in enumerate(segments)
    )
    tokens = [device_credential_issue(actor=None, device=d) for d in devices[: HTTP_BATCHES + 1]]
    return devices, tokens


def _events(start_at: dt.datetime, numbers: list[str], *, minutes: int = 45) -> list[dict]:
    out = []
    for n in numbers:
        out.append({"event_id": str(uuid.uuid4()), "event_type": "park_start", "event_time": start_at.isoformat(),
                    "space_number": n, "vehicle_license_plate": "京A12345", "vehicle_license_plate_confidence": 95})
    for n in numbers:
        out.append({"event_id": str(uuid.uuid4()), "event_type": "park_end",
                    "event_time": (start_at + dt.timedelta(minutes=minutes)).isoformat(), "space_number": n})
    return out


def measure() -> list[dict]:
    with scratch_postgres("bench_ingest", debug=False) as ready:
        if not ready:
            return []
        from django.db import connection, connections
        from django.test import Client
        from django.utils import timezone

        from govcenter.core.context import acting_as
        from govcenter.parking.models import Order
        from govcenter.parking.services.events import events_ingest

        devices, tokens = _network()
        numbers = [f"{j:03d}" for j in range(SPACES_PER_SEGMENT)]
        base = timezone.now().replace(microsecond=0) - dt.timedelta(hours=60)
        half = BATCH // 2  # 500 stays = 1,000 events per batch: 10 segments × 50 spaces
        with acting_as(None, channel="bench"):
            # Warm-up (imports, plan cache, connection).
            events_ingest(device=devices[-1], events=_events(base, numbers[:5]))

            # A camera reports its own segment: one batch of 1,000 = 10 rounds (an hour apart) of
            # park_start + park_end on its 50 spaces, i.e. 500 orders opened, closed and billed.
            def batch(offset_hours: int) -> list[dict]:
                events: list[dict] = []
                for k in range(half // SPACES_PER_SEGMENT):
                    events += _events(base + dt.timedelta(hours=offset_hours + k), numbers, minutes=40)
                return events

            # The payloads are built before the clock starts: what is timed is the ingest.
            payloads = [batch(0) for _ in range(BATCHES)]
            t0 = time.perf_counter()
            done = 0
            for b, events in enumerate(payloads):
                results = events_ingest(device=devices[b], events=events)
                assert sum(r.outcome == "accepted" for r in results) == len(events), results[:3]
                done += len(events)
            batch_rate = done / (time.perf_counter() - t0)
            assert Order.objects.filter(state="billed").count() >= BATCHES * half

            # Two workers at once, as the server runs (waitress threads, one connection each):
            # devices 20…39 report the same day, ten batches per thread.
            parallel = [batch(0) for _ in range(BATCHES)]
            errors: list[BaseException] = []

            def worker(first: int) -> None:
                try:
                    with acting_as(None, channel="bench"):
                        for b in range(first, BATCHES, PARALLEL):
                            results = events_ingest(device=devices[BATCHES + b], events=parallel[b])
                            assert all(r.outcome == "accepted" for r in results), results[:3]
                except BaseException as exc:  # noqa: BLE001  (reported after the join)
                    errors.append(exc)
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=worker, args=(k,)) for k in range(PARALLEL)]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            parallel_rate = BATCHES * BATCH / (time.perf_counter() - t0)
            assert not errors, errors

            # Baseline: the same kind of events, one per call (another camera's segment).
            singles = batch(0)[:BASELINE_EVENTS]
            singles.sort(key=lambda e: e["event_time"])
            t0 = time.perf_counter()
            for e in singles:
                events_ingest(device=devices[60], events=[e])
            single_rate = len(singles) / (time.perf_counter() - t0)

        # Through HTTP (test client): devices 0…5 have tokens; new times so nothing is a duplicate.
        client = Client()
        bodies = []
        for _b in range(HTTP_BATCHES):
            events = []
            for k in range(half // SPACES_PER_SEGMENT):
                events += _events(base + dt.timedelta(hours=20 + k), numbers, minutes=40)
            bodies.append(json.dumps({"events": events}))
        # Warm-up: the first request imports the URLconf and every API module (about 0.8 s), which
        # a running server has done long before; one small batch (another hour) pays for it.
        warm = json.dumps({"events": _events(base + dt.timedelta(hours=40), numbers[:5])})
        client.post("/api/v1/parking/device-events", data=warm, content_type="application/json",
                    HTTP_AUTHORIZATION=f"Device {tokens[0]}")
        t0 = time.perf_counter()
        done = 0
        for b, body in enumerate(bodies):
            response = client.post("/api/v1/parking/device-events", data=body,
                                   content_type="application/json", HTTP_AUTHORIZATION=f"Device {tokens[b]}")
            assert response.status_code == 200 and response.json()["accepted"] == len(events), response.content[:300]
            done += BATCH
        http_rate = done / (time.perf_counter() - t0)

        # Baseline of the HTTP record: the naive integration, one event per request (device 6's
        # token, another day: nothing is a duplicate), same client, same server path.
        one_by_one = sorted(
            (e for k in range(half // SPACES_PER_SEGMENT)
             for e in _events(base + dt.timedelta(hours=44 + k), numbers, minutes=40)),
            key=lambda e: e["event_time"],
        )[:BASELINE_EVENTS]  # fmt: skip
        t0 = time.perf_counter()
        for e in one_by_one:
            response = client.post("/api/v1/parking/device-events", data=json.dumps({"events": [e]}),
                                   content_type="application/json", HTTP_AUTHORIZATION=f"Device {tokens[6]}")
            assert response.status_code == 200 and response.json()["accepted"] == 1, response.content[:300]
        http_single_rate = len(one_by_one) / (time.perf_counter() - t0)
        connection.close()
    baseline = "events_ingest, one event per call (same service, PostgreSQL)"
    http_baseline = "POST /device-events, one event per request (same client and server path)"
    return [
        record(name="parking.ingest.batch", value=batch_rate, unit="events/s", baseline_name=baseline,
               baseline_value=single_rate, target=">= 5,000 events/s (batches of 1,000, PostgreSQL)"),
        record(name="parking.ingest.batch_2_workers", value=parallel_rate, unit="events/s", baseline_name=baseline,
               baseline_value=single_rate, target=">= 5,000 events/s (two workers, as the server runs)"),
        record(name="parking.ingest.http_batch", value=http_rate, unit="events/s", baseline_name=http_baseline,
               baseline_value=http_single_rate, target=">= 5,000 events/s"),
    ]


def run() -> list[dict]:
    return run_isolated(HERE, measure, timeout=900)


if __name__ == "__main__":
    main(measure)
