"""数据监控情况统计 (statistic 6) and the lake's monitoring page, from the lake against the ORM."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from govcenter.core.audit import AuditEntry
from govcenter.parking.lake.sync import DATASETS, GAP_BUCKETS, read_manifest, sync_dataset
from govcenter.parking.models import Device, DeviceEvent, DeviceOfflinePeriod, Order
from govcenter.parking.models.devices import DeviceBinding
from govcenter.parking.models.events import ParkingAnomaly
from govcenter.parking.services.events import events_ingest
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.lakepage import lake_rows
from tests.factories import UserFactory
from tests.helpers.org import build_org

from .statcheck import assert_reconciles, assert_surfaces_agree

pytestmark = pytest.mark.django_db
STAT = STATISTICS["monitoring"]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), timezone.get_default_timezone())


def _event(kind: str, at: dt.datetime, **extra) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": kind, "event_time": at.isoformat(), **extra}


def _sensor_without_open_order() -> Device:
    busy = set(Order.objects.filter(state="open").values_list("space_id", flat=True))
    return (
        Device.objects.filter(kind="geomagnetic", space__isnull=False)
        .exclude(space_id__in=busy)
        .select_related("space")
        .order_by("id")
        .first()
    )


def _make_trouble(yesterday: dt.date) -> Device:
    """Through the ingest service: an end without start, an overlapping stay, a 2-hour comms loss."""
    device = _sensor_without_open_order()
    number = device.space.number
    results = events_ingest(
        device=device,
        events=[
            _event("park_end", _at(yesterday, 8), space_number=number),
            _event("park_start", _at(yesterday, 9), space_number=number, vehicle_license_plate="京A12345",
                   vehicle_license_plate_confidence=55),
            _event("park_start", _at(yesterday, 9, 30), space_number=number, vehicle_license_plate="京B54321",
                   vehicle_license_plate_confidence=97),
            _event("comms_lost", _at(yesterday, 10)),
            _event("comms_restored", _at(yesterday, 12)),
        ],
    )  # fmt: skip
    assert [r.reason for r in results][:3] == ["end_without_start", "", "overlapping_stay"], results
    return device


@pytest.fixture
def world(generated, lake):
    org = build_org()
    today = timezone.localdate()
    org.yesterday = today - dt.timedelta(days=1)
    org.device = _make_trouble(org.yesterday)
    for name in ("anomalies", "device_days"):
        sync_dataset(name)
    org.start, org.end = org.yesterday - dt.timedelta(days=1), org.yesterday
    return org


def _day(t: dt.datetime) -> dt.date:
    return timezone.localtime(t).date()


def devices_on(day: dt.date) -> int:
    """Devices bound at some moment of ``day`` or sending events that day."""
    lo = _at(day, 0)
    hi = lo + dt.timedelta(days=1)
    bound = set(
        DeviceBinding.objects.filter(valid_from__lt=hi)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=lo))
        .values_list("device_id", flat=True)
    )
    return len(bound | {e.device_id for e in DeviceEvent.objects.all() if _day(e.event_time) == day})


def orm_truth(start: dt.date, end: dt.date) -> dict:
    """The statistic's additive measures computed from the OLTP rows (small data: plain Python)."""
    events = [e for e in DeviceEvent.objects.all() if start <= _day(e.event_time) <= end]
    park = [e for e in events if e.event_type in ("park_start", "park_end")]
    reads = [e.plate_confidence for e in events if e.plate_confidence is not None]
    anomalies = [a for a in ParkingAnomaly.objects.all() if start <= _day(a.event_time) <= end]
    first_day = min(_day(e.event_time) for e in DeviceEvent.objects.all())
    days = [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if first_day <= start + dt.timedelta(days=i) <= timezone.localdate()
    ]
    return {
        "device_days": sum(devices_on(day) for day in days),
        "events": len(events),
        "park_events": len(park),
        "park_anomalies": sum(1 for e in park if e.outcome == "anomaly"),
        "plate_reads": len(reads),
        "confidence_milli": sum(round(c * 1000) for c in reads),
        "low_confidence_reads": sum(1 for c in reads if c < 0.8),
        "anomalies": len(anomalies),
        "open_anomalies": sum(1 for a in anomalies if a.status == "open"),
    }


