"""Billing gaps: closed periods (临时占用) judged by event time, segment tariff plans, statutory holidays.

Real components throughout: the event ingest, the occupation services and their task
function, the tariff services and the working-calendar table seeded from chinesecalendar.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govcenter.core import calendar as workcal
from govcenter.core.models import CalendarDay
from govcenter.parking.models import (
    Order,
    OrderState,
    ParkingAnomaly,
    SegmentVersion,
    SpaceVersion,
    TariffPlan,
)
from govcenter.parking.selectors.tariffs import holidays_between, plan_for, quote_with_plan, tariff_quote
from govcenter.parking.services import occupations
from govcenter.parking.services.events import events_ingest
from govcenter.parking.services.orders import order_correct
from govcenter.parking.services.tariffs import tariff_plan_publish
from govcenter.parking.tariff import SHANGHAI
from tests.parking.events_helpers import ev, network
from tests.parking.factories import DeviceFactory, RoadFactory, SegmentFactory, SpaceFactory

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def backdate_base_data(since: dt.datetime) -> None:
    """The network's base data as if entered at ``since`` (versions are what billing reads)."""
    SpaceVersion.objects.update(valid_from=since)
    SegmentVersion.objects.update(valid_from=since)


@pytest.fixture
def net(org):
    n = network(org)
    backdate_base_data(timezone.now() - dt.timedelta(days=30))
    # 09:00 two days ago, Beijing time: within the ingest's 72-hour window, whatever the hour now.
    day = timezone.localdate(timezone.now(), SHANGHAI) - dt.timedelta(days=2)
    n.base = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
    return n


def outcomes(results):
    return [(r.outcome, r.reason) for r in results]


def occupy(org, space, *, created: dt.datetime, start: dt.datetime, end: dt.datetime | None):
    """An occupation of one space planned at ``created`` for ``start``–``end``, run by the task
    function: started at ``start`` and, when ``end`` is given, ended at ``end``."""
    occ = occupations.occupation_create(
        actor=org.manager_dc,
        reason="construction",
        reason_text="管线施工",
        starts_at=start,
        ends_at=end or start + 30 * 24 * H,
        spaces=[space],
        now=created,
    )
    assert occupations.occupations_tick(start)["started"] == 1
    if end is not None:
        assert occupations.occupations_tick(end)["ended"] == 1
    occ.refresh_from_db()
    return occ


def parts_fen(plan, *parts) -> int:
    return sum(quote_with_plan(plan, vehicle="small", start=s, end=e).amount_fen for s, e in parts)


# ------------------------------------------------------------------------------------------
# 1. Temporary occupation: nothing billed meanwhile, judged by event time
# ------------------------------------------------------------------------------------------


def test_stay_across_an_occupation_scheduled_later_is_billed_only_outside_it(org, net):
    b = net.base
    space = net.dc_spaces[0]
    r = events_ingest(device=net.sensor, events=[ev("park_start", b, vehicle_license_plate="京A12345")])
    assert outcomes(r) == [("accepted", "")]
    # The occupation is planned while the car is parked, for 10:00–12:00.
    occupy(org, space, created=b + H / 2, start=b + H, end=b + 3 * H)
    r = events_ingest(device=net.sensor, events=[ev("park_end", b + 4 * H)])
    assert outcomes(r) == [("accepted", "")]
    order = Order.objects.get(pk=r[0].order_id)
    assert order.state == OrderState.BILLED
    # 09:00–10:00 and 12:00–13:00 priced as stays of their own (class 1: 4 × ¥2.50 each).
    assert order.amount_due_fen == parts_fen(order.tariff_plan, (b, b + H), (b + 3 * H, b + 4 * H)) == 2000
    full = quote_with_plan(order.tariff_plan, vehicle="small", start=b, end=b + 4 * H).amount_fen
    assert full == 5500 > order.amount_due_fen
    closed = [line for line in order.quote_lines if line["period"] == "closed"]
    assert closed == [
        {
            "period": "closed",
            "from": (b + H).isoformat(),
            "to": (b + 3 * H).isoformat(),
            "units": 120,
            "unit_fen": 0,
            "multiplier_pct": 100,
            "amount_fen": 0,
            "note": occupations.NOTE_CLOSED,
        }
    ]
    assert sum(line["amount_fen"] for line in order.quote_lines) == order.amount_due_fen
    assert [line["from"] for line in order.quote_lines] == sorted(line["from"] for line in order.quote_lines)


