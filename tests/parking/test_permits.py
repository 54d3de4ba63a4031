"""Residential permits: application rules, four-eyes review, scope, billing split, reminders, expiry."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry, SmsMessage
from govcenter.parking.models import Citizen, CitizenToken, Order, OrderState, PlateBinding
from govcenter.parking.models.permits import PermitFee, PermitStatus, ResidentialPermit
from govcenter.parking.selectors.tariffs import quote_with_plan
from govcenter.parking.services import permits as services
from govcenter.parking.services.citizens import TOKEN_PREFIX, token_digest
from govcenter.parking.services.events import events_ingest
from govcenter.parking.services.permits import SHANGHAI
from tests.factories import RoleFactory, UserFactory
from tests.helpers.scope import assert_requires_login, assert_scoped
from tests.parking.events_helpers import ev, network

pytestmark = pytest.mark.django_db
API = "/api/v1/parking"
HOLDER, OTHER = "京A12345", "京B54321"


@pytest.fixture
def net(org):
    n = network(org)
    n.citizen = Citizen.objects.create(phone="13911112222")
    PlateBinding.objects.create(citizen=n.citizen, plate=HOLDER)
    n.reviewer_dc = UserFactory(
        username="t_mgr_dc2", unit=org.unit_dc, role_set=[org.roles["district_manager"]]
    )
    return n


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def citizen_client(citizen) -> APIClient:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    CitizenToken.objects.create(
        citizen=citizen,
        prefix=raw[:10],
        digest=token_digest(raw),
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def application(net, **overrides) -> dict:
    body = {
        "plate": HOLDER,
        "segments": [net.dc_seg.code],
        "applicant_name": "张三",
        "applicant_id_number": "11010119900307123X",
        "address": "北京市东城区王府井大街1号",
        "address_proof_ref": "京房权证东字第000123号",
        "months": 2,
    }
    return {**body, **overrides}


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


def permit_for(
    net, *, plate=HOLDER, citizen=None, valid_from=None, months=2, segments=None
) -> ResidentialPermit:
    """An application of ``citizen`` (default: the fixture's holder of 京A12345) for ``plate``."""
    citizen = citizen or net.citizen
    if not PlateBinding.objects.filter(plate=plate, status="active").exists():
        PlateBinding.objects.create(citizen=citizen, plate=plate)
    return services.permit_apply(
        citizen=citizen,
        plate=plate,
        segment_ids=[s.pk for s in segments or [net.dc_seg]],
        applicant_name="张三",
        applicant_id_number="11010119900307123X",
        address="北京市东城区王府井大街1号",
        address_proof_ref="京房权证东字第000123号",
        valid_from=valid_from,
        months=months,
    )


def active_permit(net, **kwargs) -> ResidentialPermit:
    return services.permit_approve(actor=net.reviewer_dc, permit=permit_for(net, **kwargs))


# -- application --------------------------------------------------------------------------------


def test_citizen_applies_for_a_bound_plate_and_lists_it(net):
    client = citizen_client(net.citizen)
    response = client.post(f"{API}/citizen/permits", application(net), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    first = timezone.localdate().replace(day=1)
    assert (
        body["status"] == "submitted"
        and body["plate"] == HOLDER
        and body["segment_codes"] == [net.dc_seg.code]
    )
    assert body["applicant_id_number"] == "110101********123X" and body["applicant_name"] == "张*"
    assert body["hours_start"] == "19:00" and body["hours_end"] == "07:00"
    assert (
        body["valid_from"] == first.isoformat()
        and body["valid_to"] == services.period_end(first, 2).isoformat()
    )
    assert body["monthly_fee_fen"] == 15000  # 一类 default
    permit = ResidentialPermit.objects.get(pk=body["id"])
    assert permit.citizen == net.citizen and permit.applicant_phone == "13911112222"
    assert permit.district == net.dc_seg.district
    assert [p["id"] for p in client.get(f"{API}/citizen/permits").json()] == [permit.pk]
    # Another citizen sees none of it.
    stranger = citizen_client(Citizen.objects.create(phone="13911113333"))
    assert stranger.get(f"{API}/citizen/permits").json() == []
    entry = AuditEntry.objects.filter(action="parking.permit.apply").latest("seq")
    assert HOLDER not in str(entry.changes) and "11010119900307123X" not in str(entry.changes)


def test_a_plate_not_bound_to_the_citizen_is_refused(net):
    response = citizen_client(net.citizen).post(
        f"{API}/citizen/permits", application(net, plate=OTHER), format="json"
    )
    assert_error(response, 400, "plate_not_bound")
    assert not ResidentialPermit.objects.exists()


def test_segments_across_districts_are_refused(net):
    body = application(net, segments=[net.dc_seg.code, net.xc_seg.code])
    response = citizen_client(net.citizen).post(f"{API}/citizen/permits", body, format="json")
    assert_error(response, 400, "segments_across_districts")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"segments": ["NO-SUCH"]}, 400, "unknown_segment"),
        ({"plate": "京A1234"}, 400, "invalid_plate"),
        ({"applicant_id_number": "123"}, 400, "invalid"),
        ({"address": ""}, 400, "invalid"),
        ({"months": 0}, 400, "invalid"),
        ({"months": 13}, 400, "invalid"),
        ({"segments": []}, 400, "invalid"),
    ],
)
def test_bad_applications_are_4xx_with_the_error_shape(net, overrides, status, code):
    response = citizen_client(net.citizen).post(
        f"{API}/citizen/permits", application(net, **overrides), format="json"
    )
    assert_error(response, status, code)


