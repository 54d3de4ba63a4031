"""``govcenter parking demo`` (parking/demo_scale.py): the Beijing-scale demo, tiny numbers on SQLite."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import timezone

from govcenter.core.districts import BDA_CODE, get_index, load_districts
from govcenter.parking.demo_scale import MARK, area_class_for, distance_km, expected_boundary, make_plates
from govcenter.parking.models import (
    Device,
    DeviceEvent,
    Order,
    PaymentIntent,
    PaymentItem,
    Road,
    Segment,
    Space,
    SpaceVersion,
    TariffPlan,
)
from govcenter.parking.plates import validate_plate
from govcenter.parking.selectors.tariffs import holidays_between
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from govcenter.parking.tariff import SHANGHAI, Rules, quote

pytestmark = pytest.mark.django_db

SPACES, DAYS = 200, 1


@pytest.fixture
def reference(settings):
    settings.DEBUG = True
    load_districts()
    tariff_seed_beijing_standard()


def demo(*args, replace=False):
    out, err = StringIO(), StringIO()
    call_command(
        "parking", "demo", "--spaces", str(SPACES), "--days", str(DAYS), *args,
        *(["--replace"] if replace else []), stdout=out, stderr=err,
    )  # fmt: skip
    return out.getvalue(), err.getvalue()


def test_demo_counts_boundaries_classes_prices_and_rerun(reference):
    out, err = demo("--seed", "7")
    assert "orders" in out and "spaces 200" in out
    assert "spaces" in err and "100%" in err  # the progress on stderr

    spaces = list(Space.objects.select_related("district", "segment"))
    assert len(spaces) == SPACES
    assert Road.objects.filter(code__startswith=f"{MARK}-").count() == 17  # ≥ one road per unit
    assert {s.district.code for s in spaces} >= {"110101", "110102", "110119", BDA_CODE}

    # Every space inside its district's real boundary (the development area inside 大兴区).
    codes = get_index().lookup_codes([s.lon for s in spaces], [s.lat for s in spaces]).tolist()
    assert codes == [expected_boundary(s.district.code) for s in spaces]

    # Area class = the class of the segment's mean position's distance from Tiananmen.
    for segment in Segment.objects.filter(code__startswith=f"{MARK}-"):
        pts = np.array(list(segment.spaces.values_list("lon", "lat")))
        assert segment.area_class == int(area_class_for(distance_km(pts[:, 0].mean(), pts[:, 1].mean())))
        assert segment.capacity == len(pts)
    assert SpaceVersion.objects.filter(valid_to__isnull=True).count() == SPACES
    assert Device.objects.filter(kind="high_video").count() == Segment.objects.count()

    # About 4 stays per space per day (Poisson, overlaps trimmed): within 15 %.
    orders = Order.objects.all()
    n = orders.count()
    assert 0.85 * 4 * SPACES * DAYS <= n <= 1.15 * 4 * SPACES * DAYS, n
    states = dict(Order.objects.values_list("state").annotate(n=Count("id")))
    assert states.get("paid", 0) > 0.6 * n and states.get("billed", 0) + states.get("arrears", 0) > 0.05 * n
    assert (
        PaymentItem.objects.count()
        == PaymentIntent.objects.count()
        == orders.filter(state="paid", amount_paid_fen__gt=0).count()
    )
    for order in orders.filter(state="paid", amount_paid_fen__gt=0)[:20]:
        item = order.payment_items.get()
        assert item.amount_fen == order.amount_due_fen and item.intent.status == "paid"

    # Stays of one space never overlap; at most one open order per space (the database says so too).
    rows = list(orders.order_by("space_id", "started_at").values_list("space_id", "started_at", "ended_at"))
    for (s1, _a, e1), (s2, b2, _e) in zip(rows, rows[1:], strict=False):
        if s1 == s2:
            assert e1 is not None and e1 <= b2

    # Priced by the tariff engine: recompute a sample from the plan and the version's class
    # (stays billed by a residential permit are checked in test_demo_permits.py).
    billed = [
        o
        for o in orders.exclude(tariff_plan=None).select_related("tariff_plan", "space_version")[:80]
        if not any(line.get("period") == "permit" for line in o.quote_lines)
    ][:60]
    assert billed
    for order in billed:
        plan = order.tariff_plan
        assert plan.area_class == order.space_version.area_class
        rules = Rules.from_plan(plan)
        holidays = (
            holidays_between(order.started_at, order.ended_at)
            if rules.holiday_rule != "same"
            else frozenset()
        )
        expected = quote(
            rules, vehicle=order.vehicle_class, start=order.started_at, end=order.ended_at, holidays=holidays
        )
        assert order.amount_due_fen == expected.amount_fen
        assert sum(line["amount_fen"] for line in order.quote_lines) == order.amount_due_fen

    # Plates: valid GA 36 formats, some new-energy.
    plates = set(orders.values_list("plate", flat=True))
    assert all(validate_plate(p) == p for p in plates)

    # Device events for the stays of the last day, linked both ways.
    events = DeviceEvent.objects.filter(event_type="park_start")
    assert events.exists()
    for event in events.select_related("order")[:20]:
        assert event.order.start_event_id == event.event_id and event.order.plate == event.plate

    # A second load is refused (exit 2) and changes nothing.
    with pytest.raises(CommandError, match="already loaded") as info:
        demo()
    assert info.value.returncode == 2
    assert Order.objects.count() == n


def test_replace_keeps_rows_that_are_not_the_demo(reference, org):
    from govcenter.parking.demo import load_small_demo

    load_small_demo()
    small = Space.objects.count()
    demo()
    first = Order.objects.count()
    demo("--seed", "3", replace=True)
    assert Space.objects.count() == small + SPACES
    assert Space.objects.exclude(segment__code__startswith=f"{MARK}-").count() == small
    assert Order.objects.count() != first  # another seed, another day of stays
    assert Road.objects.filter(code__startswith=f"{MARK}-").count() == 17


def test_plates_are_distinct_and_valid():
    plates = make_plates(np.random.default_rng(1), 3000)
    assert len(set(plates)) == 3000
    assert all(validate_plate(p) == p for p in plates)
    assert sum(len(p) == 8 for p in plates) > 150  # new-energy
    assert sum(not p.startswith("京") for p in plates) > 150


def test_area_class_by_distance():
    assert area_class_for([0.5, 6.4, 6.6, 13.9, 14.1, 60]).tolist() == [1, 1, 2, 2, 3, 3]
    assert distance_km(116.3975, 39.9087) < 1e-9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--spaces", "10"], "--spaces 10"),
        (["--days", "0"], "--days 0"),
        (["--orders-per-space", "0"], "--orders-per-space"),
        (["--start", "2026-02-30"], "--start"),
        (["--start", "2999-01-01"], "window must begin"),
    ],
)
def test_bad_arguments_are_usage_errors(reference, args, message):
    with pytest.raises(CommandError, match=message) as info:
        call_command("parking", "demo", *args, stdout=StringIO(), stderr=StringIO())
    assert info.value.returncode == 2
    assert not Road.objects.exists()


def test_refused_without_reference_data(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="govcenter seed"):
        call_command("parking", "demo", "--spaces", "100", stdout=StringIO(), stderr=StringIO())


def test_refused_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("parking", "demo", "--spaces", "100", stdout=StringIO(), stderr=StringIO())


def test_cli_bad_arguments_exit_2_with_one_line(tmp_path):
    env = {**os.environ, "GOVCENTER_DEBUG": "true", "GOVCENTER_VAR_DIR": str(tmp_path)}
    govcenter = [sys.executable, "-m", "govcenter.cli"]
    for bad in (["--spaces", "many"], ["--days", "-1"]):
        result = subprocess.run(
            [*govcenter, "parking", "demo", *bad], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_orders_are_priced_under_the_plan_in_force(reference):
    """A window before every plan's start: nothing is guessed, the stays stay closed."""
    first = TariffPlan.objects.order_by("valid_from").first().valid_from
    start = first.astimezone(SHANGHAI).date() - dt.timedelta(days=3)
    demo("--start", start.isoformat())
    assert Order.objects.exists()
    assert not Order.objects.exclude(state="closed").exists()
    assert not Order.objects.exclude(tariff_plan=None).exists() and not PaymentIntent.objects.exists()


