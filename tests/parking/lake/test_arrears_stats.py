"""催缴情况统计 (3), 处罚情况统计 (4), 提示短信、处罚短信情况统计 (13) from the lake against the ORM.

Generated orders (the scale demo) are driven through the real arrears sweep over the next
three months (reminders before due, arrears, back-payment reminders, penalty cases and their
notices), with some arrears paid between sweeps, cases appealed and closed, and delivery
reports for some SMS; then the data sets are synced and each statistic compared with an
ORM computation of the same definitions; reconciliation, surfaces, scope, a bad input.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Min
from django.test import Client
from django.utils import timezone

from govcenter.core.models import SmsMessage
from govcenter.core.sms import sms_delivery_report
from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Citizen, Order, OrderState, PaymentItem, PlateBinding
from govcenter.parking.models.arrears import ArrearsRecord, PenaltyCase, ReminderLog
from govcenter.parking.services.arrears import arrears_sweep, penalty_case_appeal, penalty_case_close
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute, window_tokens
from tests.factories import UserFactory
from tests.helpers.org import build_org

from .statcheck import assert_reconciles, assert_rollup_gives_the_raw_numbers, assert_surfaces_agree

pytestmark = pytest.mark.django_db
DATASETS = ("orders", "arrears", "reminders", "penalties", "sms")
SWEEP_DAYS = (1, 31, 32, 46, 77, 90)


def _pay(order_ids) -> None:
    for order in Order.objects.filter(pk__in=order_ids, state=OrderState.ARREARS):
        order.pay(amount_fen=order.amount_due_fen)
        order.save()


@pytest.fixture
def world(generated, lake):
    org = build_org()
    billed = Order.objects.filter(state=OrderState.BILLED).exclude(plate="")
    plates = sorted(set(billed.values_list("plate", flat=True)))
    # Two plates in three have a phone (SMS); the others get reminders without SMS.
    for i, plate in enumerate(plates):
        if i % 3:
            citizen = Citizen.objects.create(phone=f"139{i:08d}")
            PlateBinding.objects.create(citizen=citizen, plate=plate)
    base = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    for day in SWEEP_DAYS:
        now = base + dt.timedelta(days=day)
        arrears_sweep(now=now)
        arrears = list(
            ArrearsRecord.objects.filter(order__state=OrderState.ARREARS)
            .order_by("id")
            .values_list("order_id", flat=True)
        )
        if day in (32, 46):
            _pay(arrears[:: 4 if day == 32 else 5])  # paid inside the back-payment window
        if day == 77:
            cases = list(PenaltyCase.objects.order_by("id"))
            actor = UserFactory(is_superuser=True)
            for case in cases[::4]:
                penalty_case_appeal(actor=actor, case=case, reference=f"SS{case.pk}", reason="车辆已出售")
            for case in cases[2::7]:
                penalty_case_close(actor=actor, case=case, reason="核实无误")
            _pay([i for c in cases[1::3] for i in c.items.values_list("order_id", flat=True)])
    messages = list(SmsMessage.objects.order_by("id").values_list("pk", flat=True))
    for pk in messages[::2]:
        sms_delivery_report(pk, "delivered")
    for pk in messages[1::5]:
        sms_delivery_report(pk, "failed")
    for name in DATASETS:
        sync_dataset(name)
    org.start = timezone.localdate() - dt.timedelta(days=3)
    org.end = (base + dt.timedelta(days=SWEEP_DAYS[-1])).date()
    org.now = base + dt.timedelta(days=SWEEP_DAYS[-1] + 1)
    org.as_of = dt.datetime.combine(
        org.end + dt.timedelta(days=1), dt.time(), timezone.get_default_timezone()
    )
    return org


def local_day(value) -> dt.date:
    return timezone.localtime(value).date()


def in_window(world, value) -> bool:
    return world.start <= local_day(value) <= world.end


def paid_at() -> dict[int, dt.datetime]:
    rows = (
        PaymentItem.objects.filter(intent__status="paid")
        .values("order_id")
        .annotate(at=Min("intent__paid_at"))
    )
    return {r["order_id"]: r["at"] for r in rows}


def settled_times() -> dict[int, dt.datetime]:
    """An order's settled time: its paying payment, else its arrears record's settled_at."""
    out = {r.order_id: r.settled_at for r in ArrearsRecord.objects.filter(settled_at__isnull=False)}
    out.update(paid_at())
    return out


def ms(value):
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# -- 3 催缴情况统计 --------------------------------------------------------------------------------


def check_reminders_equal_the_orm(world):
    stat = STATISTICS["reminders"]
    result = compute(stat, world.leader, StatQuery(world.start, world.end, levels=stat.levels), now=world.now)
    total = result.total
    settled = settled_times()
    as_of = world.as_of
    records = [r for r in ArrearsRecord.objects.all() if in_window(world, r.created_at)]
    assert total["arrears"] == len(records) > 20
    assert total["arrears_fen"] == sum(r.amount_fen for r in records)
    done = [r for r in records if r.order_id in settled and settled[r.order_id] < as_of]
    assert total["settled"] == len(done) > 0
    assert total["settled_fen"] == sum(r.amount_fen for r in done)
    open_ = [
        r
        for r in records
        if r not in done and not (r.outcome == "void" and r.decided_at is not None and r.decided_at < as_of)
    ]
    assert total["outstanding"] == len(open_) > 0
    assert total["outstanding_fen"] == sum(r.amount_fen for r in open_)
    ageing = {g["key"]: g for g in result.breakdowns["ageing"]}
    tick = dt.timedelta(microseconds=1)
    last_day = timezone.localdate(as_of - tick)  # calendar days from the due date to it
    assert [g["key"] for g in result.breakdowns["ageing"]] == ["0_30", "31_75", "over_75"]
    for key, lo, hi in (("0_30", -(10**6), 30), ("31_75", 31, 75), ("over_75", 76, 10**6)):
        bucket = [r for r in open_ if lo <= (last_day - timezone.localdate(r.due_at - tick)).days <= hi]
        assert ageing[key]["outstanding"] == len(bucket), key
        assert ageing[key]["outstanding_fen"] == sum(r.amount_fen for r in bucket), key

    logs = [log for log in ReminderLog.objects.all() if in_window(world, log.sent_at)]
    assert total["reminders"] == len(logs) > 20
    assert total["reminders_sent"] == sum(1 for log in logs if log.outcome == "sent") > 0
    assert total["reminded_fen"] == sum(log.amount_fen for log in logs)
    stages = {g["key"]: g for g in result.breakdowns["stage"]}
    assert set(stages) == {"arrears", "backpay"}
    for stage in ("arrears", "backpay"):
        mine = [log for log in logs if log.stage == stage]
        recovered = [
            log
            for log in mine
            if log.order_id in settled and ms(log.sent_at) < ms(settled[log.order_id]) < as_of
        ]
        assert stages[stage]["reminders"] == len(mine) > 0, stage
        assert stages[stage]["recovered"] == len(recovered), stage
        assert stages[stage]["recovered_fen"] == sum(log.amount_fen for log in recovered), stage
        expected = round(len(recovered) / len(mine), 4)
        assert stages[stage]["recovery_rate"] == expected, stage
    assert stages["backpay"]["recovered"] > 0
    assert total["recovery_rate"] == round(total["recovered"] / total["reminders"], 4)


def check_reminders_as_of_an_earlier_window_end(world):
    """Outstanding is as of the window's end: a window ending before any payment has none settled."""
    stat = STATISTICS["reminders"]
    first = ArrearsRecord.objects.order_by("created_at").first()
    day = local_day(first.created_at)
    result = compute(stat, world.leader, StatQuery(world.start, day, levels=stat.levels), now=world.now)
    tokens = window_tokens(StatQuery(world.start, day), world.now)
    assert "TIMESTAMPTZ" in tokens["as_of"]
    records = [r for r in ArrearsRecord.objects.all() if world.start <= local_day(r.created_at) <= day]
    assert result.total["arrears"] == len(records) > 0
    assert result.total["settled"] == 0
    assert result.total["outstanding"] == len(records)


