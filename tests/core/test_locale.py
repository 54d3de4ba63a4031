"""中文 is the default language whatever the browser asks; the switch (cookie) decides."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_english_browser_still_gets_chinese_login_page(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()


def test_language_cookie_switches_to_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/accounts/login/")
    assert response["Content-Language"] == "en"


def test_unknown_language_cookie_falls_back_to_chinese(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx-klingon"
    response = client.get("/accounts/login/")
    assert response["Content-Language"] == "zh-hans"


def test_api_clients_may_ask_by_header(client):
    response = client.get("/api/v1/units/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code in (401, 403)
    assert response["Content-Language"] == "en"