def test_open_stay_when_an_occupation_starts_is_not_billed_while_it_lasts(org, net):
    """The occupation is still active (the space closed now); the car's end arrives inside it."""
    b = net.base
    space = net.dc_spaces[0]
    events_ingest(device=net.sensor, events=[ev("park_start", b)])
    occupy(org, space, created=b + H / 2, start=b + H, end=None)
    space.refresh_from_db()
    assert space.status == "temporarily_closed"
    r = events_ingest(device=net.sensor, events=[ev("park_end", b + 5 * H)])
    assert outcomes(r) == [("accepted", "")]
    order = Order.objects.get(pk=r[0].order_id)
    assert order.amount_due_fen == 1000  # only 09:00–10:00
    assert [
        (line["period"], line["from"], line["to"]) for line in order.quote_lines if line["amount_fen"] == 0
    ] == [("closed", (b + H).isoformat(), (b + 5 * H).isoformat())]


def test_late_start_from_before_an_occupation_that_began_since_opens_its_stay(org, net):
    """Space closed *now*, but the (late) start is from before the occupation: accepted."""
    b = net.base
    space = net.dc_spaces[0]
    occupy(org, space, created=b - H, start=b + H, end=None)
    r = events_ingest(device=net.sensor, events=[ev("park_start", b + H / 2), ev("park_end", b + 2 * H)])
    assert outcomes(r) == [("accepted", ""), ("accepted", "")]
    order = Order.objects.get(pk=r[0].order_id)
    assert order.amount_due_fen == 500  # 09:30–10:00: 2 × ¥2.50; 10:00–11:00 closed
    assert not ParkingAnomaly.objects.exists()


def test_late_start_inside_a_past_occupation_is_space_closed_though_the_space_is_open_now(org, net):
    b = net.base
    space = net.dc_spaces[0]
    occupy(org, space, created=b - H, start=b + H, end=b + 3 * H)
    space.refresh_from_db()
    assert space.status == "active"  # restored
    r = events_ingest(device=net.sensor, events=[ev("park_start", b + 2 * H)])
    assert outcomes(r) == [("anomaly", "space_closed")]
    anomaly = ParkingAnomaly.objects.get()
    assert (anomaly.kind, anomaly.event_time, anomaly.space_id) == ("space_closed", b + 2 * H, space.pk)
    assert not Order.objects.exists()
    # At the occupation's end the space is in service again (end exclusive); before its start too.
    r = events_ingest(device=net.sensor, events=[ev("park_start", b + 3 * H), ev("park_end", b + 4 * H)])
    assert outcomes(r) == [("accepted", ""), ("accepted", "")]
    r = events_ingest(device=net.sensor, events=[ev("park_start", b), ev("park_end", b + H)])
    assert outcomes(r) == [("accepted", ""), ("accepted", "")]
    assert Order.objects.filter(state=OrderState.BILLED).count() == 2


def test_a_cancelled_occupation_closes_nothing_for_billing(org, net):
    b = net.base
    occ = occupations.occupation_create(
        actor=org.manager_dc,
        reason="event",
        starts_at=b + H,
        ends_at=b + 3 * H,
        spaces=[net.dc_spaces[0]],
        now=b - H,
    )
    occupations.occupation_cancel(actor=org.manager_dc, occupation=occ, reason="活动取消")
    r = events_ingest(device=net.sensor, events=[ev("park_start", b), ev("park_end", b + 4 * H)])
    order = Order.objects.get(pk=r[0].order_id)
    assert order.amount_due_fen == 5500 and not [x for x in order.quote_lines if x["period"] == "closed"]


def test_a_correction_rebills_with_the_closed_period_left_out(org, net):
    b = net.base
    occupy(org, net.dc_spaces[0], created=b - H, start=b + H, end=b + 3 * H)
    r = events_ingest(device=net.sensor, events=[ev("park_start", b), ev("park_end", b + H / 2)])
    order = Order.objects.get(pk=r[0].order_id)
    assert order.amount_due_fen == 500
    order = order_correct(
        actor=org.manager_dc,
        order=order,
        evidence_photo_ref="PDA-1",
        reason="驶离时间更正",
        ended_at=b + 4 * H,
    )
    assert order.amount_due_fen == 2000
    assert [x["period"] for x in order.quote_lines].count("closed") == 1


