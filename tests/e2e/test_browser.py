"""The whole UI shell in a real browser (the system Chromium, driven by Playwright).

A staff account that must pass the second factor logs in with its password, reads the SMS
code from the outbox table (the embedded SMS gateway), enters it, sees the Chinese shell,
switches to English, sees the English navigation and the district map drawn by ECharts —
and the browser reports no console error, no CSP violation and no request to another host.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.factories import DEFAULT_PASSWORD, RoleFactory, UnitFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = "13900139000"
# Collected in the page before any of its own scripts run (init scripts are not subject
# to the page's CSP), so a violation anywhere in the page lifetime is seen.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"required browser missing: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads
    # (the SMS outbox) are plain synchronous calls, which Django would otherwise refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def staff_user():
    from govcenter.core.districts import load_districts

    load_districts()
    role = RoleFactory(scope_kind="all", perms=["core.manage_accounts", "core.view_audit"])
    unit = UnitFactory(name_zh="北京市交通综合治理事务中心", name_en="Beijing Transport Comprehensive Governance Center")
    return UserFactory(username="e2e-admin", full_name="测试管理员", phone=PHONE, unit=unit, is_staff=True, role_set=[role])


def _latest_code(after_pk: int) -> str:
    from govcenter.core.models import SmsMessage

    message = SmsMessage.objects.filter(phone=PHONE, pk__gt=after_pk).order_by("-pk").first()
    assert message is not None, "no SMS code was sent"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _wait_for_map(page) -> None:
    # Attribute selectors, not wait_for_function: its polling evaluates a string inside
    # the page, which our CSP (rightly) refuses as eval.
    page.wait_for_selector("#district-map[data-rendered='16'] canvas", state="visible", timeout=15_000)


def test_login_with_second_factor_switch_language_and_see_the_map(live_server, browser, staff_user, tmp_path):
    from govcenter.core.models import SmsMessage

    problems: list[str] = []
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: problems.append(f"request to another host: {r.url}")
        if not r.url.startswith(live_server.url) and not r.url.startswith("data:")
        else None,
    )

    # Anonymous: the dashboard sends us to the Chinese login page.
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    # Step one: password. Staff with administrative permissions get the SMS step.
    last_sms = SmsMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    page.fill("input[name=username]", staff_user.username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/accounts/login/verify/$"))
    # No route is reachable before the second factor.
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.goto(live_server.url + "/accounts/login/verify/")

    # Step two: the code from the outbox.
    page.fill("input[name=code]", _latest_code(last_sms))
    page.locator("form:has(input[name=code]) button[type=submit]").click()
    page.wait_for_url(live_server.url + "/")
    _wait_for_map(page)
    nav = page.locator("#main-nav")
    assert "工作台" in nav.inner_text()
    assert page.locator("[data-stat=districts] .shell-stat-value").inner_text() == "17"
    page.screenshot(path=str(tmp_path / "dashboard-zh.png"), full_page=True)

    # The user menu (Bootstrap dropdown from the vendored Tabler bundle) → English.
    page.click("#user-menu")
    english = page.locator("button[name=language][value=en]")
    english.wait_for(state="visible")
    english.click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    nav_text = page.locator("#main-nav").inner_text()
    assert "Dashboard" in nav_text and "Administration" in nav_text
    assert "工作台" not in nav_text
    assert "Beijing Transport Comprehensive Governance Center" in page.locator("header").first.inner_text()

    # The map again, with English names from the endpoint.
    _wait_for_map(page)
    names = page.evaluate(
        "fetch(document.getElementById('district-map').dataset.geojsonUrl)"
        ".then(r => r.json()).then(c => c.features.map(f => f.properties.name))"
    )
    assert "Chaoyang" in names and len(names) == 16
    box = page.locator("#district-map canvas").first.bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    page.screenshot(path=str(tmp_path / "dashboard-en.png"), full_page=True)

    assert page.evaluate("window.__cspViolations") == []
    assert problems == []

    # Logout is a POST from the user menu and ends the session.
    page.click("#user-menu")
    page.locator("form[action$='/accounts/logout/'] button").click()
    page.wait_for_load_state()
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url

    screenshot_dir = os.environ.get("GOVCENTER_E2E_SCREENSHOTS")
    if screenshot_dir:
        for name in ("dashboard-zh.png", "dashboard-en.png"):
            shutil.copy(tmp_path / name, Path(screenshot_dir) / name)
    context.close()
