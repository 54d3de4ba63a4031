"""The statistics dashboard in Chromium: the four ECharts render and the CSP is never violated."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from govcenter.parking.services.stats import stats_compute
from tests.e2e.test_browser import CSP_PROBE, _sync_orm_beside_playwright, browser  # noqa: F401
from tests.parking.stats_helpers import DAY, build_day

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_dashboard_renders_charts_without_csp_violations(live_server, browser, org, tmp_path):  # noqa: F811
    build_day(org)
    stats_compute(date=DAY)
    client = Client()
    client.force_login(org.manager_dc)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1800})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    page.goto(f"{live_server.url}/parking/stats/?date={DAY.isoformat()}")
    for name in ("trend", "payment_rate", "occupancy", "arrears"):
        page.wait_for_selector(f"[data-chart='{name}'] canvas", state="visible", timeout=15_000)
    page.screenshot(path=str(tmp_path / "stats.png"), full_page=True)
    assert page.evaluate("window.__cspViolations") == []
    assert "西城区" not in page.content()
    context.close()