def test_totals_equal_the_orm(world):
    result = compute(STAT, world.leader, StatQuery(world.start, world.end, levels=STAT.levels))
    truth = orm_truth(world.start, world.end)
    assert truth["events"] > 100 and truth["anomalies"] >= 2
    for key, value in truth.items():
        assert result.total[key] == value, key
    kinds = {r["kind"]: r for r in next(t for t in result.extra if t["key"] == "anomaly_kinds")["rows"]}
    assert kinds[str(ParkingAnomaly.Kind.END_WITHOUT_START.label)]["anomalies"] >= 1
    assert kinds[str(ParkingAnomaly.Kind.OVERLAPPING_STAY.label)]["anomalies"] >= 1
    assert result.total["completeness"] == round(1 - truth["park_anomalies"] / truth["park_events"], 4)
    assert result.total["mean_confidence"] == round(
        truth["confidence_milli"] / truth["plate_reads"] / 1000, 4
    )


def test_online_time_gaps_and_confidence_of_one_device(world):
    """The troubled device's yesterday: 2 h offline (comms lost 10:00–12:00), its silences and reads."""
    day = world.yesterday
    q = StatQuery(day, day, levels=STAT.levels)
    result = compute(STAT, world.leader, q)
    periods = DeviceOfflinePeriod.objects.filter(started_at__lt=_at(day, 0) + dt.timedelta(days=1)).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=_at(day, 0))
    )
    lo, hi = _at(day, 0), _at(day, 0) + dt.timedelta(days=1)
    offline = sum(
        (min(p.ended_at or hi, hi) - max(p.started_at, lo)).total_seconds() for p in periods
    )  # one period per device here: no overlaps to merge
    assert offline >= 7200
    observed = result.total["device_days"] * 86400
    assert result.total["observed_hours"] == round(observed / 3600, 4)
    assert result.total["online_hours"] == round((observed - offline) / 3600, 4)
    # The device's own row in the lake, against its events.
    from govcenter.parking.stats2.lake import connection

    con = connection()
    row = con.execute(
        "SELECT events, offline_s, longest_gap_s, plate_reads, conf_lt60, conf_ge95, "
        + " + ".join(f"gaps_{k}" for k, _hi in GAP_BUCKETS)
        + " FROM device_days WHERE device_id = ? AND date = ?",
        [world.device.pk, day],
    ).fetchone()
    con.close()
    times = sorted(
        e.event_time for e in DeviceEvent.objects.filter(device=world.device) if _day(e.event_time) == day
    )
    edges = [lo, *times, hi]
    gaps = [(b - a).total_seconds() for a, b in zip(edges, edges[1:], strict=False)]
    assert row[0] == len(times) >= 5
    assert row[1] == 7200
    assert row[2] == int(max(gaps))
    assert row[6] == len(gaps)
    assert row[3] >= 2 and row[4] >= 1 and row[5] >= 1


def test_rows_and_breakdowns_sum_to_every_total(world):
    total = assert_reconciles(STAT, world.leader, world.start, world.end)
    assert total["device_days"] > 0


def test_an_anomaly_resolved_later_shows_after_the_next_sync(world):
    from govcenter.parking.services.orders import anomaly_resolve

    q = StatQuery(world.yesterday, world.yesterday, levels=STAT.levels)
    before = compute(STAT, world.leader, q).total
    anomaly = ParkingAnomaly.objects.filter(status="open", kind="overlapping_stay").first()
    anomaly_resolve(actor=UserFactory(is_superuser=True), anomaly=anomaly, status="resolved", note="巡检确认")
    result = sync_dataset("anomalies")
    assert result.changed == 1
    after = compute(STAT, world.leader, q).total
    assert after["open_anomalies"] == before["open_anomalies"] - 1
    assert after["anomalies"] == before["anomalies"]


