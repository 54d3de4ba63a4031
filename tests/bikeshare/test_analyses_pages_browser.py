"""The analysis, fence and quota pages in Chromium: the ECharts charts, the H3 heat map over the
district map, the trajectory slider and play button, the fence polygon — without CSP violations."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from govcenter.bikeshare import analyses as an
from govcenter.bikeshare.services.fences import fences_import
from tests.e2e.test_browser import CSP_PROBE, _sync_orm_beside_playwright, browser  # noqa: F401

from .test_analyses_pages import DAYS, PERIOD, _a_device, con, direct, lake, start_end, world  # noqa: F401
from .test_fences import YONGHEGONG, collection, feature, ring

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _page(browser, live_server, user):  # noqa: F811
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1600})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    context.add_init_script(CSP_PROBE)
    return context, context.new_page()


def test_analysis_pages_draw(live_server, browser, world, con, tmp_path):  # noqa: F811
    context, page = _page(browser, live_server, world.center)
    query = f"first={PERIOD['first']}&last={PERIOD['last']}"
    page.goto(f"{live_server.url}/bikeshare/analyses/rides/?{query}")
    for name in ("daily", "hourly"):
        page.wait_for_selector(f"[data-chart='{name}'] canvas", state="visible", timeout=15_000)
    page.goto(f"{live_server.url}/bikeshare/analyses/operations/?{query}")
    page.wait_for_selector("[data-chart='turnover'] canvas", state="visible", timeout=15_000)
    page.goto(f"{live_server.url}/bikeshare/analyses/stations/?{query}")
    page.wait_for_selector("[data-chart='flows'] canvas", state="visible", timeout=15_000)

    start, end = start_end(DAYS[1])
    device = _a_device(con, start, end)
    vehicle = direct(an.trajectory(con, start, end, device_id=device))[0]["vehicle_id"]
    cells = direct(an.heatmap(con, start, end, resolution=8))
    page.goto(f"{live_server.url}/bikeshare/analyses/map/?start=2026-11-02T00:00&end=2026-11-03T00:00"
              f"&resolution=8&vehicle_id={vehicle}")  # fmt: skip
    page.wait_for_selector("#bikeshare-analyses-map[data-rendered]", timeout=15_000)
    assert page.get_attribute("#bikeshare-analyses-map", "data-rendered") == str(len(cells))
    slider = page.locator("#bikeshare-track-slider")
    slider.fill("0")
    assert page.text_content("#bikeshare-track-time").startswith("2026-11-02")
    page.click("#bikeshare-track-play")
    expect(slider).not_to_have_value("0", timeout=10_000)  # the play button walks the slider
    page.screenshot(path=str(tmp_path / "map.png"), full_page=True)
    assert page.evaluate("window.__cspViolations") == []
    context.close()


def test_fence_map_draws(live_server, browser, world):  # noqa: F811
    fence = fences_import(None, collection(feature(ring(YONGHEGONG), name="雍和宫停放区")), "GCJ-02")[0]
    from govcenter.core.models import Role
    from tests.factories import UserFactory

    admin = UserFactory(unit=world.center.unit, role_set=[Role.objects.get(code="data_staff")])
    context, page = _page(browser, live_server, admin)
    page.goto(f"{live_server.url}/bikeshare/fences/?fence={fence.pk}")
    page.wait_for_selector("#bikeshare-fence-map[data-rendered='1']", timeout=15_000)
    page.goto(f"{live_server.url}/bikeshare/quotas/")
    page.wait_for_selector("[data-section='usage']")
    assert page.evaluate("window.__cspViolations") == []
    context.close()
