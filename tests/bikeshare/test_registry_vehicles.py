"""Vehicle registration (MDS Agency POST /vehicles): partial success, idempotency, scope."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from govcenter.bikeshare.models import OperatorRejection, Vehicle
from govcenter.bikeshare.services.registry import MAX_BATCH, SCHEMA_PATH, vehicles_register
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry

from .conftest import PROVIDER_B, assert_error, client_for, push, vehicle

pytestmark = pytest.mark.django_db


def _snapshot():
    """Everything a registration may write, to prove a refused or retried one wrote nothing."""
    return (
        sorted(Vehicle.objects.values_list("operator_id", "device_id", "vehicle_id")),
        AuditEntry.objects.filter(action__startswith="bikeshare.vehicle").count(),
    )


def test_batch_with_bad_records_is_a_partial_success(org, keys):
    taken_by_b = vehicle("HL-1", provider=PROVIDER_B)
    assert push(keys.b, [taken_by_b]).status_code == 201
    good = [
        vehicle("MT-1"),
        vehicle("MT-2", propulsion_types=["electric_assist"], e_tag="E200-01", district="110101"),
    ]
    bad_schema = vehicle("MT-3", vehicle_type="rocket")
    missing = {k: v for k, v in vehicle("MT-4").items() if k != "device_id"}
    scooter = vehicle("MT-5", vehicle_type="scooter_standing")  # valid MDS, not allowed in Beijing
    other_operators = dict(taken_by_b, vehicle_id="MT-6", provider_id=good[0]["provider_id"])
    duplicate = dict(good[0])  # same device_id again in the batch
    unknown_district = vehicle("MT-7", district="999999")
    batch = [
        good[0],
        bad_schema,
        missing,
        good[1],
        scooter,
        other_operators,
        duplicate,
        unknown_district,
        "nonsense",
    ]

    response = push(keys.a, {"vehicles": batch})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["success"], body["total"]) == (2, 9)
    got = [
        (
            f["item"] if isinstance(f["item"], str) else f["item"].get("vehicle_id"),
            f["error"],
            f["error_details"],
        )
        for f in body["failures"]
    ]
    assert got == [
        ("MT-3", "bad_param", ["vehicle_type"]),
        ("MT-4", "missing_param", ["device_id"]),
        ("MT-5", "bad_param", ["vehicle_type"]),
        ("MT-6", "registered_by_other_operator", ["device_id"]),
        ("MT-1", "duplicate_in_batch", ["device_id"]),
        ("MT-7", "bad_param", ["district"]),
        ("nonsense", "bad_param", ["item"]),
    ]
    mine = Vehicle.objects.filter(operator=org.op_a).order_by("vehicle_id")
    assert [v.vehicle_id for v in mine] == ["MT-1", "MT-2"]
    ebike = mine[1]
    assert (
        ebike.is_ebike
        and ebike.e_tag == "E200-01"
        and ebike.district == org.dongcheng
        and ebike.state == "removed"
    )
    # B's vehicle is untouched; the failures were counted per reason.
    assert Vehicle.objects.get(device_id=taken_by_b["device_id"]).operator == org.op_b
    counts = dict(OperatorRejection.objects.filter(source="operator:T-OP-A").values_list("reason", "count"))
    assert counts == {
        "bad_param": 4,
        "missing_param": 1,
        "registered_by_other_operator": 1,
        "duplicate_in_batch": 1,
    }
    # One audit entry for the two written vehicles.
    entry = AuditEntry.objects.get(action="bikeshare.vehicle.bulk_register", unit_id=org.op_a.pk)
    assert sorted(v["vehicle_id"] for v in entry.changes["after"]) == ["MT-1", "MT-2"]


def test_retry_is_idempotent(org, keys):
    batch = [vehicle("MT-1"), vehicle("MT-2"), vehicle("MT-3", vehicle_type="rocket")]
    first = push(keys.a, batch)
    state = _snapshot()
    second = push(keys.a, batch)  # a new nonce: a genuine retry, not a replay
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.json()["success"] == 2
    assert _snapshot() == state
    # Once the bad record is fixed, the whole batch succeeds and only the fixed one is written.
    batch[2]["vehicle_type"] = "bicycle"
    third = push(keys.a, batch)
    assert third.status_code == 201 and third.json() == {"success": 3, "total": 3, "failures": []}
    assert Vehicle.objects.filter(operator=org.op_a).count() == 3


def test_changed_record_under_a_registered_device_id_is_not_overwritten(org, keys):
    record = vehicle("MT-1")
    push(keys.a, [record])
    changed = dict(record, propulsion_types=["electric_assist"])
    reused_code = vehicle("MT-1")  # another device_id with an already used vehicle_id
    failures = push(keys.a, [changed]).json()["failures"] + push(keys.a, [reused_code]).json()["failures"]
    assert [(f["error"], f["error_details"]) for f in failures] == [
        ("already_registered", ["device_id"]),
        ("already_registered", ["vehicle_id"]),
    ]
    assert Vehicle.objects.get().propulsion_types == ["human"]


def test_vehicle_id_is_unique_per_operator_only(org, keys):
    assert push(keys.a, [vehicle("0001")]).status_code == 201
    assert push(keys.b, [vehicle("0001", provider=PROVIDER_B)]).status_code == 201
    assert Vehicle.objects.filter(vehicle_id="0001").count() == 2


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'[{"device_id": NaN}]', 400, "invalid_json"),
        ([], 400, "invalid_body"),
        ({"vehicles": "MT-1"}, 400, "invalid_body"),
        ({"vehicle": [1]}, 400, "invalid_body"),
    ],
)
def test_bodies_that_are_not_batches_are_refused_whole(org, keys, payload, status, code):
    state = _snapshot()
    assert_error(push(keys.a, payload), status, code)
    assert _snapshot() == state


def test_too_large_batch_is_refused_whole(org):
    records = [vehicle(f"MT-{i}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(ServiceError) as exc:
        vehicles_register(operator=org.op_a, records=records)
    assert exc.value.status_code == 413 and not Vehicle.objects.exists()


def test_unstorable_text_is_a_bad_record_not_a_failed_batch(org):
    result = vehicles_register(
        operator=org.op_a, records=[vehicle("MT-\x00"), vehicle("MT-2", e_tag="\ud800")]
    )
    assert [f["error"] for f in result.failures] == ["bad_param", "bad_param"]
    assert not Vehicle.objects.exists()


def test_vendored_schema_is_what_the_script_builds():
    """data/mds/vehicle.schema.json is reproducible from the vendored MDS YAML files."""
    script = SCHEMA_PATH.parent / "build_schema.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------------------
# Staff list through the data scope
# ------------------------------------------------------------------------------------------


def _ids(client, url="/api/v1/bikeshare/vehicles/"):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return sorted(v["vehicle_id"] for v in response.json()["results"])


@pytest.fixture
def fleet(org):
    vehicles_register(operator=org.op_a, records=[vehicle("A-1", district="110101"), vehicle("A-2")])
    vehicles_register(operator=org.op_b, records=[vehicle("B-1", provider=PROVIDER_B, district="110102")])
    return {v.vehicle_id: v for v in Vehicle.objects.all()}


def test_operator_staff_see_only_their_vehicles(org, fleet):
    assert _ids(client_for(org.bs_op_a)) == ["A-1", "A-2"]
    assert _ids(client_for(org.bs_op_b)) == ["B-1"]
    # Another operator's vehicle by id: 404, never 403.
    response = client_for(org.bs_op_a).get(f"/api/v1/bikeshare/vehicles/{fleet['B-1'].pk}/")
    assert_error(response, 404, "not_found")
    # Filtering for the other operator finds nothing rather than widening the scope.
    assert _ids(client_for(org.bs_op_a), f"/api/v1/bikeshare/vehicles/?operator={org.op_b.pk}") == []


def test_center_sees_all_and_districts_their_district(org, fleet):
    assert _ids(client_for(org.bs_center)) == ["A-1", "A-2", "B-1"]
    assert _ids(client_for(org.bs_dc)) == ["A-1"]
    detail = client_for(org.bs_center).get(f"/api/v1/bikeshare/vehicles/{fleet['A-1'].pk}/").json()
    assert detail["device_id"] == str(fleet["A-1"].device_id) and detail["operator"] == org.op_a.pk
    assert "mds_record" not in detail


def test_list_needs_the_view_permission(org, fleet):
    assert_error(client_for(org.operator_a).get("/api/v1/bikeshare/vehicles/"), 403, "permission_denied")


def test_detail_shape(org, fleet):
    body = client_for(org.bs_op_a).get(f"/api/v1/bikeshare/vehicles/{fleet['A-1'].pk}/").json()
    assert (
        uuid.UUID(body["provider_id"]) and body["propulsion_types"] == ["human"] and body["is_ebike"] is False
    )
    assert json.dumps(body)  # JSON-able