@override_settings(GOVCENTER_PARKING_PERMIT_MAX_SEGMENTS=1)
def test_at_most_n_segments(net, org):
    from tests.parking.factories import SegmentFactory

    second = SegmentFactory(road=net.dc_seg.road, area_class=2)
    body = application(net, segments=[net.dc_seg.code, second.code])
    body_ = assert_error(
        citizen_client(net.citizen).post(f"{API}/citizen/permits", body, format="json"),
        400,
        "too_many_segments",
    )
    assert body_["details"]["segments"] == ["1"]


def test_one_permit_per_plate_for_overlapping_months(net):
    client = citizen_client(net.citizen)
    assert client.post(f"{API}/citizen/permits", application(net), format="json").status_code == 201
    assert_error(client.post(f"{API}/citizen/permits", application(net), format="json"), 409, "permit_exists")
    # A later, non-overlapping period is fine.
    later = (timezone.localdate().replace(day=1) + dt.timedelta(days=70)).isoformat()
    assert (
        client.post(f"{API}/citizen/permits", application(net, valid_from=later), format="json").status_code
        == 201
    )


def test_anonymous_and_staff_tokens_are_refused(net):
    assert_requires_login(Client(), f"{API}/permits/")
    assert_requires_login(Client(), "/parking/permits/")
    response = APIClient().post(f"{API}/citizen/permits", application(net), format="json")
    assert response.status_code in (401, 403) and set(response.json()) == {"code", "message", "details"}


# -- review -------------------------------------------------------------------------------------