def test_old_window_has_arrears_records_and_complaints_and_replace_removes_them(
    reference, settings, monkeypatch
):
    """Stays older than the due period are in arrears with the record the sweep would write;
    complaints go through the complaints service; --replace removes both with the orders."""
    from govcenter.parking import demo_scale
    from govcenter.parking.models.arrears import ArrearsRecord
    from govcenter.parking.models.complaints import Complaint

    monkeypatch.setattr(demo_scale, "COMPLAINT_SHARE", 0.02)  # enough complaints at 200 spaces
    due_days = settings.GOVCENTER_PARKING_ARREARS_DUE_DAYS
    start = timezone.localdate() - dt.timedelta(days=due_days + 10)
    demo("--start", start.isoformat())
    arrears = Order.objects.filter(state="arrears")
    assert arrears.exists() and not Order.objects.filter(state="billed").exists()
    assert ArrearsRecord.objects.count() == arrears.count()
    for record in ArrearsRecord.objects.select_related("order")[:20]:
        assert record.left_at == record.order.ended_at
        assert record.due_at == record.order.ended_at + dt.timedelta(days=due_days)
        assert record.amount_fen == record.order.payable_fen > 0
    complaints = Complaint.objects.all()
    assert complaints.count() >= 5 and not complaints.filter(order=None).exists()
    assert all(c.number and c.deadline and c.district_id == c.order.district_id for c in complaints)

    old = set(complaints.values_list("pk", flat=True))
    demo(replace=True)  # a recent day: nothing in arrears
    assert not ArrearsRecord.objects.exists() and not Order.objects.filter(state="arrears").exists()
    assert not Complaint.objects.filter(pk__in=old).exists()
    assert Road.objects.filter(code__startswith=f"{MARK}-").count() == 17
