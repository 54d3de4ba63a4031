"""Concurrent applications for one plate on PostgreSQL: exactly one is accepted, reminders go once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import SmsMessage
from govcenter.parking.models import Citizen, PlateBinding
from govcenter.parking.models.permits import ResidentialPermit
from govcenter.parking.services import permits as services
from tests.factories import UserFactory
from tests.parking.events_helpers import network


def _run_together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list = []

    def run(call):
        try:
            barrier.wait()
            outcomes.append(call())
        except ServiceError as exc:
            outcomes.append(exc.error_code)
        except BaseException as exc:  # noqa: BLE001
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _holder_and_apply(org):
    """The 东城 network, a citizen holding 京A12345, and a function applying for it."""
    net = network(org)
    citizen = Citizen.objects.create(phone="13911112222")
    PlateBinding.objects.create(citizen=citizen, plate="京A12345")

    def apply():
        return services.permit_apply(
            citizen=citizen,
            plate="京A12345",
            segment_ids=[net.dc_seg.pk],
            applicant_name="张三",
            applicant_id_number="11010119900307123X",
            address="北京市东城区王府井大街1号",
            address_proof_ref="京房权证-1",
        )

    return apply


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_applications_for_one_plate_leave_one(org):
    apply = _holder_and_apply(org)
    outcomes = _run_together(lambda: apply().pk, lambda: apply().pk)
    assert sorted(map(str, outcomes))[-1] == "permit_exists", outcomes
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert ResidentialPermit.objects.filter(plate="京A12345").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_reminder_runs_send_one_sms(org):
    apply = _holder_and_apply(org)
    reviewer = UserFactory(username="t_mgr_dc2", unit=org.unit_dc, role_set=[org.roles["district_manager"]])
    permit = services.permit_approve(actor=reviewer, permit=apply())
    today = permit.valid_to

    outcomes = _run_together(
        lambda: services.permits_remind(today=today), lambda: services.permits_remind(today=today)
    )
    assert sorted(outcomes) == [0, 1], outcomes
    assert SmsMessage.objects.filter(template="permit_expiring").count() == 1
    assert SmsMessage.objects.filter(template="permit_approved").count() == 1