def test_four_eyes_the_staff_member_who_entered_it_cannot_approve(
    net, org, django_capture_on_commit_callbacks
):
    clerk = api_for(org.manager_dc)
    body = application(net, segments=[net.dc_seg.pk], applicant_phone="13911112222")
    response = clerk.post(f"{API}/permits/", body, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert response.json()["plate"] != HOLDER and response.json()["submitted_by"] == org.manager_dc.username
    assert_error(clerk.post(f"{API}/permits/{pk}/approve/", {}, format="json"), 403, "four_eyes")
    assert_error(clerk.post(f"{API}/permits/{pk}/reject/", {"comment": "x"}, format="json"), 403, "four_eyes")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(net.reviewer_dc).post(
            f"{API}/permits/{pk}/approve/", {"monthly_fee_fen": 12000}, format="json"
        )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "active" and data["reviewer"] == "t_mgr_dc2" and data["monthly_fee_fen"] == 12000
    assert [f["amount_fen"] for f in data["fees"]] == [12000, 12000] and {
        f["status"] for f in data["fees"]
    } == {"due"}
    sms = SmsMessage.objects.get(template="permit_approved")
    assert sms.phone == "13911112222" and HOLDER not in sms.body
    # Approving twice is a state error, not a second set of fees.
    assert_error(
        api_for(net.reviewer_dc).post(f"{API}/permits/{pk}/approve/", {}, format="json"), 409, "invalid_state"
    )
    assert PermitFee.objects.filter(permit_id=pk).count() == 2


def test_the_applicant_as_staff_cannot_review_their_own_application(net, org):
    permit = permit_for(net)
    UserFactory._meta.model.objects.filter(pk=net.reviewer_dc.pk).update(phone="13911112222")
    net.reviewer_dc.refresh_from_db()
    with pytest.raises(ServiceError) as exc:
        services.permit_approve(actor=net.reviewer_dc, permit=permit)
    assert exc.value.error_code == "four_eyes" and exc.value.status_code == 403


def test_reject_needs_a_comment(net):
    permit = permit_for(net)
    client = api_for(net.reviewer_dc)
    body = assert_error(
        client.post(f"{API}/permits/{permit.pk}/reject/", {"comment": " "}, format="json"), 400, "invalid"
    )
    assert "comment" in body["details"]
    with pytest.raises(ServiceError) as exc:
        services.permit_reject(actor=net.reviewer_dc, permit=permit, comment=" ")
    assert exc.value.error_code == "comment_required" and exc.value.status_code == 400
    response = client.post(f"{API}/permits/{permit.pk}/reject/", {"comment": "居住证明不符"}, format="json")
    assert response.json()["status"] == "rejected"
    # A rejected application does not block a new one.
    assert permit_for(net).status == PermitStatus.SUBMITTED


def test_another_districts_manager_gets_404_and_the_lists_are_scoped(net, org):
    dc = permit_for(net)
    xc_holder = Citizen.objects.create(phone="13911114444")
    xc = permit_for(net, plate=OTHER, citizen=xc_holder, segments=[net.xc_seg])
    assert_error(
        api_for(org.manager_xc).post(f"{API}/permits/{dc.pk}/approve/", {}, format="json"), 404, "not_found"
    )
    assert_scoped(
        client=api_for(org.manager_dc),
        list_url=f"{API}/permits/",
        detail_url_for=lambda p: f"{API}/permits/{p.pk}/",
        visible=[dc],
        hidden=[xc],
    )
    assert_scoped(
        client=client_for(org.manager_dc),
        list_url="/parking/permits/",
        detail_url_for=lambda p: f"/parking/permits/{p.pk}/",
        visible=[dc],
        hidden=[xc],
    )
    listed = api_for(org.manager_dc).get(f"{API}/permits/?status=submitted").json()["results"]
    assert listed[0]["plate"] != HOLDER and listed[0]["applicant_phone"] == "139****2222"


def test_reveal_is_audited_and_needs_the_permission(net, org):
    permit = permit_for(net)
    assert (
        api_for(org.manager_dc).post(f"{API}/permits/{permit.pk}/reveal/", {"reason": "核实"}).status_code
        == 403
    )
    revealer = UserFactory(unit=org.unit_dc, role_set=[org.roles["district_manager"]])
    revealer.roles.add(
        RoleFactory(scope_kind="districts", perms=["core.reveal_personal_data"], district_set=[org.dongcheng])
    )
    response = api_for(revealer).post(
        f"{API}/permits/{permit.pk}/reveal/", {"reason": "核实身份"}, format="json"
    )
    assert response.status_code == 200 and response.json()["plate"] == HOLDER
    assert AuditEntry.objects.filter(action="reveal", object_id=str(permit.pk)).exists()


def test_revoke_and_fee_payment(net):
    permit = active_permit(net)
    client = api_for(net.reviewer_dc)
    month = permit.valid_from.isoformat()
    response = client.post(f"{API}/permits/{permit.pk}/pay-fee/", {"month": month}, format="json")
    assert [f["status"] for f in response.json()["fees"]] == ["paid", "due"]
    assert_error(
        client.post(f"{API}/permits/{permit.pk}/pay-fee/", {"month": month}, format="json"),
        409,
        "invalid_state",
    )
    assert_error(client.post(f"{API}/permits/{permit.pk}/revoke/", {}, format="json"), 400, "invalid")
    response = client.post(f"{API}/permits/{permit.pk}/revoke/", {"comment": "居住证明虚假"}, format="json")
    assert response.json()["status"] == "revoked"
    assert [f["status"] for f in response.json()["fees"]] == ["paid", "cancelled"]


# -- billing ------------------------------------------------------------------------------------


def _local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), SHANGHAI)


def _two_days_ago() -> dt.date:
    return (timezone.now() - dt.timedelta(days=2)).astimezone(SHANGHAI).date()


