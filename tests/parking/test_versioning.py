"""Versioned base data: road versions and device-binding periods (valid_from/valid_to) written
by every service write, shown with the segment history, queryable as of a time; the initial
rows of migration 0016; an order keeps the space version and tariff plan it ran under."""

from __future__ import annotations

import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client
from django.utils import timezone

from govcenter.parking.models import Device, Order, Road, SpaceVersion, TariffPlan
from govcenter.parking.models.base import RoadVersion
from govcenter.parking.models.devices import DeviceBinding
from govcenter.parking.selectors import base as selectors
from govcenter.parking.services import base as services
from govcenter.parking.services import devices as device_services
from govcenter.parking.services.events import events_ingest
from govcenter.parking.services.tariffs import tariff_plan_publish
from govcenter.parking.tariff import Rules, quote
from tests.parking.events_helpers import ago, ev, network
from tests.parking.factories import DeviceFactory, RoadFactory, SegmentFactory, SpaceFactory

pytestmark = pytest.mark.django_db


def tick() -> dt.datetime:
    """A time strictly between two service writes."""
    at = timezone.now()
    while timezone.now() == at:
        pass
    return at


def chain(rows) -> None:
    """Versions 1..n, contiguous (each valid_to is the next valid_from), only the last open."""
    rows = sorted(rows, key=lambda r: r.version)
    assert [r.version for r in rows] == list(range(1, len(rows) + 1))
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.valid_to == b.valid_from and a.valid_from < a.valid_to


# ------------------------------------------------------------------------------------------
# Roads
# ------------------------------------------------------------------------------------------


def test_road_create_and_update_write_versions_as_of(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc, name="旧名路", code="R-V1")
    assert road.version == 1
    v1 = RoadVersion.objects.get(road=road)
    assert v1.valid_to is None and v1.snapshot["name"] == "旧名路" and v1.snapshot["status"] == "active"
    t1 = tick()

    services.road_update(actor=None, road=road, name="新名路")
    services.road_update(actor=None, road=road, name="新名路")  # no change: no version
    t2 = tick()
    services.road_update(actor=None, road=road, status=Road.Status.RETIRED)

    road.refresh_from_db()
    versions = list(RoadVersion.objects.filter(road=road))
    assert road.version == 3 and len(versions) == 3
    chain(versions)
    assert selectors.road_version_at(road, t1).snapshot["name"] == "旧名路"
    assert selectors.road_version_at(road, t2).snapshot["name"] == "新名路"
    assert selectors.road_version_at(road, timezone.now()).snapshot["status"] == "retired"
    assert selectors.road_version_at(road.pk, v1.valid_from - dt.timedelta(seconds=1)) is None


def test_refused_road_write_leaves_no_version(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    SegmentFactory(road=road)
    with pytest.raises(Exception, match="未撤销的路段"):
        services.road_update(actor=None, road=road, status=Road.Status.RETIRED)
    assert RoadVersion.objects.filter(road=road).count() == 1


# ------------------------------------------------------------------------------------------
# Device bindings
# ------------------------------------------------------------------------------------------


def test_sensor_binding_periods_register_bind_unbind_rebind_retire(org):
    segment = SegmentFactory(road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc))
    a, b = SpaceFactory(segment=segment, number="001"), SpaceFactory(segment=segment, number="002")
    sensor = DeviceFactory(space=a, serial="GM-HIST")
    first = DeviceBinding.objects.get(device=sensor)
    assert (first.version, first.space_id, first.segment_id, first.valid_to) == (1, a.pk, segment.pk, None)
    assert first.snapshot == {
        "segment_id": segment.pk,
        "segment_code": segment.code,
        "space_id": a.pk,
        "space_number": "001",
    }
    t_a = tick()
    device_services.device_bind(actor=None, device=sensor, space=b)
    device_services.device_bind(actor=None, device=sensor, space=b)  # unchanged: no period
    t_b = tick()
    device_services.device_update(actor=None, device=sensor, firmware="9.9")  # not a binding change
    device_services.device_bind(actor=None, device=sensor)  # unbind
    t_none = tick()
    device_services.device_bind(actor=None, device=sensor, space=a)
    t_a2 = tick()
    device_services.device_retire(actor=None, device=sensor)

    periods = list(DeviceBinding.objects.filter(device=sensor).order_by("version"))
    assert [(p.version, p.space_id) for p in periods] == [(1, a.pk), (2, b.pk), (3, a.pk)]
    assert all(p.valid_to is not None for p in periods)  # retired: nothing open
    assert periods[0].valid_to == periods[1].valid_from and periods[1].valid_to < periods[2].valid_from
    assert selectors.device_binding_at(sensor, t_a).space_id == a.pk
    assert selectors.device_binding_at(sensor, t_b).space_id == b.pk
    assert selectors.device_binding_at(sensor, t_none) is None
    assert selectors.device_binding_at(sensor.pk, t_a2).space_id == a.pk
    assert selectors.device_binding_at(sensor, timezone.now()) is None
    # Who watched space a / the segment, as of each time.
    assert [p.device_id for p in selectors.devices_bound_at(t_b, space=a)] == []
    assert [p.device_id for p in selectors.devices_bound_at(t_b, space=b)] == [sensor.pk]
    assert [p.device_id for p in selectors.devices_bound_at(t_a, segment=segment)] == [sensor.pk]
    # The retired device keeps its binding columns (history), the period is closed.
    sensor.refresh_from_db()
    assert sensor.space_id == a.pk and sensor.status == Device.Status.RETIRED