# -- 4 处罚情况统计 --------------------------------------------------------------------------------


def check_penalties_equal_the_orm(world):
    stat = STATISTICS["penalties"]
    result = compute(stat, world.leader, StatQuery(world.start, world.end, levels=stat.levels), now=world.now)
    total = result.total
    cases = [c for c in PenaltyCase.objects.all() if in_window(world, c.created_at)]
    assert total["cases"] == len(cases) > 5
    assert total["orders"] == sum(c.order_count for c in cases)
    for key in ("amount_fen", "unpaid_fen", "fine_fen"):
        assert total[key] == sum(getattr(c, key) for c in cases), key
    states = {g["key"]: g["cases"] for g in result.breakdowns["stage"]}
    for state in ("created", "notified", "appealed", "paid", "closed"):
        assert states[state] == sum(1 for c in cases if c.state == state), state
    assert states["paid"] > 0 and states["closed"] > 0 and states["notified"] > 0
    appealed = [c for c in cases if c.appealed_at is not None]
    assert total["appealed"] == len(appealed) > 0
    assert total["appeal_rate"] == round(len(appealed) / len(cases), 4)
    outcomes = {g["key"]: g["appealed"] for g in result.breakdowns["appeal_outcome"]}
    assert outcomes == {
        "pending": sum(1 for c in appealed if c.state == "appealed"),
        "paid": sum(1 for c in appealed if c.state == "paid"),
        "closed": sum(1 for c in appealed if c.state == "closed"),
    }
    notices = {g["key"]: g["cases"] for g in result.breakdowns["notice"]}
    assert notices["sent"] == sum(1 for c in cases if c.notice_outcome == "sent") > 0
    assert notices["no_contact"] == sum(1 for c in cases if c.notice_outcome == "no_contact") > 0


