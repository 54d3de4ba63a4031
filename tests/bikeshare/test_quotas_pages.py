"""The quota page (/bikeshare/quotas/): quotas in force with registered and live usage and the
over-quota rows highlighted, live bikes per operator and district through the scope, the
history, and the set-quota form writing history (the open quota closed, audited); the
distribution API; 200/403/302 for the demo roles."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from govcenter.bikeshare.live import open_live_state
from govcenter.bikeshare.models import FleetQuota
from govcenter.core.audit import AuditEntry
from tests.factories import RoleFactory, UserFactory

from .conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/bikeshare/quotas/"
API = "/api/v1/bikeshare/analyses/distribution"
DC_GCJ = (116.4173, 39.949)  # 雍和宫, 东城
XC_GCJ = (116.3742, 39.9075)  # 西单, 西城


@pytest.fixture
def world(org, settings, tmp_path):
    settings.GOVCENTER_BIKESHARE_LIVE_URL = f"sqlite:///{tmp_path / 'live.db'}"
    cache.clear()
    now_ms = int(time.time() * 1000)
    with open_live_state(settings.GOVCENTER_BIKESHARE_LIVE_URL) as live:
        live.update(
            {
                "operator": [org.op_a.code] * 3 + [org.op_b.code],
                "device_id": ["a1", "a2", "a3", "b1"],
                "vehicle_id": ["A1", "A2", "A3", "B1"],
                "timestamp_ms": [now_ms] * 4,
                "lon": [DC_GCJ[0], DC_GCJ[0], XC_GCJ[0], DC_GCJ[0]],
                "lat": [DC_GCJ[1], DC_GCJ[1], XC_GCJ[1], DC_GCJ[1]],
                "vehicle_state": ["available"] * 4,
            }
        )
    start = timezone.now() - dt.timedelta(days=1)
    org.q_a_dc = FleetQuota.objects.create(
        operator=org.op_a, district=org.dongcheng, quota=1, valid_from=start
    )
    org.q_b_dc = FleetQuota.objects.create(
        operator=org.op_b, district=org.dongcheng, quota=5, valid_from=start
    )
    org.staff = UserFactory(unit=org.center, role_set=[org.roles["data_staff"]])
    org.ops_a = UserFactory(unit=org.op_a, role_set=[org.roles["operator_staff"]])
    return org


def test_usage_highlights_over_quota(world):
    html = client_for(world.staff).get(URL).content.decode()
    row_a = html.split(f'data-quota="{world.q_a_dc.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "data-over" in row_a and "data-live>2<" in row_a and "data-excess>1<" in row_a
    row_b = html.split(f'data-quota="{world.q_b_dc.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "data-over" not in row_b and "data-live>1<" in row_b
    assert 'data-operator="T-OP-A" data-district="110102"' in html


def test_operator_staff_see_only_their_operator(world):
    body = client_for(world.ops_a).get(API).json()
    assert {r["operator"] for r in body["live"]} == {"T-OP-A"}
    assert sorted((r["district"], r["live"]) for r in body["live"]) == [("110101", 2), ("110102", 1)]
    assert [q["quota_id"] for q in body["quotas"]] == [world.q_a_dc.pk]
    html = client_for(world.ops_a).get(URL).content.decode()
    assert f'data-quota="{world.q_b_dc.pk}"' not in html and "T-OP-B" not in html
    assert 'data-section="set-quota"' not in html  # operators cannot set quotas
    assert client_for(world.ops_a).post(URL, {"operator": world.op_a.pk, "quota": 99}).status_code == 403
    assert FleetQuota.objects.count() == 2


def test_set_quota_form_writes_history(world):
    client = client_for(world.staff)
    response = client.post(
        URL, {"operator": world.op_a.pk, "district": "110101", "quota": 10, "reason": "扩容"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    old = FleetQuota.objects.get(pk=world.q_a_dc.pk)
    new = FleetQuota.objects.filter(
        operator=world.op_a, district=world.dongcheng, valid_to__isnull=True
    ).get()
    assert new.quota == 10 and new.reason == "扩容" and old.valid_to == new.valid_from
    assert AuditEntry.objects.filter(action__startswith="bikeshare.quota").count() >= 1
    html = client.get(URL).content.decode()
    assert f'data-history="{old.pk}"' in html and f'data-history="{new.pk}"' in html
    row = html.split(f'data-quota="{new.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "data-over" not in row
    # Bad input is shown on the form; nothing written.
    response = client.post(URL, {"operator": world.op_a.pk, "district": "110101", "quota": -1})
    assert response.status_code == 400 and "invalid-feedback" in response.content.decode()
    assert FleetQuota.objects.count() == 3


def test_city_wide_quota_needs_a_city_wide_scope(world):
    role = RoleFactory(scope_kind="districts", perms=["bikeshare.view_fleetquota", "bikeshare.add_fleetquota",
                                                      "core.view_unit"])  # fmt: skip
    setter = UserFactory(unit=world.unit_dc, role_set=[role])
    response = client_for(setter).post(URL, {"operator": world.op_a.pk, "district": "", "quota": 3})
    assert response.status_code == 400 and FleetQuota.objects.count() == 2


def test_pages_for_each_demo_role(world):
    expected = {"data_staff": 200, "center_leader": 200, "district_manager": 200, "operator_staff": 200,
                "field_inspector": 403}  # fmt: skip
    for code, status in expected.items():
        unit = world.op_a if code == "operator_staff" else world.unit_dc
        user = UserFactory(unit=unit, role_set=[world.roles[code]])
        response = client_for(user).get(URL)
        assert response.status_code == status, code
        if status == 200:
            assert ('data-section="set-quota"' in response.content.decode()) == (code == "data_staff"), code
    assert Client().get(URL).status_code == 302


def test_live_store_down_still_shows_quotas(world, settings):
    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    html = client_for(world.staff).get(URL).content.decode()
    assert "data-live-error" in html and f'data-quota="{world.q_a_dc.pk}"' in html
