"""Password policy, history, expiry and the change-password service and page."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from govcenter.core.models import AuditEntry, PasswordHistory, User
from govcenter.core.passwords import DEFAULT_PASSWORDS, character_classes, validate_password
from govcenter.core.security import user_set_password
from tests.factories import DEFAULT_PASSWORD, UserFactory

COMMON = CommonPasswordValidator().passwords


def _codes(exc: ValidationError) -> set[str]:
    return {e.code for e in exc.error_list}


def _accepted(password: str, user=None) -> bool:
    try:
        validate_password(password, user)
    except ValidationError:
        return False
    return True


# Letters, digits, punctuation, a space and some non-ASCII characters (which count as "other").
ALPHABET = string.ascii_letters + string.digits + "!@#$%^&*()-_=+[]{};:,.<> " + "中文é密"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=16))
def test_policy_accepts_exactly_long_enough_three_class_passwords(password):
    folded = password.strip().lower()
    expected = (
        len(password) >= 8
        and character_classes(password) >= 3
        and folded not in COMMON
        and folded not in DEFAULT_PASSWORDS
    )
    assert _accepted(password) is expected


@given(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=8, max_size=20))
def test_two_classes_are_never_enough(password):
    assert not _accepted(password)


def test_character_classes_counts_the_four_classes():
    assert character_classes("") == 0
    assert character_classes("abc") == 1
    assert character_classes("abcDEF") == 2
    assert character_classes("abcDEF12") == 3
    assert character_classes("aB1!") == 4
    assert character_classes("密码密码") == 1  # non-ASCII letters count as "other"


@pytest.mark.parametrize(
    "password", ["", "   ", "Admin@123", "P@ssw0rd", "12345678", "aDMIN@123", "Passw0rd!"]
)
def test_empty_and_default_passwords_are_refused(password):
    with pytest.raises(ValidationError) as info:
        validate_password(password)
    assert _codes(info.value) & {
        "password_empty",
        "password_default",
        "password_too_short",
        "password_too_simple",
    }
    if password.strip():
        assert "password_default" in _codes(info.value) or "password_too_simple" in _codes(info.value)


def test_each_listed_default_is_refused_by_the_default_rule():
    for default in ("Admin@123", "P@ssw0rd", "Huawei@123", "1qaz@WSX"):
        with pytest.raises(ValidationError) as info:
            validate_password(default)
        assert "password_default" in _codes(info.value)


@pytest.mark.django_db
def test_password_equal_to_username_is_refused_case_insensitively():
    user = UserFactory(username="Li.Wei2024")
    with pytest.raises(ValidationError) as info:
        validate_password("li.WEI2024", user)
    assert "password_is_username" in _codes(info.value)


@pytest.mark.django_db
def test_service_stores_history_sets_dates_clears_flag_and_audits_without_the_password():
    user = UserFactory(must_change_password=True)
    user.password_changed_at = timezone.now() - timedelta(days=100)
    user.save()
    old_hash = user.password
    user_set_password(user=user, raw_password="Fresh-Pass#1", actor=user)
    user.refresh_from_db()
    assert user.check_password("Fresh-Pass#1")
    assert not user.must_change_password
    assert timezone.now() - user.password_changed_at < timedelta(seconds=5)
    assert list(PasswordHistory.objects.filter(user=user).values_list("password", flat=True)) == [old_hash]
    entry = AuditEntry.objects.get(action="password_change")
    assert entry.user_id == user.pk and entry.object_id == str(user.pk)
    dumped = str(entry.changes) + entry.reason + entry.object_repr
    assert "Fresh-Pass#1" not in dumped and user.password not in dumped and old_hash not in dumped


@pytest.mark.django_db
def test_service_is_all_or_nothing_on_a_policy_breach():
    user = UserFactory()
    before = user.password
    with pytest.raises(ValidationError):
        user_set_password(user=user, raw_password="short", actor=user)
    user.refresh_from_db()
    assert user.password == before
    assert not PasswordHistory.objects.exists()
    assert not AuditEntry.objects.filter(action="password_change").exists()


@pytest.mark.django_db
def test_last_five_passwords_are_blocked_and_the_sixth_oldest_is_reusable():
    user = UserFactory()  # current password: DEFAULT_PASSWORD (P0)
    sequence = [f"Rotate-{i}-Pass!" for i in range(1, 6)]  # P1..P5
    for password in sequence:
        user_set_password(user=user, raw_password=password, actor=user)
    # Current P5 plus P4..P1 are "the last 5".
    for password in sequence:
        with pytest.raises(ValidationError) as info:
            user_set_password(user=user, raw_password=password, actor=user)
        assert "password_reused" in _codes(info.value)
    assert PasswordHistory.objects.filter(user=user).count() == 5  # pruned to the depth
    user_set_password(user=user, raw_password=DEFAULT_PASSWORD, actor=user)  # P0, the 6th oldest
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_administrator_can_force_a_change_at_next_login():
    admin, user = UserFactory(), UserFactory()
    user_set_password(user=user, raw_password="Temp-Pass#2024", actor=admin, must_change=True)
    user.refresh_from_db()
    assert user.must_change_password
    entry = AuditEntry.objects.get(action="password_change")
    assert entry.user_id == admin.pk and entry.object_id == str(user.pk)


@pytest.mark.django_db
def test_expired_password_redirects_everything_but_the_change_page(client):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=90, minutes=1))
    client.force_login(user)
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 302 and response.url == reverse("core:password_change")
    page = client.get(reverse("core:password_change"))
    assert page.status_code == 200 and "已过期".encode() in page.content
    response = client.post(
        reverse("core:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "Brand-New#2025",
            "new_password2": "Brand-New#2025",
        },
    )
    assert response.status_code == 302
    # The session survives its own password change, and the dashboard is open again.
    assert client.get(reverse("core:dashboard")).status_code == 200


@pytest.mark.django_db
def test_password_younger_than_the_limit_does_not_redirect(client):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(days=89))
    client.force_login(user)
    assert client.get(reverse("core:dashboard")).status_code == 200


@pytest.mark.django_db
def test_must_change_flag_redirects(client):
    user = UserFactory(must_change_password=True)
    client.force_login(user)
    assert client.get(reverse("core:dashboard")).url == reverse("core:password_change")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new1", "new2", "message"),
    [
        ("Wrong-Old#1", "Brand-New#2025", "Brand-New#2025", "当前密码不正确"),
        (DEFAULT_PASSWORD, "Brand-New#2025", "Brand-New#2026", "不一致"),
        (DEFAULT_PASSWORD, "Admin@123", "Admin@123", "默认密码"),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, DEFAULT_PASSWORD, "最近"),
    ],
)
def test_change_page_refuses_bad_input(client, old, new1, new2, message):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("core:password_change"), {"old_password": old, "new_password1": new1, "new_password2": new2}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_change_page_needs_login(client):
    response = client.get(reverse("core:password_change"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))