def test_new_events_reach_device_days_incrementally_and_a_rerun_writes_nothing(world):
    device = world.device
    assert sync_dataset("device_days").partitions == 0
    now = timezone.now()
    events_ingest(device=device, events=[_event("scheduled_report", now - dt.timedelta(minutes=1))])
    result = sync_dataset("device_days")
    assert result.changed >= 1 and result.partitions >= 1
    assert sync_dataset("device_days").partitions == 0
    day = _day(now - dt.timedelta(minutes=1))
    total = compute(STAT, world.leader, StatQuery(day, day, levels=STAT.levels)).total
    assert total["events"] == sum(1 for e in DeviceEvent.objects.all() if _day(e.event_time) == day)


def test_district_staff_see_their_district_and_unsupported_filters_are_400(world):
    result = compute(STAT, world.manager_dc, StatQuery(world.start, world.end, levels=STAT.levels))
    assert [r["code"] for r in result.rows] in (["110101"], [])
    client = Client()
    client.force_login(world.leader)
    for params, code in (
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
        ({"vehicle_class": "small"}, "unsupported_filter"),
    ):
        response = client.get("/api/v1/parking/stats/monitoring", params)
        assert response.status_code == 400 and response.json()["code"] == code


def test_api_page_and_excel_agree(world):
    body = assert_surfaces_agree(
        world.leader, STAT, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert set(body["breakdowns"]) == {"device_kind", "by_day"}
    assert {t["key"] for t in body["extra"]} == {"gaps", "confidence", "anomaly_kinds"}


# ---------------------------------------------------------------- the lake page


def test_lake_page_lists_every_data_set_with_its_watermark(world):
    client = Client()
    client.force_login(world.leader)
    page = client.get("/parking/stats/lake/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in DATASETS:
        assert f'data-dataset="{name}"' in html
    for name in ("anomalies", "device_days"):
        watermark = read_manifest(None, name)["watermark"]
        assert watermark and f'data-watermark="{watermark}"' in html


def test_stale_mark_when_the_lag_is_long_and_oltp_has_newer_changes(world):
    later = timezone.now() + dt.timedelta(minutes=10)
    status = {r["dataset"]: r for r in lake_rows(now=later)}
    assert not status["anomalies"]["stale"]  # nothing newer: a long lag alone is not stale
    assert status["orders"]["stale"]  # never synced while the table has rows
    anomaly = ParkingAnomaly.objects.filter(status="open").first()
    anomaly.resolution_note = "x"
    anomaly.save()
    status = {r["dataset"]: r for r in lake_rows(now=later)}
    assert status["anomalies"]["stale"] and status["anomalies"]["newer_change"]
    assert not {r["dataset"]: r for r in lake_rows()}["anomalies"]["stale"]  # lag under 5 min
    client = Client()
    client.force_login(world.leader)
    html = client.get("/parking/stats/lake/").content.decode()
    assert html.count("data-stale-mark") >= 1  # orders: never synced


def test_sync_button_syncs_and_is_audited_and_plain_users_get_403(world):
    client = Client()
    client.force_login(world.leader)
    assert read_manifest(None, "orders")["watermark"] is None
    response = client.post("/parking/stats/lake/sync/", {"dataset": "orders"})
    assert response.status_code == 302
    assert read_manifest(None, "orders")["rows"] == Order.objects.count()
    entry = AuditEntry.objects.filter(action="parking.lake.sync").latest("pk")
    assert entry.object_id == "orders"
    assert client.get("/parking/stats/lake/sync/").status_code == 405
    assert client.post("/parking/stats/lake/sync/", {"dataset": "nope"}).status_code == 302
    plain = Client()
    plain.force_login(UserFactory())
    assert plain.get("/parking/stats/lake/").status_code == 403
    assert plain.post("/parking/stats/lake/sync/", {"dataset": "orders"}).status_code == 403
    district = Client()
    district.force_login(world.manager_dc)
    assert district.get("/parking/stats/lake/").status_code == 200
    assert district.post("/parking/stats/lake/sync/", {"dataset": "orders"}).status_code == 403
