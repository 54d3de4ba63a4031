"""Lockout: 5 password failures in 15 minutes per account and per IP, 30-minute cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from govcenter.core.management.base import UsageError
from govcenter.core.models import AuditEntry, LoginAttempt
from govcenter.core.security import LoginStatus, account_unlock, lockout_status, login_check_password
from tests.factories import DEFAULT_PASSWORD, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

GENERIC = "用户名或密码错误，或账号已被暂时锁定"
LOGIN = "core:login"


def _post_login(client, username, password, ip="127.0.0.1"):
    return client.post(reverse(LOGIN), {"username": username, "password": password}, REMOTE_ADDR=ip)


def _failures(username: str, minutes_ago: list[float], ip: str | None = "192.0.2.1"):
    now = timezone.now()
    for m in minutes_ago:
        LoginAttempt.objects.create(
            username=username.lower(), ip=ip, success=False, created_at=now - timedelta(minutes=m)
        )


def _logged_in(client) -> bool:
    return client.get(reverse("core:dashboard")).status_code == 200


def test_five_failures_lock_the_account_even_for_the_right_password(client):
    user = UserFactory()
    for _ in range(5):
        response = _post_login(client, user.username, "Wrong-Pass#1")
        assert GENERIC in response.content.decode()
    response = _post_login(client, user.username, DEFAULT_PASSWORD, ip="198.51.100.7")
    assert response.status_code == 200 and GENERIC in response.content.decode()
    assert not _logged_in(client)
    # Five counted failures; the refused attempt was never a password check.
    assert LoginAttempt.objects.filter(username=user.username, success=False).count() == 5
    assert AuditEntry.objects.filter(action="login_failed", success=False).count() == 6
    assert AuditEntry.objects.filter(action="login_failed", changes__reason="locked").count() == 1
    locked = AuditEntry.objects.get(action="locked")
    assert locked.object_id == str(user.pk) and locked.changes["scope"] == "account"


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(client):
    user = UserFactory()
    wrong = _post_login(client, user.username, "Wrong-Pass#1").content.decode()
    unknown = _post_login(client, "nobody-here", "Wrong-Pass#1").content.decode()
    assert GENERIC in wrong and GENERIC in unknown
    # The unknown name is counted and can lock too (nothing tells it apart).
    for _ in range(4):
        _post_login(client, "nobody-here", "x", ip="203.0.113.5")
    assert lockout_status(username="nobody-here", ip=None).locked


def test_four_failures_do_not_lock(client):
    user = UserFactory()
    for _ in range(4):
        _post_login(client, user.username, "Wrong-Pass#1")
    _post_login(client, user.username, DEFAULT_PASSWORD)
    assert _logged_in(client)


def test_failures_from_one_ip_lock_that_ip_for_every_account(client):
    victim = UserFactory()
    for n in range(5):
        _post_login(client, f"guess{n}", "Wrong-Pass#1", ip="10.9.9.9")
    _post_login(client, victim.username, DEFAULT_PASSWORD, ip="10.9.9.9")
    assert not _logged_in(client)
    assert AuditEntry.objects.filter(action="locked", changes__scope="ip").count() == 1
    # The account itself is fine from elsewhere.
    _post_login(client, victim.username, DEFAULT_PASSWORD, ip="10.9.9.10")
    assert _logged_in(client)


def test_failures_older_than_the_window_do_not_count(client):
    user = UserFactory()
    _failures(user.username, [15.5, 15.4, 15.3, 15.2])  # outside the 15-minute run
    _post_login(client, user.username, "Wrong-Pass#1")  # 5th failure, but not within 15 minutes
    _post_login(client, user.username, DEFAULT_PASSWORD)
    assert _logged_in(client)


def test_failures_inside_the_window_do_count(client):
    user = UserFactory()
    _failures(user.username, [14.5, 14, 13, 12])
    _post_login(client, user.username, "Wrong-Pass#1")
    _post_login(client, user.username, DEFAULT_PASSWORD)
    assert not _logged_in(client)


def test_cool_off_runs_thirty_minutes_from_the_last_failure():
    user = UserFactory()
    _failures(user.username, [42, 38, 34, 31, 29])  # run ends 29 minutes ago
    state = lockout_status(username=user.username, ip=None)
    assert state.locked and state.scope == "account"
    assert timedelta(seconds=50) < state.until - timezone.now() < timedelta(minutes=1, seconds=1)
    assert not lockout_status(
        username=user.username, ip=None, now=timezone.now() + timedelta(minutes=1, seconds=1)
    ).locked


def test_cool_off_over_lets_the_right_password_in(client):
    user = UserFactory()
    _failures(user.username, [35, 34, 33, 32, 31])
    _post_login(client, user.username, DEFAULT_PASSWORD)
    assert _logged_in(client)


def test_a_success_resets_the_account_count_but_not_the_ip_count():
    user = UserFactory()
    _failures(user.username, [5, 4, 3, 2], ip="192.0.2.50")
    LoginAttempt.objects.create(
        username=user.username,
        ip="192.0.2.50",
        success=True,
        created_at=timezone.now() - timedelta(minutes=1),
    )
    _failures(user.username, [0.5], ip="192.0.2.50")
    assert not lockout_status(username=user.username, ip=None).locked
    assert lockout_status(username="someone-else", ip="192.0.2.50").locked


def test_service_reports_locked_before_checking_the_password():
    user = UserFactory()
    _failures(user.username, [4, 3, 2, 1, 0.5])
    outcome = login_check_password(username=user.username.upper(), password=DEFAULT_PASSWORD, ip="192.0.2.9")
    assert outcome.status is LoginStatus.LOCKED and outcome.user is None


def test_unlock_service_lifts_the_lock_and_is_audited():
    admin = UserFactory()
    user = UserFactory()
    _failures(user.username, [4, 3, 2, 1, 0.5])
    assert account_unlock(username=user.username.upper(), actor=admin, reason="电话核实本人") == 5
    assert not lockout_status(username=user.username, ip=None).locked
    entry = AuditEntry.objects.get(action="unlock")
    assert entry.user_id == admin.pk and entry.object_id == str(user.pk) and entry.reason == "电话核实本人"


def test_unlock_command_lifts_account_and_ip_locks(capsys):
    user = UserFactory()
    _failures(user.username, [4, 3, 2, 1, 0.5], ip="192.0.2.77")
    _failures("other", [4, 3, 2, 1, 0.5], ip="192.0.2.77")
    call_command("security", "locked")
    listed = capsys.readouterr().out
    assert user.username in listed and "192.0.2.77" in listed
    call_command("security", "unlock", user.username, "--ip", "192.0.2.77")
    assert "unlocked" in capsys.readouterr().out
    assert not lockout_status(username=user.username, ip="192.0.2.77").locked
    assert AuditEntry.objects.filter(action="unlock", channel="cli").count() == 1


def test_unlock_command_refuses_bad_input():
    for args in (["--ip", "not-an-ip"], []):
        with pytest.raises(UsageError) as info:
            call_command("security", "unlock", *args)
        assert info.value.returncode == 2
    assert not AuditEntry.objects.filter(action="unlock").exists()


def test_security_administrator_unlocks_from_the_lockouts_page(client):
    admin = UserFactory(role_set=[RoleFactory(perms=["core.manage_security"])])
    user = UserFactory()
    _failures(user.username, [4, 3, 2, 1, 0.5])
    client.force_login(admin)
    page = client.get(reverse("core:account_lockouts"))
    assert page.status_code == 200 and user.username in page.content.decode()
    response = client.post(
        reverse("core:account_lockouts"), {"scope": "account", "key": user.username, "reason": "本人申请"}
    )
    assert response.status_code == 302
    assert not lockout_status(username=user.username, ip=None).locked
    assert AuditEntry.objects.get(action="unlock").user_id == admin.pk


def test_lockouts_page_needs_manage_security(client):
    client.force_login(UserFactory())
    assert client.get(reverse("core:account_lockouts")).status_code == 403
    assert (
        client.post(
            reverse("core:account_lockouts"), {"scope": "account", "key": "x", "reason": "r"}
        ).status_code
        == 403
    )
