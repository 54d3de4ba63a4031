"""居住认证情况统计 from the lake against the ORM: applications, reviews, permits held, permit stays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from govcenter.parking.lake.sync import sync_dataset
from govcenter.parking.models import Order, Segment
from govcenter.parking.models.permits import ResidentialPermit
from govcenter.parking.services import permits as services
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from tests.factories import UserFactory
from tests.helpers.org import build_org

from .statcheck import assert_reconciles, assert_surfaces_agree

pytestmark = pytest.mark.django_db
STAT = STATISTICS["permits"]
APPROVED = ("active", "expired", "revoked")


def _apply(segment, plate, id_number, phone):
    return services.permit_apply(
        actor=UserFactory(is_superuser=True),
        plate=plate,
        segment_ids=[segment.pk],
        applicant_name="张三",
        applicant_id_number=id_number,
        applicant_phone=phone,
        address="北京市东城区王府井大街1号",
        address_proof_ref="京房权证东字第000123号",
        months=1,
    )


@pytest.fixture
def world(generated, lake):
    """The demo's permits plus, through the service: one rejected, one pending, one revoked."""
    org = build_org()
    reviewer = UserFactory(is_superuser=True)
    segment = Segment.objects.filter(status=Segment.Status.ACTIVE).order_by("id").first()
    rejected = _apply(segment, "京A12345", "110101199003071233", "13900001111")
    services.permit_reject(actor=reviewer, permit=rejected, comment="证明不符")
    _apply(segment, "京B54321", "110101198001010010", "13900002222")  # pending
    active = ResidentialPermit.objects.filter(status="active").order_by("id").first()
    assert active is not None
    services.permit_revoke(actor=reviewer, permit=active, comment="地址证明不实")
    for name in ("orders", "permits"):
        sync_dataset(name)
    days = sorted({timezone.localtime(s).date() for s in Order.objects.values_list("started_at", flat=True)})
    org.start, org.end = days[0], max(days[-1], timezone.localdate())
    return org


def _held(p, day) -> bool:
    if p.status not in APPROVED or p.reviewed_at is None:
        return False
    revoked = timezone.localtime(p.revoked_at).date() if p.revoked_at else None
    return (
        p.valid_from <= day <= p.valid_to
        and timezone.localtime(p.reviewed_at).date() <= day
        and (revoked is None or revoked > day)
    )


def test_totals_equal_the_orm_and_rows_and_breakdowns_sum(world):
    result = compute(STAT, world.leader, StatQuery(world.start, world.end, levels=STAT.levels))
    total = result.total
    permits = list(ResidentialPermit.objects.all())
    applied = [p for p in permits if world.start <= timezone.localtime(p.submitted_at).date() <= world.end]
    assert total["applications"] == len(applied) >= 2  # the two below (the demo's may predate the window)
    assert total["approved"] == sum(1 for p in applied if p.status in APPROVED)
    assert total["rejected"] == sum(1 for p in applied if p.status == "rejected") == 1
    assert total["pending"] == sum(1 for p in applied if p.status == "submitted") >= 1
    assert total["approval_rate"] == round(total["approved"] / (total["approved"] + total["rejected"]), 4)
    days = [world.start + dt.timedelta(days=i) for i in range((world.end - world.start).days + 1)]
    assert total["active_at_end"] == sum(1 for p in permits if _held(p, world.end)) > 0
    assert total["permit_days"] == sum(1 for p in permits for d in days if _held(p, d))
    stays = [
        o
        for o in Order.objects.exclude(state="void")
        if world.start <= timezone.localtime(o.started_at).date() <= world.end
        and any(line.get("period") == "permit" for line in o.quote_lines)
    ]
    assert total["permit_orders"] == len(stays) > 0
    seconds = sum(
        (dt.datetime.fromisoformat(line["to"]) - dt.datetime.fromisoformat(line["from"])).total_seconds()
        for o in stays
        for line in o.quote_lines
        if line.get("period") == "permit"
    )
    assert total["permit_hours"] == round(seconds / 3600, 4)
    statuses = {g["key"]: g["applications"] for g in result.breakdowns["status"]}
    assert statuses["rejected"] == 1 and sum(statuses.values()) == len(applied)
    assert sum(g["permit_orders"] for g in result.breakdowns["by_day"]) == len(stays)
    city = assert_reconciles(STAT, world.leader, world.start, world.end)
    assert city["applications"] == total["applications"]


def test_scope_bad_input_and_surfaces_agree(world):
    dc = compute(STAT, world.manager_dc, StatQuery(world.start, world.end, levels=STAT.levels))
    assert {r["code"] for r in dc.rows} <= {"110101"}
    assert dc.total["applications"] == sum(
        1
        for p in ResidentialPermit.objects.filter(district__code="110101")
        if world.start <= timezone.localtime(p.submitted_at).date() <= world.end
    )
    client = Client()
    client.force_login(world.leader)
    for params, code in (({"segment": "1"}, "unsupported_filter"), ({"start": "x"}, "invalid_date")):
        response = client.get("/api/v1/parking/stats/permits", params)
        assert response.status_code == 400 and response.json()["code"] == code
    body = assert_surfaces_agree(
        world.leader, STAT, {"start": world.start.isoformat(), "end": world.end.isoformat()}
    )
    assert set(body["breakdowns"]) == {"status", "renewal", "by_day"}