def test_camera_rebound_to_another_segment_and_bulk_register(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    s1, s2 = SegmentFactory(road=road), SegmentFactory(road=road)
    devices = device_services.device_register_bulk(
        actor=None,
        rows=[
            {"kind": "high_video", "serial": "HV-1", "segment": s1},
            {"kind": "pda", "serial": "PDA-1", "district": org.dongcheng},  # unbound: no period
        ],
    )
    camera, pda = devices
    assert DeviceBinding.objects.filter(device=camera, valid_to=None, space=None, segment=s1).exists()
    assert not DeviceBinding.objects.filter(device=pda).exists()
    t1 = tick()
    device_services.device_bind(actor=None, device=camera, segment=s2)
    assert selectors.devices_bound_at(t1, segment=s1).get().device_id == camera.pk
    assert not selectors.devices_bound_at(timezone.now(), segment=s1).exists()
    assert selectors.devices_bound_at(timezone.now(), segment=s2).get().device_id == camera.pk
    device_services.device_bind(actor=None, device=pda, segment=s2)
    assert DeviceBinding.objects.get(device=pda).version == 1


def test_refused_bind_writes_no_period(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    segment = SegmentFactory(road=road)
    a, b = SpaceFactory(segment=segment, number="001"), SpaceFactory(segment=segment, number="002")
    sensor = DeviceFactory(space=a, serial="GM-A")
    DeviceFactory(space=b, serial="GM-B")
    with pytest.raises(Exception, match="已绑定地磁设备"):
        device_services.device_bind(actor=None, device=sensor, space=b)
    assert DeviceBinding.objects.filter(device=sensor).count() == 1


def test_space_moved_to_another_segment_takes_its_sensor_along(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    s1, s2 = SegmentFactory(road=road), SegmentFactory(road=road)
    space = SpaceFactory(segment=s1, number="007")
    sensor = DeviceFactory(space=space, serial="GM-MOVE")
    before = tick()
    services.space_update(actor=None, space=space, segment=s2)
    sensor.refresh_from_db()
    assert sensor.segment_id == s2.pk and sensor.space_id == space.pk
    assert selectors.device_binding_at(sensor, before).segment_id == s1.pk
    current = selectors.device_binding_at(sensor, timezone.now())
    assert (
        current.segment_id == s2.pk and current.version == 2 and current.snapshot["segment_code"] == s2.code
    )


def test_one_chain_writer_for_every_history():
    """Roads, segments, spaces and bindings share services.base.write_versions (no copies)."""
    import inspect

    source = inspect.getsource(services) + inspect.getsource(device_services)
    assert source.count("valid_to = ") == 1  # only write_versions closes a version
    assert source.count("write_versions(") >= 5


# ------------------------------------------------------------------------------------------
# Where history is shown
# ------------------------------------------------------------------------------------------


def test_history_is_shown_on_road_segment_space_and_device_pages(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc, name="历史路")
    segment = SegmentFactory(road=road, code="HIST-SEG")
    space = SpaceFactory(segment=segment, number="101")
    sensor = DeviceFactory(space=space, serial="GM-SHOWN")
    camera = DeviceFactory(kind="high_video", segment=segment, serial="HV-SHOWN")
    services.road_update(actor=None, road=road, name="历史新路")
    device_services.device_bind(actor=None, device=camera)  # unbound: its period is closed
    client = Client()
    client.force_login(org.manager_dc)

    page = client.get(f"/parking/roads/{road.pk}/").content.decode()
    assert "版本历史" in page and "历史路" in page and "v2" in page
    page = client.get(f"/parking/segments/{segment.pk}/").content.decode()
    assert "设备绑定历史" in page and "GM-SHOWN" in page and "HV-SHOWN" in page  # the camera's past period
    page = client.get(f"/parking/spaces/{space.pk}/").content.decode()
    assert "设备绑定历史" in page and "GM-SHOWN" in page
    page = client.get(f"/parking/devices/{sensor.pk}/").content.decode()
    assert "设备绑定历史" in page and "HIST-SEG-101" in page
    # Another district's manager sees none of it (the binding rows are scoped too).
    assert not selectors.device_bindings(user=org.manager_xc, segment=segment).exists()


# ------------------------------------------------------------------------------------------
# Migration 0016: initial rows for what existed before
# ------------------------------------------------------------------------------------------


def test_migration_writes_initial_versions_for_existing_roads_and_bindings(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    segment = SegmentFactory(road=road)
    space = SpaceFactory(segment=segment, number="001")
    sensor = DeviceFactory(space=space, serial="GM-MIG")
    camera = DeviceFactory(kind="high_video", segment=segment, serial="HV-MIG")
    device_services.device_retire(actor=None, device=camera)
    unbound = device_services.device_register(
        actor=None, kind="pda", serial="PDA-MIG", district=org.dongcheng
    )
    # As before the migration: no history rows.
    DeviceBinding.objects.all().delete()
    RoadVersion.objects.all().delete()
    Road.objects.update(version=0)

    migration = importlib.import_module("govcenter.parking.migrations.0016_versioning")
    migration.initial_versions(django_apps, SimpleNamespace(connection=connection))

    road.refresh_from_db()
    v1 = RoadVersion.objects.get(road=road)
    assert road.version == 1 and v1.version == 1 and v1.valid_to is None
    assert v1.snapshot == services.road_snapshot(road) and v1.valid_from == road.created_at
    binding = DeviceBinding.objects.get(device=sensor)
    sensor.refresh_from_db()
    assert binding.valid_to is None and binding.snapshot == device_services.binding_snapshot(sensor)
    camera.refresh_from_db()
    closed = DeviceBinding.objects.get(device=camera)
    assert closed.valid_to is not None and closed.space_id is None and closed.segment_id == segment.pk
    assert not DeviceBinding.objects.filter(device=unbound).exists()
    # The services continue the chains the migration started.
    services.road_update(actor=None, road=road, name="迁移后")
    chain(RoadVersion.objects.filter(road=road))


# ------------------------------------------------------------------------------------------
# An order keeps what it ran under
# ------------------------------------------------------------------------------------------


def test_order_keeps_space_version_and_tariff_plan_when_both_change_during_the_stay(org):
    n = network(org)
    space = n.dc_spaces[0]
    start, end = ago(hours=3), ago(minutes=20)
    started = events_ingest(
        device=n.sensor, events=[ev("park_start", start, vehicle_license_plate="京A12345")]
    )
    order = Order.objects.get(pk=started[0].order_id)
    ran_under = order.space_version
    assert ran_under.area_class == 1 and ran_under.valid_to is None
    old_plan = TariffPlan.objects.get(area_class=1, status="active", valid_to=None)

    # During the stay: the segment becomes 二类 (a new space version) and a new 一类 plan
    # version takes effect an hour after the start (published "then", with now=start).
    services.segment_update(actor=None, segment=n.dc_seg, area_class=2)
    new_plan = tariff_plan_publish(
        actor=None,
        area_class=1,
        valid_from=start + dt.timedelta(hours=1),
        now=start,
        day_first_unit_fen=old_plan.day_first_unit_fen * 4,
        day_later_unit_fen=old_plan.day_later_unit_fen * 4,
        night_unit_fen=old_plan.night_unit_fen * 4,
    )
    current = SpaceVersion.objects.get(space=space, valid_to=None)
    assert current.area_class == 2 and current.version == ran_under.version + 1

    events_ingest(device=n.sensor, events=[ev("park_end", end)])
    order.refresh_from_db()
    assert order.state in ("billed", "paid") and order.ended_at == end
    assert order.space_version_id == ran_under.pk  # not the current (二类) version
    assert order.tariff_plan_id == old_plan.pk != new_plan.pk  # the plan in force at the start
    expected = quote(Rules.from_plan(old_plan), vehicle="small", start=start, end=end, holidays=frozenset())
    assert order.amount_due_fen == expected.amount_fen > 0
    # What it ran under is still readable as it was.
    ran_under.refresh_from_db()
    assert ran_under.valid_to is not None and ran_under.snapshot["area_class"] == 1