def _stay(net, number: str, plate: str, start, end) -> Order:
    results = events_ingest(
        device=net.camera,
        events=[
            ev("park_start", start, space_number=number, vehicle_license_plate=plate),
            ev("park_end", end, space_number=number),
        ],
    )
    assert [r.outcome for r in results] == ["accepted", "accepted"], results
    return Order.objects.get(pk=results[0].order_id)


def test_a_permit_holders_night_stay_is_billed_zero_and_a_non_holders_normally(net):
    day = _two_days_ago()
    active_permit(net, valid_from=day, months=2)
    start, end = _local(day, 20), _local(day + dt.timedelta(days=1), 6)
    holder = _stay(net, "102", HOLDER, start, end)
    other = _stay(net, "103", OTHER, start, end)
    assert holder.state == OrderState.PAID and holder.amount_due_fen == 0 and holder.amount_paid_fen == 0
    [line] = holder.quote_lines
    assert line["note"] == "居住认证覆盖" and line["units"] == 600 and line["amount_fen"] == 0
    assert line["permit_id"] == ResidentialPermit.objects.get().pk
    expected = quote_with_plan(other.tariff_plan, vehicle="small", start=start, end=end)
    assert other.state == OrderState.BILLED and other.amount_due_fen == expected.amount_fen > 0


def test_the_uncovered_part_of_a_stay_is_billed_with_the_tariff_engine(net):
    day = _two_days_ago()
    active_permit(net, valid_from=day, months=2)
    start, end = _local(day, 18), _local(day, 20)
    order = _stay(net, "102", HOLDER, start, end)
    expected = quote_with_plan(order.tariff_plan, vehicle="small", start=start, end=_local(day, 19))
    assert order.state == OrderState.BILLED and order.amount_due_fen == expected.amount_fen > 0
    assert [line["note"] for line in order.quote_lines][-1] == "居住认证覆盖"
    assert order.quote_lines[-1]["units"] == 60
    full = quote_with_plan(order.tariff_plan, vehicle="small", start=start, end=end)
    assert order.amount_due_fen < full.amount_fen


def test_no_cover_on_other_segments_after_revocation_or_outside_validity(net):
    day = _two_days_ago()
    permit = active_permit(net, valid_from=day, months=1)
    start, end = _local(day, 20), _local(day + dt.timedelta(days=1), 6)
    # The plate parks in 西城 (not a permitted segment): billed normally.
    results = events_ingest(
        device=net.xc_sensor,
        events=[ev("park_start", start, vehicle_license_plate=HOLDER), ev("park_end", end)],
    )
    assert Order.objects.get(pk=results[0].order_id).amount_due_fen > 0
    services.permit_revoke(actor=net.reviewer_dc, permit=permit, comment="撤销")
    assert _stay(net, "102", HOLDER, start, end).amount_due_fen > 0


def test_the_permit_book_is_loaded_once_per_biller(net):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from govcenter.parking.services.orders import Biller

    day = _two_days_ago()
    permit = active_permit(net, valid_from=day, months=2)
    biller = Biller()
    start, end = _local(day, 20), _local(day + dt.timedelta(days=1), 6)
    with CaptureQueriesContext(connection) as queries:
        for plate in (HOLDER, OTHER, HOLDER, "京C11111"):
            biller.permits.covered(plate=plate, segment_id=net.dc_seg.pk, start=start, end=end)
        parts = biller.permits.covered(plate=HOLDER, segment_id=net.dc_seg.pk, start=start, end=end)
    assert len(queries) == 1 and parts == [(permit.pk, start, end)]


def test_a_billing_batch_without_plates_does_not_load_permits(net):
    from govcenter.parking.services.orders import Biller

    biller = Biller()
    assert (
        biller.permits.covered(plate="", segment_id=net.dc_seg.pk, start=timezone.now(), end=timezone.now())
        == []
    )
    assert biller.permits._by_plate is None


# -- daily task ---------------------------------------------------------------------------------


