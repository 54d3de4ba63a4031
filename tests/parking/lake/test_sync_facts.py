"""The remaining parking facts in the lake (arrears, reminders, penalties, complaints, permits,
receipts, SMS): written through the real services, exported, compared with the ORM, changed,
re-exported; a re-run with nothing new writes nothing; no personal data in any file."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import duckdb
import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from govcenter.core.models import SmsMessage
from govcenter.core.sms import sms_delivery_report
from govcenter.parking.lake.sync import DATASETS, live_sql, read_manifest, sync_dataset
from govcenter.parking.models.arrears import ArrearsRecord, PenaltyCase, ReminderLog
from govcenter.parking.models.complaints import Complaint, FeeAdjustment
from govcenter.parking.models.permits import ResidentialPermit
from govcenter.parking.models.receipts import Receipt
from govcenter.parking.services import complaints as complaint_services
from govcenter.parking.services import receipts as receipt_services
from govcenter.parking.services.arrears import arrears_sweep
from tests.factories import UserFactory
from tests.parking.events_helpers import network
from tests.parking.test_arrears import PLATE, PLATE_B, at, bind, make_order, pay
from tests.parking.test_payments import citizen_client, stay

pytestmark = pytest.mark.django_db

NEW = ("arrears", "reminders", "penalties", "complaints", "permits", "receipts", "sms")
PERSONAL = {"plate", "payer_plate", "phone", "contact_phone", "body", "applicant_name", "applicant_phone",
            "applicant_id_number", "address", "address_proof_ref", "citizen_id", "reply_text", "subject"}  # fmt: skip


def lake_of(lake_dir, name: str) -> dict[int, dict]:
    """key → row (with ``district`` and ``date`` from the path) of the live files; asserts no duplicate."""
    select = live_sql(lake_dir, name)  # daily files and packed months
    if not select:
        return {}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    cur = con.execute(select)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    key = DATASETS[name].key
    out = {r[key]: r for r in rows}
    assert len(out) == len(rows), f"a row of {name} is in the lake twice"
    return out


def ms(value):
    """The lake keeps fact times to the millisecond (TS)."""
    return None if value is None else value.replace(microsecond=value.microsecond // 1000 * 1000)


def day_of(value) -> dt.date:
    return timezone.localtime(value).date()


def assert_quiet(lake_dir, name: str) -> None:
    """A re-run with nothing new rewrites nothing."""
    before = read_manifest(lake_dir, name)["partitions"]
    again = sync_dataset(name, now=timezone.now() + dt.timedelta(minutes=1))
    assert (again.changed, again.partitions, again.rows_written) == (0, 0, 0)
    assert read_manifest(lake_dir, name)["partitions"] == before


def test_schemas_are_typed_scoped_and_free_of_personal_data():
    for name in NEW:
        schema = DATASETS[name].schema
        names = set(schema.names)
        assert {"district_id", "managing_unit_id", "district_code", "updated_at"} <= names, name
        assert not names & PERSONAL, (name, names & PERSONAL)
        assert str(schema.field("updated_at").type) == "timestamp[us, tz=UTC]"


# -- arrears, reminders, penalty cases and their SMS (the arrears sweep) --------------------------


@pytest.fixture
def swept(org):
    net = network(org)
    bind(PLATE)
    bind(PLATE_B, phone="13900002222")
    orders = [
        make_order(net.sensor, PLATE, amount_fen=3000),
        make_order(net.sensor, PLATE, amount_fen=4000),
        make_order(net.xc_sensor, PLATE, amount_fen=2500),  # another district
        make_order(net.sensor, PLATE_B, amount_fen=1200),  # settled in the window below
        make_order(net.sensor, "京C00001", amount_fen=800),  # no contact: reminders without SMS
    ]
    for day in (1, 7, 31):
        arrears_sweep(now=at(day))
    net.orders = orders
    return net


def test_arrears_reminders_penalties_and_sms_match_the_oltp_rows(swept, lake):
    for name in ("arrears", "reminders", "sms"):
        assert sync_dataset(name).changed > 0
    arrears = lake_of(lake, "arrears")
    truth = {
        r.pk: (r.order_id, r.district.code, r.managing_unit_id, r.amount_fen, r.outcome, day_of(r.created_at))
        for r in ArrearsRecord.objects.select_related("district")
    }
    assert len(truth) == 5
    assert {k: (r["order_id"], r["district"], r["managing_unit_id"], r["amount_fen"], r["outcome"], r["date"])
            for k, r in arrears.items()} == truth  # fmt: skip
    by_district = Counter()
    for r in ArrearsRecord.objects.select_related("district"):
        by_district[r.district.code] += r.amount_fen
    lake_by_district = Counter()
    for r in arrears.values():
        lake_by_district[r["district"]] += r["amount_fen"]
    assert lake_by_district == by_district and len(by_district) == 2

    reminders = lake_of(lake, "reminders")
    assert {k: (r["order_id"], r["stage"], r["outcome"], r["sms_message_id"], r["amount_fen"], r["district"])
            for k, r in reminders.items()} == {
        log.pk: (log.order_id, log.stage, log.outcome, log.sms_message_id, log.amount_fen, log.district.code)
        for log in ReminderLog.objects.select_related("district")
    }  # fmt: skip
    assert {r["outcome"] for r in reminders.values()} >= {"sent", "no_contact"}

    sms = lake_of(lake, "sms")
    linked = set(ReminderLog.objects.exclude(sms_message=None).values_list("sms_message_id", flat=True))
    assert set(sms) == linked and linked
    for pk, row in sms.items():
        first = (
            ReminderLog.objects.filter(sms_message_id=pk).select_related("district").order_by("pk").first()
        )
        message = SmsMessage.objects.get(pk=pk)
        assert (row["source"], row["source_id"], row["order_id"]) == ("reminder", first.pk, first.order_id)
        assert (row["district"], row["district_id"], row["managing_unit_id"]) == (
            first.district.code, first.district_id, first.managing_unit_id,
        )  # fmt: skip
        assert (row["template"], row["status"], row["date"]) == (
            message.template,
            message.status,
            day_of(message.created_at),
        )

    for name in ("arrears", "reminders", "sms"):
        assert_quiet(lake, name)

    # A delivery report changes one message: only its partition is rewritten.
    target = min(sms)
    parts_before = read_manifest(lake, "sms")["partitions"]
    sms_delivery_report(target, "delivered")
    result = sync_dataset("sms")
    assert result.changed == 1 and result.partitions == 1
    after = lake_of(lake, "sms")
    assert after[target]["status"] == "delivered" and after[target]["delivered_at"] is not None
    changed_parts = {
        k for k, v in read_manifest(lake, "sms")["partitions"].items() if parts_before.get(k) != v
    }
    assert changed_parts == {f"{after[target]['date'].isoformat()}/{after[target]['district']}"}
    assert_quiet(lake, "sms")

    # PLATE_B pays in the window: its record is settled (exempt, small) by the next sweep.
    settled = swept.orders[3]
    pay(settled)
    arrears_sweep(now=at(40))
    result = sync_dataset("arrears")
    assert result.changed >= 1
    row = next(r for r in lake_of(lake, "arrears").values() if r["order_id"] == settled.pk)
    record = ArrearsRecord.objects.get(order=settled)
    assert record.settled_at is not None
    assert (row["outcome"], row["settled_at"]) == (record.outcome, ms(record.settled_at))
    assert_quiet(lake, "arrears")

    # The window ends: penalty cases, their notices (SMS) and the decided arrears records.
    arrears_sweep(now=at(30 + 46))
    for name in ("arrears", "reminders", "penalties", "sms"):
        sync_dataset(name)
    penalties = lake_of(lake, "penalties")
    cases = list(PenaltyCase.objects.select_related("district"))
    assert len(cases) >= 2
    assert {k: (r["state"], r["amount_fen"], r["unpaid_fen"], r["fine_fen"], r["order_count"], r["district"],
                r["notice_outcome"], r["sms_message_id"]) for k, r in penalties.items()} == {
        c.pk: (c.state, c.amount_fen, c.unpaid_fen, c.fine_fen, c.order_count, c.district.code,
               c.notice_outcome, c.sms_message_id) for c in cases
    }  # fmt: skip
    assert {k: r["outcome"] for k, r in lake_of(lake, "arrears").items()} == dict(
        ArrearsRecord.objects.values_list("pk", "outcome")
    )
    sms = lake_of(lake, "sms")
    notices = {c.sms_message_id: c for c in cases if c.sms_message_id}
    assert notices and set(notices) <= set(sms)
    for pk, case in notices.items():
        assert (sms[pk]["source"], sms[pk]["source_id"], sms[pk]["order_id"]) == ("penalty", case.pk, None)
        assert sms[pk]["district"] == case.district.code
    for name in ("arrears", "reminders", "penalties", "sms"):
        assert_quiet(lake, name)


# -- complaints and their fee adjustments ---------------------------------------------------------


def test_complaints_with_deadline_and_fee_adjustments(org, lake):
    net = network(org)
    staff = UserFactory(username="t_lake_cs", unit=org.center, role_set=[org.roles["data_staff"]])
    orders = [stay(net.sensor, PLATE, 9, hours=4), stay(net.xc_sensor, PLATE, 5, hours=3)]
    complaints = [
        complaint_services.complaint_create(
            actor=staff,
            kind="appeal",
            channel="hotline",
            category="wrong_times",
            subject="时间不对",
            body="我只停了十分钟",
            contact_phone="13911112222",
            order=order,
        )  # fmt: skip
        for order in orders
    ]
    accepted = complaint_services.complaint_accept(actor=staff, complaint=complaints[0])
    complaint_services.fee_adjust(
        order=orders[0], amount_fen=-100, reason="多计 1 小时", complaint=accepted, actor=org.manager_dc
    )
    assert sync_dataset("complaints").changed == 2
    rows = lake_of(lake, "complaints")
    for c in Complaint.objects.select_related("district"):
        row = rows[c.pk]
        agg = FeeAdjustment.objects.filter(complaint=c).aggregate(s=Sum("amount_fen"), n=Count("pk"))
        assert (row["district"], row["district_id"], row["managing_unit_id"], row["status"], row["kind"]) == (
            c.district.code, c.district_id, c.handling_unit_id, c.status, c.kind,
        )  # fmt: skip
        assert (row["adjustment_fen"], row["adjustments"]) == (agg["s"] or 0, agg["n"])
        assert row["deadline"] == c.deadline
        assert timezone.localtime(row["due_at"]) == dt.datetime.combine(
            c.deadline + dt.timedelta(days=1), dt.time(), timezone.get_current_timezone()
        ).astimezone(timezone.localtime(row["due_at"]).tzinfo)
        assert row["date"] == day_of(c.received_at)
    assert (rows[accepted.pk]["adjustment_fen"], rows[accepted.pk]["adjustments"]) == (-100, 1)
    assert_quiet(lake, "complaints")

    # A second adjustment re-exports the complaint (fee_adjust bumps its updated_at).
    complaint_services.fee_adjust(
        order=orders[0], amount_fen=40, reason="复核后部分恢复", complaint=accepted, actor=org.manager_dc
    )
    result = sync_dataset("complaints")
    assert result.changed == 1 and result.partitions == 1
    row = lake_of(lake, "complaints")[accepted.pk]
    assert (row["adjustment_fen"], row["adjustments"]) == (-60, 2)
    assert_quiet(lake, "complaints")

    # Closing it: status, reply and close times move; replied in time by the deadline.
    complaint_services.complaint_close(actor=staff, complaint=accepted, text="已核减", outcome="upheld")
    assert sync_dataset("complaints").changed == 1
    row = lake_of(lake, "complaints")[accepted.pk]
    accepted.refresh_from_db()
    assert (row["status"], row["outcome"], row["closed_at"], row["replied_at"]) == (
        "closed", "upheld", ms(accepted.closed_at), ms(accepted.replied_at),
    )  # fmt: skip
    assert row["replied_at"] < row["due_at"]
    assert_quiet(lake, "complaints")


# -- receipts -------------------------------------------------------------------------------------


def test_receipts_merged_and_voided(org, lake):
    from tests.parking.test_receipts import pay as pay_billed

    net = network(org)
    citizen, _client = citizen_client("13911110001", PLATE)
    o1, o2, o3 = (pay_billed(stay(net.sensor, PLATE, h)) for h in (10, 8, 6))
    xc = pay_billed(stay(net.xc_sensor, PLATE, 10))
    receipt_services.receipt_issue(citizen=citizen, order_ids=[o1.pk, o2.pk], merge=True)
    receipt_services.receipt_issue(citizen=citizen, order_ids=[o3.pk, xc.pk])
    assert sync_dataset("receipts").changed == 3
    rows = lake_of(lake, "receipts")
    truth = {
        r.pk: (r.series_id, r.district.code, r.payee_unit_id, r.total_fen, r.status, r.n, day_of(r.issued_at))
        for r in Receipt.objects.select_related("district").annotate(n=Count("items"))
    }
    assert {k: (r["series_id"], r["district"], r["managing_unit_id"], r["total_fen"], r["status"],
                r["item_count"], r["date"]) for k, r in rows.items()} == truth  # fmt: skip
    assert sorted(r["item_count"] for r in rows.values()) == [1, 1, 2]
    totals = defaultdict(int)
    for r in rows.values():
        totals[r["district"]] += r["total_fen"]
    assert sum(totals.values()) == sum(o.amount_paid_fen for o in (o1, o2, o3, xc)) and len(totals) == 2
    assert_quiet(lake, "receipts")

    merged = Receipt.objects.annotate(n=Count("items")).get(n=2)
    receipt_services.receipt_void(actor=org.manager_dc, receipt=merged, reason="开错抬头")
    result = sync_dataset("receipts")
    assert result.changed == 1 and result.partitions == 1
    row = lake_of(lake, "receipts")[merged.pk]
    merged.refresh_from_db()
    assert (row["status"], row["voided_at"], row["item_count"]) == ("voided", ms(merged.voided_at), 2)
    assert_quiet(lake, "receipts")


# -- residential permits (the scale demo's, as generated) -----------------------------------------


def test_permits_with_segments_and_a_revocation(generated, lake):
    assert sync_dataset("permits").changed == ResidentialPermit.objects.count() > 0
    rows = lake_of(lake, "permits")
    truth = {
        p.pk: (p.district.code, p.status, sorted(p.segments.values_list("pk", flat=True)), p.monthly_fee_fen,
               p.valid_from, p.valid_to, p.renewal_of_id is not None, day_of(p.submitted_at))
        for p in ResidentialPermit.objects.select_related("district")
    }  # fmt: skip
    assert {k: (r["district"], r["status"], r["segment_ids"], r["monthly_fee_fen"], r["valid_from"],
                r["valid_to"], r["is_renewal"], r["date"]) for k, r in rows.items()} == truth  # fmt: skip
    assert all(r["segment_count"] == len(r["segment_ids"]) > 0 for r in rows.values())
    assert_quiet(lake, "permits")

    active = ResidentialPermit.objects.filter(status="active").first()
    assert active is not None
    # What permit_revoke writes (its checks need a reviewer of the demo's district): the
    # transition and a full save().
    active.revoke(at=timezone.now(), comment="不再居住")
    active.save()
    result = sync_dataset("permits")
    assert result.changed == 1 and result.partitions == 1
    row = lake_of(lake, "permits")[active.pk]
    active.refresh_from_db()
    assert (row["status"], row["revoked_at"]) == ("revoked", ms(active.revoked_at))
    assert_quiet(lake, "permits")


def test_reminders_and_arrears_follow_their_orders_settlement(swept, lake):
    """The rows carry the order's settlement (no join with every date's orders at query time):
    a change of only the order or of only its arrears record re-exports them, once."""
    for name in ("arrears", "reminders"):
        sync_dataset(name)
    log = ReminderLog.objects.order_by("id").first()
    record = ArrearsRecord.objects.get(order_id=log.order_id)
    assert lake_of(lake, "reminders")[log.pk]["settled_at"] is None
    # The sweep notes a payment inside the back-payment window on the record alone.
    settled = log.sent_at + dt.timedelta(days=2)
    later = timezone.now() + dt.timedelta(minutes=20)
    ArrearsRecord.objects.filter(pk=record.pk).update(settled_at=settled, updated_at=later)
    result = sync_dataset("reminders", now=later)
    reminded = ReminderLog.objects.filter(order_id=log.order_id).count()
    assert result.changed >= reminded
    rows = lake_of(lake, "reminders")
    assert all(r["settled_at"] == settled for r in rows.values() if r["order_id"] == log.order_id)
    assert all(r["settled_at"] is None for r in rows.values() if r["order_id"] != log.order_id)
    assert_quiet(lake, "reminders")  # the exact version is in the lake: nothing again
    # A change of only the order (a payment marks it paid) reaches both data sets.
    later = later + dt.timedelta(minutes=20)
    type(log.order).objects.filter(pk=log.order_id).update(updated_at=later)
    assert sync_dataset("arrears", now=later).changed >= 1
    assert sync_dataset("reminders", now=later).changed >= reminded
    assert_quiet(lake, "arrears")
    assert_quiet(lake, "reminders")


def test_reminder_sms_carry_what_their_reminders_led_to(swept, lake):
    """A reminder SMS row carries its reminded orders and the first settlement after it; a change
    of only one of those orders or of its arrears record re-exports the message, once."""
    sync_dataset("sms")
    log = ReminderLog.objects.filter(sms_message__isnull=False).order_by("id").first()
    linked = list(ReminderLog.objects.filter(sms_message_id=log.sms_message_id))
    row = lake_of(lake, "sms")[log.sms_message_id]
    assert row["reminded_orders"] == len(linked) >= 1
    assert row["reminded_fen"] == sum(r.amount_fen for r in linked)
    assert row["paid_after_at"] is None
    penalty_rows = [r for r in lake_of(lake, "sms").values() if r["source"] == "penalty"]
    assert all(r["reminded_orders"] == 0 and r["paid_after_at"] is None for r in penalty_rows)
    # Only the arrears record notes a settlement (inside the back-payment window).
    settled = log.sent_at + dt.timedelta(days=2)
    later = timezone.now() + dt.timedelta(minutes=20)
    ArrearsRecord.objects.filter(order_id=log.order_id).update(settled_at=settled, updated_at=later)
    assert sync_dataset("sms", now=later).changed >= 1
    assert lake_of(lake, "sms")[log.sms_message_id]["paid_after_at"] == settled
    assert_quiet(lake, "sms")
    # Only the order changes (a payment marks it paid): the message is exported again, then quiet.
    later = later + dt.timedelta(minutes=20)
    type(log.order).objects.filter(pk=log.order_id).update(updated_at=later)
    assert sync_dataset("sms", now=later).changed >= 1
    assert_quiet(lake, "sms")
