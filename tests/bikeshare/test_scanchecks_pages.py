"""The scan verification pages (/bikeshare/scan/, /bikeshare/scan/stats/): login required,
Chinese text, the HTMX lookup partial, saving through the service, refusals on the form,
statistics through the scope, and 403 for roles without the permission.

Until the lead mounts ``govcenter.bikeshare.urls`` at ``/bikeshare/`` in the root URLconf,
this module is its own URLconf (the root patterns plus the bike-share UI)."""

from __future__ import annotations

import pytest
from django.urls import include, path

from govcenter import urls as root_urls
from govcenter.bikeshare.live import open_live_state
from govcenter.bikeshare.models import ScanCheck
from govcenter.core.navigation import sections_for
from tests.factories import UserFactory

from . import test_scanchecks as base
from .conftest import client_for
from .test_scanchecks import DC_GCJ, XC_GCJ, _record, _wgs

urlpatterns = [path("bikeshare/", include("govcenter.bikeshare.urls")), *root_urls.urlpatterns]
handler403 = root_urls.handler403
handler404 = root_urls.handler404

live_url = base.live_url  # the fixtures of test_scanchecks.py
scan = base.scan

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SCAN = "/bikeshare/scan/"
LOOKUP = "/bikeshare/scan/lookup/"
STATS = "/bikeshare/scan/stats/"


def test_login_required(client):
    for url in (SCAN, LOOKUP, STATS):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


def test_scan_page_is_mobile_first_and_chinese(scan):
    response = client_for(scan.inspector).get(SCAN)
    html = response.content.decode()
    assert response.status_code == 200
    assert "扫码核查" in html and "车辆编码" in html
    assert 'inputmode="text"' in html and "autofocus" in html
    assert "bikeshare/js/scancheck.js" in html and "hx-get" in html
    assert "<script>" not in html.replace("<script src", "")  # no inline script (CSP)
    assert response["Cache-Control"] == "no-store"


def test_lookup_partial_shows_registry_or_unregistered(scan, settings):
    scan_live_url = settings.GOVCENTER_BIKESHARE_LIVE_URL
    client = client_for(scan.inspector)
    html = client.get(LOOKUP, {"vehicle_code": "A-0001"}).content.decode()
    assert 'data-lookup="registered"' in html and "甲单车" in html and "暂无实时上报" in html
    with open_live_state(scan_live_url) as live:
        live.update(
            {
                "operator": [scan.op_a.code],
                "device_id": [str(scan.bike_a.device_id)],
                "vehicle_id": ["A-0001"],
                "timestamp_ms": [1_790_000_000_000],
                "lon": [DC_GCJ[0]],
                "lat": [DC_GCJ[1]],
                "vehicle_state": ["non_operational"],
            }
        )
    html = client.get(LOOKUP, {"vehicle_code": "A-0001"}).content.decode()
    assert "不可运营" in html and "暂无实时上报" not in html
    assert "<html" not in html  # a partial
    html = client.get(LOOKUP, {"vehicle_code": "NOPE-1"}).content.decode()
    assert 'data-lookup="unregistered"' in html and "该车辆未登记" in html
    html = client.get(LOOKUP, {"vehicle_code": "SAME-1"}).content.decode()
    assert 'data-lookup="ambiguous"' in html
    # Without HTMX the same form reloads the page with the lookup in it.
    html = client.get(SCAN, {"vehicle_code": "B-0001"}).content.decode()
    assert 'data-lookup="registered"' in html and "乙单车" in html and "data-scan-result" in html


def test_result_form_saves_through_the_service(scan):
    client = client_for(scan.inspector)
    lon, lat = _wgs(DC_GCJ)
    post = {
        "vehicle_code": "NOPE-7",
        "operator": str(scan.op_b.pk),
        "result": "outside_fence",
        "flags": ["damaged"],
        "lon": lon,
        "lat": lat,
        "accuracy_m": "12",
        "photo_ref": "P-7",
        "note": "车筐损坏",
        "client_ref": "form-1",
    }
    response = client.post(SCAN, post)
    assert response.status_code == 302 and response["Location"] == SCAN
    check = ScanCheck.objects.get()
    assert (check.vehicle, check.operator, check.district) == (None, scan.op_b, scan.dongcheng)
    assert check.flags == ["unregistered", "damaged"] and check.accuracy_m == 12
    assert check.lat == pytest.approx(DC_GCJ[1], abs=1e-7)
    assert "已记录" in client.get(SCAN).content.decode()
    # A double submit of the same form is the same check.
    assert client.post(SCAN, post).status_code == 302 and ScanCheck.objects.count() == 1


def test_service_refusal_is_shown_on_the_form(scan):
    response = client_for(scan.inspector).post(SCAN, {"vehicle_code": "NOPE-8", "result": "compliant"})
    html = response.content.decode()
    assert response.status_code == 200 and "未登记的车辆不能判定为合规" in html
    assert not ScanCheck.objects.exists()


def test_stats_page_tables_follow_the_scope(scan):
    _record(scan.inspector, "A-0001", "compliant", point=DC_GCJ)
    _record(scan.inspector2, "B-0001", "damaged", point=XC_GCJ)
    _record(scan.inspector2, "Q-1", "unregistered", point=XC_GCJ, operator=scan.op_b.pk)
    html = client_for(scan.viewer_all).get(STATS).content.decode()
    assert "核查统计" in html and "按运营企业" in html and "按核查员" in html and "未登记率" in html
    assert f'data-key="{scan.op_b.pk}"' in html and "50.0%" in html  # 1 of 2 op-B checks unregistered
    html = client_for(scan.viewer_a).get(STATS).content.decode()
    assert "甲单车" in html and "乙单车" not in html


def test_roles_without_the_permission_get_403(scan):
    # a built-in role with no bike-share scan permission
    staff = UserFactory(username="t_pages_staff", unit=scan.op_a, role_set=[scan.roles["parking_patrol"]])
    for url in (SCAN, LOOKUP, STATS):
        assert client_for(staff).get(url).status_code == 403, url
    # Viewers may see the statistics but not record.
    assert client_for(scan.viewer_a).get(SCAN).status_code == 403
    assert (
        client_for(scan.viewer_a).post(SCAN, {"vehicle_code": "A-0001", "result": "compliant"}).status_code
        == 403
    )
    assert client_for(scan.viewer_a).get(STATS).status_code == 200


def test_navigation_entries_follow_permissions(scan, rf):
    from govcenter.bikeshare.navigation import register_navigation

    register_navigation()

    def urls(user):
        request = rf.get("/")
        request.user = user
        return {i["url"] for s in sections_for(request) if s["key"] == "bikeshare" for i in s["items"]}

    assert urls(scan.inspector) == {SCAN, STATS}
    assert urls(scan.viewer_a) == {STATS}
    # their district's checks, the overview and analyses, fences, quotas and work orders
    assert urls(scan.manager_dc) == {
        STATS,
        "/bikeshare/",
        "/bikeshare/analyses/rides/",
        "/bikeshare/fences/",
        "/bikeshare/quotas/",
        "/bikeshare/work-orders/",
    }
