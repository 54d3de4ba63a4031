"""The login flow: password, then the SMS code for staff who need a second factor."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from govcenter.core.models import AuditEntry, LoginAttempt, SmsCode, SmsMessage, User
from govcenter.core.security import user_set_password
from tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN, VERIFY = "core:login", "core:login_verify"


@pytest.fixture
def staff():
    """A user whose role reveals personal data: needs the second factor."""
    return UserFactory(
        phone="13812345678",
        role_set=[RoleFactory(perms=["core.reveal_personal_data", "core.read_sms_outbox"])],
    )


def _password_step(client, username, password=DEFAULT_PASSWORD, **extra):
    return client.post(reverse(LOGIN), {"username": username, "password": password, **extra})


def _latest_code(phone: str) -> str:
    body = SmsMessage.objects.filter(phone=phone).order_by("-id").first().body
    return re.search(r"\b(\d{6})\b", body).group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _protected_urls():
    return [reverse("core:dashboard"), reverse("core:sms_outbox"), reverse("core:password_change")]


def test_second_factor_end_to_end(client, staff):
    response = _password_step(client, staff.username)
    assert response.status_code == 302 and response.url == reverse(VERIFY)
    assert SmsMessage.objects.filter(phone=staff.phone, status="sent").count() == 1

    # Between the steps nobody is logged in: every protected page sends us to the login.
    for url in _protected_urls():
        blocked = client.get(url)
        assert blocked.status_code == 302 and blocked.url.startswith(reverse(LOGIN)), url
    assert client.get("/admin/").status_code == 302
    assert "_auth_user_id" not in client.session

    page = client.get(reverse(VERIFY))
    text = page.content.decode()
    assert page.status_code == 200 and "138****5678" in text and "13812345678" not in text

    code = _latest_code(staff.phone)
    assert client.post(reverse(VERIFY), {"code": _wrong(code)}).status_code == 200
    assert client.get(reverse("core:dashboard")).status_code == 302

    response = client.post(reverse(VERIFY), {"code": code})
    assert response.status_code == 302 and response.url == reverse("core:dashboard")
    assert client.get(reverse("core:dashboard")).status_code == 200
    assert client.get(reverse("core:sms_outbox")).status_code == 200

    login = AuditEntry.objects.get(action="login")
    assert login.user_id == staff.pk and login.changes == {"second_factor": True}
    assert AuditEntry.objects.filter(action="login_failed", changes__reason="bad_code").count() == 1
    staff.refresh_from_db()
    assert staff.last_activity_at is not None and staff.last_login is not None
    assert LoginAttempt.objects.filter(username=staff.username, stage="sms", success=True).count() == 1


def test_session_key_changes_at_each_step(client, staff):
    client.get(reverse(LOGIN))
    _password_step(client, staff.username)
    pending_key = client.session.session_key
    client.post(reverse(VERIFY), {"code": _latest_code(staff.phone)})
    assert client.session.session_key != pending_key


def test_five_wrong_codes_burn_the_code(client, staff):
    _password_step(client, staff.username)
    code = _latest_code(staff.phone)
    for _ in range(5):
        client.post(reverse(VERIFY), {"code": _wrong(code)})
    response = client.post(reverse(VERIFY), {"code": code})
    assert response.status_code == 200 and "验证码错误或已失效" in response.content.decode()
    assert client.get(reverse("core:dashboard")).status_code == 302
    assert SmsCode.objects.get(phone=staff.phone).burned_at is not None


def test_expired_code_is_refused(client, staff):
    _password_step(client, staff.username)
    code = _latest_code(staff.phone)
    SmsCode.objects.filter(phone=staff.phone).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.post(reverse(VERIFY), {"code": code})
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_a_used_code_cannot_log_in_again(client, staff):
    _password_step(client, staff.username)
    code = _latest_code(staff.phone)
    client.post(reverse(VERIFY), {"code": code})
    client.post(reverse("core:logout"))
    # Within the minute no new code goes out; the old one is spent.
    response = _password_step(client, staff.username)
    assert response.url == reverse(VERIFY)
    assert SmsMessage.objects.filter(phone=staff.phone).count() == 1
    client.post(reverse(VERIFY), {"code": code})
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_resend_honours_the_interval_and_supersedes_the_old_code(client, staff):
    _password_step(client, staff.username)
    first = _latest_code(staff.phone)
    response = client.post(reverse(VERIFY), {"resend": "1"}, follow=True)
    assert "秒后再重新获取" in response.content.decode()
    assert SmsMessage.objects.filter(phone=staff.phone).count() == 1
    SmsCode.objects.filter(phone=staff.phone).update(created_at=timezone.now() - timedelta(seconds=61))
    client.post(reverse(VERIFY), {"resend": "1"})
    assert SmsMessage.objects.filter(phone=staff.phone).count() == 2
    second = _latest_code(staff.phone)
    if first != second:
        client.post(reverse(VERIFY), {"code": first})
        assert client.get(reverse("core:dashboard")).status_code == 302
    client.post(reverse(VERIFY), {"code": second})
    assert client.get(reverse("core:dashboard")).status_code == 200


def test_verify_page_without_the_password_step_goes_back_to_login(client, staff):
    response = client.get(reverse(VERIFY))
    assert response.status_code == 302 and response.url == reverse(LOGIN)
    assert client.post(reverse(VERIFY), {"code": "123456"}).url == reverse(LOGIN)


def test_a_password_change_between_the_steps_voids_the_pending_login(client, staff):
    _password_step(client, staff.username)
    code = _latest_code(staff.phone)
    user_set_password(user=staff, raw_password="Changed-Else#9", actor=staff)
    response = client.post(reverse(VERIFY), {"code": code})
    assert response.status_code == 302 and response.url == reverse(LOGIN)
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_a_stale_pending_login_expires(client, staff):
    _password_step(client, staff.username)
    session = client.session
    session["govcenter_pending_login"]["at"] -= 601
    session.save()
    assert client.post(reverse(VERIFY), {"code": _latest_code(staff.phone)}).url == reverse(LOGIN)


def test_second_factor_user_without_phone_cannot_log_in(client):
    user = UserFactory(phone="", role_set=[RoleFactory(perms=["core.manage_accounts"])])
    response = _password_step(client, user.username)
    assert response.status_code == 200 and "未登记手机号" in response.content.decode()
    assert not SmsMessage.objects.exists()
    assert client.get(reverse("core:dashboard")).status_code == 302
    assert AuditEntry.objects.filter(action="login_failed", changes__reason="no_phone").count() == 1


def test_user_without_second_factor_logs_in_with_the_password(client):
    user = UserFactory()
    response = _password_step(client, user.username.upper(), next="/?tab=1")
    assert response.status_code == 302 and response.url == "/?tab=1"
    assert client.get(reverse("core:dashboard")).status_code == 200
    assert not SmsMessage.objects.exists()
    assert AuditEntry.objects.get(action="login").changes == {"second_factor": False}


def test_offsite_next_is_ignored(client):
    user = UserFactory()
    response = _password_step(client, user.username, next="https://evil.example/")
    assert response.url == reverse("core:dashboard")


def test_staff_flag_needs_the_second_factor(client):
    user = UserFactory(is_staff=True)
    assert _password_step(client, user.username).url == reverse(VERIFY)


def test_disabled_account_is_told_only_after_the_right_password(client):
    user = UserFactory(is_active=False)
    wrong = _password_step(client, user.username, "Wrong-Pass#1").content.decode()
    assert "账号已停用" not in wrong
    right = _password_step(client, user.username).content.decode()
    assert "账号已停用" in right
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_admin_login_goes_through_our_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url == reverse(LOGIN) + "?next=%2Fadmin%2F"


def test_authenticated_user_visiting_login_is_sent_on(client):
    client.force_login(UserFactory())
    assert client.get(reverse(LOGIN)).url == reverse("core:dashboard")


def test_login_page_renders_without_inline_script(client):
    for url in (reverse(LOGIN),):
        html = client.get(url).content.decode()
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None


def test_username_lookup_is_case_insensitive_and_unique():
    UserFactory(username="ZhangSan")
    assert User.objects.get_by_natural_key("zhangsan").username == "ZhangSan"