def test_reminder_is_sent_once_and_not_when_renewed(net, django_capture_on_commit_callbacks):
    permit = active_permit(net, months=1)
    today = permit.valid_to - dt.timedelta(days=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.permits_daily(today=today) == {"expired": 0, "reminded": 1}
        assert services.permits_daily(today=today + dt.timedelta(days=1)) == {"expired": 0, "reminded": 0}
    sms = SmsMessage.objects.filter(template="permit_expiring")
    assert sms.count() == 1 and sms.get().phone == "13911112222"
    permit.refresh_from_db()
    assert permit.reminder_sent_at is not None

    # A permit whose renewal is pending gets no reminder.
    other = Citizen.objects.create(phone="13911115555")
    second = permit_for(net, plate=OTHER, citizen=other, months=1)
    second = services.permit_approve(actor=net.reviewer_dc, permit=second)
    services.permit_renew(citizen=other, permit=second)
    assert services.permits_remind(today=today) == 0


def test_expiry_after_valid_to(net):
    permit = active_permit(net, months=1)
    assert services.permits_expire(today=permit.valid_to) == 0
    assert services.permits_expire(today=permit.valid_to + dt.timedelta(days=1)) == 1
    permit.refresh_from_db()
    assert permit.status == PermitStatus.EXPIRED
    assert AuditEntry.objects.filter(action="parking.permit.expire").exists()


def test_citizen_renews_into_the_following_months(net):
    permit = active_permit(net, months=1)
    client = citizen_client(net.citizen)
    response = client.post(f"{API}/citizen/permits/{permit.pk}/renew", {"months": 3}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["renewal_of"] == permit.pk and body["status"] == "submitted"
    assert body["valid_from"] == (permit.valid_to + dt.timedelta(days=1)).isoformat() and body["months"] == 3
    assert_error(
        client.post(f"{API}/citizen/permits/{permit.pk}/renew", {}, format="json"), 409, "already_renewed"
    )
    stranger = citizen_client(Citizen.objects.create(phone="13911116666"))
    assert_error(
        stranger.post(f"{API}/citizen/permits/{permit.pk}/renew", {}, format="json"), 404, "not_found"
    )


# -- pages --------------------------------------------------------------------------------------


def test_staff_pages_review_flow_and_district_limited_segments(net, org):
    clerk = client_for(org.manager_dc)
    page = clerk.get(f"/parking/permits/new/?district={org.dongcheng.pk}")
    html = page.content.decode()
    assert page.status_code == 200 and net.dc_seg.code in html and net.xc_seg.code not in html
    assert clerk.get(f"/parking/permits/new/?district={org.xicheng.pk}").status_code == 404
    response = clerk.post(
        "/parking/permits/new/",
        {
            "district": org.dongcheng.pk,
            "plate": OTHER,
            "applicant_name": "李四",
            "applicant_phone": "13911117777",
            "applicant_id_number": "110101199001012222",
            "address": "北京市东城区东四1号",
            "address_proof_ref": "东租备-3",
            "segments": [net.dc_seg.pk],
            "hours_start": "20:00",
            "hours_end": "06:00",
            "months": 1,
        },
    )
    permit = ResidentialPermit.objects.get(plate=OTHER)
    assert response.status_code == 302 and response["Location"] == f"/parking/permits/{permit.pk}/"
    assert permit.hours_start == dt.time(20) and permit.submitted_by == org.manager_dc
    detail = clerk.get(f"/parking/permits/{permit.pk}/").content.decode()
    assert OTHER not in detail and "京B·***21" in detail
    clerk.post(f"/parking/permits/{permit.pk}/approve/")
    permit.refresh_from_db()
    assert permit.status == PermitStatus.SUBMITTED  # four eyes: refused, shown as a message
    client_for(net.reviewer_dc).post(f"/parking/permits/{permit.pk}/approve/", {"comment": "同意"})
    permit.refresh_from_db()
    assert permit.status == PermitStatus.ACTIVE and permit.fees.count() == 1
    listing = clerk.get("/parking/permits/?status=active").content.decode()
    assert f"/parking/permits/{permit.pk}/" in listing
    by_district = clerk.get(f"/parking/permits/?district={org.dongcheng.pk}&status=active").content.decode()
    assert f"/parking/permits/{permit.pk}/" in by_district
    assert (
        f"/parking/permits/{permit.pk}/"
        not in clerk.get("/parking/permits/?status=submitted").content.decode()
    )
    api_rows = api_for(org.manager_dc).get(f"{API}/permits/?district={org.dongcheng.pk}&status=active").json()
    assert [row["id"] for row in api_rows["results"]] == [permit.pk]
    assert (
        client_for(org.leader).post(f"/parking/permits/{permit.pk}/revoke/", {"comment": "x"}).status_code
        == 403
    )
