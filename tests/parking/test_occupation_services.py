"""Temporary occupation: start/end by the task function, devices restored, versions, closed-at, overlap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from govcenter.core.models import AuditEntry
from govcenter.parking.models import Device, Space, SpaceVersion, TemporaryOccupation
from govcenter.parking.selectors.adjustments import space_closed_at, spaces_closed_at
from govcenter.parking.services import base as base_services
from govcenter.parking.services import occupations as services
from tests.parking.factories import DeviceFactory, RoadFactory, SegmentFactory, SpaceFactory

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def dc(org):
    road = RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc)
    segment = SegmentFactory(road=road, code="DC-OCC")
    spaces = [SpaceFactory(segment=segment, number=f"00{i}") for i in range(1, 4)]
    sensor = DeviceFactory(space=spaces[0], serial="GM-1", status="online")
    offline_sensor = DeviceFactory(space=spaces[1], serial="GM-2", status="offline")
    camera = DeviceFactory(kind="high_video", segment=segment, serial="CAM-1", status="online")
    return segment, spaces, sensor, offline_sensor, camera


def _plan(org, dc, now, **kw):
    segment = dc[0]
    kw.setdefault("segment", segment)
    return services.occupation_create(
        actor=org.manager_dc,
        reason="construction",
        reason_text="管线施工",
        starts_at=now + H,
        ends_at=now + 3 * H,
        now=now,
        **kw,
    )


def test_task_starts_and_ends_and_restores(org, dc):
    segment, spaces, sensor, offline_sensor, camera = dc
    now = timezone.now()
    occ = _plan(org, dc, now)
    assert occ.status == "scheduled" and occ.spaces.count() == 3

    assert services.occupations_tick(now + 30 * timedelta(minutes=1)) == {"started": 0, "ended": 0}
    assert services.occupations_tick(now + H) == {"started": 1, "ended": 0}
    assert services.occupations_tick(now + H + timedelta(minutes=1)) == {
        "started": 0,
        "ended": 0,
    }  # idempotent
    occ.refresh_from_db()
    assert occ.status == "active" and occ.started_at == now + H
    for space in spaces:
        space.refresh_from_db()
        assert space.status == "temporarily_closed"
        current = SpaceVersion.objects.get(space=space, valid_to__isnull=True)
        assert current.status == "temporarily_closed" and current.valid_from == now + H
    assert {d.status for d in Device.objects.filter(pk__in=[sensor.pk, offline_sensor.pk, camera.pk])} == {
        "maintenance"
    }

    assert services.occupations_tick(now + 3 * H) == {"started": 0, "ended": 1}
    occ.refresh_from_db()
    assert occ.status == "ended" and occ.ended_at == now + 3 * H
    assert set(Space.objects.filter(pk__in=[s.pk for s in spaces]).values_list("status", flat=True)) == {
        "active"
    }
    assert SpaceVersion.objects.filter(space=spaces[0]).count() == 3  # created, closed, reopened
    assert Device.objects.get(pk=sensor.pk).status == "online"
    assert Device.objects.get(pk=offline_sensor.pk).status == "offline"  # its own previous status
    assert Device.objects.get(pk=camera.pk).status == "online"
    actions = list(
        AuditEntry.objects.filter(action__startswith="parking.occupation")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["parking.occupation.create", "parking.occupation.start", "parking.occupation.end"]


def test_space_closed_at_inside_and_outside(org, dc):
    _, spaces, *_ = dc
    now = timezone.now()
    occ = _plan(org, dc, now, segment=None, spaces=spaces[:2])
    services.occupations_tick(now + H)
    services.occupations_tick(now + 3 * H)
    occ.refresh_from_db()
    assert occ.status == "ended"
    assert space_closed_at(spaces[0], now + 2 * H)
    assert space_closed_at(spaces[0].pk, now + H)  # start inclusive
    assert not space_closed_at(spaces[0], now + 3 * H)  # end exclusive
    assert not space_closed_at(spaces[0], now + H - timedelta(seconds=1))
    assert not space_closed_at(spaces[2], now + 2 * H)  # not covered
    assert spaces_closed_at(spaces, now + 2 * H) == {spaces[0].pk, spaces[1].pk}
    assert spaces_closed_at(spaces, now + 4 * H) == set()
    assert spaces_closed_at([], now) == set()


def test_space_closed_while_active_is_open_ended(org, dc):
    _, spaces, *_ = dc
    now = timezone.now()
    _plan(org, dc, now, segment=None, spaces=[spaces[0]])
    services.occupations_tick(now + H)
    assert space_closed_at(spaces[0], now + 10 * H)  # still active: the task has not ended it yet


def test_a_cancelled_occupation_closes_nothing(org, dc):
    _, spaces, *_ = dc
    now = timezone.now()
    occ = _plan(org, dc, now)
    services.occupation_cancel(actor=org.manager_dc, occupation=occ, reason="取消活动")
    assert services.occupations_tick(now + 2 * H) == {"started": 0, "ended": 0}
    assert not space_closed_at(spaces[0], now + 2 * H)
    assert Space.objects.get(pk=spaces[0].pk).status == "active"


def test_overlap_is_refused_and_adjacent_is_allowed(org, dc):
    _, spaces, *_ = dc
    now = timezone.now()
    _plan(org, dc, now)  # whole segment, now+1h .. now+3h
    with pytest.raises(ValidationError, match="不能重叠"):
        services.occupation_create(
            actor=org.manager_dc,
            reason="event",
            spaces=[spaces[2]],
            starts_at=now + 2 * H,
            ends_at=now + 5 * H,
            now=now,
        )
    adjacent = services.occupation_create(
        actor=org.manager_dc,
        reason="event",
        spaces=[spaces[2]],
        starts_at=now + 3 * H,
        ends_at=now + 5 * H,
        now=now,
    )
    assert adjacent.status == "scheduled"


def test_bad_input_is_refused(org, dc):
    segment, spaces, *_ = dc
    now = timezone.now()
    cases = [
        dict(segment=segment, starts_at=now + 2 * H, ends_at=now + H),  # reversed
        dict(segment=segment, starts_at=now - 3 * H, ends_at=now - H),  # already over
        dict(starts_at=now + H, ends_at=now + 2 * H),  # neither segment nor spaces
        dict(segment=segment, spaces=[spaces[0]], starts_at=now + H, ends_at=now + 2 * H),  # both
        dict(segment=segment, starts_at=(now + H).replace(tzinfo=None), ends_at=now + 2 * H),  # naive
    ]
    for kwargs in cases:
        with pytest.raises(ValidationError):
            services.occupation_create(actor=org.manager_dc, reason="other", now=now, **kwargs)
    assert not TemporaryOccupation.objects.exists()


def test_out_of_scope_district_is_refused(org, dc):
    segment, *_ = dc
    now = timezone.now()
    with pytest.raises(ValidationError, match="数据范围"):
        services.occupation_create(
            actor=org.manager_xc,
            reason="other",
            segment=segment,
            starts_at=now + H,
            ends_at=now + 2 * H,
            now=now,
        )


def test_a_due_occupation_starts_at_once_and_can_end_early(org, dc):
    segment, spaces, sensor, *_ = dc
    now = timezone.now()
    occ = services.occupation_create(
        actor=org.manager_dc, reason="emergency", segment=segment, starts_at=now - H, ends_at=now + H, now=now
    )
    assert occ.status == "active" and Space.objects.get(pk=spaces[0].pk).status == "temporarily_closed"
    with pytest.raises(ValidationError):
        services.occupation_cancel(actor=org.manager_dc, occupation=occ)
    services.occupation_end(actor=org.manager_dc, occupation=occ, now=now + timedelta(minutes=10))
    assert Device.objects.get(pk=sensor.pk).status == "online"
    assert services.occupations_tick(now + 2 * H) == {"started": 0, "ended": 0}


def test_a_space_closed_by_hand_before_stays_closed_after(org, dc):
    _, spaces, *_ = dc
    base_services.space_update(actor=org.manager_dc, space=spaces[2], status="temporarily_closed")
    now = timezone.now()
    _plan(org, dc, now)
    services.occupations_tick(now + H)
    services.occupations_tick(now + 3 * H)
    assert Space.objects.get(pk=spaces[2].pk).status == "temporarily_closed"
    assert Space.objects.get(pk=spaces[0].pk).status == "active"


def test_missed_occupation_is_started_and_ended_in_one_tick(org, dc):
    _, spaces, *_ = dc
    now = timezone.now()
    occ = _plan(org, dc, now)
    assert services.occupations_tick(now + 5 * H) == {"started": 1, "ended": 1}
    occ.refresh_from_db()
    assert occ.status == "ended" and occ.started_at == occ.ended_at
    assert not space_closed_at(spaces[0], now + 2 * H)
