"""events_ingest: orders from park_start/park_end, idempotency, out-of-order, anomalies, bad input."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.parking.models import (
    Device,
    DeviceEvent,
    DeviceOfflinePeriod,
    IngestRejection,
    Order,
    OrderState,
    ParkingAnomaly,
)
from govcenter.parking.selectors.tariffs import quote_with_plan
from govcenter.parking.services.events import events_ingest
from tests.parking.events_helpers import ago, ev, network

pytestmark = pytest.mark.django_db


@pytest.fixture
def net(org):
    return network(org)


def outcomes(results):
    return [(r.outcome, r.reason) for r in results]


def test_start_then_end_opens_closes_and_bills_with_the_tariff_engine(net):
    start, end = ago(hours=3), ago(minutes=50)
    r1 = events_ingest(device=net.sensor, events=[ev("park_start", start, vehicle_license_plate="京A12345",
                                                      vehicle_license_plate_confidence=93)])
    assert outcomes(r1) == [("accepted", "")]
    order = Order.objects.get(pk=r1[0].order_id)
    assert order.state == OrderState.OPEN and order.plate == "京A12345" and order.plate_confidence == 0.93
    assert order.space_version.space_id == net.dc_spaces[0].pk and order.district == net.dc_seg.district
    r2 = events_ingest(device=net.sensor, events=[ev("park_end", end)])
    assert outcomes(r2) == [("accepted", "")] and r2[0].order_id == order.pk
    order.refresh_from_db()
    expected = quote_with_plan(order.tariff_plan, vehicle="small", start=start, end=end)
    assert order.state == OrderState.BILLED
    assert order.amount_due_fen == expected.amount_fen > 0
    assert order.quote_lines == [line.as_dict() for line in expected.lines]
    assert order.tariff_plan.area_class == 1 and order.ended_at == end
    assert DeviceEvent.objects.filter(order=order).count() == 2


def test_large_vehicle_pays_double(net):
    start, end = ago(hours=2), ago(hours=1)
    small = events_ingest(device=net.camera, events=[ev("park_start", start, space_number="102"), ev("park_end", end, space_number="102")])
    large = events_ingest(device=net.camera, events=[ev("park_start", start, space_number="103", vehicle_type="truck"),
                                                      ev("park_end", end, space_number="103")])
    a, b = Order.objects.get(pk=small[0].order_id), Order.objects.get(pk=large[0].order_id)
    assert b.vehicle_class == "large" and b.amount_due_fen == 2 * a.amount_due_fen > 0


def test_heartbeat_and_device_online(net):
    Device.objects.filter(pk=net.sensor.pk).update(status="offline", last_heartbeat_at=None)
    events_ingest(device=net.sensor, events=[ev("scheduled_report", ago(seconds=5), custom_attributes={"battery_pct": 77})])
    net.sensor.refresh_from_db()
    assert net.sensor.status == "online" and net.sensor.last_heartbeat_at is not None and net.sensor.battery_pct == 77


def test_comms_lost_opens_and_comms_restored_closes_an_offline_period(net):
    lost, back = ago(minutes=30), ago(minutes=10)
    events_ingest(device=net.sensor, events=[ev("comms_lost", lost)])
    period = DeviceOfflinePeriod.objects.get(device=net.sensor)
    assert period.started_at == lost and period.ended_at is None
    net.sensor.refresh_from_db()
    assert net.sensor.status == "offline"
    events_ingest(device=net.sensor, events=[ev("comms_restored", back)])
    period.refresh_from_db()
    net.sensor.refresh_from_db()
    assert period.ended_at == back and net.sensor.status == "online"


# -- idempotency ------------------------------------------------------------------------------


def test_duplicate_across_batches_returns_the_original_outcome_and_is_not_reprocessed(net):
    event = ev("park_start", ago(hours=1))
    first = events_ingest(device=net.sensor, events=[event])
    again = events_ingest(device=net.sensor, events=[event])
    assert again[0].outcome == "duplicate" and again[0].reason == "duplicate_event_id"
    assert again[0].original_outcome == "accepted" and again[0].order_id == first[0].order_id
    assert Order.objects.count() == 1 and DeviceEvent.objects.count() == 1


def test_duplicate_inside_one_batch(net):
    event = ev("park_start", ago(hours=1))
    results = events_ingest(device=net.sensor, events=[event, dict(event)])
    assert [r.outcome for r in results] == ["accepted", "duplicate"]
    assert results[1].original_outcome == "accepted" and results[1].order_id == results[0].order_id
    assert Order.objects.count() == 1


# -- out of order, anomalies -----------------------------------------------------------------


def test_batch_is_processed_in_event_time_order(net):
    start, end = ago(hours=2), ago(hours=1)
    results = events_ingest(device=net.sensor, events=[ev("park_end", end), ev("park_start", start)])
    assert outcomes(results) == [("accepted", ""), ("accepted", "")]
    order = Order.objects.get()
    assert order.state == OrderState.BILLED and order.started_at == start and order.ended_at == end


def test_end_without_start_is_an_anomaly_then_a_late_start_resolves_it(net):
    start, end = ago(hours=2), ago(hours=1)
    r1 = events_ingest(device=net.sensor, events=[ev("park_end", end)])
    assert outcomes(r1) == [("anomaly", "end_without_start")] and r1[0].order_id is None
    anomaly = ParkingAnomaly.objects.get()
    assert anomaly.kind == "end_without_start" and anomaly.status == "open" and anomaly.district == net.dc_seg.district
    r2 = events_ingest(device=net.sensor, events=[ev("park_start", start)])
    assert outcomes(r2) == [("accepted", "resolved_end_without_start")]
    order = Order.objects.get(pk=r2[0].order_id)
    assert order.state == OrderState.BILLED and (order.started_at, order.ended_at) == (start, end)
    anomaly.refresh_from_db()
    assert anomaly.status == "resolved" and anomaly.order == order
    assert not Order.objects.filter(state="open").exists()
    assert DeviceEvent.objects.get(pk=anomaly.event_id).order == order


def test_overlapping_start_closes_the_older_stay_for_review(net):
    first, second = ago(hours=3), ago(hours=1)
    r1 = events_ingest(device=net.sensor, events=[ev("park_start", first)])
    r2 = events_ingest(device=net.sensor, events=[ev("park_start", second)])
    assert outcomes(r2) == [("anomaly", "overlapping_stay")]
    old, new = Order.objects.get(pk=r1[0].order_id), Order.objects.get(pk=r2[0].order_id)
    assert old.state == OrderState.BILLED and old.ended_at == second
    assert new.state == OrderState.OPEN and new.started_at == second
    anomaly = ParkingAnomaly.objects.get(kind="overlapping_stay")
    assert anomaly.order == old and anomaly.status == "open"
    assert Order.objects.filter(space=net.dc_spaces[0], state="open").count() == 1


def test_a_start_not_after_the_open_stay_opens_nothing(net):
    events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=1))])
    r = events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=2))])
    assert outcomes(r) == [("anomaly", "overlapping_stay")] and r[0].order_id is None
    assert Order.objects.count() == 1


def test_end_before_the_open_start_is_not_used_to_close_it(net):
    events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=1))])
    r = events_ingest(device=net.sensor, events=[ev("park_end", ago(hours=2))])
    assert outcomes(r) == [("anomaly", "end_without_start")]
    assert Order.objects.get().state == OrderState.OPEN


def test_unknown_space_number_of_a_camera_is_an_anomaly(net):
    r = events_ingest(device=net.camera, events=[ev("park_start", ago(hours=1), space_number="999")])
    assert outcomes(r) == [("anomaly", "unknown_space")]
    assert ParkingAnomaly.objects.get().kind == "unknown_space" and not Order.objects.exists()


def test_closed_space_gets_no_order(net):
    from govcenter.parking.models import Space

    Space.objects.filter(pk=net.dc_spaces[1].pk).update(status="temporarily_closed")
    r = events_ingest(device=net.camera, events=[ev("park_start", ago(hours=1), space_number="102")])
    assert outcomes(r) == [("anomaly", "space_closed")] and not Order.objects.exists()


# -- bad input, per event -----------------------------------------------------------------------


NOW_ISO = "2025-01-01T08:00:00+08:00"


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda e: e.pop("event_id"), "missing_event_id"),
        (lambda e: e.update(event_id="not-a-uuid"), "invalid_event_id"),
        (lambda e: e.update(event_id=12), "invalid_event_id"),
        (lambda e: e.pop("event_type"), "missing_event_type"),
        (lambda e: e.update(event_type="teleport"), "unknown_event_type"),
        (lambda e: e.update(event_type="citation_issued"), "unsupported_event_type"),
        (lambda e: e.pop("event_time"), "missing_event_time"),
        (lambda e: e.update(event_time="yesterday"), "invalid_event_time"),
        (lambda e: e.update(event_time="2025-01-01T08:00:00"), "naive_event_time"),
        (lambda e: e.update(event_time=True), "invalid_event_time"),
        (lambda e: e.update(event_time=(timezone.now() + dt.timedelta(hours=1)).isoformat()), "event_in_future"),
        (lambda e: e.update(event_time=(timezone.now() - dt.timedelta(days=30)).isoformat()), "event_too_old"),
        (lambda e: e.update(data_source_type="telepathy"), "invalid_data_source_type"),
        (lambda e: e.update(curb_space_id="nope"), "invalid_curb_space_id"),
        (lambda e: e.update(curb_space_id=str(uuid.uuid4())), "space_not_bound"),
        (lambda e: e.update(space_number="999"), "space_not_bound"),
        (lambda e: e.update(vehicle_license_plate="ABC123"), "invalid_plate"),
        (lambda e: e.update(vehicle_license_plate="京I12345"), "invalid_plate"),
        (lambda e: e.update(vehicle_license_plate=12345), "invalid_plate"),
        (lambda e: e.update(vehicle_license_plate_confidence=101), "invalid_plate_confidence"),
        (lambda e: e.update(vehicle_license_plate_confidence="high"), "invalid_plate_confidence"),
        (lambda e: e.update(vehicle_class="bus"), "invalid_vehicle_class"),
        (lambda e: e.update(custom_attributes={"battery_pct": 140}), "invalid_battery_pct"),
    ],
)
def test_malformed_event_is_rejected_with_a_specific_reason_and_counted(net, mutate, reason):
    bad = ev("park_start", ago(minutes=30))
    mutate(bad)
    good = ev("park_start", ago(minutes=40), space_number="102")
    results = events_ingest(device=net.sensor, events=[bad, ev("scheduled_report", ago(minutes=1))])
    assert results[0].outcome == "rejected" and results[0].reason == reason, results[0]
    assert results[1].outcome == "accepted"  # a rejection does not block the others
    assert not Order.objects.exists() and DeviceEvent.objects.count() == 1
    counter = IngestRejection.objects.get(source="device:DC-GM-1", reason=reason)
    assert counter.count == 1 and counter.device == net.sensor
    events_ingest(device=net.sensor, events=[bad])
    counter.refresh_from_db()
    assert counter.count == 2
    assert good  # (camera events are covered below)


def test_camera_event_without_a_space_and_for_another_segment(net):
    other = net.xc_space
    results = events_ingest(
        device=net.camera,
        events=[ev("park_start", ago(minutes=5)), ev("park_start", ago(minutes=5), curb_space_id=str(other.curb_space_id))],
    )
    assert outcomes(results) == [("rejected", "space_required"), ("rejected", "space_not_bound")]


def test_valid_plates(net):
    plates = ["京A12345", "京AD12345", "京A12345D", "沪B·9K88Z", "粤Z1234港", "京a 12345"]
    events = [ev("park_start", ago(minutes=50 - i), space_number=n, vehicle_license_plate=p)
              for i, (p, n) in enumerate(zip(plates, ["101", "102", "103"] * 2, strict=True))]
    results = events_ingest(device=net.camera, events=events)
    assert all(r.outcome in ("accepted", "anomaly") for r in results), results


def test_a_rejected_event_can_be_fixed_and_resent_under_the_same_id(net):
    event = ev("park_start", ago(minutes=10), vehicle_license_plate="bad")
    assert events_ingest(device=net.sensor, events=[event])[0].outcome == "rejected"
    event["vehicle_license_plate"] = "京A12345"
    assert events_ingest(device=net.sensor, events=[event])[0].outcome == "accepted"


# -- bad input, whole batch -------------------------------------------------------------------


@override_settings(GOVCENTER_PARKING_MAX_BATCH=3)
def test_batch_too_large_writes_nothing_and_is_counted(net):
    events = [ev("park_start", ago(minutes=5)) for _ in range(4)]
    with pytest.raises(ServiceError) as info:
        events_ingest(device=net.sensor, events=events)
    assert info.value.status_code == 413 and info.value.error_code == "batch_too_large"
    assert not DeviceEvent.objects.exists() and not Order.objects.exists()
    assert IngestRejection.objects.get(reason="batch_too_large").count == 1


@pytest.mark.parametrize("body,reason", [({"a": 1}, "invalid_body"), ([], "empty_batch")])
def test_bad_batches(net, body, reason):
    with pytest.raises(ServiceError) as info:
        events_ingest(device=net.sensor, events=body)
    assert info.value.error_code == reason
    assert IngestRejection.objects.get(reason=reason).count == 1


def test_a_failure_inside_the_batch_leaves_no_partial_rows(net, monkeypatch):
    from govcenter.parking.services import events as module

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module.ParkingAnomaly.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=2)), ev("park_end", ago(hours=1)),
                                                 ev("park_end", ago(minutes=30))])
    assert not DeviceEvent.objects.exists() and not Order.objects.exists()


# -- database guarantees ----------------------------------------------------------------------


def test_the_database_refuses_a_second_open_order_on_a_space(net):
    events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=1))])
    order = Order.objects.get()
    twin = Order(
        district=order.district, managing_unit=order.managing_unit, segment=order.segment, space=order.space,
        space_version=order.space_version, started_at=ago(minutes=30),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_the_database_refuses_an_end_before_the_start(net):
    events_ingest(device=net.sensor, events=[ev("park_start", ago(hours=1))])
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.update(ended_at=ago(hours=2))


# -- the bulk write path (COPY on PostgreSQL, bulk_create elsewhere) ----------------------------


def test_event_rows_write_every_device_event_column():
    from govcenter.parking.services.events import EVENT_ROW_FIELDS

    assert sorted(EVENT_ROW_FIELDS) == sorted(f.attname for f in DeviceEvent._meta.concrete_fields)


def test_new_order_builder_matches_the_keyword_constructor_and_refuses_unknown_names():
    from govcenter.parking.services.events import _new_order

    values = {"district_id": 1, "managing_unit_id": 2, "segment_id": 3, "space_id": 4, "space_version_id": 5,
              "plate": "京A12345", "plate_confidence": 0.9, "vehicle_class": "large", "started_at": ago(hours=1),
              "start_event_id": uuid.uuid4(), "state": OrderState.OPEN}
    fast, slow = _new_order(**values), Order(**values)
    for field in Order._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(slow, field.attname), field.name
    assert fast._state.adding and fast.quote_lines == [] and fast.quote_lines is not _new_order(**values).quote_lines
    with pytest.raises(IndexError):
        _new_order(**values, no_such_field=1)


def test_a_large_batch_stores_every_event_and_order_as_reported(net):
    """Three rounds on the camera's three spaces plus other event kinds, shuffled: each stored
    row carries exactly what was sent and what the result says (ids, outcome, order)."""
    import random

    events, numbers = [], ["101", "102", "103"]
    for k in range(3):
        start = ago(hours=10 - 2 * k)
        for n in numbers:
            events.append(ev("park_start", start, space_number=n, vehicle_license_plate="京B2345" + n[-1],
                             vehicle_license_plate_confidence=88, vehicle_type="truck" if n == "103" else "car",
                             custom_attributes={"lane": n, "note": "tab\there\nline \\ 引号\""}))
            events.append(ev("park_end", start + dt.timedelta(minutes=40), space_number=n))
    events += [ev("park_end", ago(hours=20), space_number="101"), ev("scheduled_report", ago(minutes=1)),
               ev("park_start", ago(hours=1), space_number="999"), {"event_id": "bad"}]
    random.Random(3).shuffle(events)
    results = events_ingest(device=net.camera, events=events, transport="mqtt")
    by_id = {r.event_id: r for r in results}
    assert [r.event_id for r in results] == [str(e["event_id"]) for e in events]
    stored = {str(row.pk): row for row in DeviceEvent.objects.all()}
    assert set(stored) == {r.event_id for r in results if r.outcome in ("accepted", "anomaly")}
    assert len(stored) == len(events) - 1
    for raw in events:
        result = by_id[str(raw["event_id"])]
        if result.outcome == "rejected":
            continue
        row = stored[result.event_id]
        assert row.payload == raw and row.event_type == raw["event_type"] and row.transport == "mqtt"
        assert row.event_time == dt.datetime.fromisoformat(raw["event_time"]) and row.received_at is not None
        assert (row.outcome, row.reason, row.order_id) == (result.outcome, result.reason, result.order_id)
        assert row.device_id == net.camera.pk and row.district_id == net.dc_seg.district_id
        assert row.data_source_type == "camera" and row.managing_unit_id == net.dc_seg.managing_unit_id
        if raw.get("space_number") in numbers:
            assert row.space.number == raw["space_number"] and row.segment_id == net.dc_seg.pk
        if raw.get("vehicle_license_plate"):
            assert row.plate == raw["vehicle_license_plate"] and row.plate_confidence == 0.88
            assert row.vehicle_class == ("large" if raw["space_number"] == "103" else "small")
    orders = list(Order.objects.order_by("pk"))
    assert len(orders) == 9 and all(o.state == OrderState.BILLED and o.created_at and o.updated_at for o in orders)
    for order in orders:
        ends = DeviceEvent.objects.filter(order=order).values_list("event_type", flat=True)
        assert sorted(ends) == ["park_end", "park_start"]
        assert order.start_event.event_type == "park_start" and order.end_event.event_type == "park_end"
        expected = quote_with_plan(order.tariff_plan, vehicle=order.vehicle_class, start=order.started_at,
                                   end=order.ended_at)
        assert order.amount_due_fen == expected.amount_fen > 0
        assert order.quote_lines == [line.as_dict() for line in expected.lines]
    assert len({id(o.quote_lines) for o in orders}) == len(orders)
    assert ParkingAnomaly.objects.filter(kind="end_without_start").count() == 1
    assert ParkingAnomaly.objects.filter(kind="unknown_space").count() == 1
    # Ids came from the table's own sequence: an ordinary insert afterwards does not collide.
    later = events_ingest(device=net.sensor, events=[ev("park_start", ago(minutes=20))])
    assert later[0].order_id > max(o.pk for o in orders)


def test_a_failure_after_the_bulk_writes_leaves_no_partial_rows(net, monkeypatch):
    from govcenter.parking.services import events as module

    def then_fail(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(module, "_heartbeat", then_fail)
    with pytest.raises(RuntimeError):
        events_ingest(device=net.camera, events=[ev("park_start", ago(hours=2), space_number="101"),
                                                 ev("park_end", ago(hours=1), space_number="101"),
                                                 ev("park_start", ago(minutes=30), space_number="102")])
    assert not DeviceEvent.objects.exists() and not Order.objects.exists()


def test_billing_prices_each_distinct_stay_once_and_gives_each_order_its_own_lines(net):
    from govcenter.parking.services import orders as orders_module

    calls = []
    real_quote = orders_module.quote

    def counting_quote(*args, **kwargs):
        calls.append(kwargs["start"])
        return real_quote(*args, **kwargs)

    start, end = ago(hours=3), ago(hours=1)
    events = []
    for n in ("101", "102", "103"):
        events += [ev("park_start", start, space_number=n), ev("park_end", end, space_number=n)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(orders_module, "quote", counting_quote)
        events_ingest(device=net.camera, events=events)
    assert len(calls) == 1
    orders = list(Order.objects.all())
    assert len(orders) == 3 and len({o.amount_due_fen for o in orders}) == 1
    expected = quote_with_plan(orders[0].tariff_plan, vehicle="small", start=start, end=end)
    assert all(o.quote_lines == [line.as_dict() for line in expected.lines] for o in orders)
