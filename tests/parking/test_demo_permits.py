"""``govcenter parking demo``: residential permits (居住认证) at plausible rates, permit holders'
overnight stays billed by the permit as the services bill them, and the orders written day
by day (tiny numbers on SQLite)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from govcenter.core.districts import load_districts
from govcenter.parking import demo_scale
from govcenter.parking.demo_scale import MARK
from govcenter.parking.models import Order
from govcenter.parking.models.permits import PermitFee, ResidentialPermit
from govcenter.parking.plates import validate_plate
from govcenter.parking.services.orders import Biller
from govcenter.parking.services.permits import covered_intervals, period_end
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from govcenter.parking.tariff import SHANGHAI

pytestmark = pytest.mark.django_db

SPACES, DAYS = 300, 2
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


@pytest.fixture
def loaded(settings, monkeypatch):
    """A 2-day demo with more permits and overnight stays than the defaults, to have enough."""
    settings.DEBUG = True
    load_districts()
    tariff_seed_beijing_standard()
    monkeypatch.setattr(demo_scale, "PERMIT_SEGMENT_SHARE", 1.0)
    monkeypatch.setattr(demo_scale, "PERMIT_SPACE_SHARE", 0.5)
    monkeypatch.setattr(demo_scale, "NIGHT_SHARE", 0.4)
    writes = []
    real_write = demo_scale._write

    def counting_write(model, columns, progress, step):
        writes.append((model, len(next(iter(columns.values()), []))))
        return real_write(model, columns, progress, step)

    monkeypatch.setattr(demo_scale, "_write", counting_write)
    out = StringIO()
    call_command(
        "parking", "demo", "--spaces", str(SPACES), "--days", str(DAYS), "--seed", "11",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    return out.getvalue(), writes


def test_permits_mix_rows_and_fees(loaded):
    out, _writes = loaded
    assert "permits" in out
    permits = list(ResidentialPermit.objects.prefetch_related("segments", "fees"))
    assert len(permits) >= 20
    statuses = {p.status for p in permits}
    assert {"active", "submitted", "expired"} <= statuses
    assert len({p.plate for p in permits}) == len(permits)  # one permit per plate
    today = timezone.localdate()
    for permit in permits:
        (segment,) = permit.segments.all()
        assert segment.code.startswith(f"{MARK}-") and segment.area_class in (2, 3)
        assert permit.district_id == segment.district_id
        assert validate_plate(permit.plate) == permit.plate
        assert len(permit.applicant_phone) == 11 and permit.applicant_phone.startswith("1")
        number = permit.applicant_id_number
        check = "10X98765432"[sum(w * int(c) for w, c in zip(ID_WEIGHTS, number[:17], strict=True)) % 11]
        assert len(number) == 18 and number[-1] == check
        assert permit.valid_from.day == 1 and permit.valid_to == period_end(permit.valid_from, permit.months)
        assert (permit.hours_start, permit.hours_end) == (dt.time(19), dt.time(7))
        fees = list(permit.fees.all())
        if permit.status == "active":
            assert permit.valid_from <= today <= permit.valid_to and permit.reviewed_at is not None
        elif permit.status == "expired":
            assert permit.valid_to < today and (today - permit.valid_to).days <= 31
        else:
            assert permit.valid_to >= today and not fees
        if permit.status == "submitted":
            assert permit.reviewed_at is None
        if permit.status in ("active", "expired"):
            assert len(fees) == permit.months
            assert all(f.amount_fen == permit.monthly_fee_fen > 0 for f in fees)
            assert all(f.status == "due" for f in fees if f.month > today)
            assert all(f.paid_at for f in fees if f.status == "paid")
    begun = PermitFee.objects.filter(month__lte=today)
    assert begun.filter(status="paid").count() > 0.8 * begun.count() > 0


def test_permit_holders_overnight_stays_are_billed_by_the_permit(loaded):
    covering = {
        p.plate: p
        for p in ResidentialPermit.objects.filter(status__in=["active", "expired"]).prefetch_related(
            "segments"
        )
    }
    by_permit = [
        o for o in Order.objects.filter(plate__in=list(covering)).exclude(tariff_plan=None)
        if any(line["period"] == "permit" for line in o.quote_lines)
    ]  # fmt: skip
    assert len(by_permit) >= 5
    biller = Biller()
    for order in by_permit:
        permit = covering[order.plate]
        assert order.segment_id in {s.pk for s in permit.segments.all()}
        lines = [line for line in order.quote_lines if line["period"] == "permit"]
        assert all(line["permit_id"] == permit.pk and line["amount_fen"] == 0 for line in lines)
        covered = covered_intervals(
            order.started_at,
            order.ended_at,
            hours_start=permit.hours_start,
            hours_end=permit.hours_end,
            valid_from=permit.valid_from,
            valid_to=permit.valid_to,
        )
        assert [
            (dt.datetime.fromisoformat(x["from"]), dt.datetime.fromisoformat(x["to"])) for x in lines
        ] == covered
        # The same stay billed now by the services' Biller gives the same amount and lines.
        again = Order(
            state="closed",
            space_id=order.space_id,
            segment_id=order.segment_id,
            plate=order.plate,
            vehicle_class=order.vehicle_class,
            started_at=order.started_at,
            ended_at=order.ended_at,
        )
        assert biller.bill(again, area_class=order.space_version.area_class, at=order.ended_at)
        assert (again.amount_due_fen, again.quote_lines, again.tariff_plan_id) == (
            order.amount_due_fen,
            order.quote_lines,
            order.tariff_plan_id,
        )
        if order.amount_due_fen == 0:
            assert order.state == "paid" and order.amount_paid_fen == 0
    # A pending or rejected application covers nothing.
    pending = ResidentialPermit.objects.filter(status__in=["submitted", "rejected"]).values_list(
        "plate", flat=True
    )
    for order in Order.objects.filter(plate__in=list(pending)):
        assert not any(line["period"] == "permit" for line in order.quote_lines)


def test_orders_are_written_day_by_day_without_overlaps_across_days(loaded):
    _out, writes = loaded
    order_writes = [n for model, n in writes if model is Order]
    assert len(order_writes) == DAYS and all(n > 0 for n in order_writes)
    assert sum(order_writes) == Order.objects.count()
    days = {
        timezone.localtime(o, SHANGHAI).date() for o in Order.objects.values_list("started_at", flat=True)
    }
    assert len(days) == DAYS
    # Overnight stays cross into the next day: still no two stays of one space overlap.
    rows = list(
        Order.objects.order_by("space_id", "started_at").values_list("space_id", "started_at", "ended_at")
    )
    for (s1, _a, e1), (s2, b2, _e) in zip(rows, rows[1:], strict=False):
        if s1 == s2:
            assert e1 is not None and e1 <= b2
    assert not Order.objects.values("space_id").filter(state="open").annotate(n=Count("id")).filter(n__gt=1)


def test_replace_removes_the_permits_and_their_fees(loaded):
    assert ResidentialPermit.objects.exists() and PermitFee.objects.exists()
    out = StringIO()
    call_command(
        "parking", "demo", "--spaces", "200", "--days", "1", "--seed", "2", "--replace",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    counts = dict(item.rsplit(" ", 1) for item in out.getvalue().strip().splitlines()[0].split(", "))
    # Only the new load's permits and fees are left (ids may be reused on SQLite: count them).
    assert ResidentialPermit.objects.count() == int(counts["permits"].replace(",", "")) > 0
    assert PermitFee.objects.count() == int(counts["permit_fees"].replace(",", ""))
    assert not ResidentialPermit.objects.exclude(segments__code__startswith=f"{MARK}-").exists()