def test_closure_book_merges_occupations_and_closed_versions(org, net):
    b = net.base
    space = net.dc_spaces[0]
    occupy(org, space, created=b - H, start=b + H, end=b + 3 * H)
    book = occupations.ClosureBook()
    assert book.covered(space.pk, b, b + 4 * H) == [(b + H, b + 3 * H)]
    assert book.closed_at(space.pk, b + H) and not book.closed_at(space.pk, b + 3 * H)
    assert book.covered(net.dc_spaces[1].pk, b, b + 4 * H) == []


# ------------------------------------------------------------------------------------------
# 2. A segment's own tariff plan
# ------------------------------------------------------------------------------------------


@pytest.fixture
def special(org, net):
    """A named plan 'dc-wfj-special' (v1 30 days back), a class-1 segment naming it with a sensor."""
    since = timezone.now() - dt.timedelta(days=30)
    plan = tariff_plan_publish(
        actor=None,
        area_class=1,
        code="dc-wfj-special",
        valid_from=since,
        now=since - dt.timedelta(seconds=1),
        name="王府井特别收费标准",
        day_first_unit_fen=400,
        day_later_unit_fen=600,
        night_unit_fen=300,
    )
    segment = SegmentFactory(
        road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc),
        area_class=1,
        tariff_code=plan.code,
    )
    space = SpaceFactory(segment=segment, number="501")
    sensor = DeviceFactory(space=space, serial="DC-GM-WFJ")
    backdate_base_data(since - H)
    return plan, segment, space, sensor


def test_publishing_a_named_plan_leaves_the_area_class_plan_alone(special):
    plan, *_ = special
    standard = TariffPlan.objects.get(code="bj-road-class-1", version=1)
    assert standard.valid_to is None and standard.is_area_class_plan and not plan.is_area_class_plan
    assert plan_for(1, timezone.now()).code == "bj-road-class-1"  # the class's quote is unchanged
    assert (plan.code, plan.version, plan.area_class) == ("dc-wfj-special", 1, 1)


def test_a_segment_on_a_named_plan_is_billed_and_recorded_under_it(net, special):
    plan, segment, space, sensor = special
    b = net.base
    r = events_ingest(device=sensor, events=[ev("park_start", b), ev("park_end", b + 2 * H)])
    order = Order.objects.get(pk=r[0].order_id)
    assert order.space_version.tariff_code == "dc-wfj-special"
    assert (order.tariff_plan.code, order.tariff_plan.version) == ("dc-wfj-special", 1)
    assert order.amount_due_fen == 4 * 400 + 4 * 600
    # A class-1 segment naming no plan still bills under the standard.
    r = events_ingest(device=net.sensor, events=[ev("park_start", b), ev("park_end", b + 2 * H)])
    other = Order.objects.get(pk=r[0].order_id)
    assert (other.tariff_plan.code, other.amount_due_fen) == ("bj-road-class-1", 4 * 250 + 4 * 375)


def test_the_named_plan_version_in_force_at_the_start_is_recorded(net, special):
    plan, segment, space, sensor = special
    b = net.base
    v2 = tariff_plan_publish(
        actor=None,
        area_class=1,
        code=plan.code,
        valid_from=b + 2 * H,
        now=b,
        day_first_unit_fen=500,
    )
    assert (v2.version, v2.day_later_unit_fen, v2.night_unit_fen) == (2, 600, 300)  # copied from v1
    plan.refresh_from_db()
    assert plan.valid_to == b + 2 * H
    assert TariffPlan.objects.get(code="bj-road-class-1", version=1).valid_to is None
    early = events_ingest(device=sensor, events=[ev("park_start", b + H), ev("park_end", b + 3 * H)])
    late = events_ingest(device=sensor, events=[ev("park_start", b + 4 * H), ev("park_end", b + 5 * H)])
    first, second = (Order.objects.get(pk=r[0].order_id) for r in (early, late))
    assert (first.tariff_plan.version, first.amount_due_fen) == (1, 4 * 400 + 4 * 600)
    assert (second.tariff_plan.version, second.amount_due_fen) == (2, 4 * 500)


