"""stats_compute: exact numbers from a hand-built day, unknown time, idempotence, the command."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.parking.models.stats import DailyDistrictStat, DailySegmentStat
from govcenter.parking.services.stats import stats_compute
from tests.parking.stats_helpers import DAY, DAY_START, at, build_day, expected, overlap

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(org):
    return build_day(org)


def _check_district(org, n):
    for district in (org.dongcheng, org.xicheng):
        row = DailyDistrictStat.objects.get(date=DAY, district=district)
        want = expected(n, district)
        got = {k: getattr(row, k) for k in want}
        assert got == want, district.code
        known = want["available_seconds"] - want["unknown_seconds"]
        assert row.occupancy_rate == pytest.approx(round(want["occupied_seconds"] / known, 4))
        assert row.payment_rate == pytest.approx(round(want["amount_paid_fen"] / want["amount_due_fen"], 4))
        spaces = want["available_seconds"] / 86400
        assert row.turnover == pytest.approx(round(want["orders"] / spaces, 4))
        assert row.average_duration_minutes == pytest.approx(
            round(want["dwell_seconds"] / want["sessions"] / 60, 2)
        )


def test_numbers_match_the_hand_built_day(org, day):
    rows = stats_compute(date=DAY)
    assert {r.district_id for r in rows} >= {org.dongcheng.pk, org.xicheng.pk}
    _check_district(org, day)
    dc = DailyDistrictStat.objects.get(date=DAY, district=org.dongcheng)
    # Sanity of the derivation itself: the void stay is out, the overnight ones are clipped.
    assert dc.orders == 4 and dc.sessions == 3 and dc.arrears_orders == 1
    assert dc.occupied_seconds == int((2 + 1.5 + 2 + 12 + 0.75) * 3600)


def test_segment_hours_add_up_and_place_the_stays(org, day):
    stats_compute(date=DAY)
    seg = DailySegmentStat.objects.get(date=DAY, segment=day.dc_seg)
    hourly = seg.hourly
    assert sum(hourly["occupied"]) == seg.occupied_seconds
    assert sum(hourly["unknown"]) == seg.unknown_seconds
    assert sum(hourly["orders"]) == seg.orders
    # Hour 8 holds exactly the first stay (08:00–10:00 on space 1); hour 1 the overnight tail 01:00–01:30.
    assert hourly["occupied"][8] == 3600 and hourly["occupied"][1] == 1800
    # The camera was down 00–06 for two spaces: 2 × 3600 unknown in each of those hours; none at 07.
    assert hourly["unknown"][:6] == [7200] * 6 and hourly["unknown"][7] == 0
    assert hourly["unknown"][13] == 3600 and hourly["unknown"][14] == 3600
    assert hourly["available"] == [3 * 3600] * 24
    assert hourly["orders"][8] == 1 and hourly["orders"][22] == 1 and hourly["orders"][12] == 1
    assert hourly["sessions"][12] == 0  # the open stay has no duration yet


def test_offline_time_is_unknown_not_free(org, day):
    stats_compute(date=DAY)
    dc = DailyDistrictStat.objects.get(date=DAY, district=org.dongcheng)
    assert dc.unknown_seconds == overlap(at(13), at(15)) + 2 * overlap(at(0), at(6))
    # Occupancy is over the known time only: more than over all the time.
    assert dc.occupancy_rate > dc.occupied_seconds / dc.available_seconds
    # Without offline periods the unknown time is gone.
    from govcenter.parking.models import DeviceOfflinePeriod

    DeviceOfflinePeriod.objects.all().delete()
    stats_compute(date=DAY)
    dc.refresh_from_db()
    assert dc.unknown_seconds == 0
    assert dc.occupancy_rate == pytest.approx(round(dc.occupied_seconds / dc.available_seconds, 4))


def test_a_space_seen_by_a_live_sensor_is_known_while_the_camera_is_down(org, day):
    stats_compute(date=DAY)
    seg = DailySegmentStat.objects.get(date=DAY, segment=day.dc_seg)
    # Hours 0–5: 3 spaces available, only the 2 without a sensor unknown.
    assert all(seg.hourly["unknown"][h] < seg.hourly["available"][h] for h in range(6))


def test_recompute_is_idempotent_and_follows_changes(org, day):
    stats_compute(date=DAY)
    before = list(DailyDistrictStat.objects.order_by("district").values())
    seg_before = list(DailySegmentStat.objects.order_by("segment").values("segment", "orders", "hourly"))
    stats_compute(date=DAY)
    after = list(DailyDistrictStat.objects.order_by("district").values())
    strip = [{k: v for k, v in r.items() if k != "computed_at"} for r in before]
    assert strip == [{k: v for k, v in r.items() if k != "computed_at"} for r in after]
    assert seg_before == list(
        DailySegmentStat.objects.order_by("segment").values("segment", "orders", "hourly")
    )
    # A payment after the fact shows up on recompute, still one row per district and day.
    from govcenter.parking.models import Order

    Order.objects.filter(pk=day.orders[5].pk).update(amount_paid_fen=300)
    stats_compute(date=DAY, districts=[org.dongcheng])
    dc = DailyDistrictStat.objects.get(date=DAY, district=org.dongcheng)
    assert dc.amount_paid_fen == 900 + 300
    assert DailyDistrictStat.objects.filter(date=DAY).count() == len(before)


def test_a_day_without_data_is_zero_not_missing(org, day):
    empty = DAY - dt.timedelta(days=40)  # before the space versions started
    rows = stats_compute(date=empty, districts=[org.xicheng])
    (row,) = rows
    assert row.orders == 0 and row.available_seconds == 0
    assert row.payment_rate is None and row.occupancy_rate is None and row.turnover is None
    assert not DailySegmentStat.objects.filter(date=empty).exists()


def test_the_daily_task_computes_yesterday(org, day, monkeypatch):
    from govcenter.parking import tasks

    tasks.stats_compute_yesterday.call_local()
    yesterday = (dt.datetime.now(DAY_START.tzinfo) - dt.timedelta(days=1)).date()
    assert DailyDistrictStat.objects.filter(date=yesterday, district=org.dongcheng).exists()


def test_command_prints_a_json_summary(org, day):
    out = StringIO()
    call_command("parking", "stats", "--date", DAY.isoformat(), "--days", "2", stdout=out)
    body = json.loads(out.getvalue())
    assert [d["date"] for d in body["days"]] == [(DAY - dt.timedelta(days=1)).isoformat(), DAY.isoformat()]
    dc = next(r for r in body["days"][1]["districts"] if r["district"] == org.dongcheng.code)
    assert dc["orders"] == expected(day, org.dongcheng)["orders"]
    assert dc["amount_paid_fen"] == 900


@pytest.mark.parametrize(
    "args",
    [
        ["--date", "2026-13-01"],
        ["--date", "2026-03-10", "--days", "0"],
        ["--date", "2026-03-10", "--days", "400"],
    ],
)
def test_command_bad_input_is_a_usage_error(org, args):
    with pytest.raises(CommandError):
        call_command("parking", "stats", *args, stdout=StringIO(), stderr=StringIO())


def test_command_bad_input_exits_2_with_one_line(tmp_path):
    env = {**os.environ, "GOVCENTER_DEBUG": "true", "GOVCENTER_VAR_DIR": str(tmp_path)}
    govcenter = [sys.executable, "-m", "govcenter.cli"]
    result = subprocess.run(
        [*govcenter, "parking", "stats", "--date", "yesterday"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_complaints_new_arrears_and_penalty_cases_of_the_day(org, day):
    complaints = pytest.importorskip("govcenter.parking.models.complaints")
    arrears = pytest.importorskip("govcenter.parking.models.arrears")
    if not hasattr(complaints, "Complaint") or not hasattr(arrears, "PenaltyCase"):
        pytest.skip("the complaints/arrears modules are not built")
    unit_dc = day.dc_seg.managing_unit
    registered = [at(9), at(20), at(-1)]  # two on the day, one the day before
    for i, when in enumerate(registered):
        complaints.Complaint.objects.create(
            kind="complaint",
            channel="hotline",
            category="wrong_plate",
            subject=f"s{i}",
            body="b",
            district=org.dongcheng,
            handling_unit=unit_dc,
            deadline=DAY,
            received_at=when,
        )
    owed = day.orders[5]  # the 14:00 stay in arrears
    arrears.ArrearsRecord.objects.create(
        order=owed,
        plate="京A12345",
        district=org.dongcheng,
        managing_unit=unit_dc,
        amount_fen=300,
        left_at=owed.ended_at,
        due_at=at(15),
        window_ends_at=at(15, 30),
        created_at=at(15),
    )
    arrears.PenaltyCase.objects.create(
        plate="京A12345",
        district=org.dongcheng,
        managing_unit=unit_dc,
        amount_fen=500,
        unpaid_fen=500,
        fine_fen=20000,
        order_count=1,
        window_ended_at=at(8),
        created_at=at(10),
    )
    stats_compute(date=DAY)
    dc = DailyDistrictStat.objects.get(date=DAY, district=org.dongcheng)
    assert dc.complaints == sum(1 for w in registered if DAY_START <= w < DAY_START + dt.timedelta(days=1))
    assert (dc.new_arrears_orders, dc.new_arrears_fen, dc.penalty_cases) == (1, 300, 1)
    xc = DailyDistrictStat.objects.get(date=DAY, district=org.xicheng)
    assert (xc.complaints, xc.new_arrears_orders, xc.penalty_cases) == (0, 0, 0)
