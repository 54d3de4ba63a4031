"""Device monitoring: offline after N minutes without heartbeat, periods, availability, occupancy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from govcenter.parking.models import DeviceOfflinePeriod
from govcenter.parking.selectors.monitoring import device_availability, segment_occupancy
from govcenter.parking.services.events import events_ingest
from govcenter.parking.services.monitoring import devices_mark_offline
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db


@pytest.fixture
def net(org):
    return network(org)


@override_settings(GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES=10)
def test_silent_device_goes_offline_and_the_next_event_brings_it_back(net):
    events_ingest(device=net.sensor, events=[ev("scheduled_report", ago(seconds=1))])
    net.sensor.refresh_from_db()
    beat = net.sensor.last_heartbeat_at
    assert net.sensor.status == "online"
    assert devices_mark_offline(now=beat + dt.timedelta(minutes=9)) == 0
    assert devices_mark_offline(now=beat + dt.timedelta(minutes=11)) == 1
    net.sensor.refresh_from_db()
    period = DeviceOfflinePeriod.objects.get(device=net.sensor)
    assert net.sensor.status == "offline" and period.started_at == beat and period.ended_at is None
    assert devices_mark_offline(now=beat + dt.timedelta(minutes=30)) == 0  # already offline: no second period
    events_ingest(device=net.sensor, events=[ev("scheduled_report", ago(seconds=1))])
    net.sensor.refresh_from_db()
    period.refresh_from_db()
    assert net.sensor.status == "online" and period.ended_at is not None


def test_availability_per_district(org, net):
    end = timezone.now()
    start = end - dt.timedelta(hours=10)
    DeviceOfflinePeriod.objects.create(device=net.sensor, started_at=end - dt.timedelta(hours=5), ended_at=end)
    rows = {r["code"]: r for r in device_availability(user=org.sysadmin, start=start, end=end)}
    dc = rows["110101"]
    assert dc["devices"] == 2  # sensor + camera: 5 h offline of 20 device-hours
    assert dc["availability_pct"] == 75.0
    assert rows["110102"]["availability_pct"] == 100.0
    only_dc = device_availability(user=org.manager_dc, start=start, end=end)
    assert [r["code"] for r in only_dc] == ["110101"]


def test_occupancy_counts_offline_spaces_as_unknown_never_free(net):
    events_ingest(device=net.camera, events=[ev("park_start", ago(hours=2), space_number="102")])
    occ = segment_occupancy(segment=net.dc_seg)
    assert (occ["spaces"], occ["known"], occ["unknown"], occ["occupied"], occ["free"]) == (3, 3, 0, 1, 2)
    DeviceOfflinePeriod.objects.create(device=net.camera, started_at=ago(hours=1))
    occ = segment_occupancy(segment=net.dc_seg)
    # Space 101 still has its live sensor; 102 and 103 are watched only by the offline camera.
    assert (occ["known"], occ["unknown"], occ["occupied"], occ["free"]) == (1, 2, 0, 1)
    DeviceOfflinePeriod.objects.create(device=net.sensor, started_at=ago(hours=1))
    occ = segment_occupancy(segment=net.dc_seg)
    assert (occ["known"], occ["unknown"], occ["occupancy"]) == (0, 3, None)


def test_device_status_page_is_scoped(org, net):
    client = Client()
    client.force_login(org.manager_dc)
    page = client.get("/parking/device-status/")
    assert page.status_code == 200 and "东城区" in page.content.decode() and "西城区" not in page.content.decode()
    assert client.get(f"/parking/device-status/{org.xicheng.pk}/").status_code == 404
    detail = client.get(f"/parking/device-status/{org.dongcheng.pk}/").content.decode()
    assert "DC-GM-1" in detail and "XC-GM-1" not in detail


def test_periodic_task_runs_every_minute():
    from huey.contrib.djhuey import HUEY

    from govcenter.parking import tasks

    task_class = tasks.devices_mark_offline_every_minute.task_class
    assert task_class in HUEY._registry._periodic_tasks
    assert all(task_class().validate_datetime(dt.datetime(2025, 1, 1, h, m)) for h, m in [(0, 0), (13, 37), (23, 59)])
    assert tasks.devices_mark_offline_every_minute.call_local() == 0