def test_a_named_plan_not_in_force_falls_back_to_the_area_class_plan(org, net):
    segment = SegmentFactory(
        road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc),
        area_class=2,
        tariff_code="no-such-plan",
    )
    sensor = DeviceFactory(space=SpaceFactory(segment=segment, number="601"), serial="DC-GM-601")
    backdate_base_data(timezone.now() - dt.timedelta(days=30))
    b = net.base
    r = events_ingest(device=sensor, events=[ev("park_start", b), ev("park_end", b + H)])
    order = Order.objects.get(pk=r[0].order_id)
    assert (order.tariff_plan.code, order.amount_due_fen) == ("bj-road-class-2", 4 * 150)


def test_publish_refuses_another_class_code_and_a_class_change(special):
    from govcenter.core.api.errors import ServiceError

    later = timezone.now() + dt.timedelta(days=1)
    with pytest.raises(ServiceError) as info:
        tariff_plan_publish(actor=None, area_class=1, code="bj-road-class-2", valid_from=later)
    assert info.value.error_code == "invalid" and "code" in info.value.details
    with pytest.raises(ServiceError) as info:
        tariff_plan_publish(actor=None, area_class=2, code="dc-wfj-special", valid_from=later)
    assert info.value.error_code == "invalid" and "area_class" in info.value.details


# ------------------------------------------------------------------------------------------
# 3. Holiday rules: statutory holidays only, through the real calendar table
# ------------------------------------------------------------------------------------------

NATIONAL_DAY_EVE = (local("2026-09-30 19:00"), local("2026-10-01 10:00"))  # Wed evening → Thu holiday
ND_SATURDAY = (local("2026-10-03 09:00"), local("2026-10-03 11:00"))  # a weekend day of the break
MAKEUP_SATURDAY = (local("2026-10-10 09:00"), local("2026-10-10 11:00"))  # 调休 workday
PLAIN_SATURDAY = (local("2026-10-17 09:00"), local("2026-10-17 11:00"))  # an ordinary weekend


@pytest.fixture
def calendar_2026(db):
    workcal.seed_calendar(years=[2026])
    workcal.invalidate_cache()
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 3)).kind == CalendarDay.Kind.HOLIDAY
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 10)).kind == CalendarDay.Kind.ADJUSTED_WORKDAY
    return None


def test_statutory_holidays_are_not_weekends(calendar_2026):
    days = holidays_between(local("2026-09-26 12:00"), local("2026-10-18 12:00"))
    assert days == {dt.date(2026, 9, 26), dt.date(2026, 9, 27)} | {dt.date(2026, 10, d) for d in range(1, 8)}
    assert not workcal.is_statutory_holiday(dt.date(2026, 10, 17))  # Saturday, billed as any day
    assert not workcal.is_statutory_holiday(dt.date(2026, 10, 10))  # 调休 Saturday
    assert workcal.is_statutory_holiday(local("2026-10-01 23:30"))
    # A year without rows falls back to the package: National Day 2025, not its 调休 Saturday.
    assert workcal.is_statutory_holiday(dt.date(2025, 10, 1))
    assert not workcal.is_statutory_holiday(dt.date(2025, 10, 11))
    assert not workcal.is_statutory_holiday(dt.date(2025, 10, 18))


def test_administrators_rows_decide(calendar_2026):
    workcal.calendar_day_save(date=dt.date(2026, 10, 17), kind=CalendarDay.Kind.REST_DAY, name="休息日")
    assert not workcal.is_statutory_holiday(dt.date(2026, 10, 17))  # a rest day is no statutory holiday
    workcal.calendar_day_save(date=dt.date(2026, 10, 16), kind=CalendarDay.Kind.HOLIDAY, name="临时假日")
    assert workcal.is_statutory_holiday(dt.date(2026, 10, 16))