# -- 13 提示短信、处罚短信情况统计 -----------------------------------------------------------------


def check_sms_equal_the_orm(world):
    stat = STATISTICS["sms"]
    result = compute(stat, world.leader, StatQuery(world.start, world.end, levels=stat.levels), now=world.now)
    total = result.total
    linked_reminders = {}
    for log in ReminderLog.objects.filter(sms_message__isnull=False):
        linked_reminders.setdefault(log.sms_message_id, []).append(log)
    penalty_ids = set(
        PenaltyCase.objects.filter(sms_message__isnull=False).values_list("sms_message_id", flat=True)
    )
    messages = [
        m
        for m in SmsMessage.objects.filter(pk__in=set(linked_reminders) | penalty_ids)
        if in_window(world, m.created_at)
    ]
    assert total["messages"] == len(messages) > 10
    assert total["delivered"] == sum(1 for m in messages if m.status == "delivered") > 0
    assert total["failed"] == sum(1 for m in messages if m.status == "failed") > 0
    assert total["reminder_sms"] == sum(1 for m in messages if m.pk in linked_reminders)
    assert total["penalty_sms"] == sum(1 for m in messages if m.pk in penalty_ids) > 0
    settled = settled_times()
    led = [
        m
        for m in messages
        if any(
            log.order_id in settled and ms(log.sent_at) < ms(settled[log.order_id]) < world.as_of
            for log in linked_reminders.get(m.pk, [])
        )
    ]
    assert total["led_to_payment"] == len(led) > 0
    assert total["conversion_rate"] == round(len(led) / total["reminder_sms"], 4)
    templates = {g["key"]: g for g in result.breakdowns["template"]}
    for code in ("arrears_reminder", "backpay_reminder", "penalty_notice"):
        mine = [m for m in messages if m.template == code]
        assert templates[code]["messages"] == len(mine) > 0, code
        assert templates[code]["delivered"] == sum(1 for m in mine if m.status == "delivered"), code
    assert templates["penalty_notice"]["label"] == "停车欠费处罚通知"


# -- all three ------------------------------------------------------------------------------------


def check_rows_and_breakdowns_sum_to_every_total(world, slug):
    stat = STATISTICS[slug]
    assert stat.levels == ("district",) and stat.permission == "parking.view_dailydistrictstat"
    total = assert_reconciles(stat, world.leader, world.start, world.end)
    assert total[stat.measures[0].key] > 0


