"""Shared builders of the device-event tests: CDS events and a small network with devices."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

from django.utils import timezone

from govcenter.parking.services.devices import device_credential_issue
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from tests.parking.factories import DeviceFactory, RoadFactory, SegmentFactory, SpaceFactory


def ev(event_type: str, at: dt.datetime, **fields) -> dict:
    """One CDS event (ISO time with offset); ``event_id`` random unless given."""
    return {"event_id": str(fields.pop("event_id", uuid.uuid4())), "event_type": event_type, "event_time": at.isoformat(), **fields}


def ago(**kwargs) -> dt.datetime:
    """A whole-second aware time in the past (the engine bills whole seconds)."""
    return (timezone.now() - dt.timedelta(**kwargs)).replace(microsecond=0)


def network(org) -> SimpleNamespace:
    """东城: a class-1 segment with 3 spaces, a sensor on space 1, a camera on the segment;
    西城: one space with a sensor. Credentials issued; the Beijing standard seeded."""
    tariff_seed_beijing_standard()
    n = SimpleNamespace()
    n.dc_seg = SegmentFactory(road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc), area_class=1)
    n.dc_spaces = [SpaceFactory(segment=n.dc_seg, number=f"10{i}") for i in range(1, 4)]
    n.sensor = DeviceFactory(space=n.dc_spaces[0], serial="DC-GM-1")
    n.camera = DeviceFactory(kind="high_video", segment=n.dc_seg, serial="DC-CAM-1")
    n.xc_seg = SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc), area_class=2)
    n.xc_space = SpaceFactory(segment=n.xc_seg, number="201")
    n.xc_sensor = DeviceFactory(space=n.xc_space, serial="XC-GM-1")
    n.sensor_token = device_credential_issue(actor=None, device=n.sensor)
    n.camera_token = device_credential_issue(actor=None, device=n.camera)
    n.xc_token = device_credential_issue(actor=None, device=n.xc_sensor)
    for name in ("sensor", "camera", "xc_sensor"):
        getattr(n, name).refresh_from_db()
    return n