@pytest.fixture
def holiday_plans(db, calendar_2026):
    """The class-1 standard and, from 2026-09-01, a free_day class-1 v2 and a night_rate named plan."""
    from govcenter.parking.services.tariffs import tariff_seed_beijing_standard

    tariff_seed_beijing_standard()
    switch, before = local("2026-09-01 00:00"), local("2026-08-01 00:00")
    free = tariff_plan_publish(
        actor=None, area_class=1, valid_from=switch, now=before, holiday_rule="free_day"
    )
    night = tariff_plan_publish(
        actor=None,
        area_class=1,
        code="dc-holiday-night",
        valid_from=switch,
        now=before,
        name="节假日按夜间计费",
        day_first_unit_fen=250,
        day_later_unit_fen=375,
        night_unit_fen=100,
        holiday_rule="night_rate",
    )
    return free, night


@pytest.mark.parametrize(
    ("stay", "free_fen", "night_fen"),
    [
        # 19:00–21:00 8 day units (4 × 250 + 4 × 375) + night 10 h (5 × 100) + 10-01 07:00–10:00:
        # free, or 3 h at night units (2 × 100).
        (NATIONAL_DAY_EVE, 2500 + 500, 2500 + 500 + 200),
        (ND_SATURDAY, 0, 100),
        (MAKEUP_SATURDAY, 2500, 2500),
        (PLAIN_SATURDAY, 2500, 2500),
    ],
)
def test_quote_across_national_day(holiday_plans, stay, free_fen, night_fen):
    free, night = holiday_plans
    start, end = stay
    result = tariff_quote(area_class=1, vehicle="small", start=start, end=end)
    assert (result["plan"]["version"], result["amount_fen"]) == (free.version, free_fen)
    assert quote_with_plan(night, vehicle="small", start=start, end=end).amount_fen == night_fen


def test_billing_across_national_day_through_the_event_ingest(org, holiday_plans):
    free, night = holiday_plans
    n = network(org)
    night_segment = SegmentFactory(
        road=RoadFactory(district=org.dongcheng, managing_unit=org.unit_dc),
        area_class=1,
        tariff_code=night.code,
    )
    night_sensor = DeviceFactory(space=SpaceFactory(segment=night_segment, number="701"), serial="DC-GM-701")
    backdate_base_data(local("2026-08-15 00:00"))
    max_age = timezone.now() - local("2026-09-01 00:00") + dt.timedelta(days=30)
    expected = {
        NATIONAL_DAY_EVE: (3000, 3200),
        ND_SATURDAY: (0, 100),
        MAKEUP_SATURDAY: (2500, 2500),
        PLAIN_SATURDAY: (2500, 2500),
    }
    for (start, end), (free_fen, night_fen) in expected.items():
        for device, plan, fen in ((n.sensor, free, free_fen), (night_sensor, night, night_fen)):
            r = events_ingest(
                device=device, events=[ev("park_start", start), ev("park_end", end)], max_age=max_age
            )
            assert outcomes(r) == [("accepted", ""), ("accepted", "")], (start, plan.code)
            order = Order.objects.get(pk=r[0].order_id)
            assert (order.tariff_plan_id, order.amount_due_fen) == (plan.pk, fen), (start, plan.code)
            assert order.state == (OrderState.PAID if fen == 0 else OrderState.BILLED)
    holiday = Order.objects.get(tariff_plan=free, started_at=NATIONAL_DAY_EVE[0])
    assert [line["note"] for line in holiday.quote_lines][-1] == "节假日白天免费"


def test_a_closed_period_wins_over_a_permit_where_they_overlap(net):
    """Permit 09:00–11:00 and closure 10:00–12:00 over a stay 09:00–13:00: the permit line is
    cut at 10:00, the closure gets its own line, only 12:00–13:00 is billed."""
    from types import SimpleNamespace

    from govcenter.parking.services.orders import Biller

    b = net.base
    plan = plan_for(1, b)
    stay = SimpleNamespace(started_at=b, ended_at=b + 4 * H, vehicle_class="small")
    amount, lines = Biller()._priced_in_parts(plan, stay, [(b + H, b + 3 * H)], [(7, b, b + 2 * H)])
    assert amount == 1000  # 12:00–13:00, its own first hour
    zero = [(x["period"], x["from"], x["to"]) for x in lines if x["amount_fen"] == 0]
    assert zero == [
        ("permit", b.isoformat(), (b + H).isoformat()),
        ("closed", (b + H).isoformat(), (b + 3 * H).isoformat()),
    ]