def check_api_page_and_excel_agree(world, slug):
    stat = STATISTICS[slug]
    body = assert_surfaces_agree(
        world.leader, stat, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert set(body["breakdowns"]) == {b.key for b in stat.breakdowns}
    assert body["total"][stat.measures[0].key] > 0


def check_district_staff_see_their_district_and_bad_input_is_400(world, slug):
    stat = STATISTICS[slug]
    q = StatQuery(world.start, world.end, levels=stat.levels)
    city = compute(stat, world.leader, q, now=world.now)
    mine = compute(stat, world.manager_dc, q, now=world.now)
    assert [r["code"] for r in mine.rows] in ([], ["110101"])
    dongcheng = next((r for r in city.rows if r["code"] == "110101"), None)
    first = stat.measures[0].key
    assert mine.total[first] == (dongcheng[first] if dongcheng else 0)
    assert len(city.rows) > 1
    client = Client()
    client.force_login(world.leader)
    for params, code in (
        ({"road": "1"}, "unsupported_filter"),
        ({"start": "2026-03-10", "end": "2026-03-09"}, "invalid_window"),
    ):
        response = client.get(f"/api/v1/parking/stats/{slug}", params)
        assert response.status_code == 400 and response.json()["code"] == code


def test_statistics_3_4_13(world):
    """One generated world (the demo and three months of sweeps take minutes) for every check."""
    check_reminders_equal_the_orm(world)
    check_reminders_as_of_an_earlier_window_end(world)
    check_penalties_equal_the_orm(world)
    check_sms_equal_the_orm(world)
    for slug in ("reminders", "penalties", "sms"):
        users = (world.leader, world.manager_dc)
        assert_rollup_gives_the_raw_numbers(STATISTICS[slug], users, world.start, world.end, world.now)
    for slug in ("reminders", "penalties", "sms"):
        check_rows_and_breakdowns_sum_to_every_total(world, slug)
        check_district_staff_see_their_district_and_bad_input_is_400(world, slug)
        check_api_page_and_excel_agree(world, slug)


def test_ageing_buckets_count_whole_days_since_the_due_time():
    """0–30, 31–75, over 75 whole days between the due time and the window's end (no database)."""
    import duckdb

    from govcenter.parking.stats2.reminders import AGE_BUCKET

    as_of = "TIMESTAMPTZ '2026-06-01 00:00:00+08:00'"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    seconds = {0: "0_30", 30 * 86400 + 86399: "0_30", 31 * 86400: "31_75", 75 * 86400 + 86399: "31_75"}
    seconds[76 * 86400] = "over_75"
    for age, bucket in seconds.items():
        sql = f"SELECT {AGE_BUCKET.format(as_of=as_of)} FROM (SELECT {as_of} - to_seconds(?) AS due_at)"  # noqa: S608
        assert con.execute(sql, [age]).fetchone()[0] == bucket, age


def test_ageing_while_the_window_runs_counts_calendar_days_to_today():
    """With "now" inside the window: days from the due date (a midnight due time belongs to the day before)."""
    import duckdb

    from govcenter.parking.stats2.reminders import AGE_BUCKET

    as_of = "TIMESTAMPTZ '2026-06-01 10:00:00+08:00'"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    cases = {
        "2026-05-02 23:00:00+08:00": "0_30",  # 30 days
        "2026-05-01 23:00:00+08:00": "31_75",  # 31 days, though less than 31 × 24 hours ago
        "2026-05-02 00:00:00+08:00": "31_75",  # due by the end of 1 May
        "2026-03-18 12:00:00+08:00": "31_75",  # 75 days
        "2026-03-17 12:00:00+08:00": "over_75",
    }
    for due, bucket in cases.items():
        sql = f"SELECT {AGE_BUCKET.format(as_of=as_of)} FROM (SELECT TIMESTAMPTZ '{due}' AS due_at)"  # noqa: S608
        assert con.execute(sql).fetchone()[0] == bucket, due
