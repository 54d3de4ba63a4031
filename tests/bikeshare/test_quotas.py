"""Fleet quotas: history without overlaps, the API, and over-quota numbers (registered and live)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from govcenter.bikeshare.live import SqliteLiveState
from govcenter.bikeshare.models import FleetQuota, Vehicle
from govcenter.bikeshare.selectors.quotas import over_quota, quota_usage
from govcenter.bikeshare.services.quotas import quota_set
from govcenter.core.api.errors import ServiceError
from govcenter.core.audit import AuditEntry
from govcenter.core.districts import get_index
from tests.factories import RoleFactory, UserFactory

from .conftest import PROVIDER_A, assert_error, client_for

URL = "/api/v1/bikeshare/quotas/"
# GCJ-02 points known to lie in 东城 (110101) and 西城 (110102).
DC_POINT = (116.4173, 39.949)
XC_POINT = (116.3742, 39.9075)


def assert_chain(rows: list[FleetQuota]) -> None:
    """Ordered by valid_from: each row ends where the next starts; only the last is open."""
    rows = sorted(rows, key=lambda q: q.valid_from)
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier.valid_to == later.valid_from
    assert [q.valid_to is None for q in rows] == [False] * (len(rows) - 1) + [True]


@pytest.fixture
def quota_roles(org):
    setter = RoleFactory(
        code="t-bs-quota-setter",
        scope_kind="all",
        perms=["bikeshare.view_fleetquota", "bikeshare.add_fleetquota"],
    )
    reader = RoleFactory(code="t-bs-quota-reader", scope_kind="operator", perms=["bikeshare.view_fleetquota"])
    org.quota_setter = UserFactory(username="t_quota_setter", unit=org.center, role_set=[setter])
    org.quota_op_a = UserFactory(username="t_quota_op_a", unit=org.op_a, role_set=[reader])
    return org


def test_a_new_quota_closes_the_open_one(org):
    first = quota_set(None, operator=org.op_a, district=org.dongcheng, quota=100, reason="初始")
    second = quota_set(None, operator=org.op_a, district=org.dongcheng, quota=150, reason="扩容")
    citywide = quota_set(None, operator=org.op_a, district=None, quota=1000)
    other = quota_set(None, operator=org.op_b, district=org.dongcheng, quota=80)
    first.refresh_from_db()
    assert first.valid_to == second.valid_from and second.valid_to is None
    assert_chain(list(FleetQuota.objects.filter(operator=org.op_a, district=org.dongcheng)))
    assert citywide.valid_to is None and other.valid_to is None  # other keys untouched
    # Starting before the open quota would rewrite history.
    with pytest.raises(ServiceError) as exc:
        quota_set(None, operator=org.op_a, district=org.dongcheng, quota=1, valid_from=second.valid_from)
    assert exc.value.error_code == "overlaps_history"
    assert FleetQuota.objects.filter(operator=org.op_a, district=org.dongcheng).count() == 2
    assert AuditEntry.objects.filter(action="bikeshare.quota.set").count() == 4
    with pytest.raises(ServiceError):
        quota_set(None, operator=org.unit_dc, district=None, quota=5)  # not an operator
    with pytest.raises(ServiceError):
        quota_set(None, operator=org.op_a, district=None, quota=-1)


def test_quota_api(quota_roles):
    setter = client_for(quota_roles.quota_setter)
    response = setter.post(
        URL, {"operator": quota_roles.op_a.pk, "district": "110101", "quota": 300, "reason": "试点"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["district_code"] == "110101" and response.json()["valid_to"] is None
    response = setter.post(
        URL, {"operator": quota_roles.op_a.pk, "quota": 250}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["district"] is None
    setter.post(
        URL,
        {"operator": quota_roles.op_a.pk, "district": "110101", "quota": 320},
        content_type="application/json",
    )
    setter.post(
        URL,
        {"operator": quota_roles.op_b.pk, "district": "110101", "quota": 40},
        content_type="application/json",
    )
    assert setter.get(URL).json()["count"] == 4
    assert setter.get(f"{URL}?current=true").json()["count"] == 3
    assert setter.get(f"{URL}?citywide=true").json()["count"] == 1
    # An operator's staff see their own operator's quotas only, and cannot set any.
    op_a = client_for(quota_roles.quota_op_a)
    assert {q["operator"] for q in op_a.get(URL).json()["results"]} == {quota_roles.op_a.pk}
    response = op_a.post(
        URL, {"operator": quota_roles.op_a.pk, "quota": 9999}, content_type="application/json"
    )
    assert response.status_code == 403
    assert_error(
        setter.post(URL, {"operator": quota_roles.op_a.pk, "district": "999999", "quota": 1}, content_type="application/json"),
        404, "not_found",
    )  # fmt: skip
    assert (
        setter.post(
            URL, {"operator": quota_roles.op_a.pk, "quota": -3}, content_type="application/json"
        ).status_code
        == 400
    )
    assert FleetQuota.objects.count() == 4


def _vehicles(operator, district, n, *, retired=0, prefix="V"):
    now = timezone.now()
    made = []
    for i in range(n):
        made.append(
            Vehicle.objects.create(
                operator=operator,
                device_id=uuid.uuid4(),
                provider_id=uuid.UUID(PROVIDER_A),
                vehicle_id=f"{prefix}{district.code if district else 'X'}-{i}",
                district=district,
                registered_at=now - timedelta(days=2),
                retired_at=(now - timedelta(days=1)) if i < retired else None,
            )
        )
    return made


def test_over_quota_counts_registered_vehicles(org):
    fleet = (
        _vehicles(org.op_a, org.dongcheng, 7, retired=2, prefix="A")
        + _vehicles(org.op_a, org.xicheng, 3, prefix="A")
        + _vehicles(org.op_a, None, 1, prefix="A")
        + _vehicles(org.op_b, org.dongcheng, 4, prefix="B")
    )
    quota_set(
        None,
        operator=org.op_a,
        district=org.dongcheng,
        quota=3,
        valid_from=timezone.now() - timedelta(days=5),
    )
    quota_set(
        None, operator=org.op_a, district=org.xicheng, quota=10, valid_from=timezone.now() - timedelta(days=5)
    )
    quota_set(None, operator=org.op_a, district=None, quota=6, valid_from=timezone.now() - timedelta(days=5))
    quota_set(
        None,
        operator=org.op_b,
        district=org.dongcheng,
        quota=4,
        valid_from=timezone.now() - timedelta(days=5),
    )

    def expected(operator, district):
        return sum(
            1 for v in fleet
            if v.operator_id == operator.pk and v.retired_at is None and (district is None or v.district_id == district.pk)
        )  # fmt: skip

    rows = {(r.operator_id, r.district_code): r for r in over_quota()}
    assert set(rows) == {(org.op_a.pk, "110101"), (org.op_a.pk, None)}
    assert rows[(org.op_a.pk, "110101")].registered == expected(org.op_a, org.dongcheng) == 5
    assert rows[(org.op_a.pk, "110101")].excess == 5 - 3
    assert rows[(org.op_a.pk, None)].registered == expected(org.op_a, None) == 9
    assert rows[(org.op_a.pk, None)].excess == 9 - 6
    usage = {(r.operator_id, r.district_code): r for r in quota_usage()}
    assert usage[(org.op_b.pk, "110101")].excess == expected(org.op_b, org.dongcheng) - 4 == 0
    # Three days ago the retired bikes were still in service; before the quotas, nothing applies.
    past = {(r.operator_id, r.district_code): r for r in quota_usage(timezone.now() - timedelta(hours=36))}
    assert past[(org.op_a.pk, "110101")].registered == 7
    assert quota_usage(timezone.localdate() - timedelta(days=10)) == []


def test_over_quota_with_the_live_picture(org, tmp_path):
    quota_set(
        None,
        operator=org.op_a,
        district=org.dongcheng,
        quota=2,
        valid_from=timezone.now() - timedelta(days=1),
    )
    quota_set(
        None, operator=org.op_a, district=org.xicheng, quota=2, valid_from=timezone.now() - timedelta(days=1)
    )
    quota_set(
        None, operator=org.op_b, district=org.xicheng, quota=5, valid_from=timezone.now() - timedelta(days=1)
    )
    placed = [("T-OP-A", DC_POINT)] * 4 + [("T-OP-A", XC_POINT)] * 2 + [("T-OP-B", XC_POINT)] * 6
    store = SqliteLiveState(tmp_path / "live.db", districts=get_index())
    store.update(
        {
            "operator": [op for op, _p in placed],
            "device_id": [f"d{i}" for i in range(len(placed))],
            "vehicle_id": [f"v{i}" for i in range(len(placed))],
            "timestamp_ms": [1_000 + i for i in range(len(placed))],
            "lon": [p[0] + i * 1e-5 for i, (_o, p) in enumerate(placed)],
            "lat": [p[1] for _o, p in placed],
            "vehicle_state": ["available"] * len(placed),
        }
    )
    try:
        rows = {(r.operator_code, r.district_code): r for r in quota_usage(live=store)}
    finally:
        store.close()
    assert rows[("T-OP-A", "110101")].live == 4 and rows[("T-OP-A", "110101")].excess == 4 - 2
    assert rows[("T-OP-A", "110102")].live == 2 and rows[("T-OP-A", "110102")].excess == 0
    assert rows[("T-OP-B", "110102")].live == 6 and rows[("T-OP-B", "110102")].excess == 1
    assert all(r.registered == 0 for r in rows.values())


def test_over_quota_api(quota_roles):
    _vehicles(quota_roles.op_a, quota_roles.dongcheng, 3)
    quota_set(None, operator=quota_roles.op_a, district=quota_roles.dongcheng, quota=1,
              valid_from=timezone.now() - timedelta(days=5))  # fmt: skip
    body = client_for(quota_roles.quota_setter).get(f"{URL}over-quota/").json()
    assert [(r["district_code"], r["registered"], r["excess"]) for r in body] == [("110101", 3, 2)]
    assert client_for(quota_roles.quota_setter).get(f"{URL}over-quota/?at=2000-01-01").json() == []
    assert_error(client_for(quota_roles.quota_setter).get(f"{URL}over-quota/?at=yesterday"), 400, "bad_at")
    assert client_for(quota_roles.plain_dc).get(f"{URL}over-quota/").status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_setters_keep_the_history_without_overlaps(org):
    from .test_registry_concurrency import _run_together

    succeeded = 0
    for round_ in range(3):
        outcomes = _run_together(
            *[
                (lambda q=q: quota_set(None, operator=org.op_a, district=org.dongcheng, quota=q))
                for q in (100 + round_ * 10, 200 + round_ * 10, 300 + round_ * 10)
            ]
        )
        # Serialised on the operator row: every setter succeeds, none hits a constraint.
        assert all(isinstance(o, FleetQuota) for o in outcomes), outcomes
        succeeded += len(outcomes)
    rows = list(FleetQuota.objects.filter(operator=org.op_a, district=org.dongcheng))
    assert len(rows) == succeeded == 9
    assert_chain(rows)
    assert (
        FleetQuota.objects.filter(operator=org.op_a, district=org.dongcheng, valid_to__isnull=True).count()
        == 1
    )
    assert AuditEntry.objects.filter(action="bikeshare.quota.set").count() == 9
