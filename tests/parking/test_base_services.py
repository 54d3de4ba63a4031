"""Base data services: versioning, retire, binding rules, credentials, scope and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from govcenter.core.models import AuditEntry, Role
from govcenter.core.roles import BUILTIN_ROLES, CONTRIBUTED_PERMISSIONS, role_permissions
from govcenter.parking.models import Device, Segment, SegmentVersion, Space, SpaceVersion
from govcenter.parking.selectors import base as selectors
from govcenter.parking.services import base as services
from govcenter.parking.services import devices as device_services
from tests.parking.factories import (
    DONGCHENG_POINT,
    XICHENG_POINT,
    DeviceFactory,
    RoadFactory,
    SegmentFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dc(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    segment = SegmentFactory(road=road, code="DC-001", area_class=2)
    space = SpaceFactory(segment=segment, number="001")
    return road, segment, space


def test_create_writes_first_versions_and_audits(org, dc):
    road, segment, space = dc
    assert road.managing_unit == org.unit_dc and segment.district == org.dongcheng == space.district
    assert segment.version == 1 and space.version == 1
    (sv,) = SegmentVersion.objects.filter(segment=segment)
    (pv,) = SpaceVersion.objects.filter(space=space)
    assert sv.valid_to is None and pv.valid_to is None
    assert pv.area_class == 2 and pv.snapshot["number"] == "001" and pv.snapshot["segment_code"] == "DC-001"
    assert Segment.objects.get(pk=segment.pk).capacity == 1
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"parking.road.create", "parking.segment.create", "parking.space.create"} <= actions


def test_update_closes_the_old_version_and_opens_a_new_one(org, dc):
    _, segment, space = dc
    before_update = timezone.now()
    space = services.space_update(actor=org.manager_dc, space=space, lon=DONGCHENG_POINT[0] + 0.0002)
    old, new = SpaceVersion.objects.filter(space=space).order_by("version")
    assert (old.version, new.version) == (1, 2) and space.version == 2
    assert old.valid_to == new.valid_from and old.valid_to >= before_update and new.valid_to is None
    assert new.snapshot["lon"] == pytest.approx(DONGCHENG_POINT[0] + 0.0002)
    entry = AuditEntry.objects.filter(action="parking.space.update").latest("seq")
    assert set(entry.changes["after"]) == {"lon"}


def test_space_version_at_returns_what_was_valid(org, dc):
    _, segment, space = dc
    t1 = timezone.now()
    services.segment_update(actor=org.manager_dc, segment=segment, area_class=1)
    t2 = timezone.now()
    v1 = selectors.space_version_at(space, t1)
    v2 = selectors.space_version_at(space, t2)
    assert (v1.version, v1.area_class) == (1, 2)
    assert (v2.version, v2.area_class) == (2, 1)  # a segment re-class versions its spaces
    assert selectors.space_version_at(space, v1.valid_from - timedelta(seconds=1)) is None
    assert selectors.space_version_at(space, v2.valid_from) == v2  # valid_from inclusive
    assert selectors.space_version_at(space, v1.valid_to) == v2  # valid_to exclusive
    assert selectors.segment_version_at(segment, t2).snapshot["area_class"] == 1


def test_a_segment_rename_does_not_version_its_spaces(org, dc):
    _, segment, space = dc
    services.segment_update(actor=org.manager_dc, segment=segment, name="新名字")
    assert SegmentVersion.objects.filter(segment=segment).count() == 2
    assert SpaceVersion.objects.filter(space=space).count() == 1


def test_update_without_change_writes_nothing(org, dc):
    _, segment, space = dc
    n = AuditEntry.objects.count()
    services.space_update(actor=org.manager_dc, space=space, number="001")
    services.segment_update(actor=org.manager_dc, segment=segment, name=segment.name)
    assert AuditEntry.objects.count() == n and SpaceVersion.objects.filter(space=space).count() == 1


def test_retire_segment_retires_its_spaces_with_versions(org, dc):
    _, segment, space = dc
    other = SpaceFactory(segment=segment, number="002")
    services.segment_retire(actor=org.manager_dc, segment=segment, reason="道路改造")
    segment.refresh_from_db()
    assert segment.status == "retired" and segment.capacity == 0
    for s in (space, other):
        s.refresh_from_db()
        assert s.status == "retired"
        assert SpaceVersion.objects.get(space=s, valid_to__isnull=True).snapshot["status"] == "retired"
    with pytest.raises(ValidationError, match="路段已撤销"):
        services.space_create(
            actor=org.manager_dc,
            segment=segment,
            number="003",
            lon=DONGCHENG_POINT[0],
            lat=DONGCHENG_POINT[1],
        )


def test_retire_space_updates_capacity_and_keeps_history(org, dc):
    _, segment, space = dc
    services.space_retire(actor=org.manager_dc, space=space)
    segment.refresh_from_db()
    assert segment.capacity == 0
    assert SpaceVersion.objects.filter(space=space).count() == 2
    with pytest.raises(ValidationError):
        services.space_update(actor=org.manager_dc, space=space, number="009")


def test_retire_refused_while_devices_are_bound(org, dc):
    _, segment, space = dc
    DeviceFactory(space=space)
    with pytest.raises(ValidationError, match="设备"):
        services.space_retire(actor=org.manager_dc, space=space)
    with pytest.raises(ValidationError, match="设备"):
        services.segment_retire(actor=org.manager_dc, segment=segment)
    assert Space.objects.get(pk=space.pk).status == "active"


def test_duplicate_number_is_a_clear_error_and_nothing_is_written(org, dc):
    _, segment, _space = dc
    n_spaces, n_audit = Space.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationError, match="001"):
        services.space_create(
            actor=org.manager_dc,
            segment=segment,
            number="001",
            lon=DONGCHENG_POINT[0],
            lat=DONGCHENG_POINT[1],
        )
    rows = [
        {"number": "010", "lon": DONGCHENG_POINT[0], "lat": DONGCHENG_POINT[1]},
        {"number": "010", "lon": DONGCHENG_POINT[0], "lat": DONGCHENG_POINT[1]},
    ]
    with pytest.raises(ValidationError) as info:
        services.space_create_bulk(actor=org.manager_dc, segment=segment, rows=rows)
    assert "第 2 行" in str(info.value)
    assert Space.objects.count() == n_spaces and AuditEntry.objects.count() == n_audit


def test_bulk_create_versions_every_space_and_audits_once(org, dc):
    _, segment, _space = dc
    n_audit = AuditEntry.objects.count()
    rows = [
        {"number": f"1{i:02d}", "lon": DONGCHENG_POINT[0] + i * 0.00002, "lat": DONGCHENG_POINT[1]}
        for i in range(20)
    ]
    spaces = services.space_create_bulk(actor=org.manager_dc, segment=segment, rows=rows)
    assert len(spaces) == 20 and all(s.pk and s.version == 1 for s in spaces)
    assert SpaceVersion.objects.filter(space__in=spaces, valid_to__isnull=True).count() == 20
    assert AuditEntry.objects.count() == n_audit + 1
    entry = AuditEntry.objects.latest("seq")
    assert entry.action == "parking.space.bulk_create" and len(entry.changes["after"]) == 20
    segment.refresh_from_db()
    assert segment.capacity == 21


def test_position_outside_the_district_is_refused(org, dc):
    _, segment, space = dc
    with pytest.raises(ValidationError, match="不在东城区范围内"):
        services.space_create(
            actor=org.manager_dc, segment=segment, number="050", lon=XICHENG_POINT[0], lat=XICHENG_POINT[1]
        )
    bad_line = {
        "type": "LineString",
        "coordinates": [list(XICHENG_POINT), [XICHENG_POINT[0] + 0.001, XICHENG_POINT[1]]],
    }
    with pytest.raises(ValidationError, match="不在东城区范围内"):
        services.segment_update(actor=org.manager_dc, segment=segment, geometry=bad_line)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [116.41, 39.91]},
        {"type": "LineString", "coordinates": "nope"},
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        "text",
    ],
)
def test_bad_geometry_is_refused(org, dc, geometry):
    _, segment, _ = dc
    with pytest.raises(ValidationError):
        services.segment_update(actor=org.manager_dc, segment=segment, geometry=geometry)
    segment.refresh_from_db()
    assert segment.version == 1


def test_an_actor_writes_only_inside_their_district(org, dc):
    road, segment, space = dc
    with pytest.raises(ValidationError) as info:
        services.space_update(actor=org.manager_xc, space=space, number="999")
    assert "数据范围" in str(info.value)
    with pytest.raises(ValidationError):
        services.segment_create(actor=org.manager_xc, road=road, code="X-1", name="x", area_class=1)
    with pytest.raises(ValidationError):
        services.road_create(actor=org.manager_xc, district=org.dongcheng, code="R-X", name="x")
    with pytest.raises(ValidationError):
        device_services.device_register(actor=org.manager_xc, kind="geomagnetic", serial="X1", space=space)
    assert Space.objects.get(pk=space.pk).number == "001"


def test_segment_cannot_move_to_another_districts_road(org, dc):
    _, segment, _ = dc
    xc_road = RoadFactory(district=org.xicheng, managing_unit=org.unit_xc)
    with pytest.raises(ValidationError, match="其他区"):
        services.segment_update(actor=None, segment=segment, road=xc_road)


def test_managing_unit_must_belong_to_the_district(org):
    with pytest.raises(ValidationError, match="同一个区"):
        services.road_create(
            actor=None, district=org.dongcheng, code="R1", name="路", managing_unit=org.unit_xc
        )


# --- devices ---------------------------------------------------------------------------------


def test_device_binding_rules(org, dc):
    _, segment, space = dc
    sensor = device_services.device_register(
        actor=org.manager_dc, kind="geomagnetic", serial="GM-1", space=space
    )
    assert sensor.space == space and sensor.segment == segment and sensor.district == org.dongcheng
    assert sensor.data_source_type == "in_ground"
    camera = device_services.device_register(
        actor=org.manager_dc, kind="high_video", serial="HV-1", segment=segment
    )
    assert camera.segment == segment and camera.space is None and camera.data_source_type == "camera"
    with pytest.raises(ValidationError, match="地磁传感器须绑定到泊位"):
        device_services.device_register(
            actor=org.manager_dc, kind="geomagnetic", serial="GM-2", segment=segment
        )
    with pytest.raises(ValidationError, match="须绑定到路段"):
        device_services.device_register(actor=org.manager_dc, kind="video_pile", serial="VP-1", space=space)
    with pytest.raises(ValidationError, match="已绑定地磁设备"):
        device_services.device_register(actor=org.manager_dc, kind="geomagnetic", serial="GM-3", space=space)
    with pytest.raises(ValidationError, match="须绑定到路段"):
        device_services.device_bind(actor=org.manager_dc, device=camera, space=space)
    assert not Device.objects.filter(serial__in=["GM-2", "VP-1", "GM-3"]).exists()


def test_device_bind_moves_and_unbinds(org, dc):
    _, segment, space = dc
    other = SpaceFactory(segment=segment, number="002")
    sensor = DeviceFactory(space=space)
    sensor = device_services.device_bind(actor=org.manager_dc, device=sensor, space=other)
    assert sensor.space == other
    sensor = device_services.device_bind(actor=org.manager_dc, device=sensor)
    assert sensor.space is None and sensor.segment is None
    assert AuditEntry.objects.filter(action="parking.device.unbind", object_id=str(sensor.pk)).exists()


def test_device_cannot_bind_across_districts_or_to_retired_targets(org, dc):
    _, segment, space = dc
    xc_segment = SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc))
    camera = DeviceFactory(kind="pda", segment=segment)
    with pytest.raises(ValidationError, match="不在同一个区"):
        device_services.device_bind(actor=None, device=camera, segment=xc_segment)
    spare = SpaceFactory(segment=segment, number="005")
    services.space_retire(actor=None, space=spare)
    with pytest.raises(ValidationError, match="已撤销"):
        device_services.device_register(actor=None, kind="geomagnetic", serial="GM-R", space=spare)


def test_bulk_register_is_all_or_nothing(org, dc):
    _, segment, space = dc
    rows = [
        {"kind": "high_video", "serial": "HV-A", "segment": segment},
        {"kind": "geomagnetic", "serial": "GM-A", "segment": segment},
    ]
    with pytest.raises(ValidationError, match="第 2 行"):
        device_services.device_register_bulk(actor=org.manager_dc, rows=rows)
    assert not Device.objects.filter(serial="HV-A").exists()
    devices = device_services.device_register_bulk(
        actor=org.manager_dc, rows=rows[:1] + [{"kind": "pda", "serial": "P-A", "segment": segment}]
    )
    assert len(devices) == 2
    assert AuditEntry.objects.filter(action="parking.device.bulk_register").count() == 1


def test_credential_is_shown_once_and_stored_as_digest(org, dc):
    from govcenter.core.crypto import hmac_sm3, hmac_sm3_verify, sm3_hex

    device = DeviceFactory(space=dc[2])
    raw = device_services.device_credential_issue(actor=org.manager_dc, device=device)
    device.refresh_from_db()
    assert raw.startswith("gd_") and len(raw) > 40
    assert device.token_digest == sm3_hex(raw.encode()) and raw not in device.token_digest
    assert raw.encode() not in bytes(device.secret_enc)
    assert selectors.device_for_token(raw) == device
    assert selectors.device_for_token(raw + "x") is None
    # The signature path: the server recovers the key and verifies an HMAC-SM3 the device made.
    mac = hmac_sm3(raw.encode(), b"payload")
    assert hmac_sm3_verify(device_services.device_signing_key(device), b"payload", mac)
    entry = AuditEntry.objects.filter(action="parking.device.credential_issue").latest("seq")
    assert raw not in str(entry.changes) and entry.changes["after"]["token_prefix"] == raw[:10]
    # Rotation: the old token stops working.
    raw2 = device_services.device_credential_issue(actor=org.manager_dc, device=device)
    assert selectors.device_for_token(raw) is None and selectors.device_for_token(raw2) == device
    # Retiring revokes it.
    device_services.device_retire(actor=org.manager_dc, device=device)
    assert selectors.device_for_token(raw2) is None


def test_credential_ciphertext_is_bound_to_its_device(org, dc):
    from govcenter.core.crypto import CryptoError

    a = DeviceFactory(space=dc[2])
    b = DeviceFactory(kind="pda", segment=dc[1])
    device_services.device_credential_issue(actor=None, device=a)
    a.refresh_from_db()
    Device.objects.filter(pk=b.pk).update(secret_enc=a.secret_enc)
    b.refresh_from_db()
    with pytest.raises(CryptoError):
        device_services.device_signing_key(b)


def test_vendor_must_be_a_vendor_unit(org, dc):
    with pytest.raises(ValidationError, match="设备厂商"):
        device_services.device_register(
            actor=None, kind="pda", serial="P-V", segment=dc[1], vendor=org.unit_dc
        )


# --- selectors and roles ---------------------------------------------------------------------


def test_counts_by_district_are_scoped(org, dc):
    SpaceFactory(
        segment=SegmentFactory(road=RoadFactory(district=org.xicheng, managing_unit=org.unit_xc)),
        number="001",
    )
    rows = selectors.counts_by_district(user=org.manager_dc)
    assert [r["code"] for r in rows] == ["110101"]
    assert rows[0]["spaces"] == 1 and rows[0]["segments"] == 1
    all_rows = {r["code"]: r for r in selectors.counts_by_district(user=org.leader)}
    assert all_rows["110102"]["spaces"] == 1


def test_parking_contributes_permissions_to_builtin_roles(org):
    assert "parking.change_space" in CONTRIBUTED_PERMISSIONS["district_manager"]
    spec = next(s for s in BUILTIN_ROLES if s.code == "district_manager")
    assert "parking.add_segment" in role_permissions(spec) and "core.view_unit" in role_permissions(spec)
    role = Role.objects.get(code="district_manager")
    perms = {
        f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")
    }
    assert {"parking.view_space", "parking.add_space", "parking.change_device"} <= perms
    leader = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Role.objects.get(code="center_leader").permissions.select_related("content_type")
    }
    assert "parking.view_segment" in leader and "parking.change_segment" not in leader
    assert org.manager_dc.has_perm("parking.add_device") and not org.leader.has_perm("parking.add_device")
